//! The monitor thread: samples the metrics sources every interval, applies the limits, detects
//! crashes, collects the users' batches and tells observers about each closed interval.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, RecvTimeoutError};

use super::shared::{Shared, observed};
use super::signal::{self, StopReason};
use crate::config::{RunConfig, stage_target};
use crate::monitor::{Health, LimitEvent, Limits, MetricsSource, ResourceKind};
use crate::protocol::Event;
use crate::report::{Backpressure, Observer, Progress};
use crate::stats::{Annotation, Batch, Collector, LatencyHistogram};
use crate::thresholds::Threshold;

/// Intervals stay open this many seconds for late batches before their percentiles are final.
const GRACE_INTERVALS: u64 = 2;
/// The monitor's sampling interval (one row of `timeseries.csv`).
const INTERVAL: Duration = Duration::from_secs(1);

/// The monitor: samples metrics every interval, applies limits, detects crashes, collects the
/// users' batches and tells observers about each closed interval.
pub(crate) struct Monitor<'a> {
    pub(crate) shared: &'a Shared,
    /// How long users may stay in an op after the run stopped before they are abandoned.
    pub(crate) stuck_grace: Duration,
    pub(crate) sources: Vec<Box<dyn MetricsSource>>,
    pub(crate) limits: Limits,
    pub(crate) collector: Collector,
    pub(crate) observers: &'a mut Vec<Box<dyn Observer>>,
    pub(crate) peaks: BTreeMap<String, f64>,
    /// Readings when the users started.
    pub(crate) baseline: BTreeMap<String, f64>,
    /// Server-side latencies by source, from [`MetricsSource::server_latencies`].
    pub(crate) server_latency: BTreeMap<String, LatencyHistogram>,
    pub(crate) backpressure: Backpressure,
    pub(crate) warned: Vec<String>,
    pub(crate) pause_reason: Option<String>,
    pub(crate) paused_since: Option<Instant>,
    pub(crate) totals: (u64, u64),
    pub(crate) duration: Option<Duration>,
    pub(crate) config: RunConfig,
    pub(crate) start: Instant,
    pub(crate) thresholds: Vec<Threshold>,
    pub(crate) op_names: Vec<String>,
    /// The workload, as events name it.
    pub(crate) workload: String,
    /// The stage the load is in, as last told.
    pub(crate) stage: Option<usize>,
    /// Whether observers were told the run is stopping.
    pub(crate) told_stopping: bool,
}

impl Monitor<'_> {
    /// Runs until every user has finished (their senders are gone); returns that instant.
    /// Runs until every user has finished (their senders are gone), or until users are still
    /// in an op [`stuck_grace`](Self::stuck_grace) after the run stopped (or at a second
    /// Ctrl-C); returns that instant and whether users were left in an op.
    pub(crate) fn run(&mut self, rx: &Receiver<Batch>, start: Instant) -> (Instant, bool) {
        self.start = start;
        self.sample_baseline();
        let deadline = self.duration.map(|d| start + d);
        let mut next = 1u64;
        let (mut stopped_at, mut stuck) = (None::<Instant>, false);
        loop {
            let next_tick = start + INTERVAL * next as u32;
            let wake = next_tick.min(Instant::now() + Duration::from_millis(100));
            match rx.recv_deadline(wake) {
                Ok(batch) => self.collector.add(&batch),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            self.collector.max_stall_us = self.shared.max_stall_us.load(Ordering::Relaxed);
            if signal::interrupted() {
                self.shared.signal.stop(StopReason::Interrupted, None);
            }
            if deadline.is_some_and(|d| now >= d) {
                self.shared.signal.stop(StopReason::DurationElapsed, None);
            }
            if self.shared.signal.is_stopped() {
                self.tell_stopping(now);
                let since = *stopped_at.get_or_insert(now);
                if now.saturating_duration_since(since) >= self.stuck_grace || signal::interrupted_again() {
                    // What the users sent so far counts; those still in an op are left to it.
                    while let Ok(batch) = rx.try_recv() {
                        self.collector.add(&batch);
                    }
                    stuck = true;
                    break;
                }
            }
            let k = now.saturating_duration_since(start).as_secs();
            if k >= next {
                self.sample(k - 1, now);
                self.close(k.saturating_sub(GRACE_INTERVALS));
                next = k + 1;
            }
        }
        let end = Instant::now();
        self.sample(end.saturating_duration_since(start).as_secs(), end);
        if let Some(since) = self.paused_since.take() {
            self.backpressure.paused_s += end.saturating_duration_since(since).as_secs_f64();
        }
        self.close(u64::MAX);
        self.backpressure.paused_s = (self.backpressure.paused_s * 1000.0).round() / 1000.0;
        (end, stuck)
    }

    /// Tells the observers.
    fn emit(&mut self, event: &Event) {
        for o in self.observers.iter_mut() {
            o.on_event(event);
        }
    }

    fn at_s(&self, now: Instant) -> f64 {
        (now.saturating_duration_since(self.start).as_secs_f64() * 1000.0).round() / 1000.0
    }

    /// Tells the observers, once, that the run is stopping and why.
    fn tell_stopping(&mut self, now: Instant) {
        if self.told_stopping {
            return;
        }
        self.told_stopping = true;
        let (stop_reason, detail) = self.shared.signal.reason().unwrap_or((StopReason::OpLimit, None));
        let event = Event::Stopping {
            workload: self.workload.clone(),
            at_s: self.at_s(now),
            stop_reason,
            detail,
        };
        self.emit(&event);
    }

    /// Readings at the users' start, beside the peaks: what the run added is peak minus start.
    /// This process's memory high-water mark is reset first, so that its peak is the run's own.
    fn sample_baseline(&mut self) {
        crate::monitor::reset_peak_rss();
        for src in &mut self.sources {
            let name = src.name().to_owned();
            // A source that cannot be read now is reported by the first interval's sample.
            for r in src.sample().unwrap_or_default() {
                let key = format!("{name}.{}", r.name);
                let peak = self.peaks.entry(key.clone()).or_insert(r.value);
                *peak = peak.max(r.value);
                self.baseline.insert(key, r.value);
            }
        }
    }

    fn sample(&mut self, interval: u64, now: Instant) {
        let mut readings = Vec::new();
        let (mut memory, mut cpu, mut disk) = (0.0, 0.0, 0.0);
        for src in &mut self.sources {
            let name = src.name().to_owned();
            match src.sample() {
                Ok(rs) => {
                    for r in rs {
                        let key = format!("{name}.{}", r.name);
                        let peak = self.peaks.entry(key.clone()).or_insert(r.value);
                        *peak = peak.max(r.value);
                        match r.kind {
                            ResourceKind::MemoryMb => memory += r.value,
                            ResourceKind::CpuPercent => cpu += r.value,
                            ResourceKind::DiskMb => disk += r.value,
                            ResourceKind::Other => {}
                        }
                        readings.push((key, r.value));
                    }
                }
                Err(e) => {
                    let w = format!("metrics source `{name}` cannot be read: {e}");
                    if !self.warned.contains(&w) {
                        self.warned.push(w);
                    }
                }
            }
            let latencies = src.server_latencies();
            if !latencies.is_empty() {
                let h = self.server_latency.entry(name.clone()).or_default();
                latencies.into_iter().for_each(|us| h.record(us));
            }
            if let Health::Crashed(why) = src.health() {
                self.shared
                    .signal
                    .stop(StopReason::CrashDetected, Some(format!("{name}: {why}")));
            }
        }
        for event in self.limits.update(memory, cpu, disk, now) {
            match event {
                LimitEvent::Pause(true, why) => {
                    self.shared.paused.store(true, Ordering::Relaxed);
                    self.backpressure.pauses += 1;
                    self.paused_since = Some(now);
                    let event = Event::Pause {
                        workload: self.workload.clone(),
                        at_s: self.at_s(now),
                        reason: why.clone(),
                    };
                    self.emit(&event);
                    self.pause_reason = Some(why);
                }
                LimitEvent::Pause(false, _) => {
                    self.shared.paused.store(false, Ordering::Relaxed);
                    if let Some(since) = self.paused_since.take() {
                        let paused = now.saturating_duration_since(since).as_secs_f64();
                        self.backpressure.paused_s += paused;
                        let event = Event::Resume {
                            workload: self.workload.clone(),
                            at_s: self.at_s(now),
                            paused_s: (paused * 1000.0).round() / 1000.0,
                        };
                        self.emit(&event);
                    }
                    self.pause_reason = None;
                }
                LimitEvent::DiskOver(over, _) => {
                    self.shared.disk_over.store(over, Ordering::Relaxed);
                    self.backpressure.disk_budget_hits += u64::from(over);
                }
                LimitEvent::Stop(why) => self.shared.signal.stop(StopReason::ResourceLimit, Some(why)),
            }
        }
        let at = now.saturating_duration_since(self.start);
        let (stage, target) = match stage_target(&self.config.stages, at) {
            Some((i, t)) => (Some(i), Some(t)),
            None => (None, self.config.rate),
        };
        if let Some(i) = stage
            && self.stage != Some(i)
        {
            self.stage = Some(i);
            let event = Event::Stage {
                workload: self.workload.clone(),
                at_s: self.at_s(now),
                stage: i,
                target: self.config.stages[i].target,
            };
            self.emit(&event);
        }
        self.collector.annotate(
            interval,
            Annotation {
                resources: readings,
                paused: self.limits.paused(),
                active_users: self.shared.active.load(Ordering::Relaxed) as u64,
                target,
                stage,
            },
        );
        let warmup = Duration::from_millis(self.config.warmup_ms);
        if self.config.abort_on_fail && at > warmup && !self.thresholds.is_empty() {
            let o = observed(&self.collector, &self.op_names, (at - warmup).as_secs_f64());
            if let Some(r) = self.thresholds.iter().map(|t| t.evaluate(&o)).find(|r| !r.passed) {
                self.shared
                    .signal
                    .stop(StopReason::ThresholdBreached, Some(r.to_string()));
            }
        }
    }

    fn close(&mut self, before: u64) {
        let closed = self.collector.close_before(before).to_vec();
        for r in &closed {
            self.totals.0 += r.ops;
            self.totals.1 += r.failed;
            for o in self.observers.iter_mut() {
                o.on_interval(&Progress {
                    elapsed: Duration::from_secs(r.second + 1),
                    duration: self.duration,
                    total_ops: self.totals.0,
                    failed_ops: self.totals.1,
                    interval: r,
                    paused: self.pause_reason.as_deref(),
                });
            }
        }
    }
}
