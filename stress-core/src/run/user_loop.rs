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
use super::since::{NS_PER_S, Since, ns};
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

pub(crate) fn run_user<A: Adapter>(job: UserJob<A>) -> UserResult {
    let (classes, shared) = (Arc::clone(&job.classes), Arc::clone(&job.shared));
    let class = &classes[job.class_index];
    let summary = fresh_summary(&job.seed);
    // Connect and run the class's hook before the start: neither is timed.
    let connected = connect_user(&job, class, &shared);
    let Some(start) = shared.wait_for_start() else {
        // The run was called off before it started: this user ran nothing.
        return UserResult {
            summary,
            ledger: Ledger::default(),
            measures: Measures::default(),
            writes: crate::durability::WriteLog::new(job.plan_index),
        };
    };
    match connected {
        Ok(user) => drive(job, user, summary, start),
        Err(message) => connect_failed(&job, summary, start, message),
    }
}

/// The user's ops from the common `start` until the run stops, its op limit or its deadline:
/// roll, run (and try again), record, think.
fn drive<A: Adapter>(mut job: UserJob<A>, mut user: User<A>, mut summary: UserSummary, start: Instant) -> UserResult {
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
    user.measured_from = start + Duration::from_millis(job.config.warmup_ms);
    // The connection-breaking faults (kill, restart) begun before this connection was made.
    let mut connected_after = 0u64;
    let max_tries = job.config.max_tries.max(1);
    let mut backoff = super::backoff::Backoff::new(&job.config, job.seed.seed);
    let disk_budget = job.config.max_disk_mb.map(|mb| mb * 1_048_576);
    let mut think = Think::new(&job.config, job.seed.seed);
    let deadline = job.config.users_deadline().map(|d| start + d);
    // The loop's times are nanoseconds since the start (`Since`): one read and a subtraction.
    let since = Since::new(start);
    let deadline_ns = deadline.map(|d| since.of(d));
    let limit = job.config.op_limit(&job.seed.id);
    let mut digest = OpDigest::new(job.seed.seed);
    // What the user recorded in the current interval, by class op index; handed over whole when
    // an op completes in a later interval, and at the end.
    let mut batch = Batch::default();
    let mut parts: Vec<OpPart> = vec![OpPart::default(); class.ops.len()];
    let signal = &shared.signal;
    let warmup_ns = job.config.warmup_ms.saturating_mul(1_000_000);
    let mut active = Active {
        on: false,
        count: &shared.active,
    };
    // In a closed loop with nothing that waits between ops (no think time, schedule, stages or
    // disk budget), one op's end (`carried`) is the next one's start: one clock read per op.
    let chain = !job.pace.open_loop() && job.pace.gate.is_none() && think.max_ms == 0 && disk_budget.is_none();
    let mut carried: Option<u64> = None;
    loop {
        // Taken here, so that every wait below (a pause, a stage, the disk) drops it.
        let ended = carried.take();
        if signal.is_stopped() || limit.is_some_and(|n| user.ops_done >= n) {
            break;
        }
        if shared.paused.load(Ordering::Relaxed) {
            signal.wait_while(|| shared.paused.load(Ordering::Relaxed));
            job.pace.restart();
            continue;
        }
        let (intended, lag) = match active.next(&mut job.pace, start, signal, &mut batch) {
            None => break,
            Some(None) => continue,
            Some(Some(run)) => run,
        };
        let Some((i, substituted)) = pick_op(&mut user, class, table, shared, disk_budget) else {
            continue;
        };
        let op = &class.ops[i];
        user.untimed = Duration::ZERO;
        let since0 = ended.unwrap_or_else(|| start_now(&since, &job.tx, &mut batch, &mut parts, op_ids));
        clock.op.store(op_ids[i] + 1, Ordering::Relaxed);
        clock.busy_since.store(UserClock::stamp_ns(since0), Ordering::Relaxed);
        // Tries of one op: each starts from the first's RNG position (the same arguments, like
        // pgbench), after a backoff wait; the op's latency covers them all, waits included.
        let result = run_tries(&job, &mut user, &op.f, &mut backoff, max_tries);
        let retryable_failure = matches!(&result, Ok(Err(e)) if adapter.is_retryable(e));
        let since1 = since.now();
        let untimed = user.untimed;
        user.ops_done += 1;
        clock.ops.store(user.ops_done, Ordering::Relaxed);
        digest.push(&op.name, user.rng.get_word_pos());
        let handed_over = roll_over(&job.tx, &mut batch, &mut parts, op_ids, since1 / NS_PER_S);
        batch.interval = since1 / NS_PER_S;
        if intended.is_some() {
            batch.lag(lag, LATE_AFTER);
        }
        let measured = since1 >= warmup_ns;
        // A connection a fault broke: the op's outcome is open (neither success nor failure),
        // and the user connects again before its next op.
        // The count of breaking faults is odd while one is under way (see `run_faults`).
        let breaks = shared.breaks.load(Ordering::SeqCst);
        let indeterminate = matches!(&result, Ok(Err(e)) if adapter.is_indeterminate(e));
        let interrupted = indeterminate && (breaks > connected_after || breaks % 2 == 1);
        // An op a fault interrupted did not complete: the user still waits on the engine (to
        // connect again), and a stall goes on until it gets an answer.
        if !interrupted {
            completed(clock, shared, since0, since1, matches!(result, Ok(Ok(_))));
        }
        let ok = tally(
            &job,
            &summary.id,
            &op.name,
            result,
            interrupted,
            user.attempt,
            since1,
            measured.then_some(&mut batch),
        );
        // Failed for good: the last of all its tries failed with an error worth another.
        let exhausted = measured && !interrupted && user.attempt >= max_tries && retryable_failure;
        count(&mut summary, user.attempt, ok, interrupted, exhausted, substituted);
        batch.substituted += u64::from(substituted);
        let times = Times {
            intended: intended.map(|t| since.of(t)),
            since0,
            since1,
            untimed: ns(untimed),
        };
        times.record_op(&mut batch, &mut parts[i], measured, interrupted, ok);
        if deadline_ns.is_some_and(|d| since1 >= d) {
            signal.stop(StopReason::DurationElapsed, None);
            break;
        }
        // A connection that may be gone with no fault to blame (a client's timeout while the
        // network held its bytes, a server that ended the session): the op failed, and the
        // user connects again before its next one, as after an interruption.
        if indeterminate {
            match reconnect(&job, class, &mut user) {
                Some(breaks) => connected_after = breaks,
                None => break,
            }
        }
        if !job.pace.open_loop() && think.sleep(signal) {
            break;
        }
        // Not after more than bookkeeping: a hand-over (a send may wait), a failure, a reconnect.
        if chain && ok && !handed_over && !interrupted {
            carried = Some(since1);
        }
    }
    active.set(false);
    clock.busy_since.store(0, Ordering::Relaxed);
    flush(&job.tx, &mut batch, &mut parts, op_ids);
    summary.op_digest = digest.hex();
    summary.scheduled_ops = scheduled(&job.pace, start, deadline, limit);
    UserResult {
        summary,
        ledger: user.ledger,
        measures: user.measures,
        writes: user.writes,
    }
}

/// What the schedule made due while the user ran: up to the deadline, or to its stop.
fn scheduled(pace: &Pace, start: Instant, deadline: Option<Instant>, limit: Option<u64>) -> Option<u64> {
    let end = deadline.map_or_else(Instant::now, |d| d.min(Instant::now()));
    pace.scheduled(end.saturating_duration_since(start))
        .map(|due| limit.map_or(due, |n| n.min(due)))
}

/// Whether the user counts among the active ones (`Shared::active`): it does while it has
/// slots to run, not while its stage parks it.
struct Active<'a> {
    on: bool,
    count: &'a std::sync::atomic::AtomicUsize,
}

impl Active<'_> {
    /// The user's next slot: `None` to stop, `Some(None)` to ask again (parked by its stage, or
    /// a slot skipped), otherwise the op's intended start and its lag.
    #[inline]
    fn next(
        &mut self,
        pace: &mut Pace,
        start: Instant,
        signal: &super::signal::StopSignal,
        batch: &mut Batch,
    ) -> Option<Option<(Option<Instant>, Duration)>> {
        match pace.next(start, signal) {
            Slot::Stop => None,
            Slot::Park => {
                self.set(false);
                Some(None)
            }
            Slot::Skip { lag } => {
                self.set(true);
                batch.skipped += 1;
                batch.max_lag_us = batch.max_lag_us.max(lag.as_micros() as u64);
                Some(None)
            }
            Slot::Run { intended, lag } => {
                self.set(true);
                Some(Some((intended, lag)))
            }
        }
    }

    #[inline]
    fn set(&mut self, on: bool) {
        if on != self.on {
            self.on = on;
            if on {
                self.count.fetch_add(1, Ordering::Relaxed);
            } else {
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// An op into its user's summary: tried `tries` times, succeeded, interrupted by a fault,
/// failed for good, a read in a write's place.
#[inline]
fn count(s: &mut UserSummary, tries: u32, ok: bool, interrupted: bool, exhausted: bool, substituted: bool) {
    if tries > 1 {
        s.retries += u64::from(tries - 1);
        s.retried_ops += 1;
    }
    s.ops += 1;
    s.failed += u64::from(!ok && !interrupted);
    s.interrupted += u64::from(interrupted);
    s.exhausted += u64::from(exhausted);
    s.substituted += u64::from(substituted);
}

/// Think time between a closed loop's ops (`--think`), from the user's own stream.
struct Think {
    rng: seed::StressRng,
    min_ms: u64,
    max_ms: u64,
}

impl Think {
    fn new(config: &RunConfig, seed: u64) -> Self {
        Self {
            rng: seed::rng(seed::derive(seed, "think", "")),
            min_ms: config.think_min_ms,
            max_ms: config.think_max_ms,
        }
    }

    /// Thinks; `true` when the run stopped meanwhile.
    #[inline]
    fn sleep(&mut self, signal: &super::signal::StopSignal) -> bool {
        if self.max_ms == 0 {
            return false;
        }
        let ms = self.rng.random_range(self.min_ms..=self.max_ms);
        signal.sleep(Duration::from_millis(ms))
    }
}

/// Hands what the user recorded over when `interval` is a later one than the batch's; `true`
/// when it did.
#[inline]
fn roll_over(tx: &Sender<Batch>, batch: &mut Batch, parts: &mut [OpPart], op_ids: &[u32], interval: u64) -> bool {
    let later = interval != batch.interval;
    if later {
        flush(tx, batch, parts, op_ids);
    }
    later
}

/// An op's start read from the clock (not carried from the last op's end, whose interval was
/// rolled over then): what finished in earlier intervals goes now, before an op that might
/// never return.
#[inline]
fn start_now(since: &Since, tx: &Sender<Batch>, batch: &mut Batch, parts: &mut [OpPart], op_ids: &[u32]) -> u64 {
    let t = since.now();
    let _ = roll_over(tx, batch, parts, op_ids, t / NS_PER_S);
    t
}

/// A user's summary before its first op.
fn fresh_summary(seed: &UserSeed) -> UserSummary {
    UserSummary {
        id: seed.id.clone(),
        class: seed.class.clone(),
        seed: seed.seed,
        db: seed.db,
        ops: 0,
        failed: 0,
        substituted: 0,
        op_digest: OpDigest::new(seed.seed).hex(),
        scheduled_ops: None,
        retries: 0,
        retried_ops: 0,
        interrupted: 0,
        exhausted: 0,
    }
}

/// An op completed (it was not interrupted by a fault): the user's clock says so, and one that
/// succeeded closes the outages it began after.
#[inline]
fn completed(clock: &UserClock, shared: &Shared, since0: u64, since1: u64, succeeded: bool) {
    let done = UserClock::stamp_ns(since1);
    clock.last_done.store(done, Ordering::Relaxed);
    clock.busy_since.store(0, Ordering::Relaxed);
    if succeeded {
        shared.outages.succeeded(UserClock::stamp_ns(since0), done);
    }
}

/// When a measured op ran, in nanoseconds since the users' start: its intended start (under a
/// rate), its actual start and its end; and the time it spent untimed.
struct Times {
    intended: Option<u64>,
    since0: u64,
    since1: u64,
    untimed: u64,
}

impl Times {
    /// Records a finished op where it belongs: a warm-up op is only counted, an interrupted
    /// one counted as such, a measured one with its times.
    #[inline]
    fn record_op(&self, batch: &mut Batch, part: &mut OpPart, measured: bool, interrupted: bool, ok: bool) {
        if !measured {
            batch.warmup += 1;
        } else if interrupted {
            part.record_interrupted();
        } else {
            self.record(part, ok);
        }
    }

    /// Records the op into its part: service time from its actual start; latency, under a rate,
    /// from its intended start (a stalled server shows up in every op that had to wait for it,
    /// not only in the one that hit the stall).
    #[inline]
    fn record(&self, part: &mut OpPart, ok: bool) {
        let service = self.since1.saturating_sub(self.since0).saturating_sub(self.untimed);
        let latency = self
            .intended
            .map_or(service, |t| self.since1.saturating_sub(t).saturating_sub(self.untimed));
        part.record(ok, latency / 1000, service / 1000, self.untimed / 1000);
    }
}

/// Connects the user and runs its class's `on_connect` hook. A hook that fails is the
/// workload's own code refusing this user (a bad parameter, a session setting the engine does
/// not take): it ends the run with its cause, rather than leaving the users it did not refuse
/// to measure a run nobody asked for.
fn connect_user<A: Adapter>(job: &UserJob<A>, class: &UserClass<A>, shared: &Shared) -> Result<User<A>, String> {
    let connected = match panic::catch(|| job.adapter.connect(job.seed.db)) {
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
            adapter: Arc::clone(&job.adapter),
        }),
        Ok(Err(e)) => Err(format!("cannot connect: {e}")),
        Err(p) => Err(format!("cannot connect: {p}")),
    };
    connected.and_then(|mut user| match &class.on_connect {
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
    })
}

/// The op to run next and whether it stands in for a write: the class's roll, or a read in its
/// place while the disk is over its budget. `None` when the class has no read: the user waited
/// for the disk to be freed (or the run to end) and rolls again.
#[inline]
fn pick_op<A: Adapter>(
    user: &mut User<A>,
    class: &UserClass<A>,
    table: &OpTable,
    shared: &Shared,
    disk_budget: Option<u64>,
) -> Option<(usize, bool)> {
    let i = table.roll(&mut user.rng);
    if class.ops[i].kind != OpKind::Write {
        return Some((i, false));
    }
    // With a budget the adapter can measure cheaply, a write asks before it runs: the budget
    // then holds to within one op's writes per writing user, not a second's.
    if let Some(budget) = disk_budget
        && user.adapter.disk_bytes().is_some_and(|b| b >= budget)
    {
        shared.disk_over.store(true, Ordering::Relaxed);
    }
    if !shared.disk_over.load(Ordering::Relaxed) {
        return Some((i, false));
    }
    match table.roll_read(&mut user.rng) {
        Some(r) => Some((r, true)),
        None => {
            shared.signal.wait_while(|| shared.disk_over.load(Ordering::Relaxed));
            None
        }
    }
}

/// Runs one op, tried again after a backoff wait while it fails with a retryable error and has
/// tries left: each try from the first's RNG position (the same arguments, like pgbench). Each
/// try's tracked writes are settled and its transaction recorded. A run that stops during a
/// wait ends the op with that try's error.
#[inline]
fn run_tries<A: Adapter>(
    job: &UserJob<A>,
    user: &mut User<A>,
    f: &crate::workload::OpFn<A>,
    backoff: &mut super::backoff::Backoff,
    max_tries: u32,
) -> Result<crate::outcome::OpResult, String> {
    let (adapter, signal) = (&*job.adapter, &job.shared.signal);
    let rng_at = (max_tries > 1).then(|| user.rng.clone());
    user.attempt = 1;
    loop {
        let writes_from = user.writes.len();
        let result = panic::catch(|| f(user));
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
            (Ok(Err(e)), Some(rng)) if user.attempt < max_tries && !signal.is_stopped() && adapter.is_retryable(e) => {
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
    }
}

/// Whether an op succeeded (an interrupted one did not, nor failed): its rows and bytes go to
/// `batch` when it is measured; its error is kept and may stop the run.
#[inline]
#[expect(
    clippy::too_many_arguments,
    reason = "the phase reads the run's parts one by one; a struct of them would only rename them"
)]
fn tally<A: Adapter>(
    job: &UserJob<A>,
    id: &str,
    op: &str,
    result: Result<crate::outcome::OpResult, String>,
    interrupted: bool,
    attempt: u32,
    since1: u64,
    batch: Option<&mut Batch>,
) -> bool {
    match result {
        _ if interrupted => false,
        Ok(Ok(outcome)) => {
            if let Some(batch) = batch {
                batch.rows += outcome.rows;
                batch.bytes += outcome.bytes;
            }
            true
        }
        Ok(Err(e)) => {
            failed(job, id, op, Ok(e), attempt, since1);
            false
        }
        Err(p) => {
            failed(job, id, op, Err(p), attempt, since1);
            false
        }
    }
}

/// A failed op's error (or its panic's message) kept, and the run stopped when it says so:
/// away from the loop's path, which is the success's.
#[cold]
#[inline(never)]
fn failed<A: Adapter>(
    job: &UserJob<A>,
    id: &str,
    op: &str,
    error: Result<crate::outcome::OpError, String>,
    attempt: u32,
    since1: u64,
) {
    let (errors, at) = (&job.shared.errors, Duration::from_nanos(since1));
    match error {
        Ok(e) => {
            let tries = if attempt > 1 {
                format!(" (after {attempt} tries)")
            } else {
                String::new()
            };
            errors.record(id, op, || format!("{e}{tries}"), at);
            abort_on_error(job, id, op, || format!("{e}{tries}"));
        }
        Err(p) => {
            abort_on_error(job, id, op, || p.clone());
            errors.record(id, op, || p, at);
        }
    }
}

/// Connects the user again after a fault broke its connection: tries until the engine accepts
/// (it may be starting again) or the run stops (`None`). Returns the count of breaking faults
/// begun before the new connection.
fn reconnect<A: Adapter>(job: &UserJob<A>, class: &crate::workload::UserClass<A>, user: &mut User<A>) -> Option<u64> {
    let again = reconnect_loop(job, class, user);
    // Waiting on the engine is over, connected or not.
    job.shared.clocks[job.user_index].busy_since.store(0, Ordering::Relaxed);
    again
}

fn reconnect_loop<A: Adapter>(
    job: &UserJob<A>,
    class: &crate::workload::UserClass<A>,
    user: &mut User<A>,
) -> Option<u64> {
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
