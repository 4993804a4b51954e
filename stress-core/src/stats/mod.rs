//! Measurement: latency histograms, the parts users record and hand over, and their aggregation into
//! totals and per-interval records. Nothing here prints; what it writes (the interval log, the
//! time series' older rows) goes to temporary files that the run's end renames or reads back.

mod collector;
mod histogram;
pub(crate) mod hlog;
mod measures;
mod series;

pub use collector::OpStats;
pub(crate) use collector::{Batch, Collector, OpPart};
pub use histogram::{LatencyHistogram, LatencySummary};
pub(crate) use measures::Measures;
pub use measures::{FigureStats, PhaseStats};
pub(crate) use series::Annotation;
pub use series::IntervalRecord;
