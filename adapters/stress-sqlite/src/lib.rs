//! # stress-sqlite
//!
//! SQLite for cargo-stress, in-process through `rusqlite` (bundled: nothing to install).
//!
//! - [`Sqlite::temp_file()`] (the default): a database file per workload database in a
//!   temporary directory, removed after the run; WAL mode.
//! - [`Sqlite::in_memory()`]: the same on a RAM-backed filesystem (`/dev/shm`) where there is
//!   one. SQLite's own `:memory:` databases are private to one connection, so they cannot serve
//!   many users.
//! - [`Sqlite::at(path)`](Sqlite::at): a file you name (kept after the run).
//!
//! Each user gets its own connection with a busy timeout (5 s by default). Writes go through
//! [`SqliteConn::write`], which starts transactions with `BEGIN IMMEDIATE`: a deferred
//! transaction that later upgrades to a write fails with `SQLITE_BUSY` at once, whatever the
//! busy timeout, as soon as two users write.
#![warn(missing_docs)]

mod conn;
mod files;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use conn::SqliteConn;
pub use rusqlite;
use stress_core::monitor::MetricsSource;
use stress_core::{Adapter, OpError, StartContext};

#[derive(Debug, Clone)]
enum Location {
    Temp,
    Memory,
    Path(PathBuf),
}

/// The SQLite adapter. Configure it with the builder methods, then give it to `Workload::new`.
#[derive(Debug)]
pub struct Sqlite {
    location: Location,
    busy_timeout: Duration,
    journal_mode: String,
    synchronous: String,
    dir: Option<tempfile::TempDir>,
    /// Removes the temporary directory if this process dies without doing it.
    lifeline: Option<stress_core::lifeline::Lifeline>,
    paths: Vec<PathBuf>,
}

impl Default for Sqlite {
    fn default() -> Self {
        Self::temp_file()
    }
}

impl Sqlite {
    fn with(location: Location) -> Self {
        Self {
            location,
            busy_timeout: Duration::from_secs(5),
            journal_mode: "WAL".into(),
            synchronous: "NORMAL".into(),
            dir: None,
            lifeline: None,
            paths: Vec::new(),
        }
    }

    /// Temporary database files (one per workload database), removed after the run.
    pub fn temp_file() -> Self {
        Self::with(Location::Temp)
    }

    /// Temporary database files on a RAM-backed filesystem (`/dev/shm`), or in the usual
    /// temporary directory where there is none.
    pub fn in_memory() -> Self {
        Self::with(Location::Memory)
    }

    /// The database file at `path` (database 0; database `i > 0` is `path` with `-i` before
    /// its extension). Kept after the run.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self::with(Location::Path(path.into()))
    }

    /// How long a connection waits for a lock before `SQLITE_BUSY` (default 5 s).
    pub fn busy_timeout(mut self, d: Duration) -> Self {
        self.busy_timeout = d;
        self
    }

    /// `PRAGMA journal_mode` (default `WAL`).
    pub fn journal_mode(mut self, mode: impl Into<String>) -> Self {
        self.journal_mode = mode.into();
        self
    }

    /// `PRAGMA synchronous` (default `NORMAL`, the usual pairing with WAL).
    pub fn synchronous(mut self, level: impl Into<String>) -> Self {
        self.synchronous = level.into();
        self
    }

    /// The file of database `db`, once started.
    pub fn path(&self, db: usize) -> Option<&Path> {
        self.paths.get(db).map(PathBuf::as_path)
    }

    fn open(&self, path: &Path) -> Result<SqliteConn, OpError> {
        let conn = rusqlite::Connection::open(path)
            .map_err(|e| OpError::msg(format!("cannot open SQLite database {}: {e}", path.display())))?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "synchronous", &self.synchronous)
            .map_err(|e| OpError::msg(format!("PRAGMA synchronous = {}: {e}", self.synchronous)))?;
        Ok(SqliteConn::new(conn))
    }
}

fn numbered(path: &Path, db: usize) -> PathBuf {
    if db == 0 {
        return path.to_owned();
    }
    let stem = path
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{db}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{db}"),
    };
    path.with_file_name(name)
}

impl Adapter for Sqlite {
    type Conn = SqliteConn;

    fn name(&self) -> &'static str {
        "sqlite"
    }

    /// `SQLITE_BUSY` and `SQLITE_LOCKED`: another connection held the lock past the busy
    /// timeout; a retry of the same transaction can succeed.
    fn is_retryable(&self, e: &OpError) -> bool {
        e.is_marked_retryable()
            || e.find::<rusqlite::Error>()
                .and_then(rusqlite::Error::sqlite_error_code)
                .is_some_and(|c| {
                    matches!(
                        c,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    )
                })
    }

    fn describe(&self) -> serde_json::Value {
        let location = match &self.location {
            Location::Temp => "temp_file".to_owned(),
            Location::Memory => "in_memory".to_owned(),
            Location::Path(p) => p.display().to_string(),
        };
        serde_json::json!({
            "location": location,
            "busy_timeout_ms": self.busy_timeout.as_millis() as u64,
            "journal_mode": self.journal_mode,
            "synchronous": self.synchronous,
            "sqlite_version": rusqlite::version(),
        })
    }

    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), OpError> {
        let base = match &self.location {
            Location::Path(p) => p.clone(),
            loc => {
                let shm = Path::new("/dev/shm");
                let dir = if matches!(loc, Location::Memory) && shm.is_dir() {
                    tempfile::Builder::new().prefix("stress-sqlite-").tempdir_in(shm)
                } else {
                    tempfile::Builder::new().prefix("stress-sqlite-").tempdir()
                }
                .map_err(|e| OpError::msg(format!("cannot create a temporary directory for SQLite: {e}")))?;
                let base = dir.path().join("db.sqlite");
                // Whatever kills us, the temporary databases go with us.
                self.lifeline = Some(
                    stress_core::lifeline::Lifeline::guard(None, Some(dir.path()), std::time::Duration::ZERO).map_err(
                        |e| {
                            OpError::msg(format!(
                                "cannot start the watchdog that removes the temporary databases: {e}"
                            ))
                        },
                    )?,
                );
                self.dir = Some(dir);
                base
            }
        };
        self.paths = (0..ctx.databases).map(|i| numbered(&base, i)).collect();
        for path in &self.paths {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| OpError::msg(format!("cannot create {}: {e}", parent.display())))?;
            }
            let conn = self.open(path)?;
            // journal_mode is persistent: set once per file.
            let mode: String = conn
                .raw()
                .query_row(&format!("PRAGMA journal_mode = {}", self.journal_mode), [], |r| {
                    r.get(0)
                })
                .map_err(|e| OpError::msg(format!("PRAGMA journal_mode = {}: {e}", self.journal_mode)))?;
            if !mode.eq_ignore_ascii_case(&self.journal_mode) {
                return Err(OpError::msg(format!(
                    "SQLite refused journal_mode {} on {} (it stays {mode})",
                    self.journal_mode,
                    path.display()
                )));
            }
        }
        Ok(())
    }

    fn connect(&self, db: usize) -> Result<SqliteConn, OpError> {
        let path = self
            .paths
            .get(db)
            .ok_or_else(|| OpError::msg(format!("no SQLite database {db}: the adapter was not started with it")))?;
        self.open(path)
    }

    fn metrics_sources(&self) -> Vec<Box<dyn MetricsSource>> {
        vec![Box::new(files::SqliteFiles::new(self.paths.clone()))]
    }

    /// Users stuck in an op were abandoned and keep their connections: the temporary files go
    /// now (open files stay readable to them until they close).
    fn abandon(&self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }

    fn disk_bytes(&self) -> Option<u64> {
        Some(files::bytes_of(&self.paths))
    }

    fn stop(&mut self) -> Result<(), OpError> {
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_owned();
            dir.close()
                .map_err(|e| OpError::msg(format!("cannot remove {}: {e}", path.display())))?;
        }
        self.lifeline = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_paths() {
        assert_eq!(numbered(Path::new("/x/orders.db"), 0), Path::new("/x/orders.db"));
        assert_eq!(numbered(Path::new("/x/orders.db"), 2), Path::new("/x/orders-2.db"));
        assert_eq!(numbered(Path::new("orders"), 1), Path::new("orders-1"));
    }
}
