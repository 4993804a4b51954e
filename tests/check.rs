//! End-to-end: `cargo stress check DIR` checks a run's recorded transaction history again:
//! exit 0 when the model forbids nothing found, 1 with the anomaly and its witness when it
//! does, 2 with the file and line when the history is damaged. The run directory is a real
//! one (a run of a workload that checks isolation); its history is replaced by histories whose
//! verdict is known.

#[path = "e2e_support.rs"]
#[expect(dead_code, reason = "shared with the other end-to-end tests")]
mod support;

use std::path::Path;

use stress_core::isolation::{Kind, Model};
use stress_core::prelude::*;
use support::{cargo_stress, last_error, text};

/// A run of a workload that records no transaction of its own, expecting serializable.
fn recorded_run(dir: &Path) {
    let w = Workload::new(Bare)
        .class(UserClass::new("client", 1).read("nothing", 1.0, |_| Ok(Outcome::done())))
        .isolation(Model::Serializable, Kind::ListAppend);
    let r = Runner::new("checked")
        .seed(1)
        .ops_per_user(1)
        .output_dir(dir)
        .run(w)
        .unwrap();
    let iso = r.summary.isolation.expect("checked");
    assert_eq!(iso.txns, 0);
    assert!(dir.join("history.jsonl").is_file());
}

const WRITE_SKEW: &str = r#"{"process":0,"invoke_us":0,"complete_us":10,"outcome":"ok","mops":[["r",1,[]],["a",2,1]]}
{"process":1,"invoke_us":0,"complete_us":10,"outcome":"ok","mops":[["r",2,[]],["a",1,2]]}
"#;

const SERIAL: &str = r#"{"process":0,"invoke_us":0,"complete_us":10,"outcome":"ok","mops":[["r",1,[]],["a",2,1]]}
{"process":1,"invoke_us":20,"complete_us":30,"outcome":"ok","mops":[["r",2,[1]],["a",1,2]]}
"#;

#[test]
fn a_recorded_history_is_checked_again_with_the_documented_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    recorded_run(&dir);
    let d = dir.to_str().unwrap();
    let history = dir.join("history.jsonl");

    std::fs::write(&history, SERIAL).unwrap();
    let out = cargo_stress(&["check", d]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2 transactions (2 committed"),
        "{}",
        text(&out.stdout)
    );

    std::fs::write(&history, WRITE_SKEW).unwrap();
    let out = cargo_stress(&["check", d]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("G2-item") && stdout.contains("FORBIDDEN"), "{stdout}");
    assert!(
        stdout.contains("G2-item witness:") && stdout.contains("(rw)"),
        "{stdout}"
    );
    assert!(
        last_error(&out).contains("is not serializable: G2-item"),
        "{}",
        last_error(&out)
    );
    // Write skew is what snapshot isolation allows.
    let out = cargo_stress(&["check", d, "--model", "snapshot-isolation"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("allowed"), "{}", text(&out.stdout));

    // Damaged: one line naming the file and the line, exit 2.
    std::fs::write(&history, format!("{SERIAL}{{\"process\":2,\"invoke_us\"")).unwrap();
    let out = cargo_stress(&["check", d]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let e = last_error(&out);
    assert!(e.contains("history.jsonl:3"), "{e}");

    let out = cargo_stress(&["check", d, "--model", "linearizable"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        last_error(&out).contains("--model linearizable is not a model"),
        "{}",
        last_error(&out)
    );
    let out = cargo_stress(&["check", tmp.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(last_error(&out).contains("holds no run"), "{}", last_error(&out));
}
