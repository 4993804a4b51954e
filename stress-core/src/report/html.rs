//! `report.html`: one self-contained page per run — the verdict, charts on one time axis, a
//! percentile spectrum per op, the first errors and the users — built from the files of the
//! run directory (`summary.json`, `histograms.hlog`), so that `cargo stress report DIR` rebuilds
//! it from them. The page is a template (minijinja, escaping HTML); its charts are drawn as SVG
//! by a small script inside the page from the data inside the page: it loads nothing, and opens
//! from a file on a machine with no network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::console::human_us;
use super::summary::Summary;
use crate::stats::hlog;

const TEMPLATE: &str = include_str!("report.html.j2");
/// The chart script both report.html and sweep.html carry inside them.
pub(crate) const CHARTS_JS: &str = include_str!("charts.js");
/// Users listed in the page; the rest are in `summary.json`.
const USERS_SHOWN: usize = 200;
/// Errors listed per op.
const ERRORS_PER_OP: usize = 3;

#[derive(Serialize)]
struct OpRow {
    name: String,
    count: u64,
    failed: u64,
    p50: String,
    p95: String,
    p99: String,
    p999: String,
    max: String,
}

#[derive(Serialize)]
struct Series {
    name: String,
    values: Vec<Option<f64>>,
}

#[derive(Serialize)]
struct Group {
    title: String,
    series: Vec<Series>,
}

#[derive(Serialize)]
struct Spectrum {
    name: String,
    /// (log10(1 / (1 − p)), latency µs): x 1 is p90, 2 p99, 3 p99.9.
    points: Vec<(f64, u64)>,
}

#[derive(Serialize, Default)]
struct Timeline {
    second: Vec<u64>,
    ops: Vec<Option<f64>>,
    failed: Vec<Option<f64>>,
    p50_us: Vec<Option<f64>>,
    p99_us: Vec<Option<f64>>,
    max_us: Vec<Option<f64>>,
    service_p99_us: Vec<Option<f64>>,
    active_users: Vec<Option<f64>>,
    target: Vec<Option<f64>>,
    stage: Vec<Option<usize>>,
    paused: Vec<bool>,
}

#[derive(Serialize)]
struct Data {
    timeline: Timeline,
    /// Injected faults, as marks on the timeline: when they went in (s) and what.
    faults: Vec<(f64, String)>,
    /// The engine's outages, shaded on the timeline: from each injection until an op
    /// succeeded again (s).
    outages: Vec<(f64, f64)>,
    /// The isolation checker's witnesses, drawn as cycles.
    witnesses: Vec<stress_isolation::Witness>,
    resource_groups: Vec<Group>,
    spectra: Vec<Spectrum>,
    open_loop: bool,
}

/// Renders the report of the run in `dir`.
pub fn render(dir: &Path) -> Result<String, String> {
    let summary = Summary::load(&dir.join("summary.json"))?;
    let log = dir.join("histograms.hlog");
    let (intervals, has_log) = match std::fs::read(&log) {
        Ok(bytes) => (hlog::read(&bytes).map_err(|e| format!("{} {e}", log.display()))?, true),
        // Not an error: the page says what it cannot draw (and `cargo stress report` says so
        // on the console, with missing_log).
        Err(_) => (hlog::Intervals::new(), false),
    };
    render_summary(&summary, &intervals, has_log, dir)
}

/// Why the report of the run in `dir` lacks its percentile spectrum, if it does: one line
/// naming the missing `histograms.hlog`.
pub fn missing_log(dir: &Path) -> Option<String> {
    let log = dir.join("histograms.hlog");
    (!log.is_file()).then(|| {
        format!(
            "{} is missing: report.html has no percentile spectrum (the tables come from summary.json)",
            log.display()
        )
    })
}

/// Renders the report of the run in `dir` and writes it there as `report.html`.
pub fn write(dir: &Path) -> Result<PathBuf, String> {
    let page = render(dir)?;
    let path = dir.join("report.html");
    super::write_atomic(&path, page.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn render_summary(s: &Summary, intervals: &hlog::Intervals, has_log: bool, dir: &Path) -> Result<String, String> {
    let open_loop = s.ops.values().any(|o| o.service_us.is_some());
    let ops: Vec<OpRow> = s
        .ops
        .iter()
        .map(|(name, o)| OpRow {
            name: name.clone(),
            count: o.count,
            failed: o.failed,
            p50: human_us(o.latency_us.p50),
            p95: human_us(o.latency_us.p95),
            p99: human_us(o.latency_us.p99),
            p999: human_us(o.latency_us.p999),
            max: human_us(o.latency_us.max),
        })
        .collect();
    let mut per_op: BTreeMap<&str, usize> = BTreeMap::new();
    let errors: Vec<_> = s
        .errors
        .iter()
        .filter(|e| {
            let n = per_op.entry(e.op.as_str()).or_default();
            *n += 1;
            *n <= ERRORS_PER_OP
        })
        .collect();
    let data = Data {
        timeline: timeline(s),
        faults: s
            .faults
            .iter()
            .filter_map(|f| Some((f.at_s?, f.kind.to_string())))
            .collect(),
        outages: s.faults.iter().filter_map(|f| f.outage_span(s.duration_s)).collect(),
        witnesses: s.isolation.as_ref().map(|i| i.witnesses.clone()).unwrap_or_default(),
        resource_groups: resource_groups(s),
        spectra: intervals
            .iter()
            .map(|(name, seconds)| {
                let mut all = crate::stats::LatencyHistogram::new();
                for h in seconds.values() {
                    all.merge(h);
                }
                Spectrum {
                    name: name.clone(),
                    points: spectrum(&all),
                }
            })
            .collect(),
        open_loop,
    };
    // Inside <script>, `</script>` would end it and `<!--` would change how it is read: every
    // `<` (JSON has them only inside strings) goes as its escape, `\u003c`.
    let json = serde_json::to_string(&data)
        .map_err(|e| format!("cannot serialise the report's data: {e}"))?
        .replace('<', "\\u003c");
    let profile = profile_section(dir)?;
    let mut env = Environment::new();
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| format!("the report template: {e}"))?;
    let template = env.get_template("report.html").map_err(|e| e.to_string())?;
    template
        .render(context! {
            s => Value::from(Serde(s)),
            verdict => if s.passed { "PASS" } else { "FAIL" },
            users => s.users.len(),
            duration => format!("{:.1} s", s.duration_s),
            ops_per_sec => format!("{:.0}", s.ops_per_sec),
            replay => format!("cargo stress replay {}", dir.display()),
            ops => Value::from(Serde(&ops)),
            open_loop => open_loop,
            has_log => has_log,
            errors => Value::from(Serde(&errors)),
            users_shown => Value::from(Serde(&s.users[..s.users.len().min(USERS_SHOWN)])),
            users_more => s.users.len().saturating_sub(USERS_SHOWN),
            version => env!("CARGO_PKG_VERSION"),
            data => Value::from_safe_string(json),
            charts => Value::from_safe_string(CHARTS_JS.to_owned()),
            meanings => Value::from(Serde(&meanings(s))),
            profile => Value::from(Serde(&profile)),
        })
        .map_err(|e| format!("cannot render the report: {e}"))
}

/// The CPU profile of the run (`--cpu-profile`), as the page shows it.
#[derive(Serialize)]
struct ProfileView {
    p: crate::profile::ProfileSummary,
    /// `flamegraph.svg` as a `data:` URL: the page stays one file that loads nothing, and
    /// the flame graph keeps its own script (zoom, search) in a frame of its own.
    svg_url: Option<String>,
    /// perf's CPU over the window, as a percentage of one core.
    perf_core_percent: f64,
}

fn profile_section(dir: &Path) -> Result<Option<ProfileView>, String> {
    use base64::Engine as _;
    let Some(p) = crate::profile::ProfileSummary::load(dir)? else {
        return Ok(None);
    };
    let svg_url = std::fs::read(dir.join("flamegraph.svg")).ok().map(|svg| {
        format!(
            "data:image/svg+xml;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(svg)
        )
    });
    let perf_core_percent = if p.window_s > 0.0 {
        (1000.0 * p.perf_cpu_s / p.window_s).round() / 10.0
    } else {
        0.0
    };
    Ok(Some(ProfileView {
        p,
        svg_url,
        perf_core_percent,
    }))
}

/// What each anomaly the isolation checker found means, in a sentence.
fn meanings(s: &Summary) -> BTreeMap<String, &'static str> {
    let found = s.isolation.iter().flat_map(|i| i.anomalies.keys());
    found
        .filter_map(|name| Some((name.clone(), stress_isolation::Anomaly::parse(name)?.meaning())))
        .collect()
}

fn timeline(s: &Summary) -> Timeline {
    let mut t = Timeline::default();
    for r in &s.timeseries {
        let ok = r.ops > r.failed;
        let lat = |v: u64| ok.then_some(v as f64);
        t.second.push(r.second);
        t.ops.push(Some(r.ops as f64));
        t.failed.push(Some(r.failed as f64));
        t.p50_us.push(lat(r.p50_us));
        t.p99_us.push(lat(r.p99_us));
        t.max_us.push(lat(r.max_us));
        t.service_p99_us.push(lat(r.service_p99_us));
        t.active_users.push(Some(r.active_users as f64));
        t.target.push(r.target);
        t.stage.push(r.stage);
        t.paused.push(r.paused);
    }
    t
}

/// The resource readings, one chart per kind: memory, CPU, then the rest by source.
fn resource_groups(s: &Summary) -> Vec<Group> {
    let mut names: Vec<String> = Vec::new();
    for r in &s.timeseries {
        for (k, _) in &r.resources {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    let kind = |n: &str| -> String {
        if n.contains("disk") && n.ends_with("_mb") {
            "Disk (MB)".into()
        } else if n.ends_with("_mb") {
            "Memory (MB)".into()
        } else if n.contains("cpu_percent") {
            "CPU (% of one core)".into()
        } else {
            n.split('.').next().unwrap_or(n).to_owned()
        }
    };
    let mut groups: Vec<Group> = Vec::new();
    for name in names {
        let title = kind(&name);
        let values = s
            .timeseries
            .iter()
            .map(|r| r.resources.iter().find(|(k, _)| *k == name).map(|(_, v)| *v))
            .collect();
        let series = Series { name, values };
        match groups.iter_mut().find(|g| g.title == title) {
            Some(g) => g.series.push(series),
            None => groups.push(Group {
                title,
                series: vec![series],
            }),
        }
    }
    groups
}

/// HdrHistogram's percentile spectrum: latency against log10(1 / (1 − p)), up to the last
/// percentile the count can tell apart.
fn spectrum(h: &crate::stats::LatencyHistogram) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let top = (h.len() as f64).log10();
    let mut points = Vec::new();
    for k in 0..=500 {
        let x = f64::from(k) / 100.0;
        if x > top {
            break;
        }
        let p = 1.0 - 10f64.powf(-x);
        points.push((x, h.quantile(p)));
    }
    points.push((top, h.quantile(1.0)));
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spectrum_climbs_to_the_maximum_and_stops_where_the_count_does() {
        let mut h = crate::stats::LatencyHistogram::new();
        for v in 1..=1000u64 {
            h.record(v);
        }
        let s = spectrum(&h);
        assert_eq!(s.first().map(|p| p.0), Some(0.0));
        assert_eq!(
            s.last(),
            Some(&(3.0, 1000)),
            "1,000 values tell percentiles apart to p99.9"
        );
        assert!(s.windows(2).all(|w| w[0].1 <= w[1].1), "a spectrum never falls");
        let p99 = s.iter().find(|p| (p.0 - 2.0).abs() < 1e-9).unwrap();
        assert!((989..=991).contains(&p99.1), "{p99:?}");
        assert!(spectrum(&crate::stats::LatencyHistogram::new()).is_empty());
    }
}
