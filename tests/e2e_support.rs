//! What the end-to-end tests share: the fixture crate, its target directory, and running the
//! real `cargo stress` binary on it — to its end, or in the background to press Ctrl-C.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

pub(crate) fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/shop/Cargo.toml")
}

/// `<target>/e2e-fixture`, beside the directory holding this build's binaries.
pub(crate) fn fixture_target() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_cargo-stress"));
    exe.parent().unwrap().parent().unwrap().join("e2e-fixture")
}

pub(crate) fn cargo_stress(args: &[&str]) -> Output {
    cargo_stress_in(args, Path::new(env!("CARGO_MANIFEST_DIR")))
}

pub(crate) fn cargo_stress_in(args: &[&str], cwd: &Path) -> Output {
    cargo_stress_env(args, cwd, &[])
}

pub(crate) fn cargo_stress_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    command(args, cwd, env).output().unwrap()
}

/// `cargo stress <args>` in `cwd` on the fixture's target directory, with no `STRESS_*`
/// variable but those of `env`.
pub(crate) fn command(args: &[impl AsRef<OsStr>], cwd: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-stress"));
    cmd.arg("stress")
        .args(args)
        .current_dir(cwd)
        .env("CARGO_TARGET_DIR", fixture_target());
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// `args` with `--manifest-path <fixture> --debug` after the subcommand.
pub(crate) fn on_fixture(args: &[&str]) -> Output {
    on_fixture_with(args, &[])
}

/// [`on_fixture`] with variables set for `cargo stress` (and the harness it runs).
pub(crate) fn on_fixture_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args = fixture_args(args);
    command(&args, Path::new(env!("CARGO_MANIFEST_DIR")), env)
        .output()
        .unwrap()
}

pub(crate) fn fixture_args(args: &[&str]) -> Vec<String> {
    let mut all = vec![args[0].to_owned(), "--manifest-path".to_owned()];
    all.push(fixture().to_str().unwrap().to_owned());
    all.push("--debug".to_owned());
    all.extend(args[1..].iter().map(|a| (*a).to_owned()));
    all
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The last line on stderr (cargo's build output comes before it).
pub(crate) fn last_error(out: &Output) -> String {
    text(&out.stderr).lines().last().unwrap_or_default().to_owned()
}

pub(crate) fn summary(dir: &Path) -> serde_json::Value {
    read_json(&dir.join("summary.json"))
}

pub(crate) fn read_json(path: &Path) -> serde_json::Value {
    let body = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The ops of a run's `timeseries.csv`: the sum of its `ops` column.
pub(crate) fn timeseries_ops(dir: &Path) -> u64 {
    let body = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let mut lines = body.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[..2], ["second", "ops"], "{body}");
    lines
        .map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap())
        .sum()
}

/// How long a test lets a `cargo stress` it started in the background live (a build of the
/// fixture included) before it kills it and fails: a guard against a hang, never a measurement.
const HANG_GUARD: Duration = Duration::from_secs(600);

/// A `cargo stress` on the fixture started in a process group of its own, as a shell starts a
/// job, with its stderr read line by line as it comes: a test waits for a line (an event of the
/// run), then presses Ctrl-C — SIGINT to the group, to `cargo stress` and the harness it runs,
/// as a terminal sends it. Killed when dropped unfinished, and after [`HANG_GUARD`].
pub(crate) struct Running {
    /// The `cargo stress` process.
    pub(crate) child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stdout: Option<JoinHandle<String>>,
    /// Tells the guard to stand down; the guard says whether it had to kill the group.
    guard: Option<(Sender<()>, JoinHandle<bool>)>,
}

impl Running {
    /// `cargo stress` with [`on_fixture`]'s arguments, started in the background.
    pub(crate) fn on_fixture(args: &[&str]) -> Self {
        let mut child = command(&fixture_args(args), Path::new(env!("CARGO_MANIFEST_DIR")), &[])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let group = child.id();
        let (stand_down, told) = mpsc::channel::<()>();
        let guard = std::thread::spawn(move || match told.recv_timeout(HANG_GUARD) {
            Err(RecvTimeoutError::Timeout) => {
                signal_group(group, "KILL");
                true
            }
            _ => false,
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            stdout: Some(stdout),
            guard: Some((stand_down, guard)),
        }
    }

    /// Reads stderr up to the first line that contains `needle`, and returns that line. Fails
    /// when stderr ends first (the run ended, or hung and was killed by the guard).
    pub(crate) fn wait_for_line(&mut self, needle: &str) -> String {
        while let Ok(line) = self.lines.recv() {
            self.seen.push(line.clone());
            if line.contains(needle) {
                return line;
            }
        }
        panic!(
            "stderr ended (the run ended, or was killed after {HANG_GUARD:?}) without a line containing {needle:?}:\n{}",
            self.seen.join("\n")
        );
    }

    /// Ctrl-C: SIGINT to the process group.
    pub(crate) fn interrupt(&self) {
        signal_group(self.child.id(), "INT");
    }

    /// Waits for the exit; stdout, and all of stderr (what [`wait_for_line`](Self::wait_for_line)
    /// read included). Fails if the guard had to kill the run.
    pub(crate) fn finish(mut self) -> Output {
        let status = self.child.wait().unwrap();
        // To the end of stderr, which the guard also ends if something still holds it.
        while let Ok(line) = self.lines.recv() {
            self.seen.push(line);
        }
        let stdout = self.stdout.take().unwrap().join().unwrap();
        let (stand_down, guard) = self.guard.take().unwrap();
        let _ = stand_down.send(());
        assert!(
            !guard.join().unwrap(),
            "cargo stress still ran after {HANG_GUARD:?}: killed\n{}",
            self.seen.join("\n")
        );
        Output {
            status,
            stdout: stdout.into_bytes(),
            stderr: (self.seen.join("\n") + "\n").into_bytes(),
        }
    }
}

impl Drop for Running {
    /// A test that failed before [`finish`](Self::finish) leaves no run behind.
    fn drop(&mut self) {
        if self.guard.is_some() {
            signal_group(self.child.id(), "KILL");
            let _ = self.child.wait();
        }
    }
}

/// Sends `signal` (`INT`, `KILL`) to every process of the group `group`.
fn signal_group(group: u32, signal: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
}
