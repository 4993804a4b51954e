//! Controls of a run from outside it while its users run (the dashboard's buttons), as values:
//! what a control does, when it was applied, and [`Controls`], what applies them (the run's
//! [`ControlHub`](crate::ControlHub), through the run's own machinery). Here, below the
//! reports (`replay.json` keeps the controls) and the dashboard (which applies them), so that
//! neither needs the run.

use serde::{Deserialize, Serialize};

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

/// What applies controls to a running run: the run's [`ControlHub`](crate::ControlHub).
pub trait Controls: Send + Sync + std::fmt::Debug {
    /// Applies `action` now; `Err` says why it cannot be.
    fn apply(&self, action: ControlAction) -> Result<Control, String>;
    /// Every control applied, in order.
    fn applied(&self) -> Vec<Control>;
}
