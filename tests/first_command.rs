//! The README's first command on a fresh machine: `cargo stress run orders` in this workspace
//! builds and runs the SQLite quickstart without `protoc` and compiles no Hyper code (the
//! workspace's default members leave the Hyper crates out).

use std::path::Path;
use std::process::Command;

#[path = "e2e_support.rs"]
#[expect(dead_code, reason = "shared with the other end-to-end tests")]
mod e2e_support;

use e2e_support::{summary, text};

#[test]
fn the_first_command_needs_no_protoc_and_builds_no_hyper_code() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // A target directory of its own, kept between runs: only this test builds in it, so any
    // Hyper crate found in it was built by `cargo stress run orders`.
    let exe = Path::new(env!("CARGO_BIN_EXE_cargo-stress"));
    let target = exe.parent().unwrap().parent().unwrap().join("first-command");
    // Hyper crates left by an earlier build here (by hand, say) are removed first, so that any
    // found after the run were built by it.
    let fingerprints = target.join("debug/.fingerprint");
    for e in std::fs::read_dir(&fingerprints).into_iter().flatten().flatten() {
        if is_hyper(&e.file_name().to_string_lossy()) {
            std::fs::remove_dir_all(e.path()).unwrap();
        }
    }
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "stress",
        "run",
        "orders",
        "--debug",
        "--duration",
        "1s",
        "--seed",
        "1",
        "--out",
    ])
    .arg(out.path())
    .current_dir(workspace)
    .env("CARGO_TARGET_DIR", &target)
    // hyperdb-api's build script would fail on this at once.
    .env("PROTOC", "/nonexistent/protoc");
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") {
            cmd.env_remove(k);
        }
    }
    let run = cmd.output().unwrap();
    assert!(
        run.status.success(),
        "exit {:?}\n{}\n{}",
        run.status.code(),
        text(&run.stdout),
        text(&run.stderr)
    );
    let s = summary(out.path());
    assert_eq!(s["workload"], "orders");
    assert_eq!(s["passed"], true, "{s}");
    assert!(s["total_ops"].as_u64().unwrap() > 0);

    let built: Vec<String> = std::fs::read_dir(&fingerprints)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        built.iter().any(|c| c.starts_with("quickstart-")),
        "the quickstart was built here: {built:?}"
    );
    let hyper: Vec<&String> = built.iter().filter(|c| is_hyper(c)).collect();
    assert!(hyper.is_empty(), "Hyper code was compiled: {hyper:?}");
}

/// A fingerprint directory of a crate only the Hyper parts need.
fn is_hyper(name: &str) -> bool {
    ["hyperdb-api", "stress-hyper-", "monte-carlo-", "prost-build-"]
        .iter()
        .any(|h| name.starts_with(h))
}
