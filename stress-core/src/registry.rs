//! The registry of workloads that `#[stress_workload]` fills, in a stable order.

use crate::adapter::Adapter;
pub use crate::config::AttrOptions;
use crate::error::RunError;
use crate::params::ParamDef;
use crate::run::{RunReport, Runner};
use crate::workload::Workload;

/// One registered workload: what `#[stress_workload]` submits to the registry.
#[derive(Debug)]
pub struct WorkloadEntry {
    /// The workload's name: the function's name unless the attribute says `name = "..."`.
    pub name: &'static str,
    /// `module_path!()` where the workload is defined.
    pub module_path: &'static str,
    /// `file!()` where the workload is defined.
    pub file: &'static str,
    /// `line!()` of the attribute.
    pub line: u32,
    /// The attribute's options.
    pub options: AttrOptions,
    /// Builds the workload (calls the annotated function).
    pub build: fn() -> DynWorkload,
}

inventory::collect!(WorkloadEntry);

/// Every registered workload, sorted by `(module_path, name)` — never by link order, so that
/// anything derived from a position is stable from build to build.
pub fn entries() -> Vec<&'static WorkloadEntry> {
    let mut all: Vec<&'static WorkloadEntry> = inventory::iter::<WorkloadEntry>.into_iter().collect();
    all.sort_by(|a, b| (a.module_path, a.name).cmp(&(b.module_path, b.name)));
    all
}

/// Finds a registered workload by name.
pub fn find(name: &str) -> Option<&'static WorkloadEntry> {
    entries().into_iter().find(|e| e.name == name)
}

/// A workload with its adapter type erased, as the registry holds it.
pub trait ErasedWorkload: Send {
    /// Runs it.
    fn run(self: Box<Self>, runner: Runner) -> Result<RunReport, RunError>;
    /// Checks what a run would check before it starts ([`Runner::check`]).
    fn check(&self, runner: &Runner) -> Result<(), RunError>;
    /// The classes' names and user counts from the workload's code.
    fn classes(&self) -> Vec<(String, usize)>;
    /// The adapter's name.
    fn adapter_name(&self) -> &'static str;
    /// The `STRESS_*` variables the workload and its adapter read.
    fn variables(&self) -> Vec<&'static str>;
    /// The declared parameters.
    fn params(&self) -> Vec<ParamDef> {
        Vec::new()
    }
}

/// A boxed [`ErasedWorkload`].
pub type DynWorkload = Box<dyn ErasedWorkload>;

impl<A: Adapter> ErasedWorkload for Workload<A> {
    fn run(self: Box<Self>, runner: Runner) -> Result<RunReport, RunError> {
        runner.run(*self)
    }

    fn check(&self, runner: &Runner) -> Result<(), RunError> {
        runner.check(self)
    }

    fn classes(&self) -> Vec<(String, usize)> {
        Workload::classes(self)
    }

    fn adapter_name(&self) -> &'static str {
        self.adapter.name()
    }

    fn variables(&self) -> Vec<&'static str> {
        Workload::variables(self)
    }

    fn params(&self) -> Vec<ParamDef> {
        self.params.clone()
    }
}

/// Erases a workload's adapter type (used by `#[stress_workload]`).
pub fn erase<A: Adapter>(w: Workload<A>) -> DynWorkload {
    Box::new(w)
}
