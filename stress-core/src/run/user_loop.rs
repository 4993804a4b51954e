//! One user's thread: connect, wait for the start, then roll, run, record and think until the
//! run stops.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam::channel::Sender;
use rand::Rng;

use super::pace::{Pace, Slot};
use super::panic;
use super::shared::{Shared, UserClock};
use super::signal::StopReason;
use crate::adapter::Adapter;
use crate::config::RunConfig;
use crate::durability::WriteState;
use crate::ledger::Ledger;
use crate::report::UserSummary;
use crate::seed::{self, OpDigest, UserSeed};
use crate::stats::{Batch, Measures, OpPart};
use crate::user::User;
use crate::workload::{OpKind, OpTable, UserClass};

/// Everything one user thread needs, owned: a user stuck in an op past the run's grace is
/// abandoned, not waited for, so its thread borrows nothing from the run.
pub(crate) struct UserJob<A: Adapter> {
    pub(crate) adapter: Arc<A>,
    pub(crate) classes: Arc<Vec<UserClass<A>>>,
    pub(crate) tables: Arc<Vec<OpTable>>,
    /// Per class: class op index → run op index.
    pub(crate) op_ids: Arc<Vec<Vec<u32>>>,
    /// The user's class, as an index into `classes`.
    pub(crate) class_index: usize,
    /// The user's index in the run (its clock's).
    pub(crate) user_index: usize,
    /// The user's index in the run's plan (its tracked writes' keys carry it).
    pub(crate) plan_index: u32,
    /// Run op index of the `connect` pseudo-op.
    pub(crate) connect_id: u32,
    pub(crate) seed: UserSeed,
    /// The schema seed of the user's database.
    pub(crate) db_seed: u64,
    pub(crate) config: Arc<RunConfig>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) tx: Sender<Batch>,
    pub(crate) pace: Pace,
    /// The run's transaction history, when the workload checks isolation.
    pub(crate) history: Option<Arc<crate::history::HistorySink>>,
}

/// A slot that starts more than this after its intended time counts as late.
const LATE_AFTER: Duration = Duration::from_millis(1);

#[derive(Debug)]
pub(crate) struct UserResult {
    pub(crate) summary: UserSummary,
    pub(crate) ledger: Ledger,
    pub(crate) measures: Measures,
    pub(crate) writes: crate::durability::WriteLog,
}

pub(crate) fn run_user<A: Adapter>(mut job: UserJob<A>) -> UserResult {
    let (classes, tables, op_ids, shared_arc, adapter) = (
        Arc::clone(&job.classes),
        Arc::clone(&job.tables),
        Arc::clone(&job.op_ids),
        Arc::clone(&job.shared),
        Arc::clone(&job.adapter),
    );
    let class = &classes[job.class_index];
    let table = &tables[job.class_index];
    let op_ids = &op_ids[job.class_index];
    let shared = &*shared_arc;
    let clock = &shared.clocks[job.user_index];
    let mut summary = UserSummary {
        id: job.seed.id.clone(),
        class: job.seed.class.clone(),
        seed: job.seed.seed,
        db: job.seed.db,
        ops: 0,
        failed: 0,
        substituted: 0,
        op_digest: OpDigest::new(job.seed.seed).hex(),
        scheduled_ops: None,
        retries: 0,
        retried_ops: 0,
        interrupted: 0,
        exhausted: 0,
    };
    // Connect and run the class's hook before the start: neither is timed.
    let connected = match panic::catch(|| adapter.connect(job.seed.db)) {
        Ok(Ok(conn)) => Ok(User::<A> {
            conn,
            rng: seed::rng(job.seed.seed),
            config: job.config.clone(),
            ledger: Ledger::default(),
            id: job.seed.id.as_str().into(),
            class: job.seed.class.as_str().into(),
            db: job.seed.db,
            ops_done: 0,
            db_seed: job.db_seed,
            untimed: Duration::ZERO,
            measures: Measures::default(),
            measured_from: Instant::now(),
            attempt: 1,
            states: Vec::new(),
            writes: crate::durability::WriteLog::new(job.plan_index),
            history: job.history.clone(),
            txn: None,
            adapter: Arc::clone(&adapter),
        }),
        Ok(Err(e)) => Err(format!("cannot connect: {e}")),
        Err(p) => Err(format!("cannot connect: {p}")),
    };
    // An on_connect failure is the workload's own code refusing this user (a bad parameter, a
    // session setting the engine does not take): it ends the run with its cause, rather than
    // leaving the users it did not refuse to measure a run nobody asked for.
    let connected = connected.and_then(|mut user| match &class.on_connect {
        None => Ok(user),
        Some(hook) => {
            let failed = match panic::catch(|| hook(&mut user)) {
                Ok(Ok(())) => return Ok(user),
                Ok(Err(e)) => format!("on_connect failed: {e}"),
                Err(p) => format!("on_connect {p}"),
            };
            shared
                .signal
                .stop(StopReason::Error, Some(format!("user {}: {failed}", job.seed.id)));
            Err(failed)
        }
    });
    let Some(start) = shared.wait_for_start() else {
        // The run was called off before it started: this user ran nothing.
        return UserResult {
            summary,
            ledger: Ledger::default(),
            measures: Measures::default(),
            writes: crate::durability::WriteLog::new(job.plan_index),
        };
    };
    let mut user = match connected {
        Ok(user) => user,
        Err(message) => return connect_failed(&job, summary, start, message),
    };
    user.measured_from = start + Duration::from_millis(job.config.warmup_ms);
    // The connection-breaking faults (kill, restart) begun before this connection was made.
    let mut connected_after = 0u64;
    let max_tries = job.config.max_tries.max(1);
    let mut backoff = super::backoff::Backoff::new(&job.config, job.seed.seed);
    let disk_budget = job.config.max_disk_mb.map(|mb| mb * 1_048_576);
    let mut think_rng = seed::rng(seed::derive(job.seed.seed, "think", ""));
    let (think_min, think_max) = (job.config.think_min_ms, job.config.think_max_ms);
    let deadline = job.config.users_deadline().map(|d| start + d);
    let limit = job.config.op_limit(&job.seed.id);
    let mut digest = OpDigest::new(job.seed.seed);
    // What the user recorded in the current interval, by class op index; handed over whole when
    // an op completes in a later interval, and at the end.
    let mut batch = Batch::default();
    let mut parts: Vec<OpPart> = vec![OpPart::default(); class.ops.len()];
    let signal = &shared.signal;
    let warmup = start + Duration::from_millis(job.config.warmup_ms);
    let mut active = false;
    let mut set_active = |on: bool| {
        if on != active {
            active = on;
            if on {
                shared.active.fetch_add(1, Ordering::Relaxed);
            } else {
                shared.active.fetch_sub(1, Ordering::Relaxed);
            }
        }
    };
    loop {
        if signal.is_stopped() || limit.is_some_and(|n| user.ops_done >= n) {
            break;
        }
        if shared.paused.load(Ordering::Relaxed) {
            signal.wait_while(|| shared.paused.load(Ordering::Relaxed));
            job.pace.restart();
            continue;
        }
        let (intended, lag) = match job.pace.next(start, signal) {
            Slot::Stop => break,
            Slot::Park => {
                set_active(false);
                continue;
            }
            Slot::Skip { lag } => {
                set_active(true);
                batch.skipped += 1;
                batch.max_lag_us = batch.max_lag_us.max(lag.as_micros() as u64);
                continue;
            }
            Slot::Run { intended, lag } => {
                set_active(true);
                (intended, lag)
            }
        };
        let mut i = table.roll(&mut user.rng);
        let mut substituted = false;
        // With a budget the adapter can measure cheaply, a write asks before it runs: the
        // budget then holds to within one op's writes per writing user, not a second's.
        if class.ops[i].kind == OpKind::Write
            && let Some(budget) = disk_budget
            && adapter.disk_bytes().is_some_and(|b| b >= budget)
        {
            shared.disk_over.store(true, Ordering::Relaxed);
        }
        if class.ops[i].kind == OpKind::Write && shared.disk_over.load(Ordering::Relaxed) {
            match table.roll_read(&mut user.rng) {
                Some(r) => (i, substituted) = (r, true),
                None => {
                    // A class with no reads waits for disk to be freed, or for the run to end.
                    signal.wait_while(|| shared.disk_over.load(Ordering::Relaxed));
                    continue;
                }
            }
        }
        let op = &class.ops[i];
        user.untimed = Duration::ZERO;
        let t0 = Instant::now();
        // Each instant is taken apart once: this loop runs once per op.
        let since0 = t0.saturating_duration_since(start);
        // What finished in earlier intervals goes now, before an op that might never return.
        if since0.as_secs() != batch.interval {
            flush(&job.tx, &mut batch, &mut parts, op_ids);
        }
        clock.op.store(op_ids[i] + 1, Ordering::Relaxed);
        clock
            .busy_since
            .store(UserClock::stamp_since(since0), Ordering::Relaxed);
        // Tries of one op: each starts from the first's RNG position (the same arguments, like
        // pgbench), after a backoff wait; the op's latency covers them all, waits included.
        let rng_at = (max_tries > 1).then(|| user.rng.clone());
        user.attempt = 1;
        let result = loop {
            let writes_from = user.writes.len();
            let result = panic::catch(|| (op.f)(&mut user));
            // Tracked writes the try did not acknowledge: refused, or open when its error
            // leaves the commit open (or it panicked).
            let state = match &result {
                Ok(Ok(_)) => WriteState::Failed,
                Ok(Err(e)) if !adapter.is_indeterminate(e) => WriteState::Failed,
                _ => WriteState::Indeterminate,
            };
            user.writes.settle(writes_from, state);
            user.ledger.settle(state == WriteState::Indeterminate);
            if let (Some((invoked, mops, said)), Some(history)) = (user.txn.take(), &job.history) {
                let outcome = said.unwrap_or(match (&result, state) {
                    (Ok(Ok(_)), _) => stress_isolation::Outcome::Ok,
                    (_, WriteState::Indeterminate) => stress_isolation::Outcome::Info,
                    _ => stress_isolation::Outcome::Fail,
                });
                history.record(job.plan_index, invoked, mops, outcome);
            }
            match (&result, &rng_at) {
                (Ok(Err(e)), Some(rng))
                    if user.attempt < max_tries && !signal.is_stopped() && adapter.is_retryable(e) =>
                {
                    // A run that stops during the wait ends the op with this try's error.
                    let wait = backoff.wait(user.attempt);
                    if !wait.is_zero() && signal.sleep(wait) {
                        break result;
                    }
                    user.attempt += 1;
                    user.rng = rng.clone();
                }
                _ => break result,
            }
        };
        let retryable_failure = matches!(&result, Ok(Err(e)) if adapter.is_retryable(e));
        if user.attempt > 1 {
            summary.retries += u64::from(user.attempt - 1);
            summary.retried_ops += 1;
        }
        let t1 = Instant::now();
        let since1 = t1.saturating_duration_since(start);
        let untimed = user.untimed;
        user.ops_done += 1;
        clock.ops.store(user.ops_done, Ordering::Relaxed);
        digest.push(&op.name, user.rng.get_word_pos());
        let interval = since1.as_secs();
        if interval != batch.interval {
            flush(&job.tx, &mut batch, &mut parts, op_ids);
        }
        batch.interval = interval;
        if intended.is_some() {
            batch.lag_sum_us += lag.as_micros() as u64;
            batch.max_lag_us = batch.max_lag_us.max(lag.as_micros() as u64);
            batch.late += u64::from(lag > LATE_AFTER);
        }
        let measured = t1 >= warmup;
        // A connection a fault broke: the op's outcome is open (neither success nor failure),
        // and the user connects again before its next op.
        // The count of breaking faults is odd while one is under way (see `run_faults`).
        let breaks = shared.breaks.load(Ordering::SeqCst);
        let interrupted = matches!(&result, Ok(Err(e)) if adapter.is_indeterminate(e))
            && (breaks > connected_after || breaks % 2 == 1);
        // An op a fault interrupted did not complete: the user still waits on the engine (to
        // connect again), and a stall goes on until it gets an answer.
        if !interrupted {
            let done = UserClock::stamp_since(since1);
            clock.last_done.store(done, Ordering::Relaxed);
            clock.busy_since.store(0, Ordering::Relaxed);
            if matches!(result, Ok(Ok(_))) {
                shared.outages.succeeded(UserClock::stamp_since(since0), done);
            }
        }
        let ok = match result {
            _ if interrupted => false,
            Ok(Ok(outcome)) => {
                if measured {
                    batch.rows += outcome.rows;
                    batch.bytes += outcome.bytes;
                }
                true
            }
            Ok(Err(e)) => {
                let tries = if user.attempt > 1 {
                    format!(" (after {} tries)", user.attempt)
                } else {
                    String::new()
                };
                shared
                    .errors
                    .record(&summary.id, &op.name, || format!("{e}{tries}"), since1);
                abort_on_error(&job, &summary.id, &op.name, || format!("{e}{tries}"));
                false
            }
            Err(p) => {
                abort_on_error(&job, &summary.id, &op.name, || p.clone());
                shared.errors.record(&summary.id, &op.name, || p, since1);
                false
            }
        };
        summary.ops += 1;
        summary.failed += u64::from(!ok && !interrupted);
        summary.interrupted += u64::from(interrupted);
        // Failed for good: the last of all its tries failed with an error worth another.
        summary.exhausted += u64::from(measured && !interrupted && user.attempt >= max_tries && retryable_failure);
        if substituted {
            summary.substituted += 1;
            batch.substituted += 1;
        }
        let service = since1.saturating_sub(since0).saturating_sub(untimed);
        // Under a rate, latency counts from the intended start: a stalled server shows up in
        // every op that had to wait for it, not only in the one that hit the stall.
        let latency = intended.map_or(service, |t| t1.saturating_duration_since(t).saturating_sub(untimed));
        if measured && interrupted {
            parts[i].record_interrupted();
        } else if measured {
            parts[i].record(
                ok,
                latency.as_micros() as u64,
                service.as_micros() as u64,
                untimed.as_micros() as u64,
            );
        } else {
            batch.warmup += 1;
        }
        if deadline.is_some_and(|d| t1 >= d) {
            signal.stop(StopReason::DurationElapsed, None);
            break;
        }
        if interrupted {
            let reconnected = reconnect(&job, class, &mut user);
            clock.busy_since.store(0, Ordering::Relaxed);
            match reconnected {
                Some(breaks) => connected_after = breaks,
                None => break,
            }
        }
        if think_max > 0 && !job.pace.open_loop() {
            let ms = think_rng.random_range(think_min..=think_max);
            if signal.sleep(Duration::from_millis(ms)) {
                break;
            }
        }
    }
    set_active(false);
    clock.busy_since.store(0, Ordering::Relaxed);
    flush(&job.tx, &mut batch, &mut parts, op_ids);
    summary.op_digest = digest.hex();
    // What the schedule made due while this user ran: up to the deadline, or to its stop.
    let end = deadline.map_or_else(Instant::now, |d| d.min(Instant::now()));
    summary.scheduled_ops = job
        .pace
        .scheduled(end.saturating_duration_since(start))
        .map(|due| limit.map_or(due, |n| n.min(due)));
    UserResult {
        summary,
        ledger: user.ledger,
        measures: user.measures,
        writes: user.writes,
    }
}

/// Connects the user again after a fault broke its connection: tries until the engine accepts
/// (it may be starting again) or the run stops (`None`). Returns the count of breaking faults
/// begun before the new connection.
fn reconnect<A: Adapter>(job: &UserJob<A>, class: &crate::workload::UserClass<A>, user: &mut User<A>) -> Option<u64> {
    loop {
        let breaks = job.shared.breaks.load(Ordering::SeqCst);
        if let Ok(Ok(conn)) = panic::catch(|| job.adapter.connect(job.seed.db)) {
            user.conn = conn;
            if let Some(hook) = &class.on_connect
                && !matches!(panic::catch(|| hook(user)), Ok(Ok(())))
            {
                continue;
            }
            return Some(breaks);
        }
        if job.shared.signal.sleep(Duration::from_millis(20)) {
            return None;
        }
    }
}

/// With `--abort-on-error`, the first op that fails (after its tries) stops the run.
fn abort_on_error<A: Adapter>(job: &UserJob<A>, user: &str, op: &str, message: impl FnOnce() -> String) {
    if job.config.abort_on_error {
        job.shared
            .signal
            .stop(StopReason::OpFailed, Some(format!("{user} {op}: {}", message())));
    }
}

/// Hands the interval's parts over (the ops with none are left), keeping the interval: the
/// caller sets the next one.
fn flush(tx: &Sender<Batch>, batch: &mut Batch, parts: &mut [OpPart], op_ids: &[u32]) {
    for (i, part) in parts.iter_mut().enumerate() {
        if part.count > 0 {
            batch.ops.push((op_ids[i], std::mem::take(part)));
        }
    }
    if batch.is_empty() {
        return;
    }
    let full = std::mem::replace(
        batch,
        Batch {
            interval: batch.interval,
            ..Batch::default()
        },
    );
    // The collector outlives every user; a send can only fail if it panicked, and then the
    // run reports that.
    let _ = tx.send(full);
}

fn connect_failed<A: Adapter>(
    job: &UserJob<A>,
    mut summary: UserSummary,
    start: Instant,
    message: String,
) -> UserResult {
    let at = start.elapsed();
    job.shared.errors.record(&summary.id, "connect", || message, at);
    summary.failed = 1;
    summary.ops = 1;
    let _ = job.tx.send(Batch {
        interval: at.as_secs(),
        ops: vec![(job.connect_id, OpPart::failed_op())],
        ..Batch::default()
    });
    UserResult {
        summary,
        ledger: Ledger::default(),
        measures: Measures::default(),
        writes: crate::durability::WriteLog::new(job.plan_index),
    }
}
