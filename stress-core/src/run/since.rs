//! The user loop's clock: nanoseconds since the users' start as one `u64`, so that an op costs
//! one clock read and a subtraction. Elsewhere it is `Instant` itself.
//!
//! Where the kernel itself keeps time with the CPU's time-stamp counter (x86-64 with the `tsc`
//! clocksource: the kernel has checked that the counter is invariant and in step across CPUs),
//! the loop reads the counter (`rdtsc`, ~10 ns here) instead of `clock_gettime` (~23 ns: the
//! vDSO reads the same counter and converts it under a sequence lock). The counter is turned into
//! nanoseconds by a rate taken against `CLOCK_MONOTONIC` (the clock `Instant` reads on Linux),
//! and kept on it: about once a second the user compares the two clocks and sets the next
//! second's rate so that the difference is gone by its end, without a step (times stay
//! continuous and never go back). An op's latency is a difference of two readings, so it is
//! exact to the rate's error (parts per million at first, less than one in ten million after a
//! second); a reading stays within microseconds of what `Instant` would say, which is what the
//! times shared with the rest of the run (intervals, stall stamps, deadlines) need.
//! Elsewhere the loop reads `CLOCK_MONOTONIC` itself, without `Instant`'s `timespec` arithmetic.

use std::time::{Duration, Instant};

/// Nanoseconds in a second.
pub(crate) const NS_PER_S: u64 = 1_000_000_000;

/// Measures the time-stamp counter's rate now, where the loop will read it: once per process,
/// a few milliseconds, before the users start (so that none of them waits for it).
pub(crate) fn prepare() {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    let _ = tsc::rate();
}

/// The users' start, as the loop reads the time since it.
#[derive(Debug, Clone)]
pub(crate) struct Since {
    start: Instant,
    /// The raw clock's reading at `start` (Linux).
    #[cfg(target_os = "linux")]
    origin_ns: u64,
    /// The time-stamp counter, where the loop reads it.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    tsc: Option<std::cell::Cell<tsc::Mapping>>,
}

impl Since {
    pub(crate) fn new(start: Instant) -> Self {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        return Self::reading(start, tsc::rate());
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        Self::reading(start, None)
    }

    /// The clock from `start`, reading the time-stamp counter at `rate` (ns per tick × 2^32)
    /// when there is one, else `CLOCK_MONOTONIC`.
    fn reading(start: Instant, rate: Option<u64>) -> Self {
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        let _ = rate;
        #[cfg(target_os = "linux")]
        {
            // The raw clock read just after an `Instant`: the origin is `start` on the raw
            // clock, late by the few nanoseconds between the two reads (never early, so no
            // time since the start is ever negative).
            let elapsed = ns(Instant::now().saturating_duration_since(start));
            let origin_ns = raw_ns().saturating_sub(elapsed);
            Self {
                start,
                origin_ns,
                #[cfg(target_arch = "x86_64")]
                tsc: rate.map(|rate| {
                    let (counter, mono) = tsc::pair();
                    std::cell::Cell::new(tsc::Mapping::new(counter, mono.saturating_sub(origin_ns), rate))
                }),
            }
        }
        #[cfg(not(target_os = "linux"))]
        Self { start }
    }

    /// Nanoseconds since the start, now.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        if let Some(cell) = &self.tsc {
            let counter = tsc::read();
            let m = cell.get();
            if counter.wrapping_sub(m.anchor) < m.period {
                return m.at(counter);
            }
            return self.steer(cell, counter);
        }
        #[cfg(target_os = "linux")]
        {
            raw_ns().saturating_sub(self.origin_ns)
        }
        #[cfg(not(target_os = "linux"))]
        ns(self.start.elapsed())
    }

    /// The counter's second is over: its reading, and the next second's rate set against
    /// `CLOCK_MONOTONIC`.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[cold]
    #[inline(never)]
    fn steer(&self, cell: &std::cell::Cell<tsc::Mapping>, counter: u64) -> u64 {
        let mut m = cell.get();
        let at = m.at(counter);
        let (counter, mono) = tsc::pair();
        m.steer(counter, mono.saturating_sub(self.origin_ns));
        cell.set(m);
        at.max(m.at(counter))
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

/// The time-stamp counter as the loop's clock (see the module's comment).
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod tsc {
    use std::sync::OnceLock;
    use std::time::Duration;

    use super::{NS_PER_S, raw_ns};

    /// Fixed-point fraction bits of a rate (nanoseconds per tick × 2^32).
    const FRAC: u32 = 32;
    /// How much a second's rate may lean to close the gap to `CLOCK_MONOTONIC`: a thousandth.
    const MAX_LEAN: f64 = 1e-3;

    /// `a / b × 2^32`: nanoseconds per tick (× 2^32) from nanoseconds over ticks, and ticks in
    /// a second from a second over such a rate.
    fn ratio(a: u64, b: u64) -> u64 {
        ((u128::from(a) << FRAC) / u128::from(b.max(1))) as u64
    }

    /// The counter now.
    #[inline]
    #[expect(
        unsafe_code,
        reason = "the workspace's one unsafe call: `_rdtsc` is an intrinsic, unsafe by kind, with nothing to uphold"
    )]
    pub(super) fn read() -> u64 {
        // SAFETY: `rdtsc` reads a register every x86-64 CPU has; it touches no memory and
        // has no precondition.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    /// The counter and `CLOCK_MONOTONIC` read together: the counter's reading is the middle
    /// of two around the clock's, from the closest of three tries.
    pub(super) fn pair() -> (u64, u64) {
        let mut best = (u64::MAX, 0, 0);
        for _ in 0..3 {
            let a = read();
            let mono = raw_ns();
            let b = read();
            let width = b.wrapping_sub(a);
            if width < best.0 {
                best = (width, a + width / 2, mono);
            }
        }
        (best.1, best.2)
    }

    /// The counter's rate in nanoseconds per tick (× 2^32), measured once per process over a
    /// few milliseconds against `CLOCK_MONOTONIC`; `None` where the kernel does not keep time
    /// with the counter (a virtual machine's `kvm-clock`, say), so the loop reads the clock.
    pub(super) fn rate() -> Option<u64> {
        static RATE: OnceLock<Option<u64>> = OnceLock::new();
        *RATE.get_or_init(|| {
            let source =
                std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource").ok()?;
            if source.trim() != "tsc" {
                return None;
            }
            let (c0, m0) = pair();
            std::thread::sleep(Duration::from_millis(5));
            let (c1, m1) = pair();
            let (ticks, nanos) = (c1.checked_sub(c0)?, m1.checked_sub(m0)?);
            if ticks == 0 || nanos == 0 {
                return None;
            }
            let rate = ratio(nanos, ticks);
            // A counter of 100 MHz to 20 GHz: anything else is not a time-stamp counter.
            let per_tick = rate as f64 / (1u64 << FRAC) as f64;
            (0.05..=10.0).contains(&per_tick).then_some(rate)
        })
    }

    /// How the counter maps to nanoseconds since the start for one user: from an anchor, at a
    /// rate, for about a second.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Mapping {
        /// The counter at the anchor.
        pub(super) anchor: u64,
        /// Nanoseconds since the start at the anchor.
        anchor_ns: u64,
        /// Nanoseconds per tick × 2^32, this second.
        rate: u64,
        /// Ticks until the next steer (about a second).
        pub(super) period: u64,
        /// The counter and `CLOCK_MONOTONIC` at the first anchor: the long baseline the base
        /// rate is measured over.
        first: (u64, u64),
        /// The rate measured over the long baseline (× 2^32).
        base: u64,
    }

    impl Mapping {
        pub(super) fn new(counter: u64, mono_ns: u64, rate: u64) -> Self {
            Self {
                anchor: counter,
                anchor_ns: mono_ns,
                rate,
                period: ratio(NS_PER_S, rate),
                first: (counter, mono_ns),
                base: rate,
            }
        }

        /// Nanoseconds since the start at `counter` (at or after the anchor).
        #[inline]
        pub(super) fn at(&self, counter: u64) -> u64 {
            let ticks = counter.saturating_sub(self.anchor);
            self.anchor_ns
                .saturating_add(((u128::from(ticks) * u128::from(self.rate)) >> FRAC) as u64)
        }

        /// A new anchor at `counter`, where `CLOCK_MONOTONIC` said `mono_ns`: the mapping goes
        /// on from where it was (no step), at the base rate measured since the first anchor,
        /// leaning by what closes the gap to `mono_ns` over the next second.
        pub(super) fn steer(&mut self, counter: u64, mono_ns: u64) {
            let here = self.at(counter);
            let (ticks, nanos) = (
                counter.saturating_sub(self.first.0),
                mono_ns.saturating_sub(self.first.1),
            );
            if ticks > 0 && nanos > 0 {
                self.base = ratio(nanos, ticks);
            }
            let gap = (mono_ns as f64 - here as f64) / NS_PER_S as f64;
            let lean = gap.clamp(-MAX_LEAN, MAX_LEAN);
            self.rate = ((self.base as f64) * (1.0 + lean)) as u64;
            self.anchor = counter;
            self.anchor_ns = here;
            self.period = ratio(NS_PER_S, self.base);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// A counter of 3 GHz (1/3 ns a tick) seen through a rate measured 50 ppm too fast.
        #[test]
        fn a_wrong_rate_is_steered_onto_the_clock_without_a_step_or_a_turn_back() {
            let true_rate = ((1u128 << FRAC) / 3) as u64;
            let wrong = (true_rate as f64 * (1.0 + 50e-6)) as u64;
            let mut m = Mapping::new(0, 0, wrong);
            let mono = |counter: u64| counter / 3;
            let mut last = 0;
            let mut counter = 0u64;
            let mut gaps = Vec::new();
            for _ in 0..5 {
                // A second of readings, then a steer.
                counter += m.period;
                let before = m.at(counter);
                assert!(before >= last, "never back");
                m.steer(counter, mono(counter));
                let after = m.at(counter);
                assert_eq!(before, after, "no step at the steer");
                last = after;
                gaps.push(after as i64 - mono(counter) as i64);
            }
            // 50 ppm over the first second: 50 µs ahead; then the gap closes and stays closed.
            assert!((49_000..=51_000).contains(&gaps[0]), "{gaps:?}");
            for g in &gaps[2..] {
                assert!(g.abs() < 1_000, "within a microsecond after two seconds: {gaps:?}");
            }
        }

        #[test]
        fn the_kernels_counter_rate_is_measured_or_refused() {
            let source = std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
                .unwrap_or_default();
            match rate() {
                Some(r) => {
                    assert_eq!(source.trim(), "tsc");
                    assert!(r > 0);
                }
                None => assert_ne!(source.trim(), "tsc"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loops_clock_counts_from_the_start_and_keeps_to_instant() {
        let start = Instant::now();
        let since = Since::new(start);
        let a = since.now();
        std::thread::sleep(Duration::from_millis(2));
        let b = since.now();
        let after = ns(start.elapsed());
        // It counts a sleep in full, and stays on `Instant`'s time (the counter's rate is
        // measured against it: within a few microseconds here).
        assert!(b - a >= 2_000_000, "{a} then {b}");
        assert!(b <= after + 50_000, "{b} is ahead of Instant's {after}");
        assert_eq!(since.of(start), 0);
        assert_eq!(since.of(start - Duration::from_secs(1)), 0, "before the start is 0");
        assert_eq!(since.of(start + Duration::from_secs(2)), 2 * NS_PER_S);
    }

    #[test]
    fn without_the_counter_it_reads_the_clock_from_the_start() {
        let start = Instant::now();
        let since = Since::reading(start, None);
        let a = since.now();
        std::thread::sleep(Duration::from_millis(2));
        let b = since.now();
        let after = ns(start.elapsed());
        // Never ahead of `Instant` (the origin is never early), and it counts a sleep in full.
        assert!(b <= after, "{b} > {after}");
        assert!(b - a >= 2_000_000, "{a} then {b}");
    }

    #[test]
    fn over_seconds_of_reads_it_never_goes_back_and_stays_on_instant() {
        let start = Instant::now();
        let since = Since::new(start);
        let mut last = 0;
        let mut worst = 0i64;
        let until = start + Duration::from_millis(2_500);
        let mut reads = 0u64;
        while Instant::now() < until {
            let before = ns(start.elapsed()) as i64;
            let t = since.now();
            let after = ns(start.elapsed()) as i64;
            assert!(t >= last, "read {reads}: {t} after {last}");
            last = t;
            // Outside the two `Instant` readings around it by how much?
            let off = if (t as i64) < before {
                before - t as i64
            } else {
                (t as i64 - after).max(0)
            };
            worst = worst.max(off);
            reads += 1;
            if reads.is_multiple_of(1024) {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        // Through two steers (one a second) it stays within 100 µs of `Instant` (the rate's
        // first measurement, over 5 ms, is good to a few parts per million).
        assert!(worst < 100_000, "{worst} ns off Instant over {reads} reads");
    }
}
