//! Each user records into histograms of its own, one interval at a time, and hands them over
//! whole when the interval ends (hdrhistogram's recorder model): no locks and no per-sample
//! traffic on the hot path, and the collector's work grows with users × intervals, not with
//! ops. The collector merges the parts into per-op totals and per-interval records.
//!
//! A part holds one user's figures from one interval, so every op lands in the interval in
//! which it completed. An interval is closed a grace period after it ended; counts that arrive
//! later (a user stalled inside a long op) are still added to it, but its percentiles are
//! final. Totals are exact whatever the timing.

use std::collections::BTreeMap;

use serde::Serialize;

use super::histogram::{LatencyHistogram, LatencySummary};
use super::hlog::HistogramLog;
use super::series::{Annotation, IntervalRecord, Series};

/// What one user recorded of one op in one interval.
#[derive(Debug, Clone, Default)]
pub(crate) struct OpPart {
    /// Ops finished.
    pub(crate) count: u64,
    /// Of which failed (only successes feed the latency histograms).
    pub(crate) failed: u64,
    /// Latency of the successes, µs (without the untimed part): from the intended start under
    /// a rate. `None` until one succeeded.
    pub(crate) latency: Option<LatencyHistogram>,
    /// Of which interrupted: their connection was broken by a fault (kill, restart), so their
    /// outcome is open; neither succeeded nor failed.
    pub(crate) interrupted: u64,
    /// Service time, µs, from the actual start: kept apart only once one op's differed from
    /// its latency (until then it is the latency histogram).
    pub(crate) service: Option<LatencyHistogram>,
    /// Time ops spent in `User::untimed`, µs: `None` until one did.
    pub(crate) untimed: Option<LatencyHistogram>,
}

impl OpPart {
    /// Records one finished op.
    #[inline]
    pub(crate) fn record(&mut self, ok: bool, latency_us: u64, service_us: u64, untimed_us: u64) {
        self.count += 1;
        if untimed_us > 0 {
            self.untimed
                .get_or_insert_with(LatencyHistogram::new)
                .record(untimed_us);
        }
        if !ok {
            self.failed += 1;
            return;
        }
        let latency = self.latency.get_or_insert_with(LatencyHistogram::new);
        if self.service.is_none() && service_us != latency_us {
            // Every op before this one had a service time equal to its latency.
            self.service = Some(latency.clone());
        }
        latency.record(latency_us);
        if let Some(service) = &mut self.service {
            service.record(service_us);
        }
    }

    /// Records one op whose connection a fault broke.
    pub(crate) fn record_interrupted(&mut self) {
        self.count += 1;
        self.interrupted += 1;
    }

    /// A part that counts one failed op.
    pub(crate) fn failed_op() -> Self {
        Self {
            count: 1,
            failed: 1,
            ..Self::default()
        }
    }
}

/// A user's figures from one interval.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) interval: u64,
    /// By run op index, the ops the user finished in the interval.
    pub(crate) ops: Vec<(u32, OpPart)>,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) substituted: u64,
    /// Slots that started late (open loop).
    pub(crate) late: u64,
    /// Slots skipped for the latency limit.
    pub(crate) skipped: u64,
    /// Ops run during the warm-up (not in the statistics).
    pub(crate) warmup: u64,
    /// Largest and summed schedule lag, µs.
    pub(crate) max_lag_us: u64,
    pub(crate) lag_sum_us: u64,
}

impl Batch {
    /// An op that started `lag` after its intended time (open loop): late beyond `late_after`.
    #[inline]
    pub(crate) fn lag(&mut self, lag: std::time::Duration, late_after: std::time::Duration) {
        let us = lag.as_micros() as u64;
        self.lag_sum_us += us;
        self.max_lag_us = self.max_lag_us.max(us);
        self.late += u64::from(lag > late_after);
    }
}

impl Batch {
    /// Whether the batch holds nothing worth sending.
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.rows == 0 && self.substituted == 0 && self.skipped == 0 && self.warmup == 0
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Counts and latency of one op name over the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct OpStats {
    /// Ops run.
    pub count: u64,
    /// Ops failed.
    pub failed: u64,
    /// Latency of the successful ones (from the intended start under a rate).
    pub latency_us: LatencySummary,
    /// Service time of the successful ones (from the actual start), under a rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_us: Option<LatencySummary>,
    /// Ops whose connection a fault broke (`--fault kill`, `restart`): neither succeeded nor
    /// failed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interrupted: u64,
    /// Time spent outside the timed section (`User::untimed`: row generation, say), when the
    /// op used it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untimed_us: Option<LatencySummary>,
}

#[derive(Debug, Default)]
struct OpenInterval {
    hist: LatencyHistogram,
    /// Per run op index, the interval's latencies (for the interval log).
    ops: Vec<(u32, LatencyHistogram)>,
    service: LatencyHistogram,
    record: IntervalRecord,
}

/// Run-wide counts of the schedule.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Schedule {
    pub(crate) late: u64,
    pub(crate) skipped: u64,
    pub(crate) warmup: u64,
    pub(crate) max_lag_us: u64,
    pub(crate) lag_sum_us: u64,
}

/// Merges batches into totals and interval records.
#[derive(Debug)]
pub(crate) struct Collector {
    per_op: Vec<(LatencyHistogram, u64, u64)>,
    interrupted: Vec<u64>,
    untimed: Vec<LatencyHistogram>,
    service: Vec<LatencyHistogram>,
    pub(crate) schedule: Schedule,
    /// Whether any op ran on a schedule (service time differs from latency).
    pub(crate) open_loop: bool,
    open: BTreeMap<u64, OpenInterval>,
    /// The closed intervals, one row a second (older ones on disk: see [`Series`]).
    closed: Series,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) substituted: u64,
    /// The longest time, µs, during which ops were in flight and none completed (set by the
    /// monitor, which watches the users' clocks).
    pub(crate) max_stall_us: u64,
    /// Every closed interval's latencies per op, encoded.
    log: HistogramLog,
    /// Each closed interval's service time over every op, kept for a shard's manifest (the
    /// merge recomputes the intervals' service p99 from them); `None`: not kept.
    service_seconds: Option<BTreeMap<u64, LatencyHistogram>>,
}

impl Collector {
    /// A collector for ops of these names (by run op index).
    pub(crate) fn new(names: &[String]) -> Self {
        let ops = names.len();
        Self {
            per_op: vec![(LatencyHistogram::new(), 0, 0); ops],
            interrupted: vec![0; ops],
            untimed: vec![LatencyHistogram::new(); ops],
            service: vec![LatencyHistogram::new(); ops],
            schedule: Schedule::default(),
            open_loop: false,
            open: BTreeMap::new(),
            closed: Series::new(),
            rows: 0,
            bytes: 0,
            substituted: 0,
            max_stall_us: 0,
            log: HistogramLog::new(names),
            service_seconds: None,
        }
    }

    pub(crate) fn add(&mut self, batch: &Batch) {
        self.rows += batch.rows;
        self.bytes += batch.bytes;
        self.substituted += batch.substituted;
        let sch = &mut self.schedule;
        sch.late += batch.late;
        sch.skipped += batch.skipped;
        sch.warmup += batch.warmup;
        sch.max_lag_us = sch.max_lag_us.max(batch.max_lag_us);
        sch.lag_sum_us += batch.lag_sum_us;
        let late = self.closed.last_second().is_some_and(|s| s >= batch.interval);
        let mut fresh = OpenInterval::default();
        let slot: &mut OpenInterval = if late {
            &mut fresh
        } else {
            self.open.entry(batch.interval).or_insert_with(|| OpenInterval {
                record: IntervalRecord {
                    second: batch.interval,
                    ..IntervalRecord::default()
                },
                ..OpenInterval::default()
            })
        };
        slot.record.rows += batch.rows;
        slot.record.substituted += batch.substituted;
        slot.record.late += batch.late;
        slot.record.skipped += batch.skipped;
        slot.record.max_lag_us = slot.record.max_lag_us.max(batch.max_lag_us);
        for (op, part) in &batch.ops {
            let i = *op as usize;
            let totals = &mut self.per_op[i];
            totals.1 += part.count;
            totals.2 += part.failed;
            self.interrupted[i] += part.interrupted;
            slot.record.ops += part.count;
            slot.record.failed += part.failed;
            if let Some(untimed) = &part.untimed {
                self.untimed[i].merge(untimed);
            }
            if let Some(latency) = &part.latency {
                let service = part.service.as_ref().unwrap_or(latency);
                totals.0.merge(latency);
                self.service[i].merge(service);
                if late {
                    // Its interval's lines are written: this one adds to them.
                    self.log.push(batch.interval, *op, latency);
                } else {
                    slot.hist.merge(latency);
                    slot.service.merge(service);
                    match slot.ops.iter_mut().find(|(o, _)| o == op) {
                        Some((_, h)) => h.merge(latency),
                        None => slot.ops.push((*op, latency.clone())),
                    }
                }
                self.open_loop |= part.service.is_some();
            }
        }
        if late {
            // Counts still belong to their interval; its percentiles are already final.
            self.closed.add_counts(batch.interval, fresh.record);
        }
    }

    /// Attaches resource readings and the backpressure state to an interval.
    pub(crate) fn annotate(&mut self, interval: u64, state: Annotation) {
        if self.closed.last_second().is_some_and(|s| s >= interval) {
            self.closed.annotate(interval, state);
            return;
        }
        let slot = self.open.entry(interval).or_insert_with(|| OpenInterval {
            record: IntervalRecord {
                second: interval,
                ..IntervalRecord::default()
            },
            ..OpenInterval::default()
        });
        super::series::annotate(&mut slot.record, state);
    }

    /// Closes every interval before `interval` (exclusive) and returns the newly closed ones.
    pub(crate) fn close_before(&mut self, interval: u64) -> Vec<IntervalRecord> {
        let mut new = Vec::new();
        while let Some(entry) = self.open.first_entry() {
            if *entry.key() >= interval {
                break;
            }
            let OpenInterval {
                hist,
                mut ops,
                service,
                mut record,
            } = entry.remove();
            ops.sort_by_key(|(op, _)| *op);
            for (op, h) in &ops {
                self.log.push(record.second, *op, h);
            }
            // Fill gaps (intervals in which nothing happened) so that the series has one row a second.
            let next = self.closed.last_second().map_or(0, |s| s + 1);
            for second in next..record.second {
                let gap = IntervalRecord {
                    second,
                    ..IntervalRecord::default()
                };
                new.push(gap.clone());
                self.closed.push(gap);
            }
            let s = hist.summary();
            (record.p50_us, record.p99_us, record.max_us) = (s.p50, s.p99, s.max);
            record.service_p99_us = service.quantile(0.99);
            if let Some(kept) = &mut self.service_seconds
                && !service.is_empty()
            {
                kept.insert(record.second, service);
            }
            new.push(record.clone());
            self.closed.push(record);
        }
        new
    }

    /// The closed intervals, one row a second from second 0 (read back from disk for the
    /// older ones: the run's end calls this, not its loop). A file that cannot be read back
    /// leaves the rows still in memory, said on stderr.
    pub(crate) fn timeseries(&self) -> Vec<IntervalRecord> {
        self.closed.rows().unwrap_or_else(|e| {
            eprintln!("cargo-stress: {e}; the time series keeps only its last seconds");
            self.closed.in_memory()
        })
    }

    /// From now on, `histograms.hlog` streams to a temporary file in `dir` (the users started
    /// at wall-clock `start`), and the time series' older rows go to an unnamed file there.
    pub(crate) fn stream_log(&mut self, dir: &std::path::Path, start: std::time::SystemTime, workload: &str) {
        self.log.stream_to(dir, start, workload);
        self.closed.spill_in(dir);
    }

    /// Keeps no interval log: the run writes no files.
    pub(crate) fn discard_log(&mut self) {
        self.log.discard();
    }

    /// Ends `histograms.hlog` at `path`: renamed there, or (never streamed) its bytes to write.
    pub(crate) fn finish_log(
        &mut self,
        path: &std::path::Path,
        start: std::time::SystemTime,
        workload: &str,
    ) -> Result<Option<Vec<u8>>, String> {
        self.log.finish(path, start, workload)
    }

    /// Keeps each interval's service-time histogram (a shard's run: see
    /// [`service_seconds`](Self::service_seconds)).
    pub(crate) fn keep_service_seconds(&mut self) {
        self.service_seconds.get_or_insert_with(BTreeMap::new);
    }

    /// Each closed interval's service time over every op, if kept.
    pub(crate) fn service_seconds(&self) -> Option<&BTreeMap<u64, LatencyHistogram>> {
        self.service_seconds.as_ref()
    }

    /// Per run op index: its service-time and untimed histograms over the run.
    pub(crate) fn service_and_untimed(&self) -> impl Iterator<Item = (&LatencyHistogram, &LatencyHistogram)> {
        self.service.iter().zip(&self.untimed)
    }

    /// Latency over every op: the per-op histograms merged (on demand, off the hot path).
    pub(crate) fn total(&self) -> LatencyHistogram {
        let mut t = LatencyHistogram::new();
        for (h, _, _) in &self.per_op {
            t.merge(h);
        }
        t
    }

    /// Service time over every op.
    pub(crate) fn total_service(&self) -> LatencyHistogram {
        let mut t = LatencyHistogram::new();
        for h in &self.service {
            t.merge(h);
        }
        t
    }

    /// (histogram, count, failed) per op index.
    pub(crate) fn per_op(&self) -> impl Iterator<Item = OpStats> + '_ {
        self.per_op
            .iter()
            .zip(&self.untimed)
            .zip(&self.service)
            .zip(&self.interrupted)
            .map(|((((h, count, failed), u), sv), interrupted)| OpStats {
                count: *count,
                failed: *failed,
                interrupted: *interrupted,
                latency_us: h.summary(),
                service_us: self.open_loop.then(|| sv.summary()),
                untimed_us: (!u.is_empty()).then(|| u.summary()),
            })
    }

    pub(crate) fn counts(&self) -> (u64, u64) {
        self.per_op.iter().fold((0, 0), |(c, f), (_, n, e)| (c + n, f + e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(interval: u64, lat: &[(u32, bool, u64)]) -> Batch {
        let mut ops: Vec<(u32, OpPart)> = Vec::new();
        for &(op, ok, latency_us) in lat {
            if !ops.iter().any(|(o, _)| *o == op) {
                ops.push((op, OpPart::default()));
            }
            let part = &mut ops.iter_mut().find(|(o, _)| *o == op).expect("pushed").1;
            part.record(ok, latency_us, latency_us, if op == 1 { 10 } else { 0 });
        }
        Batch {
            interval,
            ops,
            rows: lat.len() as u64,
            ..Batch::default()
        }
    }

    #[test]
    fn totals_and_intervals() {
        let mut c = Collector::new(&["a".into(), "b".into()]);
        c.add(&batch(0, &[(0, true, 100), (1, false, 5)]));
        c.add(&batch(0, &[(0, true, 300)]));
        c.add(&batch(2, &[(1, true, 50)]));
        c.annotate(
            0,
            Annotation {
                resources: vec![("process.rss_mb".into(), 12.0)],
                paused: true,
                ..Annotation::default()
            },
        );
        let closed = c.close_before(1).to_vec();
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].ops, closed[0].failed, closed[0].rows), (3, 1, 3));
        assert_eq!(closed[0].max_us, 300);
        assert!(closed[0].paused);
        // A late batch for interval 0 adds its counts without reopening it.
        c.add(&batch(0, &[(0, true, 999_999)]));
        assert_eq!(c.timeseries()[0].ops, 4);
        assert_eq!(c.timeseries()[0].max_us, 300);
        let rest = c.close_before(u64::MAX).to_vec();
        assert_eq!(rest.iter().map(|r| r.second).collect::<Vec<_>>(), [1, 2], "gap filled");
        assert_eq!(rest[0].ops, 0);
        assert_eq!(c.counts(), (5, 1));
        let ops: Vec<OpStats> = c.per_op().collect();
        assert_eq!((ops[0].count, ops[0].failed), (3, 0));
        assert_eq!(ops[0].latency_us.max, 999_999, "totals are exact even for late batches");
        assert_eq!((ops[1].count, ops[1].failed), (2, 1));
        assert_eq!(ops[0].untimed_us, None, "an op that never went untimed reports none");
        assert_eq!(ops[1].untimed_us.map(|u| (u.count, u.max)), Some((2, 10)));
        assert_eq!(c.total().len(), 4);
    }

    #[test]
    fn a_series_longer_than_memory_keeps_is_the_same_series() {
        let dir = tempfile::tempdir().unwrap();
        let run = |c: &mut Collector| {
            for second in 0..12 {
                c.add(&batch(second, &[(0, true, 100 + second), (1, second % 3 == 0, 5)]));
                c.annotate(
                    second,
                    Annotation {
                        resources: vec![("process.rss_mb".into(), second as f64 / 3.0)],
                        ..Annotation::default()
                    },
                );
                let _ = c.close_before(second);
            }
            // Late, by more than the short window: a batch and a reading for second 1.
            c.add(&batch(1, &[(0, true, 7)]));
            c.annotate(
                1,
                Annotation {
                    paused: true,
                    ..Annotation::default()
                },
            );
            let _ = c.close_before(u64::MAX);
        };
        let mut whole = Collector::new(&["a".into(), "b".into()]);
        run(&mut whole);
        let mut spilled = Collector::new(&["a".into(), "b".into()]);
        spilled.closed = Series::with_window(2);
        spilled.stream_log(dir.path(), std::time::SystemTime::UNIX_EPOCH, "w");
        run(&mut spilled);
        assert_eq!(spilled.closed.in_memory().len(), 2, "the rest is on disk");
        let series = spilled.timeseries();
        assert_eq!(series, whole.timeseries());
        assert_eq!(series.len(), 12);
        assert_eq!(series[1].ops, 3);
        assert!(series[1].paused);
    }

    #[test]
    fn a_part_keeps_service_time_apart_only_once_it_differs() {
        let mut closed = OpPart::default();
        for v in [100, 200, 300] {
            closed.record(true, v, v, 0);
        }
        closed.record(false, 9_999, 9_999, 0);
        assert!(closed.service.is_none(), "a closed loop keeps one histogram");
        assert_eq!((closed.count, closed.failed), (4, 1));
        assert_eq!(
            closed.latency.as_ref().map(LatencyHistogram::len),
            Some(3),
            "failures have no latency"
        );

        let mut open = OpPart::default();
        open.record(true, 100, 100, 0);
        open.record(true, 5_000, 150, 7);
        open.record(true, 300, 300, 0);
        let service = open.service.as_ref().expect("kept apart once it differed").summary();
        let latency = open.latency.as_ref().expect("recorded").summary();
        assert_eq!(
            (service.count, service.max),
            (3, 300),
            "the earlier op's service time is kept"
        );
        assert_eq!((latency.count, latency.max), (3, 5_000));
        assert_eq!(open.untimed.as_ref().map(|u| (u.len(), u.summary().max)), Some((1, 7)));

        let mut c = Collector::new(&["a".into()]);
        c.add(&Batch {
            interval: 0,
            ops: vec![(0, open)],
            ..Batch::default()
        });
        assert!(c.open_loop);
        let op = c.per_op().next().expect("one op");
        assert_eq!(op.service_us.map(|s| s.max), Some(300));
        assert_eq!(op.latency_us.max, 5_000);
        let closed = c.close_before(1);
        assert_eq!((closed[0].max_us, closed[0].service_p99_us), (5_000, 300));
    }
}
