//! Zip containers (PyTorch `.bin`/`.pt`, NumPy `.npz`): the `zip` crate reads the directory;
//! stored members are served from the memory map, deflated ones are inflated per tensor, with
//! their declared sizes checked before anything is allocated.

use std::io::{Cursor, Read};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use memmap2::Mmap;
use zip::{CompressionMethod, ZipArchive};

use crate::FormatError;

/// More members than this is not a checkpoint.
const MAX_ENTRIES: usize = 1 << 20;
/// Deflate cannot expand data by more than 1032:1; a member that claims more is lying.
const MAX_DEFLATE_RATIO: u64 = 1100;

#[derive(Clone)]
struct Shared(Arc<Mmap>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// One member of the archive.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub name: String,
    /// Uncompressed size as declared by the directory (verified on read).
    pub size: u64,
    compressed_size: u64,
    /// Byte range in the file, for stored (uncompressed) members.
    stored: Option<Range<usize>>,
    method: CompressionMethod,
}

/// A member's bytes.
pub(crate) enum EntryData<'a> {
    /// Straight from the memory map.
    Mapped(&'a [u8]),
    /// Inflated into memory.
    Inflated(Vec<u8>),
}

/// An opened zip file.
pub(crate) struct Archive {
    map: Arc<Mmap>,
    zip: ZipArchive<Cursor<Shared>>,
    entries: Vec<Entry>,
}

impl Archive {
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        let map = Arc::new(crate::mmap::map_file(path)?);
        let bad = |reason: String| FormatError::Invalid { path: path.to_path_buf(), format: "zip", reason };
        let mut zip = ZipArchive::new(Cursor::new(Shared(map.clone()))).map_err(|e| bad(e.to_string()))?;
        if zip.len() > MAX_ENTRIES {
            return Err(bad(format!("{} members, over the limit of {MAX_ENTRIES}", zip.len())));
        }
        let mut entries = Vec::with_capacity(zip.len());
        for i in 0..zip.len() {
            let f = zip.by_index_raw(i).map_err(|e| bad(format!("member #{i}: {e}")))?;
            let name = f.name().to_string();
            let method = f.compression();
            let stored = if method == CompressionMethod::Stored {
                let start = f.data_start().ok_or_else(|| bad(format!("member '{name}': no data offset")))?;
                let end =
                    start.checked_add(f.size()).filter(|&e| e <= map.len() as u64 && f.size() == f.compressed_size());
                let end = end.ok_or_else(|| bad(format!("member '{name}' runs past the end of the file")))?;
                Some(start as usize..end as usize)
            } else {
                None
            };
            entries.push(Entry { name, size: f.size(), compressed_size: f.compressed_size(), stored, method });
        }
        Ok(Self { map, zip, entries })
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The first `limit` bytes of member `i` (for headers).
    pub fn prefix(&self, i: usize, limit: usize) -> Result<Vec<u8>, String> {
        let e = &self.entries[i];
        if let Some(r) = &e.stored {
            return Ok(self.map[r.start..r.end.min(r.start + limit)].to_vec());
        }
        let mut zip = self.zip.clone();
        let f = zip.by_index(i).map_err(|err| format!("member '{}': {err}", e.name))?;
        let mut v = Vec::new();
        f.take(limit as u64).read_to_end(&mut v).map_err(|err| format!("member '{}': {err}", e.name))?;
        Ok(v)
    }

    /// The whole of member `i`.
    pub fn data(&self, i: usize) -> Result<EntryData<'_>, String> {
        let e = &self.entries[i];
        if let Some(r) = &e.stored {
            return Ok(EntryData::Mapped(&self.map[r.clone()]));
        }
        if !matches!(e.method, CompressionMethod::Deflated) {
            return Err(format!("member '{}' uses compression {:?}, which svdiag does not read", e.name, e.method));
        }
        if e.size > e.compressed_size.saturating_mul(MAX_DEFLATE_RATIO).saturating_add(1024) {
            return Err(format!(
                "member '{}' claims {} bytes from {} compressed bytes, more than deflate can produce",
                e.name, e.size, e.compressed_size
            ));
        }
        let mut zip = self.zip.clone();
        let f = zip.by_index(i).map_err(|err| format!("member '{}': {err}", e.name))?;
        let mut v = Vec::with_capacity(usize::try_from(e.size).unwrap_or(0).min(1 << 30));
        f.take(e.size.saturating_add(1)).read_to_end(&mut v).map_err(|err| format!("member '{}': {err}", e.name))?;
        if v.len() as u64 != e.size {
            return Err(format!("member '{}' inflates to {} bytes, not the {} declared", e.name, v.len(), e.size));
        }
        Ok(EntryData::Inflated(v))
    }

    /// The memory map and the byte range of member `i` in it, when the member is stored (not
    /// compressed), so that a reader can serve its contents without copying them.
    pub fn stored_member(&self, i: usize) -> Option<(Arc<Mmap>, Range<usize>)> {
        self.entries[i].stored.clone().map(|r| (self.map.clone(), r))
    }

    /// Drops a stored member's pages from memory.
    pub fn release(&self, i: usize) {
        if let Some(r) = &self.entries[i].stored {
            crate::mmap::release(&self.map, r.clone());
        }
    }
}
