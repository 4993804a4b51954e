//! Controls of a run from outside it while its users run (the dashboard's buttons): pause and
//! resume the users, change the target rate, stop the run. Each is applied through the run's
//! own machinery (the users' pause flag, the pace's schedule, the stop signal) and recorded
//! with its offset from the users' start; `replay.json` keeps them, and a replay applies them
//! again at the same offsets.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::pace::RateControl;
#[cfg(test)]
use super::pace::with_changes;
use super::shared::Shared;
use super::signal::StopReason;
use crate::config::Stage;
use crate::control::{Control, ControlAction, Controls};

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

impl Controls for ControlHub {
    fn apply(&self, action: ControlAction) -> Result<Control, String> {
        ControlHub::apply(self, action)
    }

    fn applied(&self) -> Vec<Control> {
        ControlHub::applied(self)
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
