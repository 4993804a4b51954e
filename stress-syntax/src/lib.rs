//! The small value languages of cargo-stress, shared by the `#[stress_workload]` attribute, the
//! `STRESS_*` variables and the CLI: durations (`90`, `30s`, `2m`), user counts
//! (`inserter=4,reader=3`) and ranges (`10..200`).
//!
//! `stress-macros` checks an attribute literal at compile time with these parsers, and
//! `stress-core` (which re-exports this crate as `stress_core::syntax`) reads the environment
//! and the command line with them at run time: one parser, one set of messages. The crate has
//! no dependencies, so that it adds nothing to the build of the proc-macro.
//!
//! ```
//! use std::time::Duration;
//!
//! assert_eq!(stress_syntax::parse_duration("2m"), Ok(Duration::from_secs(120)));
//! assert_eq!(
//!     stress_syntax::parse_users("inserter=4,reader=3"),
//!     Ok(vec![("inserter".to_owned(), 4), ("reader".to_owned(), 3)]),
//! );
//! assert_eq!(stress_syntax::parse_range("10..200"), Ok((10, 200)));
//! ```

#![warn(missing_docs)]

use std::time::Duration;

/// Parses a duration: a whole number with an optional unit `ms`, `s`, `m` or `h` (`90` is
/// seconds). Returns a message naming the expected form on error.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let expected = "expected a whole number with an optional unit ms, s, m or h, like `90`, `30s` or `2m`";
    if digits.is_empty() {
        return Err(format!("`{text}` is not a duration: {expected}"));
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is too large a duration"))?;
    let millis = match unit.trim() {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("`{text}` is not a duration: {expected}")),
    };
    millis
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too large a duration"))
}

/// Parses per-class user counts: `class=N` pairs separated by commas, e.g. `inserter=4,reader=3`.
pub fn parse_users(text: &str) -> Result<Vec<(String, usize)>, String> {
    let expected = "expected `class=N` pairs separated by commas, like `inserter=4,reader=3`";
    let mut out: Vec<(String, usize)> = Vec::new();
    for part in text.split(',').map(str::trim) {
        let Some((class, count)) = part.split_once('=') else {
            return Err(format!("`{part}` is not a user count: {expected}"));
        };
        let class = class.trim();
        if class.is_empty() {
            return Err(format!("`{part}` names no class: {expected}"));
        }
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| format!("`{part}` has no whole number of users: {expected}"))?;
        if out.iter().any(|(c, _)| c == class) {
            return Err(format!("class `{class}` is given twice in `{text}`"));
        }
        out.push((class.to_owned(), count));
    }
    Ok(out)
}

/// Parses an inclusive range of whole numbers `MIN..MAX` (`MIN..=MAX` and a single `N` are
/// accepted too); `MIN` must not exceed `MAX`.
pub fn parse_range(text: &str) -> Result<(u64, u64), String> {
    let expected = "expected `MIN..MAX` with whole numbers, like `10..200`";
    let t = text.trim();
    let (lo, hi) = match t.split_once("..") {
        Some((lo, hi)) => (lo, hi.strip_prefix('=').unwrap_or(hi)),
        None => (t, t),
    };
    let lo: u64 = lo
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a range: {expected}"))?;
    let hi: u64 = hi
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a range: {expected}"))?;
    if lo > hi {
        return Err(format!("`{text}` is an empty range: its minimum exceeds its maximum"));
    }
    Ok((lo, hi))
}

/// The options of `#[stress_workload(...)]` that lay settings over a workload's code, declared
/// once: `stress-macros` makes its parser (and the list its errors give) from this table, and
/// `stress-core` its `AttrOptions`, the listing's `ListedOptions` and the config layer the
/// attribute makes. A new option is a line here.
///
/// Each line: `name: kind = "how it is written" [=> listed as "its key in the listing"],
/// |layer, value| what it sets in the layer;`. The kinds ([`attr_kinds`]) say what the value
/// is; the expression after them is read by `stress-core` only. `ignore`, `name` and `crate`
/// are the macro's own (they set no setting).
///
/// ```
/// macro_rules! names {
///     ($($name:ident: $kind:ty = $example:literal $(=> listed as $key:literal)?, $set:expr;)*) => {
///         [$(stringify!($name)),*]
///     };
/// }
/// assert_eq!(stress_syntax::attr_options!(names)[0], "duration");
/// ```
#[macro_export]
macro_rules! attr_options {
    ($callback:ident) => {
        $callback! {
            duration: $crate::attr_kinds::Duration = "duration = \"30s\"" => listed as "duration_ms",
                |l, v| l.duration = Some(v);
            users: $crate::attr_kinds::Users = "users = \"inserter=4,reader=3\"",
                |l, v| l.users = v.iter().map(|&(c, n)| (c.to_owned(), n)).collect();
            ops_per_user: $crate::attr_kinds::Count = "ops_per_user = 100",
                |l, v| l.ops_per_user = Some(v);
            seed: $crate::attr_kinds::Number = "seed = 42",
                |l, v| l.seed = Some(v);
            think_ms: $crate::attr_kinds::Range = "think_ms = \"10..200\"",
                |l, (min, max)| (l.think_min_ms, l.think_max_ms) = (Some(min), Some(max));
            batch: $crate::attr_kinds::Batch = "batch = \"100..10000\"",
                |l, (min, max)| (l.batch_min, l.batch_max) = (Some(min), Some(max));
            databases: $crate::attr_kinds::Count = "databases = 3",
                |l, v| l.databases = Some(v as usize);
            max_memory_mb: $crate::attr_kinds::Count = "max_memory_mb = 4096",
                |l, v| l.max_memory_mb = Some(v);
            max_cpu_percent: $crate::attr_kinds::Count = "max_cpu_percent = 400",
                |l, v| l.max_cpu_percent = Some(v);
            max_disk_mb: $crate::attr_kinds::Count = "max_disk_mb = 1024",
                |l, v| l.max_disk_mb = Some(v);
        }
    };
}

/// What the value of an attribute option ([`attr_options!`]) is: how `stress-core` holds it in a
/// registered entry (`Attr`, built in a `static`) and how a listing shows it (`Listed`).
pub mod attr_kinds {
    use std::time::Duration as StdDuration;

    /// A kind of attribute value.
    pub trait AttrKind {
        /// As a registered workload holds it.
        type Attr: Copy;
        /// As the listing shows it.
        type Listed;
        /// The listing's form of a value.
        fn listed(value: Self::Attr) -> Self::Listed;
    }

    /// A duration (`"30s"`); listed in milliseconds.
    #[derive(Debug)]
    pub struct Duration;
    /// Users per class (`"inserter=4,reader=3"`).
    #[derive(Debug)]
    pub struct Users;
    /// A whole number of at least 1.
    #[derive(Debug)]
    pub struct Count;
    /// Any whole number.
    #[derive(Debug)]
    pub struct Number;
    /// A range `"MIN..MAX"`.
    #[derive(Debug)]
    pub struct Range;
    /// A range of rows `"MIN..MAX"` from 1.
    #[derive(Debug)]
    pub struct Batch;

    impl AttrKind for Duration {
        type Attr = StdDuration;
        type Listed = u64;
        fn listed(value: StdDuration) -> u64 {
            u64::try_from(value.as_millis()).unwrap_or(u64::MAX)
        }
    }

    impl AttrKind for Users {
        type Attr = &'static [(&'static str, usize)];
        type Listed = Vec<(String, usize)>;
        fn listed(value: Self::Attr) -> Self::Listed {
            value.iter().map(|&(c, n)| (c.to_owned(), n)).collect()
        }
    }

    impl AttrKind for Count {
        type Attr = u64;
        type Listed = u64;
        fn listed(value: u64) -> u64 {
            value
        }
    }

    impl AttrKind for Number {
        type Attr = u64;
        type Listed = u64;
        fn listed(value: u64) -> u64 {
            value
        }
    }

    impl AttrKind for Range {
        type Attr = (u64, u64);
        type Listed = (u64, u64);
        fn listed(value: (u64, u64)) -> (u64, u64) {
            value
        }
    }

    impl AttrKind for Batch {
        type Attr = (u64, u64);
        type Listed = (u64, u64);
        fn listed(value: (u64, u64)) -> (u64, u64) {
            value
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "abc", "3x", "-1s", "1.5s", "s", "99999999999999999999"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn users() {
        assert_eq!(
            parse_users("inserter=4, reader=3"),
            Ok(vec![("inserter".into(), 4), ("reader".into(), 3)])
        );
        for bad in ["reader", "reader=x", "=3", "a=1,a=2", "reader=-1", ""] {
            assert!(parse_users(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("10..200"), Ok((10, 200)));
        assert_eq!(parse_range("10..=200"), Ok((10, 200)));
        assert_eq!(parse_range("7"), Ok((7, 7)));
        for bad in ["200..10", "a..b", "1..", "..5", ""] {
            assert!(parse_range(bad).is_err(), "{bad:?} parsed");
        }
    }
}
