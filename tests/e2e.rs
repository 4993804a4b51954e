//! End-to-end: the real `cargo stress` binary on a fixture crate outside the workspace
//! (`tests/fixtures/shop`, its own `Cargo.toml` pointing at the path dependencies).
//!
//! Builds use `--debug` to keep the suite quick; the fixture's target directory sits beside
//! this workspace's so that its build is reused from run to run. Ctrl-C is pressed as a
//! terminal presses it (SIGINT to the process group), after an event the run printed.

#[path = "e2e_support.rs"]
mod support;

use std::path::Path;

use support::*;

#[test]
fn list_shows_every_workload_with_package_target_and_defaults() {
    let out = on_fixture(&["list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("WORKLOAD"), "{stdout}");
    assert_eq!(lines.len(), 8, "{stdout}");
    // The fixture's `plain` bench is harness = false but not a stress harness: never run.
    assert!(!stdout.contains("plain"), "{stdout}");
    let checkout = lines.iter().find(|l| l.starts_with("checkout")).unwrap();
    for part in ["shop", "test stress", "sqlite", "5s", "shopper=2,auditor=1"] {
        assert!(checkout.contains(part), "{checkout}");
    }
    assert!(stdout.contains("ignored by cargo test"), "{stdout}");

    let out = on_fixture(&["list", "--format", "json"]);
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["acked", "blobs", "broken_verify", "checkout", "lookup", "stall", "tick"]
    );
    assert_eq!(list[3]["package"], "shop");
    assert_eq!(list[3]["kind"], "test");
    assert_eq!(list[3]["info"]["options"]["duration_ms"], 5000);
    assert_eq!(list[3]["info"]["params"], serde_json::json!([]));
    assert_eq!(
        list[1]["info"]["params"],
        serde_json::json!([
            {"name": "size", "kind": "int", "default": 1000},
            {"name": "fill", "kind": "text", "default": "zeros", "choices": ["zeros", "random"]},
        ])
    );
    let blobs = lines.iter().find(|l| l.starts_with("blobs")).unwrap();
    assert!(blobs.contains("params size=1000,fill=zeros"), "{blobs}");
    assert!(
        blobs.contains("3 ops/user"),
        "an op limit, not a default duration: {blobs}"
    );
}

#[test]
fn users_as_a_total_are_spread_over_the_classes() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let out = on_fixture(&[
        "run",
        "checkout",
        "--seed",
        "5",
        "--ops-per-user",
        "2",
        "--users",
        "6",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let s = summary(&out_dir);
    let classes: Vec<&str> = s["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes.len(), 6, "{classes:?}");
    // checkout's classes are shopper=2, auditor=1: 6 users keep that proportion.
    assert_eq!(classes.iter().filter(|c| **c == "shopper").count(), 4, "{classes:?}");
}

#[test]
fn run_with_a_seed_and_an_op_limit_then_replay_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    // What cargo stress hands the harness beats what the shell holds: an output directory and
    // a replay file left in the environment change nothing.
    let out = on_fixture_with(
        &[
            "run",
            "checkout",
            "--seed",
            "5",
            "--ops-per-user",
            "6",
            "--users",
            "shopper=3",
            "--out",
            first.to_str().unwrap(),
        ],
        &[
            ("STRESS_OUTPUT_DIR", "/nonexistent/elsewhere"),
            ("STRESS_REPLAY_FILE", "/nonexistent/replay.json"),
            ("STRESS_PROGRESS", "off"),
        ],
    );
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let s = summary(&first);
    assert_eq!(s["seed"], 5);
    assert_eq!(s["stop_reason"], "OpLimit");
    assert_eq!(s["total_ops"], 4 * 6);
    assert_eq!(s["passed"], true);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("checkout  OpLimit"), "{stdout}");
    assert!(stdout.contains(&format!("checkout: {}", first.display())), "{stdout}");
    assert!(
        text(&out.stderr).contains("checkout: 4 users, seed 5"),
        "{}",
        text(&out.stderr)
    );
    let replay: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(first.join("replay.json")).unwrap()).unwrap();
    assert_eq!(replay["origin"]["package"], "shop");
    assert_eq!(replay["origin"]["target"], "stress");

    let second = dir.path().join("second");
    let out = cargo_stress(&[
        "replay",
        first.to_str().unwrap(),
        "--debug",
        "--out",
        second.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("op_digest: 4 of 4 users match"),
        "{}",
        text(&out.stdout)
    );
    let digests = |s: &serde_json::Value| {
        s["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["op_digest"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(digests(&summary(&second)), digests(&s));
}

#[test]
fn default_output_goes_under_the_target_directory_with_a_latest_link() {
    let out = on_fixture(&["run", "tick", "--exact", "--ops-per-user", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let base = fixture_target().join("stress/tick");
    let latest = std::fs::read_link(base.join("latest")).unwrap();
    let s = summary(&base.join(&latest));
    assert_eq!(s["workload"], "tick");
    assert_eq!(s["total_ops"], 6);
}

/// A workload whose verify step fails exits 1, and its reports say why: the run itself ran
/// to its op limit, only the verify step failed.
#[test]
fn a_failing_workload_exits_1_with_its_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("broken");
    let out = on_fixture(&[
        "run",
        "broken_verify",
        "--ops-per-user",
        "1",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("broken_verify: verify step failed: database 0: the ledger says 1, the engine says 0"),
        "{stdout}"
    );
    assert!(stdout.contains("broken_verify  OpLimit"), "{stdout}");
    assert_eq!(last_error(&out), "error: 1 of 1 workloads failed: broken_verify");
    let s = summary(&out_dir);
    assert_eq!(s["stop_reason"], "OpLimit", "{s}");
    assert_eq!(s["passed"], false);
    assert_eq!(
        (&s["total_ops"], &s["failed_ops"]),
        (&1.into(), &0.into()),
        "one user, one op"
    );
    assert_eq!(
        s["verify"],
        serde_json::json!({
            "ran": true,
            "passed": false,
            "errors": ["database 0: the ledger says 1, the engine says 0"],
        })
    );
    assert_eq!(
        s["failures"],
        serde_json::json!([{
            "kind": "verify",
            "errors": ["database 0: the ledger says 1, the engine says 0"],
            "message": "verify step failed: database 0: the ledger says 1, the engine says 0",
        }])
    );
    let replay = read_json(&out_dir.join("replay.json"));
    assert_eq!(replay["stop_reason"], "OpLimit");
    assert_eq!(replay["config"]["ops_per_user"], 1);
    assert_eq!(timeseries_ops(&out_dir), 1, "timeseries.csv counts the op");
}

#[test]
fn bad_flags_are_usage_errors_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never");
    let never_s = never.to_str().unwrap();
    let cases: [(&[&str], &str); 8] = [
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (
            &["run", "--junit", "/nonexistent/dir/junit.xml"],
            "--junit /nonexistent/dir/junit.xml: give a file in a directory that exists",
        ),
        (&["run", "--frobnicate"], "unexpected argument '--frobnicate'"),
        (&["run", "--duration", "abc"], "`abc` is not a duration"),
        (
            &["run", "--users", "reader=x"],
            "like `inserter=4,reader=3`, or a total like 10",
        ),
        (&["run", "--users", "0"], "`0` users: give a total above 0"),
        (
            &["run", "--fault", "pause@at=1s"],
            "fault `pause@at=1s` says not how long `pause` lasts",
        ),
        (&["run", "--fault", "explode@at=1s"], "has no kind `explode`"),
    ];
    for (args, expect) in cases {
        let mut args = args.to_vec();
        args.extend(["--out", never_s]);
        let out = cargo_stress(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(expect), "{args:?}: {}", text(&out.stderr));
        assert!(!never.exists(), "{args:?} left an output directory");
    }
    for (args, expect) in [
        (
            vec!["run", "nothing_like_this", "--out", never_s],
            "no workload matches nothing_like_this: the workloads are acked, blobs, broken_verify, checkout, lookup, stall, tick",
        ),
        (
            vec!["run", "checkout", "--users", "auditor=1,clerk=2", "--out", never_s],
            "class `clerk`, which this workload does not have",
        ),
        (
            vec!["run", "-p", "nope"],
            "package `nope` is not in this workspace (its packages: shop)",
        ),
        (
            vec!["run", "checkout", "--fault", "pause:1s@at=1s", "--out", never_s],
            "sqlite cannot inject `pause` faults: it injects none",
        ),
        (
            vec![
                "run",
                "checkout",
                "--fault",
                "pause:1s@at=9s",
                "--duration",
                "2s",
                "--out",
                never_s,
            ],
            "fault pause@at=9s is at or after the run's end (2s)",
        ),
    ] {
        let out = on_fixture(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        let err = last_error(&out);
        assert!(err.starts_with("error: ") && err.contains(expect), "{args:?}: {err}");
        assert!(!never.exists(), "{args:?} left an output directory");
    }
}

#[test]
fn a_path_that_is_not_a_cargo_project_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = cargo_stress_in(&["list"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        last_error(&out).contains("is not a cargo project"),
        "{}",
        last_error(&out)
    );
    let out = cargo_stress(&[
        "list",
        "--manifest-path",
        dir.path().join("Cargo.toml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        last_error(&out).contains("does not exist: give the path of a Cargo.toml"),
        "{}",
        last_error(&out)
    );
}

#[test]
fn bad_replay_files_are_usage_errors_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good");
    let out = on_fixture(&[
        "run",
        "tick",
        "--exact",
        "--ops-per-user",
        "1",
        "--out",
        good.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let recorded = std::fs::read_to_string(good.join("replay.json")).unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let cases = [
        (dir.path().join("missing.json"), "cannot be read"),
        (write("malformed.json", "[1, 2"), "is not valid"),
        (
            write(
                "newer.json",
                &recorded.replace("\"format_version\": 1", "\"format_version\": 2"),
            ),
            "has format_version 2, this build reads 1",
        ),
        (
            write(
                "gone.json",
                &recorded.replace("\"workload\": \"tick\"", "\"workload\": \"tock\""),
            ),
            "workload `tock` no longer exists in test `stress` (it has: acked, blobs, broken_verify, checkout, lookup, stall, tick)",
        ),
    ];
    for (path, expect) in cases {
        let never = dir.path().join("never");
        let out = cargo_stress(&[
            "replay",
            path.to_str().unwrap(),
            "--debug",
            "--out",
            never.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{}: {}", path.display(), text(&out.stderr));
        let err = last_error(&out);
        assert!(err.starts_with("error: ") && err.contains(expect), "{err}");
        assert!(!never.exists());
    }
    // Replaying into the original directory is refused; the original stays as it was.
    let out = cargo_stress(&[
        "replay",
        good.to_str().unwrap(),
        "--debug",
        "--out",
        good.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(last_error(&out).contains("already holds a run"), "{}", last_error(&out));
    assert_eq!(std::fs::read_to_string(good.join("replay.json")).unwrap(), recorded);
}

#[test]
fn a_build_failure_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let core = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../stress-core")
        .canonicalize()
        .unwrap();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n\
             [dependencies]\nstress-core = {{ path = {:?} }}\n\n[[test]]\nname = \"stress\"\nharness = false\n",
            core.display().to_string()
        ),
    )
    .unwrap();
    std::fs::copy(fixture().with_file_name("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), "").unwrap();
    std::fs::write(
        dir.path().join("tests/stress.rs"),
        "fn main() -> std::process::ExitCode { stress_core::main( }\n",
    )
    .unwrap();
    let manifest = dir.path().join("Cargo.toml");
    let out = cargo_stress(&["run", "--debug", "--manifest-path", manifest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: mismatched closing delimiter")
            || stderr.contains("error: this file contains an unclosed delimiter"),
        "compiler output shown: {stderr}"
    );
    assert_eq!(
        last_error(&out),
        "error: build of package `broken` failed (cargo said why above)"
    );
}

#[test]
fn an_open_loop_run_with_thresholds_exits_4_when_only_a_threshold_breaks() {
    let dir = tempfile::tempdir().unwrap();
    let held = dir.path().join("held");
    let out = on_fixture(&[
        "run",
        "tick",
        "--exact",
        "--rate",
        "200",
        "--arrival",
        "uniform",
        "--duration",
        "2s",
        "--warmup",
        "500ms",
        "--threshold",
        "p99<10s",
        "--threshold",
        "error_rate<1%",
        "--out",
        held.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let s = summary(&held);
    assert_eq!(s["thresholds"].as_array().unwrap().len(), 2);
    assert!(s["late_ops"].is_u64() && s["service_us"]["count"].as_u64().unwrap() > 0);
    assert!(
        text(&out.stdout).contains("tick: threshold p99<10s held"),
        "{}",
        text(&out.stdout)
    );

    let broken = dir.path().join("broken");
    let junit = dir.path().join("junit.xml");
    let out = on_fixture(&[
        "run",
        "tick",
        "--exact",
        "--rate",
        "100",
        "--duration",
        "2s",
        "--threshold",
        "ops_per_sec>100000000",
        "--threshold",
        "error_rate<1%",
        "--out",
        broken.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--summary-md",
        dir.path().join("summary.md").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("threshold ops_per_sec>100000000 breached: observed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(summary(&broken)["passed"], false);
    // The JUnit report: one suite, a case per checker's section (the run, the error rate, each
    // threshold, the schedule delivered, the stall), the breached threshold failed with what was
    // observed; the seed and the replay command as properties.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(report.test_suites.len(), 1, "{xml}");
    let suite = &report.test_suites[0];
    assert_eq!(suite.name.as_str(), "tick");
    let cases: Vec<(&str, bool)> = suite
        .test_cases
        .iter()
        .map(|c| {
            let ok = matches!(c.status, quick_junit::TestCaseStatus::Success { .. });
            (c.name.as_str(), ok)
        })
        .collect();
    assert_eq!(
        cases,
        [
            ("run", true),
            ("error rate", true),
            ("threshold ops_per_sec>100000000", false),
            ("threshold error_rate<1%", true),
            ("delivered", true),
            ("stall", true)
        ],
        "{xml}"
    );
    let quick_junit::TestCaseStatus::NonSuccess {
        message: Some(message), ..
    } = &suite.test_cases[2].status
    else {
        panic!("a failure with a message: {xml}");
    };
    let message = message.as_str();
    assert!(
        message.starts_with("threshold ops_per_sec>100000000 breached: observed "),
        "{message}"
    );
    let property = |name: &str| {
        suite
            .properties
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.value.as_str().to_owned())
    };
    assert_eq!(property("seed"), Some(summary(&broken)["seed"].to_string()));
    assert_eq!(
        property("replay"),
        Some(format!("cargo stress replay {}", broken.display()))
    );
    // The markdown summary for a CI step: the table row, the failure, the thresholds.
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    for part in [
        "## cargo stress: 0 of 1 workloads passed",
        "| tick | **FAIL** | DurationElapsed |",
        "### tick",
        "- failed: threshold ops\\_per\\_sec>100000000 breached: observed ",
        "- **failed**: threshold ops\\_per\\_sec>100000000 breached: observed ",
        "- ok: threshold error\\_rate<1% held: observed 0%",
        "- ok: run: ",
        &format!("replay: `cargo stress replay {}`", broken.display()),
    ] {
        assert!(md.contains(part), "missing {part:?} in:\n{md}");
    }
}

/// Bad load flags are refused with exit code 2, and nothing is written: neither by `cargo
/// stress` (flags clap refuses) nor by the harness (a threshold only the harness can check).
#[test]
fn bad_load_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never");
    let never_s = never.to_str().unwrap();
    for (args, expect) in [
        (vec!["run", "--rate", "0"], "`0` is not a rate"),
        (vec!["run", "--rate", "abc"], "`abc` is not a rate"),
        (vec!["run", "--stages", "10s"], "`10s` is not a stage"),
        (vec!["run", "--latency-limit", "100ms"], "--rate"),
        (vec!["run", "--arrival", "bursty"], "invalid value 'bursty'"),
    ] {
        let mut args = args;
        args.extend(["--out", never_s]);
        let out = cargo_stress(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(expect), "{args:?}: {}", text(&out.stderr));
        assert!(!never.exists(), "{args:?} left an output directory");
    }
    let out = on_fixture(&["run", "tick", "--threshold", "p99[nope]<5ms", "--out", never_s]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        last_error(&out).contains("names op `nope`, which the workload does not have (its ops: tick)"),
        "{}",
        last_error(&out)
    );
    assert!(!never.exists(), "the refused run left an output directory");
}

/// Ctrl-C during `cargo stress run` (SIGINT to its process group, as a terminal sends it):
/// the users stop, the verify step still runs, every report is written and says
/// `Interrupted`, and the exit code is 1 (the guide, docs/guide/src/exit-codes.md: Ctrl-C is a
/// failure). The run is 10 minutes long: nothing but the Ctrl-C ends it while the test waits.
#[test]
fn ctrl_c_stops_a_run_writes_its_reports_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let mut run = Running::on_fixture(&[
        "run",
        "checkout",
        "--seed",
        "5",
        "--duration",
        "10m",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    run.wait_for_line("checkout: 3 users, seed 5, 600s");
    // A progress line (`checkout: 5s/600s  812 ops  …`) that shows ops: the users are running.
    let ops_before = loop {
        let line = run.wait_for_line("/600s  ");
        let ops: u64 = line
            .split("  ")
            .nth(1)
            .and_then(|o| o.strip_suffix(" ops"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a progress line: {line}"));
        if ops > 0 {
            break ops;
        }
    };
    assert!(
        out_dir.join("replay.json").is_file(),
        "replay.json is written when the run starts"
    );
    run.interrupt();
    let out = run.finish();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("interrupted: stopping users and writing reports"),
        "the harness got the Ctrl-C: {stderr}"
    );
    assert!(stdout.contains("checkout  Interrupted"), "{stdout}");
    assert!(stdout.contains("checkout: interrupted"), "{stdout}");
    assert_eq!(last_error(&out), "error: 1 of 1 workloads failed: checkout");

    let s = summary(&out_dir);
    assert_eq!(s["stop_reason"], "Interrupted", "{s}");
    assert_eq!(s["passed"], false);
    assert_eq!(
        s["failures"],
        serde_json::json!([{"kind": "interrupted", "message": "interrupted"}])
    );
    let total = s["total_ops"].as_u64().unwrap();
    assert!(
        total >= ops_before,
        "the summary has every op the progress showed before Ctrl-C: {total} < {ops_before}"
    );
    let per_user: u64 = s["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["ops"].as_u64().unwrap())
        .sum();
    assert_eq!(per_user, total, "the users' ops add up to the total");
    assert_eq!(s["failed_ops"], 0);
    assert_eq!(
        (&s["verify"]["ran"], &s["verify"]["passed"]),
        (&true.into(), &true.into()),
        "the ledger of the ops done before Ctrl-C holds: {}",
        s["verify"]
    );
    let replay = read_json(&out_dir.join("replay.json"));
    assert_eq!(replay["stop_reason"], "Interrupted");
    assert_eq!(replay["seed"], 5);
    assert_eq!(replay["config"]["duration_ms"], 600_000);
    assert_eq!(timeseries_ops(&out_dir), total, "timeseries.csv has every op");
}

/// A replay whose users run other ops than recorded, under an op limit, exits 1 and names the
/// user that diverged: here one user's seed is changed in `replay.json`, so it draws other ops.
#[test]
fn a_replay_that_diverges_under_an_op_limit_exits_1_naming_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let out = on_fixture(&[
        "run",
        "checkout",
        "--seed",
        "5",
        "--ops-per-user",
        "20",
        "--users",
        "shopper=3",
        "--out",
        first.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let recorded = summary(&first);

    // The recorded run with shopper-1's seed changed: its replay draws other ops.
    let edited = dir.path().join("edited");
    std::fs::create_dir(&edited).unwrap();
    std::fs::copy(first.join("summary.json"), edited.join("summary.json")).unwrap();
    let mut replay = read_json(&first.join("replay.json"));
    let user = replay["users"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|u| u["id"] == "shopper-1")
        .unwrap();
    user["seed"] = (user["seed"].as_u64().unwrap() ^ 1).into();
    std::fs::write(
        edited.join("replay.json"),
        serde_json::to_string_pretty(&replay).unwrap(),
    )
    .unwrap();

    let again = dir.path().join("again");
    let out = cargo_stress(&[
        "replay",
        edited.to_str().unwrap(),
        "--debug",
        "--out",
        again.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        last_error(&out),
        "error: replay diverged: 1 of 4 users ran other ops or arguments than recorded"
    );
    assert!(stdout.contains("op_digest: 3 of 4 users match"), "{stdout}");
    let differs: Vec<&str> = stdout
        .lines()
        .filter(|l| l.ends_with("DIFFERS"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(differs, ["shopper-1"], "{stdout}");
    // The replay itself ran as recorded otherwise: its op limit, a passing verify step.
    let s = summary(&again);
    assert_eq!(s["stop_reason"], "OpLimit");
    assert_eq!(s["passed"], true);
    assert_eq!(s["total_ops"], recorded["total_ops"]);
    let digest = |s: &serde_json::Value, id: &str| {
        s["users"].as_array().unwrap().iter().find(|u| u["id"] == id).unwrap()["op_digest"].clone()
    };
    assert_ne!(digest(&s, "shopper-1"), digest(&recorded, "shopper-1"));
    for id in ["shopper-0", "shopper-2", "auditor-0"] {
        assert_eq!(digest(&s, id), digest(&recorded, id), "{id}");
    }
}

/// `signal` (`TERM`, `KILL`) to the `cargo stress` process of `run` alone, as `kill PID`
/// sends it (not to its process group, as a terminal does).
fn signal_cargo_stress(run: &Running, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args(["-s", signal, &run.child.id().to_string()])
        .status();
}

/// Waits for the checkout run in `run` to show ops in a progress line.
fn wait_for_ops(run: &mut Running) {
    loop {
        let line = run.wait_for_line("/600s  ");
        let ops: u64 = line
            .split("  ")
            .nth(1)
            .and_then(|o| o.strip_suffix(" ops"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a progress line: {line}"));
        if ops > 0 {
            return;
        }
    }
}

fn long_checkout(out_dir: &Path) -> Running {
    let mut run = Running::on_fixture(&[
        "run",
        "checkout",
        "--seed",
        "6",
        "--duration",
        "10m",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    wait_for_ops(&mut run);
    run
}

/// SIGTERM sent to `cargo stress` alone (not its process group, as `kill PID` or a CI runner's
/// timeout sends it) reaches the harness, which stops its users and writes its reports.
#[test]
fn sigterm_to_cargo_stress_alone_stops_the_harness_with_its_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let run = long_checkout(&out_dir);
    signal_cargo_stress(&run, "TERM");
    let out = run.finish();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("interrupted: stopping users and writing reports"),
        "the harness got it: {stderr}"
    );
    let s = summary(&out_dir);
    assert_eq!(s["stop_reason"], "Interrupted", "{s}");
    assert!(s["total_ops"].as_u64().unwrap() > 0);
    assert_eq!(read_json(&out_dir.join("replay.json"))["stop_reason"], "Interrupted");
}

/// `cargo stress` killed outright (SIGKILL: no handler runs): its harness, in a process group
/// of its own, sees its lifeline (stdin) end, stops as on Ctrl-C and writes its reports.
#[test]
fn a_harness_whose_cargo_stress_is_killed_stops_and_writes_its_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let run = long_checkout(&out_dir);
    signal_cargo_stress(&run, "KILL");
    let out = run.finish();
    assert_eq!(out.status.code(), None, "killed");
    // A hang guard only: the harness stops within a second or two of losing its lifeline.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !out_dir.join("summary.json").is_file() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let s = summary(&out_dir);
    assert_eq!(s["stop_reason"], "Interrupted", "{s}");
    assert!(s["total_ops"].as_u64().unwrap() > 0);
}

/// A harness killed by a signal (the OOM killer, say) is reported as what it is: a failure
/// naming the signal, exit code 1, not "did not start" and a usage error.
#[test]
fn a_harness_killed_by_a_signal_is_reported_as_killed() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let run = long_checkout(&out_dir);
    let harness = stress_core::monitor::children_of(run.child.id());
    assert_eq!(harness.len(), 1, "cargo stress runs one harness: {harness:?}");
    let _ = std::process::Command::new("kill")
        .args(["-s", "KILL", &harness[0].to_string()])
        .status();
    let out = run.finish();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        last_error(&out),
        "error: the harness of `checkout` was killed by signal 9 (SIGKILL) before it wrote its reports"
    );
}

/// A full disk under the run's directory: the run fails, says where the writing failed, and
/// `cargo stress` still shows what was measured (the harness hands its summary over in the
/// trial's outcome, on the protocol's channel on stderr)
/// and exits 1. The disk is a 64 KiB tmpfs, filled first, mounted in a mount namespace of the
/// run's own: it goes when the run does, whatever happens to the test.
#[test]
fn a_full_disk_fails_the_run_says_where_and_loses_no_figure() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let out_dir = disk.join("run");
    let fixture = fixture();
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--map-root-user", "--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=64k tmpfs "$1" || exit 97; head -c 1M /dev/zero > "$1/filler" 2>/dev/null; shift; exec "$@""#)
        .arg("sh")
        .arg(&disk)
        .arg(env!("CARGO_BIN_EXE_cargo-stress"))
        .args(["stress", "run", "--manifest-path", fixture.to_str().unwrap(), "--debug", "checkout"])
        .args(["--ops-per-user", "5", "--seed", "4", "--out", out_dir.to_str().unwrap()])
        .env("CARGO_TARGET_DIR", fixture_target());
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_ne!(out.status.code(), Some(97), "could not mount a tmpfs: {stderr}");
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("No space left on device"),
        "the harness says where writing failed: {stderr}"
    );
    // The table and the failure come from the summary the harness handed over.
    assert!(
        stdout.contains("checkout  OpLimit") && stdout.contains("FAIL"),
        "{stdout}"
    );
    assert!(
        stdout.contains("checkout: the reports could not be written (cannot write "),
        "{stdout}"
    );
    assert!(
        !out_dir.join("summary.json").exists(),
        "the tmpfs is gone with its namespace"
    );
}
