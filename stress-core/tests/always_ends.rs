//! A run always ends and always reports: a user thread that cannot start is an error of the
//! run, not a hang of every other user at the start.

use std::process::Command;
use std::time::{Duration, Instant};

use stress_core::prelude::*;
use stress_core::{StopReason, Summary};

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
