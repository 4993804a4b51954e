//! `--param NAME=VALUES`: one value, a list `a,b,c`, an additive range `A..B:STEP` or a
//! multiplicative one `A..B:*F`; and the plan they make, a cartesian product of the varying
//! parameters with the others held fixed.

use std::fmt;
use std::str::FromStr;

use crate::params::{self, parse_float, parse_int};

/// Most values one parameter, or one plan, may have: a typo like `:1` instead of `:1000` should
/// not start a million runs.
pub const MAX_VALUES: usize = 10_000;

const FORMS: &str = "write NAME=VALUE, a list NAME=a,b,c, or a range NAME=START..END:STEP \
(like epochs=10000..1000000:10000) or NAME=START..END:*FACTOR (like entities=10k..1m:*10)";

/// One `--param NAME=VALUES`, with its values expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// The parameter (or `users`, `rate`).
    pub name: String,
    /// The values as written.
    pub spec: String,
    /// The values, in order.
    pub values: Vec<String>,
}

impl ParamSpec {
    /// Parses `NAME=VALUES`; the error names what is wrong and the forms it takes.
    pub fn parse(arg: &str) -> Result<Self, String> {
        let (name, spec) = arg
            .split_once('=')
            .ok_or_else(|| format!("`{arg}` is not a parameter setting: {FORMS}"))?;
        let name = name.trim();
        params::check_name(name)?;
        let values = expand(spec).map_err(|e| format!("{name}: {e}"))?;
        Ok(Self {
            name: name.to_owned(),
            spec: spec.trim().to_owned(),
            values,
        })
    }

    /// Whether it has more than one value.
    pub fn varies(&self) -> bool {
        self.values.len() > 1
    }
}

impl FromStr for ParamSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl fmt::Display for ParamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.spec)
    }
}

/// Expands a value spec into its values.
pub fn expand(spec: &str) -> Result<Vec<String>, String> {
    let s = spec.trim();
    if s.is_empty() {
        return Err(format!("the list of values is empty: {FORMS}"));
    }
    if let Some((start, rest)) = s.split_once("..") {
        return range(s, start, rest);
    }
    let mut out: Vec<String> = Vec::new();
    for v in s.split(',').map(str::trim) {
        if v.is_empty() {
            return Err(format!("`{s}` has an empty value in its list: {FORMS}"));
        }
        if out.iter().any(|o| o == v) {
            return Err(format!("`{s}` gives the value `{v}` twice"));
        }
        out.push(v.to_owned());
    }
    if out.len() > MAX_VALUES {
        return Err(format!("`{s}` has {} values, more than {MAX_VALUES}", out.len()));
    }
    // Whole numbers as digits (`10k` → `10000`), as a range writes them: one form in the reports.
    let ints: Option<Vec<i64>> = out.iter().map(|v| parse_int(v)).collect();
    if let Some(ints) = ints {
        out = ints.iter().map(i64::to_string).collect();
        for (i, v) in out.iter().enumerate() {
            if out[..i].contains(v) {
                return Err(format!("`{s}` gives the value {v} twice"));
            }
        }
    }
    Ok(out)
}

fn range(s: &str, start: &str, rest: &str) -> Result<Vec<String>, String> {
    let (end, step) = rest
        .split_once(':')
        .ok_or_else(|| format!("range `{s}` has no step: write START..END:STEP or START..END:*FACTOR"))?;
    let (step, multiply) = match step.trim().strip_prefix(['*', 'x']) {
        Some(f) => (f, true),
        None => (step, false),
    };
    let ints = (parse_int(start), parse_int(end), parse_int(step));
    let values = match ints {
        (Some(a), Some(b), Some(k)) => int_range(s, a, b, k, multiply)?,
        _ => {
            let num = |t: &str| {
                parse_float(t).ok_or_else(|| format!("range `{s}` has `{}`, which is not a number", t.trim()))
            };
            float_range(s, num(start)?, num(end)?, num(step)?, multiply)?
        }
    };
    Ok(values)
}

fn too_many(s: &str) -> String {
    format!("range `{s}` has more than {MAX_VALUES} values: choose a larger step")
}

fn int_range(s: &str, a: i64, b: i64, k: i64, multiply: bool) -> Result<Vec<String>, String> {
    if a > b {
        return Err(format!(
            "range `{s}` runs backwards: its start {a} is above its end {b}"
        ));
    }
    let mut out = vec![a];
    if multiply {
        if k < 2 || a < 1 {
            return Err(format!("range `{s}` needs a factor of 2 or more and a start above 0"));
        }
        let mut v = a;
        while v < b {
            v = v.checked_mul(k).ok_or_else(|| too_many(s))?;
            out.push(v);
        }
        if v != b {
            let last = out[out.len() - 2];
            return Err(format!(
                "range `{s}` does not reach its end: from {a} times {k} the values go {last}, {v}, past {b}: \
                 choose an end that is {a} times a power of {k}"
            ));
        }
    } else {
        if k <= 0 {
            return Err(format!("range `{s}` needs a step above 0"));
        }
        if (b - a) % k != 0 {
            let last = a + (b - a) / k * k;
            return Err(format!(
                "range `{s}` does not reach its end: from {a} by {k} the values go {last}, {}, past {b}: \
                 choose a step that divides {}",
                last + k,
                b - a
            ));
        }
        if (b - a) / k >= MAX_VALUES as i64 {
            return Err(too_many(s));
        }
        out.extend((1..=(b - a) / k).map(|i| a + i * k));
    }
    if out.len() > MAX_VALUES {
        return Err(too_many(s));
    }
    Ok(out.iter().map(i64::to_string).collect())
}

fn float_range(s: &str, a: f64, b: f64, k: f64, multiply: bool) -> Result<Vec<String>, String> {
    if a > b {
        return Err(format!(
            "range `{s}` runs backwards: its start {a} is above its end {b}"
        ));
    }
    let close = |x: f64| (x - b).abs() <= 1e-9 * b.abs().max(1.0);
    let mut out = vec![a];
    if multiply {
        if k <= 1.0 || a <= 0.0 {
            return Err(format!("range `{s}` needs a factor above 1 and a start above 0"));
        }
        let n = ((b / a).ln() / k.ln()).round();
        if !close(a * k.powf(n)) {
            return Err(format!(
                "range `{s}` does not reach its end: {b} is not {a} times a power of {k}"
            ));
        }
        out.extend((1..=n as i64).map(|i| a * k.powi(i as i32)));
    } else {
        if k <= 0.0 {
            return Err(format!("range `{s}` needs a step above 0"));
        }
        let n = ((b - a) / k).round();
        if !close(a + n * k) {
            return Err(format!(
                "range `{s}` does not reach its end: from {a} by {k} the values pass {b}: choose a step that divides {}",
                b - a
            ));
        }
        if n >= MAX_VALUES as f64 {
            return Err(too_many(s));
        }
        out.extend((1..=n as i64).map(|i| a + i as f64 * k));
    }
    Ok(out.into_iter().map(fmt_float).collect())
}

/// A number as a value: up to 9 decimals, no trailing zeros (`0.5`, `2`, `0.1`).
fn fmt_float(x: f64) -> String {
    let r = (x * 1e9).round() / 1e9;
    let t = format!("{r:.9}");
    t.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// What a sweep or a matrix runs: the varying parameters (axes, the first outermost) and the
/// fixed ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Parameters with more than one value, in the order given.
    pub axes: Vec<ParamSpec>,
    /// Parameters with one value.
    pub fixed: Vec<ParamSpec>,
}

impl Plan {
    /// Splits `--param`s into axes and fixed values; a parameter given twice is an error.
    pub fn new(specs: Vec<ParamSpec>) -> Result<Self, String> {
        let mut plan = Self::default();
        for (i, p) in specs.iter().enumerate() {
            if specs[..i].iter().any(|q| q.name == p.name) {
                return Err(format!(
                    "parameter `{}` is given twice: give it once, with all its values",
                    p.name
                ));
            }
        }
        for p in specs {
            if p.varies() {
                plan.axes.push(p);
            } else {
                plan.fixed.push(p);
            }
        }
        if plan.cell_count() > MAX_VALUES {
            return Err(format!(
                "the plan has {} cells, more than {MAX_VALUES}: give fewer values",
                plan.cell_count()
            ));
        }
        Ok(plan)
    }

    /// How many runs the plan makes.
    pub fn cell_count(&self) -> usize {
        self.axes.iter().map(|a| a.values.len()).product()
    }

    /// The axes' values of every run, in order (the last axis varies fastest).
    pub fn cells(&self) -> Vec<Vec<(String, String)>> {
        let mut cells: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for axis in &self.axes {
            cells = cells
                .into_iter()
                .flat_map(|cell| {
                    axis.values.iter().map(move |v| {
                        let mut c = cell.clone();
                        c.push((axis.name.clone(), v.clone()));
                        c
                    })
                })
                .collect();
        }
        cells
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(spec: &str) -> Vec<String> {
        expand(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
    }

    #[test]
    fn ranges_lists_and_single_values() {
        assert_eq!(
            values("10000..50000:10000"),
            ["10000", "20000", "30000", "40000", "50000"]
        );
        assert_eq!(values("10k..1m:*10"), ["10000", "100000", "1000000"]);
        assert_eq!(values("1..16:x2"), ["1", "2", "4", "8", "16"]);
        assert_eq!(values("5..5:1"), ["5"]);
        assert_eq!(values("0.5..2:0.5"), ["0.5", "1", "1.5", "2"]);
        assert_eq!(values("0.1..0.3:0.1"), ["0.1", "0.2", "0.3"]);
        assert_eq!(values("jsonb, bson,ndjson_zstd"), ["jsonb", "bson", "ndjson_zstd"]);
        assert_eq!(values("42"), ["42"]);
        assert_eq!(values("10k,100k,1m"), ["10000", "100000", "1000000"]);
        assert_eq!(values("1k,2.5k"), ["1k", "2.5k"], "not all whole numbers: as written");
        assert_eq!(values("10000..1000000:10000").len(), 100);
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let cases = [
            ("", "the list of values is empty"),
            ("  ", "the list of values is empty"),
            ("a,,b", "has an empty value in its list"),
            ("a,b,a", "gives the value `a` twice"),
            ("1000,1k", "gives the value 1000 twice"),
            (
                "10..100:7",
                "range `10..100:7` does not reach its end: from 10 by 7 the values go 94, 101, past 100: choose a step that divides 90",
            ),
            (
                "10..5000:*10",
                "does not reach its end: from 10 times 10 the values go 1000, 10000, past 5000",
            ),
            ("0.5..2:0.4", "does not reach its end"),
            ("100..10:10", "runs backwards: its start 100 is above its end 10"),
            ("1..10", "has no step"),
            ("1..10:0", "needs a step above 0"),
            ("0..100:*10", "a start above 0"),
            ("1..x:1", "`x`, which is not a number"),
            ("1..1000000:1", "more than 10000 values"),
        ];
        for (spec, expect) in cases {
            let e = expand(spec).unwrap_err();
            assert!(e.contains(expect), "{spec:?}: {e}");
        }
        for (arg, expect) in [
            ("epochs", "is not a parameter setting"),
            ("Epochs=1", "is not a parameter name"),
            ("epochs=", "epochs: the list of values is empty"),
        ] {
            let e = ParamSpec::parse(arg).unwrap_err();
            assert!(e.contains(expect), "{arg:?}: {e}");
        }
    }

    #[test]
    fn a_plan_is_the_product_of_its_axes() {
        let p = |s: &str| ParamSpec::parse(s).unwrap();
        let plan = Plan::new(vec![
            p("rows=10,100"),
            p("format=jsonb"),
            p("dist=uniform,zipfian,latest"),
        ])
        .unwrap();
        assert_eq!(plan.axes.len(), 2);
        assert_eq!(plan.fixed, [p("format=jsonb")]);
        assert_eq!(plan.cell_count(), 6);
        let cells = plan.cells();
        let show: Vec<String> = cells
            .iter()
            .map(|c| c.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(show[0], "rows=10 dist=uniform");
        assert_eq!(show[1], "rows=10 dist=zipfian");
        assert_eq!(show[5], "rows=100 dist=latest");
        let e = Plan::new(vec![p("rows=1,2"), p("rows=3")]).unwrap_err();
        assert!(e.contains("parameter `rows` is given twice"), "{e}");
        let e = Plan::new(vec![p("a=1..200:1"), p("b=1..100:1")]).unwrap_err();
        assert!(e.contains("20000 cells"), "{e}");
        assert_eq!(Plan::new(vec![]).unwrap().cells(), vec![Vec::<(String, String)>::new()]);
    }
}
