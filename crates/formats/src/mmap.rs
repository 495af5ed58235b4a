//! Memory maps of checkpoint files: the one place that maps files and drops their pages.

use std::fs::File;
use std::ops::Range;
use std::path::Path;

use memmap2::Mmap;

use crate::FormatError;

/// Maps `path` read-only. Directories and unreadable files are `FormatError::Io`.
pub(crate) fn map_file(path: &Path) -> Result<Mmap, FormatError> {
    let io = |source| FormatError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(io(std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory")));
    }
    // SAFETY: the map is read-only. Another process truncating the file while it is mapped could
    // fault a later read; checkpoints being analyzed are not expected to change underneath (the
    // same contract as the `safetensors` crate's own documentation).
    #[allow(unsafe_code)]
    unsafe { Mmap::map(&file) }.map_err(io)
}

/// Drops the pages of `range` from this process's resident set (they stay in the page cache), so
/// that resident memory does not grow with the model as its tensors are read one by one.
pub(crate) fn release(map: &Mmap, range: Range<usize>) {
    #[cfg(unix)]
    if !range.is_empty() && range.end <= map.len() {
        // SAFETY: MADV_DONTNEED on a read-only, file-backed mapping only discards the pages; a later
        // read of the same bytes faults them back in from the file, unchanged. Callers release a
        // tensor after its bytes were widened into an owned matrix.
        #[allow(unsafe_code)]
        let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, range.start, range.len()) };
    }
}
