//! What a run measured, as one record that adds: a run builds one from its users and its
//! monitor, a merge adds its shards' (each moved onto the first shard's clock), and the summary
//! is derived from a record in one function, [`Record::into_summary`]. A new figure is a field
//! here, a line in `into_summary`, and a line in [`Record::add`] saying how two shards' add.

use std::collections::BTreeMap;

use super::summary::{
    Backpressure, ErrorRecord, MAX_KEPT_ERRORS, SUMMARY_FORMAT_VERSION, Shards, Summary, UserSummary, Verify,
};
use crate::fault::FaultRecord;
use crate::stats::{FigureStats, IntervalRecord, LatencySummary, OpStats, PhaseStats};
use crate::verdict::StopReason;

/// Counts of the schedule and the rows, added over users and shards.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Counts {
    /// Ops run.
    pub total_ops: u64,
    /// Ops failed.
    pub failed_ops: u64,
    /// Writes turned into reads by the disk budget.
    pub substituted_ops: u64,
    /// Rows reported.
    pub rows: u64,
    /// Bytes reported.
    pub bytes: u64,
    /// Slots started late (open loop).
    pub late_ops: u64,
    /// Slots skipped.
    pub skipped_ops: u64,
    /// Ops in the warm-up.
    pub warmup_ops: u64,
    /// Largest schedule lag, µs.
    pub max_lag_us: u64,
    /// The schedule lags added, µs (the mean is derived).
    pub lag_sum_us: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.total_ops += o.total_ops;
        self.failed_ops += o.failed_ops;
        self.substituted_ops += o.substituted_ops;
        self.rows += o.rows;
        self.bytes += o.bytes;
        self.late_ops += o.late_ops;
        self.skipped_ops += o.skipped_ops;
        self.warmup_ops += o.warmup_ops;
        self.max_lag_us = self.max_lag_us.max(o.max_lag_us);
        self.lag_sum_us += o.lag_sum_us;
    }
}

/// What a run measured. Latency percentiles are the caller's to fill from histograms (a run's
/// collector, a merge's added interval logs): they do not add.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// The workload's name.
    pub workload: String,
    /// The adapter's name.
    pub adapter: String,
    /// The global seed.
    pub seed: u64,
    /// A smoke run.
    pub smoke: bool,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// Why it stopped, and the details.
    pub stop: (StopReason, Option<String>),
    /// The measured window, s (after the warm-up): rates are per second of it.
    pub window_s: f64,
    /// The users' whole time, s: outages are counted within it.
    pub users_s: f64,
    /// Until every user had connected, s.
    pub startup_s: f64,
    /// Counts.
    pub counts: Counts,
    /// Latency and service time of all successful ops.
    pub latency_us: LatencySummary,
    /// Service time of all successful ops.
    pub service_us: LatencySummary,
    /// The longest stall, µs.
    pub max_stall_us: u64,
    /// Per op.
    pub ops: BTreeMap<String, OpStats>,
    /// Per second.
    pub timeseries: Vec<IntervalRecord>,
    /// Per user, in the run's order.
    pub users: Vec<UserSummary>,
    /// Peak resource readings.
    pub resources: BTreeMap<String, f64>,
    /// Resource readings when the users started.
    pub resources_start: BTreeMap<String, f64>,
    /// Timed phases.
    pub phases: BTreeMap<String, PhaseStats>,
    /// Recorded figures.
    pub figures: BTreeMap<String, FigureStats>,
    /// Server-side latency by source.
    pub server_latency_us: BTreeMap<String, LatencySummary>,
    /// Backpressure.
    pub backpressure: Backpressure,
    /// The verify step.
    pub verify: Verify,
    /// The first errors, by time.
    pub errors: Vec<ErrorRecord>,
    /// Errors counted, kept or not.
    pub errors_seen: usize,
    /// Problems of the harness.
    pub warnings: Vec<String>,
    /// The faults, one row each.
    pub faults: Vec<FaultRecord>,
    /// The acknowledged-write checker's verdict.
    pub durability: Option<crate::durability::Durability>,
    /// The isolation checker's verdict.
    pub isolation: Option<stress_isolation::Report>,
    /// Which shard, or which shards merged.
    pub shards: Option<Shards>,
    /// In a merged run, the shards' sections of the workload's own checkers (judged in the
    /// shards, where the workload's code ran), each naming its shard.
    pub checks: Vec<crate::verdict::CheckSection>,
    /// And their failures.
    pub failures: Vec<crate::verdict::Failure>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Record {
    /// The summary of this record: the one place a [`Summary`] is made. Rates are per second
    /// of the measured window, the mean lag over every slot, `delivered` from the users'
    /// schedules, `unavailable_s` from the faults' outages within the users' time. The verdict
    /// (`passed`, `failures`, `thresholds`) is the caller's to judge.
    pub(crate) fn into_summary(self) -> Summary {
        let secs = self.window_s;
        let per_sec = |n: u64| if secs > 0.0 { round3(n as f64 / secs) } else { 0.0 };
        let c = &self.counts;
        let (scheduled_ops, delivered) = schedule(&self.users);
        Summary {
            format_version: SUMMARY_FORMAT_VERSION,
            workload: self.workload,
            adapter: self.adapter,
            seed: self.seed,
            smoke: self.smoke,
            started_at: self.started_at,
            stop_reason: self.stop.0,
            stop_detail: self.stop.1,
            duration_s: round3(secs),
            startup_s: round3(self.startup_s),
            total_ops: c.total_ops,
            failed_ops: c.failed_ops,
            substituted_ops: c.substituted_ops,
            ops_per_sec: per_sec(c.total_ops),
            rows_per_sec: per_sec(c.rows),
            total_rows: c.rows,
            total_bytes: c.bytes,
            latency_us: self.latency_us,
            service_us: self.service_us,
            late_ops: c.late_ops,
            skipped_ops: c.skipped_ops,
            warmup_ops: c.warmup_ops,
            max_lag_us: c.max_lag_us,
            mean_lag_us: if c.lag_sum_us > 0 {
                round3(c.lag_sum_us as f64 / (c.total_ops + c.skipped_ops).max(1) as f64)
            } else {
                0.0
            },
            max_stall_s: round3(self.max_stall_us as f64 / 1e6),
            unavailable_s: crate::fault::unavailable_s(&self.faults, self.users_s),
            scheduled_ops,
            delivered,
            retried_ops: self.users.iter().map(|u| u.retried_ops).sum(),
            retries: self.users.iter().map(|u| u.retries).sum(),
            exhausted_ops: self.users.iter().map(|u| u.exhausted).sum(),
            interrupted_ops: self.users.iter().map(|u| u.interrupted).sum(),
            thresholds: Vec::new(),
            timeseries: self.timeseries,
            ops: self.ops,
            users: self.users,
            resources: self.resources.into_iter().map(|(k, v)| (k, round3(v))).collect(),
            resources_start: self.resources_start.into_iter().map(|(k, v)| (k, round3(v))).collect(),
            phases: self.phases,
            figures: self.figures,
            server_latency_us: self.server_latency_us,
            backpressure: self.backpressure,
            verify: self.verify,
            errors: self.errors,
            warnings: self.warnings,
            passed: self.failures.is_empty(),
            failures: self.failures,
            checks: self.checks,
            shards: self.shards,
            faults: self.faults,
            durability: self.durability,
            isolation: self.isolation,
        }
    }

    /// A shard's record, as a merge reads it back from the shard's summary (and its
    /// `lag_sum_us` from `shard.json`), moved `offset_s` later onto the first shard's clock and
    /// naming the shard in what it tells (stop detail, verify errors, warnings, fault targets).
    pub(crate) fn of_shard(s: &Summary, index: usize, offset_s: u64, lag_sum_us: u64) -> Self {
        let off = offset_s as f64;
        let tell = |what: &str| format!("shard {index}: {what}");
        let mut timeseries = s.timeseries.clone();
        for r in &mut timeseries {
            r.second += offset_s;
        }
        let mut warnings = Vec::new();
        if offset_s > 0 {
            warnings.push(format!(
                "shard {index}'s users started {offset_s}s after the first shard's: its seconds are shifted by {offset_s}s"
            ));
        }
        warnings.extend(s.warnings.iter().map(|w| tell(w)));
        Self {
            workload: s.workload.clone(),
            adapter: s.adapter.clone(),
            seed: s.seed,
            smoke: s.smoke,
            started_at: s.started_at.clone(),
            stop: (
                s.stop_reason,
                (!s.stop_reason.is_normal()).then(|| tell(s.stop_detail.as_deref().unwrap_or("stopped"))),
            ),
            window_s: s.duration_s,
            users_s: s.duration_s,
            startup_s: s.startup_s,
            counts: Counts {
                total_ops: s.total_ops,
                failed_ops: s.failed_ops,
                substituted_ops: s.substituted_ops,
                rows: s.total_rows,
                bytes: s.total_bytes,
                late_ops: s.late_ops,
                skipped_ops: s.skipped_ops,
                warmup_ops: s.warmup_ops,
                max_lag_us: s.max_lag_us,
                lag_sum_us,
            },
            latency_us: s.latency_us,
            service_us: s.service_us,
            max_stall_us: (s.max_stall_s * 1e6).round() as u64,
            ops: s.ops.clone(),
            timeseries,
            users: s.users.clone(),
            resources: s.resources.clone(),
            resources_start: s.resources_start.clone(),
            phases: s.phases.clone(),
            figures: s.figures.clone(),
            server_latency_us: s.server_latency_us.clone(),
            backpressure: s.backpressure.clone(),
            verify: Verify {
                errors: s.verify.errors.iter().map(|e| tell(e)).collect(),
                ..s.verify.clone()
            },
            errors: s
                .errors
                .iter()
                .map(|e| ErrorRecord {
                    at_s: round3(e.at_s + off),
                    ..e.clone()
                })
                .collect(),
            errors_seen: s.errors.len(),
            warnings,
            faults: s
                .faults
                .iter()
                .map(|f| FaultRecord {
                    at_s: f.at_s.map(|a| round3(a + off)),
                    due_s: f.due_s.map(|a| round3(a + off)),
                    target: tell(&f.target),
                    ..f.clone()
                })
                .collect(),
            durability: s.durability.clone(),
            isolation: None,
            shards: None,
            checks: s
                .checks
                .iter()
                .filter(|c| !crate::verdict::CheckSection::is_builtin_name(&c.name))
                .map(|c| crate::verdict::CheckSection {
                    name: tell(&c.name),
                    ..c.clone()
                })
                .collect(),
            failures: s
                .failures
                .iter()
                .filter_map(|f| match &f.kind {
                    crate::verdict::FailureKind::Check { checker, detail } => {
                        Some(crate::verdict::Failure::new(crate::verdict::FailureKind::Check {
                            checker: tell(checker),
                            detail: detail.clone(),
                        }))
                    }
                    _ => None,
                })
                .collect(),
        }
    }

    /// Adds another shard's record: counts and histograms' counts add, maxima take the larger,
    /// lists join (errors by time, at most [`MAX_KEPT_ERRORS`]), the first abnormal stop is the
    /// run's, resources are the busiest shard's (they are per machine), the verify step passed
    /// only if it passed everywhere. The window, latency percentiles and phases are the
    /// caller's to set from what it added (they need the histograms).
    pub(crate) fn add(&mut self, o: Record) {
        self.started_at = self.started_at.clone().min(o.started_at);
        // The first abnormal stop is the run's; otherwise it ran out its time if any part did.
        if self.stop.0.is_normal() {
            self.stop = if !o.stop.0.is_normal() {
                o.stop
            } else if self.stop.0 == StopReason::DurationElapsed || o.stop.0 == StopReason::DurationElapsed {
                (StopReason::DurationElapsed, None)
            } else {
                (StopReason::OpLimit, None)
            };
        }
        self.startup_s = self.startup_s.max(o.startup_s);
        self.counts.add(&o.counts);
        self.max_stall_us = self.max_stall_us.max(o.max_stall_us);
        for (name, op) in o.ops {
            let e = self.ops.entry(name).or_default();
            e.count += op.count;
            e.failed += op.failed;
            e.interrupted += op.interrupted;
        }
        add_seconds(&mut self.timeseries, o.timeseries);
        self.users.extend(o.users);
        for (k, v) in o.resources {
            if self.resources.get(&k).is_none_or(|m| v > *m) {
                match o.resources_start.get(&k) {
                    Some(b) => self.resources_start.insert(k.clone(), *b),
                    None => self.resources_start.remove(&k),
                };
                self.resources.insert(k, v);
            }
        }
        for (name, f) in o.figures {
            self.figures.entry(name).and_modify(|m| m.add(&f)).or_insert(f);
        }
        self.backpressure.pauses += o.backpressure.pauses;
        self.backpressure.paused_s = round3(self.backpressure.paused_s + o.backpressure.paused_s);
        self.backpressure.disk_budget_hits += o.backpressure.disk_budget_hits;
        self.verify.ran |= o.verify.ran;
        self.verify.errors.extend(o.verify.errors);
        self.verify.passed = self.verify.ran && self.verify.passed && o.verify.passed && self.verify.errors.is_empty();
        self.errors.extend(o.errors);
        self.errors.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        self.errors.truncate(MAX_KEPT_ERRORS);
        self.errors_seen += o.errors_seen;
        self.warnings.extend(o.warnings);
        self.faults.extend(o.faults);
        self.checks.extend(o.checks);
        self.failures.extend(o.failures);
        self.durability = match (self.durability.take(), o.durability) {
            (Some(mut a), Some(b)) => {
                a.add(&b);
                Some(a)
            }
            (a, b) => a.or(b),
        };
    }
}

/// Adds `more`'s seconds into `into`'s, second by second: counts add, maxima take the larger,
/// each shard's target is its share of the run's. Percentiles are left for the caller.
fn add_seconds(into: &mut Vec<IntervalRecord>, more: Vec<IntervalRecord>) {
    for x in more {
        let second = x.second as usize;
        while into.len() <= second {
            let next = into.len() as u64;
            into.push(IntervalRecord {
                second: next,
                ..IntervalRecord::default()
            });
        }
        let r = &mut into[second];
        r.ops += x.ops;
        r.failed += x.failed;
        r.substituted += x.substituted;
        r.rows += x.rows;
        r.late += x.late;
        r.skipped += x.skipped;
        r.max_lag_us = r.max_lag_us.max(x.max_lag_us);
        r.max_us = r.max_us.max(x.max_us);
        r.active_users += x.active_users;
        r.target = match (r.target, x.target) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        r.stage = r.stage.max(x.stage);
        r.paused |= x.paused;
        let mut resources: BTreeMap<String, f64> = r.resources.drain(..).collect();
        for (k, v) in x.resources {
            let e = resources.entry(k).or_insert(v);
            *e = e.max(v);
        }
        r.resources = resources.into_iter().collect();
    }
}

/// The ops the users' schedules made due, and the share of them that ran; `None` in a closed
/// loop.
pub(crate) fn schedule(users: &[UserSummary]) -> (Option<u64>, Option<f64>) {
    let scheduled: Vec<(u64, u64)> = users.iter().filter_map(|u| Some((u.scheduled_ops?, u.ops))).collect();
    if scheduled.is_empty() {
        return (None, None);
    }
    let due: u64 = scheduled.iter().map(|(d, _)| d).sum();
    let ran: u64 = scheduled.iter().map(|(_, r)| r).sum();
    let share = if due == 0 { 1.0 } else { round3(ran as f64 / due as f64) };
    (Some(due), Some(share))
}
