//! The durability workload through its harness binary (`tests/stress.rs`), as `cargo stress`
//! runs it: on SQLite the harness starts itself again as the engine host, and kills of that
//! host lose no acknowledged write.

use std::path::PathBuf;
use std::process::Command;

/// The harness exactly as this build made it (`CARGO_BIN_EXE_durability-stress`).
fn harness() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_durability-stress"))
}

/// The harness, with nothing of the test's own `STRESS_*` environment.
fn harness_command() -> Command {
    let mut cmd = Command::new(harness());
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn the_harness_hosts_sqlite_and_its_kills_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut cmd = harness_command();
    let done = cmd
        .args(["durability_sqlite", "--exact", "--ignored"])
        .env("STRESS_DURATION", "4s")
        .env("STRESS_SEED", "7")
        .env("STRESS_FAULTS", "kill@every=400ms..700ms;pause:300ms@at=3s")
        .env("STRESS_OUTPUT_DIR", &out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{stderr}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let faults: Vec<&serde_json::Value> = s["faults"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["skipped"].is_null())
        .collect();
    assert!(faults.len() >= 5, "{faults:?}");
    let mut hosts = Vec::new();
    for f in faults {
        assert!(f["error"].is_null(), "{f}");
        let target = f["target"].as_str().unwrap();
        assert!(target.starts_with("sqlite host (pid "), "{target}");
        hosts.push(target.to_owned());
        if f["kind"] == "kill" {
            assert_eq!(f["check"], "integrity_check: ok", "{f}");
        }
    }
    assert_eq!(s["durability"]["lost"], 0, "{}", s["durability"]);
    assert_eq!(s["durability"]["unexpected"], 0);
    assert!(s["durability"]["acknowledged"].as_u64().unwrap() > 100);
    // The hosts were this harness, started again, and none is left.
    for h in hosts {
        let pid = h.trim_start_matches("sqlite host (pid ").trim_end_matches(')');
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"));
        assert!(cmdline.is_err(), "host {pid} outlived the run");
    }
}

/// Where the machine cannot make a size-limited filesystem (here: no `unshare` to run), a run
/// with `disk-full` is refused before anything starts, naming the cause and the fix (the harness
/// reports it as the trial's refusal; `cargo stress run` turns that into exit 2).
#[test]
fn disk_full_where_no_filesystem_can_be_made_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut cmd = harness_command();
    let done = cmd
        .args(["durability_sqlite", "--exact", "--ignored"])
        .env("PATH", dir.path())
        .env("STRESS_DURATION", "3s")
        .env("STRESS_FAULTS", "disk-full:1s@at=1s")
        .env("STRESS_OUTPUT_DIR", &out)
        .output()
        .unwrap();
    // libtest reports a refused trial on stdout.
    let stderr = format!(
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(!done.status.success(), "{stderr}");
    assert!(
        stderr.contains("cannot run unshare to make a size-limited filesystem") && stderr.contains("run as root"),
        "{stderr}"
    );
    assert!(!out.join("summary.json").exists(), "nothing ran");
}

/// A PostgreSQL server of the test's own, given to the harness by address over TCP
/// (`STRESS_PG_DSN`) as a server the run did not start: the adapter that runs it, kept until
/// the test ends (it stops the server when dropped), and its connection string.
fn given_server(options: &str) -> (stress_postgres::Postgres, String) {
    use stress_core::Adapter;
    let mut pg = stress_postgres::Postgres::managed()
        .password("net-faults")
        .setting("fsync", "off");
    pg.start(&stress_core::StartContext {
        databases: 1,
        out_dir: None,
        seed: 0,
        params: stress_core::params::Params::none(),
        setup: true,
        teardown: true,
        faults: &[],
    })
    .unwrap();
    let port = pg.server_port().unwrap();
    let dsn = format!("host=127.0.0.1 port={port} user=postgres password=net-faults dbname=stress_0 {options}");
    (pg, dsn)
}

/// Runs `durability_postgres` against `dsn` with `faults` for `duration`, and returns its
/// summary. A run that has not ended in two minutes is killed and fails the test: the hang
/// guard (the runs take seconds).
fn durability_postgres_run(dsn: &str, faults: &str, duration: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut cmd = harness_command();
    let mut child = cmd
        .args(["durability_postgres", "--exact", "--ignored"])
        .env("STRESS_PG_DSN", dsn)
        .env("STRESS_DURATION", duration)
        .env("STRESS_SEED", "7")
        .env("STRESS_FAULTS", faults)
        .env("STRESS_OUTPUT_DIR", &out)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > give_up {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run with {faults} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

/// The rows of a summary's faults, and that each was injected (no error, not skipped).
fn injected(s: &serde_json::Value) -> Vec<&serde_json::Value> {
    let faults: Vec<&serde_json::Value> = s["faults"].as_array().unwrap().iter().collect();
    for f in &faults {
        assert!(f["error"].is_null() && f["skipped"].is_null(), "{f}");
        assert!(f["target"].as_str().unwrap().starts_with("network 127.0.0.1:"), "{f}");
    }
    faults
}

/// Every error message of a run, joined.
fn errors(s: &serde_json::Value) -> String {
    s["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_network_delay_and_a_reset_into_a_given_server_lose_no_acknowledged_write() {
    let (_server, dsn) = given_server("");
    let s = durability_postgres_run(&dsn, "net-delay(250ms):3s@at=2s;net-reset@at=6s", "8s");
    let faults = injected(&s);
    println!("{}", serde_json::to_string_pretty(&s["faults"]).unwrap());
    assert_eq!(
        faults.iter().map(|f| f["kind"].as_str().unwrap()).collect::<Vec<_>>(),
        ["net-delay", "net-reset"]
    );
    assert_eq!(faults[0]["arg"]["ms"], 250, "{}", faults[0]);
    // The users' 5 connections (4 writers, 1 reader) were open when the reset came.
    let reset: u64 = faults[1]["check"]
        .as_str()
        .unwrap()
        .trim_start_matches("reset ")
        .trim_end_matches(" open connections")
        .parse()
        .unwrap();
    assert!(reset >= 5, "{}", faults[1]);
    // There and back, each way 250 ms: no op under the delay took less than half a second.
    let max = s["latency_us"]["max"].as_u64().unwrap();
    println!(
        "max latency {max} µs, {} ops, durability {}",
        s["total_ops"], s["durability"]
    );
    assert!(max >= 500_000, "{}", s["latency_us"]);
    assert_eq!(s["durability"]["lost"], 0, "{}", s["durability"]);
    assert_eq!(s["durability"]["unexpected"], 0, "{}", s["durability"]);
    assert!(s["durability"]["acknowledged"].as_u64().unwrap() > 0);
    assert_eq!(s["passed"], true, "{:?} {}", s["failures"], errors(&s));
}

#[test]
fn a_network_drop_longer_than_the_statement_timeout_ends_in_timeouts_not_a_hang() {
    // statement_timeout=1000 in the DSN: the wire client gives up 2 s after a statement.
    let (_server, dsn) = given_server("options='-c statement_timeout=1000'");
    let s = durability_postgres_run(&dsn, "net-drop:4s@at=1s", "7s");
    assert_eq!(injected(&s).len(), 1);
    let errors = errors(&s);
    println!("{} failed ops of {}; {errors}", s["failed_ops"], s["total_ops"]);
    assert!(
        errors.contains("timed out: no answer from the server in 2000 ms"),
        "{errors}"
    );
    // Every user was in an op when the network went: each timed out.
    assert!(s["failed_ops"].as_u64().unwrap() >= 5, "{}", s["failed_ops"]);
    assert_eq!(s["stop_reason"], "DurationElapsed");
    // A write whose answer never came is indeterminate, never lost.
    assert_eq!(s["durability"]["lost"], 0, "{}", s["durability"]);

    // The control: the same drop with no statement timeout. No user times out; each waits
    // through the drop for as long as the network holds its bytes (here the hold, 4 s; a real
    // network that never heals: for ever).
    let (_server, dsn) = given_server("");
    let s = durability_postgres_run(&dsn, "net-drop:4s@at=1s", "7s");
    assert_eq!(injected(&s).len(), 1);
    let errors = self::errors(&s);
    assert!(!errors.contains("timed out"), "{errors}");
    let max = s["latency_us"]["max"].as_u64().unwrap();
    println!("no timeout: max latency {max} µs");
    assert!(max >= 3_000_000, "{}", s["latency_us"]);
    assert_eq!(s["durability"]["lost"], 0, "{}", s["durability"]);
}
