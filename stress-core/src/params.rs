//! Workload parameters: named values with defaults that a workload declares
//! (`Workload::param("epochs", 10_000)`), that its ops and setup read
//! (`u.param::<u64>("epochs")?`), that `STRESS_PARAM_<NAME>` and `--param NAME=VALUE` set, and
//! that `replay.json` records with the rest of the resolved configuration.
//!
//! A parameter's kind comes from its default: a whole number, a number, a boolean or text (text
//! may be limited to a set of choices). Whole numbers take `_` separators and the suffixes `k`,
//! `m` and `g` (thousand, million, billion): `10k`, `1_000_000`, `2m`.
//!
//! Two names are not the workload's own: `users` (the total number of users, spread over the
//! classes in their proportions) and `rate` (the open-loop target, ops/s) set the load, so that a
//! sweep can vary them like any parameter.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::outcome::OpError;

/// The names that set the load rather than a workload parameter.
pub const LOAD_PARAMS: [&str; 2] = ["users", "rate"];

/// The prefix of the variables that set parameters: `STRESS_PARAM_EPOCHS=5000`.
pub const ENV_PREFIX: &str = "STRESS_PARAM_";

/// A parameter's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number.
    Float(f64),
    /// Text.
    Text(String),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Float(x) => write!(f, "{x}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident),*) => {
        $(impl From<$t> for ParamValue {
            fn from(x: $t) -> Self {
                Self::$v(x.into())
            }
        })*
    };
}
value_from!(i64 => Int, i32 => Int, u32 => Int, bool => Bool, f64 => Float, &str => Text, String => Text);

impl From<u64> for ParamValue {
    /// Saturates at `i64::MAX`.
    fn from(x: u64) -> Self {
        Self::Int(i64::try_from(x).unwrap_or(i64::MAX))
    }
}

impl From<usize> for ParamValue {
    fn from(x: usize) -> Self {
        (x as u64).into()
    }
}

/// What kind of value a parameter takes (the kind of its default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// A whole number, with optional `_` separators and `k`/`m`/`g` suffix.
    Int,
    /// A number.
    Float,
    /// `true`/`false` (`1`/`0`, `yes`/`no`).
    Bool,
    /// Text, possibly limited to choices.
    Text,
}

/// A declared parameter: its name, its default and, for text, the values it may take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamDef {
    /// The name: lowercase letters, digits and `_`, starting with a letter.
    pub name: String,
    /// Its kind, from the default.
    pub kind: ParamKind,
    /// The default.
    pub default: ParamValue,
    /// The values a text parameter may take (empty: any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// The least and the greatest value a number may take, both included (`None`: any):
    /// declared with [`Workload::param_range`](crate::Workload::param_range); a value outside
    /// is refused before the run starts, in the words it was given in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<(ParamValue, ParamValue)>,
}

impl ParamDef {
    /// A parameter whose kind is its default's.
    pub fn new(name: impl Into<String>, default: impl Into<ParamValue>) -> Self {
        let default = default.into();
        let kind = match default {
            ParamValue::Bool(_) => ParamKind::Bool,
            ParamValue::Int(_) => ParamKind::Int,
            ParamValue::Float(_) => ParamKind::Float,
            ParamValue::Text(_) => ParamKind::Text,
        };
        Self {
            name: name.into(),
            kind,
            default,
            choices: Vec::new(),
            range: None,
        }
    }

    /// This parameter limited to `min..=max` (of its own kind: whole numbers for a whole
    /// number's).
    pub fn with_range(mut self, min: impl Into<ParamValue>, max: impl Into<ParamValue>) -> Self {
        self.range = Some((min.into(), max.into()));
        self
    }

    /// Whether a number lies in the declared range (any value does when none is declared).
    fn in_range(&self, v: &ParamValue) -> bool {
        let Some((lo, hi)) = &self.range else {
            return true;
        };
        match (v, lo, hi) {
            (ParamValue::Int(v), ParamValue::Int(lo), ParamValue::Int(hi)) => (lo..=hi).contains(&v),
            _ => match (number(v), number(lo), number(hi)) {
                (Some(v), Some(lo), Some(hi)) => (lo..=hi).contains(&v),
                _ => true,
            },
        }
    }

    /// Parses a value given as text (from the environment or the command line) for this
    /// parameter; the error says what it takes.
    pub fn parse(&self, text: &str) -> Result<ParamValue, String> {
        let t = text.trim();
        let bad = |takes: &str| format!("parameter `{}` takes {takes}, not `{t}`", self.name);
        let v = self.parse_kind(t, &bad)?;
        if !self.in_range(&v) {
            return Err(bad(&format!("a {}", self.takes())));
        }
        Ok(v)
    }

    fn parse_kind(&self, t: &str, bad: &dyn Fn(&str) -> String) -> Result<ParamValue, String> {
        match self.kind {
            ParamKind::Int => parse_int(t)
                .map(ParamValue::Int)
                .ok_or_else(|| bad("a whole number (like 10000, 10_000 or 10k)")),
            ParamKind::Float => parse_float(t)
                .map(ParamValue::Float)
                .ok_or_else(|| bad("a number (like 0.5 or 2k)")),
            ParamKind::Bool => match t {
                "true" | "1" | "yes" => Ok(ParamValue::Bool(true)),
                "false" | "0" | "no" => Ok(ParamValue::Bool(false)),
                _ => Err(bad("true or false")),
            },
            ParamKind::Text if self.choices.is_empty() || self.choices.iter().any(|c| c == t) => {
                Ok(ParamValue::Text(t.to_owned()))
            }
            ParamKind::Text => Err(bad(&format!("one of {}", self.choices.join(", ")))),
        }
    }

    /// What it takes, for listings: `whole number`, `one of jsonb, bson`, ….
    pub fn takes(&self) -> String {
        if let (Some((lo, hi)), ParamKind::Int | ParamKind::Float) = (&self.range, self.kind) {
            let what = if self.kind == ParamKind::Int {
                "whole number"
            } else {
                "number"
            };
            return format!("{what} from {lo} to {hi}");
        }
        match self.kind {
            ParamKind::Int => "whole number".into(),
            ParamKind::Float => "number".into(),
            ParamKind::Bool => "true or false".into(),
            ParamKind::Text if self.choices.is_empty() => "text".into(),
            ParamKind::Text => format!("one of {}", self.choices.join(", ")),
        }
    }
}

fn number(v: &ParamValue) -> Option<f64> {
    match v {
        ParamValue::Int(i) => Some(*i as f64),
        ParamValue::Float(x) => Some(*x),
        _ => None,
    }
}

/// Checks a parameter name: lowercase letters, digits and `_`, starting with a letter (so that
/// `STRESS_PARAM_<NAME>` maps back to it).
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a parameter name: use lowercase letters, digits and _, starting with a letter"
        ))
    }
}

/// The variable that sets a parameter: `epochs` → `STRESS_PARAM_EPOCHS`.
pub fn env_var(name: &str) -> String {
    format!("{ENV_PREFIX}{}", name.to_ascii_uppercase())
}

/// Parses a whole number with optional `_` separators, sign and `k`/`m`/`g` suffix.
pub fn parse_int(text: &str) -> Option<i64> {
    let t: String = text.trim().chars().filter(|&c| c != '_').collect();
    let (digits, scale) = split_suffix(&t);
    let n: i64 = digits.parse().ok()?;
    n.checked_mul(scale)
}

/// Parses a number with an optional `k`/`m`/`g` suffix; finite only.
pub fn parse_float(text: &str) -> Option<f64> {
    let t: String = text.trim().chars().filter(|&c| c != '_').collect();
    let (digits, scale) = split_suffix(&t);
    // Rust's parser takes `inf` and `nan`: a parameter never means those.
    if digits.chars().any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    let x: f64 = digits.parse().ok()?;
    Some(x * scale as f64).filter(|x| x.is_finite())
}

fn split_suffix(t: &str) -> (&str, i64) {
    match t.chars().last().map(|c| c.to_ascii_lowercase()) {
        Some('k') => (&t[..t.len() - 1], 1_000),
        Some('m') => (&t[..t.len() - 1], 1_000_000),
        Some('g') => (&t[..t.len() - 1], 1_000_000_000),
        _ => (t, 1),
    }
}

/// The resolved parameters of a run: every declared parameter with its value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Params(BTreeMap<String, ParamValue>);

impl Params {
    /// No parameters.
    pub fn none() -> &'static Params {
        static NONE: Params = Params(BTreeMap::new());
        &NONE
    }

    /// Every declared parameter at its default, with the given values laid over them. A name
    /// the workload does not declare, or a value of the wrong kind, is an error naming what the
    /// workload has.
    pub fn resolve(defs: &[ParamDef], given: &[(String, String)]) -> Result<Self, String> {
        let mut out: BTreeMap<String, ParamValue> = defs.iter().map(|d| (d.name.clone(), d.default.clone())).collect();
        for (name, text) in given {
            let def = defs
                .iter()
                .find(|d| d.name == *name)
                .ok_or_else(|| undeclared(name, defs))?;
            out.insert(name.clone(), def.parse(text)?);
        }
        Ok(Self(out))
    }

    /// The value of a declared parameter, converted to `T`: `u.param::<u64>("epochs")?`.
    pub fn get<T: FromParam>(&self, name: &str) -> Result<T, OpError> {
        let v = self.0.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.0.keys().map(String::as_str).collect();
            OpError::msg(format!(
                "parameter `{name}` is not declared (declared: {}): add it with Workload::param",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        T::from_param(v).ok_or_else(|| OpError::msg(format!("parameter `{name}` is {v}, not {}", T::EXPECTS)))
    }

    /// The value of a parameter, if declared.
    pub fn value(&self, name: &str) -> Option<&ParamValue> {
        self.0.get(name)
    }

    /// Every parameter with its value, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `name=value` pairs (what `resolve` takes back, as a replay does).
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
    }
}

/// The message for a name the workload does not declare.
pub fn undeclared(name: &str, defs: &[ParamDef]) -> String {
    let known: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    format!(
        "parameter `{name}` is not declared by the workload (its parameters: {}; users and rate set the load)",
        if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        }
    )
}

/// Checks one value given for a parameter or a load setting, as `--param` and
/// `STRESS_PARAM_<NAME>` give them: the name must be declared (or be `users` or `rate`) and the
/// value of its kind.
pub fn check_value(defs: &[ParamDef], name: &str, value: &str) -> Result<(), String> {
    match name {
        "users" => match parse_int(value) {
            Some(n) if n >= 1 => Ok(()),
            _ => Err(format!("users takes a whole number of users above 0, not `{value}`")),
        },
        "rate" => match parse_float(value) {
            Some(r) if r > 0.0 => Ok(()),
            _ => Err(format!("rate takes ops/s above 0, not `{value}`")),
        },
        _ => defs
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| undeclared(name, defs))?
            .parse(value)
            .map(|_| ()),
    }
}

/// A type a parameter's value converts to.
pub trait FromParam: Sized {
    /// What the type takes, for the error when the value does not fit.
    const EXPECTS: &'static str;
    /// The value as this type, if it fits.
    fn from_param(v: &ParamValue) -> Option<Self>;
}

macro_rules! from_int {
    ($($t:ty),*) => {
        $(impl FromParam for $t {
            const EXPECTS: &'static str = concat!("a whole number that fits ", stringify!($t));
            fn from_param(v: &ParamValue) -> Option<Self> {
                match v {
                    ParamValue::Int(i) => <$t>::try_from(*i).ok(),
                    _ => None,
                }
            }
        })*
    };
}
from_int!(u64, u32, u16, usize, i64, i32);

impl FromParam for f64 {
    const EXPECTS: &'static str = "a number";
    fn from_param(v: &ParamValue) -> Option<Self> {
        match v {
            ParamValue::Float(x) => Some(*x),
            ParamValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

impl FromParam for bool {
    const EXPECTS: &'static str = "true or false";
    fn from_param(v: &ParamValue) -> Option<Self> {
        match v {
            ParamValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl FromParam for String {
    const EXPECTS: &'static str = "text";
    fn from_param(v: &ParamValue) -> Option<Self> {
        Some(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> Vec<ParamDef> {
        let mut format = ParamDef::new("format", "jsonb");
        format.choices = vec!["jsonb".into(), "bson".into()];
        vec![
            ParamDef::new("epochs", 1_000u64),
            ParamDef::new("ratio", 0.5),
            ParamDef::new("check", true),
            format,
        ]
    }

    #[test]
    fn a_declared_range_refuses_values_outside_it_in_the_words_given() {
        let epochs = ParamDef::new("epochs", 10_000u64).with_range(1u64, 1_000_000u64);
        assert_eq!(epochs.parse("50k"), Ok(ParamValue::Int(50_000)));
        assert_eq!(epochs.parse("1"), Ok(ParamValue::Int(1)));
        assert_eq!(epochs.parse("1m"), Ok(ParamValue::Int(1_000_000)));
        for bad in ["-5", "0", "2m"] {
            assert_eq!(
                epochs.parse(bad).unwrap_err(),
                format!("parameter `epochs` takes a whole number from 1 to 1000000, not `{bad}`")
            );
        }
        assert_eq!(epochs.takes(), "whole number from 1 to 1000000");
        let ratio = ParamDef::new("ratio", 0.5).with_range(0.0, 1.0);
        assert!(
            ratio
                .parse("1.5")
                .unwrap_err()
                .contains("a number from 0 to 1, not `1.5`")
        );
        assert_eq!(ratio.parse("0.25"), Ok(ParamValue::Float(0.25)));
        // Through the check the CLI runs before a build.
        let e = check_value(&[epochs], "epochs", "-5").unwrap_err();
        assert!(e.contains("from 1 to 1000000, not `-5`"), "{e}");
        // A range travels with the listing.
        let json = serde_json::to_string(&ParamDef::new("n", 3u64).with_range(1u64, 9u64)).unwrap();
        let back: ParamDef = serde_json::from_str(&json).unwrap();
        assert_eq!(back.range, Some((ParamValue::Int(1), ParamValue::Int(9))));
        let plain: ParamDef = serde_json::from_str(r#"{"name":"n","kind":"int","default":3}"#).unwrap();
        assert_eq!(plain.range, None, "a listing of an older harness has none");
    }

    #[test]
    fn numbers_take_separators_and_suffixes() {
        assert_eq!(parse_int("10_000"), Some(10_000));
        assert_eq!(parse_int("10k"), Some(10_000));
        assert_eq!(parse_int("1M"), Some(1_000_000));
        assert_eq!(parse_int("2g"), Some(2_000_000_000));
        assert_eq!(parse_int("-3"), Some(-3));
        for bad in ["", "k", "1.5", "abc", "10kk", "99999999999g"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
        assert_eq!(parse_float("0.25"), Some(0.25));
        assert_eq!(parse_float("1.5k"), Some(1500.0));
        for bad in ["", "nan", "inf", "x"] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn defaults_and_given_values_resolve_by_kind() {
        let p = Params::resolve(
            &defs(),
            &[("epochs".into(), "20k".into()), ("format".into(), "bson".into())],
        )
        .unwrap();
        assert_eq!(p.get::<u64>("epochs").unwrap(), 20_000);
        assert_eq!(p.get::<String>("format").unwrap(), "bson");
        assert_eq!(p.get::<f64>("ratio").unwrap(), 0.5);
        assert!(p.get::<bool>("check").unwrap());
        assert_eq!(
            p.get::<f64>("epochs").unwrap(),
            20_000.0,
            "a whole number reads as a number"
        );
        let e = p.get::<u16>("nope").map(|_| ()).unwrap_err_or_msg();
        assert!(
            e.contains("`nope` is not declared (declared: check, epochs, format, ratio)"),
            "{e}"
        );
        let e = p.get::<bool>("epochs").map(|_| ()).unwrap_err_or_msg();
        assert_eq!(e, "parameter `epochs` is 20000, not true or false");
        let neg = Params::resolve(&defs(), &[("epochs".into(), "-1".into())]).unwrap();
        assert!(neg.get::<u64>("epochs").is_err());
    }

    trait ErrMsg {
        fn unwrap_err_or_msg(self) -> String;
    }
    impl ErrMsg for Result<(), OpError> {
        fn unwrap_err_or_msg(self) -> String {
            self.unwrap_err().to_string()
        }
    }

    #[test]
    fn bad_values_and_names_say_what_is_expected() {
        let cases = [
            (
                "epochs",
                "lots",
                "parameter `epochs` takes a whole number (like 10000, 10_000 or 10k), not `lots`",
            ),
            (
                "format",
                "xml",
                "parameter `format` takes one of jsonb, bson, not `xml`",
            ),
            ("check", "maybe", "parameter `check` takes true or false, not `maybe`"),
            (
                "ratio",
                "half",
                "parameter `ratio` takes a number (like 0.5 or 2k), not `half`",
            ),
            (
                "nope",
                "1",
                "parameter `nope` is not declared by the workload (its parameters: epochs, ratio, check, format; users and rate set the load)",
            ),
            ("users", "0", "users takes a whole number of users above 0, not `0`"),
            ("rate", "-2", "rate takes ops/s above 0, not `-2`"),
        ];
        for (name, value, expect) in cases {
            assert_eq!(check_value(&defs(), name, value).unwrap_err(), expect);
        }
        assert!(check_value(&defs(), "users", "10").is_ok());
        assert!(check_value(&defs(), "rate", "0.5").is_ok());
        assert!(check_value(&defs(), "epochs", "1m").is_ok());
        for bad in ["", "Epochs", "1x", "a-b", "_a"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("rows_10k").is_ok());
        assert_eq!(env_var("rows_10k"), "STRESS_PARAM_ROWS_10K");
    }

    #[test]
    fn values_round_trip_through_json_and_text() {
        let p = Params::resolve(&defs(), &[("ratio".into(), "2".into())]).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"check":true,"epochs":1000,"format":"jsonb","ratio":2.0}"#);
        let back: Params = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert_eq!(Params::resolve(&defs(), &p.to_pairs()).unwrap(), p);
    }
}
