//! A throwaway PostgreSQL server: `initdb` into a temporary directory, `postgres` on a free
//! loopback port with its socket in that directory and trust authentication, stopped (fast
//! shutdown, then kill) when the run ends or the value is dropped.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stress_core::OpError;
use stress_core::lifeline::Lifeline;

use crate::tls::Tls;
pub(crate) use stress_core::monitor::last_lines;
use stress_core::sizedfs::Namespaced;

/// How long the server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fast shutdown may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Finds the directory holding `initdb` and `postgres`: `$PG_BINDIR`, then `PATH`, then
/// `pg_config --bindir`, then the newest `/usr/lib/postgresql/<version>/bin`.
pub(crate) fn find_bindir(given: Option<&Path>) -> Result<PathBuf, OpError> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Some(d) = given {
        return if has_both(d) {
            Ok(d.to_owned())
        } else {
            Err(OpError::msg(format!(
                "{} holds no initdb and postgres: give PostgreSQL's bin directory",
                d.display()
            )))
        };
    }
    if let Some(d) = std::env::var_os("PG_BINDIR").map(PathBuf::from) {
        return if has_both(&d) {
            Ok(d)
        } else {
            Err(OpError::msg(format!(
                "PG_BINDIR={} holds no initdb and postgres: point it at PostgreSQL's bin directory",
                d.display()
            )))
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if has_both(&d) {
                // A symlink farm (/usr/local/bin) may hold initdb without its share files:
                // use the directory the binary really lives in.
                let real = d.join("postgres").canonicalize().ok();
                return Ok(real.and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or(d));
            }
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_both(&d) {
            return Ok(d);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_both(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d).ok_or_else(|| {
        OpError::msg(
            "PostgreSQL server binaries not found (no initdb/postgres on PATH, via pg_config or in \
             /usr/lib/postgresql/*/bin): install them (apt-get install postgresql) or set PG_BINDIR",
        )
    })
}

/// The uid and gid to run the server as: ours, unless we are root (PostgreSQL refuses root),
/// then the `postgres` account's.
fn run_as() -> Result<Option<(u32, u32)>, OpError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1)?.parse::<u32>().ok());
    if euid != Some(0) {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"postgres"))
        .and_then(|f| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))
        .map(Some)
        .ok_or_else(|| {
            OpError::msg(
                "PostgreSQL refuses to run as root and there is no `postgres` account to run it as: \
                 create one (useradd --system postgres) or run as an unprivileged user",
            )
        })
}

/// A password for one run, from the operating system's randomness: 32 letters and digits.
fn random_password() -> String {
    use stress_core::rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = stress_core::rand::rng();
    (0..32)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A port nobody listens on right now.
pub(crate) fn free_port() -> Result<u16, OpError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// How to start a managed server.
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub(crate) port: Option<u16>,
    pub(crate) settings: Vec<(String, String)>,
    pub(crate) password: Option<String>,
    pub(crate) bindir: Option<PathBuf>,
    pub(crate) parent: Option<PathBuf>,
    /// Listen on 127.0.0.1 too (with a password), not only on the private socket.
    pub(crate) tcp: bool,
    /// TLS on 127.0.0.1 (implies `tcp`), with a certificate made for the run; TCP connections
    /// without it are refused (`hostssl` only).
    pub(crate) tls: bool,
    /// The cluster's data on a size-limited filesystem of this many MiB (for `disk-full`).
    pub(crate) disk_mb: Option<u64>,
    /// The cluster's data on the fault filesystem (for `power-loss`, `fsync-error`, `io-delay`).
    pub(crate) faultfs: bool,
}

/// A running managed server.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) port: u16,
    pub(crate) tcp: bool,
    /// How the run's clients reach it: verify-full against the run's own CA with TLS on,
    /// else no TLS.
    pub(crate) tls: Tls,
    /// Stops the server and removes the cluster if this process dies without doing it.
    lifeline: Mutex<Option<Lifeline>>,
    pub(crate) password: Option<String>,
    pub(crate) dir: Option<tempfile::TempDir>,
    /// The postmaster (replaced in place when a fault starts the server again).
    pub(crate) child: Arc<Mutex<Child>>,
    pub(crate) log: PathBuf,
    /// The postmaster's pid (a new one after a restart).
    pub(crate) pid: Arc<AtomicU32>,
    /// Set while a fault stops and starts the server: its exit is not a crash then.
    pub(crate) restarting: Arc<AtomicBool>,
    /// How the postmaster is started, again after a fault.
    recipe: Recipe,
    /// The data directory, as this process reaches it.
    data: PathBuf,
    /// The size-limited filesystem the data lives on (for `disk-full`), dropped after the
    /// server stopped.
    pub(crate) disk: Option<stress_core::sizedfs::SizedFs>,
    /// The fault filesystem the data lives on (for the storage faults), dropped after the
    /// server stopped.
    pub(crate) faultfs: Option<stress_core::faultfs::FaultFs>,
}

/// The postmaster's command line and account, to start it again on the same cluster.
#[derive(Debug, Clone)]
struct Recipe {
    program: PathBuf,
    args: Vec<std::ffi::OsString>,
    user: Option<(u32, u32)>,
}

impl Recipe {
    fn spawn(&self, log: &Path) -> Result<Child, OpError> {
        let logfile = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(logfile.try_clone()?)
            .stderr(logfile)
            .env("LC_ALL", "C")
            // Our Ctrl-C is for us: the server is stopped by `stop`, in order, not by the signal.
            .process_group(0);
        if let Some((uid, gid)) = self.user {
            cmd.uid(uid).gid(gid);
        }
        cmd.spawn()
            .map_err(|e| OpError::msg(format!("cannot run {}: {e}", self.program.display())))
    }
}

/// A fast shutdown: SIGINT to the postmaster alone (it tells its backends; a signal to them
/// would cancel queries).
fn fast_shutdown(pid: u32) -> Result<(), OpError> {
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .map(drop)
        .map_err(|e| OpError::msg(format!("cannot run kill: {e}")))
}

/// Creates the cluster in `data` with `initdb`, as the server's account (`user`), inside the
/// namespace of the run's own filesystem (`private`) when there is one; with `password`, host
/// connections need it (its file in `dir` is gone when this returns). On the fault filesystem
/// (`faultfs`) the new cluster is synced once made.
fn init_cluster(
    bindir: &Path,
    data: &Path,
    dir: &Path,
    (private, faultfs): (Option<&dyn Namespaced>, Option<&stress_core::faultfs::FaultFs>),
    user: Option<(u32, u32)>,
    password: Option<&str>,
) -> Result<(), OpError> {
    let as_user = |cmd: &mut Command| {
        if let Some((uid, gid)) = user {
            cmd.uid(uid).gid(gid);
        }
    };
    let mut initdb = match private {
        Some(fs) => fs.command(&bindir.join("initdb"), user),
        None => {
            let mut c = Command::new(bindir.join("initdb"));
            as_user(&mut c);
            c
        }
    };
    initdb
        .arg("-D")
        .arg(data)
        .args([
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
            "--auth-local=trust",
        ])
        .env("LC_ALL", "C");
    match password {
        Some(pw) => {
            let pwfile = dir.join("pwfile");
            std::fs::write(&pwfile, pw)?;
            if let Some((uid, gid)) = user {
                std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid))?;
            }
            initdb
                .arg("--auth-host=scram-sha-256")
                .arg(format!("--pwfile={}", pwfile.display()));
        }
        None => {
            initdb.arg("--auth-host=trust");
        }
    }
    let out = initdb
        .output()
        .map_err(|e| OpError::msg(format!("cannot run {}: {e}", bindir.join("initdb").display())))?;
    // The password is in the server's catalog now: no copy of it stays on disk.
    let _ = std::fs::remove_file(dir.join("pwfile"));
    if let (true, Some(fs)) = (out.status.success(), faultfs) {
        // `initdb --no-sync` left the new cluster unsynced: it is durable from here, as
        // after a `sync`, so that a power cut takes only what the server wrote.
        fs.sync_all()?;
    }
    if !out.status.success() {
        return Err(OpError::msg(format!(
            "initdb failed: {}",
            last_lines(&String::from_utf8_lossy(&out.stderr), 5)
        )));
    }
    Ok(())
}

/// The postmaster's arguments: its data, port and socket directory, where it listens (over
/// `tcp` or not), TLS, and the settings given (after ours, so that they win).
fn postmaster_args(o: &Options, data: &Path, port: u16, dir: &Path, tcp: bool) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "-D".into(),
        data.into(),
        "-p".into(),
        port.to_string().into(),
        // The socket goes in the cluster's own directory, which only the server's account
        // (and root) can enter: no other local account reaches it.
        "-k".into(),
        dir.into(),
        "-c".into(),
        if tcp {
            "listen_addresses=127.0.0.1"
        } else {
            "listen_addresses="
        }
        .into(),
        // Dynamic shared memory in the cluster's own directory (pg_dynshmem), not in
        // /dev/shm: a server that is killed (a crash, a killed harness) cannot remove its
        // segments, and these go with the cluster. (A setting given goes after, and wins.)
        "-c".into(),
        "dynamic_shared_memory_type=mmap".into(),
    ];
    if o.tls {
        for setting in [
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", dir.join("server.crt").display()),
            format!("ssl_key_file={}", dir.join("server.key").display()),
        ] {
            args.push("-c".into());
            args.push(setting.into());
        }
    }
    if o.faultfs {
        // After a crash PostgreSQL fsyncs every file of the cluster before its recovery:
        // through FUSE, one round trip after another, seconds on a busy machine. After a
        // power loss of the fault filesystem nothing unsynced is left to sync, so one
        // syncfs() does (a setting given goes after, and wins).
        args.extend(["-c".into(), "recovery_init_sync_method=syncfs".into()]);
    }
    for (k, v) in &o.settings {
        args.push("-c".into());
        args.push(format!("{k}={v}").into());
    }
    args
}

impl Server {
    /// Starts a server with the given `-c name=value` settings.
    pub(crate) fn start(o: &Options) -> Result<Self, OpError> {
        let bindir = find_bindir(o.bindir.as_deref())?;
        let tcp = o.tcp || o.tls;
        // Over TCP any local account can reach the port: never without a password there.
        let password = match (&o.password, tcp) {
            (Some(pw), _) => Some(pw.clone()),
            (None, true) => Some(random_password()),
            (None, false) => None,
        };
        let user = run_as()?;
        let mut builder = tempfile::Builder::new();
        builder.prefix("stress-pg-");
        let dir = match &o.parent {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .map_err(|e| OpError::msg(format!("cannot create a temporary directory for PostgreSQL: {e}")))?;
        // Private: the server's socket is in it, and only the server's account (and root)
        // may reach it.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .map_err(|e| OpError::msg(format!("cannot make {} private: {e}", dir.path().display())))?;
        // With a disk-full fault, the data lives on a size-limited filesystem that only the
        // processes started in its mount namespace see at `data`.
        let disk = match o.disk_mb {
            Some(mb) => Some(stress_core::sizedfs::SizedFs::create(mb, user)?),
            None => None,
        };
        let faultfs = if o.faultfs {
            Some(stress_core::faultfs::FaultFs::create(user)?)
        } else {
            None
        };
        // The filesystem of the run's own the data lives on, if any: processes that must see
        // it at its path are started in its namespace.
        let private: Option<&dyn Namespaced> = match (&disk, &faultfs) {
            (Some(d), _) => Some(d),
            (None, Some(f)) => Some(f),
            (None, None) => None,
        };
        let data = match private {
            Some(fs) => fs.mountpoint().join("data"),
            None => dir.path().join("data"),
        };
        let log = dir.path().join("postgres.log");
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).map_err(|e| {
                OpError::msg(format!(
                    "cannot hand {} to the postgres account: {e}",
                    dir.path().display()
                ))
            })?;
        }
        init_cluster(
            &bindir,
            &data,
            dir.path(),
            (private, faultfs.as_ref()),
            user,
            password.as_deref(),
        )?;
        let port = match o.port {
            Some(p) => p,
            None => free_port()?,
        };
        let tls = if o.tls {
            let data = match &disk {
                Some(fs) => fs.outside(&data),
                None => data.clone(),
            };
            certify(dir.path(), &data, user)?
        } else {
            Tls::disabled()
        };
        std::fs::File::create(&log)?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&log, Some(uid), Some(gid))?;
        }
        let args = postmaster_args(o, &data, port, dir.path(), tcp);
        let recipe = match private {
            // Started inside the filesystem's namespace, as the server's account.
            Some(fs) => Recipe {
                program: PathBuf::from("nsenter"),
                args: fs
                    .enter_args(user)
                    .into_iter()
                    .map(Into::into)
                    .chain(std::iter::once(bindir.join("postgres").into_os_string()))
                    .chain(args)
                    .collect(),
                user: None,
            },
            None => Recipe {
                program: bindir.join("postgres"),
                args,
                user,
            },
        };
        let data_outside = match private {
            Some(fs) => fs.outside(&data),
            None => data.clone(),
        };
        let child = recipe.spawn(&log)?;
        let pid = child.id();
        // From here, whatever kills us (SIGKILL included) stops the server and removes its
        // cluster: the server's process group is its pid.
        let lifeline = Lifeline::guard(Some(pid), Some(dir.path()), STOP_TIMEOUT);
        let mut server = Self {
            password,
            tcp,
            tls,
            lifeline: Mutex::new(None),
            port,
            dir: Some(dir),
            child: Arc::new(Mutex::new(child)),
            log,
            pid: Arc::new(AtomicU32::new(pid)),
            restarting: Arc::new(AtomicBool::new(false)),
            recipe,
            data: data_outside,
            disk,
            faultfs,
        };
        match lifeline {
            Ok(l) => *server.lifeline.get_mut().unwrap_or_else(|e| e.into_inner()) = Some(l),
            Err(e) => {
                server.stop();
                return Err(OpError::msg(format!(
                    "cannot start the watchdog that stops the server if this process dies: {e}"
                )));
            }
        }
        if let Err(e) = server.wait_ready() {
            server.stop();
            return Err(e);
        }
        Ok(server)
    }

    fn wait_ready(&self) -> Result<(), OpError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.exited() {
                return Err(OpError::msg(format!(
                    "postgres exited during startup ({status}): {}",
                    self.log_tail(5)
                )));
            }
            // Through the socket in our own cluster directory: a TCP connection could reach
            // whatever else holds the port (and hang on a listener that never answers).
            let mut config = postgres::Config::new();
            config
                .host_path(self.dir.as_ref().map_or(Path::new("/nonexistent"), |d| d.path()))
                .port(self.port)
                .user("postgres")
                .dbname("postgres")
                .connect_timeout(Duration::from_secs(2));
            match config.connect(postgres::NoTls) {
                Ok(_) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(OpError::msg(format!(
                        "postgres did not accept connections within {}s ({}): {}",
                        READY_TIMEOUT.as_secs(),
                        OpError::from(e),
                        self.log_tail(5)
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// A client config for one of the server's databases, as the `postgres` superuser: over
    /// the private socket, or over TCP with the run's password when the server listens there.
    pub(crate) fn config(&self, dbname: &str) -> postgres::Config {
        let mut c = postgres::Config::new();
        if self.tcp {
            c.host("127.0.0.1");
        } else {
            c.host_path(self.dir.as_ref().map_or(Path::new("/nonexistent"), |d| d.path()));
        }
        c.port(self.port).user("postgres").dbname(dbname);
        if let Some(pw) = &self.password {
            c.password(pw);
        }
        c
    }

    /// The exit status, if the server has exited.
    pub(crate) fn exited(&self) -> Option<std::process::ExitStatus> {
        self.child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_wait()
            .ok()
            .flatten()
    }

    /// The last `n` lines of the server's log, joined with ` | `.
    pub(crate) fn log_tail(&self, n: usize) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        last_lines(&text, n)
    }

    /// The postmaster's pid now.
    pub(crate) fn pid(&self) -> u32 {
        self.pid.load(Ordering::SeqCst)
    }

    /// The `kill` fault: every process of the server at once — frozen first, so that none
    /// (the WAL writer, say) gets to do anything after the others died — then SIGKILL, and the
    /// server started again on the same cluster. Returns when it accepts connections again.
    pub(crate) fn kill_and_start(&self) -> Result<(), OpError> {
        self.go_down_and_start(
            false,
            |pid| {
                stress_core::fault::signal_tree(pid, "STOP")?;
                stress_core::fault::signal_tree(pid, "KILL")
            },
            |_| Ok(()),
        )
    }

    /// The `restart` fault: a fast shutdown (SIGINT), then the server started again.
    pub(crate) fn restart(&self) -> Result<(), OpError> {
        self.go_down_and_start(false, fast_shutdown, |_| Ok(()))
    }

    /// The `corrupt` fault: a fast shutdown, `damage` done to the cluster's data directory while
    /// the server is down, then the server started again. Returns what `damage` said.
    pub(crate) fn damaged_and_started(
        &self,
        damage: impl FnOnce(&Path) -> Result<String, OpError>,
    ) -> Result<String, OpError> {
        let data = self.data.clone();
        self.go_down_and_start(false, fast_shutdown, |_| damage(&data))
    }

    /// Takes the server down with `down` (refused if it is not running, unless `dead_ok`),
    /// does `while_down`, and starts it again on the same cluster.
    fn go_down_and_start<T>(
        &self,
        dead_ok: bool,
        down: impl FnOnce(u32) -> Result<(), OpError>,
        while_down: impl FnOnce(u32) -> Result<T, OpError>,
    ) -> Result<T, OpError> {
        self.restarting.store(true, Ordering::SeqCst);
        let result = (|| {
            let pid = self.pid();
            // The whole tree, taken before the postmaster dies: its orphaned backends are no
            // longer its children after, and a new postmaster must wait until they are gone
            // (or it finds their shared memory still in use and refuses to start).
            let tree = stress_core::monitor::tree_of(pid);
            {
                let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
                if child.try_wait().ok().flatten().is_some() {
                    if !dead_ok {
                        return Err(OpError::msg(format!("postgres (pid {pid}) is not running")));
                    }
                } else {
                    down(pid)?;
                }
                exit_or_kill(&mut child);
            }
            // Its backends go with it (killed, or told by the postmaster).
            let deadline = Instant::now() + STOP_TIMEOUT;
            while tree.iter().any(|p| *p != pid && alive(*p)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let done = while_down(pid);
            let child = self.recipe.spawn(&self.log)?;
            let new_pid = child.id();
            // The new postmaster is guarded before the old guard lets go of the cluster.
            let guard = Lifeline::guard(Some(new_pid), self.dir.as_ref().map(|d| d.path()), STOP_TIMEOUT)
                .map_err(|e| OpError::msg(format!("cannot start the watchdog: {e}")))?;
            *self.child.lock().unwrap_or_else(|e| e.into_inner()) = child;
            self.pid.store(new_pid, Ordering::SeqCst);
            if let Some(old) = self.lifeline.lock().unwrap_or_else(|e| e.into_inner()).replace(guard) {
                old.release();
            }
            self.wait_ready()?;
            done
        })();
        self.restarting.store(false, Ordering::SeqCst);
        result
    }

    /// Kills the server's process group and removes the cluster, through a shared reference:
    /// for a run that abandoned users stuck in a query.
    pub(crate) fn abandon(&self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.pid())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.lock().unwrap_or_else(|e| e.into_inner()).wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir.path());
        }
    }

    /// Fast shutdown (SIGINT), then SIGKILL after a timeout; removes the cluster. Idempotent.
    pub(crate) fn stop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        if child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill").args(["-INT", &self.pid().to_string()]).status();
            exit_or_kill(&mut child);
        }
        drop(child);
        // The server is down: its watchdog finds nothing to do and exits.
        self.lifeline.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        // Backends left behind by a killed postmaster exit on their own when they notice;
        // the cluster's files go now (on a filesystem of its own, with it).
        let _ = dir.close();
        self.disk = None;
        self.faultfs = None;
    }

    /// The fault filesystem the cluster lives on.
    fn faultfs(&self) -> Result<&stress_core::faultfs::FaultFs, OpError> {
        self.faultfs
            .as_ref()
            .ok_or_else(|| OpError::msg("the cluster is not on the fault filesystem"))
    }

    /// The `power-loss` fault: the server's whole tree stopped, every thread of it (SIGSTOP), the
    /// power cut (nothing more reaches the disk), the tree killed, every write not fsynced dropped
    /// (with `torn_seed`, a prefix of the last one kept), and the server started again on
    /// what is left: its crash recovery is the check. Returns what was dropped.
    pub(crate) fn power_loss(&self, torn_seed: Option<u64>) -> Result<stress_core::faultfs::Dropped, OpError> {
        let fs = self.faultfs()?;
        self.go_down_and_start(
            false,
            |pid| {
                stress_core::fault::halt_tree(pid)?;
                fs.cut()?;
                let tree = stress_core::monitor::tree_of(pid);
                stress_core::fault::signal_tree(pid, "KILL")?;
                // Every process of the old tree gone before a new postmaster starts: one still
                // dying holds the old shared memory, and the new one refuses to start.
                let until = Instant::now() + STOP_TIMEOUT;
                while tree.iter().any(|p| *p != pid && alive(*p)) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Ok(())
            },
            |_| fs.restore(torn_seed),
        )
    }

    /// The `fsync-error` fault: the next fsync of a file of the cluster fails with EIO (its
    /// unsynced writes dropped, as Linux does); waits (until the run is `stopping`, a minute at
    /// most) for it to strike, then for the server to serve again (it PANICs and recovers, or
    /// carries on). Returns the file and the bytes dropped (`None`: no fsync came), what the
    /// server's log said of it, and how long it took to serve again.
    pub(crate) fn fsync_error(
        &self,
        stopping: &dyn Fn() -> bool,
        mut serves: impl FnMut() -> bool,
    ) -> Result<(FailedFsync, String, Option<Duration>), OpError> {
        let fs = self.faultfs()?;
        let logged_before = std::fs::metadata(&self.log).map_or(0, |m| m.len());
        // A PANIC and the crash restart that follows are the fault's, not a crash of the run.
        self.restarting.store(true, Ordering::SeqCst);
        let result = (|| {
            fs.fail_next_fsync()?;
            let until = Instant::now() + Duration::from_secs(60);
            let mut struck = None;
            while struck.is_none() && !stopping() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
                struck = fs.fsync_failed()?;
            }
            if struck.is_none() {
                struck = fs.fsync_failed()?;
            }
            let t0 = Instant::now();
            let mut back = None;
            while struck.is_some() && t0.elapsed() < Duration::from_secs(60) {
                if serves() {
                    back = Some(t0.elapsed());
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let log = std::fs::read(&self.log).unwrap_or_default();
            let said = String::from_utf8_lossy(log.get(logged_before as usize..).unwrap_or_default())
                .lines()
                .find(|l| l.contains("PANIC") || l.contains("could not fsync") || l.contains("fsync"))
                .map_or_else(|| "the server logged nothing of it".to_owned(), |l| l.trim().to_owned());
            Ok((struck, said, back))
        })();
        self.restarting.store(false, Ordering::SeqCst);
        result
    }

    /// The `disk-full` fault: the data's filesystem filled for `hold` (cut short when the run
    /// is `stopping`), then freed; returns the bytes it took and how long after the space came
    /// back the server took a query again. A server that exited meanwhile (it may, when it
    /// cannot write its WAL) is started again, and that is said.
    pub(crate) fn disk_full(
        &self,
        hold: Duration,
        stopping: &dyn Fn() -> bool,
        mut serves: impl FnMut() -> bool,
    ) -> Result<(u64, Option<Duration>, bool), OpError> {
        let disk = self
            .disk
            .as_ref()
            .ok_or_else(|| OpError::msg("the cluster is not on a size-limited filesystem"))?;
        // Its exit meanwhile is the fault's, not a crash.
        self.restarting.store(true, Ordering::SeqCst);
        let result = (|| {
            // A server that exited will not serve again by itself: stop waiting for it, and
            // start it again below.
            let (taken, mut back) = disk.hold_full(hold, stopping, || self.exited().is_some() || serves())?;
            let exited = self.exited().is_some();
            if exited {
                let t0 = Instant::now();
                self.go_down_and_start(true, |_| Ok(()), |_| Ok(()))?;
                back = Some(t0.elapsed());
            }
            Ok((taken, back, exited))
        })();
        self.restarting.store(false, Ordering::SeqCst);
        result
    }
}

/// TLS for the server in `dir`: a certificate authority made for this run (its key never
/// written), a server certificate it signs for `localhost` and 127.0.0.1 (`server.crt`,
/// `server.key` in the private directory, the key readable by the server's account alone), and
/// `pg_hba.conf`'s TCP lines made `hostssl`: a connection without TLS finds no line and is
/// refused. Returns how the run's clients connect: verify-full against that authority.
fn certify(dir: &Path, data: &Path, user: Option<(u32, u32)>) -> Result<Tls, OpError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let made = |e: rcgen::Error| OpError::msg(format!("cannot make the run's TLS certificate: {e}"));
    let ca_key = KeyPair::generate().map_err(made)?;
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name.push(DnType::CommonName, "cargo-stress run CA");
    let ca_cert = ca.self_signed(&ca_key).map_err(made)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().map_err(made)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).map_err(made)?;
    params.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).map_err(made)?;
    let write = |name: &str, text: String, mode: u32| -> Result<(), OpError> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        if let Some((uid, gid)) = user {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))?;
        }
        Ok(())
    };
    write("server.crt", cert.pem(), 0o644)?;
    write("server.key", key.serialize_pem(), 0o600)?;
    let hba = data.join("pg_hba.conf");
    let lines =
        std::fs::read_to_string(&hba).map_err(|e| OpError::msg(format!("cannot read {}: {e}", hba.display())))?;
    let ssl_only: String = lines
        .lines()
        .map(|l| match l.strip_prefix("host ") {
            Some(rest) => format!("hostssl {rest}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    std::fs::write(&hba, ssl_only).map_err(|e| OpError::msg(format!("cannot write {}: {e}", hba.display())))?;
    Tls::verify_full_with(ca_cert.der().clone()).map_err(OpError::msg)
}

/// Whether `pid` is a live process (a zombie is not).
fn alive(pid: u32) -> bool {
    stress_core::monitor::state_of(pid).is_some_and(|s| s != 'Z')
}

/// The file whose fsync failed and the bytes dropped (`None`: no fsync came).
type FailedFsync = Option<(String, u64)>;

/// Waits for the postmaster to exit, told to; SIGKILL after [`STOP_TIMEOUT`].
fn exit_or_kill(child: &mut Child) {
    let deadline = Instant::now() + STOP_TIMEOUT;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}
