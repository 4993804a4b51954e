//! Thresholds: pass/fail rules over a run's results, like `p99<50ms`, `p99[select]<20ms`,
//! `error_rate<0.1%`, `ops_per_sec>1000`, `max_lag<100ms`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::stats::LatencySummary;

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Metric {
    /// A latency statistic (from the intended start under a rate), µs.
    Latency(Stat),
    /// A service-time statistic, µs.
    Service(Stat),
    /// Failed ops / ops, a fraction.
    ErrorRate,
    /// Ops per second.
    OpsPerSec,
    /// Largest schedule lag, µs.
    MaxLag,
    /// Ops run / ops the schedule made due, a fraction (1 in a closed loop).
    Delivered,
    /// The longest time ops were in flight and none completed, µs.
    MaxStall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Stat {
    Mean,
    P50,
    P95,
    P99,
    P999,
    Max,
}

impl Stat {
    fn of(self, s: &LatencySummary) -> f64 {
        match self {
            Self::Mean => s.mean,
            Self::P50 => s.p50 as f64,
            Self::P95 => s.p95 as f64,
            Self::P99 => s.p99 as f64,
            Self::P999 => s.p999 as f64,
            Self::Max => s.max as f64,
        }
    }
}

/// The unit a rule was written in, to report the observed value in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Unit {
    Micros,
    Millis,
    Seconds,
    Percent,
    Plain,
}

impl Unit {
    /// How many base units (µs, or a fraction for rates) one of this unit is.
    fn scale(self) -> f64 {
        match self {
            Self::Micros | Self::Plain => 1.0,
            Self::Millis => 1e3,
            Self::Seconds => 1e6,
            Self::Percent => 0.01,
        }
    }

    /// The unit's suffix, as the rule wrote it (`µs` for `us`); rates and fractions have none
    /// unless the rule used `%`, ops/s say so.
    fn suffix(self, metric: Metric) -> &'static str {
        match (self, metric) {
            (Self::Micros, _) => "µs",
            (Self::Millis, _) => "ms",
            (Self::Seconds, _) => "s",
            (Self::Percent, _) => "%",
            (Self::Plain, Metric::OpsPerSec) => " ops/s",
            (Self::Plain, _) => "",
        }
    }
}

/// A parsed rule: read once where it was typed (`--threshold`, `STRESS_THRESHOLDS`,
/// [`Runner::threshold`](crate::Runner::threshold)) and carried typed from there, through
/// the config layers and the protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    rule: String,
    metric: Metric,
    op: Option<String>,
    less: bool,
    /// The limit in base units (µs, a fraction, ops/s).
    limit: f64,
    unit: Unit,
}

/// Rules written as their text in a file (`replay.json`'s `config.thresholds`: readable, and
/// what files written before the rules were typed hold), parsed again when the file is read.
/// Use as `#[serde(with = "crate::thresholds::as_rules")]` on a `Vec<Threshold>`.
pub mod as_rules {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    use super::Threshold;

    /// Writes each rule as written.
    pub fn serialize<S: Serializer>(rules: &[Threshold], s: S) -> Result<S::Ok, S::Error> {
        rules.iter().map(Threshold::rule).collect::<Vec<_>>().serialize(s)
    }

    /// Reads the rules' text and parses each (a damaged rule names itself and the forms).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Threshold>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|r| Threshold::parse_rule(r).map_err(D::Error::custom))
            .collect()
    }
}

/// A rule's verdict, as `summary.json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The rule as written.
    pub rule: String,
    /// The observed value, in the rule's unit.
    pub observed: f64,
    /// Whether the rule held.
    pub passed: bool,
    /// The unit of `observed` and of the rule's limit (`ms`, `%`, ` ops/s`; empty for a plain
    /// fraction).
    #[serde(default)]
    pub unit: String,
}

/// What rules are evaluated against: the whole run's figures, or the figures so far.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Latency of successful ops (intended start under a rate).
    pub latency: LatencySummary,
    /// Service time of successful ops.
    pub service: LatencySummary,
    /// Per op name: (latency, service, ops, failed).
    pub ops: BTreeMap<String, (LatencySummary, LatencySummary, u64, u64)>,
    /// Ops run.
    pub total_ops: u64,
    /// Ops failed.
    pub failed_ops: u64,
    /// Ops per second.
    pub ops_per_sec: f64,
    /// Largest schedule lag, µs.
    pub max_lag_us: u64,
    /// Ops run / ops the schedule made due; `None` in a closed loop (taken as 1).
    pub delivered: Option<f64>,
    /// The longest time ops were in flight and none completed, µs.
    pub max_stall_us: u64,
}

const FORMS: &str = "expected METRIC[<op>]<VALUE or >VALUE with METRIC one of mean, p50, p95, p99, p999, max \
(latency; service_mean, service_p99, … for service time), error_rate, ops_per_sec, max_lag, delivered, \
max_stall, like `p99<50ms`, `p99[select]<20ms`, `error_rate<0.1%`, `ops_per_sec>1000`, `max_lag<100ms`, \
`delivered>95%`, `max_stall<2s`";

impl Threshold {
    /// Parses a rule; `ops` are the workload's op names (a rule on another op is an error).
    pub fn parse(rule: &str, ops: &[String]) -> Result<Self, String> {
        let t = Self::parse_rule(rule)?;
        t.check_ops(ops)?;
        Ok(t)
    }

    /// Refuses a rule on an op the workload does not have (`ops`: its op names).
    pub fn check_ops(&self, ops: &[String]) -> Result<(), String> {
        match &self.op {
            Some(op) if !ops.iter().any(|o| o == op) => Err(format!(
                "threshold `{}` names op `{op}`, which the workload does not have (its ops: {})",
                self.rule,
                ops.join(", ")
            )),
            _ => Ok(()),
        }
    }

    /// Parses a rule without a workload at hand: its ops are checked when the run resolves
    /// ([`check_ops`](Self::check_ops)).
    pub fn parse_rule(rule: &str) -> Result<Self, String> {
        let text = rule.trim();
        let bad = |why: &str| format!("threshold `{text}` {why}: {FORMS}");
        let (left, right, less) = match (text.split_once('<'), text.split_once('>')) {
            (Some((l, r)), None) => (l, r, true),
            (None, Some((l, r))) => (l, r, false),
            _ => return Err(bad("has no single < or >")),
        };
        let right = right.trim_start_matches('=').trim();
        let (name, op) = match left.trim().split_once('[') {
            Some((name, rest)) => {
                let op = rest.strip_suffix(']').ok_or_else(|| bad("has an unclosed ["))?.trim();
                (name.trim(), Some(op.to_owned()))
            }
            None => (left.trim(), None),
        };
        let stat = |s: &str| {
            Some(match s {
                "mean" => Stat::Mean,
                "p50" => Stat::P50,
                "p95" => Stat::P95,
                "p99" => Stat::P99,
                "p999" => Stat::P999,
                "max" => Stat::Max,
                _ => return None,
            })
        };
        let metric = match name {
            "error_rate" => Metric::ErrorRate,
            "ops_per_sec" => Metric::OpsPerSec,
            "max_lag" => Metric::MaxLag,
            "delivered" => Metric::Delivered,
            "max_stall" => Metric::MaxStall,
            s => match s.strip_prefix("service_") {
                Some(rest) => Metric::Service(stat(rest).ok_or_else(|| bad("has an unknown metric"))?),
                None => Metric::Latency(stat(s).ok_or_else(|| bad("has an unknown metric"))?),
            },
        };
        if op.is_some()
            && matches!(
                metric,
                Metric::OpsPerSec | Metric::MaxLag | Metric::Delivered | Metric::MaxStall
            )
        {
            return Err(bad("gives an op to a run-wide metric"));
        }
        let split = right
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(right.len());
        let (number, unit) = right.split_at(split);
        let value: f64 = number.parse().map_err(|_| bad("has no number"))?;
        let unit = match (metric, unit.trim()) {
            (Metric::Latency(_) | Metric::Service(_) | Metric::MaxLag | Metric::MaxStall, "us" | "µs") => Unit::Micros,
            (Metric::Latency(_) | Metric::Service(_) | Metric::MaxLag | Metric::MaxStall, "ms") => Unit::Millis,
            (Metric::Latency(_) | Metric::Service(_) | Metric::MaxLag | Metric::MaxStall, "s") => Unit::Seconds,
            (Metric::ErrorRate | Metric::Delivered, "%") => Unit::Percent,
            (Metric::ErrorRate | Metric::Delivered | Metric::OpsPerSec, "") => Unit::Plain,
            _ => {
                return Err(bad(
                    "has a unit that does not fit its metric (latencies take us, ms or s)",
                ));
            }
        };
        if !value.is_finite() || value < 0.0 {
            return Err(bad("has a negative or non-finite value"));
        }
        if matches!(metric, Metric::ErrorRate | Metric::Delivered) && value * unit.scale() > 1.0 {
            return Err(bad(
                "asks for a share above 100%, which no run can have (give 0 to 100%, or 0 to 1)",
            ));
        }
        Ok(Self {
            rule: text.to_owned(),
            metric,
            op,
            less,
            limit: value * unit.scale(),
            unit,
        })
    }

    /// The rule as written.
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// Evaluates the rule.
    pub fn evaluate(&self, o: &Observed) -> ThresholdResult {
        let per_op = self.op.as_ref().and_then(|op| o.ops.get(op));
        let observed = match (self.metric, per_op) {
            (Metric::Latency(s), Some((l, _, _, _))) => s.of(l),
            (Metric::Latency(s), None) => s.of(&o.latency),
            (Metric::Service(s), Some((_, sv, _, _))) => s.of(sv),
            (Metric::Service(s), None) => s.of(&o.service),
            (Metric::ErrorRate, Some((_, _, n, f))) => rate(*f, *n),
            (Metric::ErrorRate, None) => rate(o.failed_ops, o.total_ops),
            (Metric::OpsPerSec, _) => o.ops_per_sec,
            (Metric::MaxLag, _) => o.max_lag_us as f64,
            (Metric::Delivered, _) => o.delivered.unwrap_or(1.0),
            (Metric::MaxStall, _) => o.max_stall_us as f64,
        };
        let passed = if self.less {
            observed < self.limit
        } else {
            observed > self.limit
        };
        ThresholdResult {
            rule: self.rule.clone(),
            observed: (observed / self.unit.scale() * 1000.0).round() / 1000.0,
            passed,
            unit: self.unit.suffix(self.metric).to_owned(),
        }
    }
}

fn rate(failed: u64, total: u64) -> f64 {
    if total == 0 { 0.0 } else { failed as f64 / total as f64 }
}

impl fmt::Display for ThresholdResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "threshold {} {}: observed {}{}",
            self.rule,
            if self.passed { "held" } else { "breached" },
            self.observed,
            self.unit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops() -> Vec<String> {
        vec!["select".into(), "insert".into()]
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct File {
        #[serde(with = "as_rules")]
        thresholds: Vec<Threshold>,
    }

    #[test]
    fn rules_go_to_a_file_as_written_and_come_back_typed() {
        let typed = vec![
            Threshold::parse_rule("p99[select] < 20ms").unwrap(),
            Threshold::parse_rule("error_rate<0.1%").unwrap(),
        ];
        let json = serde_json::to_string(&File {
            thresholds: typed.clone(),
        })
        .unwrap();
        assert_eq!(json, r#"{"thresholds":["p99[select] < 20ms","error_rate<0.1%"]}"#);
        let back: File = serde_json::from_str(&json).unwrap();
        assert_eq!(back.thresholds, typed);
        let e = serde_json::from_str::<File>(r#"{"thresholds":["p99<fast"]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("threshold `p99<fast` has no number"), "{e}");
    }

    fn lat(p99: u64) -> LatencySummary {
        LatencySummary {
            count: 10,
            mean: 1000.0,
            p50: 500,
            p95: 900,
            p99,
            p999: p99 * 2,
            max: p99 * 3,
        }
    }

    fn observed() -> Observed {
        let mut ops = BTreeMap::new();
        ops.insert("select".to_owned(), (lat(20_000), lat(5_000), 1000, 0));
        ops.insert("insert".to_owned(), (lat(90_000), lat(80_000), 1000, 20));
        Observed {
            latency: lat(60_000),
            service: lat(10_000),
            ops,
            total_ops: 2000,
            failed_ops: 20,
            ops_per_sec: 1500.0,
            max_lag_us: 250_000,
            delivered: Some(0.5),
            max_stall_us: 8_000_000,
        }
    }

    #[test]
    fn rules_pass_and_fail_with_observed_values_in_their_units() {
        let o = observed();
        let cases = [
            ("p99<50ms", false, 60.0),
            ("p99<61ms", true, 60.0),
            ("p99[select]<25ms", true, 20.0),
            ("p99[insert]<25ms", false, 90.0),
            ("service_p99<15000us", true, 10_000.0),
            ("p999<0.2s", true, 0.12),
            ("error_rate<0.1%", false, 1.0),
            ("error_rate<0.02", true, 0.01),
            ("error_rate[select]<0.1%", true, 0.0),
            ("ops_per_sec>1000", true, 1500.0),
            ("ops_per_sec>2000", false, 1500.0),
            ("max_lag<100ms", false, 250.0),
            ("mean<2ms", true, 1.0),
            ("delivered>95%", false, 50.0),
            ("delivered>0.4", true, 0.5),
            ("max_stall<2s", false, 8.0),
            ("max_stall<10000ms", true, 8000.0),
        ];
        for (rule, passed, value) in cases {
            let t = Threshold::parse(rule, &ops()).unwrap();
            let r = t.evaluate(&o);
            assert_eq!((r.passed, r.observed), (passed, value), "{rule}");
            assert_eq!(r.rule, rule);
        }
        let closed = Observed {
            delivered: None,
            ..observed()
        };
        assert!(
            Threshold::parse("delivered>99%", &ops())
                .unwrap()
                .evaluate(&closed)
                .passed
        );
    }

    #[test]
    fn observed_values_print_with_their_units() {
        let o = observed();
        for (rule, shown) in [
            ("p999<0.2s", "observed 0.12s"),
            ("p99<50ms", "observed 60ms"),
            ("service_p99<15000us", "observed 10000µs"),
            ("error_rate<0.1%", "observed 1%"),
            ("error_rate<0.02", "observed 0.01"),
            ("ops_per_sec>2000", "observed 1500 ops/s"),
            ("delivered>95%", "observed 50%"),
        ] {
            let line = Threshold::parse(rule, &ops()).unwrap().evaluate(&o).to_string();
            assert!(line.ends_with(shown), "{rule}: {line}");
        }
    }

    #[test]
    fn bad_rules_are_refused_with_the_forms() {
        for (rule, want) in [
            ("p98<5ms", "unknown metric"),
            (
                "p99[update]<5ms",
                "op `update`, which the workload does not have (its ops: select, insert)",
            ),
            ("p99<5", "unit that does not fit"),
            ("ops_per_sec>10ms", "unit that does not fit"),
            ("p99 5ms", "no single < or >"),
            ("p99<fast", "no number"),
            ("max_lag[select]<5ms", "run-wide metric"),
            ("p99[select<5ms", "unclosed"),
            ("error_rate<200%", "a share above 100%"),
            ("delivered>1.5", "a share above 100%"),
            ("max_stall[select]<2s", "run-wide metric"),
        ] {
            let e = Threshold::parse(rule, &ops()).unwrap_err();
            assert!(e.contains(want), "{rule}: {e}");
        }
    }
}
