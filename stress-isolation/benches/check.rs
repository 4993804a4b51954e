//! Checker throughput on simulated strict-serializable list-append histories.
//!
//! `cargo bench -p stress-isolation --bench check` runs the divan benchmark (100k transactions)
//! and then one 1M-transaction measurement: median of 3 checks in transactions per second, and
//! the peak memory the check adds beyond the history (VmHWM from /proc/self/status, before and
//! after the first check), in bytes per transaction. `cargo test --benches` runs only a small
//! case once.

#[path = "../tests/common/sim.rs"]
mod sim;

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Instant;

use stress_isolation::{Model, Options, Txn, check};

fn history(n: usize) -> &'static [Txn] {
    static H: OnceLock<Vec<Txn>> = OnceLock::new();
    H.get_or_init(|| sim::serial_list_append(n, 16, 32, 40, 42))
}

fn opts() -> Options {
    Options {
        model: Model::StrictSerializable,
        ..Options::default()
    }
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn check_100k_list_append(bencher: divan::Bencher<'_, '_>) {
    let n = if bench_mode() { 100_000 } else { 2_000 };
    let h = history(n);
    bencher.counter(divan::counter::ItemsCount::new(h.len())).bench(|| {
        let r = check(black_box(h), &opts());
        assert!(r.valid());
        r
    });
}

fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn million() {
    let n = 1_000_000;
    let t0 = Instant::now();
    let h = sim::serial_list_append(n, 16, 32, 40, 42);
    let mops: usize = h.iter().map(|t| t.mops.len()).sum();
    println!(
        "1M: generated {n} txns ({mops} mops) in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let before = vm_hwm_kib();
    let mut secs = Vec::new();
    for i in 0..3 {
        let t = Instant::now();
        let r = check(black_box(&h), &opts());
        secs.push(t.elapsed().as_secs_f64());
        assert!(r.valid(), "{:?}", r.anomalies);
        if i == 0
            && let (Some(b), Some(a)) = (before, vm_hwm_kib())
        {
            let per = (a.saturating_sub(b) * 1024) as f64 / n as f64;
            println!("1M: VmHWM {b} KiB -> {a} KiB: {per:.0} bytes per txn beyond the history");
        }
    }
    secs.sort_by(f64::total_cmp);
    let median = secs[1];
    println!(
        "1M: check median {median:.2} s over 3 runs ({secs:?}): {:.0} txns/s",
        n as f64 / median
    );
}

fn main() {
    divan::main();
    if bench_mode() {
        million();
    }
}
