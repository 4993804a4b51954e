//! Monitoring: metrics sources sampled every interval (this process, and whatever the adapter
//! adds: server processes, files on disk, server logs), resource limits with hysteresis that
//! drive backpressure, and crash detection.

mod limits;
mod process;

pub(crate) use limits::{LimitEvent, Limits};
pub use process::{
    CpuMeter, ProcessMetrics, ProcessSample, TreeUsage, children_of, cores, pids_with_cmdline, read_process,
    read_process_with_pss, read_tree, reset_peak_rss, state_of, thread_states, tree_of,
};

/// The last `n` non-blank lines of a server log, joined with ` | `: what a crash or a failed
/// start names.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// What a metric measures; limits act on the sum of each kind over all sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// Resident memory, MB: summed against `max_memory_mb`.
    MemoryMb,
    /// CPU, percent of one core: summed against `max_cpu_percent`.
    CpuPercent,
    /// Size on disk, MB: summed against `max_disk_mb`.
    DiskMb,
    /// Anything else (connections, queue lengths, commits): reported, not limited.
    Other,
}

/// One metric value from one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Metric name within its source, e.g. `rss_mb`.
    pub name: String,
    /// What it measures.
    pub kind: ResourceKind,
    /// The value.
    pub value: f64,
}

impl Reading {
    /// A reading.
    pub fn new(name: impl Into<String>, kind: ResourceKind, value: f64) -> Self {
        Self {
            name: name.into(),
            kind,
            value,
        }
    }
}

/// Whether what a source watches is still alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Running.
    Alive,
    /// Gone: the run stops with `CrashDetected` and this explanation (exit status, last log lines).
    Crashed(String),
}

/// Something the monitor samples every interval. Readings appear in `summary.json` (peaks)
/// and `timeseries.csv` as `source.metric`.
pub trait MetricsSource: Send {
    /// The source's name, e.g. `process`, `sqlite`, `postgres`.
    fn name(&self) -> &str;

    /// Current readings. An error is reported once as a warning; sampling goes on.
    fn sample(&mut self) -> Result<Vec<Reading>, String>;

    /// Whether the watched engine is alive (checked every interval).
    fn health(&mut self) -> Health {
        Health::Alive
    }

    /// Server-side latencies (µs) of the queries the engine finished since the last call,
    /// read from the engine's own records (a query log): the summary reports them as
    /// `server_latency_us.<source>` beside the client-side `latency_us`. Called after every
    /// [`sample`](MetricsSource::sample).
    fn server_latencies(&mut self) -> Vec<u64> {
        Vec::new()
    }
}
