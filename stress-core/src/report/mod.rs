//! Reports: files and console output made from what the run measured. Reporters consume the
//! run's events and results; none of them sits on a user's hot path.

mod console;
mod files;
pub mod html;
mod record;
mod replay;
mod summary;
mod timeseries;

pub(crate) use crate::utc::rfc3339;
pub use console::{ConsoleProgress, Observer, Progress, ProgressLine, ProgressStyle, RunStart, human_us, start_line};
pub use files::{claim_exact, claim_new, default_base, fresh_run_dir, mark_latest, write_atomic};
pub(crate) use record::{Counts, Record, schedule};
pub use replay::{REPLAY_FORMAT_VERSION, ReplayFile};
pub use summary::{
    Backpressure, ErrorRecord, MAX_KEPT_ERRORS, MergedShard, SUMMARY_FORMAT_VERSION, Shards, Summary, UserSummary,
    Verify,
};
pub use timeseries::timeseries_csv;
