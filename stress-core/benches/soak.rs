//! The harness's memory over a long mixed run: `cargo bench -p stress-core --bench soak -- --secs 3600`.
//!
//! A mixed workload on the bare adapter (no engine in the process, so what grows is the
//! harness): readers, writers and mixed users, ops of a few microseconds to a few hundred, a
//! few that fail, think time between ops, and an output directory, so that `histograms.hlog`
//! streams to disk as the run goes. A thread samples this process's RSS every `--every`
//! seconds (default 10) into `rss.csv` in the run's directory (`--out DIR`, default a temporary
//! one) as it goes, so a soak can be read before it ends; at the end the least-squares slope of
//! RSS over time, after the first tenth of the run (the warm-up) and before its end, is printed
//! in MB per hour.
//!
//! Under `cargo test --benches` (no `--bench` flag) it runs for 3 s.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use stress_core::prelude::*;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A few microseconds of work that the optimiser cannot drop.
fn spin(u: &mut User<Bare>, n: u32) -> u64 {
    let mut x: u64 = u.rng().random();
    for _ in 0..n {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    std::hint::black_box(x)
}

fn point(u: &mut User<Bare>) -> OpResult {
    let n = u.rng().random_range(100..2_000);
    spin(u, n);
    Ok(Outcome::rows(1))
}

fn scan(u: &mut User<Bare>) -> OpResult {
    let us = u.rng().random_range(50..400);
    std::thread::sleep(Duration::from_micros(us));
    Ok(Outcome::rows(100).with_bytes(6_400))
}

fn insert(u: &mut User<Bare>) -> OpResult {
    let n = u.rng().random_range(1_000..5_000);
    spin(u, n);
    // One in a thousand fails: the error log and the failed counts are part of the soak.
    if u.rng().random_range(0..1_000) == 0 {
        stress_core::op_bail!("refused");
    }
    Ok(Outcome::rows(10).with_bytes(640))
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Least-squares slope of `(x, y)`.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mx, my) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let secs: u64 = arg("--secs")
        .and_then(|s| s.parse().ok())
        .unwrap_or(if bench { 3_600 } else { 3 });
    let every: u64 = arg("--every")
        .and_then(|s| s.parse().ok())
        .unwrap_or(if bench { 10 } else { 1 });
    let temp = tempfile::tempdir().unwrap();
    let out = arg("--out").map_or_else(|| temp.path().to_owned(), std::path::PathBuf::from);
    std::fs::create_dir_all(&out).unwrap();
    let w = Workload::new(Bare)
        .class(
            UserClass::new("reader", 6)
                .read("point", 0.8, point)
                .read("scan", 0.2, scan),
        )
        .class(UserClass::new("writer", 2).write("insert", 1.0, insert))
        .class(
            UserClass::new("mixed", 2)
                .read("point", 0.5, point)
                .read("scan", 0.2, scan)
                .write("insert", 0.3, insert),
        );
    let done = AtomicBool::new(false);
    let samples = std::sync::Mutex::new(Vec::<(f64, f64)>::new());
    let summary = std::thread::scope(|s| {
        s.spawn(|| {
            let mut csv = std::fs::File::create(out.join("rss.csv")).unwrap();
            writeln!(csv, "seconds,rss_kb").unwrap();
            let t0 = Instant::now();
            let mut next = Duration::ZERO;
            while !done.load(Ordering::Relaxed) {
                if t0.elapsed() >= next {
                    let (t, kb) = (t0.elapsed().as_secs_f64(), rss_kb());
                    writeln!(csv, "{t:.1},{kb}").unwrap();
                    csv.flush().unwrap();
                    samples.lock().unwrap().push((t, kb as f64));
                    next += Duration::from_secs(every);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let s = Runner::new("soak")
            .seed(3)
            .think_ms(0, 1)
            .duration(Duration::from_secs(secs))
            .output_dir(out.join("run"))
            .run(w)
            .expect("runs")
            .summary;
        done.store(true, Ordering::Relaxed);
        s
    });
    let samples = samples.into_inner().unwrap();
    // After the warm-up and before the run's end: a sample taken while the run writes its
    // summary and report is that work's, not growth.
    let warm = samples.iter().position(|(t, _)| *t >= secs as f64 / 10.0).unwrap_or(0);
    let end = samples
        .iter()
        .rposition(|(t, _)| *t <= secs as f64)
        .map_or(samples.len(), |i| i + 1);
    let after = &samples[warm..end.max(warm)];
    let mb_per_hour = slope(after) / 1024.0 * 3_600.0;
    let (first, last) = (after.first().map_or(0.0, |p| p.1), after.last().map_or(0.0, |p| p.1));
    let peak = after.iter().map(|p| p.1).fold(0.0, f64::max);
    let hlog = std::fs::metadata(out.join("run").join("histograms.hlog")).map_or(0, |m| m.len());
    println!(
        "soak {secs}s, 10 users: {} ops ({} failed); RSS {:.1} MB at {:.0}s → {:.1} MB at {:.0}s, peak {:.1} MB; \
         slope {mb_per_hour:+.3} MB per hour over {} samples; histograms.hlog {:.1} MB",
        summary.total_ops,
        summary.failed_ops,
        first / 1024.0,
        after.first().map_or(0.0, |p| p.0),
        last / 1024.0,
        after.last().map_or(0.0, |p| p.0),
        peak / 1024.0,
        after.len(),
        hlog as f64 / 1_048_576.0,
    );
    assert!(summary.total_ops > 0);
}
