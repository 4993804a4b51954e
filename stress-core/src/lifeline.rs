//! Nothing we start outlives us, whatever kills us: a lifeline is a small watchdog process
//! that holds the read end of a pipe whose write end only this process has. When this process
//! ends — normally, by panic, or by SIGKILL, which no handler sees — the kernel closes the
//! write end, the watchdog reads end-of-file, and it stops what it guards: it signals a
//! process group (SIGINT first: PostgreSQL's fast shutdown; SIGKILL after a grace) and removes
//! a directory.
//!
//! An adapter that starts a server takes one right after the server starts
//! ([`Lifeline::guard`]) and drops it after stopping the server itself; the watchdog then finds
//! nothing left to do and exits.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

/// A watchdog that stops a process group and removes a directory when this process ends.
#[derive(Debug)]
pub struct Lifeline {
    /// The write end of the pipe: dropping it (or dying) wakes the watchdog.
    pipe: Option<ChildStdin>,
    watchdog: Child,
}

impl Lifeline {
    /// Starts a watchdog for process group `pgid`, if given (a server started with
    /// `process_group(0)`: its pid), and directory `dir`, if given (temporary files). The
    /// watchdog runs in a process group of its own, so that a Ctrl-C to ours does not end it
    /// before we do; it gives the group `grace` to exit after SIGINT before SIGKILL.
    pub fn guard(pgid: Option<u32>, dir: Option<&Path>, grace: Duration) -> std::io::Result<Self> {
        // `read` returns at end-of-file, when every write end is closed: ours is the only one.
        // (`sh` may be dash, whose `kill` takes no `--`: a group is `-PGID` after the signal.)
        // While the group lives, its leader's children are found first: they may lead groups
        // of their own (PostgreSQL's backends do) and be stopped by a `pause` fault, so they
        // are continued (to see their parent go) and, if still there after the grace, killed —
        // each only if the pid still names a process of the same name.
        let script = r#"read -r what
[ "$what" = release ] && exit 0
if [ -n "$1" ] && kill -0 "-$1" 2>/dev/null; then
  kids=""
  for s in /proc/[0-9]*/stat; do
    read -r p c st pp rest < "$s" 2>/dev/null || continue
    [ "$pp" = "$1" ] && kids="$kids $p:$c"
  done
  for k in $kids; do kill -CONT "${k%%:*}" 2>/dev/null; done
  kill -CONT "-$1" 2>/dev/null
  kill -INT "-$1" 2>/dev/null
  i=0
  while kill -0 "-$1" 2>/dev/null && [ "$i" -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done
  kill -KILL "-$1" 2>/dev/null
  for k in $kids; do
    read -r p c rest < "/proc/${k%%:*}/stat" 2>/dev/null || continue
    [ "$c" = "${k#*:}" ] && kill -KILL "${k%%:*}" 2>/dev/null
  done
fi
if [ -n "$3" ]; then rm -rf -- "$3"; fi"#;
        let tenths = (grace.as_millis() / 100).max(1).to_string();
        let dir = dir.map(|d| d.display().to_string()).unwrap_or_default();
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("stress-lifeline")
            .arg(pgid.map(|p| p.to_string()).unwrap_or_default())
            .arg(tenths)
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let pipe = watchdog.stdin.take();
        Ok(Self { pipe, watchdog })
    }

    /// Lets the watchdog go without touching anything: what it guarded is guarded by another
    /// lifeline now (a server started again under a new pid, on the same directory).
    pub fn release(mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.write_all(b"release\n");
            let _ = pipe.flush();
        }
        let _ = self.watchdog.wait();
    }

    /// The watchdog's pid (for tests).
    pub fn watchdog_pid(&self) -> u32 {
        self.watchdog.id()
    }
}

impl Drop for Lifeline {
    /// Lets the watchdog go: it finds what it guards already stopped (the owner stopped it
    /// first), and exits. Waited for, so that it leaves no zombie.
    fn drop(&mut self) {
        if let Some(mut pipe) = self.pipe.take() {
            let _ = pipe.flush();
        }
        let _ = self.watchdog.wait();
    }
}
