//! End-to-end: `cargo stress shrink` on runs of the fixture crate (`tests/fixtures/shop`): a
//! run that loses acknowledged writes (the `acked` workload with its bug switch on) shrinks to
//! a run of one or two users that still loses them on replay; bad input is one line, exit 2.

#[path = "e2e_support.rs"]
#[expect(dead_code, reason = "shared with the other end-to-end tests")]
mod support;

use std::path::Path;

use support::*;

#[test]
fn a_run_that_lost_writes_shrinks_to_a_small_run_that_loses_them_again() {
    let dir = tempfile::tempdir().unwrap();
    let failed = dir.path().join("failed");
    lossy_run_in(&failed);
    let before = summary(&failed);
    assert_eq!(before["users"].as_array().unwrap().len(), 7);
    assert_eq!(before["total_ops"], 2100);

    let shrunk = dir.path().join("shrunk");
    let out = cargo_stress(&[
        "shrink",
        failed.to_str().unwrap(),
        "--debug",
        "--out",
        shrunk.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    // One progress line per candidate, the original first.
    assert!(stderr.contains("shrink   0  original"), "{stderr}");
    assert!(stderr.contains("FAILS the same way"), "{stderr}");
    assert!(stdout.contains("shrunk 7 users, 2100 ops, 0 faults to "), "{stdout}");

    // The smallest run is a run directory like any other, and small.
    let s = summary(&shrunk);
    let users = s["users"].as_array().unwrap().len();
    let ops = s["total_ops"].as_u64().unwrap();
    assert!(users <= 2, "{users} users: {stdout}");
    assert!(ops <= 200, "{ops} ops: {stdout}");
    assert!(s["durability"]["lost"].as_u64().unwrap() > 0, "{s}");
    for f in ["replay.json", "report.html", "shrink.md"] {
        assert!(shrunk.join(f).is_file(), "{f}");
    }
    assert!(!shrunk.join("candidates").exists(), "the other candidates are gone");
    let md = std::fs::read_to_string(shrunk.join("shrink.md")).unwrap();
    let command = format!("cargo stress replay {} --debug", shrunk.display());
    assert!(md.contains(&command), "{md}");
    assert!(md.contains("| 0 | original |"), "{md}");
    assert!(stdout.contains(&command), "{stdout}");

    // Its replay fails the same way.
    let again = dir.path().join("again");
    let out = cargo_stress(&[
        "replay",
        shrunk.to_str().unwrap(),
        "--debug",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    let r = summary(&again);
    assert!(r["durability"]["lost"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["total_ops"].as_u64().unwrap(), ops);
    assert!(text(&out.stdout).contains(&format!("op_digest: {users} of {users} users match")));
}

/// A run of `acked` with 6 writers and a reader, 300 ops each, every 40th commit of a writer
/// rolled back after its acknowledgement: it loses writes.
fn lossy_run_in(out: &Path) {
    let run = on_fixture(&[
        "run",
        "acked",
        "--exact",
        "--seed",
        "7",
        "--users",
        "writer=6,reader=1",
        "--ops-per-user",
        "300",
        "--param",
        "ack_early=40",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1), "{}{}", text(&run.stdout), text(&run.stderr));
    assert!(summary(out)["durability"]["lost"].as_u64().unwrap() > 0);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let passed = dir.path().join("passed");
    let run = on_fixture(&[
        "run",
        "acked",
        "--exact",
        "--seed",
        "1",
        "--ops-per-user",
        "5",
        "--out",
        passed.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}{}", text(&run.stdout), text(&run.stderr));
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let never = dir.path().join("never");
    let (p, e, n) = (
        passed.to_str().unwrap(),
        empty.to_str().unwrap(),
        never.to_str().unwrap(),
    );
    for (args, expect) in [
        (
            vec!["shrink", p, "--out", n],
            format!("nothing to shrink: the run in {p} passed"),
        ),
        (vec!["shrink", e, "--out", n], format!("{e}/replay.json")),
        (
            vec!["shrink", p, "--budget", "soon", "--out", n],
            "`soon` is not a duration".to_owned(),
        ),
        (vec!["shrink", p, "--tries", "0", "--out", n], "--tries".to_owned()),
    ] {
        let mut args = args;
        args.push("--debug");
        let out = cargo_stress(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        let line = err.lines().find(|l| l.starts_with("error")).unwrap_or_default();
        assert!(line.contains(&expect), "{args:?}: {err}");
        assert!(!never.exists(), "{args:?} left an output directory");
    }
    // Without summary.json: named.
    std::fs::copy(passed.join("replay.json"), empty.join("replay.json")).unwrap();
    let out = cargo_stress(&["shrink", e, "--debug", "--out", n]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        last_error(&out).contains(&format!("{e}/summary.json")),
        "{}",
        last_error(&out)
    );
}
