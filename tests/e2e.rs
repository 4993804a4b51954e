//! End-to-end: the real `cargo stress` binary on a fixture crate outside the workspace
//! (`tests/fixtures/shop`, its own `Cargo.toml` pointing at the path dependencies).
//!
//! Builds use `--debug` to keep the suite quick; the fixture's target directory sits beside
//! this workspace's so that its build is reused from run to run.

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
    assert_eq!(lines.len(), 6, "{stdout}");
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
    assert_eq!(names, ["blobs", "broken_verify", "checkout", "stall", "tick"]);
    assert_eq!(list[2]["package"], "shop");
    assert_eq!(list[2]["kind"], "test");
    assert_eq!(list[2]["info"]["options"]["duration_ms"], 5000);
    assert_eq!(list[2]["info"]["params"], serde_json::json!([]));
    assert_eq!(
        list[0]["info"]["params"],
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
    let out = on_fixture(&[
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
    ]);
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
    assert!(
        text(&out.stdout).contains("verify step failed: database 0: the ledger says 1"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(last_error(&out), "error: 1 of 1 workloads failed: broken_verify");
    assert_eq!(summary(&out_dir)["passed"], false);
}

#[test]
fn bad_flags_are_usage_errors_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never");
    let never_s = never.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (&["run", "--frobnicate"], "unexpected argument '--frobnicate'"),
        (&["run", "--duration", "abc"], "`abc` is not a duration"),
        (
            &["run", "--users", "reader=x"],
            "like `inserter=4,reader=3`, or a total like 10",
        ),
        (&["run", "--users", "0"], "expected a total above 0"),
    ];
    for (args, expect) in cases {
        let out = cargo_stress(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(expect), "{args:?}: {}", text(&out.stderr));
    }
    for (args, expect) in [
        (
            vec!["run", "nothing_like_this", "--out", never_s],
            "no workload matches nothing_like_this: the workloads are blobs, broken_verify, checkout, stall, tick",
        ),
        (
            vec!["run", "checkout", "--users", "auditor=1,clerk=2", "--out", never_s],
            "class `clerk`, which this workload does not have",
        ),
        (
            vec!["run", "-p", "nope"],
            "package `nope` is not in this workspace (its packages: shop)",
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
            "workload `tock` no longer exists in test `stress` (it has: blobs, broken_verify, checkout, stall, tick)",
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
        "--out",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("threshold ops_per_sec>100000000 breached: observed"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(summary(&broken)["passed"], false);
}

#[test]
fn bad_load_flags_are_usage_errors() {
    for (args, expect) in [
        (vec!["run", "--rate", "0"], "`0` is not a rate"),
        (vec!["run", "--rate", "abc"], "`abc` is not a rate"),
        (vec!["run", "--stages", "10s"], "`10s` is not a stage"),
        (vec!["run", "--latency-limit", "100ms"], "--rate"),
        (vec!["run", "--arrival", "bursty"], "invalid value 'bursty'"),
    ] {
        let out = cargo_stress(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(expect), "{args:?}: {}", text(&out.stderr));
    }
    let out = on_fixture(&["run", "tick", "--threshold", "p99[nope]<5ms"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        last_error(&out).contains("names op `nope`, which the workload does not have (its ops: tick)"),
        "{}",
        last_error(&out)
    );
}
