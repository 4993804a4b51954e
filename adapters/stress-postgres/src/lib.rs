//! # stress-postgres
//!
//! PostgreSQL for cargo-stress, two ways:
//!
//! - [`Postgres::managed()`]: a throwaway server the run starts itself — `initdb` into a
//!   temporary directory, `postgres` on a free loopback port (socket in that directory, trust
//!   authentication), one database per workload database (`stress_0`, `stress_1`, …), stopped
//!   with a fast shutdown (then a kill) when the run ends, also on panic or Ctrl-C. As root it
//!   runs the server as the `postgres` account (PostgreSQL refuses root). Its process tree is
//!   monitored, and its death ends the run with `CrashDetected`.
//! - [`Postgres::dsn(..)`](Postgres::dsn) or [`Postgres::from_env()`] (`STRESS_PG_DSN`, then
//!   `PG_DSN`): a server you run. With several workload databases, each gets a schema
//!   (`stress_db0`, …) on the given database, dropped at the end.
//!
//! Each user gets its own connection with its prepared statements cached; bulk inserts use
//! binary `COPY … FROM STDIN`. The SQL layer runs on the adapter's own blocking client of the
//! wire protocol ([`Driver::Wire`]: no runtime between the user's thread and its socket, as with
//! libpq); [`PgConn::client`] gives the synchronous `postgres` crate's `Client`, and
//! [`Postgres::driver`] (or `STRESS_PG_DRIVER=postgres`) puts the SQL layer on it too.
//!
//! Both clients speak TLS (rustls, no system OpenSSL) as the connection string's `sslmode`
//! (`disable`, `prefer` — the default —, `require`, `verify-ca`, `verify-full`), `sslrootcert`
//! (a PEM file, or `system`) and `sslcert`/`sslkey` say, as libpq reads them; a managed server
//! speaks TLS with [`Postgres::tls`] (or `STRESS_PG_TLS=1`).
#![warn(missing_docs)]

mod conn;
mod corrupt;
mod metrics;
mod server;
mod settings;
mod tls;
mod wire;

use std::time::Duration;

pub use conn::{Driver, PgConn};
pub use postgres;
use postgres::config::Host;
use stress_core::fault::{FaultKind, Injected, PlannedFault};
use stress_core::monitor::MetricsSource;
use stress_core::{Adapter, OpError, StartContext};
pub use wire::{DbError, WireError};

use crate::metrics::{PgMetrics, Watched};
use crate::server::Server;
use crate::tls::Tls;

#[derive(Debug, Clone)]
enum Mode {
    Managed,
    Dsn(String),
}

/// Where one workload database lives.
#[derive(Debug, Clone)]
struct Target {
    config: postgres::Config,
    tls: Tls,
    schema: Option<String>,
}

/// The PostgreSQL adapter.
#[derive(Debug)]
pub struct Postgres {
    mode: Mode,
    options: server::Options,
    statement_timeout: Option<Duration>,
    server: Option<Server>,
    targets: Vec<Target>,
    /// Whether `stop` drops the schemas `start` reached (see `StartContext::teardown`).
    teardown: bool,
    /// The run's seed: what `corrupt` damages is drawn from it.
    seed: u64,
    /// The size of the data's filesystem in a run with a `disk-full` fault, MiB.
    disk_limit_mb: u64,
    /// The client the SQL layer runs on (`None`: `STRESS_PG_DRIVER`, else the wire client).
    driver: Option<Driver>,
    /// The run's network proxy, which the users' connections go through instead of the
    /// server's TCP address (a run with a network fault).
    proxy: Option<std::net::SocketAddr>,
}

impl Postgres {
    fn with(mode: Mode) -> Self {
        Self {
            mode,
            options: server::Options::default(),
            statement_timeout: None,
            server: None,
            teardown: true,
            targets: Vec::new(),
            seed: 0,
            disk_limit_mb: 512,
            driver: None,
            proxy: None,
        }
    }

    /// A throwaway server started for the run, reachable only by the run (see
    /// [`tcp`](Self::tcp)).
    pub fn managed() -> Self {
        let mut pg = Self::with(Mode::Managed);
        pg.options.tcp = std::env::var("STRESS_PG_TCP").is_ok_and(|v| v == "1" || v == "true");
        pg.options.tls = std::env::var("STRESS_PG_TLS").is_ok_and(|v| v == "1" || v == "true");
        pg
    }

    /// The server at a connection string (`host=… port=… user=… password=… dbname=…` or a
    /// `postgresql://` URL).
    pub fn dsn(dsn: impl Into<String>) -> Self {
        Self::with(Mode::Dsn(dsn.into()))
    }

    /// The server named by `STRESS_PG_DSN` (or `PG_DSN`), if either is set.
    pub fn from_env() -> Option<Self> {
        ["STRESS_PG_DSN", "PG_DSN"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
            .map(Self::dsn)
    }

    /// The server named by `STRESS_PG_DSN`/`PG_DSN`, else a managed one.
    pub fn from_env_or_managed() -> Self {
        Self::from_env().unwrap_or_else(Self::managed)
    }

    /// A server setting for the managed server (`-c name=value`): `shared_buffers`, `fsync`,
    /// `max_connections`, …
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.settings.push((name.into(), value.into()));
        self
    }

    /// The managed server's port (default: a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.options.port = Some(port);
        self
    }

    /// Password authentication (SCRAM) over TCP for the managed server's `postgres` user, which
    /// then listens on 127.0.0.1 too (default: a random password per run, when it listens on
    /// TCP at all).
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.options.password = Some(password.into());
        self.options.tcp = true;
        self
    }

    /// Whether the managed server listens on 127.0.0.1 too (default: no, unless
    /// `STRESS_PG_TCP=1`). By default it listens only on a Unix socket in its own private
    /// (0700) directory, so that no other local account can connect; over TCP it asks for a
    /// password, random per run unless [`password`](Self::password) gives one.
    pub fn tcp(mut self, on: bool) -> Self {
        self.options.tcp = on;
        self
    }

    /// Whether the managed server speaks TLS (default: no, unless `STRESS_PG_TLS=1`): a
    /// certificate authority and a server certificate made for the run, `ssl=on`, and only
    /// TLS connections over TCP (`hostssl`); it then listens on 127.0.0.1 (as with
    /// [`tcp`](Self::tcp)), and the run's own connections verify its certificate
    /// (`verify-full` against that authority).
    pub fn tls(mut self, on: bool) -> Self {
        self.options.tls = on;
        self
    }

    /// The directory holding `initdb` and `postgres` (default: `PG_BINDIR`, `PATH`,
    /// `pg_config --bindir`, `/usr/lib/postgresql/*/bin`).
    pub fn bindir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.options.bindir = Some(dir.into());
        self
    }

    /// Where the managed server's temporary cluster goes (default: the system's temporary
    /// directory).
    pub fn cluster_parent(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.options.parent = Some(dir.into());
        self
    }

    /// The size of the filesystem a managed cluster's data lives on in a run with a
    /// `disk-full` fault (default 512 MiB: a tmpfs, so memory, taken whole while the fault
    /// fills it).
    pub fn disk_limit_mb(mut self, mb: u64) -> Self {
        self.disk_limit_mb = mb.max(1);
        self
    }

    /// The client the users' SQL layer runs on (default: `STRESS_PG_DRIVER`, else
    /// [`Driver::Wire`]).
    pub fn driver(mut self, driver: Driver) -> Self {
        self.driver = Some(driver);
        self
    }

    /// The driver this adapter's users get: the one given, else `STRESS_PG_DRIVER`'s, else the
    /// wire client.
    fn effective_driver(&self) -> Result<Driver, String> {
        if let Some(d) = self.driver {
            return Ok(d);
        }
        driver_from(std::env::var("STRESS_PG_DRIVER").ok())
    }

    /// `statement_timeout` for every user session.
    pub fn statement_timeout(mut self, d: Duration) -> Self {
        self.statement_timeout = Some(d);
        self
    }

    /// The managed server's postmaster pid, once started.
    pub fn postmaster_pid(&self) -> Option<u32> {
        self.server.as_ref().map(Server::pid)
    }

    /// The managed server's port, once started.
    pub fn server_port(&self) -> Option<u16> {
        self.server.as_ref().map(|s| s.port)
    }
}

/// The driver `STRESS_PG_DRIVER` names (unset or empty: the wire client).
fn driver_from(var: Option<String>) -> Result<Driver, String> {
    match var {
        Some(v) if !v.trim().is_empty() => Driver::parse(&v)
            .ok_or_else(|| format!("STRESS_PG_DRIVER=`{v}` is invalid: use `wire` (the default) or `postgres`")),
        _ => Ok(Driver::Wire),
    }
}

/// `host:port/dbname` of a config, never its password.
fn describe(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or("(default database)"))
}

/// `config` with the connect timeout the adapter uses when it gives none (10 s).
fn with_timeout(config: &postgres::Config) -> postgres::Config {
    let mut config = config.clone();
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    config
}

fn connect(config: &postgres::Config, tls: &Tls) -> Result<postgres::Client, OpError> {
    client(&with_timeout(config), tls).map_err(|e| cannot_connect(config, e.into()))
}

/// The `postgres` crate's client on `config` with `tls` (never over a Unix socket, as with
/// libpq: the server offers none there).
fn client(config: &postgres::Config, tls: &Tls) -> Result<postgres::Client, postgres::Error> {
    let mut config = config.clone();
    match config.get_hosts().first() {
        Some(Host::Unix(_)) => Tls::disabled().apply(&mut config),
        _ => tls.apply(&mut config),
    }
    config.connect(tls.connector())
}

/// The TCP address a config's first host names (its `hostaddr`, or its host name resolved),
/// `None` for a Unix socket.
fn tcp_address(config: &postgres::Config) -> Option<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let port = config.get_ports().first().copied().unwrap_or(5432);
    if let Some(ip) = config.get_hostaddrs().first() {
        return Some(std::net::SocketAddr::new(*ip, port));
    }
    match config.get_hosts().first() {
        Some(Host::Tcp(h)) => (h.as_str(), port).to_socket_addrs().ok()?.next(),
        _ => None,
    }
}

/// The `statement_timeout` a connection string sets for the session the PostgreSQL way
/// (`options='-c statement_timeout=1500'`, or `=2s`, `500ms`, `1min`), if it does.
fn options_statement_timeout(config: &postgres::Config) -> Option<Duration> {
    let options = config.get_options()?;
    let value = options
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("-c ", "-c")
        .split_whitespace()
        .find_map(|o| {
            o.strip_prefix("-cstatement_timeout=")
                .or_else(|| o.strip_prefix("--statement_timeout="))
                .or_else(|| o.strip_prefix("--statement-timeout="))
                .map(str::to_owned)
        })?;
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (n, unit) = value.split_at(split);
    let n: u64 = n.parse().ok()?;
    let ms = match unit.trim() {
        "" | "ms" => n,
        "s" => n.checked_mul(1000)?,
        "min" => n.checked_mul(60_000)?,
        "h" => n.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(ms))
}

/// `config` sent to `to` (the run's network proxy) instead of its hosts; the rest unchanged.
fn routed(config: &postgres::Config, to: std::net::SocketAddr) -> postgres::Config {
    let mut c = postgres::Config::new();
    c.host(&to.ip().to_string()).port(to.port());
    if let Some(u) = config.get_user() {
        c.user(u);
    }
    if let Some(p) = config.get_password() {
        c.password(p);
    }
    if let Some(d) = config.get_dbname() {
        c.dbname(d);
    }
    if let Some(o) = config.get_options() {
        c.options(o);
    }
    if let Some(a) = config.get_application_name() {
        c.application_name(a);
    }
    if let Some(t) = config.get_connect_timeout() {
        c.connect_timeout(*t);
    }
    c.ssl_mode(config.get_ssl_mode());
    c
}

/// A connection that failed, named by where it went (never its password).
fn cannot_connect(config: &postgres::Config, e: OpError) -> OpError {
    OpError::msg(format!("cannot connect to PostgreSQL at {}: {e}", describe(config)))
}

/// The SQLSTATE of the server's error in `e` (`40001`, `57P01`, …), whichever client ran the
/// statement; `None` for an error of the connection or the client.
pub fn sqlstate(e: &OpError) -> Option<&str> {
    if let Some(w) = e.find::<WireError>() {
        return w.code();
    }
    e.find::<postgres::Error>()
        .and_then(postgres::Error::code)
        .map(|c| c.code())
}

/// Whether the connection broke under `e` (closed, or a read or write failed), whichever
/// client it came from.
fn connection_lost(e: &OpError) -> bool {
    if let Some(w) = e.find::<WireError>() {
        return w.is_closed();
    }
    e.find::<postgres::Error>()
        .is_some_and(|pe| pe.is_closed() || std::error::Error::source(pe).is_some_and(|s| s.is::<std::io::Error>()))
}

/// A connection string and the TLS it asks for, or a one-line error that says what form it
/// takes or which TLS setting is wrong (never echoing the string: it may hold a password).
fn parse_dsn(dsn: &str) -> Result<(postgres::Config, Tls), String> {
    let (rest, options) = tls::split_dsn(dsn);
    let config = rest.parse().map_err(|e| {
        format!(
            "the PostgreSQL connection string is not valid ({e}): use `host=… port=… user=… dbname=…` or a postgresql:// URL"
        )
    })?;
    let tls = Tls::from_options(&options).map_err(|e| format!("STRESS_PG_DSN: {e}"))?;
    Ok((config, tls))
}

impl Adapter for Postgres {
    type Conn = PgConn;

    fn check(&self) -> Result<(), String> {
        self.effective_driver()?;
        let env = settings::from_env()?;
        match &self.mode {
            Mode::Dsn(dsn) => {
                if !env.is_empty() {
                    return Err(format!(
                        "{}: a server given by address keeps its own settings; unset it, or unset STRESS_PG_DSN \
                         for a managed server",
                        settings::VAR
                    ));
                }
                parse_dsn(dsn).map(|_| ())
            }
            Mode::Managed => settings::check_known(&env, self.options.bindir.as_deref()),
        }
    }

    fn variables(&self) -> &'static [&'static str] {
        &[
            "STRESS_PG_DSN",
            "STRESS_PG_TCP",
            "STRESS_PG_TLS",
            "STRESS_PG_DRIVER",
            settings::VAR,
        ]
    }

    fn name(&self) -> &'static str {
        "postgres"
    }

    /// Serialization failures (SQLSTATE 40001) and deadlocks (40P01): a retry of the same
    /// transaction can succeed, as pgbench's `--max-tries` retries them.
    fn is_retryable(&self, e: &OpError) -> bool {
        e.is_marked_retryable() || matches!(sqlstate(e), Some("40001" | "40P01"))
    }

    /// The connection broke, so a commit in flight may or may not have happened: the
    /// connection closed or failed (I/O), a connection exception (class 08) or the server
    /// ending the session (class 57: shutdown, crash, terminated). A statement the client
    /// refused before sending it (a parameter it cannot encode) is not.
    fn is_indeterminate(&self, e: &OpError) -> bool {
        connection_lost(e) || sqlstate(e).is_some_and(|c| c.starts_with("08") || c.starts_with("57"))
    }

    /// A managed server can be killed (its whole process tree at once, then started again on
    /// the same cluster), paused and restarted (`--fault kill@every=5s..15s`); one given by
    /// address is not this run's to stop.
    fn faults(&self) -> Vec<FaultKind> {
        match self.mode {
            Mode::Managed => FaultKind::ENGINE.to_vec(),
            Mode::Dsn(_) => Vec::new(),
        }
    }

    fn fault_hint(&self, kind: FaultKind) -> Option<String> {
        match &self.mode {
            _ if kind.is_network() => Some(
                "network faults need a server the users reach over TCP: a DSN with a host name or address, or a managed \
                 server with .tcp(true) or STRESS_PG_TCP=1"
                    .to_owned(),
            ),
            Mode::Dsn(_) => Some("on a managed server: a server given by address is not this run's to stop".to_owned()),
            Mode::Managed => None,
        }
    }

    /// Over TCP: a DSN whose first host is a name or an address, or a managed server with
    /// `.tcp(true)` (`STRESS_PG_TCP=1`).
    fn over_tcp(&self) -> bool {
        match &self.mode {
            Mode::Managed => self.options.tcp,
            Mode::Dsn(dsn) => parse_dsn(dsn).is_ok_and(|(c, _)| {
                !c.get_hostaddrs().is_empty() || matches!(c.get_hosts().first(), Some(Host::Tcp(_)))
            }),
        }
    }

    fn tcp_target(&self) -> Option<std::net::SocketAddr> {
        self.targets.first().and_then(|t| tcp_address(&t.config))
    }

    fn route_through(&mut self, proxy: std::net::SocketAddr) -> Result<(), OpError> {
        if self.tcp_target().is_none() {
            return Err(OpError::msg("the users reach PostgreSQL by no TCP address"));
        }
        self.proxy = Some(proxy);
        Ok(())
    }

    fn inject(&self, fault: &PlannedFault, stopping: &dyn Fn() -> bool) -> Result<Injected, OpError> {
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| OpError::msg("no managed server is running"))?;
        match fault.kind {
            FaultKind::Pause => {
                let hold = Duration::from_millis(fault.hold_ms.unwrap_or(0));
                let config = server.config("postgres");
                let recovery = stress_core::fault::pause_tree(server.pid(), hold, stopping, || {
                    connect(&config, &server.tls).is_ok_and(|mut c| c.simple_query("SELECT 1").is_ok())
                })?;
                Ok(Injected {
                    target: format!("postgres (pid {})", server.pid()),
                    recovery,
                    check: None,
                })
            }
            FaultKind::Kill | FaultKind::Restart => {
                let target = format!("postgres (pid {})", server.pid());
                let t0 = std::time::Instant::now();
                if fault.kind == FaultKind::Kill {
                    server.kill_and_start()?;
                } else {
                    server.restart()?;
                }
                Ok(Injected {
                    target,
                    recovery: Some(t0.elapsed()),
                    check: None,
                })
            }
            FaultKind::DiskFull => {
                let hold = Duration::from_millis(fault.hold_ms.unwrap_or(0));
                let config = server.config("postgres");
                let (taken, recovery, exited) = server.disk_full(hold, stopping, || {
                    connect(&config, &server.tls).is_ok_and(|mut c| c.simple_query("SELECT 1").is_ok())
                })?;
                let on = server
                    .disk
                    .as_ref()
                    .map_or_else(String::new, stress_core::sizedfs::SizedFs::describe);
                Ok(Injected {
                    target: format!("postgres data ({on})"),
                    recovery,
                    check: Some(format!(
                        "filled with {} MiB, then freed{}",
                        taken >> 20,
                        if exited {
                            "; the server exited while the disk was full and was started again"
                        } else {
                            ""
                        }
                    )),
                })
            }
            FaultKind::PowerLoss | FaultKind::PowerLossTorn => {
                let target = format!("postgres (pid {})", server.pid());
                let t0 = std::time::Instant::now();
                let dropped = server.power_loss(stress_core::faultfs::torn_seed(self.seed, fault))?;
                let recovery = t0.elapsed();
                let found = corrupt::amcheck(self.targets.iter().map(|t| (&t.config, &t.tls)));
                Ok(Injected {
                    target,
                    recovery: Some(recovery),
                    check: Some(format!("{dropped}; recovered; {found}")),
                })
            }
            FaultKind::FsyncError => {
                let config = server.config("postgres");
                let (struck, said, recovery) = server.fsync_error(stopping, || {
                    connect(&config, &server.tls).is_ok_and(|mut c| c.simple_query("SELECT 1").is_ok())
                })?;
                let check = match struck {
                    Some((file, bytes)) => {
                        format!("fsync of {file} failed with EIO, {bytes} unsynced bytes dropped; postgres: {said}")
                    }
                    None => "no fsync came while the fault was armed".to_owned(),
                };
                Ok(Injected {
                    target: format!("postgres (pid {})", server.pid()),
                    recovery,
                    check: Some(check),
                })
            }
            FaultKind::IoDelay => {
                let fs = server
                    .faultfs
                    .as_ref()
                    .ok_or_else(|| OpError::msg("the cluster is not on the fault filesystem"))?;
                let check = stress_core::faultfs::hold_delay(fs, fault, stopping)?;
                Ok(Injected {
                    target: format!("postgres data ({})", fs.describe()),
                    recovery: None,
                    check: Some(check),
                })
            }
            FaultKind::Corrupt => {
                let target = format!("postgres (pid {})", server.pid());
                let t0 = std::time::Instant::now();
                let mut rng = stress_core::fault::corrupt_rng(self.seed, fault);
                let damage = server.damaged_and_started(|data| corrupt::damage(data, &mut rng))?;
                let recovery = t0.elapsed();
                let found = corrupt::amcheck(self.targets.iter().map(|t| (&t.config, &t.tls)));
                Ok(Injected {
                    target,
                    recovery: Some(recovery),
                    check: Some(format!("{damage}; {found}")),
                })
            }
            other => Err(OpError::msg(format!("postgres cannot inject `{other}`"))),
        }
    }

    /// A server given by address is the shards' to share.
    fn shared(&self) -> bool {
        matches!(self.mode, Mode::Dsn(_))
    }

    fn describe(&self) -> serde_json::Value {
        let mode = match &self.mode {
            Mode::Managed => "managed".to_owned(),
            Mode::Dsn(dsn) => tls::split_dsn(dsn)
                .0
                .parse::<postgres::Config>()
                .map_or_else(|_| "dsn (unparsable)".into(), |c| format!("dsn {}", describe(&c))),
        };
        serde_json::json!({
            "mode": mode,
            "settings": self.options.settings,
            "driver": self.effective_driver().map_or("invalid", Driver::name),
            "statement_timeout_ms": self.statement_timeout.map(|d| d.as_millis() as u64),
        })
    }

    fn check_recorded(&self, recorded: &serde_json::Value) -> Result<(), String> {
        stress_core::adapter::same_shape(recorded, &self.describe(), "adapter_config")?;
        if let Some(d) = recorded.get("driver").and_then(serde_json::Value::as_str)
            && !["wire", "postgres"].contains(&d)
        {
            return Err(format!(
                "adapter_config.driver `{}` is not a driver: wire or postgres",
                d.escape_debug()
            ));
        }
        // PostgreSQL takes statement_timeout as an int of milliseconds.
        match recorded.get("statement_timeout_ms") {
            Some(v) if !v.is_null() && v.as_u64().is_none_or(|ms| ms > i32::MAX as u64) => Err(format!(
                "adapter_config.statement_timeout_ms {v} does not fit: PostgreSQL takes 0 to {} ms",
                i32::MAX
            )),
            _ => Ok(()),
        }
    }

    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), OpError> {
        self.targets.clear();
        self.teardown = ctx.teardown;
        self.seed = ctx.seed;
        match self.mode.clone() {
            Mode::Managed => {
                let mut options = self.options.clone();
                if ctx.faults.contains(&FaultKind::DiskFull) {
                    options.disk_mb = Some(self.disk_limit_mb);
                }
                // The storage faults: the cluster on the fault filesystem (a disk-full fault's
                // size-limited filesystem is another; both at once are refused at start).
                options.faultfs = stress_core::faultfs::wanted(ctx.faults);
                if options.faultfs && options.disk_mb.is_some() {
                    return Err(OpError::msg(
                        "disk-full and the storage faults (power-loss, fsync-error, io-delay) each put the cluster on \
                         a filesystem of their own: give one or the other in a run",
                    ));
                }
                // STRESS_PG_SETTINGS after the workload's own: the environment wins.
                options.settings.extend(settings::from_env().map_err(OpError::msg)?);
                let server = Server::start(&options)?;
                let mut admin = connect(&server.config("postgres"), &server.tls)?;
                for i in 0..ctx.databases {
                    let name = format!("stress_{i}");
                    admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
                    self.targets.push(Target {
                        config: server.config(&name),
                        tls: server.tls.clone(),
                        schema: None,
                    });
                }
                self.server = Some(server);
            }
            Mode::Dsn(dsn) => {
                let (config, tls) = parse_dsn(&dsn).map_err(OpError::msg)?;
                let mut client = connect(&config, &tls)?;
                for i in 0..ctx.databases {
                    let schema = (ctx.databases > 1).then(|| format!("stress_db{i}"));
                    // A shard of a run whose setup step made the schemas reaches them as they are.
                    if let Some(s) = schema.as_ref().filter(|_| ctx.setup) {
                        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE; CREATE SCHEMA {s}"))?;
                    }
                    self.targets.push(Target {
                        config: config.clone(),
                        tls: tls.clone(),
                        schema,
                    });
                }
            }
        }
        Ok(())
    }

    fn connect(&self, db: usize) -> Result<PgConn, OpError> {
        let target = self.targets.get(db).ok_or_else(|| {
            OpError::msg(format!(
                "no PostgreSQL database {db}: the adapter was not started with it"
            ))
        })?;
        let mut setup = Vec::new();
        if let Some(schema) = &target.schema {
            setup.push(format!("SET search_path TO {schema}"));
        }
        if let Some(t) = self.statement_timeout {
            setup.push(format!("SET statement_timeout = {}", t.as_millis()));
        }
        // Through the run's network proxy, the server's certificate still names the server.
        let (config, tls) = match self.proxy {
            Some(proxy) => (
                routed(&target.config, proxy),
                match target.config.get_hosts().first() {
                    Some(postgres::config::Host::Tcp(host)) => target.tls.named(host),
                    _ => target.tls.clone(),
                },
            ),
            None => (target.config.clone(), target.tls.clone()),
        };
        let session = conn::Session {
            config: with_timeout(&config),
            tls,
            setup,
            // The server's statement_timeout fires for a statement that reached it; a network
            // that holds the bytes needs the client's own, a second later.
            answer_timeout: self
                .statement_timeout
                .or_else(|| options_statement_timeout(&target.config))
                .filter(|t| !t.is_zero())
                .map(|t| t + Duration::from_secs(1)),
        };
        PgConn::open(
            session,
            self.effective_driver().map_err(OpError::msg)?,
            self.postmaster_pid(),
        )
    }

    fn metrics_sources(&self) -> Vec<Box<dyn MetricsSource>> {
        let Some(first) = self.targets.first() else {
            return Vec::new();
        };
        let tls = first.tls.clone();
        let (config, databases, own_backends) = match &self.server {
            Some(_) => {
                let mut admin = first.config.clone();
                admin.dbname("postgres");
                let names = (0..self.targets.len()).map(|i| format!("stress_{i}")).collect();
                (admin, names, 0.0)
            }
            None => {
                let name = first.config.get_dbname().unwrap_or("postgres").to_owned();
                (first.config.clone(), vec![name], 1.0)
            }
        };
        vec![Box::new(PgMetrics {
            watched: self.server.as_ref().map(|s| Watched {
                pid: s.pid.clone(),
                restarting: s.restarting.clone(),
                child: s.child.clone(),
                log: s.log.clone(),
            }),
            config,
            tls,
            databases,
            own_backends,
            client: None,
            cpu: Default::default(),
        })]
    }

    /// The managed server's postmaster and its children (the backends of the users'
    /// connections among them); a given server (a DSN) is not this run's to sample.
    fn profiled_pid(&self) -> Option<u32> {
        self.postmaster_pid()
    }

    /// Users stuck in a query were abandoned: the managed server is killed and its cluster
    /// removed now, which also ends their queries (a given server is left alone).
    fn abandon(&self) {
        if let Some(server) = &self.server {
            server.abandon();
        }
    }

    fn stop(&mut self) -> Result<(), OpError> {
        if let Some(mut server) = self.server.take() {
            server.stop();
            return Ok(());
        }
        let schemas: Vec<String> = self
            .targets
            .iter()
            .filter(|_| self.teardown)
            .filter_map(|t| t.schema.clone())
            .collect();
        if let (false, Some(t)) = (schemas.is_empty(), self.targets.first()) {
            let mut client = connect(&t.config, &t.tls)?;
            for s in schemas {
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_timeout_in_the_connection_string_is_read_the_postgresql_way() {
        let t = |dsn: &str| options_statement_timeout(&parse_dsn(dsn).unwrap().0);
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(t("host=h options='-c statement_timeout=1500'"), ms(1500));
        assert_eq!(
            t("host=h options='-cstatement_timeout=2s -c lock_timeout=1s'"),
            ms(2000)
        );
        assert_eq!(t("host=h options='--statement_timeout=1min'"), ms(60_000));
        assert_eq!(t("host=h options='-c lock_timeout=1s'"), None);
        assert_eq!(t("host=h"), None);
        assert_eq!(t("host=h options='-c statement_timeout=soon'"), None);
    }

    #[test]
    fn a_routed_config_goes_to_the_proxy_with_the_rest_unchanged() {
        let c = parse_dsn("host=db.example port=6543 user=u password=pw dbname=d application_name=a connect_timeout=3")
            .unwrap()
            .0;
        let r = routed(&c, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(describe(&r), "127.0.0.1:4000/d");
        assert_eq!((r.get_user(), r.get_password()), (Some("u"), Some(&b"pw"[..])));
        assert_eq!(r.get_application_name(), Some("a"));
        assert_eq!(r.get_connect_timeout(), Some(&Duration::from_secs(3)));
    }

    #[test]
    fn stress_pg_driver_names_a_driver_or_is_refused_with_the_choices() {
        assert_eq!(driver_from(None), Ok(Driver::Wire));
        assert_eq!(driver_from(Some(" ".into())), Ok(Driver::Wire));
        assert_eq!(driver_from(Some("postgres".into())), Ok(Driver::Postgres));
        assert_eq!(driver_from(Some("wire".into())), Ok(Driver::Wire));
        assert_eq!(
            driver_from(Some("libpq".into())),
            Err("STRESS_PG_DRIVER=`libpq` is invalid: use `wire` (the default) or `postgres`".into())
        );
    }
}
