//! What a workload measures itself, beside the harness's per-op figures: the time of named
//! phases inside its ops (`u.phase("write", ..)`) and named figures it observes
//! (`u.figure("db_bytes", n)`: sizes, counts, ratios). Each user keeps its own; the run merges
//! them into `summary.json` at the end, so nothing here touches another thread.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::histogram::{LatencyHistogram, LatencySummary};

/// One phase over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseStats {
    /// Times the phase ran.
    pub count: u64,
    /// Seconds spent in it, summed over every user.
    pub total_s: f64,
    /// The duration of one run of it, µs.
    pub latency_us: LatencySummary,
}

/// One figure over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FigureStats {
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
    /// Their mean.
    pub mean: f64,
}

impl FigureStats {
    /// Adds another run's values of the same figure (a merged run's shards).
    pub(crate) fn add(&mut self, o: &FigureStats) {
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.mean = if self.count > 0 {
            self.sum / self.count as f64
        } else {
            0.0
        };
    }
}

#[derive(Debug, Clone, Default)]
struct Phase {
    hist: LatencyHistogram,
    total: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Figure {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

/// One user's phases and figures (and, merged, a run's).
#[derive(Debug, Clone, Default)]
pub(crate) struct Measures {
    phases: BTreeMap<String, Phase>,
    figures: BTreeMap<String, Figure>,
}

impl Measures {
    pub(crate) fn phase(&mut self, name: &str, d: Duration) {
        let p = match self.phases.get_mut(name) {
            Some(p) => p,
            None => self.phases.entry(name.to_owned()).or_default(),
        };
        p.hist.record(d.as_micros() as u64);
        p.total += d;
    }

    /// Each phase's durations, µs.
    pub(crate) fn phase_histograms(&self) -> impl Iterator<Item = (&str, &LatencyHistogram)> {
        self.phases.iter().map(|(n, p)| (n.as_str(), &p.hist))
    }

    pub(crate) fn figure(&mut self, name: &str, value: f64) {
        if !value.is_finite() {
            return;
        }
        match self.figures.get_mut(name) {
            Some(f) => {
                f.count += 1;
                f.sum += value;
                f.min = f.min.min(value);
                f.max = f.max.max(value);
            }
            None => {
                self.figures.insert(
                    name.to_owned(),
                    Figure {
                        count: 1,
                        sum: value,
                        min: value,
                        max: value,
                    },
                );
            }
        }
    }

    pub(crate) fn merge(&mut self, other: &Measures) {
        for (name, p) in &other.phases {
            let mine = self.phases.entry(name.clone()).or_default();
            mine.hist.merge(&p.hist);
            mine.total += p.total;
        }
        for (name, f) in &other.figures {
            match self.figures.get_mut(name) {
                Some(m) => {
                    m.count += f.count;
                    m.sum += f.sum;
                    m.min = m.min.min(f.min);
                    m.max = m.max.max(f.max);
                }
                None => {
                    self.figures.insert(name.clone(), *f);
                }
            }
        }
    }

    pub(crate) fn phase_stats(&self) -> BTreeMap<String, PhaseStats> {
        self.phases
            .iter()
            .map(|(name, p)| {
                let stats = PhaseStats {
                    count: p.hist.len(),
                    total_s: round6(p.total.as_secs_f64()),
                    latency_us: p.hist.summary(),
                };
                (name.clone(), stats)
            })
            .collect()
    }

    pub(crate) fn figure_stats(&self) -> BTreeMap<String, FigureStats> {
        self.figures
            .iter()
            .map(|(name, f)| {
                let stats = FigureStats {
                    count: f.count,
                    sum: f.sum,
                    min: f.min,
                    max: f.max,
                    mean: f.sum / f.count as f64,
                };
                (name.clone(), stats)
            })
            .collect()
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_merge_into_run_totals() {
        let mut a = Measures::default();
        a.phase("write", Duration::from_millis(3));
        a.phase("write", Duration::from_millis(5));
        a.figure("db_bytes", 100.0);
        a.figure("ignored", f64::NAN);
        let mut b = Measures::default();
        b.phase("write", Duration::from_millis(2));
        b.phase("read", Duration::from_micros(700));
        b.figure("db_bytes", 300.0);
        let mut run = Measures::default();
        run.merge(&a);
        run.merge(&b);
        let p = run.phase_stats();
        assert_eq!(p["write"].count, 3);
        assert_eq!(p["write"].total_s, 0.010);
        assert_eq!(p["write"].latency_us.max, 5_000);
        assert_eq!(p["read"].latency_us.p50, 700);
        let f = run.figure_stats();
        assert_eq!(f.len(), 1, "NaN is not a figure");
        let d = &f["db_bytes"];
        assert_eq!((d.count, d.sum, d.min, d.max, d.mean), (2, 400.0, 100.0, 300.0, 200.0));
    }
}
