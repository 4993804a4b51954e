//! What `cargo stress` and a harness binary say to each other, defined once, as serde types,
//! every message carrying [`PROTOCOL_VERSION`]:
//!
//! - to the harness: the [`Handover`] in [`SETTINGS_VAR`] — the flags as one typed layer
//!   (faults, thresholds and stages parsed where the user typed them), where to write, what to
//!   replay;
//! - from the harness, for `STRESS_LIST=json`: the [`Listing`] on stdout;
//! - from the harness while a run goes, on one channel — lines of its stderr that start with
//!   [`MESSAGE_PREFIX`] — the [`Message`]s: each [`Event`] as it happens, then the
//!   [`TrialOutcome`] (the summary, or why the run did not start). Nothing else a harness
//!   prints is read: libtest's report is for people.
//!
//! A reader refuses a message of another version in one line that names both, rather than
//! misreading it.

use serde::{Deserialize, Serialize};

use crate::params::ParamDef;
use crate::report::Summary;

pub use crate::config::{Handover, ListedOptions, SETTINGS_VAR};
pub use crate::event::Event;
pub use crate::wire::{MESSAGE_PREFIX, PROTOCOL_VERSION, Versioned};

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

impl Listing {
    /// Reads a listing, refusing one in another protocol version with a line that names both
    /// (a harness built against an older stress-core printed a bare array: version 0).
    pub fn parse(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| ProtocolError::NotAHarness)?;
        match &v {
            serde_json::Value::Array(_) => return Err(ProtocolError::Version { harness: 0 }),
            serde_json::Value::Object(o) if o.contains_key("protocol_version") => {
                crate::wire::check_version(&v).map_err(|e| ProtocolError::Version { harness: e.theirs })?;
            }
            _ => return Err(ProtocolError::NotAHarness),
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
    /// It claims this version but its message does not fit it.
    #[error("printed a message that does not fit protocol {PROTOCOL_VERSION}: {0}")]
    Malformed(String),
}

/// A message of a harness to `cargo stress` on the protocol's channel (a line of its stderr
/// that starts with [`MESSAGE_PREFIX`]): `{"protocol_version": 2, "event": {…}}` or
/// `{"protocol_version": 2, "outcome": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// Something happened in the run.
    Event(Event),
    /// A workload's trial ended (or the harness refused to start one): the last message.
    Outcome(TrialOutcome),
}

/// How one workload's trial ended, as the harness hands it over: what `cargo stress` reports
/// when the run wrote no `summary.json`, and why a run that did not start did not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrialOutcome {
    /// The workload, once the harness got as far as one.
    pub workload: Option<String>,
    /// What the run measured and judged, when it started.
    pub summary: Option<Box<Summary>>,
    /// Why it did not start or could not end as a run (its settings, its replay file, a
    /// panic), in one line.
    pub error: Option<String>,
}

impl Message {
    /// The message, versioned, as a line of the channel.
    pub fn line(&self) -> String {
        crate::wire::line(self)
    }

    /// Reads a line of a harness's stderr: `None` for a line that is not a message (for
    /// people), an error for a message of another version or of a shape this one does not know.
    pub fn from_line(line: &str) -> Option<Result<Self, ProtocolError>> {
        let json = line.strip_prefix(MESSAGE_PREFIX)?;
        Some(Self::parse(json))
    }

    fn parse(json: &str) -> Result<Self, ProtocolError> {
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| ProtocolError::Malformed(e.to_string()))?;
        crate::wire::check_version(&v).map_err(|e| ProtocolError::Version { harness: e.theirs })?;
        serde_json::from_value::<Versioned<Self>>(v)
            .map(|m| m.body)
            .map_err(|e| ProtocolError::Malformed(e.to_string()))
    }
}

/// Writes a message on this process's stderr, as one line (one write: lines of the engine's
/// threads do not interleave within it).
pub fn send(message: &Message) {
    use std::io::Write;
    let mut line = message.line();
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::IntervalRecord;
    use crate::verdict::{Failure, StopReason};

    /// Every message either side writes, as JSON.
    fn every_message() -> Vec<(&'static str, serde_json::Value)> {
        let listing = Listing {
            protocol_version: PROTOCOL_VERSION,
            workloads: Vec::new(),
        };
        let handover = Handover::default();
        let event = Event::Start {
            workload: "orders".into(),
            seed: 42,
            users: 3,
            duration_s: Some(2.5),
            ops_per_user: None,
            out_dir: Some("/tmp/run".into()),
        };
        let outcome = Message::Outcome(TrialOutcome {
            workload: Some("orders".into()),
            summary: None,
            error: Some("users names class `x`".into()),
        });
        let line = |l: String| serde_json::from_str(l.strip_prefix(MESSAGE_PREFIX).expect("a message line")).unwrap();
        vec![
            ("listing", serde_json::to_value(&listing).unwrap()),
            ("hand-over", serde_json::to_value(&handover).unwrap()),
            ("event", line(event.line())),
            ("event message", line(Message::Event(event).line())),
            ("outcome", line(outcome.line())),
        ]
    }

    #[test]
    fn the_protocol_version_is_pinned_on_every_message() {
        // Changing what either side says means a new version: update this pin with it.
        assert_eq!(PROTOCOL_VERSION, 2);
        for (what, json) in every_message() {
            assert_eq!(
                json.get("protocol_version").and_then(serde_json::Value::as_u64),
                Some(u64::from(PROTOCOL_VERSION)),
                "{what}: {json}"
            );
        }
    }

    #[test]
    fn a_message_of_another_version_is_refused_in_one_line_naming_both() {
        for (what, mut json) in every_message() {
            json["protocol_version"] = 7.into();
            let text = json.to_string();
            let e = match what {
                "listing" => Listing::parse(text.as_bytes()).unwrap_err(),
                "hand-over" => {
                    let e = crate::config::EnvConfig::from_vars([(SETTINGS_VAR.to_owned(), text)]).unwrap_err();
                    let msg = e.to_string();
                    assert!(!msg.contains('\n'), "{what}: {msg}");
                    assert!(
                        msg.contains("protocol 7") && msg.contains(&format!("speaks {PROTOCOL_VERSION}")),
                        "{what}: {msg}"
                    );
                    continue;
                }
                _ => Message::from_line(&format!("{MESSAGE_PREFIX}{text}"))
                    .unwrap()
                    .unwrap_err(),
            };
            assert_eq!(e, ProtocolError::Version { harness: 7 }, "{what}");
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "{what}: {msg}");
            assert!(
                msg.contains("protocol 7") && msg.contains(&format!("speaks {PROTOCOL_VERSION}")),
                "{what}: {msg}"
            );
        }
        // A message without a version is of the form before versions: 0.
        let e = Message::from_line(r#"stress-protocol: {"event": {"event": "start"}}"#)
            .unwrap()
            .unwrap_err();
        assert_eq!(e, ProtocolError::Version { harness: 0 });
    }

    #[test]
    fn a_listing_of_another_version_names_both() {
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
        assert!(msg.contains("protocol 7") && msg.contains("speaks 2"), "{msg}");
        // A harness of an older stress-core printed a bare array.
        let old = br#"[{"name": "orders", "adapter": "sqlite"}]"#;
        assert_eq!(Listing::parse(old).unwrap_err(), ProtocolError::Version { harness: 0 });
        assert_eq!(
            Listing::parse(b"running 3 tests").unwrap_err(),
            ProtocolError::NotAHarness
        );
        assert!(matches!(
            Listing::parse(br#"{"protocol_version": 2, "workloads": [{"name": 3}]}"#),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn events_round_trip_through_their_lines() {
        let read = |line: &str| match Message::from_line(line) {
            Some(Ok(Message::Event(e))) => Some(e),
            _ => None,
        };
        let start = Event::Start {
            workload: "orders".into(),
            seed: 42,
            users: 3,
            duration_s: Some(2.5),
            ops_per_user: None,
            out_dir: Some("/tmp/run".into()),
        };
        let line = start.line();
        assert!(
            line.starts_with(r#"stress-protocol: {"protocol_version":2,"event":{"event":"start""#),
            "{line}"
        );
        assert_eq!(read(&line), Some(start));
        let interval = Event::Interval {
            workload: "orders".into(),
            elapsed_s: 1.0,
            duration_s: None,
            total_ops: 10,
            failed_ops: 1,
            interval: IntervalRecord::default(),
            paused: Some("memory".into()),
        };
        assert_eq!(read(&interval.line()), Some(interval));
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
        assert_eq!(read(&line), Some(stop));
        let pause = Event::Pause {
            workload: "orders".into(),
            at_s: 12.0,
            reason: "memory 812 MB over 800 MB".into(),
        };
        assert_eq!(read(&pause.line()), Some(pause.clone()));
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
        assert_eq!(read(&stopping.line()), Some(stopping.clone()));
        assert_eq!(
            stopping.human().as_deref(),
            Some("orders: stopping at 3.2s: CrashDetected (postgres: exited)")
        );
        // An event of a later shape in this version is malformed, not for people.
        assert!(matches!(
            Message::from_line(r#"stress-protocol: {"protocol_version":2,"event":{"event":"later"}}"#),
            Some(Err(ProtocolError::Malformed(_)))
        ));
        assert_eq!(Message::from_line("plain output"), None);
    }

    #[test]
    fn the_outcome_round_trips_with_its_summary() {
        let workload = crate::Workload::new(crate::Bare).class(crate::UserClass::new("u", 1).read(
            "nop",
            1.0,
            |_: &mut crate::User<crate::Bare>| Ok(crate::Outcome::default()),
        ));
        let summary = crate::Runner::new("orders")
            .seed(1)
            .ops_per_user(2)
            .run(workload)
            .unwrap()
            .summary;
        let outcome = Message::Outcome(TrialOutcome {
            workload: Some("orders".into()),
            summary: Some(Box::new(summary)),
            error: None,
        });
        assert_eq!(Message::from_line(&outcome.line()), Some(Ok(outcome)));
    }
}
