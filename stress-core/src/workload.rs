//! What a workload is: an adapter, a setup step, user classes with weighted op tables, and a
//! verify step.

use std::fmt;
use std::sync::Arc;

use rand::Rng;

use crate::adapter::Adapter;
use crate::error::WorkloadError;
use crate::ledger::Ledger;
use crate::outcome::{OpError, OpResult};
use crate::params::{self, LOAD_PARAMS, ParamDef, ParamValue, Params};
use crate::seed::StressRng;
use crate::user::User;

/// An op: a function of the user running it.
pub(crate) type OpFn<A> = Arc<dyn Fn(&mut User<A>) -> OpResult + Send + Sync>;
/// A hook run once per user, after it connects.
pub(crate) type ConnectFn<A> = Arc<dyn Fn(&mut User<A>) -> Result<(), OpError> + Send + Sync>;
type SetupFn<A> = Box<dyn Fn(&mut <A as Adapter>::Conn, &mut StressRng, &Params) -> Result<(), OpError> + Send + Sync>;
type DurabilityFn<A> = Box<dyn Fn(&mut <A as Adapter>::Conn, &mut dyn FnMut(i64)) -> Result<(), OpError> + Send + Sync>;
type VerifyFn<A> = Box<dyn Fn(&mut <A as Adapter>::Conn, &Ledger) -> Result<(), OpError> + Send + Sync>;

/// Whether an op reads or writes: a write over the disk budget is replaced by a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Reads only.
    Read,
    /// Writes.
    Write,
}

/// One entry of an op table.
pub(crate) struct OpDef<A: Adapter> {
    pub(crate) name: String,
    pub(crate) weight: f64,
    pub(crate) kind: OpKind,
    pub(crate) f: OpFn<A>,
}

impl<A: Adapter> fmt::Debug for OpDef<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpDef")
            .field("name", &self.name)
            .field("weight", &self.weight)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A kind of user: a name, how many of them, and the ops they roll from a weighted table.
pub struct UserClass<A: Adapter> {
    pub(crate) name: String,
    pub(crate) users: usize,
    pub(crate) rate: Option<f64>,
    pub(crate) ops: Vec<OpDef<A>>,
    pub(crate) on_connect: Option<ConnectFn<A>>,
}

impl<A: Adapter> Clone for OpDef<A> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            weight: self.weight,
            kind: self.kind,
            f: Arc::clone(&self.f),
        }
    }
}

impl<A: Adapter> Clone for UserClass<A> {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            users: self.users,
            rate: self.rate,
            ops: self.ops.clone(),
            on_connect: self.on_connect.clone(),
        }
    }
}

impl<A: Adapter> fmt::Debug for UserClass<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserClass")
            .field("name", &self.name)
            .field("users", &self.users)
            .field("ops", &self.ops)
            .finish()
    }
}

impl<A: Adapter> UserClass<A> {
    /// A class of `users` users (overridable with `users = "..."`, `STRESS_USERS`, `--users`).
    pub fn new(name: impl Into<String>, users: usize) -> Self {
        Self {
            name: name.into(),
            users,
            rate: None,
            ops: Vec::new(),
            on_connect: None,
        }
    }

    /// A hook each user of the class runs once, after it connects and before the run starts
    /// (not timed, not counted as an op): session settings, prepared statements, a
    /// [`User::set_state`] to start from. It draws from the user's RNG like an op, so a replay
    /// repeats it. A failure ends the run before it starts, with stop reason `Error` and a
    /// message naming the user and the error: no user runs an op.
    pub fn on_connect<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut User<A>) -> Result<(), OpError> + Send + Sync + 'static,
    {
        self.on_connect = Some(Arc::new(f));
        self
    }

    /// Adds a read op with a relative weight (weights need not sum to 1).
    pub fn read<F>(self, name: impl Into<String>, weight: f64, f: F) -> Self
    where
        F: Fn(&mut User<A>) -> OpResult + Send + Sync + 'static,
    {
        self.op(name, weight, OpKind::Read, f)
    }

    /// Adds a write op with a relative weight.
    pub fn write<F>(self, name: impl Into<String>, weight: f64, f: F) -> Self
    where
        F: Fn(&mut User<A>) -> OpResult + Send + Sync + 'static,
    {
        self.op(name, weight, OpKind::Write, f)
    }

    /// Adds an op of the given kind.
    pub fn op<F>(mut self, name: impl Into<String>, weight: f64, kind: OpKind, f: F) -> Self
    where
        F: Fn(&mut User<A>) -> OpResult + Send + Sync + 'static,
    {
        self.ops.push(OpDef {
            name: name.into(),
            weight,
            kind,
            f: Arc::new(f),
        });
        self
    }

    /// An open-loop rate of this class's own, ops/s shared by its users (latency from the
    /// intended start); the workload's `--rate` and stages then apply to the other classes.
    pub fn rate(mut self, ops_per_sec: f64) -> Self {
        self.rate = Some(ops_per_sec);
        self
    }

    /// The class's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A workload: what `#[stress_workload]` functions return and what a custom harness runs.
pub struct Workload<A: Adapter> {
    /// Shared with the user threads during a run: a user stuck in an op keeps its handle when
    /// the run abandons it, and the run stops the adapter through `Arc::get_mut` when no one
    /// does (or has it abandon what it can otherwise).
    pub(crate) adapter: Arc<A>,
    pub(crate) setup: Option<SetupFn<A>>,
    pub(crate) classes: Vec<UserClass<A>>,
    pub(crate) verify: Option<VerifyFn<A>>,
    pub(crate) durability: Option<DurabilityFn<A>>,
    pub(crate) isolation: Option<crate::isolation::Expectation>,
    pub(crate) think_ms: Option<(u64, u64)>,
    pub(crate) batch: Option<(u64, u64)>,
    pub(crate) databases: Option<usize>,
    pub(crate) params: Vec<ParamDef>,
    /// `STRESS_*` variables the workload's own code reads.
    pub(crate) variables: Vec<&'static str>,
    /// The workload's own checkers, run after the built-in ones.
    pub(crate) checkers: Vec<Arc<dyn crate::checkers::Checker>>,
}

impl<A: Adapter> fmt::Debug for Workload<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workload")
            .field("adapter", &self.adapter.name())
            .field("classes", &self.classes)
            .field("databases", &self.databases)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl<A: Adapter> Workload<A> {
    /// A workload on the given engine, with the parameters the adapter declares
    /// ([`Adapter::params`]).
    pub fn new(adapter: A) -> Self {
        let params = adapter.params();
        Self {
            adapter: Arc::new(adapter),
            setup: None,
            classes: Vec::new(),
            verify: None,
            durability: None,
            isolation: None,
            think_ms: None,
            batch: None,
            databases: None,
            params,
            variables: Vec::new(),
            checkers: Vec::new(),
        }
    }

    /// A checker of the workload's own, judged after the built-in ones (stop, verify,
    /// durability, isolation, error rate, thresholds) on the run's summary: its sections go to
    /// the summary's `checks` (and the console, report.html, JUnit and `--summary-md` show
    /// them), its failures fail the run (exit 1). In a sharded run each shard judges its own
    /// part; the merge carries their sections and failures, naming the shard.
    pub fn checker(mut self, checker: impl crate::checkers::Checker + 'static) -> Self {
        self.checkers.push(Arc::new(checker));
        self
    }

    /// The setup step, run once per database before the users start, with that database's
    /// connection and its own seeded RNG (`schema_seed` in `replay.json`).
    pub fn setup<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut A::Conn, &mut StressRng) -> Result<(), OpError> + Send + Sync + 'static,
    {
        self.setup = Some(Box::new(move |conn, rng, _| f(conn, rng)));
        self
    }

    /// The setup step, like [`setup`](Self::setup), for a setup that reads the run's
    /// parameters (a table sized by `entities`, a column typed by `format`).
    pub fn setup_with_params<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut A::Conn, &mut StressRng, &Params) -> Result<(), OpError> + Send + Sync + 'static,
    {
        self.setup = Some(Box::new(f));
        self
    }

    /// Declares a `STRESS_*` variable the workload's own code reads
    /// (`.variable("STRESS_QUERY_COMPLEXITY_MAX")`), so that the harness does not warn about it
    /// as a typo. An adapter declares its own ([`Adapter::variables`]).
    pub fn variable(mut self, name: &'static str) -> Self {
        self.variables.push(name);
        self
    }

    /// Every `STRESS_*` variable this workload and its adapter read.
    pub fn variables(&self) -> Vec<&'static str> {
        let mut v = self.adapter.variables().to_vec();
        v.extend(&self.variables);
        v
    }

    /// Declares a parameter with its default, whose kind (whole number, number, boolean, text)
    /// the default sets: `.param("epochs", 10_000)`. Ops read it with
    /// [`User::param`](crate::User::param); `--param epochs=50k` and `STRESS_PARAM_EPOCHS` set
    /// it; `cargo stress sweep` varies it; `replay.json` records it.
    pub fn param(mut self, name: &str, default: impl Into<ParamValue>) -> Self {
        self.params.push(ParamDef::new(name, default));
        self
    }

    /// Declares a text parameter limited to `choices` (any other value is refused before the
    /// run starts): `.param_choice("format", "jsonb", &["jsonb", "bson"])`.
    pub fn param_choice(mut self, name: &str, default: &str, choices: &[&str]) -> Self {
        let mut def = ParamDef::new(name, default);
        def.choices = choices.iter().map(|c| (*c).to_owned()).collect();
        self.params.push(def);
        self
    }

    /// Declares a number parameter limited to `range`, both ends included: a value outside it
    /// (`--param epochs=-5` where `.param_range("epochs", 10_000u64, 1..=1_000_000)`) is
    /// refused before the run starts, naming the parameter, the range and the value as given.
    /// The default should lie in the range.
    pub fn param_range<T>(mut self, name: &str, default: T, range: std::ops::RangeInclusive<T>) -> Self
    where
        T: Into<ParamValue>,
    {
        let (min, max) = range.into_inner();
        self.params.push(ParamDef::new(name, default).with_range(min, max));
        self
    }

    /// The declared parameters, in declaration order.
    pub fn params(&self) -> &[ParamDef] {
        &self.params
    }

    /// Adds a user class.
    pub fn class(mut self, class: UserClass<A>) -> Self {
        self.classes.push(class);
        self
    }

    /// The verify step, run once per database after the users stop, with the writes users
    /// acknowledged on that database.
    pub fn verify<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut A::Conn, &Ledger) -> Result<(), OpError> + Send + Sync + 'static,
    {
        self.verify = Some(Box::new(f));
        self
    }

    /// The acknowledged-write checker's read-back, run once per database after the users stop
    /// (before the verify step): hand every tracked key the engine holds to `seen` (`SELECT k
    /// FROM t`). Ops track a write with [`User::begin_write`] (the key to write) and
    /// [`User::acknowledge_write`] (after the commit returned); the run then fails on any
    /// acknowledged write that is missing or any key that was never written (see
    /// [`crate::durability`]).
    pub fn durability<F>(mut self, f: F) -> Self
    where
        F: Fn(&mut A::Conn, &mut dyn FnMut(i64)) -> Result<(), OpError> + Send + Sync + 'static,
    {
        self.durability = Some(Box::new(f));
        self
    }

    /// Checks the engine's answers: every transaction the ops record ([`User::record_txn`],
    /// or the kits [`crate::isolation::append_txn`] and [`crate::isolation::register_txn`]) goes
    /// into the run's history, and after the users stop the history is checked against `model`
    /// (an Elle-class checker: see [`crate::isolation`]). An anomaly `model` forbids fails the
    /// run (exit 1) with a witness; one it allows is reported. Declares the kits' parameters:
    /// `isolation` (the level the kits ask the engine for, `serializable` by default), `keys`
    /// (8), `txn_len` (4), `read_share` (0.5) and `key_rotation` (20).
    pub fn isolation(mut self, model: crate::isolation::Model, kind: crate::isolation::Kind) -> Self {
        self.isolation = Some(crate::isolation::Expectation { model, kind });
        let declared = |w: &Self, n: &str| w.params.iter().any(|p| p.name == n);
        if !declared(&self, "isolation") {
            self = self.param_choice(
                "isolation",
                "serializable",
                &["serializable", "repeatable_read", "read_committed"],
            );
        }
        for (name, default) in [("keys", 8u64), ("txn_len", 4), ("key_rotation", 20)] {
            if !declared(&self, name) {
                self = self.param(name, default);
            }
        }
        if !declared(&self, "read_share") {
            self = self.param("read_share", 0.5);
        }
        self
    }

    /// Think time between a user's ops, uniform in `min..=max` ms (the code's default; the
    /// attribute, `STRESS_THINK_*` and the CLI override it).
    pub fn think_ms(mut self, min: u64, max: u64) -> Self {
        self.think_ms = Some((min, max));
        self
    }

    /// Rows per bulk op, uniform in `min..=max` (read by ops with [`User::batch_size`]).
    pub fn batch(mut self, min: u64, max: u64) -> Self {
        self.batch = Some((min, max));
        self
    }

    /// Spreads users over `n` databases by their index within their class.
    pub fn databases(mut self, n: usize) -> Self {
        self.databases = Some(n);
        self
    }

    /// The engine.
    pub fn adapter(&self) -> &A {
        &self.adapter
    }

    /// The classes' names and user counts, in order.
    pub fn classes(&self) -> Vec<(String, usize)> {
        self.classes.iter().map(|c| (c.name.clone(), c.users)).collect()
    }

    /// Checks class and op names and weights.
    pub fn validate(&self) -> Result<(), WorkloadError> {
        if self.classes.is_empty() {
            return Err(WorkloadError::NoClasses);
        }
        for (i, class) in self.classes.iter().enumerate() {
            if self.classes[..i].iter().any(|c| c.name == class.name) {
                return Err(WorkloadError::DuplicateClass(class.name.clone()));
            }
            if class.rate.is_some_and(|r| !r.is_finite() || r <= 0.0) {
                return Err(WorkloadError::BadRate(class.name.clone()));
            }
            OpTable::new(class)?;
        }
        for (i, p) in self.params.iter().enumerate() {
            let bad = |why: String| WorkloadError::BadParam {
                name: p.name.clone(),
                why,
            };
            if params::check_name(&p.name).is_err() {
                return Err(bad(
                    "is not a parameter name: use lowercase letters, digits and _, starting with a letter".into(),
                ));
            }
            if LOAD_PARAMS.contains(&p.name.as_str()) {
                return Err(bad("is the load setting of that name: choose another name".into()));
            }
            if self.params[..i].iter().any(|q| q.name == p.name) {
                return Err(bad("is declared twice".into()));
            }
            if !p.choices.is_empty() && !p.choices.contains(&p.default.to_string()) {
                return Err(bad(format!(
                    "has default `{}`, which is not one of its choices ({})",
                    p.default,
                    p.choices.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// A class's ops with cumulative weights, for Monte Carlo selection.
#[derive(Debug, Clone)]
pub(crate) struct OpTable {
    cumulative: Vec<f64>,
    /// Cumulative weights over the read ops only (index into the class's ops), for writes that
    /// the disk budget turns into reads.
    reads: Vec<(usize, f64)>,
}

impl OpTable {
    pub(crate) fn new<A: Adapter>(class: &UserClass<A>) -> Result<Self, WorkloadError> {
        if class.ops.is_empty() {
            return Err(WorkloadError::NoOps(class.name.clone()));
        }
        let mut cumulative = Vec::with_capacity(class.ops.len());
        let mut reads = Vec::new();
        let (mut total, mut read_total) = (0.0, 0.0);
        for (i, op) in class.ops.iter().enumerate() {
            if class.ops[..i].iter().any(|o| o.name == op.name) {
                return Err(WorkloadError::DuplicateOp {
                    class: class.name.clone(),
                    op: op.name.clone(),
                });
            }
            if !op.weight.is_finite() || op.weight < 0.0 {
                return Err(WorkloadError::BadWeight {
                    class: class.name.clone(),
                    op: op.name.clone(),
                    weight: op.weight.to_string(),
                });
            }
            total += op.weight;
            cumulative.push(total);
            if op.kind == OpKind::Read && op.weight > 0.0 {
                read_total += op.weight;
                reads.push((i, read_total));
            }
        }
        if total <= 0.0 {
            return Err(WorkloadError::AllZero(class.name.clone()));
        }
        Ok(Self { cumulative, reads })
    }

    /// Rolls an op: one uniform draw from the RNG.
    #[inline]
    pub(crate) fn roll(&self, rng: &mut StressRng) -> usize {
        if self.cumulative.len() == 1 {
            // The one op: the same draw (a `u64`, what a uniform `f64` takes), no search.
            rand::RngCore::next_u64(rng);
            return 0;
        }
        let total = *self.cumulative.last().expect("validated non-empty");
        let x = rng.random::<f64>() * total;
        // The first op whose cumulative weight exceeds x; zero-weight ops are never chosen.
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len() - 1)
    }

    /// Rolls a read op among the class's reads, or `None` if it has none.
    pub(crate) fn roll_read(&self, rng: &mut StressRng) -> Option<usize> {
        let &(_, total) = self.reads.last()?;
        let x = rng.random::<f64>() * total;
        let i = self.reads.partition_point(|&(_, c)| c <= x).min(self.reads.len() - 1);
        Some(self.reads[i].0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::Bare;
    use crate::outcome::Outcome;

    fn ok(_: &mut User<Bare>) -> OpResult {
        Ok(Outcome::done())
    }

    fn class(ops: &[(&str, f64, OpKind)]) -> UserClass<Bare> {
        ops.iter()
            .fold(UserClass::new("c", 1), |c, &(n, w, k)| c.op(n, w, k, ok))
    }

    #[test]
    fn selection_frequencies_follow_the_weights() {
        let c = class(&[
            ("a", 0.70, OpKind::Write),
            ("b", 0.15, OpKind::Write),
            ("zero", 0.0, OpKind::Read),
            ("c", 0.15, OpKind::Read),
        ]);
        let t = OpTable::new(&c).unwrap();
        let n = 200_000;
        let mut counts = [0u32; 4];
        let mut rng = crate::seed::rng(11);
        for _ in 0..n {
            counts[t.roll(&mut rng)] += 1;
        }
        assert_eq!(counts[2], 0, "a zero-weight op is never chosen");
        for (i, p) in [(0, 0.70), (1, 0.15), (3, 0.15)] {
            // Binomial standard deviation; 5 sigma is a bound a correct sampler never misses.
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            let dev = (f64::from(counts[i]) - n as f64 * p).abs();
            assert!(
                dev < 5.0 * sd,
                "op {i}: {} of {n}, expected {}",
                counts[i],
                n as f64 * p
            );
        }
    }

    #[test]
    fn substituted_reads_come_from_reads_only() {
        let c = class(&[
            ("w", 1.0, OpKind::Write),
            ("r1", 1.0, OpKind::Read),
            ("r2", 3.0, OpKind::Read),
        ]);
        let t = OpTable::new(&c).unwrap();
        let mut rng = crate::seed::rng(5);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[t.roll_read(&mut rng).unwrap()] += 1;
        }
        assert_eq!(counts[0], 0);
        let share = f64::from(counts[2]) / 40_000.0;
        assert!((share - 0.75).abs() < 0.02, "{share}");
        let writes_only = class(&[("w", 1.0, OpKind::Write)]);
        assert_eq!(OpTable::new(&writes_only).unwrap().roll_read(&mut rng), None);
    }

    #[test]
    fn bad_weights_name_the_class_and_op() {
        for (w, expect) in [
            (-0.5, "weight -0.5"),
            (f64::NAN, "weight NaN"),
            (f64::INFINITY, "weight inf"),
        ] {
            let e = OpTable::new(&class(&[("ok", 1.0, OpKind::Read), ("bad", w, OpKind::Read)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains("class `c` op `bad`") && e.contains(expect), "{e}");
        }
        let e = OpTable::new(&class(&[("a", 0.0, OpKind::Read)])).unwrap_err();
        assert_eq!(e, WorkloadError::AllZero("c".into()));
        let e = OpTable::new(&class(&[("a", 1.0, OpKind::Read), ("a", 1.0, OpKind::Read)])).unwrap_err();
        assert!(matches!(e, WorkloadError::DuplicateOp { .. }));
        assert_eq!(OpTable::new(&class(&[])).unwrap_err(), WorkloadError::NoOps("c".into()));
    }

    #[test]
    fn workload_validation() {
        assert_eq!(Workload::new(Bare).validate(), Err(WorkloadError::NoClasses));
        let w = Workload::new(Bare)
            .class(UserClass::new("x", 1).read("r", 1.0, ok))
            .class(UserClass::new("x", 1).read("r", 1.0, ok));
        assert_eq!(w.validate(), Err(WorkloadError::DuplicateClass("x".into())));
    }

    #[test]
    fn parameters_are_checked() {
        let base = || Workload::new(Bare).class(UserClass::new("x", 1).read("r", 1.0, ok));
        assert_eq!(base().param("epochs", 10).param("format", "a").validate(), Ok(()));
        let cases = [
            (base().param("Epochs", 1), "`Epochs` is not a parameter name"),
            (base().param("users", 1), "is the load setting of that name"),
            (base().param("n", 1).param("n", 2), "parameter `n` is declared twice"),
            (
                base().param_choice("format", "xml", &["jsonb", "bson"]),
                "has default `xml`, which is not one of its choices (jsonb, bson)",
            ),
        ];
        for (w, expect) in cases {
            let e = w.validate().unwrap_err().to_string();
            assert!(e.contains(expect), "{e}");
        }
    }
}
