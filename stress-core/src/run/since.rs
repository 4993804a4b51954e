//! The user loop's clock: nanoseconds since the users' start as one `u64`, read straight from
//! `CLOCK_MONOTONIC` on Linux (the clock `Instant` reads there) without `Instant`'s checked
//! `timespec` arithmetic, so that an op costs one clock read and a subtraction. Elsewhere it is
//! `Instant` itself.

use std::time::{Duration, Instant};

/// Nanoseconds in a second.
pub(crate) const NS_PER_S: u64 = 1_000_000_000;

/// The users' start, as the loop reads the time since it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Since {
    start: Instant,
    /// The raw clock's reading at `start` (Linux).
    #[cfg(target_os = "linux")]
    origin_ns: u64,
}

impl Since {
    pub(crate) fn new(start: Instant) -> Self {
        #[cfg(target_os = "linux")]
        {
            // The raw clock read just after an `Instant`: the origin is `start` on the raw
            // clock, late by the few nanoseconds between the two reads (never early, so no
            // time since the start is ever negative).
            let elapsed = ns(Instant::now().saturating_duration_since(start));
            let origin_ns = raw_ns().saturating_sub(elapsed);
            Self { start, origin_ns }
        }
        #[cfg(not(target_os = "linux"))]
        Self { start }
    }

    /// Nanoseconds since the start, now.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        #[cfg(target_os = "linux")]
        {
            raw_ns().saturating_sub(self.origin_ns)
        }
        #[cfg(not(target_os = "linux"))]
        ns(self.start.elapsed())
    }

    /// Nanoseconds from the start to `t` (0 before it).
    pub(crate) fn of(&self, t: Instant) -> u64 {
        ns(t.saturating_duration_since(self.start))
    }
}

/// A duration in nanoseconds, `u64::MAX` beyond 584 years.
pub(crate) fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(target_os = "linux")]
#[inline]
fn raw_ns() -> u64 {
    // CLOCK_MONOTONIC cannot fail on Linux; were it to, the loop would see the start again.
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        (t.tv_sec() as u64)
            .wrapping_mul(NS_PER_S)
            .wrapping_add(t.tv_nsec() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_raw_clock_counts_from_the_start_and_never_ahead_of_instant() {
        let start = Instant::now();
        let since = Since::new(start);
        let a = since.now();
        std::thread::sleep(Duration::from_millis(2));
        let b = since.now();
        let after = ns(start.elapsed());
        // Never ahead of `Instant` (the origin is never early), and it counts a sleep in full.
        assert!(b <= after, "{b} > {after}");
        assert!(b - a >= 2_000_000, "{a} then {b}");
        assert_eq!(since.of(start), 0);
        assert_eq!(since.of(start - Duration::from_secs(1)), 0, "before the start is 0");
        assert_eq!(since.of(start + Duration::from_secs(2)), 2 * NS_PER_S);
    }
}
