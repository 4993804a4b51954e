//! Talking to harness binaries: what they register (`STRESS_LIST=json`) and running one
//! workload with `STRESS_*` settings, following its JSON progress on stderr.

use std::io::{BufRead, BufReader, Read};
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
use stress_core::protocol::{EVENT_PREFIX, Event, Handover, ListedWorkload, Listing, SETTINGS_VAR};

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
    /// What the harness printed on stdout (libtest's report, with the failure message).
    pub stdout: String,
    /// Whether it outlived its time limit and was stopped.
    pub timed_out: bool,
    /// The `error: …` lines the harness printed on stderr, without the prefix: held back when
    /// the run did not start, for [`why_not`](Self::why_not) to say once (printed as they came
    /// when it did).
    pub errors: Vec<String>,
}

impl Ran {
    /// Why a run that wrote no summary did not start, in one line: libtest's failure message,
    /// or the error the harness printed, or (when it said nothing) its exit code.
    pub fn why_not(&self) -> String {
        let why = failure_message(&self.stdout);
        if !why.is_empty() {
            return why;
        }
        if !self.errors.is_empty() {
            return self.errors.join("; ");
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
    // on Ctrl-C (the hand-over's lifeline), writing its reports.
    let mut cmd = Command::new(&w.exe);
    cmd.args(["--exact", &w.name, "--include-ignored", "--test-threads", "1"])
        .env(SETTINGS_VAR, handover)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
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
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let stderr = BufReader::new(child.stderr.take().expect("piped"));
    // The summary the harness could not write to disk (a full disk), if it says so.
    let mut handed_over: Option<Summary> = None;
    let mut errors: Vec<String> = Vec::new();
    for line in stderr.lines().map_while(Result::ok) {
        if let Some(json) = line.strip_prefix(stress_core::SUMMARY_PREFIX) {
            handed_over = serde_json::from_str(json).ok();
            continue;
        }
        if let Some(e) = line.strip_prefix("error: ") {
            // Said once by us, after the run: as the reason it did not start, or below.
            errors.push(e.to_owned());
            continue;
        }
        match Event::from_line(&line) {
            Some(event) => status.event(&event),
            // An event of a later protocol is not for people either.
            None if line.starts_with(EVENT_PREFIX) => {}
            None => status.println(&line),
        }
    }
    let exit = child.wait().map_err(|e| usage(format!("harness failed: {e}")));
    RUNNING.store(0, Ordering::SeqCst);
    drop(lifeline);
    let exit = exit?;
    let (code, signal) = (exit.code(), std::os::unix::process::ExitStatusExt::signal(&exit));
    let timed_out = watchdog.is_some_and(Watchdog::finish);
    status.clear();
    let stdout = reader.join().unwrap_or_default();
    let summary = match out_dir.join("summary.json") {
        p if p.is_file() => Some(Summary::load(&p).map_err(usage)?),
        _ => handed_over,
    };
    if summary.is_some() {
        for e in &errors {
            status.println(&format!("error: {e}"));
        }
    }
    Ok(Ran {
        summary,
        code,
        signal,
        stdout,
        timed_out,
        errors,
    })
}

/// The failure message libtest printed for a trial: the lines between `---- NAME stdout ----`
/// and the next blank line, or the whole output when there is none.
pub fn failure_message(stdout: &str) -> String {
    let mut lines = stdout
        .lines()
        .skip_while(|l| !(l.starts_with("---- ") && l.ends_with(" ----")));
    if lines.next().is_none() {
        return stdout.trim().to_owned();
    }
    let body: Vec<&str> = lines.take_while(|l| !l.trim().is_empty()).collect();
    body.join("\n").trim().to_owned()
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
            msg.contains("(test `stress`) speaks harness protocol 9, this cargo stress speaks 1"),
            "{msg}"
        );
        // An older stress-core printed a bare array.
        let older = harness_printing(dir.path(), r#"[{"name": "orders"}]"#);
        let msg = list(&[older]).unwrap_err().to_string();
        assert!(
            msg.contains("speaks harness protocol 0, this cargo stress speaks 1"),
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
    fn failure_messages_are_cut_out_of_libtest_output() {
        let out = "\nrunning 1 test\ntest orders ... FAILED\n\nfailures:\n\n---- orders stdout ----\nusers names class `x`\n\n\nfailures:\n    orders\n";
        assert_eq!(failure_message(out), "users names class `x`");
        assert_eq!(failure_message("plain"), "plain");
    }
}
