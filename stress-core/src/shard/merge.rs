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
use crate::report::{self, MergedShard, Record, ReplayFile, Shards, Summary, Verify};
use crate::stats::hlog::{self, HistogramLog, Intervals};
use crate::stats::{LatencyHistogram, PhaseStats};
use crate::thresholds::{Observed, Threshold};

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

/// A merge's error goes where any error goes (`?` into `Box<dyn Error>`, `anyhow`).
impl std::error::Error for MergeError {}

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

fn decoded(s: &EncodedHistogram, dir: &Path) -> Result<LatencyHistogram, String> {
    decode(s).map_err(|e| format!("{}: {e}", dir.join("shard.json").display()))
}

/// Adds `h` to `map[key]`.
fn add<K: Ord>(map: &mut BTreeMap<K, LatencyHistogram>, key: K, h: &LatencyHistogram) {
    map.entry(key).or_default().merge(h);
}

/// The shards' histograms, added on the first shard's clock: per op and second (the interval
/// logs), service time per op and per second, untimed time per op, phases.
#[derive(Default)]
struct Histograms {
    intervals: Intervals,
    service: BTreeMap<String, LatencyHistogram>,
    service_seconds: BTreeMap<u64, LatencyHistogram>,
    untimed: BTreeMap<String, LatencyHistogram>,
    phases: BTreeMap<String, LatencyHistogram>,
}

impl Histograms {
    fn add(&mut self, s: &ShardRun, off: u64) -> Result<(), String> {
        for (tag, seconds) in &s.intervals {
            let mine = self.intervals.entry(tag.clone()).or_default();
            for (second, h) in seconds {
                add(mine, second + off, h);
            }
        }
        let m = &s.manifest;
        for (op, h) in &m.service {
            add(&mut self.service, op.clone(), &decoded(h, &s.dir)?);
        }
        for (second, h) in &m.service_seconds {
            add(&mut self.service_seconds, second + off, &decoded(h, &s.dir)?);
        }
        for (op, h) in &m.untimed {
            add(&mut self.untimed, op.clone(), &decoded(h, &s.dir)?);
        }
        for (name, h) in &m.phases {
            add(&mut self.phases, name.clone(), &decoded(h, &s.dir)?);
        }
        Ok(())
    }

    /// An op's latencies over the whole run.
    fn latency(&self, op: &str) -> LatencyHistogram {
        let mut latency = LatencyHistogram::new();
        for h in self
            .intervals
            .get(&hlog::tag_of(op))
            .into_iter()
            .flat_map(BTreeMap::values)
        {
            latency.merge(h);
        }
        latency
    }

    /// The percentiles the added counts leave open: per op, in total and per second.
    fn fill(&self, r: &mut Record, shards: &[ShardRun], open_loop: bool) {
        let mut total = LatencyHistogram::new();
        let mut total_service = LatencyHistogram::new();
        for (name, o) in &mut r.ops {
            let mut latency = self.latency(name);
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
                let sv = self.service.get(name).cloned().unwrap_or_default();
                o.service_us = Some(sv.summary());
                total_service.merge(&sv);
            } else {
                total_service.merge(&latency);
            }
            o.untimed_us = self.untimed.get(name).map(LatencyHistogram::summary);
        }
        r.latency_us = total.summary();
        r.service_us = total_service.summary();
        for x in &mut r.timeseries {
            let mut h = LatencyHistogram::new();
            for seconds in self.intervals.values() {
                if let Some(s) = seconds.get(&x.second) {
                    h.merge(s);
                }
            }
            h.set_exact_max(x.max_us);
            let sum = h.summary();
            (x.p50_us, x.p99_us, x.max_us) = (sum.p50, sum.p99, sum.max);
            x.service_p99_us = if open_loop {
                self.service_seconds.get(&x.second).map_or(0, |h| h.quantile(0.99))
            } else {
                sum.p99
            };
        }
        r.phases = self
            .phases
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
    }

    /// The merged interval log: every op's histogram per second, from the first shard's start.
    fn log(&self, names: &[String], base_ms: u64, workload: &str) -> Vec<u8> {
        let mut log = HistogramLog::new(names);
        let seconds: BTreeSet<u64> = self.intervals.values().flat_map(|s| s.keys().copied()).collect();
        for second in seconds {
            for (i, name) in names.iter().enumerate() {
                if let Some(h) = self.intervals.get(&hlog::tag_of(name)).and_then(|s| s.get(&second)) {
                    log.push(second, i as u32, h);
                }
            }
        }
        log.render(SystemTime::UNIX_EPOCH + Duration::from_millis(base_ms), workload)
    }
}

/// Each shard's whole seconds after the first shard's users started, and that start, ms.
fn offsets(shards: &[ShardRun]) -> (u64, Vec<u64>) {
    let base_ms = shards.iter().map(|s| s.manifest.users_started_ms).min().unwrap_or(0);
    let offsets = shards
        .iter()
        .map(|s| ((s.manifest.users_started_ms - base_ms) as f64 / 1000.0).round() as u64)
        .collect();
    (base_ms, offsets)
}

/// The measured window, s: from the first shard's measured start to the last one's end.
fn window_s(shards: &[ShardRun]) -> f64 {
    let warmup_ms = shards[0].replay.config.warmup_ms;
    let window = |s: &ShardRun| {
        let start = s.manifest.users_started_ms + warmup_ms;
        (start, start + (s.summary.duration_s * 1000.0).round() as u64)
    };
    let start = shards.iter().map(|s| window(s).0).min().unwrap_or(0);
    let end = shards.iter().map(|s| window(s).1).max().unwrap_or(0);
    end.saturating_sub(start) as f64 / 1000.0
}

/// The shards' records added into the run's: what a single process that had run every user
/// would have recorded, bar what is per machine (resources, server latency).
fn combine(shards: &[ShardRun], missing: &[usize]) -> Result<Merged, String> {
    let first = &shards[0];
    let (base_ms, offsets) = offsets(shards);
    let mut hists = Histograms::default();
    let mut record: Option<Record> = None;
    for (s, off) in shards.iter().zip(&offsets) {
        hists.add(s, *off)?;
        let r = Record::of_shard(&s.summary, s.manifest.index, *off, s.manifest.lag_sum_us);
        match record.as_mut() {
            Some(all) => all.add(r),
            None => record = Some(r),
        }
    }
    let mut r = record.ok_or("no shards to merge")?;
    hists.fill(&mut r, shards, shards.iter().any(|s| s.manifest.open_loop));
    r.window_s = window_s(shards);
    r.users_s = r.window_s;
    // Users, in the run's order.
    let order: BTreeMap<&str, usize> = first
        .replay
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.id.as_str(), i))
        .collect();
    r.users
        .sort_by_key(|u| order.get(u.id.as_str()).copied().unwrap_or(usize::MAX));
    r.warnings.splice(0..0, merge_warnings(shards, missing, &r));
    if first.manifest.shared_engine {
        r.verify = Verify::default();
    }
    r.server_latency_us.clear();
    r.shards = Some(Shards {
        count: first.manifest.count,
        index: None,
        late_ms: shards.iter().map(|s| s.manifest.late_ms).max().unwrap_or(0),
        merged: shards
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
            .collect(),
        missing: missing.to_vec(),
    });
    let summary = r.into_summary();
    let names: Vec<String> = summary.ops.keys().cloned().collect();
    let hlog = hists.log(&names, base_ms, &summary.workload);
    Ok(Merged { summary, hlog })
}

/// What a merge says beyond its shards' warnings: shards missing, an engine shared, errors not
/// kept, server latency left per shard.
fn merge_warnings(shards: &[ShardRun], missing: &[usize], r: &Record) -> Vec<String> {
    let mut warnings = Vec::new();
    if !missing.is_empty() {
        warnings.push(format!(
            "partial merge: shard{} {} of {} missing; the figures are those of the shards merged",
            if missing.len() == 1 { "" } else { "s" },
            join(missing),
            shards[0].manifest.count
        ));
    }
    if shards[0].manifest.shared_engine {
        warnings.push(
            "the shards share one engine: its verify step runs on its own, against this run's ledger.json \
             (cargo stress run WORKLOAD --verify-only THIS_DIR)"
                .into(),
        );
    }
    if shards.iter().any(|s| !s.summary.server_latency_us.is_empty()) {
        warnings.push("server_latency_us is per shard (percentiles cannot be added): see the shards' summaries".into());
    }
    if r.errors_seen > r.errors.len() {
        warnings.push(format!(
            "{} more errors were kept by the shards but not here",
            r.errors_seen - r.errors.len()
        ));
    }
    warnings
}

/// Judges the verdict of a summary again, with the thresholds and error limit of `config`.
fn judge(summary: &mut Summary, thresholds: &[Threshold], max_error_rate: f64) -> Result<(), String> {
    let names: Vec<String> = summary.ops.keys().cloned().collect();
    for t in thresholds {
        t.check_ops(&names)?;
    }
    let observed = Observed::from_summary(summary);
    summary.judge(thresholds, &observed, max_error_rate, &[]);
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
