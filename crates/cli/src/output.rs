//! Writing the report: stdout, or a file replaced atomically.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed into place
/// only when complete: a reader never sees a partial report, and a failure leaves no file behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::metadata(dir)
        .with_context(|| format!("cannot write {}: cannot open directory {}", path.display(), dir.display()))?;
    let mut tmp = tempfile::Builder::new().prefix(".svdiag-").suffix(".tmp").tempfile_in(dir).with_context(|| {
        format!("cannot write {}: cannot create a temporary file in {}", path.display(), dir.display())
    })?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes `bytes` to stdout.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|_| out.flush()).context("cannot write to stdout")
}
