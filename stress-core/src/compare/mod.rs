//! Compare two runs: per op and overall, the change in ops/s, p50/p99/p999/max latency and
//! error rate, each with a verdict. A metric *regressed* only when its change is beyond a
//! practical threshold (the noise, 5% by default) in the bad direction **and** significant:
//! Welch's t-test over the runs' per-second values (sizes corrected for autocorrelation, see
//! [`significance`]), a two-proportion z-test for error rates, at a level shared by every metric
//! tested (Bonferroni), so that comparing thirty metrics does not find one regression by chance.
//!
//! The run-level figures come from `summary.json`; the per-second values from
//! `histograms.hlog` (latencies per op and second) and the summary's time series (ops per
//! second). Runs of the same workload on different engines compare like any others.

pub mod significance;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::report::Summary;
use crate::stats::LatencyHistogram;
use crate::stats::hlog::{self, Intervals};
use significance::Test;

/// The version of `compare.json` this build writes.
pub const COMPARE_FORMAT_VERSION: u64 = 1;

/// The default practical threshold: changes within 5% are noise, whatever a test says.
pub const DEFAULT_NOISE: f64 = 0.05;
/// The default significance level, shared by every metric tested.
pub const DEFAULT_ALPHA: f64 = 0.05;

/// One run, as compare reads it.
#[derive(Debug, Clone)]
pub struct RunData {
    /// Where it was read from (the run directory).
    pub dir: PathBuf,
    /// Its `summary.json`.
    pub summary: Summary,
    /// Per op, per second: latencies. Empty when the run has no `histograms.hlog`.
    pub intervals: Intervals,
    /// Whether it had a `histograms.hlog`.
    pub has_log: bool,
}

impl RunData {
    /// Reads a run from its directory, a directory whose `latest` is one, or its
    /// `summary.json`; one line saying what is wrong otherwise.
    pub fn load(path: &Path) -> Result<Self, String> {
        let summary_path = if path.is_file() {
            path.to_owned()
        } else if path.join("summary.json").is_file() {
            path.join("summary.json")
        } else if path.join("latest/summary.json").is_file() {
            path.join("latest/summary.json")
        } else if path.exists() {
            return Err(format!(
                "{} holds no run (no summary.json): give a run directory, such as target/stress/orders/latest",
                path.display()
            ));
        } else {
            return Err(format!("{} does not exist: give a run directory", path.display()));
        };
        // Resolved: `latest` may move on (run --baseline target/stress, say).
        let summary_path = summary_path.canonicalize().unwrap_or(summary_path);
        let dir = summary_path.parent().unwrap_or(Path::new(".")).to_owned();
        let summary = Summary::load(&summary_path)?;
        let log_path = dir.join("histograms.hlog");
        let (intervals, has_log) = match std::fs::read(&log_path) {
            Ok(bytes) => (
                hlog::read(&bytes).map_err(|e| format!("{} {e}", log_path.display()))?,
                true,
            ),
            Err(_) => (Intervals::new(), false),
        };
        Ok(Self {
            dir,
            summary,
            intervals,
            has_log,
        })
    }

    /// The seconds that count: from the first with ops (what came before was warm-up and
    /// connecting) to the last whole one (the run's last second is partial).
    fn window(&self) -> std::ops::Range<u64> {
        let ts = &self.summary.timeseries;
        let first = ts.iter().find(|r| r.ops > 0).map_or(0, |r| r.second);
        let last = ts.last().map_or(0, |r| r.second);
        first..last
    }

    /// Ops per second, per second of the window: every op overall, an op's successes per op.
    fn rate_series(&self, scope: &Scope) -> Vec<f64> {
        let w = self.window();
        match scope {
            Scope::All => self
                .summary
                .timeseries
                .iter()
                .filter(|r| w.contains(&r.second))
                .map(|r| r.ops as f64)
                .collect(),
            Scope::Op(op) => {
                let per = self.intervals.get(op);
                w.map(|s| per.and_then(|p| p.get(&s)).map_or(0.0, |h| h.len() as f64))
                    .collect()
            }
        }
    }

    /// A latency figure per second of the window in which ops succeeded.
    fn latency_series(&self, scope: &Scope, metric: Metric) -> Vec<f64> {
        let w = self.window();
        let second = |s: u64| -> Option<LatencyHistogram> {
            match scope {
                Scope::Op(op) => self.intervals.get(op)?.get(&s).cloned(),
                Scope::All => {
                    let mut all = LatencyHistogram::new();
                    for per in self.intervals.values() {
                        if let Some(h) = per.get(&s) {
                            all.merge(h);
                        }
                    }
                    Some(all)
                }
            }
        };
        w.filter_map(second)
            .filter(|h| !h.is_empty())
            .map(|h| metric.of(&h.summary()) as f64)
            .collect()
    }

    /// The run-level figure.
    fn figure(&self, scope: &Scope, metric: Metric) -> Option<f64> {
        let s = &self.summary;
        match (scope, metric) {
            (Scope::All, Metric::OpsPerSec) => Some(s.ops_per_sec),
            (Scope::All, Metric::ErrorRate) => Some(rate(s.failed_ops, s.total_ops)),
            (Scope::All, m) => Some(m.of(&s.latency_us) as f64),
            (Scope::Op(op), m) => {
                let o = s.ops.get(op)?;
                Some(match m {
                    Metric::OpsPerSec if s.duration_s > 0.0 => (o.count - o.failed) as f64 / s.duration_s,
                    Metric::OpsPerSec => 0.0,
                    Metric::ErrorRate => rate(o.failed, o.count),
                    m => m.of(&o.latency_us) as f64,
                })
            }
        }
    }

    fn counts(&self, scope: &Scope) -> (u64, u64) {
        match scope {
            Scope::All => (self.summary.failed_ops, self.summary.total_ops),
            Scope::Op(op) => self.summary.ops.get(op).map_or((0, 0), |o| (o.failed, o.count)),
        }
    }
}

fn rate(failed: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { failed as f64 / total as f64 }
}

/// What a metric covers: every op, or one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    All,
    Op(String),
}

impl Scope {
    fn name(&self) -> &str {
        match self {
            Self::All => "all",
            Self::Op(op) => op,
        }
    }
}

/// A compared figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Ops per second (overall: every op; per op: its successes). Higher is better.
    OpsPerSec,
    /// Median latency, µs.
    P50,
    /// 99th percentile, µs.
    P99,
    /// 99.9th percentile, µs.
    P999,
    /// Maximum, µs.
    Max,
    /// Failed ops / ops. Lower is better.
    ErrorRate,
}

impl Metric {
    const ALL: [Metric; 6] = [
        Self::OpsPerSec,
        Self::P50,
        Self::P99,
        Self::P999,
        Self::Max,
        Self::ErrorRate,
    ];

    /// As tables show it.
    pub fn label(self) -> &'static str {
        match self {
            Self::OpsPerSec => "ops/s",
            Self::P50 => "p50",
            Self::P99 => "p99",
            Self::P999 => "p999",
            Self::Max => "max",
            Self::ErrorRate => "error rate",
        }
    }

    fn higher_is_better(self) -> bool {
        self == Self::OpsPerSec
    }

    fn of(self, s: &crate::stats::LatencySummary) -> u64 {
        match self {
            Self::P50 => s.p50,
            Self::P99 => s.p99,
            Self::P999 => s.p999,
            Self::Max => s.max,
            Self::OpsPerSec | Self::ErrorRate => 0,
        }
    }

    /// A value of this metric, as a reader wants it.
    pub fn show(self, v: f64) -> String {
        match self {
            Self::OpsPerSec => format!("{v:.0}"),
            Self::ErrorRate => format!("{:.3}%", v * 100.0),
            _ => crate::report::human_us(v.round() as u64),
        }
    }
}

/// A metric's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Worse beyond the noise, and significant.
    Regressed,
    /// Better beyond the noise, and significant.
    Improved,
    /// Within the noise.
    Unchanged,
    /// Beyond the noise but not significant.
    NotSignificant,
    /// Beyond the noise, with too few values on a side to test.
    Untested,
}

impl Change {
    /// As tables show it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Regressed => "REGRESSED",
            Self::Improved => "improved",
            Self::Unchanged => "unchanged",
            Self::NotSignificant => "not significant",
            Self::Untested => "too few seconds to test",
        }
    }
}

/// One metric of one scope, compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricChange {
    /// `all`, or an op's name.
    pub scope: String,
    /// What was compared.
    pub metric: Metric,
    /// The base run's figure.
    pub base: f64,
    /// The new run's figure.
    pub new: f64,
    /// (new − base) / base; `None` when base is 0 and new is not (an infinite change).
    pub change: Option<f64>,
    /// The test that decided, when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<Test>,
    /// Regressed, improved, unchanged, …
    pub verdict: Change,
}

/// One side of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// The run's directory.
    pub dir: PathBuf,
    /// Its workload.
    pub workload: String,
    /// Its engine adapter.
    pub adapter: String,
    /// Its seed.
    pub seed: u64,
    /// Seconds the users ran.
    pub duration_s: f64,
    /// Ops run.
    pub total_ops: u64,
    /// Whether the run itself passed.
    pub passed: bool,
}

impl Side {
    fn of(r: &RunData) -> Self {
        let s = &r.summary;
        Self {
            dir: r.dir.clone(),
            workload: s.workload.clone(),
            adapter: s.adapter.clone(),
            seed: s.seed,
            duration_s: s.duration_s,
            total_ops: s.total_ops,
            passed: s.passed,
        }
    }
}

/// A comparison, as `compare.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// [`COMPARE_FORMAT_VERSION`].
    pub format_version: u64,
    /// The baseline.
    pub base: Side,
    /// The run judged.
    pub new: Side,
    /// The practical threshold, a fraction.
    pub noise: f64,
    /// The significance level shared by the metrics tested.
    pub alpha: f64,
    /// How many metrics were tested: each is significant at `alpha / tested`.
    pub tested: usize,
    /// Every metric, overall then per op.
    pub metrics: Vec<MetricChange>,
    /// Ops only the new run has (not compared).
    pub added_ops: Vec<String>,
    /// Ops only the base run has (not compared).
    pub removed_ops: Vec<String>,
    /// Notes for the reader (a run without `histograms.hlog`, say).
    pub notes: Vec<String>,
    /// Whether any metric regressed.
    pub regressed: bool,
    /// Where the CPU went in each run, when both were profiled (`run --cpu-profile`); a
    /// profile is shown, never judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<crate::profile::ProfileComparison>,
}

/// How to compare.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Changes within this fraction are noise.
    pub noise: f64,
    /// The significance level shared by every metric tested.
    pub alpha: f64,
    /// Compare runs of differently named workloads (the same mix registered once per engine,
    /// say): their ops of the same name are compared.
    pub any_workload: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            noise: DEFAULT_NOISE,
            alpha: DEFAULT_ALPHA,
            any_workload: false,
        }
    }
}

/// Compares `new` against `base`; an error (one line) when they are not runs of one workload.
pub fn compare(base: &RunData, new: &RunData, options: Options) -> Result<Comparison, String> {
    if base.summary.workload != new.summary.workload && !options.any_workload {
        return Err(format!(
            "{} is a run of `{}` and {} of `{}`: compare runs of one workload (or pass --any-workload to compare their ops of the same name)",
            base.dir.display(),
            base.summary.workload,
            new.dir.display(),
            new.summary.workload
        ));
    }
    let base_ops: BTreeSet<&String> = base.summary.ops.keys().collect();
    let new_ops: BTreeSet<&String> = new.summary.ops.keys().collect();
    let mut scopes = vec![Scope::All];
    scopes.extend(base_ops.intersection(&new_ops).map(|op| Scope::Op((*op).clone())));
    let mut notes = Vec::new();
    for r in [base, new] {
        if !r.has_log {
            notes.push(format!(
                "{} has no histograms.hlog: its latencies are compared without a test",
                r.dir.display()
            ));
        }
    }
    // First every figure and test, then the verdicts at the shared level.
    let mut rows: Vec<(MetricChange, bool)> = Vec::new();
    for scope in &scopes {
        for metric in Metric::ALL {
            let (Some(b), Some(n)) = (base.figure(scope, metric), new.figure(scope, metric)) else {
                continue;
            };
            // Latencies and an op's rate per second come from the interval logs.
            let from_log = !matches!(
                (scope, metric),
                (_, Metric::ErrorRate) | (Scope::All, Metric::OpsPerSec)
            );
            let test = match metric {
                _ if from_log && !(base.has_log && new.has_log) => None,
                Metric::ErrorRate => {
                    let ((bf, bt), (nf, nt)) = (base.counts(scope), new.counts(scope));
                    significance::two_proportions(bf, bt, nf, nt)
                }
                Metric::OpsPerSec => significance::welch(&base.rate_series(scope), &new.rate_series(scope)),
                m => significance::welch(&base.latency_series(scope, m), &new.latency_series(scope, m)),
            };
            let change = if b == 0.0 {
                (n == 0.0).then_some(0.0)
            } else {
                Some((n - b) / b)
            };
            let worse = match change {
                Some(c) if metric.higher_is_better() => -c,
                Some(c) => c,
                None => f64::INFINITY,
            };
            let beyond = worse.abs() > options.noise;
            rows.push((
                MetricChange {
                    scope: scope.name().to_owned(),
                    metric,
                    base: b,
                    new: n,
                    change,
                    test,
                    verdict: Change::Unchanged,
                },
                beyond && worse > 0.0,
            ));
        }
    }
    let tested = rows.iter().filter(|(m, _)| m.test.is_some()).count().max(1);
    let level = options.alpha / tested as f64;
    for (m, worse) in &mut rows {
        m.verdict = decide(m.change, *worse, m.test.as_ref(), options.noise, level);
    }
    let metrics: Vec<MetricChange> = rows.into_iter().map(|(m, _)| m).collect();
    let profile = profiles(base, new, &mut notes);
    Ok(Comparison {
        format_version: COMPARE_FORMAT_VERSION,
        base: Side::of(base),
        new: Side::of(new),
        noise: options.noise,
        alpha: options.alpha,
        tested,
        regressed: metrics.iter().any(|m| m.verdict == Change::Regressed),
        metrics,
        added_ops: new_ops.difference(&base_ops).map(|s| (*s).clone()).collect(),
        removed_ops: base_ops.difference(&new_ops).map(|s| (*s).clone()).collect(),
        notes,
        profile,
    })
}

/// The two runs' CPU profiles compared, when both have one; a note when one alone has, or
/// when one cannot be read (the metrics are still compared).
fn profiles(base: &RunData, new: &RunData, notes: &mut Vec<String>) -> Option<crate::profile::ProfileComparison> {
    let profiled = |r: &RunData| r.dir.join("profile.folded").exists();
    match (profiled(base), profiled(new)) {
        (true, false) | (false, true) => {
            let (with, without) = if profiled(base) { (base, new) } else { (new, base) };
            notes.push(format!(
                "only {} has a CPU profile, {} has none: run both with --cpu-profile to see where the CPU went in each",
                with.dir.display(),
                without.dir.display()
            ));
            None
        }
        (false, false) => None,
        (true, true) => match crate::profile::compare(&base.dir, &new.dir) {
            Ok(p) => p,
            Err(e) => {
                notes.push(format!("the CPU profiles are not compared: {e}"));
                None
            }
        },
    }
}

/// A metric's verdict from its relative change (`None`: from zero), whether that is for the
/// worse, its test, the noise and the level each metric is tested at.
fn decide(change: Option<f64>, worse: bool, test: Option<&Test>, noise: f64, level: f64) -> Change {
    if change.map_or(f64::INFINITY, f64::abs) <= noise {
        return Change::Unchanged;
    }
    match test {
        None => Change::Untested,
        Some(t) if t.p >= level => Change::NotSignificant,
        Some(_) if worse => Change::Regressed,
        Some(_) => Change::Improved,
    }
}

impl Comparison {
    /// The change as a reader wants it: `+12.3%`, `−4.0%`, `new` (from zero).
    pub fn show_change(m: &MetricChange) -> String {
        match m.change {
            None => "from 0".into(),
            Some(c) => format!("{:+.1}%", c * 100.0),
        }
    }

    /// The test as a reader wants it: `welch_t p=0.0004 (n_eff 7.1/6.9)`.
    pub fn show_test(m: &MetricChange) -> String {
        match &m.test {
            None => "-".into(),
            Some(t) => {
                let p = if t.p < 0.0001 {
                    "p<0.0001".to_owned()
                } else {
                    format!("p={:.4}", t.p)
                };
                match t.n_eff {
                    Some((a, b)) => format!("{} {p} (n_eff {a}/{b})", t.name),
                    None => format!("{} {p}", t.name),
                }
            }
        }
    }

    /// Table rows: scope, metric, base, new, change, test, verdict.
    pub fn rows(&self) -> Vec<[String; 7]> {
        self.metrics
            .iter()
            .map(|m| {
                [
                    m.scope.clone(),
                    m.metric.label().to_owned(),
                    m.metric.show(m.base),
                    m.metric.show(m.new),
                    Self::show_change(m),
                    Self::show_test(m),
                    m.verdict.label().to_owned(),
                ]
            })
            .collect()
    }

    /// The rule, in one sentence, for the foot of every output.
    pub fn rule(&self) -> String {
        format!(
            "A metric regressed when it is more than {:.0}% worse and significant at p < {} / {} metrics tested \
             (Welch's t-test over per-second values, sizes corrected for lag-1 autocorrelation; error rates: \
             two-proportion z-test).",
            self.noise * 100.0,
            self.alpha,
            self.tested
        )
    }

    /// `compare.md`.
    pub fn markdown(&self) -> String {
        let side = |s: &Side| {
            format!(
                "`{}` on {}, seed {}, {:.1} s, {} ops{} — `{}`",
                s.workload,
                s.adapter,
                s.seed,
                s.duration_s,
                s.total_ops,
                if s.passed { "" } else { " (FAILED)" },
                s.dir.display()
            )
        };
        let mut out = format!(
            "# Compare: {}\n\n- base: {}\n- new: {}\n\n| scope | metric | base | new | change | test | verdict |\n| --- | --- | --- | --- | --- | --- | --- |\n",
            if self.regressed { "REGRESSED" } else { "no regression" },
            side(&self.base),
            side(&self.new)
        );
        for r in self.rows() {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        out.push('\n');
        out.push_str(&self.rule());
        out.push('\n');
        for (what, ops) in [
            ("Only in the new run", &self.added_ops),
            ("Only in the base run", &self.removed_ops),
        ] {
            if !ops.is_empty() {
                out.push_str(&format!("\n{what} (not compared): {}.\n", ops.join(", ")));
            }
        }
        if let Some(p) = &self.profile {
            out.push_str(&format!(
                "\n## Where the CPU went\n\nSelf time as a share of each run's samples ({} and {}); \
                 compare-flamegraph.svg beside this file draws the new run's stacks coloured by the change \
                 (red: more, blue: less).\n\n| function | base self % | new self % | change (points) |\n| --- | --- | --- | --- |\n",
                p.base_samples, p.new_samples
            ));
            for f in &p.functions {
                out.push_str(&format!(
                    "| `{}` | {:.1} | {:.1} | {:+.1} |\n",
                    f.function.replace('|', "\\|"),
                    f.base_self_percent,
                    f.new_self_percent,
                    f.change_points
                ));
            }
        }
        for n in &self.notes {
            out.push_str(&format!("\n{n}.\n"));
        }
        out
    }

    /// `compare.html`: the same table, for a browser (a template; nothing loaded).
    pub fn html(&self) -> Result<String, String> {
        self.render_html(self.differential()?.as_deref())
    }

    /// `compare.html` with the differential flame graph `diff` (when both runs were profiled).
    fn render_html(&self, diff: Option<&[u8]>) -> Result<String, String> {
        let rows: Vec<minijinja::Value> = self
            .metrics
            .iter()
            .zip(self.rows())
            .map(|(m, cells)| {
                let class = match m.verdict {
                    Change::Regressed => "regressed",
                    Change::Improved => "improved",
                    _ => "",
                };
                minijinja::context! { class => class, cells => cells.to_vec() }
            })
            .collect();
        // The flame graphs as `data:` URLs: the page stays one file that loads nothing, and
        // each graph keeps its own script (zoom, search) in a frame of its own.
        let flame = match &self.profile {
            Some(_) => {
                let url = |svg: &[u8]| {
                    use base64::Engine as _;
                    format!(
                        "data:image/svg+xml;base64,{}",
                        base64::engine::general_purpose::STANDARD.encode(svg)
                    )
                };
                let read = |dir: &Path| std::fs::read(dir.join("flamegraph.svg")).ok().map(|svg| url(&svg));
                minijinja::context! {
                    base => read(&self.base.dir),
                    new => read(&self.new.dir),
                    diff => diff.map(url),
                }
            }
            None => minijinja::Value::from(()),
        };
        let mut env = minijinja::Environment::new();
        env.add_template("compare.html", include_str!("compare.html.j2"))
            .map_err(|e| format!("the compare template: {e}"))?;
        env.get_template("compare.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    c => minijinja::Value::from(minijinja::value::Serde(self)),
                    rows => rows,
                    rule => self.rule(),
                    flame => flame,
                })
            })
            .map_err(|e| format!("cannot render compare.html: {e}"))
    }

    /// The differential flame graph of the two runs' profiles (SVG), when both have one.
    pub fn differential(&self) -> Result<Option<Vec<u8>>, String> {
        if self.profile.is_none() {
            return Ok(None);
        }
        let title = format!(
            "{} vs the base: red where the new run spent more, blue less",
            self.new.workload
        );
        crate::profile::differential_flame_graph(&self.base.dir, &self.new.dir, &title)
    }

    /// Writes `compare.json`, `compare.md` and `compare.html` into `dir`, and
    /// `compare-flamegraph.svg` when both runs were profiled; the paths written.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, String> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| format!("cannot serialise the comparison: {e}"))?;
        let mut written = Vec::new();
        let diff = self.differential()?;
        let mut files = vec![
            ("compare.json", json),
            ("compare.md", self.markdown().into_bytes()),
            ("compare.html", self.render_html(diff.as_deref())?.into_bytes()),
        ];
        if let Some(svg) = diff {
            files.push(("compare-flamegraph.svg", svg));
        }
        for (name, bytes) in files {
            let path = dir.join(name);
            crate::report::write_atomic(&path, &bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Per-op regressions, by op, for a one-line verdict: `orders: ops/s −48.2%, p99 +130.1%`.
pub fn regressions(c: &Comparison) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in c.metrics.iter().filter(|m| m.verdict == Change::Regressed) {
        out.entry(m.scope.clone())
            .or_default()
            .push(format!("{} {}", m.metric.label(), Comparison::show_change(m)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(p: f64) -> Test {
        Test {
            name: "welch_t".into(),
            p,
            n_eff: Some((5.0, 5.0)),
        }
    }

    #[test]
    fn a_regression_needs_both_the_practical_threshold_and_significance() {
        let (noise, level) = (0.05, 0.05 / 20.0);
        // Significant but small: noise.
        assert_eq!(
            decide(Some(0.04), true, Some(&test(1e-9)), noise, level),
            Change::Unchanged
        );
        // Large but not significant at the shared level (0.01 > 0.0025).
        assert_eq!(
            decide(Some(0.30), true, Some(&test(0.01)), noise, level),
            Change::NotSignificant
        );
        // Large and significant: worse is a regression, better an improvement.
        assert_eq!(
            decide(Some(0.30), true, Some(&test(0.001)), noise, level),
            Change::Regressed
        );
        assert_eq!(
            decide(Some(-0.30), false, Some(&test(0.001)), noise, level),
            Change::Improved
        );
        // Untestable: reported, never a regression.
        assert_eq!(decide(Some(0.30), true, None, noise, level), Change::Untested);
        // From zero: beyond any noise.
        assert_eq!(decide(None, true, Some(&test(0.0)), noise, level), Change::Regressed);
    }
}
