//! The user loop reads the clock once per op where it can (a closed loop with nothing that
//! waits between ops: the end of one op is the start of the next) and twice where it must.
//! Neither changes what a run means: the op digests are the ones the loop gave before (pinned
//! here, from commit 2bc3306, the last with two reads per op), and the latencies keep their
//! invariants — an op's time covers at least what it did, and latency equals service time in
//! a closed loop and is at least service time under a rate. No assertion here is on speed.

use std::time::Duration;

use stress_core::Summary;
use stress_core::prelude::*;

fn noop(_: &mut User<Bare>) -> OpResult {
    Ok(Outcome::done())
}

fn draws(u: &mut User<Bare>) -> OpResult {
    let n = u.rng().random_range(0..4u32);
    for _ in 0..n {
        let _: u64 = u.rng().random();
    }
    Ok(Outcome::rows(u64::from(n)))
}

fn sleeps(_: &mut User<Bare>) -> OpResult {
    std::thread::sleep(Duration::from_millis(2));
    Ok(Outcome::done())
}

fn fails(u: &mut User<Bare>) -> OpResult {
    if u.rng().random_range(0..3u32) == 0 {
        stress_core::op_bail!("refused");
    }
    Ok(Outcome::done())
}

fn mixed() -> Workload<Bare> {
    Workload::new(Bare)
        .class(
            UserClass::new("a", 2)
                .read("noop", 0.6, noop)
                .read("draws", 0.3, draws)
                .write("sleeps", 0.1, sleeps),
        )
        .class(
            UserClass::new("b", 1)
                .read("draws", 0.5, draws)
                .write("fails", 0.5, fails),
        )
        .class(UserClass::new("c", 1).read("draws", 1.0, draws))
}

/// What 2bc3306 (two clock reads per op) gave for `mixed()` under seed 35, 200 ops per user;
/// `c-0` (a class of one op) what the one-read loop gave before a one-op roll skipped the search
/// (the roll must draw the same as before).
const DIGESTS: [(&str, &str); 4] = [
    ("a-0", "c9d3ae619106b2ed"),
    ("a-1", "95c42434a02632b9"),
    ("b-0", "3fcb761181d20832"),
    ("c-0", "a240f95323775599"),
];

fn digests(s: &Summary) -> Vec<(String, String)> {
    s.users.iter().map(|u| (u.id.clone(), u.op_digest.clone())).collect()
}

fn pinned() -> Vec<(String, String)> {
    DIGESTS.iter().map(|(u, d)| (u.to_string(), d.to_string())).collect()
}

fn run(runner: Runner) -> Summary {
    runner.seed(35).ops_per_user(200).run(mixed()).unwrap().summary
}

#[test]
fn one_clock_read_per_op_keeps_the_digests() {
    let s = run(Runner::new("chained"));
    assert_eq!(digests(&s), pinned());
    assert_eq!(s.total_ops, 800);
    let counted: u64 = s.ops.values().map(|o| o.count).sum();
    assert_eq!(counted, 800);
}

#[test]
fn two_clock_reads_per_op_keep_the_digests_too() {
    // Think time and a rate: the loop cannot carry one op's end to the next.
    let thinking = run(Runner::new("thinking").think_ms(0, 1));
    assert_eq!(digests(&thinking), pinned());
    let paced = run(Runner::new("paced").rate(20_000.0));
    assert_eq!(digests(&paced), pinned());
}

#[test]
fn latencies_keep_their_invariants() {
    let s = run(Runner::new("chained"));
    let sleeps = &s.ops["sleeps"];
    // An op's time covers at least what it did.
    assert!(sleeps.latency_us.p50 >= 2_000, "{:?}", sleeps.latency_us);
    for (name, op) in &s.ops {
        // A closed loop has no intended start: latency is service time.
        if let Some(service) = &op.service_us {
            assert_eq!(service.count, op.latency_us.count, "{name}");
            assert_eq!(service.p50, op.latency_us.p50, "{name}");
            assert_eq!(service.max, op.latency_us.max, "{name}");
        }
        assert!(op.latency_us.max >= op.latency_us.p50, "{name}");
    }
    assert_eq!(s.ops["fails"].failed, s.failed_ops);
    // Under a rate, latency runs from the intended start: never shorter than service time.
    let paced = run(Runner::new("paced").rate(20_000.0));
    for (name, op) in &paced.ops {
        let service = op.service_us.as_ref().unwrap_or(&op.latency_us);
        assert!(op.latency_us.max >= service.max, "{name}");
        assert!(op.latency_us.p50 >= service.p50, "{name}");
    }
    assert!(paced.ops["sleeps"].latency_us.p50 >= 2_000);
}
