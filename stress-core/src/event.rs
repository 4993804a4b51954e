//! A run's live events: what the engine tells its observers (and, through the console's
//! JSON style, `cargo stress`) while it runs. A leaf under the run and the reports; the
//! protocol ([`crate::protocol`]) carries them.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::stats::IntervalRecord;
use crate::verdict::{Failure, StopReason};

/// A live event of a run (`STRESS_PROGRESS=json`, and always under `cargo stress`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The users are about to start.
    Start {
        /// The workload.
        workload: String,
        /// The run's seed.
        seed: u64,
        /// How many users.
        users: usize,
        /// The configured duration.
        duration_s: Option<f64>,
        /// The op limit per user.
        ops_per_user: Option<u64>,
        /// Where the reports go.
        out_dir: Option<PathBuf>,
    },
    /// One interval of the run.
    Interval {
        /// The workload.
        workload: String,
        /// Seconds since the users started.
        elapsed_s: f64,
        /// The configured duration.
        duration_s: Option<f64>,
        /// Ops so far.
        total_ops: u64,
        /// Failed ops so far.
        failed_ops: u64,
        /// The interval's figures.
        interval: IntervalRecord,
        /// Why users are paused, if they are.
        paused: Option<String>,
    },
    /// Backpressure paused the users (a resource over its limit).
    Pause {
        /// The workload.
        workload: String,
        /// Seconds since the users started.
        at_s: f64,
        /// Which limit, with the reading.
        reason: String,
    },
    /// The users resumed after a pause.
    Resume {
        /// The workload.
        workload: String,
        /// Seconds since the users started.
        at_s: f64,
        /// How long the pause lasted.
        paused_s: f64,
    },
    /// The load entered another stage (`--stages`).
    Stage {
        /// The workload.
        workload: String,
        /// Seconds since the users started.
        at_s: f64,
        /// The stage, from 0.
        stage: usize,
        /// Where it ramps to: users, or ops/s under a rate.
        target: f64,
    },
    /// The run is stopping (its users finish their ops): duration elapsed, Ctrl-C, a crash, a
    /// limit, a threshold or a failed op.
    Stopping {
        /// The workload.
        workload: String,
        /// Seconds since the users started.
        at_s: f64,
        /// Why.
        stop_reason: StopReason,
        /// What happened, where there is more to say.
        detail: Option<String>,
    },
    /// A fault was injected into the engine (`--fault`), or could not be.
    Fault {
        /// The workload.
        workload: String,
        /// What it did.
        fault: crate::fault::FaultRecord,
    },
    /// The run ended and its reports are written.
    Stop {
        /// The workload.
        workload: String,
        /// Why it stopped.
        stop_reason: StopReason,
        /// Its verdict: why it failed, typed (empty when it passed).
        failures: Vec<Failure>,
        /// [`exit_code`](crate::verdict::exit_code) of the failures.
        exit_code: u8,
    },
}

impl Event {
    /// The line people read for an event that has no line of its own (a pause, a resume, a
    /// stage, the run stopping); `None` for the others (start, interval and stop have theirs).
    pub fn human(&self) -> Option<String> {
        match self {
            Self::Pause { workload, at_s, reason } => Some(format!("{workload}: paused at {at_s:.1}s: {reason}")),
            Self::Resume {
                workload,
                at_s,
                paused_s,
            } => Some(format!("{workload}: resumed at {at_s:.1}s after {paused_s:.1}s paused")),
            Self::Stage {
                workload,
                at_s,
                stage,
                target,
            } => Some(format!(
                "{workload}: stage {} at {at_s:.1}s, ramping to {target}",
                stage + 1
            )),
            Self::Stopping {
                workload,
                at_s,
                stop_reason,
                detail,
            } => Some(format!(
                "{workload}: stopping at {at_s:.1}s: {stop_reason:?}{}",
                detail.as_ref().map_or(String::new(), |d| format!(" ({d})"))
            )),
            Self::Fault { workload, fault } => {
                let hold = fault.hold_s.map_or(String::new(), |h| format!(" {h}s"));
                if let Some(why) = &fault.skipped {
                    return Some(format!("{workload}: fault {}{hold} not injected: {why}", fault.kind));
                }
                let late = match (fault.due_s, fault.at_s) {
                    (Some(due), Some(at)) if at - due >= 0.1 => format!(" ({:.1}s late: due at {due:.1}s)", at - due),
                    _ => String::new(),
                };
                let at = fault
                    .at_s
                    .map_or("at the end".to_owned(), |a| format!("at {a:.1}s{late}"));
                let outcome = match (&fault.error, fault.recovery_ms) {
                    (Some(e), _) => format!("not injected: {e}"),
                    (None, Some(ms)) => format!("accepting connections {ms} ms after"),
                    (None, None) => "injected".to_owned(),
                };
                let check = fault.check.as_ref().map_or(String::new(), |c| format!("; {c}"));
                Some(format!(
                    "{workload}: fault {}{hold} of {} {at}: {outcome}{check}",
                    fault.kind, fault.target
                ))
            }
            Self::Start { .. } | Self::Interval { .. } | Self::Stop { .. } => None,
        }
    }

    /// The event as a line of the protocol's channel: [`MESSAGE_PREFIX`](crate::wire::MESSAGE_PREFIX)
    /// and `{"protocol_version": …, "event": {…}}` — what
    /// [`protocol::Message::Event`](crate::protocol::Message::Event) reads back.
    pub fn line(&self) -> String {
        #[derive(Serialize)]
        struct Body<'a> {
            event: &'a Event,
        }
        crate::wire::line(&Body { event: self })
    }
}
