//! A size-limited filesystem for the `disk-full` fault: a tmpfs of a given size, mounted in a
//! private mount namespace that a process of its own (the *holder*) keeps alive. Nothing outside
//! the run sees the mount: the mountpoint is an empty directory everywhere else, and the
//! filesystem, with everything on it, goes when the holder goes — stopped at the end of the run,
//! or by its watchdog whatever kills the run.
//!
//! The run reaches the files through the holder's root (`/proc/<holder>/root/…`, see
//! [`SizedFs::outside`]); a process that must see them at their own path (a server running as
//! another account, which may not enter another account's `/proc/<pid>/root`) is started inside
//! the namespace with [`SizedFs::command`].

use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::lifeline::Lifeline;
use crate::outcome::OpError;

/// The file a `disk-full` fault fills the filesystem with.
const FILLER: &str = ".stress-disk-full";

/// What to do when the machine cannot make one.
const FIX: &str = "disk-full needs root and mount namespaces (`unshare --mount`): run as root where they are allowed, \
or leave the disk-full fault out";

/// Whether this machine can make a size-limited filesystem: `Err` names the cause and the fix.
pub fn can_create() -> Result<(), String> {
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount -t tmpfs -o size=1m stress-probe /mnt")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run unshare to make a size-limited filesystem ({e}): {FIX}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cannot make a size-limited filesystem ({}): {FIX}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A tmpfs of a given size in a private mount namespace.
#[derive(Debug)]
pub struct SizedFs {
    holder: Child,
    lifeline: Option<Lifeline>,
    /// The mountpoint: an empty directory outside the namespace, removed at the end.
    dir: Option<tempfile::TempDir>,
    mountpoint: PathBuf,
    size_mb: u64,
}

impl SizedFs {
    /// Mounts a tmpfs of `size_mb` MiB, owned by `owner` (uid, gid) if given (a server's
    /// account), in a new private mount namespace.
    pub fn create(size_mb: u64, owner: Option<(u32, u32)>) -> Result<Self, OpError> {
        let dir = tempfile::Builder::new().prefix("stress-disk-").tempdir().map_err(|e| {
            OpError::msg(format!(
                "cannot create a mountpoint for the size-limited filesystem: {e}"
            ))
        })?;
        let mountpoint = dir.path().to_owned();
        let mode = if owner.is_some() { "0700" } else { "0755" };
        let ids = owner.map_or_else(String::new, |(u, g)| format!(",uid={u},gid={g}"));
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(r#"mount -t tmpfs -o "size=$1m,mode=$2$3" stress-disk "$4" || exit 3; echo ready; exec sleep 2147483647"#)
            .args(["stress-disk", &size_mb.to_string(), mode, &ids])
            .arg(&mountpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Not in our process group: a Ctrl-C to the run stops the engine first, then us.
            .process_group(0)
            .spawn()
            .map_err(|e| OpError::msg(format!("cannot run unshare to make a size-limited filesystem ({e}): {FIX}")))?;
        let lifeline = Lifeline::guard(Some(holder.id()), Some(&mountpoint), Duration::from_secs(1))
            .map_err(|e| OpError::msg(format!("cannot start the watchdog of the size-limited filesystem: {e}")));
        let mut ready = String::new();
        if let Some(out) = holder.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut ready);
        }
        if ready.trim() != "ready" {
            let _ = holder.kill();
            let _ = holder.wait();
            let mut said = String::new();
            if let Some(mut err) = holder.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut err, &mut said);
            }
            return Err(OpError::msg(format!(
                "cannot make a size-limited filesystem ({}): {FIX}",
                said.trim()
            )));
        }
        Ok(Self {
            holder,
            lifeline: Some(lifeline?),
            dir: Some(dir),
            mountpoint,
            size_mb,
        })
    }

    /// What it is, for a fault's row: `a 256 MiB filesystem at /tmp/stress-disk-x, held by pid 42`.
    pub fn describe(&self) -> String {
        format!(
            "a {} MiB filesystem at {}, held by pid {}",
            self.size_mb,
            self.mountpoint.display(),
            self.holder.id()
        )
    }

    /// Its size, MiB.
    pub fn size_mb(&self) -> u64 {
        self.size_mb
    }

    /// Fills it: a file of zeros written until the filesystem says it is full. Returns the
    /// bytes written.
    pub fn fill(&self) -> Result<u64, OpError> {
        let path = self.outside(&self.mountpoint.join(FILLER));
        let mut f = std::fs::File::create(&path)
            .map_err(|e| OpError::msg(format!("cannot fill the size-limited filesystem: {e}")))?;
        let mut written = 0u64;
        for chunk in [1 << 20, 4096, 512] {
            let zeros = vec![0u8; chunk];
            loop {
                match f.write(&zeros) {
                    Ok(0) => break,
                    Ok(n) => written += n as u64,
                    Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(OpError::msg(format!("cannot fill the size-limited filesystem: {e}"))),
                }
            }
        }
        Ok(written)
    }

    /// Frees what [`fill`](Self::fill) took.
    pub fn free(&self) -> Result<(), OpError> {
        let path = self.outside(&self.mountpoint.join(FILLER));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(OpError::msg(format!("cannot free the size-limited filesystem: {e}")))
            }
            _ => Ok(()),
        }
    }

    /// The `disk-full` fault: fills it, holds for `hold` (cut short when the run is `stopping`),
    /// frees it, then waits (a minute at most) until `serves()` says the engine works again.
    /// Returns the bytes it took and how long the engine took after the space came back.
    pub fn hold_full(
        &self,
        hold: Duration,
        stopping: &dyn Fn() -> bool,
        mut serves: impl FnMut() -> bool,
    ) -> Result<(u64, Option<Duration>), OpError> {
        let taken = self.fill();
        let until = Instant::now() + hold;
        while taken.is_ok() && !stopping() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
        }
        self.free()?;
        let taken = taken?;
        let freed = Instant::now();
        while freed.elapsed() < Duration::from_secs(60) {
            if serves() {
                return Ok((taken, Some(freed.elapsed())));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok((taken, None))
    }
}

/// A filesystem mounted in a private mount namespace that a process of its own holds: how the
/// run reaches its files, and how a process is started inside it.
pub trait Namespaced {
    /// The pid of the process that holds the namespace.
    fn holder_pid(&self) -> u32;

    /// Where it is mounted, inside its namespace.
    fn mountpoint(&self) -> &Path;

    /// The path by which this process reaches `inside` (a path under the mountpoint, as the
    /// namespace sees it): through the holder's root.
    fn outside(&self, inside: &Path) -> PathBuf {
        let relative = inside.strip_prefix("/").unwrap_or(inside);
        PathBuf::from(format!("/proc/{}/root", self.holder_pid())).join(relative)
    }

    /// A command that runs `program` inside the namespace (through `nsenter`), as the account
    /// `user` (uid, gid) if given: set that way, not with `Command::uid`, which would drop the
    /// right to enter the namespace first.
    fn command(&self, program: &Path, user: Option<(u32, u32)>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(self.enter_args(user)).arg(program);
        cmd
    }

    /// The arguments to `nsenter` that [`command`](Self::command) gives, before the program.
    fn enter_args(&self, user: Option<(u32, u32)>) -> Vec<String> {
        let mut args = vec![format!("--mount=/proc/{}/ns/mnt", self.holder_pid())];
        if let Some((uid, gid)) = user {
            args.extend([
                "--setuid".to_owned(),
                uid.to_string(),
                "--setgid".to_owned(),
                gid.to_string(),
            ]);
        }
        args.push("--".to_owned());
        args
    }
}

impl Namespaced for SizedFs {
    fn holder_pid(&self) -> u32 {
        self.holder.id()
    }

    fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }
}

impl Drop for SizedFs {
    /// Ends the holder (the namespace and the filesystem go with it) and removes the mountpoint.
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        if let Some(l) = self.lifeline.take() {
            l.release();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

/// What to do when the machine cannot make a fault filesystem ([`crate::faultfs`]).
pub(crate) const FUSE_FIX: &str = "the storage faults (power-loss, fsync-error, io-delay) need root, mount namespaces \
(`unshare --mount`) and FUSE (/dev/fuse): run as root where they are, or leave those faults out";

/// Whether this machine can make a fault filesystem ([`crate::faultfs`]): `Err` names what is
/// missing and the fix. (Here, beside the mount namespaces it needs too, so that the fault
/// kinds can ask without the fault filesystem, which uses them.)
pub fn can_create_fuse() -> Result<(), String> {
    if !Path::new("/dev/fuse").exists() {
        return Err(format!("there is no /dev/fuse: {FUSE_FIX}"));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map_err(|e| format!("cannot open /dev/fuse ({e}): {FUSE_FIX}"))?;
    can_create().map_err(|e| format!("{e} ({FUSE_FIX})"))
}
