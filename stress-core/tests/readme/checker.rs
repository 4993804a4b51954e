use stress_core::FailureKind;
use stress_core::checkers::{Checker, Judged, Verdict};

/// Every op that succeeded reports at least one row: a rule of the workload's own.
pub struct RowsPerOp;

impl Checker for RowsPerOp {
    fn name(&self) -> &str {
        "rows per op"
    }

    fn check(&self, run: &Judged<'_>) -> Option<Verdict> {
        let s = run.summary;
        let done = s.total_ops - s.failed_ops;
        let failure = (s.total_rows < done).then(|| FailureKind::Check {
            checker: self.name().into(),
            detail: format!("{} rows for {done} ops", s.total_rows),
        });
        Some(Verdict::one(
            self.name(),
            format!("rows per op: {} rows for {done} ops", s.total_rows),
            failure,
        ))
    }
}
