//! The run's time series, one [`IntervalRecord`] a second, in memory that does not grow with the
//! run's length: the last [`WINDOW`] seconds stay in memory, where a user's late batch or the
//! monitor's readings can still amend them; older rows go, one JSON line each, to an unnamed
//! temporary file (in the run's directory when it has one), read back once at the end for
//! `summary.json` and `timeseries.csv`. A row amended after it left memory (a batch more than
//! [`WINDOW`] seconds late) is mended on the way back, so the series read back is the one a run
//! that kept every row in memory would have had.
//!
//! The file has no name: nothing of it is left behind, whatever ends the process. When it cannot
//! be made or written, the rows stay in memory (nothing is lost; only the memory grows again).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Seek as _, SeekFrom, Write as _};
use std::path::Path;

use serde::Serialize;

/// One interval (1 s) of the run: a row of `timeseries.csv` and of the summary's `timeseries`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct IntervalRecord {
    /// Seconds since the users started (the interval's start).
    pub second: u64,
    /// Ops completed in the interval.
    pub ops: u64,
    /// Of which failed.
    pub failed: u64,
    /// Writes replaced by reads (disk budget).
    pub substituted: u64,
    /// Rows reported.
    pub rows: u64,
    /// Median latency of successful ops, µs.
    pub p50_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// Maximum, µs.
    pub max_us: u64,
    /// 99th percentile of service time, µs.
    pub service_p99_us: u64,
    /// Slots that started late.
    pub late: u64,
    /// Slots skipped for the latency limit.
    pub skipped: u64,
    /// Largest schedule lag, µs.
    pub max_lag_us: u64,
    /// Users running (not parked by the stages) at the interval's end.
    pub active_users: u64,
    /// The stage's target (users, or ops/s under a rate) at the interval's end.
    pub target: Option<f64>,
    /// The stage, from 0.
    pub stage: Option<usize>,
    /// Whether users were paused by backpressure at the interval's end.
    pub paused: bool,
    /// Resource readings at the interval's end, by metric name.
    pub resources: Vec<(String, f64)>,
}

/// What the monitor knows of an interval beside the users' samples.
#[derive(Debug, Clone, Default)]
pub(crate) struct Annotation {
    pub(crate) resources: Vec<(String, f64)>,
    pub(crate) paused: bool,
    pub(crate) active_users: u64,
    pub(crate) target: Option<f64>,
    pub(crate) stage: Option<usize>,
}

/// Seconds of rows kept in memory behind the newest.
pub(crate) const WINDOW: u64 = 600;

/// A change to a row that had already left memory.
#[derive(Debug, Clone)]
enum Fix {
    /// Counts of a late batch, added to the row's.
    Counts(IntervalRecord),
    /// The monitor's readings, replacing the row's.
    Annotation(Annotation),
}

#[derive(Debug, Default)]
pub(crate) struct Series {
    recent: VecDeque<IntervalRecord>,
    /// Where older rows go: `None` until the first one leaves memory (or when it cannot).
    spill: Option<File>,
    /// Rows in the file.
    spilled: u64,
    /// The directory the file is made in; `None`: the system's temporary directory.
    dir: Option<std::path::PathBuf>,
    /// The file could not be made or written: every row stays in memory from then on.
    unspillable: bool,
    fixes: Vec<(u64, Fix)>,
    /// Rows kept in memory behind the newest (`WINDOW`; smaller in tests).
    window: u64,
}

impl Series {
    pub(crate) fn new() -> Self {
        Self {
            window: WINDOW,
            ..Self::default()
        }
    }

    /// Rows that leave memory go to an unnamed file in `dir` (the run's directory).
    pub(crate) fn spill_in(&mut self, dir: &Path) {
        self.dir = Some(dir.to_path_buf());
    }

    #[cfg(test)]
    pub(crate) fn with_window(window: u64) -> Self {
        Self {
            window,
            ..Self::default()
        }
    }

    /// The newest row's second.
    pub(crate) fn last_second(&self) -> Option<u64> {
        self.recent.back().map(|r| r.second).or(self.spilled.checked_sub(1))
    }

    /// Appends a row (seconds come in order, one each).
    pub(crate) fn push(&mut self, record: IntervalRecord) {
        self.recent.push_back(record);
        while self.recent.len() as u64 > self.window && !self.unspillable {
            let Some(old) = self.recent.pop_front() else { break };
            if let Err(old) = self.write(old) {
                // Back where it was: from now on, every row stays here.
                self.recent.push_front(*old);
                self.unspillable = true;
            }
        }
    }

    fn write(&mut self, row: IntervalRecord) -> Result<(), Box<IntervalRecord>> {
        if self.spill.is_none() {
            let made = match &self.dir {
                Some(dir) => tempfile::tempfile_in(dir),
                None => tempfile::tempfile(),
            };
            self.spill = made.ok();
        }
        let (Some(file), Ok(mut line)) = (&mut self.spill, serde_json::to_vec(&row)) else {
            return Err(Box::new(row));
        };
        line.push(b'\n');
        // One row a second: written at once, so that the file can be read without a flush.
        if file.write_all(&line).is_err() {
            return Err(Box::new(row));
        }
        self.spilled += 1;
        Ok(())
    }

    /// The row of `second` while it is in memory; when it has left, `fix` is kept for it.
    fn amend(&mut self, second: u64, fix: Fix, apply: impl FnOnce(&mut IntervalRecord, Fix)) {
        if let Some(r) = self.recent.iter_mut().rev().find(|r| r.second == second) {
            apply(r, fix);
        } else if second < self.spilled {
            self.fixes.push((second, fix));
        }
    }

    /// Adds a late batch's counts to the row of `second`.
    pub(crate) fn add_counts(&mut self, second: u64, counts: IntervalRecord) {
        self.amend(second, Fix::Counts(counts), apply);
    }

    /// Replaces the monitor's readings of the row of `second`.
    pub(crate) fn annotate(&mut self, second: u64, state: Annotation) {
        self.amend(second, Fix::Annotation(state), apply);
    }

    /// Every row, from second 0: the file's, mended, then memory's.
    pub(crate) fn rows(&self) -> Result<Vec<IntervalRecord>, String> {
        let mut rows = Vec::with_capacity(self.spilled as usize + self.recent.len());
        if let Some(file) = &self.spill {
            let mut f = file;
            f.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
            let read = BufReader::new(f)
                .lines()
                .take(self.spilled as usize)
                .try_for_each(|line| {
                    let line = line.map_err(|e| e.to_string())?;
                    rows.push(serde_json::from_str(&line).map_err(|e| e.to_string())?);
                    Ok::<_, String>(())
                });
            // Rows that come later are written after what is there, wherever reading left off.
            f.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
            read.map_err(|e| format!("the time series' file could not be read back: {e}"))?;
        }
        for (second, fix) in &self.fixes {
            if let Some(r) = rows.get_mut(*second as usize) {
                apply(r, fix.clone());
            }
        }
        rows.extend(self.recent.iter().cloned());
        Ok(rows)
    }

    /// The rows in memory now (the rest are in the file).
    pub(crate) fn in_memory(&self) -> Vec<IntervalRecord> {
        self.recent.iter().cloned().collect()
    }
}

fn apply(r: &mut IntervalRecord, fix: Fix) {
    match fix {
        Fix::Counts(c) => {
            r.ops += c.ops;
            r.failed += c.failed;
            r.rows += c.rows;
            r.substituted += c.substituted;
            r.late += c.late;
            r.skipped += c.skipped;
        }
        Fix::Annotation(state) => annotate(r, state),
    }
}

/// The monitor's readings into a row, in place of any before.
pub(crate) fn annotate(r: &mut IntervalRecord, state: Annotation) {
    r.resources = state.resources;
    r.paused = state.paused;
    r.active_users = state.active_users;
    r.target = state.target;
    r.stage = state.stage;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(second: u64) -> IntervalRecord {
        IntervalRecord {
            second,
            ops: second * 10,
            resources: vec![("cpu".into(), second as f64)],
            ..IntervalRecord::default()
        }
    }

    #[test]
    fn rows_leave_memory_and_come_back_in_order_with_their_late_changes() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Series::with_window(3);
        s.spill_in(dir.path());
        let mut kept = Series::with_window(u64::MAX);
        for second in 0..20 {
            s.push(row(second));
            kept.push(row(second));
        }
        assert_eq!(s.in_memory().len(), 3, "the rest are in the file");
        assert_eq!(kept.in_memory().len(), 20);
        assert_eq!(s.last_second(), Some(19));
        // Late: one row in the file, one in memory; a reading for a row in the file.
        for series in [&mut s, &mut kept] {
            let late = IntervalRecord {
                ops: 7,
                failed: 2,
                ..IntervalRecord::default()
            };
            series.add_counts(4, late.clone());
            series.add_counts(18, late);
            series.annotate(
                5,
                Annotation {
                    resources: vec![("rss".into(), 1.5)],
                    paused: true,
                    ..Annotation::default()
                },
            );
        }
        let (a, b) = (s.rows().unwrap(), kept.rows().unwrap());
        assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        assert_eq!(a.len(), 20);
        assert_eq!((a[4].ops, a[4].failed), (47, 2));
        assert_eq!((a[18].ops, a[18].failed), (187, 2));
        assert!(a[5].paused && a[5].resources == vec![("rss".to_string(), 1.5)]);
        // Read twice, and rows pushed after a read land after the others.
        s.push(row(20));
        s.push(row(21));
        let again = s.rows().unwrap();
        assert_eq!(
            again.iter().map(|r| r.second).collect::<Vec<_>>(),
            (0..22).collect::<Vec<_>>()
        );
        // Nothing named is left in the directory: the file has no name.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn rows_stay_in_memory_when_the_file_cannot_be_made() {
        let mut s = Series::with_window(2);
        s.spill_in(Path::new("/nonexistent/cargo-stress/series"));
        for second in 0..6 {
            s.push(row(second));
        }
        assert_eq!(s.in_memory().len(), 6);
        let rows = s.rows().unwrap();
        assert_eq!(
            rows.iter().map(|r| r.ops).collect::<Vec<_>>(),
            vec![0, 10, 20, 30, 40, 50]
        );
    }
}
