//! A filesystem of the run's own for the storage faults (`power-loss`, `power-loss:torn`,
//! `fsync-error`, `io-delay`): a FUSE filesystem that passes every operation through to a
//! backing directory and knows at every moment what a power cut would lose — every byte
//! written to a file since that file's last `fsync` (see [`model`]).
//!
//! Like the disk-full filesystem ([`crate::sizedfs`]) it is mounted in a private mount
//! namespace, held by a process of its own: here that process *is* the filesystem (the
//! harness's executable started again with [`SERVE_VAR`], served through
//! [`crate::serve_engine_host`]). Nothing outside the run sees the mount; when that process
//! ends — stopped at the end of the run, or by its watchdog whatever kills the run — the
//! namespace goes and the mount with it, and the watchdog removes the backing directory.
//!
//! What it models is the kernel's page cache: a write is in it until an `fsync` (or
//! `fdatasync`) of its file. It does not model the drive's own volatile cache, nor reordering
//! within a file's unsynced writes (a power cut drops them all, or with `torn` keeps a prefix
//! of the last); directory changes (create, rename, unlink) are kept at once, as a journaling
//! filesystem that commits its metadata before it answers would.

mod model;
mod serve;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::lifeline::Lifeline;
use crate::outcome::OpError;
use crate::sizedfs::FUSE_FIX as FIX;
use crate::sizedfs::Namespaced;

/// The variable that makes a harness process serve as the fault filesystem: its
/// [`ServeConfig`] as JSON.
pub const SERVE_VAR: &str = "STRESS_FAULTFS";

inventory::submit! {
    crate::host::EngineHost { var: SERVE_VAR, serve: serve::serve }
}

/// Whether this machine can make a fault filesystem: `Err` names what is missing and the fix.
pub fn can_create() -> Result<(), String> {
    crate::sizedfs::can_create_fuse()
}

#[derive(Debug, Serialize, Deserialize)]
struct ServeConfig {
    backing: PathBuf,
    mountpoint: PathBuf,
    socket: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
enum Request {
    Ping,
    /// What a power cut would drop now.
    Pending,
    /// Everything written so far is durable (a `sync` of the whole filesystem).
    SyncAll,
    /// The power goes: every operation fails from now on.
    Cut,
    /// The power comes back, without what was not synced.
    Restore {
        torn_seed: Option<u64>,
    },
    FailNextFsync,
    /// Whether the armed `fsync` failure struck (and disarms it if not).
    FsyncFailed,
    Delay {
        us: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Done,
    Dropped {
        bytes: u64,
        files: u64,
        torn: Option<(String, u64, u64)>,
    },
    FsyncFailed(Option<(String, u64)>),
    Failed(String),
}

/// What a power cut dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// Bytes written since their file's last `fsync` (every write counted).
    pub bytes: u64,
    /// Files that had such writes.
    pub files: u64,
    /// With `torn`: the file whose last write was torn, the bytes of it kept, and its length.
    pub torn: Option<(String, u64, u64)>,
}

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dropped {} unsynced bytes in {} files", self.bytes, self.files)?;
        if let Some((path, kept, of)) = &self.torn {
            write!(f, "; tore the last write to {path}: kept {kept} of its {of} bytes")?;
        }
        Ok(())
    }
}

/// The fault filesystem, mounted in a private mount namespace.
#[derive(Debug)]
pub struct FaultFs {
    server: Child,
    /// Closing it stops the filesystem's process.
    stdin: Option<ChildStdin>,
    lifeline: Option<Lifeline>,
    /// Holds the backing directory, the mountpoint and the socket; removed at the end.
    dir: Option<tempfile::TempDir>,
    mountpoint: PathBuf,
    socket: PathBuf,
}

/// How long the filesystem may take to serve after it started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

impl FaultFs {
    /// Mounts a fault filesystem over an empty backing directory owned by `owner` (uid, gid) if
    /// given (a server's account), in a new private mount namespace.
    pub fn create(owner: Option<(u32, u32)>) -> Result<Self, OpError> {
        let dir = tempfile::Builder::new()
            .prefix("stress-faultfs-")
            .tempdir()
            .map_err(|e| OpError::msg(format!("cannot create a directory for the fault filesystem: {e}")))?;
        let backing = dir.path().join("backing");
        let mountpoint = dir.path().join("mnt");
        let socket = dir.path().join("control.sock");
        for d in [&backing, &mountpoint] {
            std::fs::create_dir(d)
                .map_err(|e| OpError::msg(format!("cannot create {} for the fault filesystem: {e}", d.display())))?;
        }
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&backing, Some(uid), Some(gid)).map_err(|e| {
                OpError::msg(format!(
                    "cannot hand {} to the server's account: {e}",
                    backing.display()
                ))
            })?;
            std::fs::set_permissions(&backing, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        }
        let exe = std::env::current_exe().map_err(|e| {
            OpError::msg(format!(
                "cannot find the harness's executable to serve the fault filesystem: {e}"
            ))
        })?;
        let config = serde_json::to_string(&ServeConfig {
            backing,
            mountpoint: mountpoint.clone(),
            socket: socket.clone(),
        })
        .map_err(|e| OpError::msg(e.to_string()))?;
        let mut server = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--"])
            .arg(&exe)
            .args(crate::host::HOST_ARGS)
            .env(SERVE_VAR, config)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Not in our process group: a Ctrl-C to the run stops the engine first, then us.
            .process_group(0)
            .spawn()
            .map_err(|e| OpError::msg(format!("cannot run unshare to mount the fault filesystem ({e}): {FIX}")))?;
        let stdin = server.stdin.take();
        let lifeline = Lifeline::guard(Some(server.id()), Some(dir.path()), Duration::from_secs(1))
            .map_err(|e| OpError::msg(format!("cannot start the watchdog of the fault filesystem: {e}")));
        let mut fs = Self {
            server,
            stdin,
            lifeline: None,
            dir: Some(dir),
            mountpoint,
            socket,
        };
        fs.lifeline = Some(lifeline?);
        let until = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = fs.server.try_wait() {
                let mut said = String::new();
                if let Some(mut err) = fs.server.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut err, &mut said);
                }
                let said = said
                    .lines()
                    .rfind(|l| l.contains("error"))
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                return Err(OpError::msg(format!(
                    "the fault filesystem exited at start ({status}{}{said}): {FIX}; a harness with a main of its \
                     own must call stress_core::serve_engine_host() first thing",
                    if said.is_empty() { "" } else { ": " }
                )));
            }
            if matches!(fs.ask(&Request::Ping), Ok(Reply::Done)) {
                return Ok(fs);
            }
            if Instant::now() >= until {
                return Err(OpError::msg(format!(
                    "the fault filesystem did not serve within {} s",
                    READY_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn ask(&self, req: &Request) -> Result<Reply, OpError> {
        let talk = || -> std::io::Result<Reply> {
            let mut s = UnixStream::connect(&self.socket)?;
            s.set_read_timeout(Some(Duration::from_secs(120)))?;
            let mut body = serde_json::to_vec(req).map_err(std::io::Error::other)?;
            body.push(b'\n');
            s.write_all(&body)?;
            let mut line = String::new();
            BufReader::new(s).read_line(&mut line)?;
            serde_json::from_str(&line).map_err(std::io::Error::other)
        };
        match talk() {
            Ok(Reply::Failed(e)) => Err(OpError::msg(format!("the fault filesystem: {e}"))),
            Ok(r) => Ok(r),
            Err(e) => Err(OpError::msg(format!("cannot reach the fault filesystem: {e}"))),
        }
    }

    fn done(&self, req: &Request) -> Result<(), OpError> {
        match self.ask(req)? {
            Reply::Done => Ok(()),
            other => Err(OpError::msg(format!(
                "the fault filesystem answered out of turn: {other:?}"
            ))),
        }
    }

    fn dropped(&self, req: &Request) -> Result<Dropped, OpError> {
        match self.ask(req)? {
            Reply::Dropped { bytes, files, torn } => Ok(Dropped { bytes, files, torn }),
            other => Err(OpError::msg(format!(
                "the fault filesystem answered out of turn: {other:?}"
            ))),
        }
    }

    /// What it is, for a fault's row.
    pub fn describe(&self) -> String {
        format!(
            "the fault filesystem at {}, served by pid {}",
            self.mountpoint.display(),
            self.server.id()
        )
    }

    /// What a power cut would drop now.
    pub fn pending(&self) -> Result<Dropped, OpError> {
        self.dropped(&Request::Pending)
    }

    /// Everything written so far becomes durable, as after a `sync` (a cluster made with
    /// `initdb --no-sync`).
    pub fn sync_all(&self) -> Result<(), OpError> {
        self.done(&Request::SyncAll)
    }

    /// The power goes: from the moment this returns every operation on the filesystem fails
    /// (with EIO), and none is in flight. Stop the engine first, every thread of it
    /// ([`crate::fault::halt_tree`]: one still running would see the EIO), kill it after.
    pub fn cut(&self) -> Result<(), OpError> {
        self.done(&Request::Cut)
    }

    /// The power comes back: every write not synced is dropped (with `torn_seed`, a prefix of
    /// the last one of all, its length drawn from the seed, is kept), and the filesystem works
    /// again.
    pub fn restore(&self, torn_seed: Option<u64>) -> Result<Dropped, OpError> {
        self.dropped(&Request::Restore { torn_seed })
    }

    /// Makes the next `fsync` of a file fail with EIO, dropping that file's unsynced writes.
    pub fn fail_next_fsync(&self) -> Result<(), OpError> {
        self.done(&Request::FailNextFsync)
    }

    /// Whether the armed `fsync` failure struck: the file and the bytes dropped. If it has not,
    /// it is disarmed.
    pub fn fsync_failed(&self) -> Result<Option<(String, u64)>, OpError> {
        match self.ask(&Request::FsyncFailed)? {
            Reply::FsyncFailed(f) => Ok(f),
            other => Err(OpError::msg(format!(
                "the fault filesystem answered out of turn: {other:?}"
            ))),
        }
    }

    /// Every write and `fsync` takes `delay` longer (zero: no longer).
    pub fn set_delay(&self, delay: Duration) -> Result<(), OpError> {
        self.done(&Request::Delay {
            us: delay.as_micros() as u64,
        })
    }
}

/// Whether a schedule's kinds put the engine on the fault filesystem.
pub fn wanted(kinds: &[crate::fault::FaultKind]) -> bool {
    kinds
        .iter()
        .any(|k| k.facts().needs.contains(&crate::fault::Need::Fuse))
}

/// The `torn` seed of a power loss: drawn from the run's seed and the fault's place, so that a
/// replay tears the same write the same way.
pub fn torn_seed(seed: u64, fault: &crate::fault::PlannedFault) -> Option<u64> {
    (fault.kind == crate::fault::FaultKind::PowerLossTorn)
        .then(|| crate::fault::corrupt_rng(seed, fault).random::<u64>())
}

/// `io-delay(D):HOLD` on this filesystem: every write and fsync takes D longer for the hold
/// (cut short when the run is `stopping`).
pub fn hold_delay(
    fs: &FaultFs,
    fault: &crate::fault::PlannedFault,
    stopping: &dyn Fn() -> bool,
) -> Result<String, OpError> {
    let delay = match fault.arg {
        Some(crate::fault::FaultArg::Ms(ms)) => Duration::from_millis(ms),
        _ => return Err(OpError::msg("io-delay says not how long (`io-delay(5ms):10s@…`)")),
    };
    let hold = Duration::from_millis(fault.hold_ms.unwrap_or(0));
    fs.set_delay(delay)?;
    let until = Instant::now() + hold;
    while !stopping() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
    }
    fs.set_delay(Duration::ZERO)?;
    Ok(format!("every write and fsync took {} ms longer", delay.as_millis()))
}

impl Namespaced for FaultFs {
    fn holder_pid(&self) -> u32 {
        self.server.id()
    }

    fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }
}

impl Drop for FaultFs {
    /// Stops the filesystem's process (the namespace and the mount go with it) and removes the
    /// backing directory.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until && matches!(self.server.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
        if let Some(l) = self.lifeline.take() {
            l.release();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}
