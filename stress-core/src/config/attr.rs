//! The options of a `#[stress_workload(...)]` attribute, and the layer they make.

use std::time::Duration;

use super::ConfigLayer;

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

impl ConfigLayer {
    /// The attribute's options as a layer.
    pub fn from_attr(a: &AttrOptions) -> Self {
        Self {
            seed: a.seed,
            duration: a.duration,
            ops_per_user: a.ops_per_user,
            users: a
                .users
                .unwrap_or_default()
                .iter()
                .map(|&(c, n)| (c.to_owned(), n))
                .collect(),
            think_min_ms: a.think_ms.map(|t| t.0),
            think_max_ms: a.think_ms.map(|t| t.1),
            batch_min: a.batch.map(|b| b.0),
            batch_max: a.batch.map(|b| b.1),
            databases: a.databases.map(|d| d as usize),
            max_memory_mb: a.max_memory_mb,
            max_cpu_percent: a.max_cpu_percent,
            max_disk_mb: a.max_disk_mb,
            ..Self::default()
        }
    }
}
