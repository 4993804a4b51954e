//! The value parsers every front end shares: `cargo stress`'s flags, the `STRESS_*` variables
//! and the parameters `users`/`rate` read their values with these functions, so a value means
//! the same everywhere and is refused with the same words. Each error names the value and what
//! to give instead; the caller adds where it came from (`--rate`, `STRESS_RATE=…`).

use std::time::Duration;

use super::{Arrival, Stage};
use crate::{params, syntax};

/// The longest run, stage, warm-up or duration anything may take: 30 days.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);
/// The highest open-loop rate, ops/s.
pub const MAX_RATE: f64 = 1e9;
/// The longest wait before a retry (`--retry-backoff`'s MIN and MAX): an hour.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(3600);

/// How far ahead a start time may be: a day. A start further away is a typo (or a year
/// 9999), and would keep every user waiting, Ctrl-C aside, until then.
pub const MAX_START_AHEAD: Duration = Duration::from_secs(24 * 3600);

/// A number as people read it: as is, or in scientific notation when it is huge or tiny (a
/// rate of `1e308` is not 309 digits long).
pub fn show_number(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Refuses a duration longer than [`MAX_DURATION`], in the words it was given in.
fn at_most_30_days(s: &str, d: Duration) -> Result<Duration, String> {
    if d > MAX_DURATION {
        return Err(format!(
            "`{}` is longer than 30 days, the longest a run or a wait may take: give a shorter duration",
            s.trim()
        ));
    }
    Ok(d)
}

/// The message for a negative number where a count or a duration goes.
fn not_negative(s: &str, what: &str) -> Result<(), String> {
    if s.trim_start().starts_with('-') {
        Err(format!("`{s}` is negative: {what}"))
    } else {
        Ok(())
    }
}

/// A whole number above 0 (`100`).
pub fn count(s: &str) -> Result<u64, String> {
    let what = "give a whole number above 0, like 100";
    not_negative(s, what)?;
    match s.trim().parse::<u64>() {
        Ok(0) => Err(format!("`0` is not above 0: {what}")),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{s}` is not a whole number: {what}")),
    }
}

/// A whole number, 0 included (`0`, `250`).
pub fn whole(s: &str) -> Result<u64, String> {
    let what = "give a whole number, like 0 or 250";
    not_negative(s, what)?;
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("`{s}` is not a whole number: {what}"))
}

/// [`count`] as a `usize` (users, databases).
pub fn count_usize(s: &str) -> Result<usize, String> {
    let n = count(s)?;
    usize::try_from(n).map_err(|_| format!("`{s}` is too large: give at most {}", usize::MAX))
}

/// Tries per op: a whole number above 0 that fits a `u32`.
pub fn tries(s: &str) -> Result<u32, String> {
    let n = count(s)?;
    u32::try_from(n).map_err(|_| format!("`{s}` is too many tries: give at most {}", u32::MAX))
}

/// A seed: any `u64`.
pub fn seed(s: &str) -> Result<u64, String> {
    let what = format!("give a whole number from 0 to {}", u64::MAX);
    not_negative(s, &what)?;
    s.trim()
        .parse::<u64>()
        .map_err(|_| format!("`{s}` is not a seed: {what}"))
}

/// A duration above 0 (`90`, `30s`, `2m`, `500ms`).
pub fn duration(s: &str) -> Result<Duration, String> {
    not_negative(s, "give a duration like 30s")?;
    let d = syntax::parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("`{s}` is no time: give a duration above 0, like 30s"));
    }
    at_most_30_days(s, d)
}

/// A duration, 0 included (a warm-up, a grace).
pub fn duration_or_zero(s: &str) -> Result<Duration, String> {
    not_negative(s, "give a duration like 5s, or 0")?;
    at_most_30_days(s, syntax::parse_duration(s)?)
}

/// A fraction from 0 to 1, or a percentage from 0% to 100% (`0.001`, `0.1%`), as thresholds
/// and `--noise` take them.
pub fn fraction(s: &str) -> Result<f64, String> {
    let what = "expected 0 to 1 or 0% to 100%, like 0.001 or 0.1%";
    not_negative(s, what)?;
    percent_or_fraction(s)
        .filter(|f| (0.0..=1.0).contains(f))
        .ok_or_else(|| format!("`{s}` is not a fraction: {what}"))
}

/// A share below 1 as a percentage or a fraction (`5%`, `0.05`): `compare --noise`.
pub fn share(s: &str) -> Result<f64, String> {
    let what = "expected a percentage from 0% to below 100%, like 5%, or a fraction like 0.05";
    not_negative(s, what)?;
    percent_or_fraction(s)
        .filter(|v| (0.0..1.0).contains(v))
        .ok_or_else(|| format!("`{s}` is not a share: {what}"))
}

/// `5%` as 0.05, `0.05` as it is; `None` for anything else.
fn percent_or_fraction(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().ok().map(|p| p / 100.0),
        None => t.parse::<f64>().ok(),
    }
}

/// A rate in ops/s above 0, with an optional `k`/`m` suffix (`500`, `0.5`, `2k`).
pub fn rate(s: &str) -> Result<f64, String> {
    let what = "expected ops/s above 0, like 500, 0.5 or 2k";
    not_negative(s, what)?;
    let r = params::parse_float(s)
        .filter(|r| *r > 0.0)
        .ok_or_else(|| format!("`{s}` is not a rate: {what}"))?;
    if r > MAX_RATE {
        return Err(format!(
            "`{}` ops/s is more than this machine can schedule: give at most {} ops/s",
            s.trim(),
            show_number(MAX_RATE)
        ));
    }
    Ok(r)
}

/// Users, as a flag or `STRESS_USERS` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCounts {
    /// Per class: `reader=4,writer=2`.
    PerClass(Vec<(String, usize)>),
    /// A total spread over the classes in their proportions: `10`.
    Total(usize),
}

/// `class=N,...`, or a bare total above 0 spread over the classes (`10`).
pub fn users(s: &str) -> Result<UserCounts, String> {
    let what = "give a total above 0, like 10, or class=N,... like reader=4,writer=2";
    not_negative(s, what)?;
    match s.trim().parse::<usize>() {
        Ok(0) => Err(format!("`0` users: {what}")),
        Ok(n) => Ok(UserCounts::Total(n)),
        Err(_) => syntax::parse_users(s)
            .map(UserCounts::PerClass)
            .map_err(|m| format!("{m}, or a total like 10")),
    }
}

/// `MIN..MAX` in whole numbers (`10..200`).
pub fn range(s: &str) -> Result<(u64, u64), String> {
    not_negative(s, "give MIN..MAX in whole numbers, like 10..200")?;
    syntax::parse_range(s)
}

/// Rows per bulk op: `MIN..MAX` with MIN at least 1.
pub fn batch(s: &str) -> Result<(u64, u64), String> {
    not_negative(s, "give MIN..MAX rows, like 100..1000")?;
    let (lo, hi) = syntax::parse_range(s)?;
    if lo == 0 {
        return Err(format!(
            "`{s}` would make batches of 0 rows: give MIN..MAX with MIN at least 1, like 1..{}",
            hi.max(1)
        ));
    }
    Ok((lo, hi))
}

/// The retry backoff: `MIN..MAX` durations with units (`1ms..100ms`, `5ms..2s`), or `0..0`
/// (`0ms..0ms`) for none. A bare number other than 0 is refused: `--think` reads `10..200` as
/// milliseconds and a duration reads `90` as seconds, so `5..100` would mean one or the other.
/// Checked by [`backoff_fits`].
pub fn backoff(s: &str) -> Result<(Duration, Duration), String> {
    let what = "give MIN..MAX durations like 1ms..100ms, or 0..0 for no backoff";
    not_negative(s, what)?;
    let (lo, hi) = s
        .trim()
        .split_once("..")
        .ok_or_else(|| format!("`{s}` is not a range: {what}"))?;
    let one = |part: &str| -> Result<Duration, String> {
        let p = part.trim();
        if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.bytes().any(|b| b != b'0') {
            return Err(format!("`{s}`: `{p}` has no unit: {what}"));
        }
        syntax::parse_duration(p).map_err(|_| format!("`{s}` is not a range: {what}"))
    };
    let (lo, hi) = (one(lo)?, one(hi)?);
    backoff_fits(lo, hi).map_err(|m| format!("`{s}` {m}"))?;
    Ok((lo, hi))
}

/// Whether a retry backoff `min..max` can run: `min <= max`, both at most
/// [`MAX_RETRY_BACKOFF`] (an hour), and `min` above 0 unless both are 0 (the waits grow from
/// `min`: `0..100ms` would never wait). The error reads after the value.
pub fn backoff_fits(min: Duration, max: Duration) -> Result<(), String> {
    if min > max {
        return Err("is an empty range: its minimum exceeds its maximum; give MIN <= MAX, like 1ms..100ms".into());
    }
    if max > MAX_RETRY_BACKOFF {
        return Err("waits longer than an hour, the longest retry backoff: give at most 1h".into());
    }
    if min.is_zero() && !max.is_zero() {
        return Err(
            "would never wait (the waits grow from MIN, and MIN is 0): give MIN above 0, like 1ms, or 0..0 for \
             no backoff"
                .into(),
        );
    }
    Ok(())
}

/// `uniform` or `poisson`.
pub fn arrival(s: &str) -> Result<Arrival, String> {
    match s.trim() {
        "uniform" => Ok(Arrival::Uniform),
        "poisson" => Ok(Arrival::Poisson),
        _ => Err(format!("`{s}` is not an arrival: expected uniform or poisson")),
    }
}

/// Load stages: `10s:50,30s:200,10s:0` (also `config::parse_stages`).
pub fn stages(text: &str) -> Result<Vec<Stage>, String> {
    let expected = "expected DURATION:TARGET steps separated by commas, like `10s:50,30s:200,10s:0`";
    let mut out = Vec::new();
    let mut total = Duration::ZERO;
    for part in text.split(',').map(str::trim) {
        let (d, t) = part
            .split_once(':')
            .ok_or_else(|| format!("`{part}` is not a stage: {expected}"))?;
        let d = syntax::parse_duration(d).map_err(|e| format!("stage `{part}`: {e}"))?;
        let target: f64 = t
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && *x >= 0.0)
            .ok_or_else(|| format!("stage `{part}` has no target of 0 or more: {expected}"))?;
        if d.is_zero() {
            return Err(format!("stage `{part}` lasts 0s: {expected}"));
        }
        // Users or ops/s: either way more than any machine runs (users are far fewer).
        if target > MAX_RATE {
            return Err(format!(
                "stage `{part}` targets more than this machine can run: give at most {} ops/s, and users \
                 fewer still",
                show_number(MAX_RATE)
            ));
        }
        total = total.saturating_add(d);
        if total > MAX_DURATION {
            return Err(format!(
                "stage `{part}` ends more than 30 days after the start, the longest run: give shorter stages"
            ));
        }
        out.push(Stage {
            duration_ms: d.as_millis() as u64,
            target,
        });
    }
    Ok(out)
}

/// A switch: `1`/`true`/`yes` or `0`/`false`/`no`.
pub fn switch(s: &str) -> Result<bool, String> {
    match s.trim() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        _ => Err(format!("`{s}` is not a switch: expected 1 or 0")),
    }
}

/// A wall-clock time, as ms since the Unix epoch: RFC 3339 in UTC (`2026-12-02T10:00:00Z`,
/// fractions of a second allowed) or `@SECONDS` since the epoch (`date +@%s`).
///
/// A time more than [`MAX_START_AHEAD`] (a day) from now is refused: the users would wait for
/// it, doing nothing.
pub fn start_at(s: &str) -> Result<u64, String> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    start_at_from(s, now_ms)
}

/// [`start_at`] with the clock read by the caller: `now_ms`, ms since the Unix epoch.
pub fn start_at_from(s: &str, now_ms: u64) -> Result<u64, String> {
    let what = "give a time in UTC like 2026-12-02T10:00:00Z, or @SECONDS since the Unix epoch";
    let t = s.trim();
    let ms = if let Some(secs) = t.strip_prefix('@') {
        let secs: f64 = secs.parse().map_err(|_| format!("`{s}` is not a time: {what}"))?;
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(format!("`{s}` is not a time: {what}"));
        }
        // Compared as a float first: `@1e30` is beyond any u64 of ms.
        let ms = (secs * 1000.0).round();
        if ms > now_ms as f64 + MAX_START_AHEAD.as_millis() as f64 {
            return Err(too_far(s));
        }
        ms as u64
    } else {
        crate::utc::parse_rfc3339_ms(t).ok_or_else(|| format!("`{s}` is not a time: {what}"))?
    };
    if ms > now_ms.saturating_add(MAX_START_AHEAD.as_millis() as u64) {
        return Err(too_far(s));
    }
    Ok(ms)
}

fn too_far(s: &str) -> String {
    format!(
        "`{}` is more than a day from now: the users would wait until then; give a start within 24 hours",
        s.trim()
    )
}

/// Parses a `--dashboard` address: `HOST:PORT`, `:PORT` or `PORT` (loopback), an IP address
/// alone (port 0: any free one).
pub fn listen_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    let s = s.trim();
    let fix = "give HOST:PORT like 127.0.0.1:8080, a port like 8080, or 0.0.0.0:0 for every interface";
    if s.is_empty() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    }
    if let Ok(port) = s.trim_start_matches(':').parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 0));
    }
    s.parse::<std::net::SocketAddr>()
        .map_err(|_| format!("`{s}` is not an address to listen on: {fix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_the_suffixes_parameters_take() {
        assert_eq!(rate("2k"), Ok(2000.0));
        assert_eq!(rate(" 0.5 "), Ok(0.5));
        for bad in ["0", "-3", "NaN", "inf", "abc", ""] {
            assert!(rate(bad).is_err(), "{bad}");
        }
        assert!(rate("-3").unwrap_err().starts_with("`-3` is negative"));
    }

    #[test]
    fn shares_are_percentages_or_fractions_below_one() {
        assert_eq!(share("5%"), Ok(0.05));
        assert_eq!(share(" 12.5 % "), Ok(0.125));
        assert_eq!(share("0.05"), Ok(0.05));
        assert_eq!(share("0"), Ok(0.0));
        for bad in ["100%", "1", "-5%", "five", "%", "NaN"] {
            let e = share(bad).unwrap_err();
            assert!(e.starts_with(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn each_error_names_the_value_and_what_to_give() {
        let cases: [(Result<(), String>, &str); 9] = [
            (count("0").map(drop), "`0` is not above 0: give a whole number above 0"),
            (count("ten").map(drop), "`ten` is not a whole number"),
            (whole("-1").map(drop), "`-1` is negative"),
            (
                seed("abc").map(drop),
                "`abc` is not a seed: give a whole number from 0 to",
            ),
            (duration("0s").map(drop), "`0s` is no time: give a duration above 0"),
            (fraction("5").map(drop), "`5` is not a fraction: expected 0 to 1"),
            (users("0").map(drop), "`0` users: give a total above 0"),
            (batch("0..0").map(drop), "`0..0` would make batches of 0 rows"),
            (
                arrival("burst").map(drop),
                "`burst` is not an arrival: expected uniform or poisson",
            ),
        ];
        for (got, want) in cases {
            let e = got.unwrap_err();
            assert!(e.starts_with(want), "{e} | {want}");
            assert!(!e.contains('\n'), "{e}");
        }
        assert_eq!(duration_or_zero("0"), Ok(Duration::ZERO));
        assert_eq!(users("reader=4"), Ok(UserCounts::PerClass(vec![("reader".into(), 4)])));
        assert_eq!(switch("yes"), Ok(true));
    }

    #[test]
    fn start_times_more_than_a_day_ahead_are_refused() {
        let now = 1_796_212_800_000; // 2026-12-02T12:00:00Z
        assert_eq!(start_at_from("@1796212800", now), Ok(now));
        let in_a_day = format!("@{}", 1_796_212_800 + 24 * 3600);
        assert_eq!(start_at_from(&in_a_day, now), Ok(now + 86_400_000));
        let past = start_at_from("2026-12-01T10:00:00Z", now).unwrap();
        assert!(past < now, "a start in the past starts at once");
        for far in [
            "9999-12-31T23:59:59Z",
            "@1e30",
            "@1796299201",
            "2026-12-03T12:00:01Z",
            "@18446744073709551615",
        ] {
            let e = start_at_from(far, now).unwrap_err();
            assert!(e.contains("is more than a day from now"), "{far}: {e}");
            assert!(e.starts_with(&format!("`{far}`")), "{far}: {e}");
        }
    }

    #[test]
    fn fractions_take_percentages_too() {
        assert_eq!(fraction("0.01"), Ok(0.01));
        assert_eq!(fraction("1%"), Ok(0.01));
        assert_eq!(fraction(" 0.1 % "), Ok(0.001));
        assert_eq!(fraction("100%"), Ok(1.0));
        for bad in ["101%", "1.5", "-1%", "%", "NaN%", "x"] {
            assert!(fraction(bad).unwrap_err().contains("0% to 100%"), "{bad}");
        }
    }

    #[test]
    fn huge_values_are_refused_in_the_words_they_came_in() {
        let e = rate("1e308").unwrap_err();
        assert!(e.starts_with("`1e308` ops/s is more than"), "{e}");
        assert!(e.len() < 150, "{e}");
        let e = duration_or_zero("99999999999h").unwrap_err();
        assert!(e.starts_with("`99999999999h` is longer than 30 days"), "{e}");
        let e = stages("99999999999h:10").unwrap_err();
        assert!(e.contains("`99999999999h:10`") && e.contains("30 days"), "{e}");
        assert!(!e.contains(" ms"), "{e}");
        let e = stages("400h:10,400h:5").unwrap_err();
        assert!(e.contains("`400h:5` ends more than 30 days"), "{e}");
        let e = stages("1s:1e308").unwrap_err();
        assert!(e.contains("`1s:1e308` targets more than this machine can run"), "{e}");
        assert_eq!(show_number(1e308), "1e308");
        assert_eq!(show_number(2000.5), "2000.5");
    }

    #[test]
    fn backoffs_are_ranges_of_durations_with_units() {
        let ms = Duration::from_millis;
        assert_eq!(backoff("1ms..100ms"), Ok((ms(1), ms(100))));
        assert_eq!(backoff(" 5ms .. 2s "), Ok((ms(5), ms(2_000))));
        assert_eq!(backoff("1h..1h"), Ok((ms(3_600_000), ms(3_600_000))));
        assert_eq!(backoff("0..0"), Ok((Duration::ZERO, Duration::ZERO)));
        assert_eq!(backoff("0ms..0ms"), Ok((Duration::ZERO, Duration::ZERO)));
        for (bad, want) in [
            (
                "100ms..1ms",
                "`100ms..1ms` is an empty range: its minimum exceeds its maximum",
            ),
            ("1ms..2h", "`1ms..2h` waits longer than an hour"),
            ("61m..61m", "`61m..61m` waits longer than an hour"),
            ("0..100ms", "`0..100ms` would never wait"),
            ("5..100", "`5..100`: `5` has no unit"),
            ("1ms..100", "`1ms..100`: `100` has no unit"),
            ("-1ms..5ms", "`-1ms..5ms` is negative"),
            ("1ms", "`1ms` is not a range"),
            ("1ms..", "`1ms..` is not a range"),
            ("1.5ms..3ms", "`1.5ms..3ms` is not a range"),
            ("fast", "`fast` is not a range"),
        ] {
            let e = backoff(bad).unwrap_err();
            assert!(e.starts_with(want), "{bad}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
        assert!(backoff("5..100").unwrap_err().contains("like 1ms..100ms"));
    }

    #[test]
    fn start_times_read_utc_or_epoch_seconds() {
        let now = 1_796_212_800_000;
        assert_eq!(start_at_from("@1796212800", now), Ok(1_796_212_800_000));
        assert_eq!(
            start_at_from("2026-12-02T10:00:00Z", now),
            start_at_from("@1796205600", now)
        );
        for bad in ["@-5", "10:00", "2026-12-02T10:00:00+01:00", "@x"] {
            assert!(start_at(bad).unwrap_err().contains("give a time in UTC"), "{bad}");
        }
    }
}
