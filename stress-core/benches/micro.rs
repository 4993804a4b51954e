//! Micro benchmarks of the harness's own costs: `cargo bench -p stress-core --bench micro`.
//! Under `cargo test --benches` each runs once, so that they cannot rot.

use divan::Bencher;
use divan::counter::ItemsCount;
use stress_core::keys::KeyDist;
use stress_core::prelude::*;
use stress_core::stats::LatencyHistogram;

fn main() {
    divan::main();
}

fn noop(_: &mut User<Bare>) -> OpResult {
    Ok(Outcome::done())
}

/// The user loop's cost per op with an op that does nothing: roll, RNG, timing, sample,
/// digest, stop and backpressure checks. One user thread; thread start and reports are spread
/// over the ops.
#[divan::bench(args = [200_000])]
fn user_loop_per_op(b: Bencher, ops: u64) {
    b.counter(ItemsCount::new(ops)).bench(|| {
        let w = Workload::new(Bare).class(UserClass::new("u", 1).read("noop", 1.0, noop));
        Runner::new("noop").seed(1).ops_per_user(ops).run(w).unwrap()
    });
}

/// The same loop with three ops to roll from.
#[divan::bench(args = [200_000])]
fn user_loop_per_op_three_ops(b: Bencher, ops: u64) {
    b.counter(ItemsCount::new(ops)).bench(|| {
        let w = Workload::new(Bare).class(
            UserClass::new("u", 1)
                .read("a", 0.5, noop)
                .read("b", 0.3, noop)
                .write("c", 0.2, noop),
        );
        Runner::new("noop3").seed(1).ops_per_user(ops).run(w).unwrap()
    });
}

/// Recording one latency.
#[divan::bench]
fn histogram_record(b: Bencher) {
    let mut h = LatencyHistogram::new();
    let mut v = 1u64;
    b.counter(ItemsCount::new(1usize)).bench_local(|| {
        v = v.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1) % 5_000_000 + 1;
        h.record(divan::black_box(v));
    });
}

/// Merging two histograms of 100k latencies each (what the collector does per interval).
#[divan::bench]
fn histogram_merge(b: Bencher) {
    let mut x = LatencyHistogram::new();
    let mut y = LatencyHistogram::new();
    for i in 1..=100_000u64 {
        x.record(i * 7 % 2_000_000 + 1);
        y.record(i * 13 % 9_000_000 + 1);
    }
    b.bench_local(|| {
        let mut m = x.clone();
        m.merge(divan::black_box(&y));
        m
    });
}

/// One key draw from each distribution over a million keys.
#[divan::bench(args = ["uniform", "sequential", "zipfian", "scrambled_zipfian", "latest", "hotspot", "exponential"])]
fn key_draw(b: Bencher, spec: &str) {
    let mut keys = KeyDist::parse(spec, 1_000_000).unwrap().generator();
    let mut rng = stress_core::seed::rng(1);
    b.counter(ItemsCount::new(1usize)).bench_local(|| keys.next(&mut rng));
}
