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
