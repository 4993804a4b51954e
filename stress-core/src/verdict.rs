//! The verdict of a run as data: why it did not pass, one typed [`Failure`] each, and the one
//! function that turns failures into an exit code.
//!
//! Every consumer of an outcome — the console, `cargo stress`, sweeps and matrices, and later
//! reporters — reads the kinds and their fields; the message is for people, never parsed.

use serde::{Deserialize, Serialize};

/// Exit code: every workload ran and passed.
pub const EXIT_OK: u8 = 0;
/// Exit code: a workload failed (anything but thresholds alone).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: usage or configuration error (bad flag, `STRESS_*` value or replay file, a
/// filter that matches nothing, an empty registry).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the build failed (`cargo stress`).
pub const EXIT_BUILD: u8 = 3;
/// Exit code: thresholds were breached, and nothing else failed.
pub const EXIT_THRESHOLDS: u8 = 4;
/// Exit code: `cargo stress compare` (or `run --baseline`) found a regression, and nothing
/// else failed.
pub const EXIT_REGRESSION: u8 = 5;

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// The configured duration elapsed.
    DurationElapsed,
    /// Every user ran its `ops_per_user`.
    OpLimit,
    /// The engine died (a managed server exited).
    CrashDetected,
    /// A memory or CPU limit stayed breached despite backpressure.
    ResourceLimit,
    /// Ctrl-C.
    Interrupted,
    /// A threshold was breached and `abort_on_fail` was set.
    ThresholdBreached,
    /// The run could not go on (adapter start, setup or connection failure): see `error`.
    Error,
    /// An op failed (after its tries) and `abort_on_error` was set.
    OpFailed,
    /// Users were still in an op after the run stopped and its grace passed (or a second
    /// Ctrl-C came): they were abandoned, not waited for, and are named in the detail.
    StuckOps,
}

impl StopReason {
    /// Whether a run that stopped this way ran as configured.
    pub fn is_normal(self) -> bool {
        matches!(self, Self::DurationElapsed | Self::OpLimit)
    }
}

/// Why a run did not pass, with the figures that decided it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The run could not go on: the adapter's start, a setup step, the harness itself.
    Error {
        /// What failed, in the engine's or the system's words.
        detail: String,
    },
    /// The engine died during the run (a managed server exited).
    Crash {
        /// Which source saw it, and what it said.
        detail: String,
    },
    /// A memory or CPU limit stayed breached despite backpressure.
    ResourceLimit {
        /// Which limit.
        detail: String,
    },
    /// Ctrl-C, SIGTERM or SIGHUP stopped the run.
    Interrupted,
    /// A threshold with `abort_on_fail` stopped the run early.
    ThresholdAbort {
        /// The threshold as it stood when it stopped the run.
        detail: String,
    },
    /// An op failed (after its tries) and `abort_on_error` stopped the run.
    OpFailed {
        /// The user, the op and the error.
        detail: String,
    },
    /// Users were still in an op after the run stopped and its grace passed: abandoned.
    Stuck {
        /// The users and their ops.
        detail: String,
    },
    /// The acknowledged-write checker found acknowledged writes missing, or keys no write
    /// made (or the keys could not be read back).
    Durability {
        /// Acknowledged and missing.
        lost: u64,
        /// Present, and never attempted or refused.
        unexpected: u64,
        /// The first lost keys.
        first_lost: Vec<String>,
        /// The first unexpected keys.
        first_unexpected: Vec<String>,
        /// Databases whose keys could not be read back.
        errors: Vec<String>,
    },
    /// The isolation checker found anomalies the expected model forbids in the transactions'
    /// history (or could not finish judging it).
    Isolation {
        /// The model the workload expects.
        model: String,
        /// Each forbidden anomaly found, with its count.
        forbidden: std::collections::BTreeMap<String, u64>,
        /// Ways the workload broke its kit's rules (not the engine's).
        history_errors: Vec<String>,
        /// Why the check could not finish.
        incomplete: Option<String>,
        /// The first forbidden anomaly's witness, step by step.
        first_witness: Option<String>,
    },
    /// The verify step failed.
    Verify {
        /// One error per failing database.
        errors: Vec<String>,
    },
    /// Failed ops above `max_error_rate`.
    ErrorRate {
        /// Ops failed.
        failed: u64,
        /// Ops run.
        total: u64,
        /// `failed / total`.
        observed: f64,
        /// `max_error_rate`.
        limit: f64,
        /// The first error kept: `user op: message`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_error: Option<String>,
    },
    /// A threshold was breached over the whole run.
    Threshold {
        /// The rule as written.
        rule: String,
        /// The observed value, in `unit`.
        observed: f64,
        /// The unit of `observed` and of the rule's limit.
        unit: String,
    },
    /// With an op limit, the users did not finish their ops within the duration, or the run
    /// outlived its time limit and was stopped (a sweep's iteration).
    Timeout {
        /// How many users fell short, or how long it ran.
        detail: String,
    },
    /// A workload's own checker ([`crate::Workload::checker`]) found the run wrong.
    Check {
        /// The checker's name.
        checker: String,
        /// What it found.
        detail: String,
    },
    /// The run's reports could not be written (a full disk): the summary went to `cargo stress`
    /// in the trial's outcome.
    ReportsNotWritten {
        /// Each file that failed, and why.
        problems: Vec<String>,
    },
}

/// One reason a run did not pass: its kind and figures, and the line people read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// What failed, typed.
    #[serde(flatten)]
    pub kind: FailureKind,
    /// The same, as one line for people.
    pub message: String,
}

impl Failure {
    /// A failure of `kind`, with its message.
    pub fn new(kind: FailureKind) -> Self {
        let message = message(&kind);
        Self { kind, message }
    }

    /// Whether it is a threshold's (breached, or stopping the run early): thresholds alone
    /// give [`EXIT_THRESHOLDS`].
    pub fn is_threshold(&self) -> bool {
        matches!(
            self.kind,
            FailureKind::Threshold { .. } | FailureKind::ThresholdAbort { .. }
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn message(kind: &FailureKind) -> String {
    match kind {
        FailureKind::Error { detail } => format!("error: {detail}"),
        FailureKind::Crash { detail } => format!("crash detected: {detail}"),
        FailureKind::ResourceLimit { detail } => format!("resource limit: {detail}"),
        FailureKind::Interrupted => "interrupted".to_owned(),
        FailureKind::ThresholdAbort { detail } => format!("stopped early: {detail}"),
        FailureKind::OpFailed { detail } => format!("stopped at the first failed op: {detail}"),
        FailureKind::Stuck { detail } => format!("stuck: {detail}"),
        FailureKind::Durability {
            lost,
            unexpected,
            first_lost,
            first_unexpected,
            errors,
        } => {
            let mut parts = Vec::new();
            if *lost > 0 {
                parts.push(format!(
                    "{lost} acknowledged writes lost (first: {})",
                    first_lost.join(", ")
                ));
            }
            if *unexpected > 0 {
                parts.push(format!(
                    "{unexpected} unexpected writes (first: {})",
                    first_unexpected.join(", ")
                ));
            }
            parts.extend(errors.iter().cloned());
            format!("durability check failed: {}", parts.join("; "))
        }
        FailureKind::Isolation {
            model,
            forbidden,
            history_errors,
            incomplete,
            first_witness,
        } => {
            let mut parts: Vec<String> = Vec::new();
            if !forbidden.is_empty() {
                let found: Vec<String> = forbidden.iter().map(|(a, n)| format!("{a} ×{n}")).collect();
                parts.push(format!("{} ({model} forbids them)", found.join(", ")));
            }
            if let Some(w) = first_witness {
                parts.push(format!("witness: {w}"));
            }
            if !history_errors.is_empty() {
                parts.push(format!(
                    "the workload broke its kit's rules: {}",
                    history_errors.join("; ")
                ));
            }
            if let Some(why) = incomplete {
                parts.push(format!("not fully checked: {why}"));
            }
            format!("isolation check failed: {}", parts.join("; "))
        }
        FailureKind::Verify { errors } => format!("verify step failed: {}", errors.join("; ")),
        FailureKind::Check { checker, detail } => format!("check `{checker}` failed: {detail}"),
        FailureKind::ErrorRate {
            failed,
            total,
            observed,
            limit,
            first_error,
        } => format!(
            "{failed} of {total} ops failed ({:.3}%), above max_error_rate {limit}{}",
            observed * 100.0,
            first_error.as_ref().map_or(String::new(), |e| format!("; first: {e}"))
        ),
        FailureKind::Threshold { rule, observed, unit } => {
            format!("threshold {rule} breached: observed {observed}{unit}")
        }
        FailureKind::Timeout { detail } => format!("timeout: {detail}"),
        FailureKind::ReportsNotWritten { problems } => format!(
            "the reports could not be written ({}): the summary is on stderr",
            problems.join("; ")
        ),
    }
}

/// The exit code of runs that failed this way, all of their failures together: [`EXIT_OK`]
/// for none, [`EXIT_THRESHOLDS`] when every one is a threshold's, else [`EXIT_FAILED`].
pub fn exit_code<'a>(failures: impl IntoIterator<Item = &'a Failure>) -> u8 {
    let mut code = EXIT_OK;
    for f in failures {
        if !f.is_threshold() {
            return EXIT_FAILED;
        }
        code = EXIT_THRESHOLDS;
    }
    code
}

/// What one checker ([`crate::checkers`]) said: a section of the summary's `checks`. Here,
/// beside the failures, so that the summary that holds it needs nothing of the checkers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSection {
    /// The check, as reports name it (`durability`, `threshold p99<50ms`).
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What it found, one line that names the check (`durability: 1200 acknowledged writes, 0
    /// lost`): renderers show it as it is.
    pub headline: String,
    /// More lines, when it has them (the first lost keys, a witness).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl CheckSection {
    /// The names of the built-in checkers' sections ([`crate::checkers::builtin`]), and
    /// `threshold RULE` for each threshold's.
    pub const BUILTIN: &'static [&'static str] = &[
        "run",
        "verify",
        "durability",
        "isolation",
        "error rate",
        "thresholds",
        "delivered",
        "stall",
    ];

    /// Whether a built-in checker writes the section called `name` (a merge judges those again;
    /// a workload's own it carries from the shards).
    pub fn is_builtin_name(name: &str) -> bool {
        name.starts_with("threshold ") || Self::BUILTIN.contains(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<FailureKind> {
        let detail = || "d".to_owned();
        vec![
            FailureKind::Error { detail: detail() },
            FailureKind::Crash { detail: detail() },
            FailureKind::ResourceLimit { detail: detail() },
            FailureKind::Interrupted,
            FailureKind::ThresholdAbort { detail: detail() },
            FailureKind::OpFailed { detail: detail() },
            FailureKind::Stuck { detail: detail() },
            FailureKind::Verify {
                errors: vec!["database 0: 3 rows missing".into()],
            },
            FailureKind::Durability {
                lost: 2,
                unexpected: 0,
                first_lost: vec!["writer-0#3".into(), "writer-1#9".into()],
                first_unexpected: Vec::new(),
                errors: Vec::new(),
            },
            FailureKind::ErrorRate {
                failed: 3,
                total: 10,
                observed: 0.3,
                limit: 0.0,
                first_error: Some("w-0 insert: boom".into()),
            },
            FailureKind::Threshold {
                rule: "p99<1ms".into(),
                observed: 2.5,
                unit: "ms".into(),
            },
            FailureKind::Timeout { detail: detail() },
            FailureKind::ReportsNotWritten {
                problems: vec!["cannot write summary.json: No space left on device".into()],
            },
        ]
    }

    #[test]
    fn each_kind_has_its_exit_code_alone_and_with_a_threshold() {
        assert_eq!(exit_code(&[]), EXIT_OK);
        let threshold = Failure::new(FailureKind::Threshold {
            rule: "p99<1ms".into(),
            observed: 2.0,
            unit: "ms".into(),
        });
        for kind in every_kind() {
            let f = Failure::new(kind.clone());
            let alone = if matches!(kind, FailureKind::Threshold { .. } | FailureKind::ThresholdAbort { .. }) {
                EXIT_THRESHOLDS
            } else {
                EXIT_FAILED
            };
            assert_eq!(exit_code([&f]), alone, "{kind:?}");
            // A threshold beside it changes nothing: the worse one decides.
            assert_eq!(exit_code([&threshold, &f]), alone, "{kind:?}");
            assert_eq!(exit_code([&f, &threshold]), alone, "{kind:?}");
        }
    }

    #[test]
    fn failures_round_trip_as_kind_fields_and_message() {
        for kind in every_kind() {
            let f = Failure::new(kind);
            let json = serde_json::to_value(&f).unwrap();
            assert!(
                json["kind"].is_string() && json["message"] == f.message.as_str(),
                "{json}"
            );
            let back: Failure = serde_json::from_value(json).unwrap();
            assert_eq!(back, f);
        }
        let f = Failure::new(FailureKind::ErrorRate {
            failed: 3,
            total: 10,
            observed: 0.3,
            limit: 0.01,
            first_error: None,
        });
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            serde_json::json!({
                "kind": "error_rate", "failed": 3, "total": 10, "observed": 0.3, "limit": 0.01,
                "message": "3 of 10 ops failed (30.000%), above max_error_rate 0.01",
            })
        );
        assert_eq!(
            Failure::new(FailureKind::Interrupted),
            serde_json::from_value(serde_json::json!({"kind": "interrupted", "message": "interrupted"})).unwrap()
        );
    }
}
