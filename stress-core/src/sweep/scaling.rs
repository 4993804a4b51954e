//! The scaling verdict: how throughput and p99 latency change per 10× of a numeric parameter,
//! against what linear scaling would give, flagged when worse by more than 20%.
//!
//! A *series* is the OK iterations that differ in one numeric parameter only. Its figures are
//! fitted on a log-log scale (least squares), so that any number of points, at any spacing,
//! gives one factor per 10×. What "linear" means depends on the parameter:
//!
//! - a **load** parameter (`users`, `rate`): throughput (ops/s) grows in proportion (×10 per 10×)
//!   and p99 stays where it was;
//! - a **size** parameter (rows, epochs, entities, …): the work done per second stays where it
//!   was — rows/s when the ops report rows, else ops/s — and p99 grows no faster than the work
//!   one op does (rows per op: a record of 10× the epochs may take 10× as long; a lookup in a
//!   table of 10× the rows should not).

use std::fmt;

use super::iteration::Iteration;
use super::spec::ParamSpec;
use crate::params::parse_float;

/// How much worse than linear a series may scale before it is flagged: 20%.
pub const TOLERANCE: f64 = 0.20;

/// One series and its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// The parameter that varies.
    pub axis: String,
    /// The other parameters' values, the same at every point.
    pub others: Vec<(String, String)>,
    /// Whether the parameter sets the load (`users`, `rate`) rather than a size.
    pub load: bool,
    /// `rows/s` or `ops/s`.
    pub unit: &'static str,
    /// (parameter value, throughput, p99 µs) of each OK iteration, in order of the parameter.
    pub points: Vec<(f64, f64, f64)>,
    /// Throughput's factor per 10× of the parameter.
    pub throughput_per_10x: f64,
    /// p99's factor per 10×.
    pub p99_per_10x: f64,
    /// Throughput's factor per 10× under linear scaling.
    pub linear_throughput_per_10x: f64,
    /// p99's factor per 10× under linear scaling.
    pub linear_p99_per_10x: f64,
}

impl Scaling {
    /// How far throughput falls short of linear, as a fraction of linear: 0 when at or above,
    /// 0.5 at half of linear, never above 1.
    pub fn throughput_shortfall(&self) -> f64 {
        (1.0 - self.throughput_per_10x / self.linear_throughput_per_10x).clamp(0.0, 1.0)
    }

    /// How far p99 grows beyond linear, as a fraction (0 when at or below).
    pub fn p99_excess(&self) -> f64 {
        (self.p99_per_10x / self.linear_p99_per_10x - 1.0).max(0.0)
    }

    /// Whether either is worse than linear by more than [`TOLERANCE`].
    pub fn flagged(&self) -> bool {
        self.throughput_shortfall() > TOLERANCE || self.p99_excess() > TOLERANCE
    }

    /// `axis (others)`: how the series is named.
    pub fn name(&self) -> String {
        if self.others.is_empty() {
            self.axis.clone()
        } else {
            let others: Vec<String> = self.others.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} ({})", self.axis, others.join(", "))
        }
    }
}

impl fmt::Display for Scaling {
    /// One line: the factors, their linear references and the verdict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, last) = (self.points[0].0, self.points[self.points.len() - 1].0);
        write!(
            f,
            "{} {}→{} ({} points): {} ×{:.2} per 10× (linear ×{:.2}), p99 ×{:.2} per 10× (linear ×{:.2}): ",
            self.name(),
            num(first),
            num(last),
            self.points.len(),
            self.unit,
            self.throughput_per_10x,
            self.linear_throughput_per_10x,
            self.p99_per_10x,
            self.linear_p99_per_10x,
        )?;
        if !self.flagged() {
            return write!(f, "linear within {:.0}%", TOLERANCE * 100.0);
        }
        let mut worse = Vec::new();
        if self.throughput_shortfall() > TOLERANCE {
            worse.push(format!(
                "{} {:.0}% below linear",
                self.unit,
                self.throughput_shortfall() * 100.0
            ));
        }
        if self.p99_excess() > TOLERANCE {
            worse.push(format!("p99 {:.0}% over", self.p99_excess() * 100.0));
        }
        write!(f, "WORSE THAN LINEAR ({})", worse.join(", "))
    }
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Every series of the iterations: for each numeric axis, one per combination of the other
/// axes' values, with at least two OK iterations at different values.
pub(super) fn series(iterations: &[Iteration], axes: &[ParamSpec]) -> Vec<Scaling> {
    let mut out = Vec::new();
    for axis in axes {
        let numeric = axis.values.iter().all(|v| parse_float(v).is_some_and(|x| x > 0.0));
        if !numeric {
            continue;
        }
        let load = matches!(axis.name.as_str(), "users" | "rate");
        // Group by the other axes' values, in the order the iterations ran.
        let mut groups: Vec<Group<'_>> = Vec::new();
        for it in iterations.iter().filter(|i| i.status.is_ok()) {
            let others: Vec<(String, String)> = it.values.iter().filter(|(k, _)| *k != axis.name).cloned().collect();
            match groups.iter_mut().find(|(o, _)| *o == others) {
                Some((_, g)) => g.push(it),
                None => groups.push((others, vec![it])),
            }
        }
        for (others, group) in groups {
            if let Some(s) = fit(&axis.name, others, load, &group) {
                out.push(s);
            }
        }
    }
    out
}

/// The other axes' values of a series, and its iterations.
type Group<'a> = (Vec<(String, String)>, Vec<&'a Iteration>);

/// One point of a series.
#[derive(Debug, Clone, Copy)]
struct Pt {
    x: f64,
    throughput: f64,
    p99: f64,
    work: f64,
}

fn fit(axis: &str, others: Vec<(String, String)>, load: bool, group: &[&Iteration]) -> Option<Scaling> {
    let rows = !load && group.iter().all(|i| i.metrics.rows_per_sec > 0.0);
    let mut pts: Vec<Pt> = group
        .iter()
        .filter_map(|i| {
            let x = parse_float(i.value(axis)?)?;
            let m = &i.metrics;
            let throughput = if rows { m.rows_per_sec } else { m.ops_per_sec };
            let p99 = m.latency_us.p99 as f64;
            (x > 0.0 && throughput > 0.0 && p99 > 0.0).then_some(Pt {
                x,
                throughput,
                p99,
                work: m.rows_per_op,
            })
        })
        .collect();
    pts.sort_by(|a, b| a.x.total_cmp(&b.x));
    if pts.len() < 2 || pts[0].x == pts[pts.len() - 1].x {
        return None;
    }
    let per_10x = |y: fn(&Pt) -> f64| 10f64.powf(slope(&pts, y));
    let work = if rows && pts.iter().all(|p| p.work > 0.0) {
        per_10x(|p| p.work)
    } else {
        1.0
    };
    Some(Scaling {
        axis: axis.to_owned(),
        others,
        load,
        unit: if rows { "rows/s" } else { "ops/s" },
        throughput_per_10x: per_10x(|p| p.throughput),
        p99_per_10x: per_10x(|p| p.p99),
        linear_throughput_per_10x: if load { 10.0 } else { 1.0 },
        linear_p99_per_10x: if load { 1.0 } else { work },
        points: pts.iter().map(|p| (p.x, p.throughput, p.p99)).collect(),
    })
}

/// Least-squares slope of log10(y) over log10(x).
fn slope(pts: &[Pt], y: fn(&Pt) -> f64) -> f64 {
    let n = pts.len() as f64;
    let xs: Vec<f64> = pts.iter().map(|p| p.x.log10()).collect();
    let ys: Vec<f64> = pts.iter().map(|p| y(p).log10()).collect();
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let num: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if den > 0.0 { num / den } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::iteration::{Metrics, Status};

    fn it(values: &[(&str, &str)], ops: f64, rows: f64, p99: u64, ok: bool) -> Iteration {
        let mut m = Metrics {
            ops_per_sec: ops,
            rows_per_sec: rows,
            rows_per_op: if ops > 0.0 { rows / ops } else { 0.0 },
            ..Metrics::default()
        };
        m.latency_us.p99 = p99;
        Iteration {
            index: 0,
            values: values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            dir: String::new(),
            status: if ok { Status::Ok } else { Status::Errors },
            detail: String::new(),
            failures: Vec::new(),
            metrics: m,
        }
    }

    fn spec(s: &str) -> ParamSpec {
        ParamSpec::parse(s).unwrap()
    }

    #[test]
    fn a_size_axis_is_linear_when_work_per_second_holds() {
        // Lookups: 1 row per op; rows/s falls 10% per 10× of rows, p99 grows 10%.
        let its = [
            it(&[("rows", "1000"), ("dist", "uniform")], 1000.0, 1000.0, 100, true),
            it(&[("rows", "1000"), ("dist", "zipfian")], 1000.0, 1000.0, 100, true),
            it(&[("rows", "10000"), ("dist", "uniform")], 900.0, 900.0, 110, true),
            it(&[("rows", "10000"), ("dist", "zipfian")], 500.0, 500.0, 400, true),
            it(&[("rows", "100000"), ("dist", "uniform")], 810.0, 810.0, 121, true),
            it(&[("rows", "100000"), ("dist", "zipfian")], 1.0, 1.0, 1, false),
        ];
        let s = series(&its, &[spec("rows=1000,10000,100000"), spec("dist=uniform,zipfian")]);
        assert_eq!(s.len(), 2, "one series per dist; dist itself is not numeric");
        let (uniform, zipfian) = (&s[0], &s[1]);
        assert_eq!(uniform.name(), "rows (dist=uniform)");
        assert_eq!(uniform.unit, "rows/s");
        assert!((uniform.throughput_per_10x - 0.9).abs() < 1e-9, "{uniform:?}");
        assert!((uniform.p99_per_10x - 1.1).abs() < 1e-9);
        assert!(!uniform.flagged());
        assert!(uniform.to_string().ends_with("linear within 20%"), "{uniform}");
        // The failed cell is left out: two points remain.
        assert_eq!(zipfian.points.len(), 2);
        assert!(zipfian.flagged());
        let text = zipfian.to_string();
        assert!(
            text.contains("WORSE THAN LINEAR (rows/s 50% below linear, p99 300% over)"),
            "{text}"
        );
    }

    #[test]
    fn a_record_ten_times_larger_may_take_ten_times_longer() {
        // 1 op writes `epochs` rows: rows/s holds, p99 grows with the work per op.
        let its = [
            it(&[("epochs", "1000")], 10.0, 10_000.0, 1_000, true),
            it(&[("epochs", "10000")], 1.0, 10_000.0, 10_500, true),
        ];
        let s = &series(&its, &[spec("epochs=1000,10000")])[0];
        assert!((s.linear_p99_per_10x - 10.0).abs() < 1e-9);
        assert!(!s.flagged(), "{s}");
    }

    #[test]
    fn a_load_axis_is_linear_when_throughput_follows_it() {
        let its = [
            it(&[("users", "1")], 100.0, 100.0, 1000, true),
            it(&[("users", "10")], 500.0, 500.0, 1000, true),
        ];
        let s = &series(&its, &[spec("users=1,10")])[0];
        assert!(s.load && s.unit == "ops/s");
        assert!((s.throughput_per_10x - 5.0).abs() < 1e-9);
        assert!(s.flagged(), "half of linear: {s}");
        assert!(s.to_string().contains("ops/s 50% below linear"), "{s}");
        let one = [it(&[("users", "1")], 100.0, 100.0, 1000, true)];
        assert!(series(&one, &[spec("users=1,10")]).is_empty(), "one point is no series");
    }
}
