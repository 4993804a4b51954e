//! The monitor thread: every interval it has the [`Sampler`] read the metrics sources, steers the
//! users by the limits (pause, disk budget) and the stages, asks the [`StopPolicy`] whether to
//! stop, collects the users' batches and tells observers about each closed interval and event.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, RecvTimeoutError};

use super::pace::stage_target;
use super::sampling::Sampler;
use super::shared::Shared;
use super::signal::StopReason;
use super::stop_policy::{StopPolicy, Verdict};
use crate::config::RunConfig;
use crate::event::Event;
use crate::monitor::{LimitEvent, Limits};
use crate::report::{Backpressure, Observer, Progress};
use crate::stats::{Annotation, Batch, Collector};

/// Intervals stay open this many seconds for late batches before their percentiles are final.
const GRACE_INTERVALS: u64 = 2;
/// The monitor's sampling interval (one row of `timeseries.csv`).
const INTERVAL: Duration = Duration::from_secs(1);

/// The monitor: samples metrics every interval, applies limits, detects crashes, collects the
/// users' batches and tells observers about each closed interval.
pub(crate) struct Monitor<'a> {
    pub(crate) shared: &'a Shared,
    /// Reads the metrics sources.
    pub(crate) sampler: Sampler,
    /// Decides when the run stops.
    pub(crate) policy: StopPolicy,
    pub(crate) limits: Limits,
    pub(crate) collector: Collector,
    pub(crate) observers: &'a mut Vec<Box<dyn Observer>>,
    pub(crate) backpressure: Backpressure,
    pub(crate) pause_reason: Option<String>,
    pub(crate) paused_since: Option<Instant>,
    pub(crate) totals: (u64, u64),
    pub(crate) duration: Option<Duration>,
    pub(crate) config: RunConfig,
    pub(crate) start: Instant,
    /// The workload, as events name it.
    pub(crate) workload: String,
    /// The stage the load is in, as last told.
    pub(crate) stage: Option<usize>,
    /// Whether observers were told the run is stopping.
    pub(crate) told_stopping: bool,
    /// This process's share of the run's users (1, but for a shard): the time series' target
    /// is this share of the stage's, so that the shards' targets add up to the run's.
    pub(crate) target_share: f64,
    /// How many of the injected faults the observers were told of.
    pub(crate) faults_told: usize,
}

impl Monitor<'_> {
    /// Runs until every user has finished (their senders are gone), or until users are still
    /// in an op the policy's grace after the run stopped (or at a second
    /// Ctrl-C); returns that instant and whether users were left in an op.
    pub(crate) fn run(&mut self, rx: &Receiver<Batch>, start: Instant) -> (Instant, bool) {
        self.start = start;
        self.sampler.baseline();
        self.policy.deadline = self.duration.map(|d| start + d);
        let mut next = 1u64;
        let mut stuck = false;
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
            match self.policy.tick(&self.shared.signal, now) {
                Verdict::Running => {}
                Verdict::Stopping => self.tell_stopping(now),
                Verdict::Abandon => {
                    self.tell_stopping(now);
                    // What the users sent so far counts; those still in an op are left to it.
                    while let Ok(batch) = rx.try_recv() {
                        self.collector.add(&batch);
                    }
                    stuck = true;
                    break;
                }
            }
            self.tell_faults();
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

    /// Tells the observers of the faults injected since last told.
    pub(crate) fn tell_faults(&mut self) {
        let new: Vec<crate::fault::FaultRecord> = match self.shared.faults.lock() {
            Ok(all) if all.len() > self.faults_told => all[self.faults_told..].to_vec(),
            _ => return,
        };
        self.faults_told += new.len();
        for fault in new {
            let event = Event::Fault {
                workload: self.workload.clone(),
                fault,
            };
            self.emit(&event);
        }
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

    fn sample(&mut self, interval: u64, now: Instant) {
        let sampled = self.sampler.sample();
        for (source, why) in &sampled.crashed {
            self.policy.crashed(&self.shared.signal, source, why);
        }
        for event in self.limits.update(sampled.memory, sampled.cpu, sampled.disk, now) {
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
                LimitEvent::Stop(why) => self.policy.limit_held(&self.shared.signal, why),
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
                resources: sampled.readings,
                paused: self.limits.paused(),
                active_users: self.shared.active.load(Ordering::Relaxed) as u64,
                target: target.map(|t| t * self.target_share),
                stage,
            },
        );
        self.policy.judge(&self.shared.signal, &self.collector, at);
    }

    fn close(&mut self, before: u64) {
        let closed = self.collector.close_before(before);
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
