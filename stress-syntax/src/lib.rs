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
