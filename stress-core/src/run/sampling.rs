//! Metrics sampling: reads every source once per interval and keeps the peaks, the readings at
//! the users' start and the server-side latencies. It only observes: what to do about a reading
//! (pause, stop) is the monitor's and the stop policy's.

use std::collections::BTreeMap;

use crate::monitor::{Health, MetricsSource, ResourceKind};
use crate::stats::LatencyHistogram;

/// One interval's readings.
#[derive(Debug, Default)]
pub(crate) struct Sampled {
    /// Every reading, as `source.metric`.
    pub(crate) readings: Vec<(String, f64)>,
    /// Memory, CPU and disk summed over the sources, for the limits.
    pub(crate) memory: f64,
    pub(crate) cpu: f64,
    pub(crate) disk: f64,
    /// Sources whose engine died: (source, what it said).
    pub(crate) crashed: Vec<(String, String)>,
}

/// The metrics sources and what was read from them.
pub(crate) struct Sampler {
    pub(crate) sources: Vec<Box<dyn MetricsSource>>,
    /// Peak of every reading, by `source.metric`.
    pub(crate) peaks: BTreeMap<String, f64>,
    /// Readings when the users started.
    pub(crate) baseline: BTreeMap<String, f64>,
    /// Server-side latencies by source, from [`MetricsSource::server_latencies`].
    pub(crate) server_latency: BTreeMap<String, LatencyHistogram>,
    /// Sources that could not be read, one line each.
    pub(crate) warned: Vec<String>,
}

impl Sampler {
    pub(crate) fn new(sources: Vec<Box<dyn MetricsSource>>) -> Self {
        Self {
            sources,
            peaks: BTreeMap::new(),
            baseline: BTreeMap::new(),
            server_latency: BTreeMap::new(),
            warned: Vec::new(),
        }
    }

    /// Readings at the users' start, beside the peaks: what the run added is peak minus start.
    /// This process's memory high-water mark is reset first, so that its peak is the run's own.
    pub(crate) fn baseline(&mut self) {
        crate::monitor::reset_peak_rss();
        for src in &mut self.sources {
            let name = src.name().to_owned();
            // A source that cannot be read now is reported by the first interval's sample.
            for r in src.sample().unwrap_or_default() {
                let key = format!("{name}.{}", r.name);
                let peak = self.peaks.entry(key.clone()).or_insert(r.value);
                *peak = peak.max(r.value);
                self.baseline.insert(key, r.value);
            }
        }
    }

    /// Reads every source once.
    pub(crate) fn sample(&mut self) -> Sampled {
        let mut out = Sampled::default();
        for src in &mut self.sources {
            let name = src.name().to_owned();
            match src.sample() {
                Ok(rs) => {
                    for r in rs {
                        let key = format!("{name}.{}", r.name);
                        let peak = self.peaks.entry(key.clone()).or_insert(r.value);
                        *peak = peak.max(r.value);
                        match r.kind {
                            ResourceKind::MemoryMb => out.memory += r.value,
                            ResourceKind::CpuPercent => out.cpu += r.value,
                            ResourceKind::DiskMb => out.disk += r.value,
                            ResourceKind::Other => {}
                        }
                        out.readings.push((key, r.value));
                    }
                }
                Err(e) => {
                    let w = format!("metrics source `{name}` cannot be read: {e}");
                    if !self.warned.contains(&w) {
                        self.warned.push(w);
                    }
                }
            }
            let latencies = src.server_latencies();
            if !latencies.is_empty() {
                let h = self.server_latency.entry(name.clone()).or_default();
                latencies.into_iter().for_each(|us| h.record(us));
            }
            if let Health::Crashed(why) = src.health() {
                out.crashed.push((name, why));
            }
        }
        out
    }
}
