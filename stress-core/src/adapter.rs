//! The engine binding: how to start or reach the engine, connect each user, and report its
//! metrics.

use std::path::Path;

use crate::monitor::MetricsSource;
use crate::outcome::OpError;
use crate::params::Params;

/// How a workload reaches its engine. Implemented by `stress-sqlite`, `stress-postgres`,
/// `stress-hyper` — and by anything else a custom harness wants to stress.
///
/// The run calls [`start`](Adapter::start) once, then [`connect`](Adapter::connect) once per
/// database for setup and once per user (each user thread owns its connection), then
/// [`stop`](Adapter::stop) — also when the run ends by error, crash or Ctrl-C. An adapter that
/// owns a server should stop it in `Drop` too, so that a panic cannot orphan it.
pub trait Adapter: Send + Sync + Sized + 'static {
    /// One user's connection.
    type Conn: Send;

    /// A short name for reports: `sqlite`, `postgres`, `hyper`.
    fn name(&self) -> &'static str;

    /// The `STRESS_*` variables this adapter reads (`STRESS_PG_DSN`, …): known to the harness,
    /// so not warned about as typos.
    fn variables(&self) -> &'static [&'static str] {
        &[]
    }

    /// The workload parameters this adapter reads at start (`StartContext::params`), with
    /// their defaults: every workload on it declares them, so `--param`, a matrix and a replay
    /// reach the adapter's own choices (Hyper's `transport`, say) without the workload naming
    /// them.
    fn params(&self) -> Vec<crate::params::ParamDef> {
        Vec::new()
    }

    /// The adapter's settings as recorded in `replay.json` (paths, server settings, …).
    fn describe(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Checks the adapter settings a replay file recorded (`adapter_config`) before a replay
    /// runs: one line naming the setting that this adapter could not have written. The default
    /// holds them to the shape of [`describe`](Adapter::describe) ([`same_shape`]); an adapter
    /// with ranges of its own checks those too.
    fn check_recorded(&self, recorded: &serde_json::Value) -> Result<(), String> {
        match self.describe() {
            serde_json::Value::Null if !recorded.is_null() => Err(format!(
                "adapter_config records settings, and adapter `{}` has none",
                self.name()
            )),
            described => same_shape(recorded, &described, "adapter_config"),
        }
    }

    /// Checks the adapter's own settings (values it read from the environment, a connection
    /// string) before anything runs: an error here is bad input — one line naming the cause and
    /// the fix, nothing written, exit code 2 from the harness. What only starting can tell (a
    /// setting the server refuses, a port in use) is [`start`](Adapter::start)'s to report.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }

    /// Starts or reaches the engine and creates `ctx.databases` databases.
    fn start(&mut self, ctx: &StartContext<'_>) -> Result<(), OpError>;

    /// Opens a connection to database `db` (`0..databases`).
    fn connect(&self, db: usize) -> Result<Self::Conn, OpError>;

    /// The engine's own metrics (server process, files on disk, server logs), sampled by the
    /// run's monitor beside this process's own. Called once, after `start`.
    fn metrics_sources(&self) -> Vec<Box<dyn MetricsSource>> {
        Vec::new()
    }

    /// Whether an op that failed with `e` should be tried again (up to `--max-tries`): errors
    /// that a retry of the same transaction can succeed after, like PostgreSQL's
    /// serialization failures and deadlocks or SQLite's `SQLITE_BUSY`. By default, only errors
    /// the op marked [`OpError::retryable`].
    fn is_retryable(&self, e: &OpError) -> bool {
        e.is_marked_retryable()
    }

    /// Whether an op that failed with `e` may still have committed: the connection died after
    /// the commit was sent, say. Its tracked writes are then indeterminate (never counted
    /// lost), not refused. By default, none is.
    fn is_indeterminate(&self, e: &OpError) -> bool {
        let _ = e;
        false
    }

    /// The bytes the engine's files take now, if the adapter can tell cheaply (a few `stat`
    /// calls): with a disk budget (`--max-disk-mb`), each write op asks first, so the budget
    /// holds to within one op's writes per writing user. `None` (the default): the budget is
    /// checked from the adapter's metrics, once a second.
    fn disk_bytes(&self) -> Option<u64> {
        None
    }

    /// Whether the engine is one that other processes reach too and that outlives the run (a
    /// server given by address): the shards of a sharded run then share it, so its setup and
    /// verify steps run once, on their own (`--setup-only`, `--verify-only`), not in every
    /// shard. `false` (the default): each run starts or opens its own engine.
    fn shared(&self) -> bool {
        false
    }

    /// The faults this adapter can inject into its engine (`--fault`): asking for another is
    /// refused before anything runs, naming these. None by default.
    fn faults(&self) -> Vec<crate::fault::FaultKind> {
        Vec::new()
    }

    /// Whether its users reach the engine over TCP once started, so that the run can put its
    /// network proxy between them and inject the `net-*` faults itself (into a server the run
    /// did not start, too). Asked before start; `false` (the default): those faults are
    /// refused before anything runs.
    fn over_tcp(&self) -> bool {
        false
    }

    /// Once started, the TCP address its users connect to (what the run's network proxy passes
    /// their connections on to). `None` (the default): no TCP target.
    fn tcp_target(&self) -> Option<std::net::SocketAddr> {
        None
    }

    /// Sends every connection [`connect`](Adapter::connect) opens from now on to `proxy`
    /// instead of [`tcp_target`](Adapter::tcp_target) (the run's network proxy, on loopback),
    /// the rest of the connection's settings unchanged. Called once, after `start` and before
    /// the setup step, in a run whose schedule has a network fault; the adapter's own
    /// connections (metrics, stop) may stay direct.
    fn route_through(&mut self, proxy: std::net::SocketAddr) -> Result<(), OpError> {
        Err(OpError::msg(format!(
            "{} cannot route its connections through a proxy at {proxy}",
            self.name()
        )))
    }

    /// Why this adapter, as configured, does not inject `kind` and what would (said after the
    /// list of kinds it does inject when a run asks for another): "on a managed server: …".
    /// `None` (the default) says nothing more.
    fn fault_hint(&self, kind: crate::fault::FaultKind) -> Option<String> {
        let _ = kind;
        None
    }

    /// Injects one fault while users run (from a thread of its own): a pause lasts its hold
    /// time, or until `stopping()` says the run is ending; then the adapter waits until the
    /// engine accepts a connection again. `Err` is a fault that could not be injected (the
    /// process was already gone): recorded as such, and the run goes on.
    fn inject(
        &self,
        fault: &crate::fault::PlannedFault,
        stopping: &dyn Fn() -> bool,
    ) -> Result<crate::fault::Injected, OpError> {
        let _ = stopping;
        Err(OpError::msg(format!("{} cannot inject `{}`", self.name(), fault.kind)))
    }

    /// The server process a CPU profile (`run --cpu-profile`) samples, with its children, once
    /// started. `None` (the default): this process is sampled — the engine's own code where it
    /// runs in-process (SQLite), only the client side otherwise.
    fn profiled_pid(&self) -> Option<u32> {
        None
    }

    /// Stops what it can of what `start` started, through a shared reference: called instead
    /// of [`stop`](Adapter::stop) when users stuck in an op were abandoned and still hold the
    /// adapter (kill a server, remove temporary files). The default does nothing.
    fn abandon(&self) {}

    /// Stops what `start` started. Called once at the end of every run that started.
    fn stop(&mut self) -> Result<(), OpError> {
        Ok(())
    }
}

/// What [`Adapter::start`] is told about the run.
#[derive(Debug, Clone, Copy)]
pub struct StartContext<'a> {
    /// How many databases the workload uses (at least 1).
    pub databases: usize,
    /// The run's output directory, when it writes files (server logs may go there).
    pub out_dir: Option<&'a Path>,
    /// The run's global seed.
    pub seed: u64,
    /// The run's resolved parameters: an adapter takes settings from the parameters it
    /// declares ([`Adapter::params`]: Hyper's `transport` and `data_format`), so that a sweep or
    /// a matrix can vary them and a replay restores them. [`Params::none()`] where there are
    /// none.
    pub params: &'a Params,
    /// Whether this run sets the databases up. `false` in a shard of a run on a shared engine
    /// ([`Adapter::shared`]), whose setup step ran before: reach what is there, recreate
    /// nothing.
    pub setup: bool,
    /// Whether this run removes, at its end, what it set up on an engine that outlives it
    /// (schemas on a given server). `false` in a setup step and in the shards of a run on a
    /// shared engine: a later step reads what they leave.
    pub teardown: bool,
    /// The kinds of fault the run's schedule holds: an adapter prepares for them at start
    /// (`disk-full`: the engine's data on a size-limited filesystem). Empty where there are
    /// none.
    pub faults: &'a [crate::fault::FaultKind],
}

/// No engine at all: each user's connection is `()`. For workloads that drive a client of
/// their own (an HTTP service, a library) and for measuring the harness itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bare;

impl Adapter for Bare {
    type Conn = ();

    fn name(&self) -> &'static str {
        "bare"
    }

    fn start(&mut self, _ctx: &StartContext<'_>) -> Result<(), OpError> {
        Ok(())
    }

    fn connect(&self, _db: usize) -> Result<(), OpError> {
        Ok(())
    }
}

/// Whether `recorded` has the shape of `described` (what an adapter's
/// [`describe`](Adapter::describe) returns): the same keys, and values of the same JSON kind
/// (a null on either side matches anything: a setting the run filled in when it started).
/// `at` names the place for the error, which is one line.
pub fn same_shape(recorded: &serde_json::Value, described: &serde_json::Value, at: &str) -> Result<(), String> {
    use serde_json::Value as V;
    let kind = |v: &V| match v {
        V::Null => "null",
        V::Bool(_) => "a boolean",
        V::Number(_) => "a number",
        V::String(_) => "a string",
        V::Array(_) => "a list",
        V::Object(_) => "an object",
    };
    match (recorded, described) {
        (V::Null, _) | (_, V::Null) => Ok(()),
        (V::Object(r), V::Object(d)) => {
            if let Some(k) = r.keys().find(|k| !d.contains_key(*k)) {
                return Err(format!(
                    "{at} has a setting `{}` this adapter does not have",
                    k.escape_debug()
                ));
            }
            for (k, dv) in d {
                match r.get(k) {
                    Some(rv) => same_shape(rv, dv, &format!("{at}.{k}"))?,
                    None => return Err(format!("{at} lacks the setting `{k}`")),
                }
            }
            Ok(())
        }
        (V::Array(_), V::Array(_)) => Ok(()),
        (r, d) if kind(r) == kind(d) => Ok(()),
        (r, d) => Err(format!("{at} is {}, where this adapter records {}", kind(r), kind(d))),
    }
}
