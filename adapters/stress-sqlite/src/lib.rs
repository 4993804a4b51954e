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
//! - [`.hosted()`](Sqlite::hosted): the same files, with every connection in a child process
//!   of the harness (the *engine host*), so that faults can kill, pause and restart the engine
//!   and damage its files while the harness and its users live on (`--fault kill@every=2s`).
//!
//! Each user gets its own connection with a busy timeout (5 s by default). Writes go through
//! [`SqliteConn::write`], which starts transactions with `BEGIN IMMEDIATE`: a deferred
//! transaction that later upgrades to a write fails with `SQLITE_BUSY` at once, whatever the
//! busy timeout, as soon as two users write.
#![warn(missing_docs)]

mod conn;
mod corrupt;
mod files;
mod host_client;
mod host_server;
mod host_wire;
mod pragmas;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

pub use conn::SqliteConn;
pub use host_client::HostLost;
pub use host_wire::HOST_VAR;
pub use rusqlite;
use stress_core::fault::{FaultKind, Injected, PlannedFault};
use stress_core::monitor::MetricsSource;
use stress_core::sizedfs::Namespaced;
use stress_core::sql::SqlConn;
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
    /// The databases, as this process reaches them.
    paths: Vec<PathBuf>,
    /// The databases, as the engine opens them: the same but on a size-limited filesystem,
    /// which the engine host sees from inside its mount namespace.
    engine_paths: Vec<PathBuf>,
    /// Whether the connections live in the engine host process.
    hosted: bool,
    /// The host's socket, in a directory of its own.
    socket: Option<(tempfile::TempDir, PathBuf)>,
    host: Mutex<Option<host_client::Host>>,
    /// The run's seed: what `corrupt` damages is drawn from it.
    seed: u64,
    /// With a `disk-full` fault: the size-limited filesystem the databases live on.
    disk: Option<stress_core::sizedfs::SizedFs>,
    disk_limit_mb: u64,
    /// With a storage fault (power-loss, fsync-error, io-delay): the fault filesystem the
    /// databases live on.
    faultfs: Option<stress_core::faultfs::FaultFs>,
    /// `PRAGMA`s every connection runs after `synchronous`: `STRESS_SQLITE_PRAGMAS`, read at start.
    pragmas: Vec<(String, String)>,
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
            engine_paths: Vec::new(),
            hosted: false,
            socket: None,
            host: Mutex::new(None),
            seed: 0,
            disk: None,
            disk_limit_mb: 256,
            faultfs: None,
            pragmas: Vec::new(),
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

    /// Runs the engine in a child process of the harness (the *engine host*: the harness's
    /// executable started again), whose connections the users reach over a local socket. Faults
    /// can then hit the engine and not the harness: `kill` (SIGKILL the host, check every file
    /// with `PRAGMA integrity_check`, start a host again on the same files), `pause`,
    /// `restart` and `corrupt`. A write the user saw succeed was committed in the host, so the
    /// acknowledged-write checker tests that a committed write survives the crash of the
    /// process that made it, with the OS page cache intact (not a power loss).
    ///
    /// Ops reach the connection through its [`SqlConn`](stress_core::sql::SqlConn) methods
    /// only ([`SqliteConn::raw`] panics). A harness with a `main` of its own calls
    /// [`stress_core::serve_engine_host`] first thing; `stress_core::main` does.
    pub fn hosted(mut self) -> Self {
        self.hosted = true;
        self
    }

    /// The size of the filesystem the databases live on in a run with a `disk-full` fault
    /// (default 256 MiB: a tmpfs, so memory, taken whole while the fault fills it).
    pub fn disk_limit_mb(mut self, mb: u64) -> Self {
        self.disk_limit_mb = mb.max(1);
        self
    }

    /// The file of database `db`, once started.
    pub fn path(&self, db: usize) -> Option<&Path> {
        self.paths.get(db).map(PathBuf::as_path)
    }

    /// The engine host's pid, when hosted and running.
    pub fn host_pid(&self) -> Option<u32> {
        self.host
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(host_client::Host::pid)
    }

    fn open(&self, path: &Path) -> Result<SqliteConn, OpError> {
        open_local(path, self.busy_timeout, &self.all_pragmas())
    }

    /// What each connection runs: `synchronous`, then `STRESS_SQLITE_PRAGMAS` (which may set
    /// it again: the environment wins).
    fn all_pragmas(&self) -> Vec<(String, String)> {
        let mut all = vec![("synchronous".to_owned(), self.synchronous.clone())];
        all.extend(self.pragmas.iter().cloned());
        all
    }

    /// The filesystem of the run's own the databases live on, if any.
    fn private(&self) -> Option<&dyn Namespaced> {
        match (&self.disk, &self.faultfs) {
            (Some(d), _) => Some(d),
            (None, Some(f)) => Some(f),
            (None, None) => None,
        }
    }

    fn socket(&self) -> Result<&Path, OpError> {
        self.socket
            .as_ref()
            .map(|(_, p)| p.as_path())
            .ok_or_else(|| OpError::msg("the SQLite engine host was not started"))
    }

    /// The fault filesystem the databases live on.
    fn faultfs(&self) -> Result<&stress_core::faultfs::FaultFs, OpError> {
        self.faultfs
            .as_ref()
            .ok_or_else(|| OpError::msg("the databases are not on the fault filesystem"))
    }

    /// The `fsync-error` fault: the next fsync of a database's file fails with EIO (its
    /// unsynced writes dropped, as Linux does); waits (until the run is `stopping`, a minute at
    /// most) for it to strike, then checks every file through the host, which carries on.
    fn fsync_error(&self, stopping: &dyn Fn() -> bool) -> Result<Injected, OpError> {
        let fs = self.faultfs()?;
        fs.fail_next_fsync()?;
        let t0 = std::time::Instant::now();
        let mut struck = None;
        while struck.is_none() && !stopping() && t0.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
            struck = fs.fsync_failed()?;
        }
        if struck.is_none() {
            struck = fs.fsync_failed()?;
        }
        let check = match struck {
            Some((file, bytes)) => format!(
                "fsync of {file} failed with EIO, {bytes} unsynced bytes dropped; {}",
                self.check_files()
            ),
            None => "no fsync came while the fault was armed".to_owned(),
        };
        Ok(Injected {
            target: format!("sqlite files ({})", fs.describe()),
            recovery: None,
            check: Some(check),
        })
    }

    /// `PRAGMA integrity_check` of every database, as the engine sees it (on a hosted adapter,
    /// through the host just started again): `integrity_check: ok`, or what SQLite found.
    fn check_files(&self) -> String {
        let mut findings = Vec::new();
        for db in 0..self.paths.len() {
            let what = match self.connect(db).and_then(|mut c| c.integrity_check()) {
                Ok(()) => continue,
                Err(e) => e.to_string(),
            };
            findings.push(if self.paths.len() > 1 {
                format!("database {db}: {what}")
            } else {
                what
            });
        }
        if findings.is_empty() {
            "integrity_check: ok".to_owned()
        } else {
            format!("integrity_check: {}", findings.join("; "))
        }
    }
}

/// Opens a connection to the file at `path` with the adapter's settings.
pub(crate) fn open_local(
    path: &Path,
    busy_timeout: Duration,
    pragmas: &[(String, String)],
) -> Result<SqliteConn, OpError> {
    let conn = rusqlite::Connection::open(path)
        .map_err(|e| OpError::msg(format!("cannot open SQLite database {}: {e}", path.display())))?;
    conn.busy_timeout(busy_timeout)?;
    for (name, value) in pragmas {
        pragmas::apply(&conn, name, value).map_err(OpError::msg)?;
    }
    Ok(SqliteConn::new(conn))
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

    fn check(&self) -> Result<(), String> {
        pragmas::from_env().map(drop)
    }

    fn variables(&self) -> &'static [&'static str] {
        &[pragmas::VAR]
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

    /// An op whose connection to the engine host broke (a fault killed or stopped the host)
    /// may have committed: its reply was lost.
    fn is_indeterminate(&self, e: &OpError) -> bool {
        e.find::<HostLost>().is_some()
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
            "hosted": self.hosted,
        })
    }

    fn check_recorded(&self, recorded: &serde_json::Value) -> Result<(), String> {
        stress_core::adapter::same_shape(recorded, &self.describe(), "adapter_config")?;
        // SQLite takes its busy timeout as a C int of milliseconds.
        match recorded.get("busy_timeout_ms") {
            Some(v) if v.as_u64().is_none_or(|ms| ms > i32::MAX as u64) => Err(format!(
                "adapter_config.busy_timeout_ms {v} does not fit: SQLite takes 0 to {} ms",
                i32::MAX
            )),
            _ => Ok(()),
        }
    }

    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), OpError> {
        self.seed = ctx.seed;
        self.pragmas = pragmas::from_env().map_err(OpError::msg)?;
        let base = match &self.location {
            _ if stress_core::faultfs::wanted(ctx.faults) => {
                if ctx.faults.contains(&FaultKind::DiskFull) {
                    return Err(OpError::msg(
                        "disk-full and the storage faults (power-loss, fsync-error, io-delay) each put the databases \
                         on a filesystem of their own: give one or the other in a run",
                    ));
                }
                if !self.hosted || matches!(self.location, Location::Path(_)) {
                    return Err(OpError::msg(
                        "the storage faults (power-loss, fsync-error, io-delay) put the databases on a filesystem of \
                         the run's own, in a process of their own: use Sqlite::temp_file().hosted()",
                    ));
                }
                let fs = stress_core::faultfs::FaultFs::create(None)?;
                let base = fs.mountpoint().join("db.sqlite");
                self.faultfs = Some(fs);
                base
            }
            _ if ctx.faults.contains(&FaultKind::DiskFull) => {
                if let Location::Path(p) = &self.location {
                    return Err(OpError::msg(format!(
                        "a disk-full fault puts the databases on a filesystem of the run's own, not at {}: use \
                         Sqlite::temp_file().hosted()",
                        p.display()
                    )));
                }
                if !self.hosted {
                    return Err(OpError::msg(
                        "a disk-full fault needs SQLite in a process of its own, inside the filesystem's mount \
                         namespace: use Sqlite::temp_file().hosted()",
                    ));
                }
                let disk = stress_core::sizedfs::SizedFs::create(self.disk_limit_mb, None)?;
                let base = disk.mountpoint().join("db.sqlite");
                self.disk = Some(disk);
                base
            }
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
        self.engine_paths = (0..ctx.databases).map(|i| numbered(&base, i)).collect();
        self.paths = match self.private() {
            Some(fs) => self.engine_paths.iter().map(|p| fs.outside(p)).collect(),
            None => self.engine_paths.clone(),
        };
        for path in &self.paths {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| OpError::msg(format!("cannot create {}: {e}", parent.display())))?;
            }
        }
        if self.hosted {
            let dir = tempfile::Builder::new()
                .prefix("stress-sqlite-host-")
                .tempdir()
                .map_err(|e| OpError::msg(format!("cannot create a directory for the SQLite host's socket: {e}")))?;
            let socket = dir.path().join("host.sock");
            let host = host_client::Host::start(&socket, self.private())?;
            self.socket = Some((dir, socket));
            *self.host.lock().unwrap_or_else(|p| p.into_inner()) = Some(host);
        }
        for (db, path) in self.paths.iter().enumerate() {
            // journal_mode is persistent: set once per file.
            let sql = format!("PRAGMA journal_mode = {}", self.journal_mode);
            let rows = self
                .connect(db)?
                .query(&sql, &[])
                .map_err(|e| OpError::msg(format!("{sql}: {e}")))?;
            let mode = match rows.first().and_then(|r| r.first()) {
                Some(stress_core::sql::Value::Text(m)) => m.clone(),
                other => format!("{other:?}"),
            };
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
            .engine_paths
            .get(db)
            .ok_or_else(|| OpError::msg(format!("no SQLite database {db}: the adapter was not started with it")))?;
        if self.hosted {
            let conn = host_client::HostConn::open(self.socket()?, path, self.busy_timeout, &self.all_pragmas())?;
            return Ok(SqliteConn::hosted(conn));
        }
        self.open(path)
    }

    /// Hosted: every kind an engine's adapter injects ([`FaultKind::ENGINE`]: `kill`, `pause`,
    /// `restart`, `disk-full` and the storage faults on a filesystem of the run's own, `corrupt`).
    /// In-process: none (the engine is the harness).
    fn faults(&self) -> Vec<FaultKind> {
        if self.hosted {
            FaultKind::ENGINE.to_vec()
        } else {
            Vec::new()
        }
    }

    fn fault_hint(&self, _kind: FaultKind) -> Option<String> {
        (!self.hosted).then(|| "faults need the engine in a process of its own: Sqlite::hosted()".to_owned())
    }

    fn inject(&self, fault: &PlannedFault, stopping: &dyn Fn() -> bool) -> Result<Injected, OpError> {
        if fault.kind == FaultKind::DiskFull {
            let disk = self
                .disk
                .as_ref()
                .ok_or_else(|| OpError::msg("the databases are not on a size-limited filesystem"))?;
            let hold = Duration::from_millis(fault.hold_ms.unwrap_or(0));
            let (taken, recovery) = disk.hold_full(hold, stopping, || {
                self.connect(0).and_then(|mut c| c.query("SELECT 1", &[])).is_ok()
            })?;
            return Ok(Injected {
                target: format!("sqlite files ({})", disk.describe()),
                recovery,
                check: Some(format!("filled with {} MiB, then freed", taken >> 20)),
            });
        }
        if fault.kind == FaultKind::IoDelay {
            let fs = self.faultfs()?;
            return Ok(Injected {
                target: format!("sqlite files ({})", fs.describe()),
                recovery: None,
                check: Some(stress_core::faultfs::hold_delay(fs, fault, stopping)?),
            });
        }
        if fault.kind == FaultKind::FsyncError {
            return self.fsync_error(stopping);
        }
        let socket = self.socket()?;
        let mut slot = self.host.lock().unwrap_or_else(|p| p.into_inner());
        let host = slot
            .take()
            .ok_or_else(|| OpError::msg("the SQLite engine host is not running"))?;
        let target = format!("sqlite host (pid {})", host.pid());
        let t0 = std::time::Instant::now();
        let check = match fault.kind {
            FaultKind::Pause => {
                let hold = Duration::from_millis(fault.hold_ms.unwrap_or(0));
                let pid = host.pid();
                *slot = Some(host);
                // Others may ask for the host meanwhile (its pid, a stop): it is not ours to hold.
                drop(slot);
                let recovery = stress_core::fault::pause_tree(pid, hold, stopping, || host_client::answers(socket))?;
                return Ok(Injected {
                    target,
                    recovery,
                    check: None,
                });
            }
            FaultKind::Kill => {
                host.kill()?;
                None
            }
            FaultKind::Restart => {
                host.stop();
                None
            }
            FaultKind::Corrupt => {
                host.stop();
                Some(corrupt::damage(&self.paths, self.seed, fault)?)
            }
            FaultKind::PowerLoss | FaultKind::PowerLossTorn => {
                let fs = match self.faultfs() {
                    Ok(fs) => fs,
                    Err(e) => {
                        *slot = Some(host);
                        return Err(e);
                    }
                };
                // The host's whole tree stopped, every thread of it, the power cut, then the kill:
                // nothing it did after the cut reached the disk, and no answer of the cut
                // reached its clients.
                stress_core::fault::halt_tree(host.pid())?;
                fs.cut()?;
                host.kill()?;
                Some(
                    fs.restore(stress_core::faultfs::torn_seed(self.seed, fault))?
                        .to_string(),
                )
            }
            other => {
                *slot = Some(host);
                return Err(OpError::msg(format!("sqlite cannot inject `{other}`")));
            }
        };
        *slot = Some(host_client::Host::start(socket, self.private())?);
        let recovery = t0.elapsed();
        drop(slot);
        // The files reopened (a WAL recovered) and checked by the engine that serves them now.
        let checked = self.check_files();
        Ok(Injected {
            target,
            recovery: Some(recovery),
            check: Some(check.map_or_else(|| checked.clone(), |damage| format!("{damage}; {checked}"))),
        })
    }

    fn metrics_sources(&self) -> Vec<Box<dyn MetricsSource>> {
        vec![Box::new(files::SqliteFiles::new(self.paths.clone()))]
    }

    /// Users stuck in an op were abandoned and keep their connections: the temporary files go
    /// now (open files stay readable to them until they close).
    fn abandon(&self) {
        if let Some(host) = self.host.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = host.kill();
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }

    fn disk_bytes(&self) -> Option<u64> {
        Some(files::bytes_of(&self.paths))
    }

    fn stop(&mut self) -> Result<(), OpError> {
        if let Some(host) = self.host.get_mut().unwrap_or_else(|p| p.into_inner()).take() {
            host.stop();
        }
        self.socket = None;
        // The filesystem goes with its holder, and the databases with it.
        self.disk = None;
        self.faultfs = None;
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
