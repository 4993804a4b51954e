//! The mix on Hyper through its harness binary (`tests/stress.rs`), as `cargo stress` runs it:
//! Ctrl-C stops hyperd in order with every report written, and a harness killed outright
//! leaves no hyperd behind (hyperd shuts itself down when its callback connection closes).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Monte Carlo mix's harness exactly as this build made it: the `monte-carlo-stress` binary target
/// (the same `tests/stress.rs` as the `stress` test target), whose path cargo gives the tests.
/// Not a file picked by name or date from `deps/`, where earlier builds' binaries stay.
fn harness() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_monte-carlo-stress"))
}

/// Starts a full run of `monte_carlo_hyper` into `out` and waits until its users run.
fn start(out: &Path) -> Child {
    let mut cmd = Command::new(harness());
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(["monte_carlo_hyper", "--exact", "--ignored"])
        .env("STRESS_DURATION", "5m")
        .env("STRESS_THINK_MIN_MS", "5")
        .env("STRESS_THINK_MAX_MS", "20")
        .env("STRESS_BATCH_MAX", "500")
        .env("STRESS_OUTPUT_DIR", out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("users, seed") {
        line.clear();
        assert_ne!(stderr.read_line(&mut line).unwrap(), 0, "harness ended before starting");
    }
    // Keep draining stderr so the harness never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    child
}

/// The live hyperd serving the run in `out` (its command line names the run's log directory).
fn hyperd_of(out: &Path) -> Option<u32> {
    stress_core::monitor::pids_with_cmdline(&out.join("hyperd").to_string_lossy())
        .into_iter()
        .next()
}

/// Waits (at most `limit`, a bound on a hang, not a timing claim) for hyperd to be gone.
fn gone_within(out: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if hyperd_of(out).is_none() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn ctrl_c_stops_hyperd_in_order_and_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = start(&out);
    assert!(hyperd_of(&out).is_some(), "hyperd runs beside the harness");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(!status.success(), "an interrupted run does not pass");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["stop_reason"], "Interrupted");
    assert!(out.join("replay.json").is_file() && out.join("timeseries.csv").is_file());
    assert!(hyperd_of(&out).is_none(), "hyperd stopped before the harness exited");
    assert!(!out.join("databases/db_0.hyper").exists(), "databases removed");
}

#[test]
fn a_harness_killed_outright_leaves_no_hyperd() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = start(&out);
    let pid = hyperd_of(&out).expect("hyperd runs beside the harness");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        gone_within(&out, Duration::from_secs(60)),
        "hyperd {pid} outlived the harness"
    );
    assert!(out.join("replay.json").is_file(), "written when the run started");
}

#[test]
fn a_bad_hyper_variable_is_bad_input_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut cmd = Command::new(harness());
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") {
            cmd.env_remove(k);
        }
    }
    let o = cmd
        .args(["monte_carlo_hyper", "--exact", "--ignored"])
        .env("STRESS_TRANSPORT", "udp")
        .env("STRESS_OUTPUT_DIR", &out)
        .output()
        .unwrap();
    // Like every setting refused before a run starts: the trial fails with the one line (which
    // `cargo stress` shows with exit code 2), and nothing is written.
    assert!(!o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("\nSTRESS_TRANSPORT=udp: unknown transport `udp`: expected tcp or grpc\n"),
        "{stdout}"
    );
    assert!(!out.exists(), "nothing written");
    assert!(hyperd_of(&out).is_none(), "no hyperd started");
}

/// A variable an adapter or a workload of the binary declares is not warned about in any of its
/// runs (here the SQLite one's smoke run); a misspelt one is.
#[test]
fn variables_the_adapters_and_workloads_declare_are_known() {
    let mut cmd = Command::new(harness());
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") {
            cmd.env_remove(k);
        }
    }
    let o = cmd
        .args(["monte_carlo_sqlite", "--exact"])
        .env("STRESS_PG_DSN", "host=/nonexistent")
        .env("STRESS_TRANSPORT", "grpc")
        .env("STRESS_QUERY_COMPLEXITY_MAX", "2")
        .env("STRESS_QUERY_COMPLEXTY_MAX", "2")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: unknown variable"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].starts_with("warning: unknown variable STRESS_QUERY_COMPLEXTY_MAX is ignored")
            && warnings[0].contains("STRESS_QUERY_COMPLEXITY_MAX")
            && warnings[0].contains("STRESS_PG_DSN"),
        "{}",
        warnings[0]
    );
}
