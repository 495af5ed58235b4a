//! # svdiag-store
//!
//! A persistent store of exact spectra in one SQLite file, so that `svdiag trend` on a run with new
//! checkpoints computes only the new matrices, an interrupted run resumes without losing or
//! repeating work, and `svdiag compare` reuses what `trend` computed.
//!
//! - **Key**: a BLAKE3 hash of the matrix's stored bytes, dtype and shape, of the settings that
//!   change its spectrum, and of svdiag's version ([`svdiag_analysis::store::Key`]). The same
//!   tensor in two checkpoints (a frozen embedding) is computed once.
//! - **Value**: the singular values in f64, the L1,2 norm and the route; metrics are recomputed
//!   from them on every use.
//! - **Durability and concurrency**: WAL journal, one transaction per matrix (an `INSERT` in
//!   autocommit mode, durable when it returns), a busy timeout so that several processes can share
//!   one store, and `INSERT OR IGNORE` so that two processes computing the same matrix store it once.
//! - **Versions**: the file carries an application id and a schema version. A file that is not a
//!   store of this schema is never read: [`Store::open`] refuses it with a message, and the caller
//!   runs without a store.
//!
//! The default location is `$SVDIAG_CACHE`, else `$XDG_CACHE_HOME/svdiag/spectra.sqlite3`, else
//! `~/.cache/svdiag/spectra.sqlite3` ([`default_path`]).
#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use svdiag_analysis::store::{Key, SpectrumStore, StoredSpectrum};
use svdiag_core::linalg::gram::Route;

/// `PRAGMA application_id` of an svdiag store: "svdg".
pub const APPLICATION_ID: i32 = 0x7376_6467;
/// The schema this version reads and writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i32 = 1;
/// How long a writer waits for another process's transaction before giving up on one entry.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spectra (
    key             TEXT PRIMARY KEY,
    rows            INTEGER NOT NULL,
    cols            INTEGER NOT NULL,
    route           TEXT NOT NULL,
    route_reason    TEXT,
    l12_norm        REAL NOT NULL,
    singular_values BLOB NOT NULL,
    tool_version    TEXT NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);";

/// Where keys were found: a tensor of a file as it was (size and modification time), under the
/// settings of its key. Added to stores of schema 1 when they are opened (an older svdiag ignores
/// it), so that a distributed sweep resumes without reading what it already computed.
const LOCATIONS: &str = "
CREATE TABLE IF NOT EXISTS locations (
    path     TEXT NOT NULL,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    tensor   TEXT NOT NULL,
    settings TEXT NOT NULL,
    key      BLOB NOT NULL,
    rows     INTEGER NOT NULL,
    cols     INTEGER NOT NULL,
    PRIMARY KEY (path, size, mtime_ns, tensor, settings)
);";

/// A tensor of a file as it was when its key was computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file's path, as the sweep named it.
    pub path: String,
    /// The file's size in bytes.
    pub size: u64,
    /// The file's modification time, in nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// The tensor's name.
    pub tensor: String,
    /// The settings of its key and the version that computed it ([`svdiag_analysis::cluster::settings`]).
    pub settings: String,
}

impl Location {
    /// Tensor `tensor` of the file at `path` as it is now (its size and modification time), under
    /// `settings`; `None` when the file cannot be read.
    pub fn of_file(path: &Path, tensor: &str, settings: &str) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(Self {
            path: path.display().to_string(),
            size: meta.len(),
            mtime_ns: i64::try_from(mtime.as_nanos()).ok()?,
            tensor: tensor.to_string(),
            settings: settings.to_string(),
        })
    }
}

/// The spectra a distributed sweep stored, found by their files' locations: what the driver
/// assembles its documents from ([`svdiag_analysis::cluster::Spectra`]).
pub struct Located<'s> {
    /// The store.
    pub store: &'s Store,
    /// The settings of the sweep ([`svdiag_analysis::cluster::settings`]).
    pub settings: String,
}

impl svdiag_analysis::cluster::Spectra for Located<'_> {
    fn spectrum(&self, path: &Path, info: &svdiag_formats::TensorInfo) -> Option<StoredSpectrum> {
        let location = Location::of_file(path, &info.name, &self.settings)?;
        let key = self.store.location(&location)?;
        self.store.get(&key)
    }
}

/// Why a store could not be used.
#[derive(Debug)]
pub enum StoreError {
    /// The file or its directory could not be created or opened, or SQLite failed.
    Open {
        /// The store's path.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The file is an SQLite database but not an svdiag store, or a store of another schema.
    Foreign {
        /// The store's path.
        path: PathBuf,
        /// What it is.
        reason: String,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Open { path, reason } => write!(f, "result store {}: {reason}", path.display()),
            Self::Foreign { path, reason } => write!(f, "result store {}: {reason}; not used", path.display()),
        }
    }
}

impl std::error::Error for StoreError {}

/// The default location of the store (see the crate documentation), or `None` without a home.
pub fn default_path() -> Option<PathBuf> {
    let env = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = env("SVDIAG_CACHE") {
        return Some(p);
    }
    let dir = env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))?;
    Some(dir.join("svdiag").join("spectra.sqlite3"))
}

/// An open store, shared by the worker threads of one process.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Entries that could not be read or written (the run goes on without them), as messages.
    problems: Mutex<Vec<String>>,
}

impl Store {
    /// Opens (or creates) the store at `path`, creating its directory. Another process opening
    /// or converting the same file at the same moment makes SQLite answer "busy" for statements
    /// the busy timeout does not cover (switching to WAL); those are retried for up to a minute.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let start = std::time::Instant::now();
        loop {
            match Self::open_once(path) {
                Err((_, true)) if start.elapsed() < BUSY_TIMEOUT => std::thread::sleep(Duration::from_millis(20)),
                Err((e, _)) => return Err(e),
                Ok(store) => return Ok(store),
            }
        }
    }

    /// One attempt; the flag says the failure was a lock held by another connection.
    fn open_once(path: &Path) -> Result<Self, (StoreError, bool)> {
        let busy = is_busy;
        let fail = |reason: String| StoreError::Open { path: path.to_path_buf(), reason };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| (fail(format!("cannot create {}: {e}", dir.display())), false))?;
        }
        let sql = |e: rusqlite::Error| (fail(e.to_string()), busy(&e));
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        let foreign = |reason: String| (StoreError::Foreign { path: path.to_path_buf(), reason }, false);
        // reading the header fails on a file that is not an SQLite database
        let header = |e: rusqlite::Error| {
            if busy(&e) {
                sql(e)
            } else {
                foreign(format!("not an SQLite database ({e})"))
            }
        };
        let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(header)?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0)).map_err(header)?;
        if app == 0 && tables > 0 {
            return Err(foreign("an SQLite database that is not an svdiag result store".into()));
        }
        if app != 0 && app != APPLICATION_ID {
            return Err(foreign(format!("an SQLite database of another application (id {app:#x})")));
        }
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
        let mut store = Self { conn: Mutex::new(conn), path: path.to_path_buf(), problems: Mutex::new(Vec::new()) };
        store.initialize()?;
        Ok(store)
    }

    /// Creates the schema in a new file, or checks the schema of an existing one. Two processes
    /// opening a new file at once: the immediate transaction makes one create, the other check.
    fn initialize(&mut self) -> Result<(), (StoreError, bool)> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| (StoreError::Open { path: path.clone(), reason: e.to_string() }, is_busy(&e));
        let conn = self.conn.get_mut().expect("not shared yet");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(fail)?;
        let app: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0)).map_err(fail)?;
        let version: i32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(fail)?;
        if app == 0 {
            tx.execute_batch(SCHEMA).map_err(fail)?;
            tx.execute_batch(LOCATIONS).map_err(fail)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID).map_err(fail)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(fail)?;
        } else if version == SCHEMA_VERSION {
            tx.execute_batch(LOCATIONS).map_err(fail)?;
        } else if version != SCHEMA_VERSION {
            return Err((
                StoreError::Foreign {
                    path: path.clone(),
                    reason: format!(
                        "written with store schema {version}, this svdiag reads schema {SCHEMA_VERSION} (remove the file, or name another with --cache)"
                    ),
                },
                false,
            ));
        }
        tx.commit().map_err(fail)
    }

    /// Records that `location` holds the matrix of `key` (durable when it returns).
    pub fn put_location(&self, location: &Location, key: &Key) {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let done = conn.execute(
            "INSERT OR REPLACE INTO locations (path, size, mtime_ns, tensor, settings, key, rows, cols)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                location.path,
                location.size as i64,
                location.mtime_ns,
                location.tensor,
                location.settings,
                &key.hash[..],
                key.rows as i64,
                key.cols as i64
            ],
        );
        drop(conn);
        if let Err(e) = done {
            self.problem(format!("cannot store the location of {}: {e}", key.hex()));
        }
    }

    /// The hashes of every stored spectrum's key.
    pub fn keys(&self) -> Vec<Vec<u8>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let hashes = conn
            .prepare("SELECT key FROM spectra")
            .and_then(|mut q| q.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<String>>>());
        hashes.unwrap_or_default().iter().filter_map(|hex| from_hex(hex)).collect()
    }

    /// The key recorded for `location`, if any.
    pub fn location(&self, location: &Location) -> Option<Key> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let row = conn
            .query_row(
                "SELECT key, rows, cols FROM locations
                 WHERE path = ?1 AND size = ?2 AND mtime_ns = ?3 AND tensor = ?4 AND settings = ?5",
                params![location.path, location.size as i64, location.mtime_ns, location.tensor, location.settings],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
            )
            .optional()
            .ok()
            .flatten()?;
        let (hash, rows, cols) = row;
        Some(Key { hash: hash.try_into().ok()?, rows: usize::try_from(rows).ok()?, cols: usize::try_from(cols).ok()? })
    }

    /// The store's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of stored spectra.
    pub fn len(&self) -> usize {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row("SELECT count(*) FROM spectra", [], |r| r.get::<_, i64>(0)).map_or(0, |n| n as usize)
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What went wrong with single entries during the run (each entry was then computed, or not
    /// stored; the results are unaffected).
    pub fn problems(&self) -> Vec<String> {
        self.problems.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn problem(&self, message: String) {
        let mut p = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        if p.len() < 20 {
            p.push(message);
        }
    }

    fn read(&self, key: &Key) -> rusqlite::Result<Option<StoredSpectrum>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row(
            "SELECT rows, cols, route, route_reason, l12_norm, singular_values FROM spectra WHERE key = ?1",
            params![key.hex()],
            |r| {
                let blob: Vec<u8> = r.get(5)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, f64>(4)?,
                    blob,
                ))
            },
        )
        .optional()
        .map(|row| {
            row.and_then(|(rows, cols, route, route_reason, l12_norm, blob)| {
                let route = route_from_name(&route)?;
                if blob.len() % 8 != 0 {
                    return None;
                }
                let singular_values =
                    blob.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
                Some(StoredSpectrum {
                    rows: usize::try_from(rows).ok()?,
                    cols: usize::try_from(cols).ok()?,
                    singular_values,
                    l12_norm,
                    route,
                    route_reason,
                })
            })
        })
    }
}

/// The bytes of a lowercase hexadecimal string.
fn from_hex(hex: &str) -> Option<Vec<u8>> {
    (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// A lock held by another connection (worth retrying).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

fn route_from_name(name: &str) -> Option<Route> {
    [Route::Svd, Route::Gram, Route::GramRefined].into_iter().find(|r| r.name() == name)
}

impl SpectrumStore for Store {
    fn get(&self, key: &Key) -> Option<StoredSpectrum> {
        match self.read(key) {
            Ok(Some(s)) => match s.validate(key.rows, key.cols) {
                Ok(()) => Some(s),
                Err(reason) => {
                    self.problem(format!("entry {} is invalid ({reason}); computed again", key.hex()));
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                self.problem(format!("cannot read entry {}: {e}; computed again", key.hex()));
                None
            }
        }
    }

    fn put(&self, key: &Key, value: &StoredSpectrum) {
        let blob: Vec<u8> = value.singular_values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let done = conn.execute(
            "INSERT OR IGNORE INTO spectra (key, rows, cols, route, route_reason, l12_norm, singular_values, tool_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                key.hex(),
                value.rows as i64,
                value.cols as i64,
                value.route.name(),
                value.route_reason,
                value.l12_norm,
                blob,
                env!("CARGO_PKG_VERSION"),
            ],
        );
        drop(conn);
        if let Err(e) = done {
            self.problem(format!("cannot store entry {}: {e}", key.hex()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8, rows: usize, cols: usize) -> Key {
        Key { hash: [byte; 32], rows, cols }
    }

    fn spectrum() -> StoredSpectrum {
        StoredSpectrum {
            rows: 3,
            cols: 2,
            singular_values: vec![2.5, 0.1 + 0.2],
            l12_norm: 4.0,
            route: Route::GramRefined,
            route_reason: Some("why".into()),
        }
    }

    #[test]
    fn a_location_finds_its_key_while_the_file_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        let file = dir.path().join("model.safetensors");
        std::fs::write(&file, b"some bytes").unwrap();
        let here = Location::of_file(&file, "w", "settings").unwrap();
        assert_eq!(store.location(&here), None);
        store.put_location(&here, &key(7, 3, 2));
        assert_eq!(store.location(&here), Some(key(7, 3, 2)));
        // another tensor, other settings, or the file changed: not found
        assert_eq!(store.location(&Location { tensor: "v".into(), ..here.clone() }), None);
        assert_eq!(store.location(&Location { settings: "other".into(), ..here.clone() }), None);
        std::fs::write(&file, b"other, longer bytes").unwrap();
        assert_eq!(store.location(&Location::of_file(&file, "w", "settings").unwrap()), None);
        // a reopened store still has it
        drop(store);
        let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        assert_eq!(store.location(&here), Some(key(7, 3, 2)));
    }

    #[test]
    fn a_spectrum_comes_back_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("deep/er/s.sqlite3")).unwrap();
        assert!(store.is_empty());
        store.put(&key(1, 3, 2), &spectrum());
        store.put(&key(1, 3, 2), &spectrum()); // stored once
        assert_eq!(store.len(), 1);
        drop(store);
        let store = Store::open(&dir.path().join("deep/er/s.sqlite3")).unwrap();
        assert_eq!(store.get(&key(1, 3, 2)), Some(spectrum()));
        assert_eq!(store.get(&key(2, 3, 2)), None);
        assert!(store.problems().is_empty());
    }

    #[test]
    fn an_entry_that_does_not_fit_its_key_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        store.put(&key(1, 3, 2), &spectrum());
        // the same hash asked for as another shape (a corrupted or foreign entry)
        assert_eq!(store.get(&key(1, 4, 4)), None);
        // a blob cut short by hand
        store.conn.lock().unwrap().execute("UPDATE spectra SET singular_values = x'0102'", []).unwrap();
        assert_eq!(store.get(&key(1, 3, 2)), None);
        assert_eq!(store.problems().len(), 1, "{:?}", store.problems());
    }
}
