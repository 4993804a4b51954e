//! Below the process: the durability workload on the fault filesystem, through its harness
//! binary. Each "0 lost" has a positive control that must fail the same way the bug would:
//! PostgreSQL with `fsync=off`, SQLite with `synchronous=OFF`. Needs root, mount namespaces and
//! /dev/fuse (skipped with a line saying why where they are missing).
//!
//! Run counts stay modest (each run one short `every=` schedule) and nothing asserts a time:
//! a busy machine injects fewer faults per second, so each run is long enough for 20 on a slow
//! one and its count is asserted, not its pace.

use std::path::PathBuf;
use std::process::Command;

fn harness() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_durability-stress"))
}

/// Whether this machine can make the fault filesystem; if not, says why.
fn can() -> bool {
    match stress_core::faultfs::can_create() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipped: {e}");
            false
        }
    }
}

struct Run {
    ok: bool,
    said: String,
    summary: serde_json::Value,
    _dir: tempfile::TempDir,
}

impl Run {
    fn faults(&self, kind: &str) -> Vec<&serde_json::Value> {
        self.summary["faults"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|f| f["kind"] == kind && f["skipped"].is_null())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn lost(&self) -> u64 {
        self.summary["durability"]["lost"].as_u64().unwrap_or(0)
    }

    /// One line of figures, for the test's output and the README.
    fn figures(&self, what: &str) -> String {
        let d = &self.summary["durability"];
        let mut injected = std::collections::BTreeMap::<String, usize>::new();
        for f in self.summary["faults"].as_array().into_iter().flatten() {
            if f["skipped"].is_null() && f["error"].is_null() {
                *injected
                    .entry(f["kind"].as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
            }
        }
        format!(
            "{what}: exit {}, injected {injected:?}, acknowledged {}, lost {}, unexpected {}, recovered {}",
            if self.ok { "0" } else { "non-zero" },
            d["acknowledged"],
            d["lost"],
            d["unexpected"],
            d["recovered"]
        )
    }
}

fn run(workload: &str, duration: &str, faults: &str, env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut cmd = Command::new(harness());
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") {
            cmd.env_remove(k);
        }
    }
    cmd.args([workload, "--exact", "--ignored"])
        .env("STRESS_DURATION", duration)
        .env("STRESS_SEED", "31")
        .env("STRESS_OUTPUT_DIR", &out);
    if !faults.is_empty() {
        cmd.env("STRESS_FAULTS", faults);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let done = cmd.output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    let summary = std::fs::read_to_string(out.join("summary.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null);
    Run {
        ok: done.status.success(),
        said,
        summary,
        _dir: dir,
    }
}

/// Every injected fault of `kind` worked, and there were at least `min`.
fn assert_injected(r: &Run, kind: &str, min: usize) {
    let rows = r.faults(kind);
    assert!(
        rows.len() >= min,
        "{} `{kind}` faults, want {min}: {}",
        rows.len(),
        r.summary["faults"]
    );
    for f in rows {
        assert!(f["error"].is_null(), "{f}");
    }
}

#[test]
fn postgres_loses_nothing_over_power_losses_and_loses_writes_with_fsync_off() {
    if !can() {
        return;
    }
    let faults = "power-loss@every=200ms..400ms";
    // Long enough for 20 on a busy machine (a cycle took 1.4 s to 4 s here).
    let r = run("durability_postgres", "100s", faults, &[]);
    eprintln!("{}", r.figures("postgres, defaults"));
    assert!(r.ok, "{}", r.said);
    assert_injected(&r, "power-loss", 20);
    for f in r.faults("power-loss") {
        let check = f["check"].as_str().unwrap_or_default();
        assert!(check.contains("dropped") && check.contains("recovered"), "{f}");
    }
    assert_eq!(r.lost(), 0, "{}", r.summary["durability"]);
    assert_eq!(r.summary["durability"]["unexpected"], 0);

    // The positive control: the same run with fsync=off must lose acknowledged writes (or a
    // cluster that no longer recovers), and fail.
    let c = run(
        "durability_postgres",
        "20s",
        faults,
        &[("STRESS_PG_SETTINGS", "fsync=off")],
    );
    eprintln!("{}", c.figures("postgres, fsync=off"));
    assert!(!c.ok, "fsync=off must fail the run: {}", c.said);
    // What it does here: the lock file, written and never fsynced, is empty after the first
    // cut, and the server refuses to start on the cluster (`lock file "postmaster.pid" is
    // empty`): the run stops as a crash. Where it does start, writes are lost.
    assert!(
        c.lost() > 0 || c.said.contains("crash detected"),
        "{}\n{}",
        c.summary["durability"],
        c.said
    );
}

#[test]
fn postgres_survives_torn_writes_and_says_what_a_failed_fsync_did() {
    if !can() {
        return;
    }
    let r = run(
        "durability_postgres",
        "25s",
        // In order of their times: faults are injected one after another.
        "fsync-error@at=500ms;io-delay(2ms):1s@at=1s;power-loss:torn@every=1s..2s",
        // The commit whose WAL fsync failed fails too (PostgreSQL PANICs): an error, not a loss.
        &[("STRESS_MAX_ERROR_RATE", "0.01")],
    );
    eprintln!("{}", r.figures("postgres, torn writes, an fsync error and an io delay"));
    for f in r.summary["faults"].as_array().into_iter().flatten() {
        eprintln!("  {} {}: {}", f["kind"], f["target"], f["check"]);
    }
    assert!(r.ok, "{}", r.said);
    assert_injected(&r, "power-loss:torn", 3);
    assert!(
        r.faults("power-loss:torn")
            .iter()
            .any(|f| f["check"].as_str().is_some_and(|c| c.contains("tore the last write"))),
        "{}",
        r.summary["faults"]
    );
    let fsync = r.faults("fsync-error");
    assert_eq!(fsync.len(), 1, "{}", r.summary["faults"]);
    let check = fsync[0]["check"].as_str().unwrap_or_default();
    assert!(
        check.starts_with("fsync of ") && check.contains("failed with EIO"),
        "{check}"
    );
    // What PostgreSQL does (since 12, data_sync_retry=off): PANIC, then crash recovery from WAL.
    assert!(check.contains("PANIC"), "{check}");
    assert_eq!(r.faults("io-delay").len(), 1);
    assert_eq!(r.lost(), 0, "{}", r.summary["durability"]);
}

#[test]
fn sqlite_full_loses_nothing_over_power_losses_and_off_loses_writes() {
    if !can() {
        return;
    }
    let faults = "power-loss@every=200ms..400ms;power-loss:torn@every=1s..2s";
    let r = run(
        "durability_sqlite",
        "45s",
        faults,
        &[("STRESS_SQLITE_PRAGMAS", "synchronous=FULL")],
    );
    eprintln!("{}", r.figures("sqlite WAL, synchronous=FULL"));
    assert!(r.ok, "{}", r.said);
    assert_injected(&r, "power-loss", 20);
    for f in r.faults("power-loss").into_iter().chain(r.faults("power-loss:torn")) {
        assert!(
            f["check"].as_str().unwrap_or_default().ends_with("integrity_check: ok"),
            "{f}"
        );
    }
    assert_eq!(r.lost(), 0, "{}", r.summary["durability"]);
    assert_eq!(r.summary["durability"]["unexpected"], 0);

    let c = run(
        "durability_sqlite",
        "15s",
        faults,
        &[("STRESS_SQLITE_PRAGMAS", "synchronous=OFF")],
    );
    eprintln!("{}", c.figures("sqlite WAL, synchronous=OFF"));
    assert!(!c.ok, "synchronous=OFF must fail the run: {}", c.said);
    assert!(
        c.lost() > 0 || c.said.contains("no such table"),
        "{}\n{}",
        c.summary["durability"],
        c.said
    );
}

/// WAL with `synchronous=NORMAL` (the adapter's default): SQLite documents that a power loss
/// may roll back the last commits but leaves the database consistent. Measured: the figures
/// are printed; what must hold is the consistency (every check `ok`, nothing unexpected).
#[test]
fn sqlite_wal_normal_stays_consistent_over_power_losses() {
    if !can() {
        return;
    }
    let r = run("durability_sqlite", "20s", "power-loss@every=200ms..400ms", &[]);
    eprintln!("{}", r.figures("sqlite WAL, synchronous=NORMAL"));
    assert_injected(&r, "power-loss", 5);
    for f in r.faults("power-loss") {
        assert!(
            f["check"].as_str().unwrap_or_default().ends_with("integrity_check: ok"),
            "{f}"
        );
    }
    assert_eq!(r.summary["durability"]["unexpected"], 0, "{}", r.summary["durability"]);
}

#[test]
fn settings_that_do_not_parse_or_that_the_engine_rejects_are_refused_before_anything_starts() {
    for (workload, var, value, names) in [
        (
            "durability_postgres",
            "STRESS_PG_SETTINGS",
            "fsync",
            "`fsync` has no `=`",
        ),
        (
            "durability_postgres",
            "STRESS_PG_SETTINGS",
            "fsynk=off",
            "no setting `fsynk`",
        ),
        (
            "durability_postgres",
            "STRESS_PG_SETTINGS",
            "fsync=maybe",
            "`fsync=maybe` is not a boolean",
        ),
        (
            "durability_sqlite",
            "STRESS_SQLITE_PRAGMAS",
            "synchronous=SOMETIMES",
            "is not a level",
        ),
        (
            "durability_sqlite",
            "STRESS_SQLITE_PRAGMAS",
            "synchronus=OFF",
            "no pragma `synchronus`",
        ),
    ] {
        let r = run(workload, "3s", "", &[(var, value)]);
        assert!(!r.ok, "{var}={value}: {}", r.said);
        let line = r.said.lines().find(|l| l.contains(var)).unwrap_or_default();
        assert!(line.contains(names), "{var}={value}: {}", r.said);
        assert!(r.summary.is_null(), "{var}={value}: nothing ran");
    }
}
