//! The registry of workloads that `#[stress_workload]` fills, in a stable order.

use std::time::Duration;

use crate::workload::DynWorkload;

/// The options written in a `#[stress_workload(...)]` attribute, checked at compile time.
///
/// Each field is `None` where the attribute did not set it; the attribute layer sits above the
/// built-in defaults and the workload's own code, and below `STRESS_*` variables and CLI flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrOptions {
    /// `duration = "30s"`.
    pub duration: Option<Duration>,
    /// `users = "inserter=4,reader=3"`.
    pub users: Option<&'static [(&'static str, usize)]>,
    /// `ops_per_user = 100`.
    pub ops_per_user: Option<u64>,
    /// `seed = 42`.
    pub seed: Option<u64>,
    /// `think_ms = "10..200"`.
    pub think_ms: Option<(u64, u64)>,
    /// `batch = "100..10000"`.
    pub batch: Option<(u64, u64)>,
    /// `databases = 3`.
    pub databases: Option<u64>,
    /// `max_memory_mb = 4096`.
    pub max_memory_mb: Option<u64>,
    /// `max_cpu_percent = 400`.
    pub max_cpu_percent: Option<u64>,
    /// `max_disk_mb = 1024`.
    pub max_disk_mb: Option<u64>,
    /// `ignore`: skipped by a plain `cargo test`, run by `--ignored` (a workload that needs a
    /// server, say).
    pub ignore: bool,
}

impl AttrOptions {
    /// No option set.
    pub const DEFAULT: Self = Self {
        duration: None,
        users: None,
        ops_per_user: None,
        seed: None,
        think_ms: None,
        batch: None,
        databases: None,
        max_memory_mb: None,
        max_cpu_percent: None,
        max_disk_mb: None,
        ignore: false,
    };
}

impl Default for AttrOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

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
