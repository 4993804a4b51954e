//! What `cargo stress` and a harness binary say to each other, defined once, as serde types:
//! the settings `cargo stress` hands a run ([`SETTINGS_VAR`]), the listing a harness prints
//! for `STRESS_LIST=json`, the live events it writes on stderr
//! under `STRESS_PROGRESS=json` (each line [`EVENT_PREFIX`] + JSON), and the summary it hands
//! over there when it cannot write `summary.json` ([`SUMMARY_PREFIX`]).
//!
//! The listing carries [`PROTOCOL_VERSION`]; `cargo stress` refuses a harness that speaks
//! another one, naming both, rather than misreading it. Bump it with any change a reader of
//! the previous version would get wrong.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::params::ParamDef;
use crate::stats::IntervalRecord;
use crate::verdict::{Failure, StopReason};

/// The version of this protocol the build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

pub use crate::config::{Handover, SETTINGS_VAR};

/// What starts the line on which a harness hands its whole summary over, on stderr, when
/// `summary.json` cannot be written (a full disk): the final outcome is never lost.
pub const SUMMARY_PREFIX: &str = "stress-summary: ";

/// What starts each event line on a harness's stderr.
pub const EVENT_PREFIX: &str = "stress-progress: ";

/// A harness's workloads (`STRESS_LIST=json` on stdout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listing {
    /// [`PROTOCOL_VERSION`] of the harness that printed it.
    pub protocol_version: u32,
    /// Its workloads, in registration order.
    pub workloads: Vec<ListedWorkload>,
}

/// One registered workload, as a harness lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedWorkload {
    /// Its name.
    pub name: String,
    /// The module that defines it.
    pub module_path: String,
    /// The source file that defines it.
    pub file: String,
    /// The line of its attribute.
    pub line: u32,
    /// The adapter's name.
    pub adapter: String,
    /// Each user class, with the users the code gives it.
    pub classes: Vec<(String, usize)>,
    /// The parameters it declares.
    pub params: Vec<ParamDef>,
    /// Skipped by a plain `cargo test`.
    pub ignore: bool,
    /// The attribute's options.
    pub options: ListedOptions,
}

/// A workload's attribute options (`#[stress_workload(duration = "30s", …)]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListedOptions {
    /// `duration`, in milliseconds.
    pub duration_ms: Option<u64>,
    /// `users`: class and count, laid over the code's.
    pub users: Option<Vec<(String, usize)>>,
    /// `ops_per_user`.
    pub ops_per_user: Option<u64>,
    /// `seed`.
    pub seed: Option<u64>,
    /// `think_ms`: (min, max).
    pub think_ms: Option<(u64, u64)>,
    /// `batch`: (min, max).
    pub batch: Option<(u64, u64)>,
    /// `databases`.
    pub databases: Option<u64>,
    /// `max_memory_mb`.
    pub max_memory_mb: Option<u64>,
    /// `max_cpu_percent`.
    pub max_cpu_percent: Option<u64>,
    /// `max_disk_mb`.
    pub max_disk_mb: Option<u64>,
}

impl Listing {
    /// Reads a listing, refusing one in another protocol version with a line that names both
    /// (a harness built against an older stress-core printed a bare array: version 0).
    pub fn parse(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| ProtocolError::NotAHarness)?;
        let version = match &v {
            serde_json::Value::Array(_) => Some(0),
            serde_json::Value::Object(o) => o.get("protocol_version").and_then(serde_json::Value::as_u64),
            _ => None,
        };
        match version {
            Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
            Some(v) => return Err(ProtocolError::Version { harness: v }),
            None => return Err(ProtocolError::NotAHarness),
        }
        serde_json::from_value(v).map_err(|e| ProtocolError::Malformed(e.to_string()))
    }
}

/// Why a harness's words could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// It printed no listing at all.
    #[error("is not a stress harness: its main should return stress_core::main()")]
    NotAHarness,
    /// It speaks another version.
    #[error(
        "speaks harness protocol {harness}, this cargo stress speaks {PROTOCOL_VERSION}: build both from the same \
         stress-core release (cargo update -p stress-core, and install cargo-stress of that release)"
    )]
    Version {
        /// The harness's version.
        harness: u64,
    },
    /// It claims this version but its listing does not fit it.
    #[error("printed a listing that does not fit protocol {PROTOCOL_VERSION}: {0}")]
    Malformed(String),
}

/// A live event of a run (`STRESS_PROGRESS=json`).
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

    /// The event as a line for stderr: [`EVENT_PREFIX`] and its JSON.
    pub fn line(&self) -> String {
        format!(
            "{EVENT_PREFIX}{}",
            serde_json::to_string(self).expect("events serialise")
        )
    }

    /// The event on a line of stderr, if the line is one.
    pub fn from_line(line: &str) -> Option<Self> {
        serde_json::from_str(line.strip_prefix(EVENT_PREFIX)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_version_is_pinned_and_a_mismatch_names_both() {
        // Changing what a harness says means a new version: update this pin with it.
        assert_eq!(PROTOCOL_VERSION, 1);
        let ours = Listing {
            protocol_version: PROTOCOL_VERSION,
            workloads: Vec::new(),
        };
        let json = serde_json::to_vec(&ours).unwrap();
        assert_eq!(Listing::parse(&json).unwrap(), ours);
        let newer = br#"{"protocol_version": 7, "workloads": [{"name": "x", "shape": "new"}]}"#;
        let e = Listing::parse(newer).unwrap_err();
        assert_eq!(e, ProtocolError::Version { harness: 7 });
        let msg = e.to_string();
        assert!(msg.contains("protocol 7") && msg.contains("speaks 1"), "{msg}");
        // A harness of an older stress-core printed a bare array.
        let old = br#"[{"name": "orders", "adapter": "sqlite"}]"#;
        assert_eq!(Listing::parse(old).unwrap_err(), ProtocolError::Version { harness: 0 });
        assert_eq!(
            Listing::parse(b"running 3 tests").unwrap_err(),
            ProtocolError::NotAHarness
        );
        assert!(matches!(
            Listing::parse(br#"{"protocol_version": 1, "workloads": [{"name": 3}]}"#),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn events_round_trip_through_their_lines() {
        let start = Event::Start {
            workload: "orders".into(),
            seed: 42,
            users: 3,
            duration_s: Some(2.5),
            ops_per_user: None,
            out_dir: Some("/tmp/run".into()),
        };
        let line = start.line();
        assert!(line.starts_with("stress-progress: {\"event\":\"start\""), "{line}");
        assert_eq!(Event::from_line(&line), Some(start));
        let interval = Event::Interval {
            workload: "orders".into(),
            elapsed_s: 1.0,
            duration_s: None,
            total_ops: 10,
            failed_ops: 1,
            interval: IntervalRecord::default(),
            paused: Some("memory".into()),
        };
        assert_eq!(Event::from_line(&interval.line()), Some(interval));
        let stop = Event::Stop {
            workload: "orders".into(),
            stop_reason: StopReason::Interrupted,
            failures: vec![Failure::new(crate::verdict::FailureKind::Interrupted)],
            exit_code: 1,
        };
        let line = stop.line();
        assert!(
            line.contains(r#""event":"stop""#) && line.contains(r#""kind":"interrupted""#),
            "{line}"
        );
        assert_eq!(Event::from_line(&line), Some(stop));
        let pause = Event::Pause {
            workload: "orders".into(),
            at_s: 12.0,
            reason: "memory 812 MB over 800 MB".into(),
        };
        assert_eq!(Event::from_line(&pause.line()), Some(pause.clone()));
        assert_eq!(
            pause.human().as_deref(),
            Some("orders: paused at 12.0s: memory 812 MB over 800 MB")
        );
        let stopping = Event::Stopping {
            workload: "orders".into(),
            at_s: 3.25,
            stop_reason: StopReason::CrashDetected,
            detail: Some("postgres: exited".into()),
        };
        assert_eq!(Event::from_line(&stopping.line()), Some(stopping.clone()));
        assert_eq!(
            stopping.human().as_deref(),
            Some("orders: stopping at 3.2s: CrashDetected (postgres: exited)")
        );
        assert_eq!(Event::from_line("stress-progress: {\"event\":\"later\"}"), None);
        assert_eq!(Event::from_line("plain output"), None);
    }
}
