//! A managed `hyperd`: started with a callback connection (hyperd reports its listen address
//! there, and shuts down when it closes), its log in a directory of the run, stopped when the
//! run ends or the value is dropped.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stress_core::OpError;
use stress_core::monitor::last_lines;
use stress_core::sizedfs::Namespaced;

use crate::discover::find_hyperd;

/// How long hyperd may take to report its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long hyperd may take to shut down after its callback connection closes.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// The role new databases belong to; gRPC's default role is mapped to it.
pub(crate) const INIT_USER: &str = "tableau_internal_user";

/// What the server is started with.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) hyperd: Option<PathBuf>,
    /// `--name=value` settings, in the order given (later ones win in hyperd).
    pub(crate) settings: Vec<(String, String)>,
    pub(crate) port: Option<u16>,
    pub(crate) grpc: bool,
    /// The databases on the fault filesystem (for `power-loss`, `fsync-error`, `io-delay`).
    pub(crate) faultfs: bool,
    /// The databases on a size-limited filesystem of this many MiB (for `disk-full`).
    pub(crate) disk_mb: Option<u64>,
}

/// A running hyperd.
#[derive(Debug)]
pub(crate) struct Server {
    /// hyperd (replaced in place when a fault starts it again).
    pub(crate) child: Arc<Mutex<Child>>,
    /// Its pid (a new one after a fault started it again).
    pub(crate) pid: Arc<AtomicU32>,
    /// Set while a fault stops and starts hyperd: its exit is not a crash then.
    pub(crate) restarting: Arc<AtomicBool>,
    /// Where the libpq listener is: `tab.domain://<dir>/domain/.s.PGSQL.7483`, a Unix socket in a
    /// directory only this account can enter (the default), or `127.0.0.1:port` when a port
    /// was asked for.
    pub(crate) endpoint: String,
    /// `unix://<dir>/grpc:0` of the gRPC listener: a Unix socket beside the libpq one, in
    /// the same private directory.
    pub(crate) grpc_url: Option<String>,
    pub(crate) log_dir: PathBuf,
    /// Closing it tells hyperd to shut down.
    callback: Mutex<Option<TcpStream>>,
    /// How hyperd is started, again after a fault.
    recipe: Recipe,
    /// The fault filesystem the databases live on (for the storage faults), dropped after
    /// hyperd stopped.
    pub(crate) faultfs: Option<stress_core::faultfs::FaultFs>,
    /// The size-limited filesystem the databases live on (for `disk-full`), dropped after
    /// hyperd stopped.
    pub(crate) disk: Option<stress_core::sizedfs::SizedFs>,
}

/// hyperd's command line, less its callback address (a new listener each start).
#[derive(Debug)]
struct Recipe {
    hyperd: PathBuf,
    /// `nsenter`'s arguments when hyperd runs in the mount namespace of a filesystem of the
    /// run's own (the databases' home), before hyperd's path.
    enter: Option<Vec<String>>,
    args: Vec<String>,
    log_dir: PathBuf,
}

/// The setting's name as hyperd's command line spells it.
fn flag(name: &str, value: &str) -> String {
    format!("--{}={value}", name.replace('_', "-"))
}

impl Server {
    /// Starts hyperd with its log in `log_dir`; without a port, its libpq listener is a Unix
    /// socket in `socket_dir`, which must be private (0700): hyperd has no password setting,
    /// so the directory's permissions are what keep other local accounts out.
    pub(crate) fn start(opts: &Options, log_dir: &Path, socket_dir: &Path) -> Result<Self, OpError> {
        let hyperd = find_hyperd(opts.hyperd.as_deref())?;
        std::fs::create_dir_all(log_dir)?;
        // gRPC on a Unix socket in the same private directory: hyperd's gRPC takes no
        // credentials ("trusted authentication" only), so, as for libpq, the directory's
        // permissions keep other local accounts out. hyperd's `tcp.grpc` scheme hands its
        // `host:port` to gRPC as the address, and gRPC reads `unix:PATH:0` as a socket at
        // `PATH:0` (hyperd wants a numeric port); the client (tonic) reaches it as `unix://`.
        let grpc_socket = opts.grpc.then(|| socket_dir.join("grpc"));
        let mut listen = match opts.port {
            Some(port) => format!("tab.tcp://127.0.0.1:{port}"),
            // Named as PostgreSQL names its sockets (and hyperd its default one), so that `psql -h
            // <dir> -p 7483` reaches it too.
            None => format!("tab.domain://{}/domain/.s.PGSQL.7483", socket_dir.display()),
        };
        if let Some(g) = &grpc_socket {
            listen.push_str(&format!(",tcp.grpc://[unix:{}]:0", g.display()));
        }
        let mut args = vec![
            // A misspelt or unknown setting fails the start instead of being ignored.
            "--strict-settings-mode".to_owned(),
            format!("--listen-connection={listen}"),
            format!("--init-user={INIT_USER}"),
            format!("--log-dir={}", log_dir.display()),
        ];
        args.extend(
            [
                "--no-password",
                "--skip-license",
                "--language=en_US",
                "--date-style=MDY",
                "--date-style-lenient=false",
                "--log-config=file,json,all,hyperd,0",
            ]
            .map(str::to_owned),
        );
        if opts.grpc {
            args.extend(["--grpc-threads=4".to_owned(), "--grpc-persist-results=true".to_owned()]);
            args.push(flag(
                "grpc_service_roles",
                &format!(r#"{{"default": {{"user": "{INIT_USER}", "authorizations": []}}}}"#),
            ));
        }
        for (k, v) in &opts.settings {
            args.push(flag(k, v));
        }
        // With a storage fault the databases live on a filesystem of the run's own, mounted in
        // a private namespace: hyperd is started inside it (`nsenter`), and sees the files at
        // their paths under its mountpoint.
        let disk = match opts.disk_mb {
            Some(mb) => Some(stress_core::sizedfs::SizedFs::create(mb, None)?),
            None => None,
        };
        let faultfs = if opts.faultfs {
            Some(stress_core::faultfs::FaultFs::create(None)?)
        } else {
            None
        };
        let enter = match (&disk, &faultfs) {
            (Some(d), _) => Some(d.enter_args(None)),
            (None, Some(f)) => Some(f.enter_args(None)),
            (None, None) => None,
        };
        let recipe = Recipe {
            hyperd,
            enter,
            args,
            log_dir: log_dir.to_owned(),
        };
        let (child, callback, endpoint) = recipe.spawn(true)?;
        Ok(Self {
            pid: Arc::new(AtomicU32::new(child.id())),
            child: Arc::new(Mutex::new(child)),
            restarting: Arc::new(AtomicBool::new(false)),
            endpoint,
            grpc_url: grpc_socket.map(|g| format!("unix://{}:0", g.display())),
            log_dir: log_dir.to_owned(),
            callback: Mutex::new(Some(callback)),
            recipe,
            faultfs,
            disk,
        })
    }

    /// The filesystem of the run's own the databases live on, if any.
    pub(crate) fn private_fs(&self) -> Option<&dyn Namespaced> {
        match (&self.disk, &self.faultfs) {
            (Some(d), _) => Some(d),
            (None, Some(f)) => Some(f),
            (None, None) => None,
        }
    }

    /// The path by which this process reaches `path`, a path as hyperd sees it.
    pub(crate) fn outside(&self, path: &Path) -> PathBuf {
        match self.private_fs() {
            Some(fs) => fs.outside(path),
            None => path.to_owned(),
        }
    }

    /// The fault filesystem the databases live on.
    pub(crate) fn faultfs(&self) -> Result<&stress_core::faultfs::FaultFs, OpError> {
        self.faultfs
            .as_ref()
            .ok_or_else(|| OpError::msg("hyperd's databases are not on the fault filesystem"))
    }

    /// hyperd's pid now.
    pub(crate) fn pid(&self) -> u32 {
        self.pid.load(Ordering::SeqCst)
    }

    /// The `kill` fault (`kill`: hyperd's whole tree frozen, then SIGKILL) or the `restart`
    /// fault (its callback connection closed: hyperd shuts down in order), then hyperd started
    /// again on the same listener, log and databases. Returns the new pid once it serves.
    pub(crate) fn go_down_and_start(&self, kill: bool) -> Result<u32, OpError> {
        let down = |pid: u32| {
            if kill {
                stress_core::fault::signal_tree(pid, "STOP")?;
                stress_core::fault::signal_tree(pid, "KILL")?;
            } else {
                drop(self.callback.lock().unwrap_or_else(|e| e.into_inner()).take());
            }
            Ok(())
        };
        self.down_and_start(down, || Ok(())).map(|(pid, ())| pid)
    }

    /// The `corrupt` fault's stop: hyperd shut down in order (its callback connection closed:
    /// it detaches its databases), `damage` done while it is down, hyperd started again.
    pub(crate) fn damaged_and_started<T>(
        &self,
        damage: impl FnOnce() -> Result<T, OpError>,
    ) -> Result<(u32, T), OpError> {
        self.down_and_start(
            |_| {
                drop(self.callback.lock().unwrap_or_else(|e| e.into_inner()).take());
                Ok(())
            },
            damage,
        )
    }

    /// The `power-loss` fault: hyperd's whole tree stopped, every thread of it (SIGSTOP), the power cut
    /// (nothing more reaches the disk), the tree killed, every write not fsynced dropped (with
    /// `torn_seed`, a prefix of the last one kept), and hyperd started again on what is left.
    /// Returns the new pid and what was dropped.
    pub(crate) fn power_loss(&self, torn_seed: Option<u64>) -> Result<(u32, stress_core::faultfs::Dropped), OpError> {
        let fs = self.faultfs()?;
        self.down_and_start(
            |pid| {
                stress_core::fault::halt_tree(pid)?;
                fs.cut()?;
                stress_core::fault::signal_tree(pid, "KILL")
            },
            || fs.restore(torn_seed),
        )
    }

    /// hyperd started again after it exited by itself (a fault made it: a full disk, a failed
    /// fsync). Returns the new pid.
    pub(crate) fn start_again(&self) -> Result<u32, OpError> {
        self.down_and_start(|_| Ok(()), || Ok(())).map(|(pid, ())| pid)
    }

    /// hyperd taken down with `down` (given its pid; a hyperd that already exited is not
    /// taken down), `while_down` done once it has exited, and hyperd started again.
    fn down_and_start<T>(
        &self,
        down: impl FnOnce(u32) -> Result<(), OpError>,
        while_down: impl FnOnce() -> Result<T, OpError>,
    ) -> Result<(u32, T), OpError> {
        self.restarting.store(true, Ordering::SeqCst);
        let result = (|| {
            let pid = self.pid();
            if self.exited().is_none() {
                down(pid)?;
            }
            {
                let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
                let deadline = Instant::now() + STOP_TIMEOUT;
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            let done = while_down()?;
            let (child, callback, endpoint) = self.recipe.spawn(false)?;
            let new_pid = child.id();
            *self.child.lock().unwrap_or_else(|e| e.into_inner()) = child;
            self.pid.store(new_pid, Ordering::SeqCst);
            *self.callback.lock().unwrap_or_else(|e| e.into_inner()) = Some(callback);
            if endpoint != self.endpoint {
                return Err(OpError::msg(format!(
                    "hyperd came back at {endpoint}, not at {}",
                    self.endpoint
                )));
            }
            Ok((new_pid, done))
        })();
        self.restarting.store(false, Ordering::SeqCst);
        result
    }

    /// Where hyperd's log ends now: each log file and its length (what a fault's row quotes is
    /// what came after).
    pub(crate) fn log_marks(&self) -> Vec<(PathBuf, u64)> {
        let mut marks: Vec<(PathBuf, u64)> = log_files(&self.log_dir)
            .into_iter()
            .map(|p| {
                let len = std::fs::metadata(&p).map_or(0, |m| m.len());
                (p, len)
            })
            .collect();
        let stderr = self.log_dir.join("hyperd.stderr");
        marks.push((stderr.clone(), std::fs::metadata(&stderr).map_or(0, |m| m.len())));
        marks
    }

    /// hyperd's error and fatal log lines (and stderr lines) written since `marks`, and the
    /// lines that name a sync or an I/O error, as `k: message`.
    pub(crate) fn said_since(&self, marks: &[(PathBuf, u64)]) -> Vec<String> {
        let mut files = log_files(&self.log_dir);
        files.push(self.log_dir.join("hyperd.stderr"));
        let mut said = Vec::new();
        for f in files {
            let from = marks.iter().find(|(p, _)| *p == f).map_or(0, |(_, n)| *n);
            let text = std::fs::read(&f).unwrap_or_default();
            let text = String::from_utf8_lossy(text.get(from as usize..).unwrap_or_default()).into_owned();
            for line in text.lines() {
                let lower = line.to_ascii_lowercase();
                if line.contains(r#""sev":"error""#)
                    || line.contains(r#""sev":"fatal""#)
                    || lower.contains("fsync")
                    || lower.contains("input/output")
                    || (!line.starts_with('{') && lower.contains("error"))
                {
                    said.push(log_message(line));
                }
            }
        }
        said
    }

    /// hyperd's exit status, once it has exited.
    pub(crate) fn exited(&self) -> Option<ExitStatus> {
        try_wait(&self.child).ok().flatten()
    }

    fn kill(&self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Closes the callback connection (hyperd shuts down in order), then kills what is left.
    /// The filesystem the databases live on, if any, goes after hyperd.
    pub(crate) fn stop(&mut self) {
        if let Some(callback) = self.callback.get_mut().unwrap_or_else(|e| e.into_inner()).take() {
            drop(callback);
            let deadline = Instant::now() + STOP_TIMEOUT;
            while Instant::now() < deadline && matches!(try_wait(&self.child), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if matches!(try_wait(&self.child), Ok(None)) {
            self.kill();
        }
        self.faultfs = None;
        self.disk = None;
    }
}

impl Recipe {
    /// Starts hyperd, waits until it reports its listen address on a callback connection of
    /// its own, and returns it with that connection and the address.
    /// Its stderr goes to `hyperd.stderr` in the log directory: a new file at the `first` start
    /// (what it says is this start's), appended to at a start after a fault.
    fn spawn(&self, first: bool) -> Result<(Child, TcpStream, String), OpError> {
        let callback = TcpListener::bind("127.0.0.1:0")?;
        callback.set_nonblocking(true)?;
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(first)
            .append(!first)
            .open(self.log_dir.join("hyperd.stderr"))?;
        let mut cmd = match &self.enter {
            Some(enter) => {
                let mut c = Command::new("nsenter");
                c.args(enter).arg(&self.hyperd);
                c
            }
            None => Command::new(&self.hyperd),
        };
        let mut child = cmd
            .arg("run")
            .arg(format!("--callback-connection=tab.tcp://{}", callback.local_addr()?))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Our Ctrl-C is for us: hyperd is stopped by `stop`, in order, not by the signal.
            .process_group(0)
            .spawn()
            .map_err(|e| OpError::msg(format!("cannot start hyperd at {}: {e}", self.hyperd.display())))?;
        match await_callback(&mut child, &callback, &self.log_dir) {
            Ok((stream, endpoint)) => Ok((child, stream, endpoint)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }
}

/// Waits for hyperd to connect back and send its listen address (one length byte, then
/// `tab.tcp://host:port` or `tab.domain://…`); fails fast with hyperd's own words if it exits
/// first.
fn await_callback(child: &mut Child, listener: &TcpListener, log_dir: &Path) -> Result<(TcpStream, String), OpError> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(status) = child.try_wait()? {
            return Err(OpError::msg(format!(
                "hyperd failed to start ({status}): {}",
                failure_lines(log_dir)
            )));
        }
        if Instant::now() > deadline {
            return Err(OpError::msg(format!(
                "hyperd did not report its address within {}s; its log says: {}",
                START_TIMEOUT.as_secs(),
                failure_lines(log_dir)
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut len = [0u8; 1];
    stream.read_exact(&mut len)?;
    let mut descriptor = vec![0u8; usize::from(len[0])];
    stream.read_exact(&mut descriptor)?;
    stream.set_read_timeout(None)?;
    let descriptor = String::from_utf8_lossy(&descriptor);
    let descriptor = descriptor.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    let endpoint = if descriptor.starts_with("tab.domain://") {
        // hyperdb-api connects to this form as it is, over the Unix socket.
        Some(descriptor)
    } else {
        descriptor.strip_prefix("tab.tcp://").filter(|e| e.contains(':'))
    };
    let endpoint =
        endpoint.ok_or_else(|| OpError::msg(format!("hyperd reported an address we cannot use: {descriptor}")))?;
    Ok((stream, endpoint.to_owned()))
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        // A start that failed half-way has no callback connection to close.
        if self.endpoint.is_empty() {
            self.kill();
        }
    }
}

/// The child's exit status if it has exited, without waiting (shared with the monitor).
pub(crate) fn try_wait(child: &Mutex<Child>) -> std::io::Result<Option<ExitStatus>> {
    child.lock().unwrap_or_else(|e| e.into_inner()).try_wait()
}

/// hyperd's log files in `dir`, oldest first (`hyperd.log`, or `hyperd_<timestamp>.log` once a
/// size limit rotates them).
pub(crate) fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("hyperd") && n.ends_with(".log"))
        })
        .collect();
    files.sort();
    files
}

/// The messages of hyperd's stderr, else of the error lines of its newest log, else that
/// log's last lines.
pub(crate) fn failure_lines(dir: &Path) -> String {
    let stderr = std::fs::read_to_string(dir.join("hyperd.stderr")).unwrap_or_default();
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("Error") || l.contains("error"))
        .collect();
    if !errors.is_empty() {
        return errors.join(" | ");
    }
    let log = log_files(dir)
        .last()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let bad: Vec<String> = log
        .lines()
        .filter(|l| l.contains(r#""sev":"error""#) || l.contains(r#""sev":"fatal""#))
        .map(log_message)
        .collect();
    if !bad.is_empty() {
        return bad[bad.len().saturating_sub(3)..].join(" | ");
    }
    let text = if stderr.trim().is_empty() { log } else { stderr };
    let lines: Vec<String> = text.lines().map(log_message).collect();
    match last_lines(&lines.join("\n"), 3) {
        s if s.is_empty() => format!("(no output; see {})", dir.display()),
        s => s,
    }
}

/// `k: message` of a JSON log line, or the line itself.
pub(crate) fn log_message(line: &str) -> String {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_owned();
    };
    let k = v["k"].as_str().unwrap_or("?");
    let msg = v["v"]["msg"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v["v"].to_string());
    format!("{k}: {msg}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_lines_prefer_stderr_errors_then_fatal_log_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("hyperd_2026_01_01_00_00_00.log"),
            concat!(
                r#"{"sev":"info","k":"startup","v":{}}"#,
                "\n",
                r#"{"sev":"fatal","k":"startup-settings-invalid","v":{"msg":"bad memory_limit"}}"#,
                "\n"
            ),
        )
        .unwrap();
        assert_eq!(failure_lines(dir.path()), "startup-settings-invalid: bad memory_limit");
        std::fs::write(
            dir.path().join("hyperd.stderr"),
            "LogFile: x\nError. Could not interpret 'x'\n",
        )
        .unwrap();
        assert_eq!(failure_lines(dir.path()), "Error. Could not interpret 'x'");
    }

    #[test]
    fn rotated_logs_sort_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "hyperd_2026_01_01_00_00_09.log",
            "hyperd_2026_01_01_00_00_10.log",
            "other.log",
        ] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let names: Vec<String> = log_files(dir.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            ["hyperd_2026_01_01_00_00_09.log", "hyperd_2026_01_01_00_00_10.log"]
        );
    }
}
