//! `summary.json`: what a run did.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::stats::{FigureStats, IntervalRecord, LatencySummary, OpStats, PhaseStats};
use crate::thresholds::{Observed, ThresholdResult};
use crate::verdict::{Failure, StopReason};

/// The version of `summary.json` this build writes and reads: 2 since `failures` are typed
/// ([`Failure`]: `kind`, its figures, `message`) rather than lines of text.
pub const SUMMARY_FORMAT_VERSION: u64 = 2;

/// A run's results, as written to `summary.json` and returned to a custom harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`SUMMARY_FORMAT_VERSION`].
    pub format_version: u64,
    /// The workload's name.
    pub workload: String,
    /// The adapter's name.
    pub adapter: String,
    /// The global seed.
    pub seed: u64,
    /// Whether this was a smoke run.
    pub smoke: bool,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// Why it stopped.
    pub stop_reason: StopReason,
    /// Details of the stop (which limit, what crashed, what failed).
    pub stop_detail: Option<String>,
    /// Seconds the users ran (after the warm-up).
    pub duration_s: f64,
    /// Seconds from starting the first user thread until every user had connected.
    #[serde(default)]
    pub startup_s: f64,
    /// Ops run.
    pub total_ops: u64,
    /// Ops failed.
    pub failed_ops: u64,
    /// Writes turned into reads by the disk budget.
    pub substituted_ops: u64,
    /// Ops per second.
    pub ops_per_sec: f64,
    /// Rows reported per second.
    pub rows_per_sec: f64,
    /// Rows reported.
    pub total_rows: u64,
    /// Bytes reported.
    pub total_bytes: u64,
    /// Latency of successful ops, µs: from the intended start under a rate (coordinated
    /// omission corrected), from the actual start otherwise.
    pub latency_us: LatencySummary,
    /// Service time of successful ops, µs: from the actual start.
    #[serde(default)]
    pub service_us: LatencySummary,
    /// Slots that started more than 1 ms after their intended time (open loop).
    #[serde(default)]
    pub late_ops: u64,
    /// Slots skipped because they started later than the latency limit.
    #[serde(default)]
    pub skipped_ops: u64,
    /// Ops run during the warm-up, left out of every other figure.
    #[serde(default)]
    pub warmup_ops: u64,
    /// Largest schedule lag, µs.
    #[serde(default)]
    pub max_lag_us: u64,
    /// Mean schedule lag over the slots, µs.
    #[serde(default)]
    pub mean_lag_us: f64,
    /// The longest time, s, during which users waited on the engine and no op completed: a
    /// server that froze (seen every 100 ms), users connecting again after a fault broke their
    /// connections, or a fault's whole outage (`faults[].outage_ms`), whichever is longest. 0
    /// when some op always completed.
    #[serde(default)]
    pub max_stall_s: f64,
    /// The users' time, s, during which the engine was out: the union of the faults' outages
    /// (from each injection until an op that began after it succeeded).
    #[serde(default)]
    pub unavailable_s: f64,
    /// Under a rate: the slots the users' schedules made due while they ran (warm-up included):
    /// those run, skipped, missed while paused, and due but not reached by a user behind; the
    /// integral of the target for uniform arrivals. `None` in a closed loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_ops: Option<u64>,
    /// Under a rate: ops run (warm-up included) / `scheduled_ops`. Below 1 the schedule was not
    /// delivered (users could not keep up, slots were skipped, or backpressure paused them);
    /// a threshold can require it (`delivered>95%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<f64>,
    /// Ops that failed with a retryable error and were tried again (`--max-tries`), whether a
    /// later try succeeded (then they count as done, not failed) or not, like pgbench's
    /// "transactions retried".
    #[serde(default)]
    pub retried_ops: u64,
    /// Tries beyond the first, over all ops (pgbench's "total number of retries").
    #[serde(default)]
    pub retries: u64,
    /// Ops that failed for good: after the warm-up, ops whose last try failed with an error
    /// its adapter calls retryable, every one of its tries (`--max-tries`) used up. Ops that
    /// failed with an error no try could mend, whose connection a fault broke, or whose tries
    /// the run's end cut short are not among them. Part of `failed_ops`.
    #[serde(default)]
    pub exhausted_ops: u64,
    /// Ops whose connection a fault broke (`--fault kill`, `restart`): their outcome is open,
    /// so they count neither as done nor as failed (a write among them is indeterminate).
    #[serde(default)]
    pub interrupted_ops: u64,
    /// Every threshold with its observed value and verdict.
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    /// One record per second, as in `timeseries.csv`.
    #[serde(default)]
    pub timeseries: Vec<IntervalRecord>,
    /// Per op name.
    pub ops: BTreeMap<String, OpStats>,
    /// Per user.
    pub users: Vec<UserSummary>,
    /// Peak of every resource reading, by `source.metric`.
    pub resources: BTreeMap<String, f64>,
    /// Every resource reading when the users started, by `source.metric`: peak minus start is
    /// what the run added (`process.hwm_mb`, the exact high-water mark of this process's
    /// memory, is reset at that moment).
    #[serde(default)]
    pub resources_start: BTreeMap<String, f64>,
    /// Named phases the ops timed (`User::phase`): count, total and percentiles of each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub phases: BTreeMap<String, PhaseStats>,
    /// Named figures the ops recorded (`User::figure`): count, sum, min, max and mean of each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub figures: BTreeMap<String, FigureStats>,
    /// Server-side latency by metrics source, where the engine reports it (Hyper's
    /// `query-end` log records): what the server spent, beside the client-side `latency_us`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub server_latency_us: BTreeMap<String, LatencySummary>,
    /// How often and how long users were paused by backpressure.
    pub backpressure: Backpressure,
    /// The verify step's result.
    pub verify: Verify,
    /// The first errors (at most [`MAX_KEPT_ERRORS`]).
    pub errors: Vec<ErrorRecord>,
    /// Problems of the harness itself (a metrics source that cannot be read, …).
    pub warnings: Vec<String>,
    /// Whether the run passed: it ran as configured, the verify step passed, and the failed-op
    /// rate stayed within `max_error_rate`.
    pub passed: bool,
    /// Why it did not pass: each failure typed, with its figures and its line for people.
    pub failures: Vec<Failure>,
    /// A shard's run, or a run merged from shards: which.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Shards>,
    /// The faults of the schedule (`--fault`), one row each, in the order they were due: when
    /// due and when injected, what each did and how long the engine was out; a fault that came
    /// due after the users stopped is `skipped`, not injected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<crate::fault::FaultRecord>,
    /// The acknowledged-write checker's verdict (`Workload::durability`): writes lost,
    /// unexpected, recovered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durability: Option<crate::durability::Durability>,
    /// The isolation checker's verdict (`Workload::isolation`): the model, the transactions,
    /// every anomaly found with its count, witnesses, and which anomalies the model forbids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<stress_isolation::Report>,
    /// What each checker said ([`crate::checkers`]): the run's stop, the verify step, the
    /// acknowledged-write and isolation checkers, the error rate, each threshold, the schedule
    /// delivered, the longest stall, and the workload's own checkers, in that order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::verdict::CheckSection>,
}

/// The shards of a sharded run: in a shard's own summary, which one it is; in a merged run,
/// which were merged and which are missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shards {
    /// How many shards the run has.
    pub count: usize,
    /// This shard's index (a shard's own run); `None` in a merged run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// How much later than the start barrier (`--start-at`) its users started, ms.
    #[serde(default)]
    pub late_ms: u64,
    /// The shards merged into this run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<MergedShard>,
    /// The shards a partial merge (`--allow-partial`) did without.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<usize>,
}

/// One shard of a merged run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedShard {
    /// Its index.
    pub index: usize,
    /// Its run directory.
    pub dir: String,
    /// Its users.
    pub users: usize,
    /// Its ops.
    pub ops: u64,
    /// How much later than the start barrier its users started, ms.
    pub late_ms: u64,
    /// Seconds after the first shard's users started that its users started (its intervals
    /// are shifted by this much in the merged time series).
    pub offset_s: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How many errors a summary keeps.
pub const MAX_KEPT_ERRORS: usize = 100;

/// One user's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// `class-index`.
    pub id: String,
    /// Its class.
    pub class: String,
    /// Its seed.
    pub seed: u64,
    /// Its database.
    pub db: usize,
    /// Ops run.
    pub ops: u64,
    /// Ops failed.
    pub failed: u64,
    /// Writes replaced by reads.
    pub substituted: u64,
    /// Hash of its sequence of (op, RNG position): equal in two runs that ran the same ops with
    /// the same random arguments.
    pub op_digest: String,
    /// Under a rate: the slots its schedule made due while it ran (run, skipped, missed while
    /// paused, or not reached), capped by the op limit; `None` in a closed loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_ops: Option<u64>,
    /// Tries beyond the first its ops took (`--max-tries`).
    #[serde(default)]
    pub retries: u64,
    /// Its ops whose connection a fault broke (neither succeeded nor failed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interrupted: u64,
    /// Its ops that took more than one try, whether they then succeeded or not.
    #[serde(default)]
    pub retried_ops: u64,
    /// Its ops that failed for good: their last try failed with a retryable error and they
    /// had no try left (see [`Summary::exhausted_ops`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub exhausted: u64,
}

/// Backpressure totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Backpressure {
    /// Times users were paused.
    pub pauses: u64,
    /// Seconds they spent paused.
    pub paused_s: f64,
    /// Times the disk budget turned writes into reads.
    pub disk_budget_hits: u64,
}

/// The verify step's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verify {
    /// Whether a verify step ran.
    pub ran: bool,
    /// Whether it passed on every database.
    pub passed: bool,
    /// Its errors, one per failing database.
    pub errors: Vec<String>,
}

/// One kept error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// The user.
    pub user: String,
    /// The op (`connect` when the user could not connect).
    pub op: String,
    /// The message (`panicked: …` for a panic).
    pub message: String,
    /// Seconds since the users started.
    pub at_s: f64,
}

impl Summary {
    /// The exit code of this run alone ([`crate::verdict::exit_code`]).
    pub fn exit_code(&self) -> u8 {
        crate::verdict::exit_code(&self.failures)
    }

    /// Reads a `summary.json` this build can read; one line saying what is wrong otherwise (a
    /// file of another format version is named with both versions).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let version = v.get("format_version").and_then(serde_json::Value::as_u64);
        match version {
            Some(SUMMARY_FORMAT_VERSION) => {}
            Some(v) if v > SUMMARY_FORMAT_VERSION => {
                return Err(format!(
                    "{} was written by a newer cargo-stress (summary format_version {v}; this one reads \
                     {SUMMARY_FORMAT_VERSION}): upgrade cargo-stress to read it",
                    path.display()
                ));
            }
            _ => {
                return Err(format!(
                    "{} is summary format_version {}, this cargo-stress reads {SUMMARY_FORMAT_VERSION}: rerun it with this version",
                    path.display(),
                    version.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
                ));
            }
        }
        // From the text, not the value: serde_json then says at which line and column (and a
        // missing field's name).
        let summary: Self =
            serde_json::from_str(&text).map_err(|e| format!("{} is not a summary: {e}", path.display()))?;
        summary
            .check_figures()
            .map_err(|e| format!("{} is damaged: {e}", path.display()))?;
        Ok(summary)
    }

    /// Refuses figures no run produces (a negative or non-finite rate or time): a file edited
    /// or damaged, whose comparison would mean nothing.
    fn check_figures(&self) -> Result<(), String> {
        for (field, x) in [
            ("duration_s", self.duration_s),
            ("startup_s", self.startup_s),
            ("ops_per_sec", self.ops_per_sec),
            ("rows_per_sec", self.rows_per_sec),
            ("mean_lag_us", self.mean_lag_us),
            ("max_stall_s", self.max_stall_s),
            ("unavailable_s", self.unavailable_s),
        ] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(format!("field `{field}` is {x}: a run's figures are 0 or more"));
            }
        }
        if let Some(d) = self.delivered
            && !(d.is_finite() && d >= 0.0)
        {
            return Err(format!("field `delivered` is {d}: a run's figures are 0 or more"));
        }
        Ok(())
    }
}

impl Observed {
    /// What a summary says the run did (a merged run's verdict is judged from its summary).
    /// Here rather than in `thresholds`, which then needs nothing of the reports.
    pub fn from_summary(s: &Summary) -> Self {
        Self {
            latency: s.latency_us,
            service: s.service_us,
            ops: s
                .ops
                .iter()
                .map(|(n, o)| {
                    (
                        n.clone(),
                        (o.latency_us, o.service_us.unwrap_or(o.latency_us), o.count, o.failed),
                    )
                })
                .collect(),
            total_ops: s.total_ops,
            failed_ops: s.failed_ops,
            ops_per_sec: s.ops_per_sec,
            max_lag_us: s.max_lag_us,
            delivered: s.delivered,
            max_stall_us: (s.max_stall_s * 1e6).round() as u64,
        }
    }
}
