//! `sweep.csv`/`sweep.md` and `matrix.csv`/`matrix.md`: one row per iteration, the breaking,
//! stability and optimal efficiency points, the scaling verdicts and the configuration.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

use super::iteration::{Iteration, Metrics};
use super::scaling::{self, Scaling};
use super::spec::Plan;
use crate::params::parse_float;
use crate::report::{human_us, write_atomic};

/// A sweep (one parameter varies; stops at the breaking point) or a matrix (a product of
/// several; runs every cell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `cargo stress sweep`.
    Sweep,
    /// `cargo stress matrix`.
    Matrix,
}

impl Kind {
    /// `sweep` or `matrix`: the files' stem.
    pub fn stem(self) -> &'static str {
        match self {
            Self::Sweep => "sweep",
            Self::Matrix => "matrix",
        }
    }

    /// The prefix of an iteration's directory: `iter` or `cell`.
    pub fn item(self) -> &'static str {
        match self {
            Self::Sweep => "iter",
            Self::Matrix => "cell",
        }
    }
}

/// What the optimal efficiency point maximises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Efficiency {
    /// Ops per second (the default).
    #[default]
    OpsPerSec,
    /// Rows per second.
    RowsPerSec,
    /// Payload bytes per second.
    BytesPerSec,
}

impl Efficiency {
    /// The figure's name, as written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::OpsPerSec => "ops_per_sec",
            Self::RowsPerSec => "rows_per_sec",
            Self::BytesPerSec => "bytes_per_sec",
        }
    }

    fn of(self, m: &Metrics) -> f64 {
        match self {
            Self::OpsPerSec => m.ops_per_sec,
            Self::RowsPerSec => m.rows_per_sec,
            Self::BytesPerSec => m.bytes_per_sec,
        }
    }

    fn show(self, m: &Metrics) -> String {
        match self {
            Self::OpsPerSec => format!("{:.1} ops/s", m.ops_per_sec),
            Self::RowsPerSec => format!("{:.1} rows/s", m.rows_per_sec),
            Self::BytesPerSec => format!("{}/s", bytes(m.bytes_per_sec)),
        }
    }
}

impl FromStr for Efficiency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ops_per_sec" => Ok(Self::OpsPerSec),
            "rows_per_sec" => Ok(Self::RowsPerSec),
            "bytes_per_sec" => Ok(Self::BytesPerSec),
            _ => Err(format!(
                "`{s}` is not an efficiency figure: expected ops_per_sec, rows_per_sec or bytes_per_sec"
            )),
        }
    }
}

/// A sweep's or a matrix's results so far.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepReport {
    /// Sweep or matrix.
    pub kind: Kind,
    /// The workload.
    pub workload: String,
    /// What varies and what is fixed.
    pub plan: Plan,
    /// What the optimal efficiency point maximises.
    pub efficiency: Efficiency,
    /// Whether a sweep goes on after its breaking point (a matrix always does).
    pub keep_going: bool,
    /// Lines of the configuration section: (setting, value), in order.
    pub about: Vec<(String, String)>,
    /// The iterations run so far.
    pub iterations: Vec<Iteration>,
    /// Why it stopped before its last iteration, if it did.
    pub stopped: Option<String>,
}

impl SweepReport {
    /// An empty report.
    pub fn new(kind: Kind, workload: impl Into<String>, plan: Plan) -> Self {
        Self {
            kind,
            workload: workload.into(),
            plan,
            efficiency: Efficiency::default(),
            keep_going: kind == Kind::Matrix,
            about: Vec::new(),
            iterations: Vec::new(),
            stopped: None,
        }
    }

    /// The first iteration that did not hold.
    pub fn breaking_point(&self) -> Option<&Iteration> {
        self.iterations.iter().find(|i| !i.status.is_ok())
    }

    /// The OK iteration with the largest value of the swept parameter before the breaking
    /// point (or among all when none broke); the last such for a parameter that is not a number.
    pub fn stability_point(&self) -> Option<&Iteration> {
        let end = self.breaking_point().map_or(usize::MAX, |b| b.index);
        let mut ok = self.iterations.iter().filter(|i| i.status.is_ok() && i.index < end);
        let Some(axis) = self.plan.axes.first().filter(|_| self.plan.axes.len() == 1) else {
            return ok.next_back();
        };
        let key = |i: &Iteration| i.value(&axis.name).and_then(parse_float);
        if self.iterations.iter().all(|i| key(i).is_some()) {
            ok.max_by(|a, b| key(a).unwrap_or(0.0).total_cmp(&key(b).unwrap_or(0.0)))
        } else {
            ok.next_back()
        }
    }

    /// The OK iteration with the best efficiency figure (ops/s unless chosen otherwise).
    pub fn optimal_point(&self) -> Option<&Iteration> {
        self.iterations
            .iter()
            .filter(|i| i.status.is_ok())
            .fold(None, |best: Option<&Iteration>, i| match best {
                Some(b) if self.efficiency.of(&b.metrics) >= self.efficiency.of(&i.metrics) => Some(b),
                _ => Some(i),
            })
    }

    /// The scaling verdict of every series.
    pub fn scaling(&self) -> Vec<Scaling> {
        scaling::series(&self.iterations, &self.plan.axes)
    }

    /// The directory name of iteration `index` (from 1): `iter-007`, `cell-012`.
    pub fn dir_name(&self, index: usize) -> String {
        let width = self.plan.cell_count().to_string().len().max(3);
        format!("{}-{index:0width$}", self.kind.item())
    }

    fn op_names(&self) -> BTreeSet<String> {
        self.iterations
            .iter()
            .flat_map(|i| i.metrics.per_op.keys().cloned())
            .collect()
    }

    fn extras(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let phases = self
            .iterations
            .iter()
            .flat_map(|i| i.metrics.phases_ms.keys().cloned())
            .collect();
        let figures = self
            .iterations
            .iter()
            .flat_map(|i| i.metrics.figures.keys().cloned())
            .collect();
        (phases, figures)
    }

    /// `sweep.csv` / `matrix.csv`: a header and one row per iteration, numbers unformatted,
    /// empty where an iteration did not report a figure.
    pub fn csv(&self) -> String {
        let (phases, figures) = self.extras();
        let mut header: Vec<String> = vec![self.kind.item().into()];
        header.extend(self.plan.axes.iter().map(|a| a.name.clone()));
        header.extend(
            [
                "status",
                "ops",
                "failed_ops",
                "duration_s",
                "ops_per_sec",
                "rows_per_sec",
                "bytes_per_sec",
                "p50_us",
                "p95_us",
                "p99_us",
                "max_us",
                "process_peak_mb",
                "server_peak_mb",
            ]
            .map(String::from),
        );
        header.extend(phases.iter().map(|p| format!("phase_{p}_ms")));
        header.extend(figures.iter().map(|f| format!("figure_{f}")));
        let ops = self.op_names();
        for op in &ops {
            header.extend([format!("op_{op}_per_sec"), format!("op_{op}_p99_us")]);
        }
        header.extend(["detail".to_owned(), "dir".to_owned()]);
        let mut out = csv_line(&header);
        for it in &self.iterations {
            let m = &it.metrics;
            let opt = |x: Option<f64>| x.map_or(String::new(), fmt_num);
            let mut row: Vec<String> = vec![it.index.to_string()];
            row.extend(
                self.plan
                    .axes
                    .iter()
                    .map(|a| it.value(&a.name).unwrap_or_default().to_owned()),
            );
            row.extend([
                it.status.label().to_owned(),
                m.ops.to_string(),
                m.failed_ops.to_string(),
                fmt_num(m.duration_s),
                fmt_num(m.ops_per_sec),
                fmt_num(m.rows_per_sec),
                fmt_num(m.bytes_per_sec),
                m.latency_us.p50.to_string(),
                m.latency_us.p95.to_string(),
                m.latency_us.p99.to_string(),
                m.latency_us.max.to_string(),
                opt(m.process_peak_mb),
                opt(m.server_peak_mb),
            ]);
            row.extend(phases.iter().map(|p| opt(m.phases_ms.get(p).copied())));
            row.extend(figures.iter().map(|f| opt(m.figures.get(f).copied())));
            for op in &ops {
                let (rate, p99) = m.per_op.get(op).copied().unzip();
                row.extend([opt(rate), p99.map_or(String::new(), |p| p.to_string())]);
            }
            row.extend([it.detail.clone(), it.dir.clone()]);
            out.push_str(&csv_line(&row));
        }
        out
    }

    /// `sweep.md` / `matrix.md`: the points, a table, the scaling verdicts, failures and the
    /// configuration.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let axes: Vec<&str> = self.plan.axes.iter().map(|a| a.name.as_str()).collect();
        let _ = writeln!(
            md,
            "# {} of {} over {}\n",
            title(self.kind),
            self.workload,
            axes.join(" × ")
        );
        let planned = self.plan.cell_count();
        let ok = self.iterations.iter().filter(|i| i.status.is_ok()).count();
        let _ = writeln!(
            md,
            "{} of {planned} {} ran, {ok} OK.{}\n",
            self.iterations.len(),
            if self.kind == Kind::Sweep {
                "iterations"
            } else {
                "cells"
            },
            self.stopped
                .as_ref()
                .map_or(String::new(), |s| format!(" Stopped: {s}."))
        );
        let point = |i: &Iteration| format!("**{}** ({} {})", i.label(), self.kind.item(), i.index);
        if self.kind == Kind::Sweep {
            match self.breaking_point() {
                Some(b) => {
                    let _ = writeln!(md, "- Breaking point: {}: {} — {}", point(b), b.status, b.detail);
                }
                None => {
                    let _ = writeln!(md, "- Breaking point: none — every iteration held");
                }
            }
            match self.stability_point() {
                Some(s) => {
                    let _ = writeln!(md, "- Stability point: {}", point(s));
                }
                None => {
                    let _ = writeln!(
                        md,
                        "- Stability point: none — no iteration held before the breaking point"
                    );
                }
            }
        } else {
            let failed: Vec<String> = self
                .iterations
                .iter()
                .filter(|i| !i.status.is_ok())
                .map(|i| format!("{} ({})", i.label(), i.status))
                .collect();
            let _ = writeln!(
                md,
                "- Cells that did not hold: {}",
                if failed.is_empty() {
                    "none".into()
                } else {
                    failed.join(", ")
                }
            );
        }
        match self.optimal_point() {
            Some(o) => {
                let _ = writeln!(
                    md,
                    "- Optimal efficiency point: {}: {}",
                    point(o),
                    self.efficiency.show(&o.metrics)
                );
            }
            None => {
                let _ = writeln!(md, "- Optimal efficiency point: none — no iteration held");
            }
        }
        md.push('\n');
        self.table(&mut md);
        let failing: Vec<&Iteration> = self.iterations.iter().filter(|i| !i.status.is_ok()).collect();
        if !failing.is_empty() {
            let _ = writeln!(md, "\n## Why not OK\n");
            for i in failing {
                let _ = writeln!(
                    md,
                    "- {} {} ({}): {} — {}",
                    self.kind.item(),
                    i.index,
                    i.label(),
                    i.status,
                    i.detail
                );
            }
        }
        let scaling = self.scaling();
        if !scaling.is_empty() {
            let _ = writeln!(
                md,
                "\n## Scaling\n\nPer 10× of each numeric parameter, fitted over the OK {} (flagged when worse than linear by more than {:.0}%):\n",
                if self.kind == Kind::Sweep {
                    "iterations"
                } else {
                    "cells"
                },
                scaling::TOLERANCE * 100.0
            );
            for s in scaling {
                let _ = writeln!(md, "- {s}");
            }
        }
        let _ = writeln!(md, "\n## Configuration\n\n| setting | value |\n| --- | --- |");
        for (k, v) in &self.about {
            let _ = writeln!(md, "| {k} | {} |", v.replace('|', "\\|"));
        }
        for a in &self.plan.axes {
            let _ = writeln!(md, "| varies | `{a}` ({} values) |", a.values.len());
        }
        for f in &self.plan.fixed {
            let _ = writeln!(md, "| fixed | `{f}` |");
        }
        let _ = writeln!(md, "| efficiency | {} |", self.efficiency.name());
        if self.kind == Kind::Sweep {
            let on = if self.keep_going {
                "runs on (--continue)"
            } else {
                "stops there"
            };
            let _ = writeln!(md, "| after the breaking point | {on} |");
        }
        let _ = writeln!(
            md,
            "| files | `{stem}.csv`; each {item}'s own run in `{item}-NNN/` (summary.json, replay.json, timeseries.csv) |",
            stem = self.kind.stem(),
            item = self.kind.item(),
        );
        md
    }

    fn table(&self, md: &mut String) {
        let (phases, figures) = self.extras();
        let has = |f: &dyn Fn(&Metrics) -> bool| self.iterations.iter().any(|i| f(&i.metrics));
        let mut cols: Vec<Column> = Vec::new();
        cols.push(("ops/s".into(), Box::new(|m| format!("{:.1}", m.ops_per_sec))));
        if has(&|m| m.rows_per_sec > 0.0) {
            cols.push(("rows/s".into(), Box::new(|m| format!("{:.0}", m.rows_per_sec))));
        }
        for op in self.op_names() {
            let name = op.clone();
            cols.push((
                format!("{op}/s"),
                Box::new(move |m| m.per_op.get(&name).map_or("–".into(), |(r, _)| format!("{r:.0}"))),
            ));
        }
        cols.push(("p50".into(), Box::new(|m| human_us(m.latency_us.p50))));
        cols.push(("p99".into(), Box::new(|m| human_us(m.latency_us.p99))));
        let ms = |x: Option<f64>| x.map_or("–".into(), |v| human_us((v * 1e3).round() as u64));
        for p in phases {
            let name = p.clone();
            cols.push((p, Box::new(move |m| ms(m.phases_ms.get(&name).copied()))));
        }
        for f in figures {
            let name = f.clone();
            cols.push((
                f,
                Box::new(move |m| {
                    m.figures.get(&name).map_or("–".into(), |v| {
                        // A size (`table_bytes`) reads best in KiB or MiB; a count or ratio as is.
                        if name.ends_with("bytes") {
                            bytes(*v)
                        } else {
                            fmt_num(round_sig(*v))
                        }
                    })
                }),
            ));
        }
        let mb = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.1} MB"));
        cols.push(("RSS peak Δ".into(), Box::new(move |m| mb(m.process_peak_mb))));
        if has(&|m| m.server_peak_mb.is_some()) {
            cols.push(("server peak Δ".into(), Box::new(move |m| mb(m.server_peak_mb))));
        }
        let mut head: Vec<String> = vec!["#".into()];
        head.extend(self.plan.axes.iter().map(|a| a.name.clone()));
        head.push("status".into());
        head.extend(cols.iter().map(|(h, _)| h.clone()));
        let align: Vec<&str> = head
            .iter()
            .enumerate()
            .map(|(i, h)| if i > 0 && h == "status" { "---" } else { "--:" })
            .collect();
        let _ = writeln!(md, "| {} |\n|{}|", head.join(" | "), align.join("|"));
        for it in &self.iterations {
            let mut row: Vec<String> = vec![it.index.to_string()];
            row.extend(
                self.plan
                    .axes
                    .iter()
                    .map(|a| it.value(&a.name).unwrap_or_default().to_owned()),
            );
            row.push(if it.status.is_ok() {
                "OK".into()
            } else {
                format!("**{}**", it.status)
            });
            row.extend(cols.iter().map(|(_, f)| f(&it.metrics)));
            let _ = writeln!(md, "| {} |", row.join(" | "));
        }
    }

    /// `sweep.html` / `matrix.html`: the measured curve (ops/s, latency, failures, memory per
    /// iteration) with the breaking, stability and optimal points marked, and the iterations
    /// with a link to each one's `report.html`. Self-contained, like `report.html`.
    pub fn html(&self) -> String {
        use minijinja::{Environment, Value, context};
        let (stability, optimal) = (self.stability_point(), self.optimal_point());
        let breaking = if self.kind == Kind::Sweep {
            self.breaking_point()
        } else {
            None
        };
        let mut marks = Vec::new();
        for (it, color, what) in [
            (breaking, "#c0392b", "breaking"),
            (stability, "#1f8a4c", "stability"),
            (optimal, "#2f6fb0", "optimal"),
        ] {
            if let Some(i) = it {
                let row = marks.len();
                marks.push(serde_json::json!({"x": i.index, "color": color, "label": what, "row": row}));
            }
        }
        let m = |f: &dyn Fn(&Iteration) -> Option<f64>| -> Vec<Option<f64>> { self.iterations.iter().map(f).collect() };
        let ran = |i: &Iteration| i.metrics.ops > 0;
        let data = serde_json::json!({
            "labels": self.iterations.iter().map(Iteration::label).collect::<Vec<_>>(),
            "ops_per_sec": m(&|i| ran(i).then_some(i.metrics.ops_per_sec)),
            "p50_us": m(&|i| (i.metrics.latency_us.count > 0).then_some(i.metrics.latency_us.p50 as f64)),
            "p99_us": m(&|i| (i.metrics.latency_us.count > 0).then_some(i.metrics.latency_us.p99 as f64)),
            "failed": m(&|i| ran(i).then_some(i.metrics.failed_ops as f64)),
            "memory": m(&|i| i.metrics.process_peak_mb),
            "server_memory": m(&|i| i.metrics.server_peak_mb),
            "marks": marks,
        });
        let rows: Vec<Value> = self
            .iterations
            .iter()
            .map(|i| {
                context! {
                    index => i.index,
                    label => i.label(),
                    status => if i.status.is_ok() { "OK".to_owned() } else { format!("{}: {}", i.status, i.detail) },
                    class => if i.status.is_ok() { "" } else { "broke" },
                    ops_per_sec => format!("{:.0}", i.metrics.ops_per_sec),
                    p50 => human_us(i.metrics.latency_us.p50),
                    p99 => human_us(i.metrics.latency_us.p99),
                    failed => i.metrics.failed_ops,
                    dir => i.dir.clone(),
                    report => format!("{}/report.html", i.dir),
                }
            })
            .collect();
        let point = |what: &str, i: Option<&Iteration>| {
            i.map_or_else(
                || format!("{what}: none"),
                |i| format!("{what}: {} ({} {})", i.label(), self.kind.item(), i.index),
            )
        };
        let mut points = Vec::new();
        if self.kind == Kind::Sweep {
            points.push(point("Breaking point", breaking));
        }
        points.push(point("Stability point", stability));
        points.push(point(&format!("Optimal point ({})", self.efficiency.name()), optimal));
        let axes: Vec<&str> = self.plan.axes.iter().map(|a| a.name.as_str()).collect();
        let json = data.to_string().replace('<', "\\u003c");
        let mut env = Environment::new();
        let rendered = env
            .add_template("sweep.html", include_str!("sweep.html.j2"))
            .and_then(|()| env.get_template("sweep.html"))
            .and_then(|t| {
                t.render(context! {
                    title => format!("{} of {} over {}", title(self.kind), self.workload, axes.join(" × ")),
                    ran => format!("{} of {} ran, {} OK.{}", self.iterations.len(), self.plan.cell_count(),
                        self.iterations.iter().filter(|i| i.status.is_ok()).count(),
                        self.stopped.as_ref().map_or(String::new(), |s| format!(" Stopped: {s}."))),
                    points => points,
                    about => self.about.clone(),
                    item => if self.kind == Kind::Sweep { "iteration" } else { "cell" },
                    items => if self.kind == Kind::Sweep { "Iterations" } else { "Cells" },
                    rows => rows,
                    data => Value::from_safe_string(json),
                    charts => Value::from_safe_string(crate::report::html::CHARTS_JS.to_owned()),
                })
            });
        // The template is part of this build: a failure to render it is a bug, shown in the page.
        rendered.unwrap_or_else(|e| format!("<!DOCTYPE html><p>cannot render this page: {e}</p>"))
    }

    /// Writes `<stem>.csv`, `<stem>.md` and `<stem>.html` into `dir`, atomically.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        write_atomic(&dir.join(format!("{}.csv", self.kind.stem())), self.csv().as_bytes())?;
        write_atomic(
            &dir.join(format!("{}.md", self.kind.stem())),
            self.markdown().as_bytes(),
        )?;
        write_atomic(&dir.join(format!("{}.html", self.kind.stem())), self.html().as_bytes())
    }
}

/// A column of the markdown table: its header and how a cell is shown.
type Column = (String, Box<dyn Fn(&Metrics) -> String>);

fn title(kind: Kind) -> &'static str {
    match kind {
        Kind::Sweep => "Sweep",
        Kind::Matrix => "Matrix",
    }
}

/// One CSV line, quoting fields that need it (RFC 4180).
fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    format!("{}\n", quoted.join(","))
}

/// A number for CSV: integers plainly, others to 3 decimals without trailing zeros.
fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let t = format!("{x:.3}");
    t.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Four significant digits, for figures shown in markdown.
fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// Bytes in B, KiB, MiB or GiB.
fn bytes(x: f64) -> String {
    match x {
        x if x < 1024.0 => format!("{x:.0} B"),
        x if x < 1024.0 * 1024.0 => format!("{:.1} KiB", x / 1024.0),
        x if x < 1024.0 * 1024.0 * 1024.0 => format!("{:.2} MiB", x / 1_048_576.0),
        x => format!("{:.2} GiB", x / 1_073_741_824.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::iteration::Status;
    use crate::sweep::spec::ParamSpec;

    fn it(index: usize, size: &str, status: Status, ops_per_sec: f64) -> Iteration {
        let mut metrics = Metrics {
            ops: 10,
            ops_per_sec,
            rows_per_sec: ops_per_sec * 2.0,
            rows_per_op: 2.0,
            process_peak_mb: Some(3.25),
            ..Metrics::default()
        };
        metrics.latency_us.p50 = 800;
        metrics.latency_us.p99 = 2_500;
        metrics.phases_ms.insert("write".into(), 1.5);
        metrics.figures.insert("db_bytes".into(), 2048.0);
        metrics.figures.insert("table_bytes".into(), 8192.0);
        Iteration {
            index,
            values: vec![("size".into(), size.into())],
            dir: format!("iter-{index:03}"),
            status,
            detail: if status.is_ok() {
                String::new()
            } else {
                "threshold error_rate<50% breached: observed 100, first".into()
            },
            failures: Vec::new(),
            metrics,
        }
    }

    fn report() -> SweepReport {
        let plan = Plan::new(vec![
            ParamSpec::parse("size=1000..5000:1000").unwrap(),
            ParamSpec::parse("shape=zeros").unwrap(),
        ])
        .unwrap();
        let mut r = SweepReport::new(Kind::Sweep, "blobs", plan);
        r.iterations = vec![
            it(1, "1000", Status::Ok, 50.0),
            it(2, "2000", Status::Ok, 80.0),
            it(3, "3000", Status::Ok, 60.0),
            it(4, "4000", Status::Thresholds, 90.0),
        ];
        r.stopped = Some("after the breaking point".into());
        r.about.push(("seed".into(), "7".into()));
        r
    }

    #[test]
    fn the_points_of_a_sweep() {
        let r = report();
        assert_eq!(r.breaking_point().map(|i| i.index), Some(4));
        assert_eq!(r.stability_point().map(|i| i.index), Some(3));
        assert_eq!(
            r.optimal_point().map(|i| i.index),
            Some(2),
            "the failed one is faster but not OK"
        );
        let mut all_ok = r.clone();
        all_ok.iterations.truncate(3);
        assert_eq!(all_ok.breaking_point(), None);
        assert_eq!(all_ok.stability_point().map(|i| i.index), Some(3));
        let mut first_fails = r.clone();
        first_fails.iterations[0].status = Status::Crash;
        assert_eq!(first_fails.stability_point(), None);
        assert_eq!(r.dir_name(7), "iter-007");
    }

    #[test]
    fn csv_has_a_row_per_iteration_and_quotes_what_needs_it() {
        let csv = report().csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "iter,size,status,ops,failed_ops,duration_s,ops_per_sec,rows_per_sec,bytes_per_sec,p50_us,p95_us,p99_us,max_us,\
             process_peak_mb,server_peak_mb,phase_write_ms,figure_db_bytes,figure_table_bytes,detail,dir"
        );
        assert_eq!(lines.len(), 5);
        assert_eq!(
            lines[1],
            "1,1000,OK,10,0,0,50,100,0,800,0,2500,0,3.25,,1.5,2048,8192,,iter-001"
        );
        assert!(
            lines[4].starts_with("4,4000,thresholds,")
                && lines[4].ends_with(",\"threshold error_rate<50% breached: observed 100, first\",iter-004"),
            "{}",
            lines[4]
        );
    }

    #[test]
    fn markdown_names_the_points_and_the_configuration() {
        let md = report().markdown();
        for part in [
            "# Sweep of blobs over size",
            "4 of 5 iterations ran, 3 OK. Stopped: after the breaking point.",
            "- Breaking point: **size=4000** (iter 4): thresholds — threshold error_rate<50% breached",
            "- Stability point: **size=3000** (iter 3)",
            "- Optimal efficiency point: **size=2000** (iter 2): 80.0 ops/s",
            "| # | size | status | ops/s | rows/s | p50 | p99 | write | db_bytes | table_bytes | RSS peak Δ |",
            "| 4 | 4000 | **thresholds** | 90.0 | 180 | 800µs | 2.5ms | 1.5ms | 2.0 KiB | 8.0 KiB | 3.2 MB |",
            "## Why not OK",
            "## Scaling",
            "- size 1000→3000 (3 points): rows/s",
            "| seed | 7 |",
            "| varies | `size=1000..5000:1000` (5 values) |",
            "| fixed | `shape=zeros` |",
            "| after the breaking point | stops there |",
        ] {
            assert!(md.contains(part), "missing {part:?} in:\n{md}");
        }
    }
}
