//! What the run's threads share: the stop signal, pause flags, the start gate, the users'
//! clocks the stall watcher reads, the error log, and the figures thresholds are judged on.
//! The engine owns it; the user and monitor loops use it, and none of them imports another.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::signal::{self, StopSignal};
use crate::report::{ErrorRecord, MAX_KEPT_ERRORS};
use crate::stats::Collector;
use crate::thresholds::Observed;

/// State every user thread shares with the monitor: flags read on the hot path are atomics.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) signal: StopSignal,
    pub(crate) paused: AtomicBool,
    pub(crate) disk_over: AtomicBool,
    pub(crate) errors: ErrorLog,
    /// Users not parked by the stages.
    pub(crate) active: AtomicUsize,
    pub(crate) gate: StartGate,
    /// One clock per user, in user order: what the stall watcher reads.
    pub(crate) clocks: Vec<UserClock>,
    /// The longest stall seen so far, µs.
    pub(crate) max_stall_us: std::sync::atomic::AtomicU64,
    /// The faults injected so far (the fault thread adds, the monitor tells the observers).
    pub(crate) faults: std::sync::Mutex<Vec<crate::fault::FaultRecord>>,
    /// How many faults that break connections (kill, restart) began: a user whose connection
    /// is older than the last of them reconnects when it finds it broken.
    pub(crate) breaks: std::sync::atomic::AtomicU64,
    /// The faults' outages: opened at each injection, closed by the first op that began after
    /// it and succeeded.
    pub(crate) outages: Outages,
    /// Set when the users' time is over (they stopped, or the run is stopping): no fault is
    /// injected after it, and a hold under way ends.
    pub(crate) users_over: AtomicBool,
}

/// The outages of the faults injected so far, as stamps of the users' clock ([`UserClock`]).
/// A user checks one atomic per op; only while an outage is open does a success take the lock.
#[derive(Debug, Default)]
pub(crate) struct Outages {
    open: AtomicUsize,
    spans: Mutex<Vec<Outage>>,
}

#[derive(Debug)]
struct Outage {
    /// The injection.
    from: u64,
    /// Only an op that began after this can end the outage: the fault's injection was over (a
    /// killed engine restarted, a paused one resumed). Until then, `u64::MAX`.
    after: u64,
    /// The first such op's success.
    until: Option<u64>,
}

impl Outages {
    /// Opens an outage at `from` (a stamp); its index. An op that began after `from` and
    /// succeeded ends it — or, for a fault that takes the engine away (`away`), only one that
    /// began once the injection was over ([`back`](Self::back)): an op that slipped in before
    /// the engine went down says nothing of when it came back.
    pub(crate) fn open(&self, from: u64, away: bool) -> usize {
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        spans.push(Outage {
            from,
            after: if away { u64::MAX } else { from },
            until: None,
        });
        self.open.fetch_add(1, Ordering::SeqCst);
        spans.len() - 1
    }

    /// The injection of outage `i` was over at `at` (a stamp).
    pub(crate) fn back(&self, i: usize, at: u64) {
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = spans.get_mut(i) {
            o.after = o.after.min(at);
        }
    }

    /// An op that began at `began` succeeded at `done`: every outage it can end is over.
    #[inline]
    pub(crate) fn succeeded(&self, began: u64, done: u64) {
        if self.open.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        for o in spans.iter_mut() {
            if o.until.is_none() && o.after < began {
                o.until = Some(done);
                self.open.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Drops outage `i` (its fault was never injected): nothing was out.
    pub(crate) fn cancel(&self, i: usize) {
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(o) = spans.get_mut(i)
            && o.until.is_none()
        {
            o.until = Some(o.from);
            self.open.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Outage `i`: its length in µs, `None` while it is open.
    pub(crate) fn length_us(&self, i: usize) -> Option<u64> {
        let spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        spans.get(i).and_then(|o| Some(o.until?.saturating_sub(o.from)))
    }
}

/// When a user's op started (0: no op in flight) and when its last op completed, µs from
/// the run's start plus 1. Written by its user only, each on a cache line of its own, so that
/// users never contend on it.
#[derive(Debug, Default)]
#[repr(align(64))]
pub(crate) struct UserClock {
    pub(crate) busy_since: std::sync::atomic::AtomicU64,
    pub(crate) last_done: std::sync::atomic::AtomicU64,
    /// The run op index of the op in flight, plus 1.
    pub(crate) op: std::sync::atomic::AtomicU32,
    /// Ops the user has finished.
    pub(crate) ops: std::sync::atomic::AtomicU64,
}

impl UserClock {
    /// The clock's value for `t`.
    pub(crate) fn stamp(start: Instant, t: Instant) -> u64 {
        Self::stamp_since(t.saturating_duration_since(start))
    }

    /// The stamp of the instant `since` after the start.
    pub(crate) fn stamp_since(since: Duration) -> u64 {
        since.as_micros() as u64 + 1
    }

    /// The stamp of the instant `ns` nanoseconds after the start (as `stamp_since`).
    #[inline]
    pub(crate) fn stamp_ns(ns: u64) -> u64 {
        ns / 1000 + 1
    }
}

/// How long ops have been in flight with none completing, µs, at `now` (a stamp): from the
/// later of the last completion and the oldest op in flight; 0 when no op is in flight.
pub(crate) fn stall_at(clocks: &[UserClock], now: u64) -> u64 {
    let (mut last_done, mut oldest_busy) = (0, u64::MAX);
    for c in clocks {
        last_done = last_done.max(c.last_done.load(Ordering::Relaxed));
        let busy = c.busy_since.load(Ordering::Relaxed);
        if busy > 0 {
            oldest_busy = oldest_busy.min(busy);
        }
    }
    if oldest_busy == u64::MAX {
        0
    } else {
        now.saturating_sub(last_done.max(oldest_busy))
    }
}

/// Where users wait for the common start once connected: opened when every user has arrived,
/// or cancelled (a user thread that could not start, Ctrl-C while connecting), so that no user
/// waits for one that will never come.
#[derive(Debug, Default)]
pub(crate) struct StartGate {
    state: Mutex<GateState>,
    cv: Condvar,
}

#[derive(Debug, Default)]
pub(crate) struct GateState {
    arrived: usize,
    start: Option<Instant>,
    cancelled: bool,
}

impl Shared {
    /// What `users` users and the run's other threads share, before the start.
    pub(crate) fn new(users: usize) -> Self {
        Self {
            signal: StopSignal::default(),
            paused: AtomicBool::new(false),
            disk_over: AtomicBool::new(false),
            errors: ErrorLog::default(),
            active: AtomicUsize::new(0),
            gate: StartGate::default(),
            clocks: (0..users).map(|_| UserClock::default()).collect(),
            max_stall_us: std::sync::atomic::AtomicU64::new(0),
            faults: std::sync::Mutex::new(Vec::new()),
            breaks: std::sync::atomic::AtomicU64::new(0),
            outages: Default::default(),
            users_over: AtomicBool::new(false),
        }
    }

    /// Waits until every user has connected and returns the common start instant; `None` when
    /// the run was called off before it started.
    pub(crate) fn wait_for_start(&self) -> Option<Instant> {
        let mut g = self.gate.state.lock().unwrap_or_else(|e| e.into_inner());
        g.arrived += 1;
        self.gate.cv.notify_all();
        while g.start.is_none() && !g.cancelled {
            g = self.gate.cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        g.start
    }

    /// Opens the gate once `users` users have arrived; calls it off instead if the run stops
    /// first (a Ctrl-C while users connect) or it was cancelled.
    pub(crate) fn open_when_all(&self, users: usize) -> Option<Instant> {
        let mut g = self.gate.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if g.cancelled || self.signal.is_stopped() || signal::interrupted() {
                g.cancelled = true;
                self.gate.cv.notify_all();
                return None;
            }
            if g.arrived >= users {
                let now = Instant::now();
                g.start = Some(now);
                self.gate.cv.notify_all();
                return Some(now);
            }
            g = self
                .gate
                .cv
                .wait_timeout(g, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Calls the start off: every user waiting at the gate returns at once.
    pub(crate) fn cancel_start(&self) {
        let mut g = self.gate.state.lock().unwrap_or_else(|e| e.into_inner());
        g.cancelled = true;
        self.gate.cv.notify_all();
    }
}

/// The first errors of a run, kept for the summary; the rest are only counted.
#[derive(Debug, Default)]
pub(crate) struct ErrorLog {
    pub(crate) seen: AtomicUsize,
    kept: Mutex<Vec<ErrorRecord>>,
}

impl ErrorLog {
    /// Keeps the error if fewer than [`MAX_KEPT_ERRORS`] were kept; `message` is only built then.
    pub(crate) fn record(&self, user: &str, op: &str, message: impl FnOnce() -> String, at: Duration) {
        if self.seen.fetch_add(1, Ordering::Relaxed) < MAX_KEPT_ERRORS {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            kept.push(ErrorRecord {
                user: user.to_owned(),
                op: op.to_owned(),
                message: message(),
                at_s: (at.as_secs_f64() * 1000.0).round() / 1000.0,
            });
        }
    }

    pub(crate) fn take(&self) -> Vec<ErrorRecord> {
        let mut kept = std::mem::take(&mut *self.kept.lock().unwrap_or_else(|e| e.into_inner()));
        kept.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        kept
    }
}

/// The figures thresholds are judged on, from the collector (during the run, or at its end).
pub(crate) fn observed(c: &Collector, names: &[String], measured_secs: f64) -> Observed {
    let (total_ops, failed_ops) = c.counts();
    Observed {
        latency: c.total().summary(),
        service: c.total_service().summary(),
        ops: names
            .iter()
            .cloned()
            .zip(c.per_op())
            .map(|(n, s)| {
                let service = s.service_us.unwrap_or(s.latency_us);
                (n, (s.latency_us, service, s.count, s.failed))
            })
            .collect(),
        total_ops,
        failed_ops,
        ops_per_sec: if measured_secs > 0.0 {
            total_ops as f64 / measured_secs
        } else {
            0.0
        },
        max_lag_us: c.schedule.max_lag_us,
        max_stall_us: c.max_stall_us,
        delivered: None,
    }
}
