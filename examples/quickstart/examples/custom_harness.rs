//! A custom harness: no macro registry, no libtest — run the quickstart workload from code
//! twice, with two seeds, and use the summaries as values.
//!
//! `cargo run --release -p quickstart --example custom_harness`

use std::time::Duration;

use stress_core::Runner;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut results = Vec::new();
    for seed in [1, 2] {
        let report = Runner::new("orders")
            .seed(seed)
            .duration(Duration::from_secs(3))
            .users("inserter", 2)
            .output_under(stress_core::report::default_base())
            .run(quickstart::orders())?;
        let s = &report.summary;
        println!(
            "seed {seed}: {} ops ({:.0}/s), p99 {} µs, {} failed, verify {} -> {}",
            s.total_ops,
            s.ops_per_sec,
            s.latency_us.p99,
            s.failed_ops,
            if s.verify.passed { "passed" } else { "FAILED" },
            report
                .out_dir
                .as_deref()
                .map_or("(no files)".into(), |d| d.display().to_string()),
        );
        results.push(report);
    }
    if results.iter().all(|r| r.passed()) {
        Ok(())
    } else {
        Err("a run failed: see its summary.json".into())
    }
}
