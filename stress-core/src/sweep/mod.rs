//! Sweeps and matrices: the same workload run once per value of a parameter (a sweep, to the
//! breaking point) or once per cell of a product of several (a matrix), each run a full run
//! with its own directory and summary, and the reports that compare them.
//!
//! `cargo stress sweep` and `cargo stress matrix` run each iteration as a separate harness
//! process; a custom harness runs them in-process with [`drive`] and a [`Runner`](crate::Runner):
//!
//! ```no_run
//! use stress_core::prelude::*;
//! use stress_core::sweep::{self, Kind, ParamSpec, Plan, SweepReport};
//! # fn workload() -> Workload<Bare> { Workload::new(Bare) }
//! let plan = Plan::new(vec![ParamSpec::parse("epochs=1000..5000:1000")?])?;
//! let mut report = SweepReport::new(Kind::Sweep, "payload", plan);
//! let out = std::path::Path::new("target/stress/payload/sweep");
//! std::fs::create_dir_all(out).map_err(|e| e.to_string())?;
//! sweep::drive(&mut report, out, &|| false, |cell, dir| {
//!     let mut runner = Runner::new("payload").seed(1).ops_per_user(3).output_dir(dir);
//!     for (name, value) in cell {
//!         runner = runner.param(name, value);
//!     }
//!     runner.run(workload()).map(|_| ()).map_err(|e| e.to_string())
//! })
//! .map_err(|e| e.to_string())?;
//! println!("breaking point: {:?}", report.breaking_point().map(|i| i.label()));
//! # Ok::<(), String>(())
//! ```

mod iteration;
mod report;
mod scaling;
mod spec;

use std::path::Path;

use crate::verdict::{Failure, FailureKind};

pub use iteration::{Iteration, Metrics, Status};
pub use report::{Efficiency, Kind, SweepReport};
pub use scaling::{Scaling, TOLERANCE};
pub use spec::{MAX_VALUES, ParamSpec, Plan, expand};

/// How a cell's run ended, as its runner saw it.
#[derive(Debug, Clone, PartialEq)]
pub enum CellEnd {
    /// It ran to its end: the iteration, when the runner already made it from the summary it
    /// holds (else it is read from the cell's directory).
    Finished(Option<Box<Iteration>>),
    /// The runner stopped it after its time limit: the iteration is a timeout.
    TimedOut(String),
}

impl From<()> for CellEnd {
    fn from((): ()) -> Self {
        Self::Finished(None)
    }
}

/// Runs every cell of the report's plan in turn, each into its own directory under `out`
/// (`iter-001`, … or `cell-001`, …), reading each one's `summary.json` and rewriting the
/// report's files after each. A sweep stops after its breaking point unless
/// [`keep_going`](SweepReport::keep_going); every kind stops when `interrupted()` says so.
///
/// `run` gets the cell's values and the directory to write into; it returns `Err` with the
/// reason when the run did not start (the iteration is then an error), and
/// [`CellEnd::TimedOut`] when it had to stop a run that outlived its time limit (the iteration
/// is then a timeout, whatever its summary says). `Ok(())` means it ran to its end.
pub fn drive<E: Into<CellEnd>>(
    report: &mut SweepReport,
    out: &Path,
    interrupted: &dyn Fn() -> bool,
    mut run: impl FnMut(&[(String, String)], &Path) -> Result<E, String>,
) -> std::io::Result<()> {
    let cells = report.plan.cells();
    let total = cells.len();
    for (i, cell) in cells.into_iter().enumerate() {
        if interrupted() {
            report.stopped = Some(format!("interrupted after {i} of {total}"));
            break;
        }
        let dir = out.join(report.dir_name(i + 1));
        let (why_not, end) = match run(&cell, &dir) {
            Ok(end) => (None, end.into()),
            Err(why) => (Some(why), CellEnd::Finished(None)),
        };
        let (mut it, timed_out) = match end {
            // The summary is read once per cell, by whoever ran it.
            CellEnd::Finished(Some(it)) => (*it, None),
            CellEnd::Finished(None) => (Iteration::from_dir(i + 1, cell, &dir, why_not), None),
            CellEnd::TimedOut(why) => (Iteration::from_dir(i + 1, cell, &dir, why_not), Some(why)),
        };
        if let Some(why) = timed_out {
            it.status = Status::Timeout;
            it.failures
                .push(Failure::new(FailureKind::Timeout { detail: why.clone() }));
            it.detail = why;
        }
        let broke = !it.status.is_ok();
        let was_interrupted = it.status == Status::Interrupted;
        report.iterations.push(it);
        report.write(out)?;
        if was_interrupted || interrupted() {
            report.stopped = (i + 1 < total).then(|| format!("interrupted after {} of {total}", i + 1));
            break;
        }
        if broke && !report.keep_going && i + 1 < total {
            report.stopped = Some("after the breaking point (--continue runs the rest)".into());
            break;
        }
    }
    report.write(out)
}
