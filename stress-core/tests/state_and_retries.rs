//! What a user keeps between ops, the hook it runs after connecting, retries of retryable
//! errors (`--max-tries`) and stopping at the first failed op (`--abort-on-error`).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use stress_core::prelude::*;
use stress_core::{ConfigLayer, Failure, FailureKind, StopReason, Summary};

/// A user's id and the keys it drew.
type UserKeys = (String, Vec<u64>);

/// (op, try, the random argument it drew) of each try.
type Draws = Arc<Mutex<Vec<(u64, u32, u64)>>>;

#[test]
fn each_user_keeps_its_own_state_and_runs_its_hook_once() {
    let hooks = Arc::new(AtomicU64::new(0));
    let seen: Arc<Mutex<Vec<UserKeys>>> = Arc::default();
    let (h, s) = (hooks.clone(), seen.clone());
    let w = Workload::new(Bare).class(
        UserClass::new("u", 3)
            .on_connect(move |u: &mut User<Bare>| {
                h.fetch_add(1, Ordering::SeqCst);
                // A sequential key generator per user, the kind of state a pgbench script
                // or a k6 VU keeps between iterations.
                u.set_state(KeyDist::parse("sequential", 1000)?.generator());
                Ok(())
            })
            .read("next", 1.0, move |u: &mut User<Bare>| {
                let (keys, rng) = u.state_and_rng::<KeyGen>()?;
                let key = keys.next(rng);
                // A second kind of state, created on first use.
                u.state::<Vec<u64>>().push(key);
                if u.ops_done() == 4 {
                    let keys = u.state::<Vec<u64>>().clone();
                    s.lock().unwrap().push((u.id().to_owned(), keys));
                }
                Ok(Outcome::done())
            }),
    );
    let r = Runner::new("state").seed(1).ops_per_user(5).run(w).unwrap();
    assert!(r.summary.passed, "{:?}", r.summary.failures);
    assert_eq!(hooks.load(Ordering::SeqCst), 3, "one hook per user");
    assert_eq!(r.summary.total_ops, 15, "the hook is not an op");
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    // Each user's generator went on from where its last op left it, apart from the others'.
    let keys = vec![0, 1, 2, 3, 4];
    assert_eq!(
        seen,
        vec![
            ("u-0".to_owned(), keys.clone()),
            ("u-1".to_owned(), keys.clone()),
            ("u-2".to_owned(), keys),
        ]
    );
}

#[test]
fn state_that_was_never_set_is_an_error_of_the_op() {
    let w = Workload::new(Bare).class(UserClass::new("u", 1).read("next", 1.0, |u: &mut User<Bare>| {
        let (keys, rng) = u.state_and_rng::<KeyGen>()?;
        keys.next(rng);
        Ok(Outcome::done())
    }));
    let s = Runner::new("unset").seed(1).ops_per_user(1).run(w).unwrap().summary;
    assert_eq!(s.failed_ops, 1);
    assert!(
        s.errors[0].message.contains("user u-0 has no state of type") && s.errors[0].message.contains("KeyGen"),
        "{}",
        s.errors[0].message
    );
}

#[test]
fn a_failing_hook_ends_the_run_with_its_cause_and_no_user_runs_an_op() {
    let w = Workload::new(Bare).class(
        UserClass::new("u", 2)
            .on_connect(|u: &mut User<Bare>| {
                if u.id() == "u-1" {
                    stress_core::op_bail!("no session for {}", u.id());
                }
                Ok(())
            })
            .read("noop", 1.0, |_: &mut User<Bare>| Ok(Outcome::done())),
    );
    let r = Runner::new("hook").seed(1).ops_per_user(3).run(w).unwrap();
    let s = &r.summary;
    assert!(!s.passed);
    assert_eq!(s.stop_reason, StopReason::Error);
    assert_eq!(
        s.stop_detail.as_deref(),
        Some("user u-1: on_connect failed: no session for u-1"),
        "the user and its error"
    );
    assert!(
        s.ops.get("noop").is_none_or(|o| o.count == 0),
        "u-0 did not go on alone: {:?}",
        s.ops
    );
}

/// An op that fails with a retryable error on its first `fails` tries of every third op, and
/// records the random argument each try drew.
fn flaky(fails: u32, draws: Draws) -> Workload<Bare> {
    Workload::new(Bare).class(UserClass::new("u", 2).write("flaky", 1.0, move |u: &mut User<Bare>| {
        let arg: u64 = u.rng().random();
        if u.id() == "u-0" {
            draws.lock().unwrap().push((u.ops_done(), u.attempt(), arg));
        }
        if u.ops_done().is_multiple_of(3) && u.attempt() <= fails {
            return Err(OpError::msg("conflict").retryable());
        }
        Ok(Outcome::done())
    }))
}

fn with(layer: ConfigLayer, w: Workload<Bare>) -> Summary {
    Runner::new("retries")
        .seed(3)
        .ops_per_user(9)
        .settings(&layer)
        .run(w)
        .unwrap()
        .summary
}

#[test]
fn retryable_errors_are_tried_again_with_the_same_arguments_and_counted_apart() {
    let draws: Draws = Arc::default();
    let s = with(
        ConfigLayer {
            max_tries: Some(3),
            ..Default::default()
        },
        flaky(2, Arc::clone(&draws)),
    );
    assert!(s.passed, "{:?}", s.failures);
    assert_eq!((s.total_ops, s.failed_ops), (18, 0));
    // Ops 0, 3 and 6 of each of 2 users took 3 tries: 6 ops retried, 12 retries.
    assert_eq!((s.retried_ops, s.retries), (6, 12));
    assert!(s.users.iter().all(|u| (u.retried_ops, u.retries) == (3, 6)));
    // The builder method says the same as the layer.
    let by_method = Runner::new("retries")
        .seed(3)
        .ops_per_user(9)
        .max_tries(3)
        .run(flaky(2, Arc::default()))
        .unwrap()
        .summary;
    assert_eq!((by_method.retried_ops, by_method.retries), (6, 12));
    // Every try of an op drew the same argument; the next op drew a new one.
    let draws = draws.lock().unwrap();
    assert_eq!(draws.len(), 9 + 6);
    let first_op: Vec<_> = draws.iter().filter(|d| d.0 == 0).collect();
    assert_eq!(first_op.iter().map(|d| d.1).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(first_op.iter().all(|d| d.2 == first_op[0].2), "{first_op:?}");
    assert_ne!(draws.iter().find(|d| d.0 == 1).unwrap().2, first_op[0].2);

    // The same run without retries draws the same arguments for ops that did not fail: a
    // retried op leaves the user's RNG where one try would have.
    let plain: Draws = Arc::default();
    let s1 = with(
        ConfigLayer {
            max_tries: Some(3),
            ..Default::default()
        },
        flaky(0, Arc::clone(&plain)),
    );
    assert_eq!(s1.retries, 0);
    let once: Vec<u64> = plain.lock().unwrap().iter().map(|d| d.2).collect();
    let last_tries: Vec<u64> = draws
        .iter()
        .filter(|d| !d.0.is_multiple_of(3) || d.1 == 3)
        .map(|d| d.2)
        .collect();
    assert_eq!(once, last_tries);
    assert_eq!(
        s.users[0].op_digest, s1.users[0].op_digest,
        "retries do not change what a user ran"
    );
    // Nor does the backoff between them (the default's, 1ms..100ms, above): its waits come
    // from a stream of their own.
    let off = with(
        ConfigLayer {
            max_tries: Some(3),
            retry_backoff: Some((Duration::ZERO, Duration::ZERO)),
            ..Default::default()
        },
        flaky(2, Arc::default()),
    );
    assert_eq!((off.retried_ops, off.retries, off.failed_ops), (6, 12, 0));
    let digests = |s: &Summary| s.users.iter().map(|u| u.op_digest.clone()).collect::<Vec<_>>();
    assert_eq!(digests(&off), digests(&s), "the backoff leaves the op streams alone");
}

#[test]
fn an_op_out_of_tries_fails_and_says_how_many_it_took() {
    let s = with(
        ConfigLayer {
            max_tries: Some(2),
            ..Default::default()
        },
        flaky(2, Arc::default()),
    );
    assert!(!s.passed);
    assert_eq!(s.failed_ops, 6);
    assert_eq!(s.exhausted_ops, 6, "each failed with a retryable error and no try left");
    assert_eq!((s.retried_ops, s.retries), (6, 6));
    assert!(s.errors[0].message == "conflict (after 2 tries)", "{:?}", s.errors[0]);
    // Without --max-tries, nothing is retried.
    let s = with(ConfigLayer::default(), flaky(2, Arc::default()));
    assert_eq!((s.failed_ops, s.retries), (6, 0));
}

#[test]
fn an_error_the_adapter_does_not_call_retryable_is_not_retried() {
    let tries = Arc::new(AtomicU64::new(0));
    let t = tries.clone();
    let w = Workload::new(Bare).class(UserClass::new("u", 1).read("bad", 1.0, move |_: &mut User<Bare>| {
        t.fetch_add(1, Ordering::SeqCst);
        Err(OpError::msg("syntax error"))
    }));
    let s = with(
        ConfigLayer {
            max_tries: Some(5),
            ..Default::default()
        },
        w,
    );
    assert_eq!(tries.load(Ordering::SeqCst), 9, "one try per op");
    assert_eq!((s.failed_ops, s.retries), (9, 0));
    assert_eq!(s.exhausted_ops, 0, "no try could have mended them: not failed for good");
}

#[test]
fn abort_on_error_stops_the_run_at_the_first_failed_op() {
    let w = Workload::new(Bare).class(UserClass::new("u", 1).read("op", 1.0, |u: &mut User<Bare>| {
        if u.ops_done() == 4 {
            stress_core::op_bail!("row 4 is missing");
        }
        Ok(Outcome::done())
    }));
    let s = Runner::new("abort")
        .seed(1)
        .ops_per_user(1000)
        .settings(&ConfigLayer {
            abort_on_error: Some(true),
            ..Default::default()
        })
        .run(w)
        .unwrap()
        .summary;
    assert_eq!(s.stop_reason, StopReason::OpFailed);
    assert_eq!(s.total_ops, 5, "it stopped at the failed op");
    assert!(!s.passed);
    assert_eq!(s.stop_detail.as_deref(), Some("u-0 op: row 4 is missing"));
    assert_eq!(
        s.failures[0],
        Failure::new(FailureKind::OpFailed {
            detail: "u-0 op: row 4 is missing".into()
        })
    );
    // The failed op also puts the error rate above its allowance of 0.
    assert!(
        matches!(
            s.failures[1].kind,
            FailureKind::ErrorRate {
                failed: 1,
                total: 5,
                ..
            }
        ),
        "{:?}",
        s.failures
    );
    assert_eq!(
        s.failures[0].message,
        "stopped at the first failed op: u-0 op: row 4 is missing"
    );
    assert_eq!(s.exit_code(), stress_core::verdict::EXIT_FAILED);
}
