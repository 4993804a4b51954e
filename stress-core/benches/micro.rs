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
#[divan::bench(args = [200_000, 2_000_000])]
fn user_loop_per_op(b: Bencher, ops: u64) {
    b.counter(ItemsCount::new(ops)).bench(|| {
        let w = Workload::new(Bare).class(UserClass::new("u", 1).read("noop", 1.0, noop));
        Runner::new("noop").seed(1).ops_per_user(ops).run(w).unwrap()
    });
}

/// A run of one user and one no-op op: what a run costs besides its ops (threads started and
/// joined, the monitor, the summary), which `user_loop_per_op` spreads over its 200,000 ops.
#[divan::bench]
fn run_of_one_op(b: Bencher) {
    b.bench(|| {
        let w = Workload::new(Bare).class(UserClass::new("u", 1).read("noop", 1.0, noop));
        Runner::new("noop").seed(1).ops_per_user(1).run(w).unwrap()
    });
}

/// One clock read (`Instant::now()`: `clock_gettime(CLOCK_MONOTONIC)` through the vDSO): the
/// unit the loop's cost is stated in, measured in the same run.
#[divan::bench]
fn clock_read(b: Bencher) {
    b.counter(ItemsCount::new(1usize))
        .bench_local(|| divan::black_box(std::time::Instant::now()));
}

/// The no-op loop with 8 users sharing the machine's cores: the same ops in all, 200,000 or
/// 2,000,000 per user (ops/s against `user_loop_per_op`'s: how the loop scales over cores; a
/// run ends with its last user, so the shorter run also measures the scheduler's tail, as
/// `plain_threads` shows).
#[divan::bench(args = [200_000, 2_000_000])]
fn user_loop_8_users(b: Bencher, ops: u64) {
    b.counter(ItemsCount::new(ops * 8)).bench(|| {
        let w = Workload::new(Bare).class(UserClass::new("u", 8).read("noop", 1.0, noop));
        Runner::new("noop8").seed(1).ops_per_user(ops).run(w).unwrap()
    });
}

/// Spins of `plain_threads`: about as long as one no-op user's 200,000 ops (~9 ms here).
const SPINS: u64 = 70_000_000;

/// The machine's own scaling, measured as `user_loop_8_users` is but with no harness: 1 or 8
/// threads that each spin the same fixed work (`SPINS`, or ten times it), started together and
/// timed until the last one ends. Its 8-to-1 ratio is the most the loop's can be on this
/// machine at that length of run.
#[divan::bench(args = [(1, 1), (8, 1), (1, 10), (8, 10)])]
fn plain_threads(b: Bencher, (threads, times): (usize, u64)) {
    b.bench(|| {
        let spinning: Vec<_> = (0..threads)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    for i in 0..SPINS * times {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i);
                    }
                    divan::black_box(x)
                })
            })
            .collect();
        for t in spinning {
            t.join().unwrap();
        }
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

/// `report.html` of a one-hour run (3,600 one-second intervals, two ops with a histogram per
/// second each), rendered from its files: what `cargo stress report DIR` does. The page's size
/// is printed once.
#[divan::bench(sample_count = 10)]
fn report_html_one_hour(b: Bencher) {
    let dir = one_hour_run();
    let page = stress_core::report::html::render(dir.path()).unwrap();
    eprintln!("report_html_one_hour: {} bytes", page.len());
    b.bench(|| stress_core::report::html::render(dir.path()).unwrap());
}

/// A run directory as a one-hour run would leave it: a short real run of two ops, its
/// seconds repeated to 3,600 in `summary.json` and `histograms.hlog`.
fn one_hour_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let w = Workload::new(Bare).class(
        UserClass::new("u", 2)
            .read("a", 0.5, |_| {
                std::thread::sleep(std::time::Duration::from_micros(50));
                Ok(Outcome::done())
            })
            .write("b", 0.5, noop),
    );
    Runner::new("hour")
        .seed(1)
        .duration(std::time::Duration::from_millis(2100))
        .output_dir(dir.path())
        .run(w)
        .unwrap();
    let path = dir.path().join("summary.json");
    let mut s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let row = s["timeseries"][1].clone();
    s["timeseries"] = (0..3600u64)
        .map(|i| {
            let mut r = row.clone();
            r["second"] = i.into();
            r
        })
        .collect();
    std::fs::write(&path, s.to_string()).unwrap();
    let log = std::fs::read_to_string(dir.path().join("histograms.hlog")).unwrap();
    let (head, lines): (Vec<&str>, Vec<&str>) = log.lines().partition(|l| !l.starts_with("Tag="));
    let second: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.split(',').nth(1) == Some("1.000"))
        .collect();
    let mut out = head.join("\n") + "\n";
    for i in 0..3600 {
        for l in &second {
            let mut parts: Vec<&str> = l.split(',').collect();
            let t = format!("{i}.000");
            parts[1] = &t;
            out.push_str(&parts.join(","));
            out.push('\n');
        }
    }
    std::fs::write(dir.path().join("histograms.hlog"), out).unwrap();
    dir
}
