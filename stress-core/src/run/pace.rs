//! When a user runs its next op: closed loop (as soon as it can, after think time), or on an
//! open-loop schedule at a target rate; and whether the load stages let it run at all.

use std::time::{Duration, Instant};

use rand::Rng;

use super::signal::StopSignal;
use crate::config::{Arrival, Stage, stage_target};
use crate::seed::StressRng;

/// How long a parked user waits before it looks again.
const PARK: Duration = Duration::from_millis(10);

/// A user's share of the open-loop rate.
#[derive(Debug, Clone)]
pub(crate) enum Share {
    /// Closed loop.
    None,
    /// A fixed rate, ops/s.
    Fixed(f64),
    /// This fraction of the stage target (ops/s), as it ramps.
    Staged(f64),
}

/// Users-mode stages: the user runs while the target admits its rank.
#[derive(Debug, Clone)]
pub(crate) struct Gate {
    /// The user's position within its class, in (0, 1).
    pub(crate) rank: f64,
    /// The highest stage target (all users active).
    pub(crate) peak: f64,
}

/// What the user does next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Slot {
    /// Run an op; under a rate, with its intended start and how late it starts.
    Run { intended: Option<Instant>, lag: Duration },
    /// Skip this slot: it started later than the latency limit.
    Skip { lag: Duration },
    /// The stages park this user (or the rate is 0) for now.
    Park,
    /// The run stopped while waiting.
    Stop,
}

#[derive(Debug)]
pub(crate) struct Pace {
    pub(crate) share: Share,
    pub(crate) arrival: Arrival,
    pub(crate) rng: StressRng,
    pub(crate) stages: Vec<Stage>,
    pub(crate) gate: Option<Gate>,
    pub(crate) latency_limit: Option<Duration>,
    pub(crate) next: Option<Instant>,
}

impl Pace {
    /// Whether ops follow a schedule (think time does not apply then).
    pub(crate) fn open_loop(&self) -> bool {
        !matches!(self.share, Share::None)
    }

    fn rate(&self, at: Duration) -> Option<f64> {
        match self.share {
            Share::None => None,
            Share::Fixed(r) => Some(r),
            Share::Staged(fraction) => Some(stage_target(&self.stages, at).map_or(0.0, |(_, t)| t) * fraction),
        }
    }

    fn park(&mut self, signal: &StopSignal) -> Slot {
        // A schedule starts afresh after a pause: no burst of slots missed while parked.
        self.next = None;
        if signal.sleep(PARK) { Slot::Stop } else { Slot::Park }
    }

    /// Decides the next slot, sleeping until it is due.
    pub(crate) fn next(&mut self, start: Instant, signal: &StopSignal) -> Slot {
        // The closed loop without stages needs no clock: the common case stays cheap.
        if self.gate.is_none() && !self.open_loop() {
            return Slot::Run {
                intended: None,
                lag: Duration::ZERO,
            };
        }
        let now = Instant::now();
        let at = now.saturating_duration_since(start);
        if let Some(g) = &self.gate {
            let target = stage_target(&self.stages, at).map_or(g.peak, |(_, t)| t);
            if g.rank >= target / g.peak {
                return self.park(signal);
            }
        }
        let Some(rate) = self.rate(at) else {
            return Slot::Run {
                intended: None,
                lag: Duration::ZERO,
            };
        };
        if rate <= 0.0 {
            return self.park(signal);
        }
        let gap = match self.arrival {
            Arrival::Uniform => 1.0 / rate,
            Arrival::Poisson => -(1.0 - self.rng.random::<f64>()).ln() / rate,
        };
        let gap = Duration::from_secs_f64(gap.min(3600.0));
        let intended = match self.next {
            Some(t) => t,
            // A random phase, so that users on equal gaps do not start in lockstep.
            None => now + gap.mul_f64(self.rng.random::<f64>()),
        };
        self.next = Some(intended + gap);
        let now = Instant::now();
        if intended > now && signal.sleep(intended - now) {
            return Slot::Stop;
        }
        let lag = Instant::now().saturating_duration_since(intended);
        if self.latency_limit.is_some_and(|l| lag > l) {
            return Slot::Skip { lag };
        }
        Slot::Run {
            intended: Some(intended),
            lag,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(share: Share, arrival: Arrival) -> Pace {
        Pace {
            share,
            arrival,
            rng: crate::seed::rng(1),
            stages: Vec::new(),
            gate: None,
            latency_limit: None,
            next: None,
        }
    }

    #[test]
    fn closed_loop_runs_at_once() {
        let s = StopSignal::default();
        let mut p = pace(Share::None, Arrival::Poisson);
        assert!(matches!(p.next(Instant::now(), &s), Slot::Run { intended: None, .. }));
        assert!(!p.open_loop());
    }

    #[test]
    fn slots_follow_the_schedule_and_late_ones_can_be_skipped() {
        let s = StopSignal::default();
        let start = Instant::now();
        let mut p = pace(Share::Fixed(1000.0), Arrival::Uniform);
        let mut last = None;
        for _ in 0..5 {
            let Slot::Run { intended: Some(t), .. } = p.next(start, &s) else {
                panic!("a slot")
            };
            if let Some(prev) = last {
                assert_eq!(t - prev, Duration::from_millis(1), "uniform gaps of 1/rate");
            }
            last = Some(t);
        }
        // Fall far behind the schedule: with a latency limit the stale slot is skipped.
        p.latency_limit = Some(Duration::from_millis(5));
        p.next = Some(Instant::now() - Duration::from_millis(50));
        assert!(matches!(p.next(start, &s), Slot::Skip { lag } if lag >= Duration::from_millis(50)));
    }

    #[test]
    fn stages_park_users_beyond_the_target() {
        let s = StopSignal::default();
        let mut p = pace(Share::None, Arrival::Poisson);
        p.stages = vec![Stage {
            duration_ms: 60_000,
            target: 0.0,
        }];
        p.gate = Some(Gate { rank: 0.5, peak: 10.0 });
        assert_eq!(p.next(Instant::now(), &s), Slot::Park, "a target of 0 parks everyone");
        p.stages = vec![Stage {
            duration_ms: 1,
            target: 10.0,
        }];
        assert!(matches!(
            p.next(Instant::now() - Duration::from_secs(1), &s),
            Slot::Run { .. }
        ));
    }
}
