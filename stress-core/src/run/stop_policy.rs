//! When a run stops, decided in one place: its duration elapsed, Ctrl-C, the engine crashed, a
//! resource limit held despite backpressure, a threshold breached with `abort_on_fail`, and
//! when users still in an op after the stop are abandoned (the grace, or a second Ctrl-C).
//! (A user's failed op under `abort_on_error` stops the run from the user's own thread.)

use std::time::{Duration, Instant};

use super::shared::observed;
use super::signal::{self, StopReason, StopSignal};
use crate::stats::Collector;
use crate::thresholds::Threshold;

/// What the monitor should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go on.
    Running,
    /// The run stopped; the users are finishing their ops.
    Stopping,
    /// Users are still in an op after the grace (or a second Ctrl-C): leave them to it.
    Abandon,
}

/// The run's stop rules.
#[derive(Debug)]
pub(crate) struct StopPolicy {
    /// When the duration elapses.
    pub(crate) deadline: Option<Instant>,
    /// How long users may stay in an op after the run stopped before they are abandoned.
    pub(crate) stuck_grace: Duration,
    /// When the run stopped, once it has.
    pub(crate) stopped_at: Option<Instant>,
    /// Thresholds judged every interval (after the warm-up) when `abort_on_fail` is set.
    pub(crate) abort_on: Vec<Threshold>,
    pub(crate) warmup: Duration,
    pub(crate) op_names: Vec<String>,
}

impl StopPolicy {
    /// Applies the rules of time: Ctrl-C and the deadline stop the run; once stopped, the
    /// grace decides when to abandon users still in an op.
    pub(crate) fn tick(&mut self, signal: &StopSignal, now: Instant) -> Verdict {
        if signal::interrupted() {
            signal.stop(StopReason::Interrupted, None);
        }
        if self.deadline.is_some_and(|d| now >= d) {
            signal.stop(StopReason::DurationElapsed, None);
        }
        if !signal.is_stopped() {
            return Verdict::Running;
        }
        let since = *self.stopped_at.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.stuck_grace || signal::interrupted_again() {
            Verdict::Abandon
        } else {
            Verdict::Stopping
        }
    }

    /// The engine a metrics source watches died.
    pub(crate) fn crashed(&self, signal: &StopSignal, source: &str, why: &str) {
        signal.stop(StopReason::CrashDetected, Some(format!("{source}: {why}")));
    }

    /// A resource limit stayed breached despite backpressure.
    pub(crate) fn limit_held(&self, signal: &StopSignal, why: String) {
        signal.stop(StopReason::ResourceLimit, Some(why));
    }

    /// Judges the thresholds on the figures so far, `at` into the run: the first breached one
    /// stops it.
    pub(crate) fn judge(&self, signal: &StopSignal, collector: &Collector, at: Duration) {
        if self.abort_on.is_empty() || at <= self.warmup {
            return;
        }
        let o = observed(collector, &self.op_names, (at - self.warmup).as_secs_f64());
        if let Some(r) = self.abort_on.iter().map(|t| t.evaluate(&o)).find(|r| !r.passed) {
            signal.stop(StopReason::ThresholdBreached, Some(r.to_string()));
        }
    }
}
