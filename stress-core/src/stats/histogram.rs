//! Latency histograms: HdrHistograms of microseconds, three significant digits.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A latency histogram in microseconds (1 µs to any value: it grows as needed), with three
/// significant digits: percentiles are exact to within 0.1%.
///
/// The maximum is kept exactly beside the histogram (whose own is rounded to its precision).
#[derive(Debug, Clone)]
pub struct LatencyHistogram(Histogram<u64>, u64);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram. It starts small (values up to 2,047 µs: 16 KB) and doubles its
    /// range when a larger value comes, so that every user can keep one per op and interval.
    pub fn new() -> Self {
        Self(Histogram::new(3).expect("valid histogram precision"), 0)
    }

    /// Records one latency in µs (0 counts as 1 µs, the resolution).
    pub fn record(&mut self, us: u64) {
        let us = us.max(1);
        if self.0.record(us).is_err() {
            self.0.saturating_record(us);
        }
        self.1 = self.1.max(us);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.0.add(&other.0).expect("auto-resizing histograms always merge");
        self.1 = self.1.max(other.1);
    }

    /// A histogram read from elsewhere (an interval log): its maximum is its own, rounded to
    /// its precision.
    pub(crate) fn from_inner(mut h: Histogram<u64>) -> Self {
        h.auto(true);
        let max = h.max();
        Self(h, max)
    }

    /// The exact maximum, known from elsewhere (a serialized histogram keeps only its
    /// bucket): taken when it lies in the histogram's top bucket.
    pub(crate) fn set_exact_max(&mut self, max: u64) {
        if !self.0.is_empty() && self.0.equivalent(max, self.0.max()) {
            self.1 = max;
        }
    }

    /// The exact maximum (0 when empty).
    pub(crate) fn exact_max(&self) -> u64 {
        self.1
    }

    /// The HdrHistogram itself (for its serializers).
    pub(crate) fn inner(&self) -> &Histogram<u64> {
        &self.0
    }

    /// How many values were recorded.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at a quantile (0..=1), in µs: never above the exact maximum (the histogram
    /// reports the top of a value's bucket, up to 0.1% above what was recorded).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.0.is_empty() {
            0
        } else {
            self.0.value_at_quantile(q).min(self.1)
        }
    }

    /// Forgets every value, keeping the allocation.
    pub fn clear(&mut self) {
        self.0.reset();
        self.1 = 0;
    }

    /// Mean, percentiles and maximum.
    pub fn summary(&self) -> LatencySummary {
        if self.0.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.0.len(),
            mean: (self.0.mean() * 10.0).round() / 10.0,
            p50: self.quantile(0.50),
            p95: self.quantile(0.95),
            p99: self.quantile(0.99),
            p999: self.quantile(0.999),
            max: self.1,
        }
    }
}

/// Latency statistics in µs, as `summary.json` reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Values recorded (successful ops).
    pub count: u64,
    /// Mean, µs.
    pub mean: f64,
    /// Median, µs.
    pub p50: u64,
    /// 95th percentile, µs.
    pub p95: u64,
    /// 99th percentile, µs.
    pub p99: u64,
    /// 99.9th percentile, µs.
    pub p999: u64,
    /// Maximum, µs.
    pub max: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_percentile_reads_above_the_exact_maximum() {
        // 8,155,465 µs lands in a bucket whose top is higher: p999 read 8,159,231 µs, above max.
        let mut h = LatencyHistogram::new();
        for _ in 0..999 {
            h.record(100);
        }
        h.record(8_155_465);
        let s = h.summary();
        assert_eq!(s.max, 8_155_465);
        assert!(s.p999 <= s.max && s.p99 <= s.p999, "{s:?}");
        assert_eq!(h.quantile(1.0), 8_155_465);
        assert!(
            h.0.value_at_quantile(1.0) > 8_155_465,
            "the histogram alone reads above it: the cap is needed"
        );
    }

    #[test]
    fn merged_histograms_equal_one_that_saw_everything() {
        let mut whole = LatencyHistogram::new();
        let mut parts = vec![
            LatencyHistogram::new(),
            LatencyHistogram::new(),
            LatencyHistogram::new(),
        ];
        let mut x: u64 = 12345;
        for i in 0..30_000u64 {
            // A spread of values from 1 µs to ~10 s.
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = 1 + (x >> 40) % 10_000_000 / (1 + i % 1000);
            whole.record(v);
            parts[(i % 3) as usize].record(v);
        }
        let mut merged = LatencyHistogram::new();
        for p in &parts {
            merged.merge(p);
        }
        assert_eq!(merged.summary(), whole.summary());
        assert_eq!(merged.len(), 30_000);
    }

    #[test]
    fn percentiles_are_within_a_tenth_of_a_percent() {
        let mut h = LatencyHistogram::new();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        let s = h.summary();
        for (got, want) in [(s.p50, 50_000), (s.p99, 99_000), (s.p999, 99_900), (s.max, 100_000)] {
            let err = (got as f64 - want as f64).abs() / want as f64;
            assert!(err <= 0.001, "{got} vs {want}");
        }
        assert!((s.mean - 50_000.5).abs() / 50_000.5 < 0.001, "{}", s.mean);
    }

    #[test]
    fn grows_past_its_initial_range_and_handles_empty() {
        let mut h = LatencyHistogram::new();
        assert_eq!(h.summary(), LatencySummary::default());
        h.record(3_600_000_000);
        h.record(0);
        assert_eq!(h.len(), 2);
        assert_eq!(h.summary().max, 3_600_000_000, "the maximum is exact");
        assert_eq!(h.quantile(0.0), 1);
    }
}
