//! Checkers: each judges one thing about a run from its summary and returns its section of the
//! summary's `checks` and the failures it finds. The run and the merge run the same list
//! ([`builtin`]), a workload adds its own ([`crate::Workload::checker`]), and the console,
//! report.html, JUnit and the markdown summary render the sections without knowing any checker
//! by name. Jepsen composes its checkers the same way (`checker/compose`).

use crate::report::Summary;
use crate::thresholds::{Observed, Threshold, ThresholdResult};
use crate::verdict::{Failure, FailureKind, StopReason};

pub use crate::verdict::CheckSection;

/// A checker's verdict: its sections (a checker of many rules has one each) and failures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// What it reports.
    pub sections: Vec<CheckSection>,
    /// Why the run fails, if it does.
    pub failures: Vec<Failure>,
}

impl Verdict {
    /// One section, and a failure when it did not pass.
    pub fn one(name: impl Into<String>, headline: impl Into<String>, failure: Option<FailureKind>) -> Self {
        let section = CheckSection {
            name: name.into(),
            passed: failure.is_none(),
            headline: headline.into(),
            details: Vec::new(),
        };
        Self {
            sections: vec![section],
            failures: failure.map(Failure::new).into_iter().collect(),
        }
    }
}

/// What a checker is given: the run's summary with its figures (verdict fields not yet set) and
/// what the figures are judged against.
#[derive(Debug)]
pub struct Judged<'a> {
    /// The run's summary.
    pub summary: &'a Summary,
    /// The thresholds, evaluated.
    pub thresholds: &'a [ThresholdResult],
    /// The figures the thresholds read.
    pub observed: &'a Observed,
    /// The failed-op rate the run may reach.
    pub max_error_rate: f64,
}

/// Judges one thing about a run. `None`: nothing to judge (no verify step, no tracked writes).
pub trait Checker: Send + Sync {
    /// Its name, as its sections and failures carry it.
    fn name(&self) -> &str;

    /// Its verdict on the run.
    fn check(&self, run: &Judged<'_>) -> Option<Verdict>;
}

/// The checkers every run and every merge runs, in the order their sections are shown.
pub fn builtin() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(Stop),
        Box::new(Verify),
        Box::new(Durability),
        Box::new(Isolation),
        Box::new(ErrorRate),
        Box::new(Thresholds),
        Box::new(Delivered),
        Box::new(Stall),
    ]
}

/// Whether `name` is a built-in checker's (a merge judges those again; a workload's own it
/// carries from the shards).
pub fn is_builtin(name: &str) -> bool {
    CheckSection::is_builtin_name(name)
}

/// The verdict of a summary, here with the checkers rather than beside the summary, so that
/// the reports need nothing of the checkers (which read the summary).
impl Summary {
    /// Sets the verdict from what the run did: every built-in checker and `extra` (a
    /// workload's own) judge the summary, and their sections and failures replace `checks`,
    /// `failures`, `thresholds` and `passed`. Kept: failures the figures do not decide (reports
    /// not written) and, in a merged run, the sections and failures of the shards' own checkers,
    /// which are not judged again (`extra` is empty there).
    pub(crate) fn judge(
        &mut self,
        thresholds: &[Threshold],
        observed: &Observed,
        max_error_rate: f64,
        extra: &[std::sync::Arc<dyn Checker>],
    ) {
        let evaluated: Vec<ThresholdResult> = thresholds.iter().map(|t| t.evaluate(observed)).collect();
        let mut checks = Vec::new();
        let mut failures = Vec::new();
        {
            let run = Judged {
                summary: self,
                thresholds: &evaluated,
                observed,
                max_error_rate,
            };
            let all = builtin();
            for c in all.iter().map(|c| c.as_ref()).chain(extra.iter().map(|c| c.as_ref())) {
                if let Some(v) = c.check(&run) {
                    checks.extend(v.sections);
                    failures.extend(v.failures);
                }
            }
        }
        let judged: Vec<&str> = extra.iter().map(|c| c.name()).collect();
        checks.extend(
            self.checks
                .drain(..)
                .filter(|c| !is_builtin(&c.name) && !judged.contains(&c.name.as_str())),
        );
        failures.extend(self.failures.drain(..).filter(|f| match &f.kind {
            FailureKind::ReportsNotWritten { .. } => true,
            FailureKind::Check { checker, .. } => !judged.contains(&checker.as_str()),
            _ => false,
        }));
        self.thresholds = evaluated;
        self.checks = checks;
        self.passed = failures.is_empty();
        self.failures = failures;
    }
}

/// The run ran as configured: its stop was the duration's end or its op limit.
struct Stop;

impl Checker for Stop {
    fn name(&self) -> &str {
        "run"
    }

    fn check(&self, run: &Judged<'_>) -> Option<Verdict> {
        let s = run.summary;
        let detail = s.stop_detail.clone().unwrap_or_default();
        let failure = match s.stop_reason {
            StopReason::DurationElapsed | StopReason::OpLimit => None,
            StopReason::Error => Some(FailureKind::Error { detail }),
            StopReason::CrashDetected => Some(FailureKind::Crash { detail }),
            StopReason::ResourceLimit => Some(FailureKind::ResourceLimit { detail }),
            StopReason::Interrupted => Some(FailureKind::Interrupted),
            StopReason::ThresholdBreached => Some(FailureKind::ThresholdAbort { detail }),
            StopReason::OpFailed => Some(FailureKind::OpFailed { detail }),
            StopReason::StuckOps => Some(FailureKind::Stuck { detail }),
        };
        let headline = match &failure {
            Some(f) => Failure::new(f.clone()).message,
            None => format!(
                "run: {} ops in {}s, stopped by {:?}",
                s.total_ops, s.duration_s, s.stop_reason
            ),
        };
        Some(Verdict::one(self.name(), headline, failure))
    }
}

/// The workload's verify step passed on every database.
struct Verify;

impl Checker for Verify {
    fn name(&self) -> &str {
        "verify"
    }

    fn check(&self, run: &Judged<'_>) -> Option<Verdict> {
        let v = &run.summary.verify;
        if !v.ran {
            return None;
        }
        if v.passed {
            return Some(Verdict::one(self.name(), "verify passed on every database", None));
        }
        let failure = FailureKind::Verify {
            errors: v.errors.clone(),
        };
        let mut verdict = Verdict::one(
            self.name(),
            format!("verify failed on {} databases", v.errors.len()),
            Some(failure),
        );
        verdict.sections[0].details = v.errors.clone();
        Some(verdict)
    }
}

/// The acknowledged-write checker: no acknowledged write lost, no write that was never made.
struct Durability;

impl Checker for Durability {
    fn name(&self) -> &str {
        "durability"
    }

    fn check(&self, run: &Judged<'_>) -> Option<Verdict> {
        let d = run.summary.durability.as_ref()?;
        let headline = format!(
            "durability: {} acknowledged writes, {} lost, {} unexpected, {} indeterminate",
            d.acknowledged, d.lost, d.unexpected, d.indeterminate
        );
        let failure = (!d.held()).then(|| FailureKind::Durability {
            lost: d.lost,
            unexpected: d.unexpected,
            first_lost: d.first_lost.clone(),
            first_unexpected: d.first_unexpected.clone(),
            errors: d.errors.clone(),
        });
        let mut verdict = Verdict::one(self.name(), headline, failure);
        verdict.sections[0].details = d.errors.clone();
        Some(verdict)
    }
}

/// The isolation checker: no anomaly the expected model forbids.
struct Isolation;

impl Checker for Isolation {
    fn name(&self) -> &str {
        "isolation"
    }

    fn check(&self, run: &Judged<'_>) -> Option<Verdict> {
        let r = run.summary.isolation.as_ref()?;
        let headline = format!(
            "isolation: {} transactions under {}, {} kinds of anomaly it forbids",
            r.txns,
            r.model.name(),
            r.forbidden.len()
        );
        let first_witness = r
            .witnesses
            .iter()
            .find(|w| r.forbidden.contains(&w.anomaly))
            .map(|w| w.steps.join("; "));
        let failure = (!r.valid()).then(|| FailureKind::Isolation {
            model: r.model.name().to_owned(),
            forbidden: r
                .forbidden
                .iter()
                .map(|a| (a.clone(), r.anomalies.get(a).copied().unwrap_or(0)))
                .collect(),
            history_errors: r.history_errors.clone(),
            incomplete: r.incomplete.clone(),
            first_witness: first_witness.clone(),
        });
        let mut verdict = Verdict::one(self.name(), headline, failure);
        verdict.sections[0].details = first_witness.into_iter().collect();
        Some(verdict)
    }
}

/// Failed ops within `max_error_rate`.
struct ErrorRate;

impl Checker for ErrorRate {
    fn name(&self) -> &str {
        "error rate"
    }

    fn check(&self, run: &Judged<'_>) -> Option<Verdict> {
        let s = run.summary;
        let (failed, total) = (s.failed_ops, s.total_ops);
        let rate = if total > 0 { failed as f64 / total as f64 } else { 0.0 };
        let failure = (failed > 0 && rate > run.max_error_rate).then(|| FailureKind::ErrorRate {
            failed,
            total,
            observed: rate,
            limit: run.max_error_rate,
            first_error: s.errors.first().map(|e| format!("{} {}: {}", e.user, e.op, e.message)),
        });
        let headline = format!(
            "error rate: {failed} of {total} ops failed ({:.3}%; at most {}% allowed)",
            rate * 100.0,
            run.max_error_rate * 100.0
        );
        Some(Verdict::one(self.name(), headline, failure))
    }
}

/// Each threshold, over the whole run.
struct Thresholds;

impl Checker for Thresholds {
    fn name(&self) -> &str {
        "thresholds"
    }

    fn check(&self, run: &Judged<'_>) -> Option<Verdict> {
        if run.thresholds.is_empty() {
            return None;
        }
        let mut verdict = Verdict::default();
        for t in run.thresholds {
            let failure = (!t.passed).then(|| FailureKind::Threshold {
                rule: t.rule.clone(),
                observed: t.observed,
                unit: t.unit.clone(),
            });
            let one = Verdict::one(format!("threshold {}", t.rule), t.to_string(), failure);
            verdict.sections.extend(one.sections);
            verdict.failures.extend(one.failures);
        }
        Some(verdict)
    }
}

/// Under a rate: the share of the schedule's ops that ran (a threshold can require it; this
/// section says it either way).
struct Delivered;

impl Checker for Delivered {
    fn name(&self) -> &str {
        "delivered"
    }

    fn check(&self, run: &Judged<'_>) -> Option<Verdict> {
        let (due, share) = (run.summary.scheduled_ops?, run.summary.delivered?);
        Some(Verdict::one(
            self.name(),
            format!(
                "delivered: {:.1}% of the {due} ops the schedule made due ran",
                share * 100.0
            ),
            None,
        ))
    }
}

/// The longest time users waited on the engine and no op completed, and the time the engine
/// was out after faults (a threshold can bound the stall; this section says it either way).
struct Stall;

impl Checker for Stall {
    fn name(&self) -> &str {
        "stall"
    }

    fn check(&self, run: &Judged<'_>) -> Option<Verdict> {
        let s = run.summary;
        let _ = run.observed;
        Some(Verdict::one(
            self.name(),
            format!(
                "stall: longest {}s; engine out {}s after {} faults",
                s.max_stall_s,
                s.unavailable_s,
                s.faults.iter().filter(|f| f.at_s.is_some()).count()
            ),
            None,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_names_of_the_builtin_checkers_are_the_ones_summary_knows() {
        let names: Vec<String> = builtin().iter().map(|c| c.name().to_owned()).collect();
        assert_eq!(names, CheckSection::BUILTIN);
        assert!(is_builtin("threshold p99<5ms") && is_builtin("run") && !is_builtin("my own"));
    }
}
