//! Measurement: latency histograms, the parts users record and hand over, and their aggregation into
//! totals and per-interval records. Pure: nothing here prints or writes files.

mod collector;
mod histogram;
pub(crate) mod hlog;
mod measures;

pub(crate) use collector::{Annotation, Batch, Collector, OpPart};
pub use collector::{IntervalRecord, OpStats};
pub use histogram::{LatencyHistogram, LatencySummary};
pub(crate) use measures::Measures;
pub use measures::{FigureStats, PhaseStats};
