//! Rates that change over a run deliver what their schedule makes due: a ramp from zero, and a
//! step, under uniform and Poisson arrivals. The schedule's integral is known in closed form; the
//! ops are counted, and the summary's own `scheduled_ops` and `delivered` must agree with both.

use std::time::Duration;

use stress_core::config::{Arrival, ConfigLayer, parse_stages};
use stress_core::prelude::*;

fn noop(_: &mut User<Bare>) -> OpResult {
    Ok(Outcome::done())
}

/// Runs `users` no-op users at `rate` under `stages` for `secs`, and returns (ops run, the
/// summary's scheduled ops, the summary's delivered share).
fn ramp(stages: &str, arrival: Arrival, users: usize, secs: u64) -> (u64, u64, f64) {
    let w = Workload::new(Bare).class(UserClass::new("u", users).read("noop", 1.0, noop));
    let r = Runner::new("ramp")
        .seed(5)
        .rate(1000.0)
        .duration(Duration::from_secs(secs))
        .settings(&ConfigLayer {
            arrival: Some(arrival),
            stages: Some(parse_stages(stages).unwrap()),
            ..Default::default()
        })
        .run(w)
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.failed_ops, 0);
    let scheduled = s.scheduled_ops.expect("a run under a rate has a schedule");
    let delivered = s.delivered.expect("and a delivered share");
    (s.total_ops, scheduled, delivered)
}

/// `ran` within 10% of `expected`, and the summary's schedule within 10% of it too, with the
/// delivered share the ratio of the two.
fn assert_delivers(what: &str, (ran, scheduled, delivered): (u64, u64, f64), expected: f64) {
    let off = |x: f64| (x - expected).abs() / expected;
    assert!(
        off(ran as f64) <= 0.10,
        "{what}: {ran} ops ran, {expected} were due (the schedule's integral)"
    );
    assert!(
        off(scheduled as f64) <= 0.10,
        "{what}: the summary says {scheduled} were due, the integral is {expected}"
    );
    let ratio = ran as f64 / scheduled as f64;
    assert!(
        (delivered - ratio).abs() < 0.001,
        "{what}: delivered {delivered} is not ran/scheduled {ratio}"
    );
    assert!(delivered >= 0.9, "{what}: delivered {delivered}");
}

// 4 s from 0 to 1000 ops/s: due = 1000 × 4 / 2 = 2000.
#[test]
fn a_ramp_from_zero_delivers_its_integral_uniform() {
    assert_delivers("4s:1000 uniform", ramp("4s:1000", Arrival::Uniform, 4, 4), 2000.0);
}

#[test]
fn a_ramp_from_zero_delivers_its_integral_poisson() {
    assert_delivers("4s:1000 poisson", ramp("4s:1000", Arrival::Poisson, 4, 4), 2000.0);
}

// 1 s from 0 to 1000 ops/s, then 3 s at 1000: due = 500 + 3000 = 3500.
#[test]
fn a_step_delivers_its_integral_uniform() {
    assert_delivers(
        "1s:1000,3s:1000 uniform",
        ramp("1s:1000,3s:1000", Arrival::Uniform, 4, 4),
        3500.0,
    );
}

#[test]
fn a_step_delivers_its_integral_poisson() {
    assert_delivers(
        "1s:1000,3s:1000 poisson",
        ramp("1s:1000,3s:1000", Arrival::Poisson, 4, 4),
        3500.0,
    );
}

/// One user on a slow ramp: the case where a gap taken at the rate of the last op slept through
/// the whole ramp. 2 s from 0 to 50 ops/s is 50 ops due.
#[test]
fn one_user_on_a_slow_ramp_is_not_starved() {
    let (ran, scheduled, _) = ramp("2s:50", Arrival::Uniform, 1, 2);
    assert!((45..=55).contains(&ran), "{ran} ops ran, 50 were due");
    assert!((45..=55).contains(&scheduled), "{scheduled} scheduled, 50 due");
}
