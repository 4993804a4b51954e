//! Shared pieces of the benchmarks: quick or full mode, medians, ratios, CPU time.

#![warn(missing_docs)]

use std::time::Duration;

/// Whether `cargo bench` asked for the full measurement (`--bench`), rather than the brief
/// smoke run `cargo test --benches` makes.
pub fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// A value of an option `--name VALUE` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The median of some figures.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// CPU seconds (user + system) this process has used so far.
pub fn own_cpu_seconds() -> f64 {
    stress_core::monitor::read_process("self").map_or(0.0, |p| p.cpu_seconds)
}

/// Run length for a measurement: `full` in full mode, `quick` otherwise.
pub fn pick(full: Duration, quick: Duration) -> Duration {
    if self::full() { full } else { quick }
}

#[cfg(test)]
mod tests {
    #[test]
    fn medians() {
        assert_eq!(super::median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(super::median(vec![]).is_nan());
    }
}
