//! End-to-end: `cargo stress sweep` and `cargo stress matrix` on the fixture's `blobs` workload
//! (SQLite; a CHECK constraint refuses bodies over 3,000 bytes), and `--param` on `run`.
//!
//! Every iteration is a real run of the harness in its own directory. Nothing here depends on
//! timing: the breaking points come from the engine refusing a size, never from a latency.

#[path = "e2e_support.rs"]
mod support;

use std::path::Path;

use support::*;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The CSV as rows of fields (no field of these tests holds a quoted comma but `detail`, last
/// but one, which is cut off here).
fn csv(dir: &Path, name: &str) -> Vec<Vec<String>> {
    read(&dir.join(name))
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

fn column<'a>(rows: &'a [Vec<String>], name: &str) -> Vec<&'a str> {
    let i = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    rows[1..].iter().map(|r| r[i].as_str()).collect()
}

#[test]
fn a_sweep_stops_at_the_breaking_point_a_threshold_forces() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sweep");
    // Ops may fail (--max-error-rate 1): the threshold alone judges, and from size 4000 on every
    // insert is refused, so it breaks at iteration 4.
    let out = on_fixture(&[
        "sweep",
        "blobs",
        "--param",
        "size=1000..5000:1000",
        "--seed",
        "3",
        "--max-error-rate",
        "1",
        "--threshold",
        "error_rate<50%",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(4), "{stdout}{stderr}");
    assert_eq!(
        last_error(&out),
        "error: blobs broke at size=4000 (thresholds): threshold error_rate<50% breached: observed 100"
    );
    assert!(stderr.contains("sweep blobs: iter 2/5 size=2000: OK"), "{stderr}");
    assert!(
        stdout.contains("blobs: breaking point size=4000 (iter 4): thresholds"),
        "{stdout}"
    );
    assert!(stdout.contains("blobs: stability point size=3000 (iter 3)"), "{stdout}");

    let rows = csv(&out_dir, "sweep.csv");
    assert_eq!(&rows[0][..4], ["iter", "size", "status", "ops"]);
    assert_eq!(rows.len(), 5, "a header and 4 iterations: {rows:?}");
    assert_eq!(column(&rows, "size"), ["1000", "2000", "3000", "4000"]);
    assert_eq!(column(&rows, "status"), ["OK", "OK", "OK", "thresholds"]);
    assert_eq!(column(&rows, "ops"), ["6", "6", "6", "6"], "2 writers × 3 ops");
    assert_eq!(column(&rows, "failed_ops"), ["0", "0", "0", "6"]);
    assert_eq!(column(&rows, "client_bytes"), ["1000", "2000", "3000", ""]);
    assert_eq!(column(&rows, "db_bytes"), ["1000", "2000", "3000", ""]);
    assert!(column(&rows, "write_ms")[..3].iter().all(|v| v.parse::<f64>().is_ok()));
    assert!(column(&rows, "read_ms")[..3].iter().all(|v| v.parse::<f64>().is_ok()));
    assert!(
        column(&rows, "process_peak_mb")
            .iter()
            .all(|v| v.parse::<f64>().is_ok_and(|x| x >= 0.0))
    );
    assert_eq!(column(&rows, "dir")[3], "iter-004");
    for i in 1..=4 {
        assert!(out_dir.join(format!("iter-00{i}/summary.json")).is_file());
    }
    assert!(
        !out_dir.join("iter-005").exists(),
        "nothing runs after the breaking point"
    );
    let replay: serde_json::Value = serde_json::from_str(&read(&out_dir.join("iter-002/replay.json"))).unwrap();
    assert_eq!(
        replay["config"]["params"],
        serde_json::json!({"size": 2000, "fill": "zeros"})
    );
    assert_eq!(replay["seed"], 3, "every iteration runs with the same seed");

    let md = read(&out_dir.join("sweep.md"));
    for part in [
        "# Sweep of blobs over size",
        "4 of 5 iterations ran, 3 OK. Stopped: after the breaking point",
        "- Breaking point: **size=4000** (iter 4): thresholds — threshold error_rate<50% breached: observed 100",
        "- Stability point: **size=3000** (iter 3)",
        "- Optimal efficiency point: **size=",
        "| # | size | status | ops/s | rows/s | p50 | p99 | write | read | client bytes | db bytes | RSS peak Δ |",
        "| 4 | 4000 | **thresholds** |",
        "## Scaling",
        "- size 1000→3000 (3 points): rows/s ×",
        "| workload | blobs (package shop, test `stress`, adapter sqlite) |",
        "| command | `cargo stress sweep --manifest-path ",
        "| seed | 3 (the same for every iteration) |",
        "| build profile | dev (--debug) |",
        "| parameters (defaults) | size=1000 (whole number), fill=zeros (one of zeros, random) |",
        "| users (first iteration) | writer=2 |",
        "| length | 3 ops per user |",
        "| thresholds | `error_rate<50%` |",
        "| varies | `size=1000..5000:1000` (5 values) |",
        "| after the breaking point | stops there |",
    ] {
        assert!(md.contains(part), "missing {part:?} in sweep.md:\n{md}");
    }
}

#[test]
fn a_sweep_goes_on_when_asked_and_its_breaking_iteration_replays() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sweep");
    let out = on_fixture(&[
        "sweep",
        "blobs",
        "--param",
        "size=2500..4500:1000",
        "--param",
        "fill=random",
        "--continue",
        "--efficiency",
        "bytes_per_sec",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    let rows = csv(&out_dir, "sweep.csv");
    assert_eq!(column(&rows, "status"), ["OK", "errors", "errors"], "{rows:?}");
    assert_eq!(column(&rows, "db_bytes"), ["2500", "", ""]);
    let md = read(&out_dir.join("sweep.md"));
    for part in [
        "3 of 3 iterations ran, 1 OK.",
        "- Breaking point: **size=3500** (iter 2): errors — 6 of 6 ops failed",
        "CHECK constraint failed",
        "- Stability point: **size=2500** (iter 1)",
        "- Optimal efficiency point: **size=2500** (iter 1): ",
        "| fixed | `fill=random` |",
        "| efficiency | bytes_per_sec |",
        "| after the breaking point | runs on (--continue) |",
    ] {
        assert!(md.contains(part), "missing {part:?} in sweep.md:\n{md}");
    }
    // The breaking iteration is a run like any other: cargo stress replay repeats it.
    let again = dir.path().join("again");
    let out = cargo_stress(&[
        "replay",
        out_dir.join("iter-002").to_str().unwrap(),
        "--debug",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert!(
        text(&out.stdout).contains("op_digest: 2 of 2 users match"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(summary(&again)["failed_ops"], 6);
}

#[test]
fn a_two_by_two_matrix_has_a_row_per_cell_and_a_scaling_verdict_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("matrix");
    let out = on_fixture(&[
        "matrix",
        "blobs",
        "--param",
        "size=1000,2000",
        "--param",
        "fill=zeros,random",
        "--param",
        "users=3",
        "--seed",
        "8",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let rows = csv(&out_dir, "matrix.csv");
    assert_eq!(&rows[0][..5], ["cell", "size", "fill", "status", "ops"]);
    assert_eq!(rows.len(), 5, "{rows:?}");
    let cells: Vec<String> = rows[1..].iter().map(|r| format!("{} {}", r[1], r[2])).collect();
    assert_eq!(cells, ["1000 zeros", "1000 random", "2000 zeros", "2000 random"]);
    assert_eq!(column(&rows, "status"), ["OK"; 4]);
    assert_eq!(column(&rows, "ops"), ["9"; 4], "users=3: 3 writers × 3 ops");
    assert_eq!(column(&rows, "db_bytes"), ["1000", "1000", "2000", "2000"]);
    for i in 1..=4 {
        let replay: serde_json::Value =
            serde_json::from_str(&read(&out_dir.join(format!("cell-00{i}/replay.json")))).unwrap();
        assert_eq!(replay["config"]["users"], serde_json::json!([["writer", 3]]));
    }
    let md = read(&out_dir.join("matrix.md"));
    for part in [
        "# Matrix of blobs over size × fill",
        "4 of 4 cells ran, 4 OK.",
        "- Cells that did not hold: none",
        "| # | size | fill | status |",
        "| 4 | 2000 | random | OK |",
        "## Scaling",
        "- size (fill=zeros) 1000→2000 (2 points): rows/s ×",
        "- size (fill=random) 1000→2000 (2 points): rows/s ×",
        "| fixed | `users=3` |",
    ] {
        assert!(md.contains(part), "missing {part:?} in matrix.md:\n{md}");
    }
    let verdicts = md.lines().filter(|l| l.starts_with("- size (")).count();
    assert_eq!(verdicts, 2, "one verdict per series; fill is not a number: {md}");
    assert!(
        md.lines()
            .filter(|l| l.starts_with("- size ("))
            .all(|l| l.ends_with("linear within 20%") || l.contains("WORSE THAN LINEAR (")),
        "{md}"
    );
}

#[test]
fn run_takes_parameters_from_flags_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let flagged = dir.path().join("flagged");
    let out = on_fixture(&[
        "run",
        "blobs",
        "--param",
        "size=2500",
        "--param",
        "fill=random",
        "--ops-per-user",
        "1",
        "--out",
        flagged.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replay: serde_json::Value = serde_json::from_str(&read(&flagged.join("replay.json"))).unwrap();
    assert_eq!(
        replay["config"]["params"],
        serde_json::json!({"size": 2500, "fill": "random"})
    );
    let s = summary(&flagged);
    assert_eq!(s["figures"]["db_bytes"]["mean"], 2500.0);
    assert_eq!(s["phases"]["write"]["count"], 2);

    let from_env = dir.path().join("env");
    let out = on_fixture_with(
        &[
            "run",
            "blobs",
            "--ops-per-user",
            "1",
            "--out",
            from_env.to_str().unwrap(),
        ],
        &[("STRESS_PARAM_SIZE", "1500")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(summary(&from_env)["figures"]["db_bytes"]["mean"], 1500.0);
}

#[test]
fn bad_sweep_input_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never");
    let never_s = never.to_str().unwrap();
    let busy = dir.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["sweep", "blobs", "--param", "size=1000..4500:1000"],
            "size: range `1000..4500:1000` does not reach its end: from 1000 by 1000 the values go 4000, 5000, past 4500",
        ),
        (
            vec!["sweep", "blobs", "--param", "size="],
            "size: the list of values is empty",
        ),
        (
            vec!["sweep", "blobs", "--param", "size=1,,2"],
            "has an empty value in its list",
        ),
        (
            vec!["sweep", "blobs", "--param", "nope=1,2"],
            "workload `blobs`: parameter `nope` is not declared by the workload (its parameters: size, fill; users and rate set the load)",
        ),
        (
            vec!["sweep", "tick", "--param", "size=1,2"],
            "workload `tick`: parameter `size` is not declared by the workload (its parameters: none;",
        ),
        (
            vec!["sweep", "blobs", "--param", "fill=zeros,plaid"],
            "parameter `fill` takes one of zeros, random, not `plaid`",
        ),
        (
            vec!["sweep", "blobs", "--param", "size=1k,lots"],
            "parameter `size` takes a whole number (like 10000, 10_000 or 10k), not `lots`",
        ),
        (
            vec!["sweep", "blobs", "--param", "users=0,1"],
            "users takes a whole number of users above 0, not `0`",
        ),
        (
            vec!["sweep", "blobs", "--param", "size=1,2", "--param", "fill=zeros,random"],
            "a sweep varies one parameter, and size, fill vary: use cargo stress matrix",
        ),
        (
            vec!["sweep", "blobs", "--param", "size=1000"],
            "a sweep needs one parameter with several values",
        ),
        (
            vec!["matrix", "blobs", "--param", "size=1000"],
            "a matrix needs parameters with several values",
        ),
        (
            vec!["sweep", "blobs", "--param", "users=1,2", "--users", "writer=1"],
            "--param users sets the users: leave out --users and --stages",
        ),
        (
            vec!["sweep", "nothing", "--param", "size=1,2"],
            "no workload is named `nothing`: the workloads are blobs, broken_verify, checkout, stall, tick",
        ),
        (
            vec!["run", "blobs", "--param", "size=1,2"],
            "run takes one value per parameter (`size=1,2` has 2)",
        ),
        (
            vec!["run", "checkout", "--param", "size=5"],
            "workload `checkout`: parameter `size` is not declared by the workload",
        ),
        (
            // Only the harness can tell: the first iteration does not start.
            vec!["sweep", "blobs", "--param", "size=1,2", "--threshold", "p99[nope]<1ms"],
            "workload `blobs` did not start: threshold `p99[nope]<1ms` names op `nope`, which the workload does not have (its ops: put)",
        ),
    ];
    for (mut args, expect) in cases {
        args.extend(["--out", never_s]);
        let out = on_fixture(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        // One error line (clap adds a usage hint below its own).
        let err = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default();
        assert!(err.contains(expect), "{args:?}: {stderr}");
        assert!(!never.exists(), "{args:?} left {}", never.display());
    }
    let out = on_fixture(&[
        "matrix",
        "blobs",
        "--param",
        "size=1,2",
        "--out",
        busy.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        last_error(&out).contains("is not empty: give --out a new or empty directory"),
        "{}",
        last_error(&out)
    );
    assert_eq!(
        std::fs::read_dir(&busy).unwrap().count(),
        1,
        "the busy directory is left as it was"
    );
}

#[test]
fn an_iteration_that_outlives_its_timeout_is_stopped_and_is_the_breaking_point() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sweep");
    let out = on_fixture(&[
        "sweep",
        "stall",
        "--param",
        "size=1..3:1",
        "--seed",
        "5",
        "--iteration-timeout",
        "2s",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let rows = csv(&out_dir, "sweep.csv");
    assert_eq!(column(&rows, "status"), ["OK", "timeout"], "{rows:?}");
    let md = read(&out_dir.join("sweep.md"));
    assert!(
        md.contains("still running after") && md.contains("--iteration-timeout"),
        "{md}"
    );
    assert!(
        out_dir.join("iter-002/summary.json").is_file(),
        "the stopped run wrote its reports"
    );
}
