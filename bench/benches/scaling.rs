//! Harness scaling: a no-op workload at 1 … 1000 users — ops/s, ns per op, time to start all
//! users, peak RSS — and a memory soak (`-- --soak SECONDS`, default 60 in full mode).
//!
//! `cargo bench -p stress-bench --bench scaling`

use std::time::Duration;

use stress_bench::{arg, full, pick};
use stress_core::prelude::*;

fn noop(_: &mut User<Bare>) -> OpResult {
    Ok(Outcome::done())
}

fn main() {
    let counts: &[usize] = if full() { &[1, 2, 8, 64, 512, 1000] } else { &[1, 8, 64] };
    let d = pick(Duration::from_secs(5), Duration::from_millis(500));
    println!("users  ops/s        ns/op    startup_ms  peak_rss_mb");
    for &users in counts {
        let w = Workload::new(Bare).class(UserClass::new("u", users).read("noop", 1.0, noop));
        let s = Runner::new("scaling").seed(1).duration(d).run(w).expect("runs").summary;
        assert_eq!(s.failed_ops, 0);
        println!(
            "{users:<6} {:<12.0} {:<8.1} {:<11.1} {:.1}",
            s.ops_per_sec,
            1e9 / s.ops_per_sec,
            s.startup_s * 1e3,
            s.resources["process.rss_mb"]
        );
    }
    let soak = arg("--soak")
        .and_then(|s| s.parse().ok())
        .unwrap_or(if full() { 60 } else { 3 });
    // 64 users with a little think time: a steady load for as long as asked.
    let w = Workload::new(Bare).class(UserClass::new("u", 64).read("noop", 1.0, noop));
    let s = Runner::new("soak")
        .seed(2)
        .think_ms(1, 1)
        .duration(Duration::from_secs(soak))
        .run(w)
        .expect("runs")
        .summary;
    let rss: Vec<f64> = s
        .timeseries
        .iter()
        .filter_map(|r| r.resources.iter().find(|(k, _)| k == "process.rss_mb").map(|(_, v)| *v))
        .collect();
    let warm = rss.len() / 10; // after the first tenth of the run
    if let (Some(first), Some(last)) = (rss.get(warm.max(1)), rss.last()) {
        println!(
            "soak {soak}s, 64 users: {} ops, RSS {first:.1} MB at {}s -> {last:.1} MB at {}s ({:+.1}%)",
            s.total_ops,
            warm.max(1),
            rss.len() - 1,
            (last - first) / first * 100.0
        );
    }
}
