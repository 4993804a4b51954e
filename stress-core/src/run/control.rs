//! Controls of a run from outside it while its users run (the dashboard's buttons): pause and
//! resume the users, change the target rate, stop the run. Each is applied through the run's
//! own machinery (the users' pause flag, the pace's schedule, the stop signal) and recorded
//! with its offset from the users' start; `replay.json` keeps them, and a replay applies them
//! again at the same offsets.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::shared::Shared;
use super::signal::StopReason;
use crate::config::Stage;

/// What a control does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ControlAction {
    /// Hold every user before its next op.
    Pause,
    /// Let them go on.
    Resume,
    /// A new target rate, ops/s over the users that share the run's rate (`--rate`).
    Rate {
        /// Ops/s.
        ops_per_sec: f64,
    },
    /// Stop the run (as Ctrl-C does: its reports are written, and it counts as interrupted).
    Stop,
}

/// A control as it was applied: when (ms after the users started) and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Control {
    /// Ms after the users started.
    pub at_ms: u64,
    /// What it did.
    #[serde(flatten)]
    pub action: ControlAction,
}

impl Control {
    /// One line for people: `rate 500 ops/s at 3.2s`.
    pub fn human(&self) -> String {
        let at = self.at_ms as f64 / 1000.0;
        match &self.action {
            ControlAction::Pause => format!("paused by hand at {at:.1}s"),
            ControlAction::Resume => format!("resumed by hand at {at:.1}s"),
            ControlAction::Rate { ops_per_sec } => format!("rate set to {ops_per_sec} ops/s at {at:.1}s"),
            ControlAction::Stop => format!("stopped by hand at {at:.1}s"),
        }
    }

    /// Refuses a recorded control that cannot be applied to a run of `duration_ms`.
    pub fn check(&self, rate: Option<f64>) -> Result<(), String> {
        if let ControlAction::Rate { ops_per_sec } = self.action {
            if rate.is_none() {
                return Err("a rate control in a run without a rate (--rate)".into());
            }
            if !(ops_per_sec.is_finite() && ops_per_sec > 0.0 && ops_per_sec <= 1e9) {
                return Err(format!(
                    "a rate control of {ops_per_sec} ops/s (expected above 0, at most 1e9)"
                ));
            }
        }
        if u128::from(self.at_ms) > crate::config::values::MAX_DURATION.as_millis() {
            return Err(format!("a control at {} ms, past the longest run", self.at_ms));
        }
        Ok(())
    }
}

/// The target rate as controls changed it, read by the users whose share follows the run's
/// rate: a version number (one atomic load in the pace, under a rate only) and the changes.
#[derive(Debug)]
pub(crate) struct RateControl {
    version: AtomicU64,
    /// The run's own rate profile: its stages, or one flat stage of `--rate`.
    base: Vec<Stage>,
    /// (ms after the start, ops/s), in order.
    changes: Mutex<Vec<(u64, f64)>>,
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
            let at = super::pace::stage_target(base, Duration::from_millis(first)).map_or(s.target, |(_, t)| t);
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

/// The run's controls: applied from the dashboard as they come, or from a replay's record at
/// their offsets; every one applied is kept for `replay.json`.
pub struct ControlHub {
    rate: Option<Arc<RateControl>>,
    attached: Mutex<Option<(Arc<Shared>, Instant)>>,
    applied: Mutex<Vec<Control>>,
    recorded: Vec<Control>,
    over: Arc<AtomicBool>,
}

impl std::fmt::Debug for ControlHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlHub")
            .field("applied", &self.applied())
            .field("recorded", &self.recorded)
            .finish_non_exhaustive()
    }
}

impl ControlHub {
    /// For a run of this rate and stages, replaying `recorded` (empty for a new run).
    pub(crate) fn new(rate: Option<f64>, stages: &[Stage], recorded: Vec<Control>) -> Self {
        let base = match (rate, stages.is_empty()) {
            (Some(r), true) => vec![Stage {
                duration_ms: 1,
                target: r,
            }],
            (Some(_), false) => stages.to_vec(),
            (None, _) => Vec::new(),
        };
        Self {
            rate: rate.map(|_| {
                Arc::new(RateControl {
                    version: AtomicU64::new(0),
                    base,
                    changes: Mutex::new(Vec::new()),
                })
            }),
            attached: Mutex::new(None),
            applied: Mutex::new(Vec::new()),
            recorded,
            over: Arc::new(AtomicBool::new(false)),
        }
    }

    /// What the users that share the run's rate follow.
    pub(crate) fn rate(&self) -> Option<Arc<RateControl>> {
        self.rate.clone()
    }

    /// The users started at `start`: controls apply from now on; a replay's recorded controls
    /// are applied at their offsets by a thread of their own.
    pub(crate) fn attach(
        self: &Arc<Self>,
        shared: &Arc<Shared>,
        start: Instant,
    ) -> Option<std::thread::JoinHandle<()>> {
        if let Ok(mut a) = self.attached.lock() {
            *a = Some((Arc::clone(shared), start));
        }
        if self.recorded.is_empty() {
            return None;
        }
        let hub = Arc::clone(self);
        std::thread::Builder::new()
            .name("stress-controls".into())
            .spawn(move || {
                for c in hub.recorded.clone() {
                    let due = start + Duration::from_millis(c.at_ms);
                    while Instant::now() < due {
                        if hub.over.load(Ordering::SeqCst) {
                            return;
                        }
                        std::thread::park_timeout(
                            due.saturating_duration_since(Instant::now())
                                .min(Duration::from_millis(50)),
                        );
                    }
                    let _ = hub.apply_at(c.action, c.at_ms);
                }
            })
            .ok()
    }

    /// The users' time is over: no control applies after it.
    pub(crate) fn detach(&self, replayer: Option<std::thread::JoinHandle<()>>) {
        self.over.store(true, Ordering::SeqCst);
        if let Some(t) = replayer {
            t.thread().unpark();
            let _ = t.join();
        }
        if let Ok(mut a) = self.attached.lock() {
            *a = None;
        }
    }

    /// Applies `action` now; `Err` says why it cannot be (the users have not started or have
    /// stopped, a rate control in a run without a rate).
    pub fn apply(&self, action: ControlAction) -> Result<Control, String> {
        let at_ms = match self
            .attached
            .lock()
            .ok()
            .and_then(|a| a.as_ref().map(|(_, s)| s.elapsed()))
        {
            Some(e) => e.as_millis() as u64,
            None => return Err("the users are not running".into()),
        };
        self.apply_at(action, at_ms)
    }

    fn apply_at(&self, action: ControlAction, at_ms: u64) -> Result<Control, String> {
        let control = Control { at_ms, action };
        control.check(self.rate.as_ref().map(|_| 0.0))?;
        let attached = self.attached.lock().map_err(|_| "poisoned".to_owned())?;
        let Some((shared, _)) = attached.as_ref() else {
            return Err("the users are not running".into());
        };
        if self.over.load(Ordering::SeqCst) {
            return Err("the users have stopped".into());
        }
        match &control.action {
            ControlAction::Pause => shared.paused.store(true, Ordering::Relaxed),
            ControlAction::Resume => shared.paused.store(false, Ordering::Relaxed),
            ControlAction::Rate { ops_per_sec } => {
                let rate = self
                    .rate
                    .as_ref()
                    .ok_or("the run has no target rate (--rate) to change")?;
                if let Ok(mut c) = rate.changes.lock() {
                    c.push((at_ms, *ops_per_sec));
                }
                rate.version.fetch_add(1, Ordering::AcqRel);
            }
            ControlAction::Stop => shared.signal.stop(StopReason::Interrupted, Some(control.human())),
        }
        if let Ok(mut a) = self.applied.lock() {
            a.push(control.clone());
        }
        Ok(control)
    }

    /// Every control applied, in order.
    pub fn applied(&self) -> Vec<Control> {
        self.applied.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(d: u64, t: f64) -> Stage {
        Stage {
            duration_ms: d,
            target: t,
        }
    }

    #[test]
    fn a_change_cuts_the_profile_and_holds_until_the_next() {
        let flat = [st(1, 100.0)];
        assert_eq!(with_changes(&flat, &[]), flat.to_vec());
        assert_eq!(
            with_changes(&flat, &[(3000, 500.0), (5000, 50.0)]),
            [
                st(1, 100.0),
                st(2999, 100.0),
                st(1, 500.0),
                st(1999, 500.0),
                st(1, 50.0)
            ]
        );
        // A ramp cut in its middle ends at the target it had reached.
        let ramp = [st(10_000, 1000.0), st(10_000, 1000.0)];
        assert_eq!(with_changes(&ramp, &[(5000, 10.0)]), [st(5000, 500.0), st(1, 10.0)]);
        // The cumulative rate of the changed profile: 100 ops/s for 3 s, then 500 ops/s.
        let s = with_changes(&flat, &[(3000, 500.0)]);
        let at5 = super::super::pace::cumulative(&s, 1.0, 5.0);
        assert!((at5 - (300.0 + 1000.0)).abs() < 1.0, "{at5}");
    }
}
