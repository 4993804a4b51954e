//! Shrinking a failed run: the search for the smallest run that still fails the same way.
//!
//! A run that failed left its `replay.json` (every seed, the configuration, the fault
//! schedule, each user's op count) and its `summary.json` (its typed failures). A *candidate*
//! is a modified `replay.json`: fewer users ([`RunConfig::only_users`](crate::RunConfig)),
//! a shorter prefix of a user's ops (a lower [`ReplayFile::user_ops`]), fewer faults or a fault
//! moved later (to after the users stopped), a shorter duration, fewer databases. Replaying a
//! candidate runs the same users through the same ops as the original, only less of them, so a
//! candidate that fails [the same way](same_failure) is a smaller reproduction of the failure.
//!
//! [`shrink`] drives the search as proptest's and Hypothesis's shrinkers do — keep the
//! smallest case that still fails, stop on a budget — over a `run` closure that replays a
//! candidate and returns its summary: `cargo stress shrink` hands it a closure that runs the
//! harness; a custom harness hands it one that calls
//! [`Runner::replay`](crate::Runner::replay). [`plan_candidates`] lists the first candidates of
//! each pass, for a harness that searches on its own.
//!
//! ```no_run
//! use std::time::Duration;
//! use stress_core::prelude::*;
//! use stress_core::shrink::{self, Options, Trial};
//! use stress_core::{ReplayFile, Summary};
//! # fn workload() -> Workload<Bare> { Workload::new(Bare) }
//! let dir = std::path::Path::new("target/stress/orders/20261202-101500-s42");
//! let original = ReplayFile::load(dir)?;
//! let summary = Summary::load(&dir.join("summary.json")).map_err(std::io::Error::other)?;
//! let options = Options { tries: 3, budget: Duration::from_secs(600) };
//! let report = shrink::shrink(&original, &summary, &options, |attempt| {
//!     match Runner::new("orders").replay("candidate.json", attempt.file.clone()).run(workload()) {
//!         Ok(r) => Trial::Ran(Box::new(r.summary)),
//!         Err(e) => Trial::NotStarted(e.to_string()),
//!     }
//! }, |step| eprintln!("{step}"));
//! println!("{}", report.headline());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod markdown;
mod plan;
mod search;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use plan::{
    Candidate, fault_at_end, fewer_databases, plan_candidates, prepare, running_users, with_duration, with_ops,
    without_fault, without_users,
};
pub use search::{Attempt, Best, End, Options, ShrinkReport, Step, StepOutcome, Trial, shrink};

use crate::Summary;
use crate::report::ReplayFile;
use crate::verdict::{Failure, FailureKind};

/// What a candidate shrinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pass {
    /// The unmodified run, replayed to see that it fails again.
    Original,
    /// Fewer users: halves of them dropped, then single ones.
    Users,
    /// A shorter prefix of one user's ops.
    Ops,
    /// A fault dropped, or moved to after the users stopped.
    Faults,
    /// A shorter duration.
    Duration,
    /// Fewer databases (those no user that runs works on).
    Databases,
}

impl fmt::Display for Pass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Original => "original",
            Self::Users => "users",
            Self::Ops => "ops",
            Self::Faults => "faults",
            Self::Duration => "duration",
            Self::Databases => "databases",
        })
    }
}

/// How big a run is: what shrinking makes smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    /// Users that run.
    pub users: usize,
    /// Ops those users run, in all (`None` for a user with no count: it runs for the duration).
    pub ops: Option<u64>,
    /// Faults on the schedule.
    pub faults: usize,
    /// The run's duration, ms (`None`: bounded by ops only).
    pub duration_ms: Option<u64>,
    /// Databases.
    pub databases: usize,
}

impl Size {
    /// The size of the run `file` replays.
    pub fn of(file: &ReplayFile) -> Self {
        let users = running_users(file);
        let ops = users
            .iter()
            .map(|u| file.user_ops.get(&u.id).copied().or(file.config.ops_per_user))
            .sum::<Option<u64>>();
        Self {
            users: users.len(),
            ops,
            faults: file.faults.len(),
            duration_ms: file.config.duration_ms,
            databases: file.config.databases.max(1),
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        write!(f, "{} user{}", self.users, plural(self.users as u64))?;
        match self.ops {
            Some(n) => write!(f, ", {n} op{}", plural(n))?,
            None => f.write_str(", ops for the duration")?,
        }
        write!(f, ", {} fault{}", self.faults, plural(self.faults as u64))?;
        if let Some(ms) = self.duration_ms {
            write!(f, ", {}", human_ms(ms))?;
        }
        if self.databases > 1 {
            write!(f, ", {} databases", self.databases)?;
        }
        Ok(())
    }
}

/// `300ms`, `2.5s`, `90s`.
pub(crate) fn human_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// The failure of `summary` that a shrink chases: the first of its failures of the most
/// telling kind (lost writes before an isolation anomaly, before a failed verify step, a crash,
/// a stuck op, an error, the error rate, a timeout, a threshold). `None` when it passed, or
/// failed only by being interrupted or by not writing its reports: nothing to reproduce.
pub fn target(summary: &Summary) -> Option<&Failure> {
    summary
        .failures
        .iter()
        .filter_map(|f| rank(&f.kind).map(|r| (r, f)))
        .min_by_key(|(r, _)| *r)
        .map(|(_, f)| f)
}

fn rank(kind: &FailureKind) -> Option<u8> {
    Some(match kind {
        FailureKind::Durability { .. } => 0,
        FailureKind::Isolation { .. } => 1,
        FailureKind::Verify { .. } | FailureKind::Check { .. } => 2,
        FailureKind::Crash { .. } => 3,
        FailureKind::Stuck { .. } => 4,
        FailureKind::OpFailed { .. } => 5,
        FailureKind::ResourceLimit { .. } => 6,
        FailureKind::Error { .. } => 7,
        FailureKind::ErrorRate { .. } => 8,
        FailureKind::Timeout { .. } => 9,
        FailureKind::ThresholdAbort { .. } => 10,
        FailureKind::Threshold { .. } => 11,
        FailureKind::Interrupted | FailureKind::ReportsNotWritten { .. } => return None,
    })
}

/// Whether `candidate` failed the way `original` did: one of its failures is of the kind of
/// the original's [`target`], and for lost writes it lost some too (not only unexpected ones),
/// for isolation it has one of the same forbidden anomalies, for a threshold the same rule.
pub fn same_failure(original: &Summary, candidate: &Summary) -> bool {
    target(original).is_some_and(|t| candidate.failures.iter().any(|c| same_kind(&t.kind, &c.kind)))
}

/// Whether failure `candidate` is one of the way `target` is.
pub fn same_kind(target: &FailureKind, candidate: &FailureKind) -> bool {
    use FailureKind as K;
    match (target, candidate) {
        (
            K::Durability {
                lost,
                unexpected,
                errors,
                ..
            },
            K::Durability {
                lost: l,
                unexpected: u,
                errors: e,
                ..
            },
        ) => {
            if *lost > 0 {
                *l > 0
            } else if *unexpected > 0 {
                *u > 0
            } else {
                errors.is_empty() || !e.is_empty()
            }
        }
        (
            K::Isolation {
                forbidden,
                history_errors,
                incomplete,
                ..
            },
            K::Isolation {
                forbidden: f,
                history_errors: h,
                incomplete: i,
                ..
            },
        ) => {
            if !forbidden.is_empty() {
                forbidden.keys().any(|a| f.contains_key(a))
            } else if !history_errors.is_empty() {
                !h.is_empty()
            } else {
                incomplete.is_none() || i.is_some()
            }
        }
        (K::Threshold { rule, .. }, K::Threshold { rule: r, .. }) => rule == r,
        (K::Check { checker, .. }, K::Check { checker: c, .. }) => checker == c,
        (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

#[cfg(test)]
mod tests;
