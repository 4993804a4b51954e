//! One iteration of a sweep (one cell of a matrix): its parameter values, whether it held, and
//! the figures a sweep compares, read from the iteration's own `summary.json` and `replay.json`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;

use crate::config::RunConfig;
use crate::report::{ReplayFile, Summary};
use crate::stats::LatencySummary;
use crate::verdict::{Failure, FailureKind, StopReason};

/// Whether an iteration held, or why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// It passed.
    Ok,
    /// Failed ops above `max_error_rate`.
    Errors,
    /// A threshold was breached.
    Thresholds,
    /// With an op limit, the users did not finish their ops within the duration.
    Timeout,
    /// The server died.
    Crash,
    /// The verify step failed.
    Verify,
    /// A memory or CPU limit stayed breached.
    Limit,
    /// Ctrl-C.
    Interrupted,
    /// It did not start, or the harness failed (setup, adapter start).
    Error,
}

impl Status {
    /// `OK`, or the reason in one word.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Errors => "errors",
            Self::Thresholds => "thresholds",
            Self::Timeout => "timeout",
            Self::Crash => "crash",
            Self::Verify => "verify",
            Self::Limit => "limit",
            Self::Interrupted => "interrupted",
            Self::Error => "error",
        }
    }

    /// Whether it held.
    pub fn is_ok(self) -> bool {
        self == Self::Ok
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The figures of one iteration that a sweep compares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    /// Seconds measured.
    pub duration_s: f64,
    /// Ops run.
    pub ops: u64,
    /// Ops failed.
    pub failed_ops: u64,
    /// Ops per second.
    pub ops_per_sec: f64,
    /// Rows per second.
    pub rows_per_sec: f64,
    /// Payload bytes the ops reported, per second.
    pub bytes_per_sec: f64,
    /// Rows per successful op (the work one op does).
    pub rows_per_op: f64,
    /// Latency of successful ops, µs.
    pub latency_us: LatencySummary,
    /// This process's memory peak above its size at the users' start, MB.
    pub process_peak_mb: Option<f64>,
    /// The server's memory peak above its size at the users' start, MB (adapters that report a
    /// `*.memory_mb` of their own).
    pub server_peak_mb: Option<f64>,
    /// Mean time of each phase the ops timed (`User::phase`), ms: whatever the workload names.
    pub phases_ms: BTreeMap<String, f64>,
    /// Mean of each figure the ops recorded (`User::figure`).
    pub figures: BTreeMap<String, f64>,
    /// Per op name: (ops per second, p99 µs), when the workload has more than one op.
    pub per_op: BTreeMap<String, (f64, u64)>,
}

impl Metrics {
    /// The figures of a summary.
    pub fn of(s: &Summary) -> Self {
        let phases_ms: BTreeMap<String, f64> = s
            .phases
            .iter()
            .map(|(k, p)| (k.clone(), p.latency_us.mean / 1e3))
            .collect();
        let figures: BTreeMap<String, f64> = s.figures.iter().map(|(k, f)| (k.clone(), f.mean)).collect();
        let ok_ops = s.total_ops.saturating_sub(s.failed_ops);
        let delta = |peak: &str, start: &str| Some((s.resources.get(peak)? - s.resources_start.get(start)?).max(0.0));
        let servers: Vec<f64> = s
            .resources
            .keys()
            .filter(|k| k.ends_with(".memory_mb") && !k.starts_with("process."))
            .filter_map(|k| delta(k, k))
            .collect();
        let ops: Vec<_> = s.ops.iter().filter(|(name, _)| *name != "connect").collect();
        let per_op = if ops.len() > 1 && s.duration_s > 0.0 {
            ops.iter()
                .map(|(name, o)| {
                    let rate = (o.count - o.failed) as f64 / s.duration_s;
                    ((*name).clone(), ((rate * 1000.0).round() / 1000.0, o.latency_us.p99))
                })
                .collect()
        } else {
            BTreeMap::new()
        };
        Self {
            per_op,
            duration_s: s.duration_s,
            ops: s.total_ops,
            failed_ops: s.failed_ops,
            ops_per_sec: s.ops_per_sec,
            rows_per_sec: s.rows_per_sec,
            bytes_per_sec: if s.duration_s > 0.0 {
                s.total_bytes as f64 / s.duration_s
            } else {
                0.0
            },
            rows_per_op: if ok_ops > 0 {
                s.total_rows as f64 / ok_ops as f64
            } else {
                0.0
            },
            latency_us: s.latency_us,
            process_peak_mb: delta("process.hwm_mb", "process.rss_mb")
                .or_else(|| delta("process.rss_mb", "process.rss_mb")),
            server_peak_mb: (!servers.is_empty()).then(|| servers.iter().sum()),
            phases_ms,
            figures,
        }
    }
}

/// One iteration (one cell).
#[derive(Debug, Clone, PartialEq)]
pub struct Iteration {
    /// Its number, from 1.
    pub index: usize,
    /// The varying parameters' values.
    pub values: Vec<(String, String)>,
    /// Its directory's name within the sweep's (`iter-003`).
    pub dir: String,
    /// Whether it held.
    pub status: Status,
    /// Why not, in one line (empty when it held).
    pub detail: String,
    /// Why not, typed: its run's failures, and the sweep's own (a timeout, a run that did not
    /// start); what the exit code is made from.
    pub failures: Vec<Failure>,
    /// What it measured.
    pub metrics: Metrics,
}

impl Iteration {
    /// Reads the iteration from its run directory (`summary.json`, `replay.json`); without a
    /// summary it did not start, for the reason given (or an unknown one).
    pub fn from_dir(index: usize, values: Vec<(String, String)>, dir: &Path, why_not: Option<String>) -> Self {
        let name = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        match Summary::load(&dir.join("summary.json")) {
            Ok(s) => {
                let config = ReplayFile::load(&dir.join("replay.json")).ok().map(|r| r.config);
                Self::from_summary(index, values, name, &s, config.as_ref())
            }
            Err(e) => Self {
                index,
                values,
                dir: name,
                status: Status::Error,
                failures: vec![Failure::new(FailureKind::Error {
                    detail: format!("did not start: {}", why_not.clone().unwrap_or_else(|| e.clone())),
                })],
                detail: format!("did not start: {}", why_not.unwrap_or(e)),
                metrics: Metrics::default(),
            },
        }
    }

    /// The iteration of a summary; `config` (from its `replay.json`) tells an op limit that was
    /// not reached in time.
    pub fn from_summary(
        index: usize,
        values: Vec<(String, String)>,
        dir: String,
        s: &Summary,
        config: Option<&RunConfig>,
    ) -> Self {
        let (status, detail) = classify(s, config);
        let mut failures = s.failures.clone();
        if status == Status::Timeout {
            failures.push(Failure::new(FailureKind::Timeout { detail: detail.clone() }));
        }
        Self {
            index,
            values,
            dir,
            status,
            detail,
            failures,
            metrics: Metrics::of(s),
        }
    }

    /// `epochs=30000`, or `rows=10000 dist=uniform`.
    pub fn label(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The value of one parameter.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Why a run did not hold, most fundamental reason first: read from its typed failures.
fn classify(s: &Summary, config: Option<&RunConfig>) -> (Status, String) {
    let rank = |f: &Failure| match f.kind {
        FailureKind::Crash { .. } => (0, Status::Crash),
        FailureKind::ResourceLimit { .. } => (2, Status::Limit),
        FailureKind::Interrupted => (3, Status::Interrupted),
        FailureKind::Verify { .. } => (5, Status::Verify),
        FailureKind::ErrorRate { .. } => (6, Status::Errors),
        FailureKind::Threshold { .. } | FailureKind::ThresholdAbort { .. } => (7, Status::Thresholds),
        // The run could not go on: stopped by an error, a failed op, stuck users, reports
        // that could not be written.
        _ => (1, Status::Error),
    };
    let worst = s.failures.iter().map(|f| (rank(f), f)).min_by_key(|((r, _), _)| *r);
    if let Some(((r, status), f)) = worst
        && r < 4
    {
        return (status, f.message.clone());
    }
    if let Some(limit) = config.and_then(|c| c.ops_per_user)
        && s.stop_reason == StopReason::DurationElapsed
    {
        let short = s.users.iter().filter(|u| u.ops < limit).count();
        if short > 0 {
            return (
                Status::Timeout,
                format!(
                    "{short} of {} users did not finish their {limit} ops within {:.1}s",
                    s.users.len(),
                    s.duration_s
                ),
            );
        }
    }
    match worst {
        Some(((_, status), f)) => (status, f.message.clone()),
        None => (Status::Ok, String::new()),
    }
}
