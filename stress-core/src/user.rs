//! One simulated client, as an op sees it.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::adapter::Adapter;
use crate::config::RunConfig;
use crate::ledger::Ledger;
use crate::outcome::OpError;
use crate::params::{FromParam, Params};
use crate::seed::StressRng;
use crate::stats::Measures;

/// A user: an OS thread with its own connection, its own seeded RNG and its own ledger.
/// Ops receive `&mut User<A>`.
pub struct User<A: Adapter> {
    pub(crate) conn: A::Conn,
    pub(crate) rng: StressRng,
    pub(crate) config: Arc<RunConfig>,
    pub(crate) ledger: Ledger,
    pub(crate) id: Arc<str>,
    pub(crate) class: Arc<str>,
    pub(crate) db: usize,
    pub(crate) ops_done: u64,
    pub(crate) db_seed: u64,
    /// Time spent in [`User::untimed`] during the current op.
    pub(crate) untimed: Duration,
    /// Phases and figures the ops reported.
    pub(crate) measures: Measures,
    /// From when phases and figures count (the end of the warm-up).
    pub(crate) measured_from: Instant,
    /// The try the current op is on, from 1.
    pub(crate) attempt: u32,
    /// What the user keeps between ops ([`User::state`]), one value per type.
    pub(crate) states: Vec<Box<dyn Any + Send>>,
    /// The writes it tracks for the acknowledged-write checker.
    pub(crate) writes: crate::durability::WriteLog,
    /// The run's history of transactions, when the workload checks isolation.
    pub(crate) history: Option<Arc<crate::history::HistorySink>>,
    /// The transaction the current try recorded ([`User::record_txn`]): invoked at, its
    /// micro-operations, and its outcome when the op said it (else decided when the try ends).
    pub(crate) txn: Option<PendingTxn>,
    /// The engine: what its errors mean.
    pub(crate) adapter: Arc<A>,
}

/// A transaction recorded by the current try: invoked at, micro-operations, outcome if known.
pub(crate) type PendingTxn = (u64, Vec<stress_isolation::Mop>, Option<stress_isolation::Outcome>);

impl<A: Adapter> fmt::Debug for User<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("db", &self.db)
            .field("ops_done", &self.ops_done)
            .finish_non_exhaustive()
    }
}

impl<A: Adapter> User<A> {
    /// The user's connection.
    pub fn conn(&mut self) -> &mut A::Conn {
        &mut self.conn
    }

    /// The user's RNG: draw every random argument from it, so that a replay repeats it.
    pub fn rng(&mut self) -> &mut StressRng {
        &mut self.rng
    }

    /// The connection and the RNG at once, for ops that generate while they write.
    pub fn conn_and_rng(&mut self) -> (&mut A::Conn, &mut StressRng) {
        (&mut self.conn, &mut self.rng)
    }

    /// The run's resolved configuration.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The user's ledger: acknowledge committed writes here for the verify step.
    pub fn ledger(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    /// Begins a write the acknowledged-write checker tracks ([`Workload::durability`]): the
    /// key to write, one no other write of the run has. Call
    /// [`acknowledge_write`](Self::acknowledge_write) once the commit returned; a write the op
    /// does not acknowledge counts as refused when the op returns (or fails with an error the
    /// engine gave), and as indeterminate when its error leaves the commit open (the
    /// connection died: [`Adapter::is_indeterminate`]).
    ///
    /// [`Workload::durability`]: crate::Workload::durability
    pub fn begin_write(&mut self) -> i64 {
        self.writes.begin()
    }

    /// The write with `key` (from [`begin_write`](Self::begin_write)) committed and the engine
    /// said so: from now on, missing it is a lost write. A key this user did not begin is
    /// ignored.
    pub fn acknowledge_write(&mut self, key: i64) {
        self.writes.acknowledge(key);
    }

    /// Now, in µs on the clock of the run's transaction history: take it just before a
    /// transaction begins, and give it to [`record_txn`](Self::record_txn).
    pub fn txn_clock(&self) -> u64 {
        self.history.as_ref().map_or(0, |h| h.now_us())
    }

    /// Records the transaction the current op ran, for the isolation checker
    /// ([`Workload::isolation`](crate::Workload::isolation)): when it was invoked
    /// ([`txn_clock`](Self::txn_clock)) and its micro-operations, reads with what they returned.
    /// Its outcome is the framework's to decide when the op returns, as for tracked writes:
    /// committed when the op returns `Ok`, aborted when it fails with the engine's own error,
    /// indeterminate when the error leaves the commit open. One transaction per try of an op;
    /// without `Workload::isolation` nothing is kept.
    pub fn record_txn(&mut self, invoked_us: u64, mops: Vec<stress_isolation::Mop>) {
        if self.history.is_some() {
            self.txn = Some((invoked_us, mops, None));
        }
    }

    /// Records a transaction the engine aborted on its own (a serialization failure, a
    /// deadlock: [`is_retryable`](Self::is_retryable)) while the op goes on to return `Ok`: a
    /// refusal is one of the answers an isolation test expects, not an error of the op.
    pub fn record_aborted_txn(&mut self, invoked_us: u64, mops: Vec<stress_isolation::Mop>) {
        if self.history.is_some() {
            self.txn = Some((invoked_us, mops, Some(stress_isolation::Outcome::Fail)));
        }
    }

    /// Whether the engine refused with `e` in a way a retry can succeed after (a serialization
    /// failure, a deadlock, SQLite's busy): the adapter's [`Adapter::is_retryable`].
    pub fn is_retryable(&self, e: &OpError) -> bool {
        self.adapter.is_retryable(e)
    }

    /// The user's index in the run's plan (its transactions' `process` in the history).
    pub fn plan_index(&self) -> u32 {
        self.writes.user()
    }

    /// A batch size drawn from the configured range (`STRESS_BATCH_MIN..=STRESS_BATCH_MAX`).
    pub fn batch_size(&mut self) -> u64 {
        let (lo, hi) = (self.config.batch_min, self.config.batch_max);
        self.rng.random_range(lo..=hi)
    }

    /// `class-index`, e.g. `inserter-0`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The user's class.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// The database index the user works on.
    pub fn db(&self) -> usize {
        self.db
    }

    /// The seed of the setup step of this user's database (`schema_seed` in `replay.json`):
    /// a workload whose schema is generated from it regenerates the same schema here.
    pub fn db_seed(&self) -> u64 {
        self.db_seed
    }

    /// Runs `f` (generating rows, say) outside the op's timed section: its time is taken out of
    /// the op's latency and reported apart, as the op's `untimed_us`. It gets the user's RNG, so
    /// a replay repeats what it generates.
    pub fn untimed<T>(&mut self, f: impl FnOnce(&mut StressRng) -> T) -> T {
        let t = Instant::now();
        let out = f(&mut self.rng);
        self.untimed += t.elapsed();
        out
    }

    /// Ops this user has finished so far.
    pub fn ops_done(&self) -> u64 {
        self.ops_done
    }

    /// The try the current op is on: 1, then 2, … when it is tried again after a retryable
    /// error (`--max-tries`). Each try starts from the RNG position of the first, so it draws
    /// the same arguments.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// What this user keeps between its ops, of type `S`: a key generator's position, the
    /// keys it wrote last, a prepared statement's name. Created with `S::default()` the first
    /// time it is asked for, or set by [`set_state`](Self::set_state) (in
    /// [`UserClass::on_connect`](crate::UserClass::on_connect), say). One value per type; each
    /// user has its own.
    pub fn state<S: Default + Send + 'static>(&mut self) -> &mut S {
        let at = match self.states.iter().position(|b| b.is::<S>()) {
            Some(i) => i,
            None => {
                self.states.push(Box::new(S::default()));
                self.states.len() - 1
            }
        };
        self.states[at].downcast_mut::<S>().expect("found by type")
    }

    /// Sets (or replaces) this user's state of type `S`; [`state`](Self::state) returns it.
    pub fn set_state<S: Send + 'static>(&mut self, value: S) {
        match self.states.iter_mut().find(|b| b.is::<S>()) {
            Some(slot) => *slot = Box::new(value),
            None => self.states.push(Box::new(value)),
        }
    }

    /// This user's state of type `S` with its RNG, for state that draws from it (a
    /// [`KeyGen`](crate::keys::KeyGen): `let (keys, rng) = u.state_and_rng::<KeyGen>()?;
    /// keys.next(rng)`). The state must have been set ([`set_state`](Self::set_state)), in
    /// [`UserClass::on_connect`](crate::UserClass::on_connect) say; otherwise this is an error
    /// of the op.
    pub fn state_and_rng<S: Send + 'static>(&mut self) -> Result<(&mut S, &mut StressRng), OpError> {
        let id = &self.id;
        let state = self
            .states
            .iter_mut()
            .find_map(|b| b.downcast_mut::<S>())
            .ok_or_else(|| {
                OpError::msg(format!(
                    "user {id} has no state of type {}: set it with User::set_state (in UserClass::on_connect, say)",
                    std::any::type_name::<S>()
                ))
            })?;
        Ok((state, &mut self.rng))
    }

    /// The value of a parameter the workload declares (`Workload::param`), as `T`:
    /// `let epochs: u64 = u.param("epochs")?;`. An undeclared name or a value that does not fit
    /// `T` is an error of the op.
    pub fn param<T: FromParam>(&self, name: &str) -> Result<T, OpError> {
        self.config.params.get(name)
    }

    /// Every parameter with its value.
    pub fn params(&self) -> &Params {
        &self.config.params
    }

    /// Runs `f` as a named phase of the op (`write`, `read`, `encode`, …) and records how long
    /// it took (less any [`untimed`](Self::untimed) part inside it). `summary.json` reports each
    /// phase under `phases` with its count, total and percentiles; a sweep reports the phases
    /// `write` and `read` as write and read time.
    pub fn phase<T>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        let untimed_before = self.untimed;
        let t0 = Instant::now();
        let out = f(self);
        let t1 = Instant::now();
        if t1 >= self.measured_from {
            let aside = self.untimed.saturating_sub(untimed_before);
            self.measures.phase(name, (t1 - t0).saturating_sub(aside));
        }
        out
    }

    /// Records a figure the op observed (a payload's size on the client or in the database, a
    /// collision count, a table's size): `summary.json` reports each under `figures` with its
    /// count, sum, min, max and mean. By convention `client_bytes` and `db_bytes` are a
    /// payload's size on the client and in the database: a sweep reports them in columns of
    /// their own.
    pub fn figure(&mut self, name: &str, value: f64) {
        if Instant::now() >= self.measured_from {
            self.measures.figure(name, value);
        }
    }
}
