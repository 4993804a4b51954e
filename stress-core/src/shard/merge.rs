//! `cargo stress merge`: the shards of one run, merged into one run directory that every other
//! command reads like any run.
//!
//! Histograms are added, never percentiles: each op's latencies come from the shards'
//! interval logs (`histograms.hlog`), service time, untimed time and phases from their
//! `shard.json`, so every percentile of the merged run is the one a single process that had
//! run every user would have computed. Counts are added; the intervals of a shard whose users
//! started later are shifted by its whole seconds of delay; the verdict (stop, verify, error
//! rate, thresholds) is judged again on the merged figures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{EncodedHistogram, Ledgers, ShardManifest, decode};
use crate::report::{
    self, ErrorRecord, MAX_KEPT_ERRORS, MergedShard, ReplayFile, SUMMARY_FORMAT_VERSION, Shards, Summary, Verify,
};
use crate::stats::hlog::{self, HistogramLog, Intervals};
use crate::stats::{FigureStats, IntervalRecord, LatencyHistogram, OpStats, PhaseStats};
use crate::thresholds::{Observed, Threshold};
use crate::verdict::StopReason;

/// How to merge.
#[derive(Debug, Clone, Copy, Default)]
pub struct MergeOptions {
    /// Merge the shards that are there when some are missing (the summary names the missing).
    pub allow_partial: bool,
}

/// One shard's run directory, read.
struct ShardRun {
    dir: PathBuf,
    manifest: ShardManifest,
    summary: Summary,
    replay: ReplayFile,
    intervals: Intervals,
    ledgers: Ledgers,
}

impl ShardRun {
    fn load(dir: &Path) -> Result<Self, String> {
        if !dir.is_dir() {
            return Err(format!(
                "{} is not a directory: give the run directories of the shards",
                dir.display()
            ));
        }
        let manifest = ShardManifest::load(dir)?;
        let summary = Summary::load(&dir.join("summary.json"))?;
        let replay = ReplayFile::load(&dir.join("replay.json")).map_err(|e| e.to_string())?;
        let hlog_path = dir.join("histograms.hlog");
        let bytes = std::fs::read(&hlog_path).map_err(|e| format!("cannot read {}: {e}", hlog_path.display()))?;
        let intervals = hlog::read(&bytes).map_err(|e| format!("{} {e}", hlog_path.display()))?;
        let ledgers = Ledgers::load(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            manifest,
            summary,
            replay,
            intervals,
            ledgers,
        })
    }
}

/// Why a merge did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    /// Bad input (shards missing, of different runs, not shards): one line naming the cause
    /// and the fix; nothing was written.
    Input(String),
    /// The merged run could not be written (a full disk, say): what failed.
    Write(String),
}

impl std::fmt::Display for MergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Input(m) | Self::Write(m) => f.write_str(m),
        }
    }
}

/// The files of a merged run, by name, in the order they are written.
type Files = Vec<(&'static str, Vec<u8>)>;

/// Merges the shards in `dirs` into `out` (created; refused if it holds a run) and returns the
/// merged summary.
pub fn merge(dirs: &[PathBuf], out: &Path, options: MergeOptions) -> Result<Summary, MergeError> {
    let (summary, files) = prepare(dirs, options).map_err(MergeError::Input)?;
    let dir = report::claim_exact(out).map_err(|e| MergeError::Input(e.to_string()))?;
    for (name, bytes) in &files {
        report::write_atomic(&dir.join(name), bytes)
            .map_err(|e| MergeError::Write(format!("cannot write {}: {e}", dir.join(name).display())))?;
    }
    report::html::write(&dir).map_err(MergeError::Write)?;
    Ok(summary)
}

/// The merged summary and the files of the merged run, or why the shards cannot be merged.
fn prepare(dirs: &[PathBuf], options: MergeOptions) -> Result<(Summary, Files), String> {
    if dirs.is_empty() {
        return Err("no shard directories given: give the run directories of every shard".into());
    }
    let mut shards: Vec<ShardRun> = dirs.iter().map(|d| ShardRun::load(d)).collect::<Result<_, _>>()?;
    check(&shards)?;
    shards.sort_by_key(|s| s.manifest.index);
    let count = shards[0].manifest.count;
    let have: BTreeSet<usize> = shards.iter().map(|s| s.manifest.index).collect();
    let missing: Vec<usize> = (0..count).filter(|i| !have.contains(i)).collect();
    if !missing.is_empty() && !options.allow_partial {
        return Err(format!(
            "shard{} {} of {count} missing (given: {}): give every shard's directory, or --allow-partial to merge \
             what is there",
            if missing.len() == 1 { "" } else { "s" },
            join(&missing),
            join(&have.iter().copied().collect::<Vec<_>>())
        ));
    }
    let mut merged = combine(&shards, &missing)?;
    let history = merged_history(&shards)?;
    if let Some((expect, txns, _)) = &history {
        merged.summary.isolation = Some(crate::isolation::check(txns, expect.model, expect.kind));
    }
    let config = &shards[0].replay.config;
    judge(&mut merged.summary, &config.thresholds, config.max_error_rate)?;
    let mut replay = shards[0].replay.clone();
    replay.config.shard = None;
    replay.stop_reason = Some(merged.summary.stop_reason);
    let mut ledgers = Ledgers::default();
    for s in &shards {
        ledgers.merge(&s.ledgers);
    }
    let csv = report::timeseries_csv(&merged.summary.timeseries).into_bytes();
    // summary.json last: a directory holds a run once it has one.
    let mut files = Vec::new();
    if let Some((_, _, bytes)) = history {
        files.push((crate::isolation::HISTORY_FILE, bytes));
    }
    files.extend([
        ("replay.json", json(&replay)),
        ("ledger.json", json(&ledgers)),
        ("timeseries.csv", csv),
        ("histograms.hlog", std::mem::take(&mut merged.hlog)),
        ("summary.json", json(&merged.summary)),
    ]);
    Ok((merged.summary, files))
}

/// The shards' transaction histories as one, when the workload checks isolation: each shard's
/// times moved onto the first shard's clock (by when its users started), and the file of it.
type MergedHistory = (crate::isolation::Expectation, Vec<crate::isolation::Txn>, Vec<u8>);

fn merged_history(shards: &[ShardRun]) -> Result<Option<MergedHistory>, String> {
    let Some(expect) = shards.iter().find_map(|s| s.manifest.isolation) else {
        return Ok(None);
    };
    let base = shards.iter().map(|s| s.manifest.users_started_ms).min().unwrap_or(0);
    let mut all = Vec::new();
    for s in shards {
        let path = s.dir.join(crate::isolation::HISTORY_FILE);
        let mut txns = crate::isolation::history::read(&path).map_err(|e| e.to_string())?;
        let shift = s.manifest.users_started_ms.saturating_sub(base) * 1000;
        for t in &mut txns {
            t.invoke_us += shift;
            t.complete_us += shift;
        }
        all.push(txns);
    }
    let all = crate::isolation::history::merge(all);
    let mut w = crate::isolation::history::Writer::new(Vec::new());
    for t in &all {
        w.write(t)
            .map_err(|e| format!("cannot write the merged history: {e}"))?;
    }
    w.flush().map_err(|e| format!("cannot write the merged history: {e}"))?;
    Ok(Some((expect, all, w.into_inner())))
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

fn join(v: &[usize]) -> String {
    v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The shards are of one run, each once.
fn check(shards: &[ShardRun]) -> Result<(), String> {
    let first = &shards[0];
    let (a, fd) = (&first.manifest, first.dir.display());
    for s in &shards[1..] {
        let (b, sd) = (&s.manifest, s.dir.display());
        let differs = |what: &str, x: &dyn std::fmt::Display, y: &dyn std::fmt::Display| {
            Err(format!(
                "{sd} is a shard of {what} {y}, {fd} of {what} {x}: merge the shards of one run only"
            ))
        };
        if a.workload != b.workload {
            return differs("workload", &a.workload, &b.workload);
        }
        if a.seed != b.seed {
            return differs("seed", &a.seed, &b.seed);
        }
        if a.count != b.count {
            return differs("a shard count of", &a.count, &b.count);
        }
        if a.tool_version != b.tool_version {
            return differs("cargo-stress", &a.tool_version, &b.tool_version);
        }
        if a.adapter != b.adapter {
            return differs("adapter", &a.adapter, &b.adapter);
        }
        if a.config_hash != b.config_hash {
            return differs("the configuration hash", &a.config_hash, &b.config_hash);
        }
    }
    let mut seen: BTreeMap<usize, &Path> = BTreeMap::new();
    for s in shards {
        if let Some(other) = seen.insert(s.manifest.index, &s.dir) {
            return Err(format!(
                "shard {} is given twice ({} and {}): give each shard's directory once",
                s.manifest.index,
                other.display(),
                s.dir.display()
            ));
        }
    }
    Ok(())
}

struct Merged {
    summary: Summary,
    hlog: Vec<u8>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn decoded(s: &EncodedHistogram, dir: &Path) -> Result<LatencyHistogram, String> {
    decode(s).map_err(|e| format!("{}: {e}", dir.join("shard.json").display()))
}

/// Adds `h` to `map[key]`.
fn add<K: Ord>(map: &mut BTreeMap<K, LatencyHistogram>, key: K, h: &LatencyHistogram) {
    map.entry(key).or_default().merge(h);
}

fn combine(shards: &[ShardRun], missing: &[usize]) -> Result<Merged, String> {
    let first = &shards[0];
    let base_ms = shards.iter().map(|s| s.manifest.users_started_ms).min().unwrap_or(0);
    let offsets: Vec<u64> = shards
        .iter()
        .map(|s| ((s.manifest.users_started_ms - base_ms) as f64 / 1000.0).round() as u64)
        .collect();
    let open_loop = shards.iter().any(|s| s.manifest.open_loop);

    // Histograms, added.
    let mut intervals: Intervals = Intervals::new();
    let mut service: BTreeMap<String, LatencyHistogram> = BTreeMap::new();
    let mut service_seconds: BTreeMap<u64, LatencyHistogram> = BTreeMap::new();
    let mut untimed: BTreeMap<String, LatencyHistogram> = BTreeMap::new();
    let mut phases: BTreeMap<String, LatencyHistogram> = BTreeMap::new();
    for (s, off) in shards.iter().zip(&offsets) {
        for (tag, seconds) in &s.intervals {
            let mine = intervals.entry(tag.clone()).or_default();
            for (second, h) in seconds {
                add(mine, second + off, h);
            }
        }
        let m = &s.manifest;
        for (op, h) in &m.service {
            add(&mut service, op.clone(), &decoded(h, &s.dir)?);
        }
        for (second, h) in &m.service_seconds {
            add(&mut service_seconds, second + off, &decoded(h, &s.dir)?);
        }
        for (op, h) in &m.untimed {
            add(&mut untimed, op.clone(), &decoded(h, &s.dir)?);
        }
        for (name, h) in &m.phases {
            add(&mut phases, name.clone(), &decoded(h, &s.dir)?);
        }
    }

    // Per op.
    let mut ops: BTreeMap<String, OpStats> = BTreeMap::new();
    let mut total = LatencyHistogram::new();
    let mut total_service = LatencyHistogram::new();
    for s in shards {
        for (name, o) in &s.summary.ops {
            let e = ops.entry(name.clone()).or_default();
            e.count += o.count;
            e.failed += o.failed;
        }
    }
    for (name, o) in &mut ops {
        let mut latency = LatencyHistogram::new();
        for h in intervals
            .get(&hlog::tag_of(name))
            .into_iter()
            .flat_map(BTreeMap::values)
        {
            latency.merge(h);
        }
        // The interval log rounds each maximum to its bucket; the shards' summaries have it exactly.
        let exact = shards
            .iter()
            .filter_map(|s| s.summary.ops.get(name))
            .map(|o| o.latency_us.max)
            .max()
            .unwrap_or(0);
        latency.set_exact_max(exact);
        o.latency_us = latency.summary();
        total.merge(&latency);
        if open_loop {
            let sv = service.get(name).cloned().unwrap_or_default();
            o.service_us = Some(sv.summary());
            total_service.merge(&sv);
        } else {
            total_service.merge(&latency);
        }
        o.untimed_us = untimed.get(name).map(LatencyHistogram::summary);
    }

    // Per second.
    let last = shards
        .iter()
        .zip(&offsets)
        .filter_map(|(s, off)| s.summary.timeseries.last().map(|r| r.second + off))
        .max();
    let mut timeseries: Vec<IntervalRecord> = Vec::new();
    for second in last.map_or(0..0, |l| 0..l + 1) {
        let mut r = IntervalRecord {
            second,
            ..IntervalRecord::default()
        };
        let mut resources: BTreeMap<String, f64> = BTreeMap::new();
        for (s, off) in shards.iter().zip(&offsets) {
            let Some(x) = second
                .checked_sub(*off)
                .and_then(|i| s.summary.timeseries.get(i as usize))
            else {
                continue;
            };
            r.ops += x.ops;
            r.failed += x.failed;
            r.substituted += x.substituted;
            r.rows += x.rows;
            r.late += x.late;
            r.skipped += x.skipped;
            r.max_lag_us = r.max_lag_us.max(x.max_lag_us);
            r.max_us = r.max_us.max(x.max_us);
            r.active_users += x.active_users;
            // Each shard's target is its share of the run's.
            r.target = match (r.target, x.target) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
            r.stage = r.stage.max(x.stage);
            r.paused |= x.paused;
            for (k, v) in &x.resources {
                let e = resources.entry(k.clone()).or_insert(*v);
                *e = e.max(*v);
            }
        }
        r.resources = resources.into_iter().collect();
        let exact_max = r.max_us;
        let mut h = LatencyHistogram::new();
        for seconds in intervals.values() {
            if let Some(x) = seconds.get(&second) {
                h.merge(x);
            }
        }
        h.set_exact_max(exact_max);
        let sum = h.summary();
        (r.p50_us, r.p99_us, r.max_us) = (sum.p50, sum.p99, sum.max);
        r.service_p99_us = if open_loop {
            service_seconds.get(&second).map_or(0, |h| h.quantile(0.99))
        } else {
            sum.p99
        };
        timeseries.push(r);
    }

    // The measured window: from the first shard's measured start to the last one's end.
    let warmup_ms = first.replay.config.warmup_ms;
    let window = |s: &ShardRun| {
        let start = s.manifest.users_started_ms + warmup_ms;
        (start, start + (s.summary.duration_s * 1000.0).round() as u64)
    };
    let start = shards.iter().map(|s| window(s).0).min().unwrap_or(0);
    let end = shards.iter().map(|s| window(s).1).max().unwrap_or(0);
    let secs = end.saturating_sub(start) as f64 / 1000.0;
    let per_sec = |n: u64| if secs > 0.0 { round3(n as f64 / secs) } else { 0.0 };
    let sum = |f: fn(&Summary) -> u64| shards.iter().map(|s| f(&s.summary)).sum::<u64>();
    let total_ops = sum(|s| s.total_ops);
    let skipped = sum(|s| s.skipped_ops);
    let lag_sum: u64 = shards.iter().map(|s| s.manifest.lag_sum_us).sum();

    // Users, in the run's order.
    let order: BTreeMap<&str, usize> = first
        .replay
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.as_str(), i))
        .collect();
    let mut users: Vec<_> = shards.iter().flat_map(|s| s.summary.users.iter().cloned()).collect();
    users.sort_by_key(|u| order.get(u.id.as_str()).copied().unwrap_or(usize::MAX));
    let scheduled: Vec<(u64, u64)> = users.iter().filter_map(|u| Some((u.scheduled_ops?, u.ops))).collect();
    let (scheduled_ops, delivered) = if scheduled.is_empty() {
        (None, None)
    } else {
        let due: u64 = scheduled.iter().map(|(d, _)| d).sum();
        let ran: u64 = scheduled.iter().map(|(_, r)| r).sum();
        (
            Some(due),
            Some(if due == 0 { 1.0 } else { round3(ran as f64 / due as f64) }),
        )
    };

    // Resources are per machine: the merged run shows the busiest shard's.
    let mut resources: BTreeMap<String, f64> = BTreeMap::new();
    let mut resources_start: BTreeMap<String, f64> = BTreeMap::new();
    for s in shards {
        for (k, v) in &s.summary.resources {
            if resources.get(k).is_none_or(|m| v > m) {
                resources.insert(k.clone(), *v);
                if let Some(b) = s.summary.resources_start.get(k) {
                    resources_start.insert(k.clone(), *b);
                }
            }
        }
    }

    let mut figures: BTreeMap<String, FigureStats> = BTreeMap::new();
    for s in shards {
        for (name, f) in &s.summary.figures {
            figures
                .entry(name.clone())
                .and_modify(|m| m.add(f))
                .or_insert_with(|| f.clone());
        }
    }
    let phase_stats: BTreeMap<String, PhaseStats> = phases
        .iter()
        .map(|(name, h)| {
            let total_s: f64 = shards
                .iter()
                .filter_map(|s| s.summary.phases.get(name))
                .map(|p| p.total_s)
                .sum();
            let stats = PhaseStats {
                count: h.len(),
                total_s: (total_s * 1e6).round() / 1e6,
                latency_us: h.summary(),
            };
            (name.clone(), stats)
        })
        .collect();

    // The first abnormal stop of any shard is the run's.
    let abnormal = shards.iter().find(|s| !s.summary.stop_reason.is_normal());
    let (stop_reason, stop_detail) = match abnormal {
        Some(s) => (
            s.summary.stop_reason,
            Some(format!(
                "shard {}: {}",
                s.manifest.index,
                s.summary.stop_detail.as_deref().unwrap_or("stopped")
            )),
        ),
        None if shards
            .iter()
            .any(|s| s.summary.stop_reason == StopReason::DurationElapsed) =>
        {
            (StopReason::DurationElapsed, None)
        }
        None => (StopReason::OpLimit, None),
    };

    let mut warnings = Vec::new();
    if !missing.is_empty() {
        warnings.push(format!(
            "partial merge: shard{} {} of {} missing; the figures are those of the shards merged",
            if missing.len() == 1 { "" } else { "s" },
            join(missing),
            first.manifest.count
        ));
    }
    let shared = first.manifest.shared_engine;
    let verify = if shared {
        warnings.push(
            "the shards share one engine: its verify step runs on its own, against this run's ledger.json \
             (cargo stress run WORKLOAD --verify-only THIS_DIR)"
                .into(),
        );
        Verify::default()
    } else {
        let ran = shards.iter().any(|s| s.summary.verify.ran);
        let errors: Vec<String> = shards
            .iter()
            .flat_map(|s| {
                s.summary
                    .verify
                    .errors
                    .iter()
                    .map(move |e| format!("shard {}: {e}", s.manifest.index))
            })
            .collect();
        Verify {
            ran,
            passed: ran && shards.iter().all(|s| s.summary.verify.passed) && errors.is_empty(),
            errors,
        }
    };
    for (s, off) in shards.iter().zip(&offsets) {
        if *off > 0 {
            warnings.push(format!(
                "shard {}'s users started {off}s after the first shard's: its seconds are shifted by {off}s",
                s.manifest.index
            ));
        }
        warnings.extend(
            s.summary
                .warnings
                .iter()
                .map(|w| format!("shard {}: {w}", s.manifest.index)),
        );
    }
    if shards.iter().any(|s| !s.summary.server_latency_us.is_empty()) {
        warnings.push("server_latency_us is per shard (percentiles cannot be added): see the shards' summaries".into());
    }
    let mut errors: Vec<ErrorRecord> = shards
        .iter()
        .zip(&offsets)
        .flat_map(|(s, off)| {
            s.summary.errors.iter().map(move |e| ErrorRecord {
                at_s: round3(e.at_s + *off as f64),
                ..e.clone()
            })
        })
        .collect();
    errors.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let errors_seen: usize = shards.iter().map(|s| s.summary.errors.len()).sum();
    errors.truncate(MAX_KEPT_ERRORS);
    if errors_seen > errors.len() {
        warnings.push(format!(
            "{} more errors were kept by the shards but not here",
            errors_seen - errors.len()
        ));
    }

    let backpressure = report::Backpressure {
        pauses: shards.iter().map(|s| s.summary.backpressure.pauses).sum(),
        paused_s: round3(shards.iter().map(|s| s.summary.backpressure.paused_s).sum()),
        disk_budget_hits: shards.iter().map(|s| s.summary.backpressure.disk_budget_hits).sum(),
    };
    let started_at = shards
        .iter()
        .map(|s| s.summary.started_at.clone())
        .min()
        .unwrap_or_default();
    let merged_shards: Vec<MergedShard> = shards
        .iter()
        .zip(&offsets)
        .map(|(s, off)| MergedShard {
            index: s.manifest.index,
            dir: s.dir.display().to_string(),
            users: s.summary.users.len(),
            ops: s.summary.total_ops,
            late_ms: s.manifest.late_ms,
            offset_s: *off,
        })
        .collect();

    let summary = Summary {
        format_version: SUMMARY_FORMAT_VERSION,
        workload: first.summary.workload.clone(),
        adapter: first.summary.adapter.clone(),
        seed: first.summary.seed,
        smoke: first.summary.smoke,
        started_at,
        stop_reason,
        stop_detail,
        duration_s: round3(secs),
        startup_s: shards.iter().map(|s| s.summary.startup_s).fold(0.0, f64::max),
        total_ops,
        failed_ops: sum(|s| s.failed_ops),
        substituted_ops: sum(|s| s.substituted_ops),
        ops_per_sec: per_sec(total_ops),
        rows_per_sec: per_sec(sum(|s| s.total_rows)),
        total_rows: sum(|s| s.total_rows),
        total_bytes: sum(|s| s.total_bytes),
        latency_us: total.summary(),
        service_us: total_service.summary(),
        late_ops: sum(|s| s.late_ops),
        skipped_ops: skipped,
        warmup_ops: sum(|s| s.warmup_ops),
        max_lag_us: shards.iter().map(|s| s.summary.max_lag_us).max().unwrap_or(0),
        mean_lag_us: if lag_sum > 0 {
            round3(lag_sum as f64 / (total_ops + skipped).max(1) as f64)
        } else {
            0.0
        },
        max_stall_s: shards.iter().map(|s| s.summary.max_stall_s).fold(0.0, f64::max),
        unavailable_s: 0.0,
        scheduled_ops,
        delivered,
        retried_ops: sum(|s| s.retried_ops),
        retries: sum(|s| s.retries),
        exhausted_ops: sum(|s| s.exhausted_ops),
        interrupted_ops: sum(|s| s.interrupted_ops),
        thresholds: Vec::new(),
        timeseries,
        ops,
        users,
        resources,
        resources_start,
        phases: phase_stats,
        figures,
        server_latency_us: BTreeMap::new(),
        backpressure,
        verify,
        errors,
        warnings,
        passed: true,
        failures: Vec::new(),
        shards: Some(Shards {
            count: first.manifest.count,
            index: None,
            late_ms: shards.iter().map(|s| s.manifest.late_ms).max().unwrap_or(0),
            merged: merged_shards,
            missing: missing.to_vec(),
        }),
        // Each shard checked the writes of its own engine.
        // Checked on the shards' histories joined (`merged_history`), after this.
        isolation: None,
        durability: shards.iter().filter_map(|s| s.summary.durability.as_ref()).fold(
            None,
            |acc: Option<crate::durability::Durability>, d| {
                let mut acc = acc.unwrap_or_default();
                acc.add(d);
                Some(acc)
            },
        ),
        // Each shard's faults hit its own engine.
        faults: shards
            .iter()
            .zip(&offsets)
            .flat_map(|(s, off)| {
                s.summary.faults.iter().map(move |f| crate::fault::FaultRecord {
                    at_s: f.at_s.map(|a| round3(a + *off as f64)),
                    due_s: f.due_s.map(|a| round3(a + *off as f64)),
                    target: format!("shard {}: {}", s.manifest.index, f.target),
                    ..f.clone()
                })
            })
            .collect(),
    };

    let mut summary = summary;
    summary.unavailable_s = crate::fault::unavailable_s(&summary.faults, secs);
    // The merged interval log: every op's histogram per second, from the first shard's start.
    let names: Vec<String> = summary.ops.keys().cloned().collect();
    let mut log = HistogramLog::new(&names);
    let seconds: BTreeSet<u64> = intervals.values().flat_map(|s| s.keys().copied()).collect();
    for second in seconds {
        for (i, name) in names.iter().enumerate() {
            if let Some(h) = intervals.get(&hlog::tag_of(name)).and_then(|s| s.get(&second)) {
                log.push(second, i as u32, h);
            }
        }
    }
    let start = SystemTime::UNIX_EPOCH + Duration::from_millis(base_ms);
    let hlog = log.render(start, &summary.workload);
    Ok(Merged { summary, hlog })
}

/// Judges the verdict of a summary again, with the thresholds and error limit of `config`.
fn judge(summary: &mut Summary, rules: &[String], max_error_rate: f64) -> Result<(), String> {
    let names: Vec<String> = summary.ops.keys().cloned().collect();
    let thresholds = rules
        .iter()
        .map(|r| Threshold::parse(r, &names))
        .collect::<Result<Vec<_>, _>>()?;
    let observed = Observed::from_summary(summary);
    summary.judge(&thresholds, &observed, max_error_rate);
    Ok(())
}

/// Records a verify step's result in the merged run in `dir`: its summary's `verify`, the
/// acknowledged-write check of the shards' writes when the step made one, the verdict, the
/// report. Returns the merged run's summary, judged again.
pub fn record_verify(
    dir: &Path,
    verify: &Verify,
    durability: Option<&crate::durability::Durability>,
) -> Result<Summary, String> {
    let path = dir.join("summary.json");
    let mut summary = Summary::load(&path)?;
    let replay = ReplayFile::load(&dir.join("replay.json")).map_err(|e| e.to_string())?;
    summary.verify = verify.clone();
    if let Some(d) = durability {
        summary.durability = Some(d.clone());
    }
    summary.warnings.retain(|w| !w.contains("--verify-only"));
    judge(&mut summary, &replay.config.thresholds, replay.config.max_error_rate)?;
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| e.to_string())?;
    report::write_atomic(&path, &json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    report::html::write(dir)?;
    Ok(summary)
}
