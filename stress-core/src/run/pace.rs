//! When a user runs its next op: closed loop (as soon as it can, after think time), or on an
//! open-loop schedule at a target rate; and whether the load stages let it run at all.
//!
//! An open-loop schedule is the inverse of the cumulative rate: with `Λ(t)` the ops due to a
//! user by time `t` (the integral of its share of the target rate, which the stages ramp
//! linearly), op `k` is due when `Λ(t)` reaches `w_k`, where `w_k` grows by 1 per op (uniform
//! arrivals) or by an exponential draw of mean 1 (Poisson arrivals: a non-homogeneous Poisson
//! process). A ramp from 0 therefore delivers what its integral says, to the op; taking the next
//! gap as `1/rate` at the moment of the last op instead would sleep through a ramp from 0.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;

use super::signal::StopSignal;
use crate::config::{Arrival, Stage};
use crate::seed::StressRng;

/// How long a parked user waits before it looks again.
const PARK: Duration = Duration::from_millis(10);
/// The furthest ahead a schedule looks for its next op: a rate that never comes back from 0
/// parks the user instead.
const HORIZON_S: f64 = 365.0 * 24.0 * 3600.0;

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
    /// The cumulative ops (`Λ`) at which the next op is due; `None`: draw a fresh phase from
    /// the schedule as it stands now (at the start, and after a backpressure pause, so that
    /// slots missed while paused do not come as a burst).
    pub(crate) next: Option<f64>,
    /// Slots handed out (run or skipped).
    pub(crate) slots: u64,
    /// Slots that came due while a backpressure pause held the user, never handed out.
    pub(crate) missed: u64,
    /// Where the schedule stood when a pause dropped it (`next` before the pause).
    pub(crate) paused_at: Option<f64>,
    /// For users that share the run's rate: the rate as controls change it, and this user's
    /// share of it (see [`super::control`]); `None` for the others.
    pub(crate) control: Option<(std::sync::Arc<RateControl>, f64)>,
    /// The control's version this schedule follows.
    pub(crate) control_seen: u64,
}

/// The target (users, or ops/s) `at` into the run: linear ramps from the previous stage's
/// target (0 before the first), holding the last one after the stages end.
pub(crate) fn stage_target(stages: &[Stage], at: Duration) -> Option<(usize, f64)> {
    let mut start = 0u64;
    let mut from = 0.0;
    let at = at.as_millis() as u64;
    for (i, s) in stages.iter().enumerate() {
        let end = start + s.duration_ms;
        if at < end {
            let f = (at - start) as f64 / s.duration_ms as f64;
            return Some((i, from + (s.target - from) * f));
        }
        (start, from) = (end, s.target);
    }
    stages.last().map(|s| (stages.len() - 1, s.target))
}

/// The ops a rate profile delivers from the start to `at`: the integral of `rate` (ops/s) over
/// linear stages, holding the last target after them.
pub(crate) fn cumulative(stages: &[Stage], scale: f64, at: f64) -> f64 {
    let (mut t, mut from, mut ops) = (0.0, 0.0, 0.0);
    for s in stages {
        let d = s.duration_ms as f64 / 1000.0;
        let to = s.target * scale;
        if at <= t + d {
            let tau = (at - t).max(0.0);
            return ops + from * tau + (to - from) * tau * tau / (2.0 * d);
        }
        ops += (from + to) * d / 2.0;
        (t, from) = (t + d, to);
    }
    ops + from * (at - t).max(0.0)
}

/// The inverse of [`cumulative`]: the time (s from the start) at which the profile has
/// delivered `w` ops; `None` when it never does (the rate stays 0).
pub(crate) fn time_of(stages: &[Stage], scale: f64, w: f64) -> Option<f64> {
    let (mut t, mut from, mut ops) = (0.0, 0.0, 0.0);
    for s in stages {
        let d = s.duration_ms as f64 / 1000.0;
        let to = s.target * scale;
        let area = (from + to) * d / 2.0;
        if w <= ops + area {
            let x = (w - ops).max(0.0);
            // Solves from·τ + (to − from)·τ²/(2d) = x for τ in [0, d], in the form that stays
            // exact when the ramp is flat or falls.
            let root = (from * from + 2.0 * (to - from) * x / d).max(0.0).sqrt();
            let tau = if from + root > 0.0 {
                2.0 * x / (from + root)
            } else {
                0.0
            };
            return Some(t + tau.min(d));
        }
        ops += area;
        (t, from) = (t + d, to);
    }
    (from > 0.0).then(|| t + (w - ops) / from)
}

impl Pace {
    /// Whether ops follow a schedule (think time does not apply then).
    pub(crate) fn open_loop(&self) -> bool {
        !matches!(self.share, Share::None)
    }

    /// A fixed rate is one flat stage, a staged one the stages scaled by this user's share.
    fn profile(&self) -> Option<(&[Stage], f64, f64)> {
        match self.share {
            Share::None => None,
            Share::Fixed(r) => Some((&[], 0.0, r)),
            Share::Staged(fraction) => Some((&self.stages, fraction, 0.0)),
        }
    }

    /// Drops the schedule after a backpressure pause: the next op draws a fresh phase, and
    /// the slots that came due while paused are counted as missed, not run as a burst.
    pub(crate) fn restart(&mut self) {
        if let Some(w) = self.next.take() {
            self.paused_at = Some(w);
        }
    }

    /// Slots of this schedule due from `w` (the next slot's position) up to `upto` ops: for
    /// Poisson arrivals the same draws `next` would make, from a copy of its RNG.
    fn due_from(&self, w: f64, upto: f64) -> u64 {
        if w > upto {
            return 0;
        }
        match self.arrival {
            Arrival::Uniform => (upto - w).floor() as u64 + 1,
            Arrival::Poisson => {
                let (mut rng, mut w, mut n) = (self.rng.clone(), w, 0);
                while w <= upto {
                    n += 1;
                    w += -(1.0 - rng.random::<f64>()).ln();
                }
                n
            }
        }
    }

    /// The slots this user's schedule made due from the start to `at`: those handed out, those
    /// missed while paused, and those due but not yet reached (a user behind its schedule);
    /// `None` in a closed loop. A user that kept up ran every one of them.
    pub(crate) fn scheduled(&self, at: Duration) -> Option<u64> {
        let done = self.due(at)?;
        let behind = match (self.next, self.paused_at) {
            (Some(w), _) | (None, Some(w)) => self.due_from(w, done),
            // Never started: the schedule's own count.
            (None, None) if self.slots == 0 => done.floor() as u64,
            (None, None) => 0,
        };
        Some(self.slots + self.missed + behind)
    }

    /// Ops due to this user from the start to `at` on its schedule; `None` in a closed loop.
    pub(crate) fn due(&self, at: Duration) -> Option<f64> {
        let (stages, scale, fixed) = self.profile()?;
        let at = at.as_secs_f64();
        Some(if stages.is_empty() {
            fixed * at
        } else {
            cumulative(stages, scale, at)
        })
    }

    /// When (from the start) the schedule reaches `w` ops.
    fn when(&self, w: f64) -> Option<f64> {
        let (stages, scale, fixed) = self.profile()?;
        if stages.is_empty() {
            (fixed > 0.0).then(|| w / fixed)
        } else {
            time_of(stages, scale, w)
        }
    }

    /// The schedule's step to the next op, in ops.
    fn step(&mut self) -> f64 {
        match self.arrival {
            Arrival::Uniform => 1.0,
            Arrival::Poisson => -(1.0 - self.rng.random::<f64>()).ln(),
        }
    }

    fn park(&mut self, signal: &StopSignal) -> Slot {
        if signal.sleep(PARK) { Slot::Stop } else { Slot::Park }
    }

    /// Decides the next slot, sleeping until it is due.
    #[inline]
    pub(crate) fn next(&mut self, start: Instant, signal: &StopSignal) -> Slot {
        // The closed loop without stages needs no clock: the common case stays cheap (and
        // inlined into the user loop).
        if self.gate.is_none() && !self.open_loop() {
            return Slot::Run {
                intended: None,
                lag: Duration::ZERO,
            };
        }
        self.next_paced(start, signal)
    }

    /// `next` under a schedule or stages.
    fn next_paced(&mut self, start: Instant, signal: &StopSignal) -> Slot {
        if let Some((c, fraction)) = &self.control {
            let v = c.version();
            if v != self.control_seen {
                // The rate changed: the run's profile with the changes, this user's share of it.
                self.control_seen = v;
                self.stages = c.stages();
                self.share = Share::Staged(*fraction);
            }
        }
        let now = Instant::now();
        let at = now.saturating_duration_since(start);
        if let Some(g) = &self.gate {
            let target = stage_target(&self.stages, at).map_or(g.peak, |(_, t)| t);
            if g.rank >= target / g.peak {
                // A schedule starts afresh after a pause: no burst of slots missed while parked.
                self.next = None;
                return self.park(signal);
            }
        }
        let Some(done) = self.due(at) else {
            return Slot::Run {
                intended: None,
                lag: Duration::ZERO,
            };
        };
        let w = match self.next {
            Some(w) => w,
            // A random phase within the first step, so that users on equal gaps do not start
            // in lockstep.
            None => {
                if let Some(paused) = self.paused_at.take() {
                    self.missed += self.due_from(paused, done);
                }
                let step = self.step();
                done + step * self.rng.random::<f64>()
            }
        };
        let Some(due_s) = self.when(w).filter(|s| *s < HORIZON_S) else {
            // The rate is 0 from here on: nothing is due until the run ends.
            return self.park(signal);
        };
        let intended = start + Duration::from_secs_f64(due_s);
        let step = self.step();
        self.next = Some(w + step);
        let now = Instant::now();
        if intended > now && signal.sleep(intended - now) {
            return Slot::Stop;
        }
        let lag = Instant::now().saturating_duration_since(intended);
        self.slots += 1;
        if self.latency_limit.is_some_and(|l| lag > l) {
            return Slot::Skip { lag };
        }
        Slot::Run {
            intended: Some(intended),
            lag,
        }
    }
}

/// The target rate as controls changed it, read by the users whose share follows the run's
/// rate: a version number (one atomic load in the pace, under a rate only) and the changes.
#[derive(Debug)]
pub(crate) struct RateControl {
    pub(super) version: AtomicU64,
    /// The run's own rate profile: its stages, or one flat stage of `--rate`.
    pub(super) base: Vec<Stage>,
    /// (ms after the start, ops/s), in order.
    pub(super) changes: Mutex<Vec<(u64, f64)>>,
}

impl RateControl {
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The profile of the whole run's rate (ops/s over its users) with the changes so far: the
    /// run's own until the first change, then each change (a 1 ms ramp) held until the next.
    pub(crate) fn stages(&self) -> Vec<Stage> {
        let changes = self.changes.lock().map(|c| c.clone()).unwrap_or_default();
        with_changes(&self.base, &changes)
    }
}

/// `base` cut at the first change, then the changes, each held until the next.
pub(crate) fn with_changes(base: &[Stage], changes: &[(u64, f64)]) -> Vec<Stage> {
    let Some(&(first, _)) = changes.first() else {
        return base.to_vec();
    };
    let mut out = Vec::new();
    let mut start = 0u64;
    let mut last = 0.0;
    for s in base {
        if start >= first {
            break;
        }
        let end = start + s.duration_ms;
        if end <= first {
            out.push(*s);
            last = s.target;
        } else {
            let at = stage_target(base, Duration::from_millis(first)).map_or(s.target, |(_, t)| t);
            out.push(Stage {
                duration_ms: first - start,
                target: at,
            });
            last = at;
        }
        start = end.min(first);
    }
    if start < first {
        out.push(Stage {
            duration_ms: first - start,
            target: last,
        });
    }
    for (i, &(at, rate)) in changes.iter().enumerate() {
        out.push(Stage {
            duration_ms: 1,
            target: rate,
        });
        if let Some(&(next, _)) = changes.get(i + 1) {
            out.push(Stage {
                duration_ms: next.saturating_sub(at + 1).max(1),
                target: rate,
            });
        }
    }
    out
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
            slots: 0,
            missed: 0,
            paused_at: None,
            control: None,
            control_seen: 0,
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
        p.next = Some(0.0);
        let late = Instant::now() - Duration::from_millis(50);
        assert!(matches!(p.next(late, &s), Slot::Skip { lag } if lag >= Duration::from_millis(50)));
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

    fn stages(spec: &str) -> Vec<Stage> {
        crate::config::parse_stages(spec).unwrap()
    }

    #[test]
    fn the_cumulative_rate_is_the_integral_of_the_ramps() {
        let ramp = stages("4s:1000");
        assert_eq!(cumulative(&ramp, 1.0, 0.0), 0.0);
        assert_eq!(
            cumulative(&ramp, 1.0, 2.0),
            500.0,
            "a quarter of the ramp's area by half-time"
        );
        assert_eq!(cumulative(&ramp, 1.0, 4.0), 2000.0);
        assert_eq!(
            cumulative(&ramp, 1.0, 5.0),
            3000.0,
            "the last target holds after the stages"
        );
        assert_eq!(cumulative(&ramp, 0.25, 4.0), 500.0, "a user's share scales it");
        let step = stages("1s:1000,3s:1000");
        assert_eq!(cumulative(&step, 1.0, 4.0), 3500.0);
        let up_down = stages("2s:100,2s:0");
        assert_eq!(cumulative(&up_down, 1.0, 4.0), 200.0);
        assert_eq!(
            cumulative(&up_down, 1.0, 100.0),
            200.0,
            "nothing after a ramp down to 0"
        );
    }

    #[test]
    fn the_schedule_inverts_the_cumulative_rate() {
        for spec in ["4s:1000", "1s:1000,3s:1000", "2s:100,2s:0", "1s:0,1s:50,3s:50,1s:400"] {
            let st = stages(spec);
            let total = cumulative(&st, 1.0, 6.0);
            let mut w = 0.0;
            while w < total {
                let t = time_of(&st, 1.0, w).unwrap_or_else(|| panic!("{spec}: op {w} is reached"));
                let back = cumulative(&st, 1.0, t);
                assert!((back - w).abs() < 1e-6 * w.max(1.0), "{spec}: Λ(Λ⁻¹({w})) = {back}");
                w += 0.37;
            }
        }
        assert_eq!(time_of(&stages("4s:1000"), 1.0, 500.0), Some(2.0));
        assert_eq!(
            time_of(&stages("2s:100,2s:0"), 1.0, 200.5),
            None,
            "a rate back at 0 never gets there"
        );
        assert_eq!(time_of(&stages("1s:0,1s:0"), 1.0, 0.5), None);
    }

    #[test]
    fn a_ramp_from_zero_is_due_in_full() {
        // The first op of a ramp from 0 is due when the ramp's integral reaches it, not 1/rate
        // after the start (which is infinite at rate 0).
        let mut p = pace(Share::Staged(1.0), Arrival::Uniform);
        p.stages = stages("4s:1000");
        assert_eq!(p.due(Duration::from_secs(4)), Some(2000.0));
        assert!(p.when(1.0).unwrap() < 0.1, "op 1 of 2000 is due early in the ramp");
        let mut poisson = pace(Share::Staged(0.5), Arrival::Poisson);
        poisson.stages = stages("4s:1000");
        assert_eq!(poisson.due(Duration::from_secs(4)), Some(1000.0));
        assert_eq!(pace(Share::None, Arrival::Uniform).due(Duration::from_secs(4)), None);
    }

    #[test]
    fn the_scheduled_count_is_the_slots_the_schedule_hands_out() {
        let s = StopSignal::default();
        for arrival in [Arrival::Uniform, Arrival::Poisson] {
            // A user 2 s behind a 500 ops/s schedule: every slot is already due, so none sleeps.
            let start = Instant::now() - Duration::from_secs(2);
            let mut p = pace(Share::Fixed(500.0), arrival);
            p.next = Some(0.0);
            for _ in 0..10 {
                assert!(matches!(p.next(start, &s), Slot::Run { .. }));
            }
            let one_s = Duration::from_secs(1);
            let said = p.scheduled(one_s).unwrap();
            // Hand the rest out: the slots due by 1 s are exactly the count it gave.
            let mut handed = 10;
            loop {
                let Slot::Run { intended: Some(t), .. } = p.next(start, &s) else {
                    panic!("a slot")
                };
                if t > start + one_s {
                    break;
                }
                handed += 1;
            }
            assert_eq!(said, handed, "{arrival:?}");
            assert!((400..600).contains(&said), "{arrival:?}: about 500 due in 1 s: {said}");
        }
    }

    #[test]
    fn slots_due_during_a_pause_are_missed_not_run_late() {
        let s = StopSignal::default();
        let start = Instant::now() - Duration::from_secs(1);
        let mut p = pace(Share::Fixed(100.0), Arrival::Uniform);
        p.next = Some(0.0);
        assert!(matches!(p.next(start, &s), Slot::Run { .. }));
        // Paused for the rest of the second: about 100 slots came due while held.
        p.restart();
        let Slot::Run { lag, .. } = p.next(start, &s) else {
            panic!("a slot")
        };
        assert!(
            lag < Duration::from_millis(20),
            "a fresh phase, not a stale slot: {lag:?}"
        );
        assert_eq!(p.slots, 2);
        assert!((95..=101).contains(&p.missed), "{}", p.missed);
        let at = start.elapsed();
        assert!(p.scheduled(at).unwrap() >= p.slots + p.missed);
    }
}
