//! PyTorch checkpoints (`torch.save`): the zip format (`<name>/data.pkl` + `<name>/data/<key>`) and
//! the legacy format (pickles followed by raw storages). The pickle is decoded inertly
//! ([`crate::pickle`]); tensors are views (offset, size, stride) into storages that are served from
//! the memory map and copied only when a view is not contiguous.
//!
//! State dicts nested in checkpoint dicts (`{"model": …}`, `{"state_dict": …}`) are found wherever
//! they are; each tensor is named by its key path (`model.encoder.layer.0.weight`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use memmap2::Mmap;
use svdiag_core::Dtype;

use crate::archive::{Archive, EntryData};
use crate::pickle::{self, TensorRef, Value};
use crate::{FormatError, ReadOptions, TensorData, TensorInfo, TensorSource};

/// `torch.save`'s legacy magic number 0x1950a86a20f9469cfc6c, as the LONG1 that opens the file.
pub(crate) const LEGACY_MAGIC: &[u8] = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
/// More tensors than this is not a checkpoint.
const MAX_TENSORS: usize = 1 << 20;

/// Where a storage's bytes are.
#[derive(Debug, Clone)]
enum StorageLoc {
    /// A member of the zip archive.
    Member(usize),
    /// A byte range of the legacy file.
    Range(Range<usize>),
    /// Named by a tensor but absent from the file.
    Missing(String),
}

#[derive(Debug, Clone)]
struct Storage {
    dtype: Dtype,
    elem: usize,
    /// Elements, as the pickle declares.
    numel: usize,
    loc: StorageLoc,
}

#[derive(Debug, Clone)]
struct View {
    storage: usize,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

enum Container {
    Zip(Archive),
    Legacy(Mmap),
}

/// An opened PyTorch checkpoint.
pub struct PytorchFile {
    path: PathBuf,
    container: Container,
    storages: Vec<Storage>,
    views: Vec<View>,
    tensors: Vec<TensorInfo>,
    format: &'static str,
}

impl PytorchFile {
    /// Reads a zip-format checkpoint from an opened archive that has a `data.pkl` member.
    pub(crate) fn from_zip(path: &Path, archive: Archive, pkl: usize, opts: &ReadOptions) -> Result<Self, FormatError> {
        let bad = |reason: String| FormatError::Invalid { path: path.to_path_buf(), format: "PyTorch", reason };
        let prefix = archive.entries()[pkl].name.strip_suffix("data.pkl").unwrap_or("").to_string();
        if let Some(i) = archive.entries().iter().position(|e| e.name == format!("{prefix}byteorder")) {
            let order = archive.prefix(i, 16).map_err(bad)?;
            if order != b"little" {
                return Err(bad(format!("byte order '{}' is not supported", String::from_utf8_lossy(&order))));
            }
        }
        let pkl_bytes = match archive.data(pkl).map_err(bad)? {
            EntryData::Mapped(b) => Cow::Borrowed(b),
            EntryData::Inflated(v) => Cow::Owned(v),
        };
        let (root, _) = pickle::decode(&pkl_bytes, &opts.allow_globals)
            .map_err(|e| refused(path, "PyTorch", format!("{prefix}data.pkl: {e}"), &e))?;
        let mut storages = Storages::default();
        let found = pickle::tensors(&root).map_err(bad)?;
        let mut views = Vec::with_capacity(found.len());
        let mut names = Vec::with_capacity(found.len());
        for (name, t) in found {
            let resolved = storages.resolve(&t, |key, dtype, elem, numel| {
                let member = format!("{prefix}data/{key}");
                let loc = match archive.entries().iter().position(|e| e.name == member) {
                    Some(i) if archive.entries()[i].size >= (numel as u64).saturating_mul(elem as u64) => {
                        StorageLoc::Member(i)
                    }
                    Some(i) => StorageLoc::Missing(format!(
                        "storage member '{member}' holds {} bytes, fewer than its {numel} {dtype} elements",
                        archive.entries()[i].size
                    )),
                    None => StorageLoc::Missing(format!("storage member '{member}' is not in the archive")),
                };
                Storage { dtype, elem, numel, loc }
            });
            let (storage, offset) = resolved.map_err(|e| bad(format!("tensor '{name}': {e}")))?;
            views.push(View { storage, offset: offset + t.offset, size: t.size, stride: t.stride });
            names.push(name);
        }
        Self::finish(path, Container::Zip(archive), storages.list, views, names, "pytorch")
    }

    /// Reads a legacy (non-zip) checkpoint.
    pub fn open_legacy(path: &Path, opts: &ReadOptions) -> Result<Self, FormatError> {
        let map = crate::mmap::map_file(path)?;
        let bad =
            |reason: String| FormatError::Invalid { path: path.to_path_buf(), format: "PyTorch (legacy)", reason };
        if !map.starts_with(LEGACY_MAGIC) {
            return Err(bad("missing the torch.save magic number".into()));
        }
        let mut pos = 0usize;
        let mut next = |what: &str| -> Result<Rc<Value>, FormatError> {
            let (v, used) = pickle::decode(&map[pos..], &opts.allow_globals)
                .map_err(|e| refused(path, "PyTorch (legacy)", format!("{what}: {e}"), &e))?;
            pos += used;
            Ok(v)
        };
        next("magic number")?;
        match &*next("protocol version")? {
            Value::Int(1001) => {}
            other => return Err(bad(format!("protocol version {other:?}, expected 1001"))),
        }
        if let Value::Dict(info) = &*next("system info")? {
            for (k, v) in info.borrow().iter() {
                if matches!((&**k, &**v), (Value::Str(k), Value::Bool(false)) if k == "little_endian") {
                    return Err(bad("big-endian checkpoints are not supported".into()));
                }
            }
        }
        let root = next("the checkpoint")?;
        let keys = next("the storage keys")?;
        let Value::List(keys) = &*keys else { return Err(bad("storage keys are not a list".into())) };
        let keys: Vec<String> = keys
            .borrow()
            .iter()
            .map(|k| match &**k {
                Value::Str(s) => Ok(s.clone()),
                _ => Err(bad("a storage key is not a string".into())),
            })
            .collect::<Result<_, _>>()?;

        let mut storages = Storages::default();
        let found = pickle::tensors(&root).map_err(bad)?;
        let mut pending = Vec::with_capacity(found.len());
        for (name, t) in found {
            let (storage, offset) = storages
                .resolve(&t, |_, dtype, elem, numel| Storage {
                    dtype,
                    elem,
                    numel,
                    loc: StorageLoc::Missing(String::new()),
                })
                .map_err(|e| bad(format!("tensor '{name}': {e}")))?;
            pending.push((name, View { storage, offset: offset + t.offset, size: t.size, stride: t.stride }));
        }
        // the raw storages follow, in the order of `keys`: u64 element count, then the elements
        for key in &keys {
            let count = map
                .get(pos..pos + 8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8")))
                .ok_or_else(|| bad(format!("truncated before storage '{key}'")))?;
            pos += 8;
            let Some(&si) = storages.by_key.get(key) else {
                return Err(bad(format!("storage '{key}' is listed but no tensor declares it")));
            };
            let s = &mut storages.list[si];
            let len = usize::try_from(count)
                .ok()
                .and_then(|c| c.checked_mul(s.elem))
                .filter(|&l| pos.checked_add(l).is_some_and(|e| e <= map.len()))
                .ok_or_else(|| bad(format!("storage '{key}' declares {count} elements, beyond the end of the file")))?;
            if (count as usize) < s.numel {
                return Err(bad(format!("storage '{key}' holds {count} elements, the pickle declares {}", s.numel)));
            }
            s.loc = StorageLoc::Range(pos..pos + len);
            pos += len;
        }
        for s in &mut storages.list {
            if let StorageLoc::Missing(m) = &mut s.loc {
                if m.is_empty() {
                    *m = "storage is not in the file".into();
                }
            }
        }
        let (names, views) = pending.into_iter().unzip();
        Self::finish(path, Container::Legacy(map), storages.list, views, names, "pytorch-legacy")
    }

    fn finish(
        path: &Path,
        container: Container,
        storages: Vec<Storage>,
        views: Vec<View>,
        names: Vec<String>,
        format: &'static str,
    ) -> Result<Self, FormatError> {
        if views.len() > MAX_TENSORS {
            return Err(FormatError::Invalid {
                path: path.to_path_buf(),
                format: "PyTorch",
                reason: format!("{} tensors, over the limit of {MAX_TENSORS}", views.len()),
            });
        }
        let tensors = names
            .into_iter()
            .zip(&views)
            .map(|(name, v)| {
                let s = &storages[v.storage];
                let numel = svdiag_core::numel(&v.size).unwrap_or(usize::MAX);
                TensorInfo::new(name, s.dtype, v.size.clone(), numel.saturating_mul(s.elem))
            })
            .collect();
        Ok(Self { path: path.to_path_buf(), container, storages, views, tensors, format })
    }

    fn storage_bytes(&self, s: &Storage) -> Result<Cow<'_, [u8]>, String> {
        match (&s.loc, &self.container) {
            (StorageLoc::Member(i), Container::Zip(a)) => match a.data(*i)? {
                EntryData::Mapped(b) => Ok(Cow::Borrowed(b)),
                EntryData::Inflated(v) => Ok(Cow::Owned(v)),
            },
            (StorageLoc::Range(r), Container::Legacy(map)) => Ok(Cow::Borrowed(&map[r.clone()])),
            (StorageLoc::Missing(why), _) => Err(why.clone()),
            _ => Err("storage location does not match the container".into()),
        }
    }
}

/// Storages met while walking the tensors, deduplicated by key.
#[derive(Default)]
struct Storages {
    list: Vec<Storage>,
    by_key: HashMap<String, usize>,
}

impl Storages {
    /// The storage of a tensor (created on first sight) and the element offset its persistent id
    /// adds (legacy storage views).
    fn resolve(
        &mut self,
        t: &TensorRef,
        make: impl FnOnce(&str, Dtype, usize, usize) -> Storage,
    ) -> Result<(usize, usize), String> {
        let Value::Persistent(pid) = &*t.storage else { return Err("storage is not a persistent id".into()) };
        let Value::Tuple(items) = &**pid else { return Err("storage id is not a tuple".into()) };
        let field = |i: usize| items.get(i).map(|v| &**v);
        if !matches!(field(0), Some(Value::Str(s)) if s == "storage") {
            return Err("persistent id is not a storage".into());
        }
        let Some(Value::Global(type_name)) = field(1) else { return Err("storage type is not a global".into()) };
        let (dtype, elem) = storage_dtype(type_name)?;
        let Some(Value::Str(key)) = field(2) else { return Err("storage key is not a string".into()) };
        let Some(Value::Int(numel)) = field(4) else { return Err("storage size is not an integer".into()) };
        let numel = usize::try_from(*numel).map_err(|_| "negative storage size")?;
        // legacy views: (view_key, offset, view_size)
        let view_offset = match field(5) {
            Some(Value::Tuple(v)) => match v.get(1).map(|x| &**x) {
                Some(Value::Int(o)) if *o >= 0 => *o as usize,
                _ => return Err("malformed storage view".into()),
            },
            _ => 0,
        };
        let index = match self.by_key.get(key) {
            Some(&i) => {
                if self.list[i].dtype != dtype {
                    return Err(format!("storage '{key}' is declared with two dtypes"));
                }
                i
            }
            None => {
                self.list.push(make(key, dtype, elem, numel));
                self.by_key.insert(key.clone(), self.list.len() - 1);
                self.list.len() - 1
            }
        };
        Ok((index, view_offset))
    }
}

fn storage_dtype(global: &str) -> Result<(Dtype, usize), String> {
    let name = global.strip_prefix("torch.").unwrap_or(global);
    Ok(match name {
        "DoubleStorage" => (Dtype::F64, 8),
        "FloatStorage" => (Dtype::F32, 4),
        "HalfStorage" => (Dtype::F16, 2),
        "BFloat16Storage" => (Dtype::BF16, 2),
        "LongStorage" => (Dtype::Other("I64"), 8),
        "IntStorage" => (Dtype::Other("I32"), 4),
        "ShortStorage" => (Dtype::Other("I16"), 2),
        "CharStorage" => (Dtype::Other("I8"), 1),
        "ByteStorage" | "UntypedStorage" => (Dtype::Other("U8"), 1),
        "BoolStorage" => (Dtype::Other("BOOL"), 1),
        "ComplexFloatStorage" => (Dtype::Other("C64"), 8),
        "ComplexDoubleStorage" => (Dtype::Other("C128"), 16),
        "QInt8Storage" | "QUInt8Storage" => (Dtype::Other("quantized 8-bit"), 1),
        "QInt32Storage" => (Dtype::Other("quantized 32-bit"), 4),
        "Float8_e4m3fnStorage" | "Float8_e5m2Storage" => (Dtype::Other("F8"), 1),
        _ => return Err(format!("unknown storage type '{global}'")),
    })
}

impl TensorSource for PytorchFile {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> &'static str {
        self.format
    }
    fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError> {
        let v = &self.views[index];
        let s = &self.storages[v.storage];
        let err = |reason: String| FormatError::Tensor {
            path: self.path.clone(),
            name: self.tensors[index].name.clone(),
            reason,
        };
        let bytes = self.storage_bytes(s).map_err(err)?;
        let have = bytes.len() / s.elem;
        let numel = svdiag_core::numel(&v.size).ok_or_else(|| err("size overflows".into()))?;
        if numel == 0 {
            return Ok(TensorData::Bytes(Cow::Owned(Vec::new())));
        }
        // the last element the view touches must lie inside the storage
        let last = v
            .size
            .iter()
            .zip(&v.stride)
            .try_fold(v.offset, |acc, (&d, &st)| (d - 1).checked_mul(st).and_then(|x| acc.checked_add(x)));
        match last {
            Some(l) if l < have => {}
            _ => {
                return Err(err(format!(
                    "view (offset {}, size {:?}, stride {:?}) reaches beyond its storage of {have} elements",
                    v.offset, v.size, v.stride
                )))
            }
        }
        let contiguous = {
            let mut expect = 1usize;
            v.size.iter().zip(&v.stride).rev().all(|(&d, &st)| {
                let ok = d == 1 || st == expect;
                expect = expect.saturating_mul(d);
                ok
            })
        };
        let e = s.elem;
        if contiguous {
            let start = v.offset * e;
            return Ok(TensorData::Bytes(match bytes {
                Cow::Borrowed(b) => Cow::Borrowed(&b[start..start + numel * e]),
                Cow::Owned(o) => Cow::Owned(o[start..start + numel * e].to_vec()),
            }));
        }
        // a strided view (e.g. a transpose saved as is): gather it in C order
        let mut out = Vec::with_capacity(numel * e);
        let mut idx = vec![0usize; v.size.len()];
        for _ in 0..numel {
            let at = v.offset + idx.iter().zip(&v.stride).map(|(i, s)| i * s).sum::<usize>();
            out.extend_from_slice(&bytes[at * e..(at + 1) * e]);
            for k in (0..idx.len()).rev() {
                idx[k] += 1;
                if idx[k] < v.size[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
        Ok(TensorData::Bytes(Cow::Owned(out)))
    }
    fn release(&self, index: usize) {
        let s = &self.storages[self.views[index].storage];
        match (&s.loc, &self.container) {
            (StorageLoc::Member(i), Container::Zip(a)) => a.release(*i),
            (StorageLoc::Range(r), Container::Legacy(map)) => crate::mmap::release(map, r.clone()),
            _ => {}
        }
    }
}

/// A pickle's error as the file's: a refused global keeps its name ([`FormatError::RefusedGlobal`]),
/// anything else is [`FormatError::Invalid`]; both say `reason`.
fn refused(path: &Path, format: &'static str, reason: String, e: &pickle::PickleError) -> FormatError {
    match e {
        pickle::PickleError::Refused(g) => FormatError::RefusedGlobal {
            path: path.to_path_buf(),
            format,
            reason,
            global: g.clone(),
            runs_code: pickle::runs_code(g),
        },
        _ => FormatError::Invalid { path: path.to_path_buf(), format, reason },
    }
}
