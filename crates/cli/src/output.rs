//! Writing the report: stdout, or a file replaced atomically.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;
use svdiag_report::Format;

/// Writes `bytes` to `path` through a temporary file in the same directory, renamed into place
/// only when complete: a reader never sees a partial report, and a failure leaves no file behind.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_atomically_with(path, |w| w.write_all(bytes).map_err(anyhow::Error::from))
}

/// Like [`write_atomically`], for output produced piece by piece by `fill` (buffered).
pub fn write_atomically_with<T>(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::metadata(dir)
        .with_context(|| format!("cannot write {}: cannot open directory {}", path.display(), dir.display()))?;
    let mut builder = tempfile::Builder::new();
    // a report is a file to share: the usual rw-rw-rw- less the umask, not a temporary file's rw-------
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.prefix(".svdiag-").suffix(".tmp").tempfile_in(dir).with_context(|| {
        format!("cannot write {}: cannot create a temporary file in {}", path.display(), dir.display())
    })?;
    let value = {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        let value = fill(&mut w)?;
        w.flush().with_context(|| format!("cannot write {}", path.display()))?;
        value
    };
    tmp.as_file().sync_all().with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(value)
}

/// Writes `bytes` to stdout.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|_| out.flush()).context("cannot write to stdout")
}

/// Writes a report to `path` atomically, or to stdout without one.
pub fn emit(path: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    match path {
        Some(path) => write_atomically(path, bytes),
        None => write_stdout(bytes),
    }
}

/// The format asked for, else the one `-o`'s extension names (.json, .csv, .html; a table otherwise),
/// else a table on a terminal and JSON in a pipe.
pub fn output_format(format: Option<Format>, output: Option<&std::path::Path>) -> Format {
    format.unwrap_or_else(|| match output {
        Some(path) => match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            Some("csv") => Format::Csv,
            Some("html" | "htm") => Format::Html,
            _ => Format::Table,
        },
        None if std::io::stdout().is_terminal() => Format::Table,
        None => Format::Json,
    })
}

/// For the commands that write a table or JSON: true for a table (the default on a terminal).
pub fn table_or_json(format: Option<Format>, command: &str) -> anyhow::Result<bool> {
    Ok(match format {
        Some(Format::Table) => true,
        Some(Format::Json) => false,
        Some(f @ (Format::Csv | Format::Html)) => {
            anyhow::bail!("{command} writes table or json, not {}", if f == Format::Csv { "csv" } else { "html" })
        }
        None => std::io::stdout().is_terminal(),
    })
}
