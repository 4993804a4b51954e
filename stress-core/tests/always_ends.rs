//! A run always ends and always reports: a user thread that cannot start is an error of the
//! run, not a hang of every other user at the start.

use std::process::Command;
use std::time::{Duration, Instant};

use stress_core::prelude::*;
use stress_core::{FailureKind, StopReason, Summary};

/// Set in the child process this test re-runs itself as.
const CHILD: &str = "STRESS_TEST_SPAWN_FAILURE_CHILD";

fn noop(_: &mut User<Bare>) -> OpResult {
    Ok(Outcome::done())
}

/// In the child: 2000 users under an address-space limit with 64 MiB thread stacks, so that
/// thread spawns fail after a few dozen; prints the summary as JSON.
fn child() {
    let w = Workload::new(Bare).class(UserClass::new("u", 2000).read("noop", 1.0, noop));
    let r = Runner::new("spawn")
        .seed(1)
        .duration(Duration::from_secs(5))
        .run(w)
        .unwrap();
    println!("\nsummary: {}", serde_json::to_string(&r.summary).unwrap());
}

#[test]
fn a_user_thread_that_cannot_start_is_an_error_of_the_run_not_a_hang() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -v 2000000 && exec "$0" --exact a_user_thread_that_cannot_start_is_an_error_of_the_run_not_a_hang --nocapture --test-threads 1"#)
        .arg(&exe)
        .env(CHILD, "1")
        .env("RUST_MIN_STACK", (64 << 20).to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A hang guard only: the child ends in well under a second when it works.
    let until = Instant::now() + Duration::from_secs(120);
    while c.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            c.kill().unwrap();
            panic!("the run hung: a user thread that could not start held the others at the start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = c.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = stdout
        .lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .unwrap_or_else(|| panic!("no summary: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    let s: Summary = serde_json::from_str(json).unwrap();
    assert_eq!(s.stop_reason, StopReason::Error, "{:?}", s.stop_detail);
    let detail = s.stop_detail.as_deref().unwrap();
    assert!(
        detail.contains("cannot start user thread u-") && detail.contains("of 2000 started"),
        "{detail}"
    );
    assert!(detail.contains("run fewer users"), "{detail}");
    assert_eq!(s.total_ops, 0, "no user ran: the start was called off");
    assert!(!s.passed);
}

/// Every user's op blocks on the same frozen "server" for 4 s: the run reports the stall,
/// warns about it, and a `max_stall` threshold fails it. One user stuck while another goes on
/// is no stall.
#[test]
fn a_stall_is_reported_warned_about_and_can_fail_a_threshold() {
    use std::sync::{Arc, Barrier};
    let freeze = Arc::new(Barrier::new(2));
    let w = Workload::new(Bare).class(UserClass::new("u", 2).read("op", 1.0, move |u: &mut User<Bare>| {
        if u.ops_done() == 10 {
            // Both users reach op 10, then both wait 4 s: nothing completes meanwhile.
            freeze.wait();
            std::thread::sleep(Duration::from_secs(4));
        }
        Ok(Outcome::done())
    }));
    let s = Runner::new("stall")
        .seed(1)
        .ops_per_user(20)
        .threshold("max_stall<2s")
        .run(w)
        .unwrap()
        .summary;
    assert!(s.max_stall_s >= 3.8, "the 4 s freeze: {}", s.max_stall_s);
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("ops were in flight and none completed")),
        "{:?}",
        s.warnings
    );
    assert!(!s.passed);
    assert!(
        s.failures.iter().any(
            |f| matches!(&f.kind, FailureKind::Threshold { rule, .. } if rule == "max_stall<2s")
                && f.message.starts_with("threshold max_stall<2s breached: observed")
        ),
        "{:?}",
        s.failures
    );

    // One user stuck for 4 s while the other completes ops all along: no stall.
    let w = Workload::new(Bare)
        .class(UserClass::new("stuck", 1).read("slow", 1.0, |u: &mut User<Bare>| {
            if u.ops_done() == 0 {
                std::thread::sleep(Duration::from_secs(4));
            }
            Ok(Outcome::done())
        }))
        .class(UserClass::new("busy", 1).read("fast", 1.0, |_: &mut User<Bare>| {
            std::thread::sleep(Duration::from_millis(2));
            Ok(Outcome::done())
        }));
    let s = Runner::new("no-stall")
        .seed(1)
        .duration(Duration::from_secs(5))
        .run(w)
        .unwrap()
        .summary;
    assert!(
        s.max_stall_s < 2.0,
        "the busy user kept completing ops: {}",
        s.max_stall_s
    );
}

/// An op that never returns does not hold the run hostage: once the run has stopped (its
/// duration elapsed) and the grace has passed, the run writes its reports with the stuck user
/// named and its in-flight op counted as failed, and returns; the stuck thread is abandoned.
#[test]
fn a_stuck_op_is_abandoned_after_the_grace_and_the_reports_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let w = Workload::new(Bare).class(UserClass::new("u", 2).read("op", 1.0, |u: &mut User<Bare>| {
        if u.id() == "u-0" && u.ops_done() == 3 {
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        std::thread::sleep(Duration::from_millis(1));
        Ok(Outcome::done())
    }));
    let s = Runner::new("stuck")
        .seed(1)
        .duration(Duration::from_secs(1))
        .settings(&stress_core::ConfigLayer {
            stuck_grace: Some(Duration::from_secs(1)),
            ..Default::default()
        })
        .output_dir(&out)
        .run(w)
        .unwrap()
        .summary;
    assert_eq!(s.stop_reason, StopReason::StuckOps, "{:?}", s.stop_detail);
    let detail = s.stop_detail.as_deref().unwrap();
    assert!(
        detail.contains("1 user was still in an op 1s after the run stopped (DurationElapsed), abandoned: u-0 in `op`"),
        "{detail}"
    );
    assert!(!s.passed);
    let stuck = s.users.iter().find(|u| u.id == "u-0").unwrap();
    assert_eq!(
        (stuck.ops, stuck.failed),
        (4, 1),
        "3 ops done, the fourth in flight counted failed"
    );
    assert!(
        s.failed_ops >= 1
            && s.errors
                .iter()
                .any(|e| e.user == "u-0" && e.message.starts_with("stuck:"))
    );
    let other = s.users.iter().find(|u| u.id == "u-1").unwrap();
    assert!(other.ops > 3, "the other user ran to the end: {}", other.ops);
    let on_disk: Summary = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(on_disk.stop_reason, StopReason::StuckOps);
    assert!(out.join("timeseries.csv").is_file() && out.join("replay.json").is_file());
}
