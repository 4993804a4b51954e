//! # stress-hyper
//!
//! Tableau Hyper for cargo-stress, through the pure-Rust `hyperdb-api` crate.
//!
//! [`Hyper::managed()`] starts a `hyperd` for the run (found through `HYPERD_PATH`, else the
//! `tableauhyperapi` Python package), with the settings you give it and resource logging on.
//! Each workload database is a `.hyper` file in the run's directory (`databases/db_<i>.hyper`),
//! hyperd's log goes to `hyperd/` beside it, bounded and rotated. Every user gets its own
//! connection (one connection serialises its callers). hyperd is stopped when the run ends —
//! also on panic or Ctrl-C: it shuts itself down when our callback connection closes, and is
//! killed if it lingers.
//!
//! - **Writes** go over libpq; bulk inserts by `Inserter` (HyperBinary COPY,
//!   [`DataFormat::HyperBinary`]) or `ArrowInserter` (Arrow IPC, [`DataFormat::Arrow`]).
//! - **Reads** go over libpq ([`Transport::LibPq`]) or gRPC ([`Transport::Grpc`], results as
//!   Arrow); reads of a session's temporary tables stay on libpq, the only session that sees
//!   them.
//! - **Who can connect**: the run alone. libpq is served on a Unix socket in a private (0700)
//!   temporary directory, as PostgreSQL's own test clusters do: hyperd has no password setting,
//!   so the directory's permissions keep other local accounts out. gRPC ([`Transport::Grpc`])
//!   is served on a Unix socket in the same directory, as private. A TCP port for libpq
//!   ([`Hyper::port`]) is opt-in, and open to every local account.
//! - **Monitoring**: hyperd's resource log (`resource-metrics` records: process memory, CPU,
//!   load, scheduler threads and waiting jobs) feeds the run's monitor, so memory and CPU
//!   limits pause users with hysteresis; `query-end` records give server-side latency beside
//!   the client's; the `.hyper` files' size counts against the disk budget; hyperd's exit ends
//!   the run with `CrashDetected`, naming its last log lines.
//!
//! The adapter declares the parameters `transport` (`tcp` or `grpc`) and `data_format`
//! (`hyperbinary` or `arrow`), defaulting to its own settings, so every workload on Hyper has
//! them ([`Adapter::params`]): their values choose the paths at start, so that
//! `cargo stress matrix … --param transport=tcp,grpc` compares them and a replay restores them.
//!
//! [`Hyper::from_env()`] reads the original simulation's knobs: `STRESS_TRANSPORT` (`tcp` or
//! `grpc`), `STRESS_DATA_FORMAT` (`hyperbinary` or `arrow`), `STRESS_LOG_INTERVAL` (`5`,
//! `500ms`), `STRESS_LOG_MODE` (bitmask, 2047 = all), `STRESS_MEMORY_LIMIT` (hyperd's
//! `memory_limit`: `80%`, `2g`), `STRESS_HYPER_SETTINGS` (`name=value,…`, given to hyperd as
//! [`Hyper::setting`] does: `disable_fsync=true` is the power-loss tests' control).
//!
//! With a storage fault in the schedule (`power-loss`, `power-loss:torn`, `fsync-error`,
//! `io-delay`) the databases live on the run's fault filesystem, with `disk-full` on a
//! size-limited one; hyperd is started inside that filesystem's mount namespace.
#![warn(missing_docs)]

mod conn;
mod discover;
mod metrics;
mod server;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use conn::HyperConn;
pub use hyperdb_api;
use hyperdb_api::grpc::{GrpcConfig, GrpcConnection};
use hyperdb_api::{Connection, CreateMode};
use stress_core::fault::{FaultKind, Injected, PlannedFault};
use stress_core::monitor::MetricsSource;
use stress_core::{Adapter, OpError, StartContext};

use crate::metrics::{HyperMetrics, LogTailer};
use crate::server::Server;

/// Where reads go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// The PostgreSQL wire protocol (`STRESS_TRANSPORT=tcp`, its historical name): over a Unix
    /// socket in a private directory, or TCP when [`Hyper::port`] asks for it.
    #[default]
    #[serde(rename = "tcp")]
    LibPq,
    /// gRPC, results as Arrow (`STRESS_TRANSPORT=grpc`); writes stay on libpq. hyperd's gRPC
    /// takes no credentials, so it listens on a Unix socket in the run's private (0700)
    /// directory, beside libpq's: no other local account can reach it.
    Grpc,
}

impl Transport {
    /// Its name in settings: `tcp` or `grpc`.
    pub fn name(self) -> &'static str {
        match self {
            Self::LibPq => "tcp",
            Self::Grpc => "grpc",
        }
    }
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tcp" | "libpq" => Ok(Self::LibPq),
            "grpc" => Ok(Self::Grpc),
            _ => Err(format!("unknown transport `{s}`: expected tcp or grpc")),
        }
    }
}

/// How bulk inserts travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// `Inserter`: HyperBinary COPY (`STRESS_DATA_FORMAT=hyperbinary`).
    #[default]
    HyperBinary,
    /// `ArrowInserter`: Arrow IPC record batches (`STRESS_DATA_FORMAT=arrow`).
    Arrow,
}

impl DataFormat {
    /// Its name in settings: `hyperbinary` or `arrow`.
    pub fn name(self) -> &'static str {
        match self {
            Self::HyperBinary => "hyperbinary",
            Self::Arrow => "arrow",
        }
    }
}

impl std::str::FromStr for DataFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hyperbinary" => Ok(Self::HyperBinary),
            "arrow" => Ok(Self::Arrow),
            _ => Err(format!("unknown data format `{s}`: expected hyperbinary or arrow")),
        }
    }
}

/// The Hyper adapter: a managed hyperd.
#[derive(Debug)]
pub struct Hyper {
    options: server::Options,
    transport: Transport,
    format: DataFormat,
    log_interval: Duration,
    log_mode: u32,
    memory_limit: Option<String>,
    log_file_limit_mb: u64,
    log_files_kept: u32,
    server_latency: bool,
    database_dir: Option<PathBuf>,
    keep_databases: bool,
    /// A bad `STRESS_*` value seen by `from_env`, reported by `check` (before the run).
    env_error: Option<String>,
    server: Option<Server>,
    databases: Vec<PathBuf>,
    temp: Option<tempfile::TempDir>,
    /// Stops hyperd and removes the temporary directory if this process dies without doing it.
    lifeline: std::sync::Mutex<Option<stress_core::lifeline::Lifeline>>,
    /// The run's seed: what `corrupt` damages and `power-loss:torn` tears are drawn from it.
    seed: u64,
    /// The size of the databases' filesystem in a run with a `disk-full` fault, MiB.
    disk_limit_mb: u64,
}

impl Hyper {
    /// A hyperd started for the run: resource log every second (all metrics), log files of
    /// 32 MB with 4 kept, server-side latency recorded, reads and writes over libpq, bulk
    /// inserts as HyperBinary.
    pub fn managed() -> Self {
        Self {
            options: server::Options {
                hyperd: None,
                settings: Vec::new(),
                port: None,
                grpc: false,
                faultfs: false,
                disk_mb: None,
            },
            transport: Transport::LibPq,
            format: DataFormat::HyperBinary,
            log_interval: Duration::from_secs(1),
            log_mode: 2047,
            memory_limit: None,
            log_file_limit_mb: 32,
            log_files_kept: 4,
            server_latency: true,
            database_dir: None,
            keep_databases: false,
            env_error: None,
            server: None,
            databases: Vec::new(),
            temp: None,
            lifeline: std::sync::Mutex::new(None),
            seed: 0,
            disk_limit_mb: 512,
        }
    }

    /// A managed hyperd configured by `STRESS_TRANSPORT`, `STRESS_DATA_FORMAT`,
    /// `STRESS_LOG_INTERVAL`, `STRESS_LOG_MODE` and `STRESS_MEMORY_LIMIT` where set. A value
    /// that does not parse is bad input, refused before the run starts, naming the variable.
    pub fn from_env() -> Self {
        Self::managed().env_vars(|k| std::env::var(k).ok())
    }

    /// [`from_env`](Self::from_env) over any lookup (tests pass their own).
    pub fn env_vars(mut self, get: impl Fn(&str) -> Option<String>) -> Self {
        let mut errors = Vec::new();
        let var = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if let Some(v) = var("STRESS_TRANSPORT") {
            match v.parse() {
                Ok(t) => self = self.transport(t),
                Err(e) => errors.push(format!("STRESS_TRANSPORT={v}: {e}")),
            }
        }
        if let Some(v) = var("STRESS_DATA_FORMAT") {
            match v.parse() {
                Ok(f) => self = self.data_format(f),
                Err(e) => errors.push(format!("STRESS_DATA_FORMAT={v}: {e}")),
            }
        }
        if let Some(v) = var("STRESS_LOG_INTERVAL") {
            match stress_core::syntax::parse_duration(v.trim()) {
                Ok(d) => self = self.log_interval(d),
                Err(e) => errors.push(format!("STRESS_LOG_INTERVAL={v}: {e}")),
            }
        }
        if let Some(v) = var("STRESS_LOG_MODE") {
            match v.trim().parse::<u32>() {
                Ok(m) if m < 4096 => self = self.log_mode(m),
                _ => errors.push(format!(
                    "STRESS_LOG_MODE={v}: expected a bitmask from 0 to 4095 (2047 = all but cgroup memory)"
                )),
            }
        }
        if let Some(v) = var("STRESS_MEMORY_LIMIT") {
            self = self.memory_limit(v.trim());
        }
        if let Some(v) = var("STRESS_HYPER_SETTINGS") {
            for item in v.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                match item.split_once('=') {
                    Some((k, val)) if !k.trim().is_empty() => self = self.setting(k.trim(), val.trim()),
                    _ => errors.push(format!("STRESS_HYPER_SETTINGS: `{item}` has no `=` (use name=value,…)")),
                }
            }
        }
        self.env_error = (!errors.is_empty()).then(|| errors.join("; "));
        self
    }

    /// The hyperd binary (or its directory) to run, instead of discovery.
    pub fn hyperd(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.hyperd = Some(path.into());
        self
    }

    /// A hyperd setting (`memory_limit`, `log_file_size_limit`, …), passed as `--name=value`.
    /// hyperd runs in strict settings mode: a name or value it does not accept fails the start
    /// with hyperd's own message.
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.settings.push((name.into(), value.into()));
        self
    }

    /// Listens for libpq on TCP `127.0.0.1:port` instead of the default: a Unix socket in a
    /// private (0700) directory, which no other local account can reach. hyperd has no password
    /// setting, so on a port any local account can connect while the run lasts: ask for one
    /// only on a machine of your own.
    pub fn port(mut self, port: u16) -> Self {
        self.options.port = Some(port);
        self
    }

    /// Where reads go (default libpq).
    pub fn transport(mut self, t: Transport) -> Self {
        self.set_transport(t);
        self
    }

    fn set_transport(&mut self, t: Transport) {
        self.transport = t;
        self.options.grpc = t == Transport::Grpc;
    }

    /// How bulk inserts travel (default HyperBinary).
    pub fn data_format(mut self, f: DataFormat) -> Self {
        self.format = f;
        self
    }

    /// hyperd's `log_resource_usage_interval` (default 1 s; zero turns the resource log off
    /// and memory and CPU come from `/proc`).
    pub fn log_interval(mut self, d: Duration) -> Self {
        self.log_interval = d;
        self
    }

    /// hyperd's `log_resource_usage_mode` bitmask (default 2047: every metric but cgroup
    /// memory).
    pub fn log_mode(mut self, mode: u32) -> Self {
        self.log_mode = mode;
        self
    }

    /// hyperd's `memory_limit` (`80%`, `2g`, `512m`; default hyperd's own, 80%).
    pub fn memory_limit(mut self, limit: impl Into<String>) -> Self {
        self.memory_limit = Some(limit.into());
        self
    }

    /// Bounds hyperd's log: files of `file_mb` MB, `files` kept (default 32 MB × 4).
    pub fn log_limit(mut self, file_mb: u64, files: u32) -> Self {
        self.log_file_limit_mb = file_mb.max(1);
        self.log_files_kept = files.max(1);
        self
    }

    /// Whether `query-end` records become the summary's `server_latency_us.hyper` (default on).
    pub fn server_latency(mut self, on: bool) -> Self {
        self.server_latency = on;
        self
    }

    /// Keeps the databases in `dir` (`db_<i>.hyper`), opening the files already there instead
    /// of starting empty, and leaves them after the run.
    pub fn database_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.database_dir = Some(dir.into());
        self
    }

    /// The size of the filesystem the databases live on in a run with a `disk-full` fault
    /// (default 512 MiB: a tmpfs, so memory, taken whole while the fault fills it).
    pub fn disk_limit_mb(mut self, mb: u64) -> Self {
        self.disk_limit_mb = mb.max(1);
        self
    }

    /// Leaves the run's `.hyper` files in place after the run (they are also kept when hyperd
    /// crashed).
    pub fn keep_databases(mut self, keep: bool) -> Self {
        self.keep_databases = keep;
        self
    }

    /// Where reads go, as configured (a `transport` parameter may still change it at start).
    pub fn transport_setting(&self) -> Transport {
        self.transport
    }

    /// How bulk inserts travel, as configured (a `data_format` parameter may still change it).
    pub fn data_format_setting(&self) -> DataFormat {
        self.format
    }

    /// The hyperd binary this adapter runs (the one given, else `HYPERD_PATH`'s, else the
    /// `tableauhyperapi` package's), or why there is none.
    pub fn hyperd_path(&self) -> Result<PathBuf, OpError> {
        discover::find_hyperd(self.options.hyperd.as_deref())
    }

    /// The managed hyperd's pid, once started.
    pub fn hyperd_pid(&self) -> Option<u32> {
        self.server.as_ref().map(Server::pid)
    }

    /// Where the running hyperd's libpq listener is: `tab.domain://<dir>/domain/.s.PGSQL.7483` (a Unix
    /// socket in a private directory), or `127.0.0.1:port` when [`port`](Self::port) was set.
    pub fn endpoint(&self) -> Option<&str> {
        self.server.as_ref().map(|s| s.endpoint.as_str())
    }

    /// The directory of hyperd's log, once started.
    pub fn log_dir(&self) -> Option<&Path> {
        self.server.as_ref().map(|s| s.log_dir.as_path())
    }

    /// The `.hyper` files, once started.
    pub fn database_paths(&self) -> &[PathBuf] {
        &self.databases
    }

    /// The settings hyperd starts with: ours, then the user's (later ones win).
    fn settings(&self) -> Vec<(String, String)> {
        let mut s = vec![
            (
                "log_resource_usage_interval".to_owned(),
                format!("{}ms", self.log_interval.as_millis()),
            ),
            ("log_resource_usage_mode".to_owned(), self.log_mode.to_string()),
            ("log_resource_usage_always".to_owned(), "1".to_owned()),
            ("log_file_size_limit".to_owned(), format!("{}m", self.log_file_limit_mb)),
            ("log_file_max_count".to_owned(), self.log_files_kept.to_string()),
        ];
        if let Some(m) = &self.memory_limit {
            s.push(("memory_limit".to_owned(), m.clone()));
        }
        s.extend(self.options.settings.iter().cloned());
        s
    }

    fn open(&self, path: &Path, mode: CreateMode) -> Result<Connection, OpError> {
        let endpoint = self.endpoint().unwrap_or_default();
        Connection::connect(endpoint, &path.to_string_lossy(), mode).map_err(|e| {
            OpError::msg(format!(
                "cannot open Hyper database {}: {}",
                path.display(),
                OpError::from(e)
            ))
        })
    }

    /// A new hyperd (`pid`) guarded before the old guard lets go of the directory.
    fn guard(&self, pid: u32) -> Result<(), OpError> {
        let guard = stress_core::lifeline::Lifeline::guard(
            Some(pid),
            self.temp.as_ref().map(tempfile::TempDir::path),
            Duration::from_secs(10),
        )
        .map_err(|e| OpError::msg(format!("cannot start the watchdog: {e}")))?;
        if let Some(old) = self.lifeline.lock().unwrap_or_else(|p| p.into_inner()).replace(guard) {
            old.release();
        }
        Ok(())
    }

    /// Waits (a minute at most) until hyperd attaches the first database again.
    fn await_first(&self) -> Result<(), OpError> {
        let t0 = std::time::Instant::now();
        let first = self.databases.first().cloned();
        while first
            .as_deref()
            .is_some_and(|p| self.open(p, CreateMode::DoNotCreate).is_err())
        {
            if t0.elapsed() > Duration::from_secs(60) {
                return Err(OpError::msg(
                    "hyperd did not take a connection within 60 s of its start",
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// The check after hyperd started again on what a fault left: every database attached,
    /// or what hyperd said of the ones it would not (tried until a minute after `t0`).
    fn attach_all(&self, t0: std::time::Instant) -> String {
        let mut said = Vec::new();
        for p in &self.databases {
            let name = p
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            loop {
                let endpoint = self.endpoint().unwrap_or_default();
                match Connection::connect(endpoint, &p.to_string_lossy(), CreateMode::DoNotCreate) {
                    Ok(_) => {
                        said.push(format!("{name} attached"));
                        break;
                    }
                    // hyperd answered, and refused the file (`not a valid database`): no
                    // waiting makes that better. A connection not yet taken is waited for.
                    Err(e)
                        if t0.elapsed() > Duration::from_secs(60)
                            || self.crashed()
                            || e.sqlstate()
                                .is_some_and(|c| !c.starts_with("08") && !c.starts_with("57")) =>
                    {
                        said.push(format!(
                            "{name} not attached: cannot open Hyper database {}: {}",
                            p.display(),
                            OpError::from(e)
                        ));
                        break;
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        format!("hyperd started again; {}", said.join(", "))
    }

    /// The `fsync-error` fault: the next fsync of a file on the fault filesystem fails with EIO
    /// (its unsynced writes dropped, as Linux does); waits (until the run is `stopping`, a minute
    /// at most) for it to strike, then for hyperd to serve again (started again if it exited).
    /// Returns what happened — the file, the bytes dropped, what hyperd logged, whether it
    /// exited — and how long it took to serve again.
    fn fsync_error(&self, server: &Server, stopping: &dyn Fn() -> bool) -> Result<(String, Option<Duration>), OpError> {
        use std::sync::atomic::Ordering;
        let fs = server.faultfs()?;
        let marks = server.log_marks();
        // An exit of hyperd's is the fault's, not a crash of the run.
        server.restarting.store(true, Ordering::SeqCst);
        let struck = (|| {
            fs.fail_next_fsync()?;
            let until = std::time::Instant::now() + Duration::from_secs(60);
            let mut struck = None;
            while struck.is_none() && !stopping() && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
                struck = fs.fsync_failed()?;
            }
            if struck.is_none() {
                struck = fs.fsync_failed()?;
            }
            Ok::<_, OpError>(struck)
        })();
        let Some((file, bytes)) = (match struck {
            Ok(s) => s,
            Err(e) => {
                server.restarting.store(false, Ordering::SeqCst);
                return Err(e);
            }
        }) else {
            server.restarting.store(false, Ordering::SeqCst);
            return Ok((
                "no fsync came while the fault was armed (a minute, or until the run stopped)".to_owned(),
                None,
            ));
        };
        let t0 = std::time::Instant::now();
        let first = self.databases.first().cloned();
        let mut back = None;
        // A second for hyperd to act on it (exit, or carry on) before it is asked to serve.
        while t0.elapsed() < Duration::from_secs(1) && server.exited().is_none() {
            std::thread::sleep(Duration::from_millis(20));
        }
        while server.exited().is_none() && t0.elapsed() < Duration::from_secs(60) {
            if first
                .as_deref()
                .is_some_and(|p| self.open(p, CreateMode::DoNotCreate).is_ok())
            {
                back = Some(t0.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let exited = server.exited();
        server.restarting.store(false, Ordering::SeqCst);
        let said = server.said_since(&marks);
        let said = if said.is_empty() {
            "hyperd logged no error of it".to_owned()
        } else {
            said[..said.len().min(3)].join(" | ")
        };
        let what = match exited {
            Some(status) => {
                let new_pid = server.start_again()?;
                self.guard(new_pid)?;
                self.await_first()?;
                back = Some(t0.elapsed());
                format!("hyperd exited ({status}) and was started again")
            }
            None => "hyperd carried on".to_owned(),
        };
        Ok((
            format!("fsync of {file} failed with EIO, {bytes} unsynced bytes dropped; {what}; hyperd: {said}"),
            back,
        ))
    }

    /// Whether hyperd is gone (then its files are kept for a post-mortem).
    fn crashed(&self) -> bool {
        self.server.as_ref().is_some_and(|s| s.exited().is_some())
    }
}

impl Adapter for Hyper {
    type Conn = HyperConn;

    /// `transport` and `data_format`, defaulting to the adapter's own settings: a matrix can
    /// vary them and a replay restores them.
    fn params(&self) -> Vec<stress_core::ParamDef> {
        let choice = |name: &str, default: &str, choices: &[&str]| {
            let mut def = stress_core::ParamDef::new(name, default);
            def.choices = choices.iter().map(|c| (*c).to_owned()).collect();
            def
        };
        vec![
            choice("transport", self.transport.name(), &["tcp", "grpc"]),
            choice("data_format", self.format.name(), &["hyperbinary", "arrow"]),
        ]
    }

    fn variables(&self) -> &'static [&'static str] {
        &[
            "STRESS_TRANSPORT",
            "STRESS_DATA_FORMAT",
            "STRESS_LOG_INTERVAL",
            "STRESS_LOG_MODE",
            "STRESS_MEMORY_LIMIT",
            "STRESS_HYPER_SETTINGS",
        ]
    }

    fn name(&self) -> &'static str {
        "hyper"
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "transport": self.transport,
            "data_format": self.format,
            "settings": self.settings(),
            "database_dir": self.database_dir,
        })
    }

    fn check(&self) -> Result<(), String> {
        self.env_error.clone().map_or(Ok(()), Err)
    }

    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), OpError> {
        self.check().map_err(OpError::msg)?;
        // Its own parameters (`params`) choose the paths: a matrix can vary them and a replay
        // restores them.
        if let Some(v) = ctx.params.value("transport") {
            let t = v
                .to_string()
                .parse()
                .map_err(|e| OpError::msg(format!("parameter transport: {e}")))?;
            self.set_transport(t);
        }
        if let Some(v) = ctx.params.value("data_format") {
            self.format = v
                .to_string()
                .parse()
                .map_err(|e| OpError::msg(format!("parameter data_format: {e}")))?;
        }
        // A private (0700) directory of our own holds hyperd's socket (and, without an output
        // directory, its log and databases): hyperd has no password setting, so its
        // permissions are what keep other local accounts out.
        let temp = tempfile::Builder::new()
            .prefix("stress-hyper-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()?;
        let base = ctx.out_dir.map_or_else(|| temp.path().to_owned(), Path::to_owned);
        let mut options = self.options.clone();
        options.settings = self.settings();
        self.seed = ctx.seed;
        // The storage faults: the databases on the fault filesystem; `disk-full`: on a
        // size-limited one (both at once are refused).
        options.faultfs = stress_core::faultfs::wanted(ctx.faults);
        if ctx.faults.contains(&FaultKind::DiskFull) {
            options.disk_mb = Some(self.disk_limit_mb);
        }
        if options.faultfs && options.disk_mb.is_some() {
            return Err(OpError::msg(
                "disk-full and the storage faults (power-loss, fsync-error, io-delay) each put hyperd's databases on \
                 a filesystem of their own: give one or the other in a run",
            ));
        }
        if (options.faultfs || options.disk_mb.is_some()) && self.database_dir.is_some() {
            return Err(OpError::msg(
                "with a storage fault or disk-full hyperd's databases live on a filesystem of the run's own: leave \
                 database_dir out",
            ));
        }
        let started = Server::start(&options, &base.join("hyperd"), temp.path());
        let temp_path = temp.path().to_owned();
        self.temp = Some(temp);
        let server = started?;
        // hyperd also ends when its callback connection closes; the watchdog makes sure of it
        // (SIGKILL after a grace) and removes the temporary directory, whatever kills us.
        let lifeline = stress_core::lifeline::Lifeline::guard(
            Some(server.pid()),
            Some(&temp_path),
            std::time::Duration::from_secs(10),
        );
        self.server = Some(server);
        *self.lifeline.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(lifeline.map_err(|e| {
            OpError::msg(format!(
                "cannot start the watchdog that stops hyperd if this process dies: {e}"
            ))
        })?);
        let on_own_fs = self
            .server
            .as_ref()
            .and_then(Server::private_fs)
            .map(|fs| fs.mountpoint().join("databases"));
        let (dir, mode) = match (&self.database_dir, on_own_fs) {
            (_, Some(d)) => (d, CreateMode::CreateAndReplace),
            (Some(d), None) => (d.clone(), CreateMode::CreateIfNotExists),
            (None, None) => (base.join("databases"), CreateMode::CreateAndReplace),
        };
        let dir_here = self.server.as_ref().map_or_else(|| dir.clone(), |s| s.outside(&dir));
        std::fs::create_dir_all(&dir_here)
            .map_err(|e| OpError::msg(format!("cannot create the database directory {}: {e}", dir.display())))?;
        self.databases = (0..ctx.databases).map(|i| dir.join(format!("db_{i}.hyper"))).collect();
        for path in &self.databases {
            let conn = self.open(path, mode).map_err(|e| {
                OpError::msg(format!(
                    "{e} — if it is not a Hyper database file, remove it or choose another database directory"
                ))
            })?;
            drop(conn);
        }
        Ok(())
    }

    fn connect(&self, db: usize) -> Result<HyperConn, OpError> {
        let path = self
            .databases
            .get(db)
            .ok_or_else(|| OpError::msg(format!("no Hyper database {db}: the adapter was not started with it")))?;
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| OpError::msg("hyperd is not running: the adapter was not started"))?;
        let conn = self.open(path, CreateMode::DoNotCreate)?;
        let grpc = match &server.grpc_url {
            Some(url) if self.transport == Transport::Grpc => {
                let config = GrpcConfig::new(url).database(path.to_string_lossy());
                Some(GrpcConnection::connect_with_config(config).map_err(|e| {
                    OpError::msg(format!(
                        "cannot connect to hyperd over gRPC at {url}: {}",
                        OpError::from(e)
                    ))
                })?)
            }
            _ => None,
        };
        Ok(HyperConn::new(conn, grpc, self.format, Some(server.pid())))
    }

    /// hyperd can be killed (its tree frozen, then SIGKILL, then started again on the same
    /// databases), paused and restarted (`--fault kill@every=5s..15s`); its databases damaged
    /// while it is down (`corrupt`); and, on a filesystem of the run's own, filled
    /// (`disk-full`), and cut from the power, torn, failed an fsync or slowed (`power-loss`,
    /// `power-loss:torn`, `fsync-error`, `io-delay`).
    fn faults(&self) -> Vec<FaultKind> {
        FaultKind::ENGINE.to_vec()
    }

    /// An op whose connection to hyperd broke (the client's connection or I/O error, a closed
    /// connection, SQLSTATE class 08 or 57) may have committed.
    fn is_indeterminate(&self, e: &OpError) -> bool {
        e.find::<hyperdb_api::Error>().is_some_and(|he| {
            matches!(
                he,
                hyperdb_api::Error::Connection { .. } | hyperdb_api::Error::Io(_) | hyperdb_api::Error::Closed { .. }
            ) || he
                .sqlstate()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57"))
        })
    }

    fn inject(&self, fault: &PlannedFault, stopping: &dyn Fn() -> bool) -> Result<Injected, OpError> {
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| OpError::msg("hyperd is not running"))?;
        match fault.kind {
            FaultKind::Pause => {
                let hold = Duration::from_millis(fault.hold_ms.unwrap_or(0));
                let first = self.databases.first().cloned();
                let recovery = stress_core::fault::pause_tree(server.pid(), hold, stopping, || {
                    first
                        .as_deref()
                        .is_some_and(|p| self.open(p, CreateMode::DoNotCreate).is_ok())
                })?;
                Ok(Injected {
                    target: format!("hyperd (pid {})", server.pid()),
                    recovery,
                    check: None,
                })
            }
            FaultKind::Kill | FaultKind::Restart => {
                let target = format!("hyperd (pid {})", server.pid());
                let t0 = std::time::Instant::now();
                let new_pid = server.go_down_and_start(fault.kind == FaultKind::Kill)?;
                self.guard(new_pid)?;
                self.await_first()?;
                Ok(Injected {
                    target,
                    recovery: Some(t0.elapsed()),
                    check: None,
                })
            }
            FaultKind::PowerLoss | FaultKind::PowerLossTorn => {
                let target = format!("hyperd (pid {})", server.pid());
                let t0 = std::time::Instant::now();
                let (new_pid, dropped) = server.power_loss(stress_core::faultfs::torn_seed(self.seed, fault))?;
                self.guard(new_pid)?;
                let check = self.attach_all(t0);
                Ok(Injected {
                    target,
                    recovery: Some(t0.elapsed()),
                    check: Some(format!("{dropped}; {check}")),
                })
            }
            FaultKind::FsyncError => {
                let target = format!("hyperd (pid {})", server.pid());
                let (check, recovery) = self.fsync_error(server, stopping)?;
                Ok(Injected {
                    target,
                    recovery,
                    check: Some(check),
                })
            }
            FaultKind::IoDelay => {
                let fs = server.faultfs()?;
                let check = stress_core::faultfs::hold_delay(fs, fault, stopping)?;
                Ok(Injected {
                    target: format!("hyperd's databases ({})", fs.describe()),
                    recovery: None,
                    check: Some(check),
                })
            }
            FaultKind::DiskFull => {
                let disk = server
                    .disk
                    .as_ref()
                    .ok_or_else(|| OpError::msg("hyperd's databases are not on a size-limited filesystem"))?;
                let hold = Duration::from_millis(fault.hold_ms.unwrap_or(0));
                let first = self.databases.first().cloned();
                // Its exit meanwhile is the fault's, not a crash.
                server.restarting.store(true, std::sync::atomic::Ordering::SeqCst);
                let held = disk.hold_full(hold, stopping, || {
                    server.exited().is_some()
                        || first
                            .as_deref()
                            .is_some_and(|p| self.open(p, CreateMode::DoNotCreate).is_ok())
                });
                server.restarting.store(false, std::sync::atomic::Ordering::SeqCst);
                let (taken, mut recovery) = held?;
                let exited = server.exited().is_some();
                if exited {
                    let t0 = std::time::Instant::now();
                    let new_pid = server.start_again()?;
                    self.guard(new_pid)?;
                    self.await_first()?;
                    recovery = Some(t0.elapsed());
                }
                Ok(Injected {
                    target: format!("hyperd's databases ({})", disk.describe()),
                    recovery,
                    check: Some(format!(
                        "filled with {} MiB, then freed{}",
                        taken >> 20,
                        if exited {
                            "; hyperd exited while the disk was full and was started again"
                        } else {
                            ""
                        }
                    )),
                })
            }
            FaultKind::Corrupt => {
                let target = format!("hyperd (pid {})", server.pid());
                let t0 = std::time::Instant::now();
                let files: Vec<PathBuf> = self.databases.iter().map(|p| server.outside(p)).collect();
                let mut rng = stress_core::fault::corrupt_rng(self.seed, fault);
                let (new_pid, damage) = server.damaged_and_started(|| damage(&files, &mut rng))?;
                self.guard(new_pid)?;
                let check = self.attach_all(t0);
                Ok(Injected {
                    target,
                    recovery: Some(t0.elapsed()),
                    check: Some(format!("{damage}; {check}")),
                })
            }
            other => Err(OpError::msg(format!("hyper cannot inject `{other}`"))),
        }
    }

    fn metrics_sources(&self) -> Vec<Box<dyn MetricsSource>> {
        let Some(s) = &self.server else { return Vec::new() };
        // The files' sizes, as this process reaches them (through a filesystem of the run's
        // own, if they are on one).
        let databases = self.databases.iter().map(|p| s.outside(p)).collect();
        vec![Box::new(HyperMetrics {
            pid: s.pid.clone(),
            restarting: s.restarting.clone(),
            child: s.child.clone(),
            log_dir: s.log_dir.clone(),
            databases,
            server_latency: self.server_latency,
            tailer: LogTailer::new(&s.log_dir),
            latest: None,
            latencies: Vec::new(),
            cores: std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64),
            cpu: Default::default(),
        })]
    }

    fn stop(&mut self) -> Result<(), OpError> {
        // On a filesystem of the run's own the databases go with it.
        let on_own_fs = self.server.as_ref().is_some_and(|s| s.private_fs().is_some());
        let keep = self.keep_databases || self.database_dir.is_some() || self.crashed() || on_own_fs;
        if let Some(mut server) = self.server.take() {
            server.stop();
        }
        if !keep {
            for p in &self.databases {
                let _ = std::fs::remove_file(p);
            }
        }
        self.temp = None;
        // Everything is stopped and removed: the watchdog finds nothing to do.
        *self.lifeline.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }
}

/// The `corrupt` fault's damage: one 4 KiB block (not the first, which holds the file's
/// header) of one of the `.hyper` files, both chosen by `rng`, overwritten with random bytes.
fn damage(files: &[PathBuf], rng: &mut impl stress_core::rand::Rng) -> Result<String, OpError> {
    const BLOCK: u64 = 4096;
    let candidates: Vec<(&PathBuf, u64)> = files
        .iter()
        .filter_map(|p| {
            let blocks = std::fs::metadata(p).map_or(0, |m| m.len()) / BLOCK;
            (blocks > 1).then_some((p, blocks))
        })
        .collect();
    if candidates.is_empty() {
        return Err(OpError::msg("no .hyper file holds a block to damage yet"));
    }
    let (file, blocks) = candidates[rng.random_range(0..candidates.len())];
    let block = rng.random_range(1..blocks);
    stress_core::fault::overwrite(file, block * BLOCK, BLOCK as usize, rng)?;
    let name = file
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    Ok(format!(
        "damaged block {block} of {blocks} of {name} ({BLOCK} bytes at {})",
        block * BLOCK
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_knobs_configure_the_adapter_and_bad_ones_are_named() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let h = Hyper::managed().env_vars(vars(&[
            ("STRESS_TRANSPORT", "grpc"),
            ("STRESS_DATA_FORMAT", "arrow"),
            ("STRESS_LOG_INTERVAL", "5"),
            ("STRESS_LOG_MODE", "2047"),
            ("STRESS_MEMORY_LIMIT", "2g"),
            ("STRESS_HYPER_SETTINGS", "disable_fsync=true, log_dir_size_limit=1g"),
        ]));
        assert_eq!((h.transport, h.format), (Transport::Grpc, DataFormat::Arrow));
        assert!(h.options.grpc && h.env_error.is_none());
        let settings = h.settings();
        for want in [
            ("log_resource_usage_interval", "5000ms"),
            ("log_resource_usage_mode", "2047"),
            ("memory_limit", "2g"),
            ("disable_fsync", "true"),
        ] {
            assert!(
                settings.contains(&(want.0.into(), want.1.into())),
                "{want:?} in {settings:?}"
            );
        }
        let h = Hyper::managed().env_vars(vars(&[
            ("STRESS_TRANSPORT", "udp"),
            ("STRESS_LOG_MODE", "all"),
            ("STRESS_HYPER_SETTINGS", "disable_fsync"),
        ]));
        let e = h.env_error.unwrap();
        assert!(
            e.contains("STRESS_TRANSPORT=udp")
                && e.contains("STRESS_LOG_MODE=all")
                && e.contains("`disable_fsync` has no `=`"),
            "{e}"
        );
    }
}
