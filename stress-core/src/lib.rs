//! # stress-core
//!
//! The cargo-stress framework: register a workload with `#[stress_workload]` (a setup step,
//! user classes with weighted ops, a verify step, bound to an engine adapter), and run it with
//! seeded users on their own threads, HdrHistogram latencies, backpressure from resource
//! limits, `summary.json`, `replay.json` and `timeseries.csv`, and exact replay.
//!
//! ```no_run
//! use stress_core::prelude::*;
//!
//! #[stress_workload(duration = "10s", users = "writer=2")]
//! fn counter() -> Workload<Bare> {
//!     Workload::new(Bare).class(
//!         UserClass::new("writer", 1)
//!             .write("tick", 0.9, |u| Ok(Outcome::rows(u.rng().random_range(1..10))))
//!             .read("look", 0.1, |_| Ok(Outcome::done())),
//!     )
//! }
//!
//! // In a `harness = false` test target:
//! fn main() -> std::process::ExitCode {
//!     stress_core::main()
//! }
//! ```
//!
//! The same workload runs from code, without the macro or the harness, through [`Runner`].
#![warn(missing_docs)]

pub mod adapter;
pub mod bounds;
pub mod checkers;
pub mod compare;
pub mod config;
pub mod control;
pub mod dashboard;
pub mod durability;
pub mod error;
mod event;
pub mod fault;
pub mod faultfs;
mod harness;
pub mod history;
pub mod host;
pub mod isolation;
pub mod keys;
pub mod ledger;
pub mod lifeline;
pub mod monitor;
pub mod netproxy;
mod outcome;
pub mod params;
pub mod profile;
pub mod protocol;
pub mod registry;
pub mod report;
mod run;
pub mod seed;
pub mod shard;
pub mod shrink;
pub mod sizedfs;
pub mod sql;
pub mod stats;
pub mod sweep;
pub use stress_syntax as syntax;
pub mod thresholds;
mod user;
mod utc;
pub mod validate;
pub mod verdict;
mod wire;
mod workload;

pub use adapter::{Adapter, Bare, StartContext};
pub use config::{ConfigLayer, EnvConfig, RunConfig};
pub use control::{Control, ControlAction, Controls};
pub use error::{ConfigError, ReplayError, RunError, WorkloadError};
pub use harness::main;
pub use host::serve_engine_host;
pub use ledger::Ledger;
pub use outcome::{OpError, OpResult, Outcome};
pub use params::{ParamDef, ParamValue, Params};
pub use registry::{DynWorkload, ErasedWorkload, erase};
pub use report::{ReplayFile, Summary};
pub use run::control::ControlHub;
pub use run::{RunReport, Runner, StopReason, interrupted};
pub use seed::StressRng;
pub use stress_macros::stress_workload;
pub use user::User;
pub use verdict::{EXIT_USAGE, Failure, FailureKind};
pub use workload::{OpKind, UserClass, Workload};

/// The RNG crate users draw from (`u.rng().random_range(..)`), re-exported so that workload
/// crates use the same version.
pub use rand;

/// What a workload file needs: `use stress_core::prelude::*;`.
pub mod prelude {
    pub use crate::adapter::{Adapter, Bare};
    pub use crate::keys::{KeyDist, KeyGen};
    pub use crate::ledger::Ledger;
    pub use crate::outcome::{OpError, OpResult, Outcome};
    pub use crate::params::Params;
    pub use crate::run::{RunReport, Runner};
    pub use crate::seed::StressRng;
    pub use crate::sql::{ColumnType, Isolation, Row, SqlConn, TableDef, Value};
    pub use crate::stress_workload;
    pub use crate::user::User;
    pub use crate::workload::{OpKind, UserClass, Workload};
    pub use rand::Rng;
}

/// What `#[stress_workload]` expands to refers to these; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::registry::erase;
    pub use crate::registry::{AttrOptions, WorkloadEntry};
    pub use inventory;
}
