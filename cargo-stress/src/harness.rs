//! Talking to harness binaries: what they register (`STRESS_LIST=json`) and running one
//! workload with `STRESS_*` settings, following the protocol's messages on its stderr (its
//! events, then its outcome); libtest's report on its stdout is not read.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use stress_core::ConfigLayer;
use stress_core::Summary;
use stress_core::config::Origin;
use stress_core::protocol::{
    Handover, ListedWorkload, Listing, Message, PROTOCOL_VERSION, ProtocolError, SETTINGS_VAR,
};

use crate::discover::Built;
use crate::error::{CliError, usage};
use crate::status::Status;

/// A workload found in a harness binary.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    /// The workload's name.
    pub name: String,
    /// The package.
    pub package: String,
    /// `test`, `bench` or `example`.
    pub kind: String,
    /// The target.
    pub target: String,
    /// The harness binary.
    #[serde(skip)]
    pub exe: PathBuf,
    /// The package's manifest.
    #[serde(skip)]
    pub manifest_path: PathBuf,
    /// What the harness says of it: adapter, classes, options, source location.
    pub info: ListedWorkload,
}

impl Workload {
    /// Where the workload comes from, as recorded in `replay.json`.
    pub fn origin(&self) -> Origin {
        Origin {
            package: self.package.clone(),
            kind: self.kind.clone(),
            target: self.target.clone(),
            manifest_path: self.manifest_path.clone(),
        }
    }
}

/// Asks each binary for its workloads.
pub fn list(built: &[Built]) -> Result<Vec<Workload>, CliError> {
    let mut out = Vec::new();
    for b in built {
        let output = Command::new(&b.exe)
            .env("STRESS_LIST", "json")
            .output()
            .map_err(|e| usage(format!("cannot run {}: {e}", b.exe.display())))?;
        let c = &b.candidate;
        let where_ = format!("{} ({} `{}`)", b.exe.display(), c.kind, c.target);
        if !output.status.success() {
            return Err(usage(format!(
                "{where_} cannot list its workloads: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let listing = Listing::parse(&output.stdout).map_err(|e| usage(format!("{where_} {e}")))?;
        for info in listing.workloads {
            out.push(Workload {
                name: info.name.clone(),
                package: c.package.clone(),
                kind: c.kind.clone(),
                target: c.target.clone(),
                exe: b.exe.clone(),
                manifest_path: c.manifest_path.clone(),
                info,
            });
        }
    }
    Ok(out)
}

/// The harness running now (0: none): where a Ctrl-C, SIGTERM or SIGHUP to `cargo stress` is
/// passed on.
static RUNNING: AtomicU32 = AtomicU32::new(0);

/// Passes an interrupt on to the running harness (as SIGINT: it stops its users and writes
/// its reports; a second one stops at once what can be stopped).
pub fn forward_interrupt() {
    let pid = RUNNING.load(Ordering::SeqCst);
    if pid != 0 {
        let _ = Command::new("kill").args(["-INT", &pid.to_string()]).status();
    }
}

/// How one workload's run ended.
#[derive(Debug)]
pub struct Ran {
    /// Its summary, if the run started.
    pub summary: Option<Summary>,
    /// The harness's exit code.
    pub code: Option<i32>,
    /// The signal that killed the harness, if one did.
    pub signal: Option<i32>,
    /// Whether it outlived its time limit and was stopped.
    pub timed_out: bool,
    /// Why the run did not start (or could not end as a run), as the harness's outcome said.
    pub error: Option<String>,
}

impl Ran {
    /// Why a run that wrote no summary did not start, in one line: what the harness's outcome
    /// said, or (when it said nothing) its exit code.
    pub fn why_not(&self) -> String {
        if let Some(e) = &self.error {
            return e.clone();
        }
        match self.code {
            Some(code) => format!("the harness exited with code {code} and said nothing"),
            None => "the harness ended without an exit code and said nothing".to_owned(),
        }
    }
}

/// How long a harness interrupted at its time limit may take to write its reports before it
/// is killed (an op that never returns keeps its user thread, and so the run, from ending).
const KILL_GRACE: Duration = Duration::from_secs(30);

/// Stops a harness that outlives its time limit: Ctrl-C (it stops its users and writes its
/// reports), then, after [`KILL_GRACE`], a kill.
struct Watchdog {
    done: Arc<(Mutex<bool>, Condvar)>,
    fired: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Watchdog {
    fn start(pid: u32, limit: Duration) -> Self {
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let fired = Arc::new(AtomicBool::new(false));
        let (d, f) = (done.clone(), fired.clone());
        let thread = std::thread::spawn(move || {
            let signal = |sig: &str| {
                let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
            };
            let wait = |limit: Duration| {
                let deadline = Instant::now() + limit;
                let (lock, cv) = &*d;
                let mut done = lock.lock().unwrap_or_else(|e| e.into_inner());
                while !*done {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    done = cv.wait_timeout(done, left).unwrap_or_else(|e| e.into_inner()).0;
                }
                true
            };
            if wait(limit) {
                return;
            }
            f.store(true, Ordering::SeqCst);
            signal("-INT");
            if !wait(KILL_GRACE) {
                signal("-KILL");
            }
        });
        Self { done, fired, thread }
    }

    /// The harness has exited: stands down; returns whether it had to stop it.
    fn finish(self) -> bool {
        let (lock, cv) = &*self.done;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        let _ = self.thread.join();
        self.fired.load(Ordering::SeqCst)
    }
}

/// Runs one workload in full, handing it `settings` (and `replay`, the `replay.json` to
/// replay) through the protocol, writing into `out_dir`; stops it if it is still running
/// after `limit`.
pub fn run(
    w: &Workload,
    settings: &ConfigLayer,
    replay: Option<&Path>,
    out_dir: &Path,
    status: &mut Status,
    limit: Option<Duration>,
) -> Result<Ran, CliError> {
    // Everything the run needs from us, typed, in one variable: what it sets beats the
    // STRESS_* variables of this process's environment, which the harness also reads.
    let handover = Handover {
        protocol_version: PROTOCOL_VERSION,
        settings: settings.clone(),
        output_dir: Some(out_dir.to_owned()),
        replay_file: replay.map(Path::to_owned),
        origin: Some(w.origin()),
        events: true,
        lifeline: true,
    };
    let handover = serde_json::to_string(&handover).expect("a hand-over serialises");
    // The harness runs in a process group of its own: a terminal's Ctrl-C reaches it once,
    // through us (forward_interrupt), like a SIGTERM or SIGHUP sent to us alone. Its stdin is
    // a pipe only we hold: should we die, even by SIGKILL, it reads end-of-file and stops as
    // on Ctrl-C (the hand-over's lifeline), writing its reports. Its stdout (libtest's report)
    // says nothing the protocol does not.
    let mut cmd = Command::new(&w.exe);
    cmd.args(["--exact", &w.name, "--include-ignored", "--test-threads", "1"])
        .env(SETTINGS_VAR, handover)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    if replay.is_none() {
        // A STRESS_REPLAY_FILE left in the shell must not turn a run into a replay.
        cmd.env_remove("STRESS_REPLAY_FILE");
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| usage(format!("cannot run {}: {e}", w.exe.display())))?;
    let lifeline = child.stdin.take();
    RUNNING.store(child.id(), Ordering::SeqCst);
    let watchdog = limit.map(|l| Watchdog::start(child.id(), l));
    let stderr = BufReader::new(child.stderr.take().expect("piped"));
    let (outcome, refused) = follow(stderr, status);
    let exit = child.wait().map_err(|e| usage(format!("harness failed: {e}")));
    RUNNING.store(0, Ordering::SeqCst);
    drop(lifeline);
    let exit = exit?;
    let (code, signal) = (exit.code(), std::os::unix::process::ExitStatusExt::signal(&exit));
    let timed_out = watchdog.is_some_and(Watchdog::finish);
    status.clear();
    if let Some(e) = refused {
        return Err(usage(format!("{} ({} `{}`) {e}", w.exe.display(), w.kind, w.target)));
    }
    let outcome = outcome.unwrap_or_default();
    let summary = match out_dir.join("summary.json") {
        p if p.is_file() => Some(Summary::load(&p).map_err(usage)?),
        // The summary the harness could not write to disk (a full disk), or a step's.
        _ => outcome.summary.map(|s| *s),
    };
    Ok(Ran {
        summary,
        code,
        signal,
        timed_out,
        error: outcome.error,
    })
}

/// Follows a harness's stderr to its end: its events to the status line, every line that is
/// not a message to people, and its outcome kept. A message of another protocol version is the
/// error returned (the rest of the run is read and shown, not understood).
fn follow(
    stderr: impl BufRead,
    status: &mut Status,
) -> (Option<stress_core::protocol::TrialOutcome>, Option<ProtocolError>) {
    let (mut outcome, mut refused) = (None, None);
    for line in stderr.lines().map_while(Result::ok) {
        match Message::from_line(&line) {
            Some(Ok(Message::Event(event))) => status.event(&event),
            Some(Ok(Message::Outcome(o))) => outcome = Some(o),
            Some(Err(e)) => {
                refused.get_or_insert(e);
            }
            None => status.println(&line),
        }
    }
    (outcome, refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A harness built against another stress-core: a program that prints its listing.
    fn harness_printing(dir: &Path, listing: &str) -> Built {
        use std::os::unix::fs::PermissionsExt;
        // A new file each time: one just run may not be rewritten while it is still mapped.
        static N: AtomicU32 = AtomicU32::new(0);
        let exe = dir.join(format!("stress-harness-{}", N.fetch_add(1, Ordering::SeqCst)));
        std::fs::write(&exe, format!("#!/bin/sh\ncat <<'EOF'\n{listing}\nEOF\n")).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        Built {
            candidate: crate::discover::Candidate {
                package: "shop".into(),
                manifest_path: dir.join("Cargo.toml"),
                kind: "test".into(),
                target: "stress".into(),
            },
            exe,
        }
    }

    #[test]
    fn a_harness_of_another_protocol_is_refused_in_one_line_naming_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let newer = harness_printing(dir.path(), r#"{"protocol_version": 9, "workloads": [{"name": 1}]}"#);
        let e = list(&[newer]).unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.exit_code(), crate::EXIT_USAGE);
        assert!(!msg.contains('\n'), "{msg}");
        assert!(
            msg.contains(&format!(
                "(test `stress`) speaks harness protocol 9, this cargo stress speaks {PROTOCOL_VERSION}"
            )),
            "{msg}"
        );
        // An older stress-core printed a bare array.
        let older = harness_printing(dir.path(), r#"[{"name": "orders"}]"#);
        let msg = list(&[older]).unwrap_err().to_string();
        assert!(
            msg.contains(&format!(
                "speaks harness protocol 0, this cargo stress speaks {PROTOCOL_VERSION}"
            )),
            "{msg}"
        );
        // Ours is read.
        let ours = format!(
            r#"{{"protocol_version": {}, "workloads": []}}"#,
            stress_core::protocol::PROTOCOL_VERSION
        );
        assert!(list(&[harness_printing(dir.path(), &ours)]).unwrap().is_empty());
    }

    #[test]
    fn a_run_message_of_another_protocol_is_refused_and_the_outcome_is_read() {
        use stress_core::protocol::{MESSAGE_PREFIX, TrialOutcome};
        let ours = Message::Outcome(TrialOutcome {
            workload: Some("orders".into()),
            summary: None,
            error: Some("users names class `x`".into()),
        });
        // libtest's and the workload's lines are for people; the outcome is the message's.
        let stderr = format!("running 1 test\n{}\ntest orders ... FAILED\n", ours.line());
        let (outcome, refused) = follow(stderr.as_bytes(), &mut Status::quiet());
        assert_eq!(refused, None);
        assert_eq!(outcome.unwrap().error.as_deref(), Some("users names class `x`"));
        // A harness of another version: its first message is the error, in one line.
        let newer = format!(r#"{MESSAGE_PREFIX}{{"protocol_version": 9, "outcome": {{"shape": "new"}}}}"#);
        let stderr = format!("{newer}\n{}\n", ours.line());
        let (_, refused) = follow(stderr.as_bytes(), &mut Status::quiet());
        let msg = refused.unwrap().to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(
            msg.contains(&format!(
                "speaks harness protocol 9, this cargo stress speaks {PROTOCOL_VERSION}"
            )),
            "{msg}"
        );
    }
}
