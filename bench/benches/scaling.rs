//! Harness scaling: a no-op workload at 1 … 1000 users — ops/s, ns per op, time to start all
//! users, peak RSS — and a memory soak (`-- --soak SECONDS`, default 120 in full mode).
//! Each measurement runs in a process of its own, so that one's memory does not count in the
//! next one's peak.
//!
//! `cargo bench -p stress-bench --bench scaling`

use std::process::Command;
use std::time::Duration;

use stress_bench::{arg, full, pick};
use stress_core::prelude::*;

fn noop(_: &mut User<Bare>) -> OpResult {
    Ok(Outcome::done())
}

/// One configuration, in this process: prints one line of the table.
fn one(users: usize) {
    let d = pick(Duration::from_secs(5), Duration::from_millis(500));
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

/// The soak, in this process: RSS over a long run of 64 users.
fn soak(secs: u64) {
    let w = Workload::new(Bare).class(UserClass::new("u", 64).read("noop", 1.0, noop));
    let s = Runner::new("soak")
        .seed(2)
        .think_ms(1, 1)
        .duration(Duration::from_secs(secs))
        .run(w)
        .expect("runs")
        .summary;
    let rss: Vec<f64> = s
        .timeseries
        .iter()
        .filter_map(|r| r.resources.iter().find(|(k, _)| k == "process.rss_mb").map(|(_, v)| *v))
        .collect();
    // After the first tenth of the run (minute 1 of 10), as the target is stated.
    let from = (rss.len() / 10).max(1).min(rss.len().saturating_sub(1));
    if let (Some(first), Some(last)) = (rss.get(from), rss.last()) {
        let peak = rss[from..].iter().copied().fold(0.0, f64::max);
        println!(
            "soak {secs}s, 64 users: {} ops; RSS {first:.1} MB at {from}s, {last:.1} MB at {}s ({:+.1}%), peak after warm-up {peak:.1} MB",
            s.total_ops,
            rss.len() - 1,
            (last - first) / first * 100.0
        );
    }
}

fn main() {
    if let Some(n) = arg("--one").and_then(|n| n.parse().ok()) {
        return one(n);
    }
    if let Some(secs) = arg("--soak-only").and_then(|n| n.parse().ok()) {
        return soak(secs);
    }
    let exe = std::env::current_exe().unwrap();
    let mode: &[&str] = if full() { &["--bench"] } else { &[] };
    let counts: &[usize] = if full() { &[1, 2, 8, 64, 512, 1000] } else { &[1, 8, 64] };
    println!("users  ops/s        ns/op    startup_ms  peak_rss_mb");
    for n in counts {
        let ok = Command::new(&exe)
            .args(mode)
            .args(["--one", &n.to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let secs = arg("--soak")
        .and_then(|s| s.parse().ok())
        .unwrap_or(if full() { 120 } else { 3 });
    let ok = Command::new(&exe)
        .args(mode)
        .args(["--soak-only", &secs.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}
