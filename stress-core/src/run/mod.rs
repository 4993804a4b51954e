//! Running a workload: [`Runner`] resolves the configuration and seeds, claims the output
//! directory, and hands over to the engine, which starts the adapter, runs setup, users,
//! monitor and verify step, and writes the reports.

mod backoff;
pub(crate) mod control;
mod engine;
mod monitor_loop;
mod network;
mod pace;
mod panic;
mod sampling;
mod shared;
mod signal;
mod since;
mod stop_policy;
mod user_loop;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use signal::{StopReason, interrupted};

use crate::adapter::Adapter;
use crate::config::AttrOptions;
use crate::config::{ConfigLayer, EnvConfig, Origin, RunConfig};
use crate::error::{ConfigError, ReplayError, RunError};
use crate::fault::{self, FaultSpec, PlannedFault};
use crate::monitor::MetricsSource;
use crate::params::{ParamDef, Params};
use crate::report::{self, Observer, ReplayFile, Summary};
use crate::seed::{self, SeedPlan};
use crate::thresholds::Threshold;
use crate::workload::Workload;

/// The result of a run that started: its summary (also when it stopped by crash, limit,
/// Ctrl-C or error) and the directory its files went to.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// What the run did.
    pub summary: Summary,
    /// Where `summary.json`, `replay.json` and `timeseries.csv` are, if files were asked for.
    pub out_dir: Option<PathBuf>,
}

impl RunReport {
    /// Whether the run passed (see [`Summary::passed`]).
    pub fn passed(&self) -> bool {
        self.summary.passed
    }
}

/// What [`Runner::prepare`] checked: configuration, seeds, thresholds, fault schedule.
type Prepared = (RunConfig, SeedPlan, Vec<Threshold>, Vec<PlannedFault>);

#[derive(Debug, Default)]
enum Output {
    #[default]
    None,
    Exact(PathBuf),
    Under(PathBuf),
}

/// Runs one workload: the library entry point a custom harness uses, and what the test
/// harness calls for each registered workload.
///
/// ```no_run
/// use stress_core::prelude::*;
/// # fn workload() -> Workload<Bare> { Workload::new(Bare) }
/// let report = Runner::new("orders")
///     .seed(42)
///     .ops_per_user(100)
///     .output_dir("target/stress/orders-42")
///     .run(workload())?;
/// println!("{} ops, p99 {} µs", report.summary.total_ops, report.summary.latency_us.p99);
/// # Ok::<(), stress_core::RunError>(())
/// ```
#[derive(Default)]
pub struct Runner {
    name: String,
    attr: AttrOptions,
    env: Option<EnvConfig>,
    api: ConfigLayer,
    replay: Option<(PathBuf, ReplayFile)>,
    output: Output,
    observers: Vec<Box<dyn Observer>>,
    sources: Vec<Box<dyn MetricsSource>>,
    smoke: bool,
    origin: Option<Origin>,
    /// Stop as on Ctrl-C when stdin ends (`STRESS_LIFELINE=stdin`).
    lifeline: bool,
    param_error: Option<ConfigError>,
    /// The first fault or threshold given to the API that did not parse.
    setting_error: Option<ConfigError>,
    /// `STRESS_*` variables other workloads of the harness read (not typos).
    variables: Vec<&'static str>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("name", &self.name)
            .field("api", &self.api)
            .field("output", &self.output)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A run of the workload called `name`, with built-in defaults only: no environment, no
    /// files (ask for them with [`output_dir`](Self::output_dir) or [`output_under`](Self::output_under)).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// `STRESS_*` variables read by code other than this workload and its adapter (the other
    /// workloads of a harness binary): not warned about as unknown.
    pub fn known_variables(mut self, names: impl IntoIterator<Item = &'static str>) -> Self {
        self.variables.extend(names);
        self
    }

    /// Lays the attribute's options over the workload's code.
    pub fn attr(mut self, attr: AttrOptions) -> Self {
        self.attr = attr;
        self
    }

    /// Lays `STRESS_*` variables over the attribute (output directory and replay file
    /// included). Use [`EnvConfig::from_process_env`] for this process's environment.
    pub fn env(mut self, env: EnvConfig) -> Result<Self, RunError> {
        if let Some(dir) = &env.run.output_dir {
            self.output = Output::Exact(dir.clone());
        }
        if let Some(file) = &env.run.replay_file {
            self = self.replay_file(file)?;
        }
        if let Some(origin) = &env.run.origin {
            self.origin = Some(origin.clone());
        }
        self.lifeline = env.run.lifeline;
        self.env = Some(env);
        Ok(self)
    }

    /// Replays a recorded run: its configuration and every seed, as recorded.
    pub fn replay_file(mut self, path: impl AsRef<Path>) -> Result<Self, ReplayError> {
        let path = path.as_ref();
        let file = ReplayFile::load(path)?;
        self.replay = Some((path.to_owned(), file));
        Ok(self)
    }

    /// Replays from an already loaded replay file.
    pub fn replay(mut self, path: impl Into<PathBuf>, file: ReplayFile) -> Self {
        self.replay = Some((path.into(), file));
        self
    }

    /// Writes the files exactly into `dir` (created if needed; refused if it holds a run).
    pub fn output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output = Output::Exact(dir.into());
        self
    }

    /// Writes the files into a fresh `base/<workload>/<run-id>/`, with a `latest` link beside it.
    pub fn output_under(mut self, base: impl Into<PathBuf>) -> Self {
        self.output = Output::Under(base.into());
        self
    }

    /// Adds an observer of the run's progress.
    pub fn observer(mut self, o: impl Observer + 'static) -> Self {
        self.observers.push(Box::new(o));
        self
    }

    /// Adds a metrics source beside the process's own and the adapter's.
    pub fn metrics_source(mut self, s: impl MetricsSource + 'static) -> Self {
        self.sources.push(Box::new(s));
        self
    }

    /// Records which cargo package and target this run's binary was built from.
    pub fn origin(mut self, origin: Origin) -> Self {
        self.origin = Some(origin);
        self
    }

    /// A smoke run: one user per class, a few ops each, no think time.
    pub fn smoke(mut self, smoke: bool) -> Self {
        self.smoke = smoke;
        self
    }

    /// The global seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.api.seed = Some(seed);
        self
    }

    /// How long users run.
    pub fn duration(mut self, d: Duration) -> Self {
        self.api.duration = Some(d);
        self
    }

    /// Ops each user runs.
    pub fn ops_per_user(mut self, n: u64) -> Self {
        self.api.ops_per_user = Some(n);
        self
    }

    /// Users of one class.
    pub fn users(mut self, class: impl Into<String>, n: usize) -> Self {
        self.api = self.api.with(&ConfigLayer {
            users: vec![(class.into(), n)],
            ..ConfigLayer::default()
        });
        self
    }

    /// Runs only shard `shard` of the run's users (see [`crate::shard`]).
    pub fn shard(mut self, shard: crate::shard::Shard) -> Self {
        self.api.shard = Some(shard);
        self
    }

    /// Think time range, ms.
    pub fn think_ms(mut self, min: u64, max: u64) -> Self {
        (self.api.think_min_ms, self.api.think_max_ms) = (Some(min), Some(max));
        self
    }

    /// Open-loop target rate, ops/s over all users.
    pub fn rate(mut self, ops_per_sec: f64) -> Self {
        self.api.rate = Some(ops_per_sec);
        self
    }

    /// Tries an op gets when it fails with an error its adapter calls retryable (a PostgreSQL
    /// serialization failure or deadlock, `SQLITE_BUSY`), like pgbench `--max-tries`: the API's
    /// `--max-tries` / `STRESS_MAX_TRIES`. Default 1 (no retry); 1 to
    /// [`validate::MAX_TRIES`](crate::validate::MAX_TRIES), checked when the run resolves.
    pub fn max_tries(mut self, tries: u32) -> Self {
        self.api.max_tries = Some(tries);
        self
    }

    /// How long a user waits before it tries an op again: before try k+1 (k ≥ 1), a time drawn
    /// uniformly from 0 to min(`max`, `min`·2^(k-1)) — exponential backoff with full jitter —
    /// from a stream derived from the user's seed, so that a replay waits the same. The wait
    /// counts in the op's latency, and ends when the run stops. The API's `--retry-backoff` /
    /// `STRESS_RETRY_BACKOFF`. Default 1 ms..100 ms; `(ZERO, ZERO)` for none. `min <= max`,
    /// both at most an hour, `min` above 0 unless both are: checked when the run resolves.
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.api.retry_backoff = Some((min, max));
        self
    }

    /// Adds a pass/fail rule, like `p99<50ms`, parsed at once (a rule that does not parse, or
    /// names an op the workload lacks, makes [`run`](Self::run) fail before anything runs).
    pub fn threshold(mut self, rule: &str) -> Self {
        match Threshold::parse_rule(rule) {
            Ok(t) => self.api.thresholds.push(t),
            Err(e) => self.refuse(ConfigError::Invalid(e)),
        }
        self
    }

    /// Keeps the first setting that did not parse, for [`run`](Self::run) to return.
    fn refuse(&mut self, e: ConfigError) {
        if self.setting_error.is_none() {
            self.setting_error = Some(e);
        }
    }

    /// Sets a parameter the workload declares (`.param("epochs", 50_000)`), or the load with
    /// `users` (total users, spread over the classes in their proportions) and `rate` (ops/s).
    /// A name the workload does not declare, or a value of the wrong kind, makes
    /// [`run`](Self::run) fail before anything runs.
    pub fn param(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        let value = value.to_string();
        match self.api.set_param(name, &value) {
            Ok(()) => {}
            // Reported by `run`, which returns the errors of the settings.
            Err(e) => self.param_error = Some(e),
        }
        self
    }

    /// Batch size range.
    pub fn batch(mut self, min: u64, max: u64) -> Self {
        (self.api.batch_min, self.api.batch_max) = (Some(min), Some(max));
        self
    }

    /// Lays any layer of settings over the others (what the CLI does with its flags).
    pub fn settings(mut self, layer: &ConfigLayer) -> Self {
        self.api = self.api.with(layer);
        self
    }

    /// Checks everything a run checks before it starts — the workload, the settings, the
    /// replay file, the thresholds, the adapter's own settings — without running anything or
    /// writing any file. `Ok` means [`run`](Self::run) would start.
    pub fn check<A: Adapter>(&self, workload: &Workload<A>) -> Result<(), RunError> {
        self.prepare(workload).map(drop)
    }

    /// Adds a fault to inject (`pause:3s@at=20s`, see [`crate::fault`]), parsed at once (a spec
    /// that does not parse makes [`run`](Self::run) fail before anything runs).
    pub fn fault(mut self, spec: &str) -> Self {
        match FaultSpec::parse(spec) {
            Ok(f) => self.api.faults.push(f),
            Err(e) => self.refuse(ConfigError::Invalid(e)),
        }
        self
    }

    /// The run's configuration, seeds, thresholds and fault schedule, all checked.
    fn prepare<A: Adapter>(&self, workload: &Workload<A>) -> Result<Prepared, RunError> {
        workload.validate().map_err(|source| RunError::Workload {
            name: self.name.clone(),
            source,
        })?;
        if let Some(e) = self.setting_error.as_ref().or(self.param_error.as_ref()) {
            return Err(e.clone().into());
        }
        let classes = workload.classes();
        let empty = ConfigLayer::default();
        // What the environment and the caller say, over the attribute and the code.
        let given = self.env.as_ref().map_or(&empty, |e| &e.layer).clone().with(&self.api);
        // A verify step takes the merged run's settings (databases, parameters) and plan.
        let merged = match &given.step {
            Some(crate::shard::Step::VerifyOnly(dir)) if self.replay.is_none() => {
                let path = dir.join("replay.json");
                let file = ReplayFile::load(&path)?;
                Some((path, file))
            }
            _ => None,
        };
        let replay = self.replay.as_ref().or(merged.as_ref());
        let (mut config, plan) = match replay {
            Some((path, file)) => replay_plan(
                &self.name,
                workload.adapter.name(),
                path,
                file,
                &classes,
                workload.params(),
            )?,
            None => {
                let code = ConfigLayer {
                    think_min_ms: workload.think_ms.map(|t| t.0),
                    think_max_ms: workload.think_ms.map(|t| t.1),
                    batch_min: workload.batch.map(|b| b.0),
                    batch_max: workload.batch.map(|b| b.1),
                    databases: workload.databases,
                    ..ConfigLayer::default()
                };
                let layer = code.with(&ConfigLayer::from_attr(&self.attr)).with(&given);
                let seed = layer.seed.unwrap_or_else(seed::random_seed);
                let mut config = RunConfig::resolve(&layer, &classes, seed, self.smoke)?;
                config.params = Params::resolve(workload.params(), &layer.params).map_err(ConfigError::Invalid)?;
                let users: Vec<(&str, usize)> = config.users.iter().map(|(c, n)| (c.as_str(), *n)).collect();
                let plan = SeedPlan::derive(seed, &users, config.databases);
                (config, plan)
            }
        };
        if replay.is_some() {
            // A replay keeps the recorded run's settings, but runs the shard it is told to
            // (`replay --shard`), and a step or a barrier of its own.
            if given.shard.is_some() {
                config.shard = given.shard;
            }
            config.start_at_ms = given.start_at_ms;
            config.step = given.step.clone().unwrap_or_default();
            if !given.only_users.is_empty() {
                config.only_users = given.only_users.clone();
            }
        }
        check_step(&config, workload.adapter.shared())?;
        check_selection(&config, &plan)?;
        let op_names: Vec<String> = {
            let mut names: Vec<String> = Vec::new();
            for op in workload.classes.iter().flat_map(|c| &c.ops) {
                if !names.contains(&op.name) {
                    names.push(op.name.clone());
                }
            }
            names
        };
        // Typed where they were given, or as the replay file recorded them.
        let thresholds = config.thresholds.clone();
        for t in &thresholds {
            t.check_ops(&op_names).map_err(ConfigError::Invalid)?;
        }
        workload.adapter.check().map_err(ConfigError::Invalid)?;
        if let Some((path, file)) = replay {
            workload
                .adapter
                .check_recorded(&file.adapter_config)
                .map_err(|message| ReplayError::Invalid {
                    path: path.clone(),
                    message,
                })?;
        }
        let faults = match replay {
            Some((_, file)) => file.faults.clone(),
            None => fault::schedule(&config.faults, config.seed, config.duration()).map_err(ConfigError::Invalid)?,
        };
        let mut supported = workload.adapter.faults();
        // The network's faults are the run's own, through its proxy, for any adapter whose
        // users connect over TCP.
        if workload.adapter.over_tcp() {
            for k in fault::FaultKind::NETWORK {
                if !supported.contains(k) {
                    supported.push(*k);
                }
            }
        }
        if let Some(f) = faults.iter().find(|f| !supported.contains(&f.kind)) {
            return Err(ConfigError::Invalid(format!(
                "{} cannot inject `{}` faults: it injects {}{}",
                workload.adapter.name(),
                f.kind,
                fault::FaultKind::list(&supported),
                workload
                    .adapter
                    .fault_hint(f.kind)
                    .or_else(|| f
                        .kind
                        .is_network()
                        .then(|| "network faults need an engine its users reach over TCP".to_owned()))
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default()
            ))
            .into());
        }
        fault::check_needs(&faults).map_err(ConfigError::Invalid)?;
        Ok((config, plan, thresholds, faults))
    }

    /// Runs the workload. `Err` means nothing ran and nothing was written; a run that started
    /// returns its report whatever happened to it.
    pub fn run<A: Adapter>(self, workload: Workload<A>) -> Result<RunReport, RunError> {
        let (config, plan, thresholds, faults) = self.prepare(&workload)?;
        if let Some(env) = &self.env {
            let mut declared = workload.variables();
            declared.extend(&self.variables);
            for w in env.warnings(&declared) {
                eprintln!("{w}");
            }
        }
        if signal::interrupted() {
            return Err(RunError::Interrupted);
        }
        let step = config.step.clone();
        let out_dir = match &self.output {
            // A setup or verify step writes no run of its own (verify writes into the merged run).
            _ if step != crate::shard::Step::Run => None,
            Output::None => None,
            Output::Exact(dir) => {
                if let Some((src, _)) = &self.replay {
                    refuse_original(dir, &ReplayFile::source_dir(src))?;
                }
                Some(report::claim_exact(dir)?)
            }
            Output::Under(base) => Some(report::claim_new(base, &self.name, config.seed)?),
        };
        let recorded = self
            .replay
            .as_ref()
            .map(|(_, f)| f.controls.clone())
            .unwrap_or_default();
        let controls = (config.dashboard.is_some() || !recorded.is_empty())
            .then(|| std::sync::Arc::new(control::ControlHub::new(config.rate, &config.stages, recorded)));
        let mut observers = self.observers;
        // Served from before the users start until the run's end (the observer closes it).
        match crate::dashboard::for_run(
            config.dashboard,
            &self.name,
            controls
                .clone()
                .map(|c| c as std::sync::Arc<dyn crate::control::Controls>),
        ) {
            Ok(Some(d)) => observers.push(Box::new(d)),
            Ok(None) => {}
            Err(message) => return Err(ConfigError::Invalid(message).into()),
        }
        let summary = engine::execute(engine::Job {
            name: self.name,
            workload,
            config,
            plan,
            out_dir: out_dir.as_deref(),
            observers,
            sources: self.sources,
            thresholds,
            faults,
            origin: self.origin.or_else(|| self.replay.and_then(|(_, f)| f.origin)),
            lifeline: self.lifeline,
            proxy: None,
            controls,
        });
        let (summary, out_dir) = match step {
            crate::shard::Step::VerifyOnly(dir) if summary.verify.ran => {
                let merged = crate::shard::merge::record_verify(&dir, &summary.verify, summary.durability.as_ref())
                    .map_err(|message| RunError::Output {
                        path: dir.clone(),
                        message,
                    })?;
                (merged, Some(dir))
            }
            _ => (summary, out_dir),
        };
        Ok(RunReport { summary, out_dir })
    }
}

fn replay_plan(
    name: &str,
    adapter: &str,
    path: &Path,
    file: &ReplayFile,
    classes: &[(String, usize)],
    params: &[ParamDef],
) -> Result<(RunConfig, SeedPlan), ReplayError> {
    let mismatch = |message: String| ReplayError::Mismatch {
        path: path.to_owned(),
        workload: name.to_owned(),
        message,
    };
    if file.workload != name {
        return Err(mismatch(format!("it records workload `{}`", file.workload)));
    }
    let invalid = |message: String| ReplayError::Invalid {
        path: path.to_owned(),
        message,
    };
    if file.adapter != adapter {
        return Err(mismatch(format!(
            "it was recorded on adapter `{}`, the workload runs on `{adapter}`",
            file.adapter
        )));
    }
    if file.rng != seed::RNG_NAME {
        return Err(invalid(format!(
            "it was recorded with RNG `{}`; this build draws from `{}`",
            file.rng,
            seed::RNG_NAME
        )));
    }
    if file.config.seed != file.seed {
        return Err(invalid(format!(
            "its seed {} and its configuration's seed {} differ",
            file.seed, file.config.seed
        )));
    }
    for u in &file.users {
        if !classes.iter().any(|(c, _)| *c == u.class) {
            return Err(mismatch(format!(
                "it has users of class `{}`, which the workload no longer has",
                u.class
            )));
        }
    }
    if file.databases.len() != file.config.databases.max(1) {
        return Err(mismatch("its database seeds do not match its database count".into()));
    }
    file.config.validate().map_err(invalid)?;
    crate::validate::validate_plan(&file.config, &file.seed_plan()).map_err(invalid)?;
    for c in &file.controls {
        c.check(file.config.rate)
            .map_err(|e| invalid(format!("its controls hold {e}")))?;
    }
    if let Some(id) = file.user_ops.keys().find(|id| !file.users.iter().any(|u| u.id == **id)) {
        return Err(invalid(format!(
            "its user_ops name user `{}`, which is not one of its users",
            id.escape_debug()
        )));
    }
    // A user ran no more ops than its limit: a count beyond it was not recorded by a run.
    if let Some(limit) = file.config.ops_per_user
        && let Some((id, n)) = file.user_ops.iter().find(|(_, n)| **n > limit)
    {
        return Err(invalid(format!(
            "its user_ops give user `{}` {n} ops, more than its ops_per_user {limit}",
            id.escape_debug()
        )));
    }
    for f in &file.faults {
        f.validate(file.config.duration()).map_err(invalid)?;
    }
    let mut config = file.config.clone();
    config.user_ops = file.user_ops.clone();
    // Parameters the workload declared since keep their defaults; one it no longer declares
    // cannot be repeated.
    config.params = Params::resolve(params, &file.config.params.to_pairs()).map_err(mismatch)?;
    Ok((config, file.seed_plan()))
}

/// A shard, or a choice of users, that would run nobody: one line naming the fix.
fn check_selection(config: &RunConfig, plan: &SeedPlan) -> Result<(), ConfigError> {
    let ids: Vec<&str> = plan.users.iter().map(|u| u.id.as_str()).collect();
    if let Some(unknown) = config.only_users.iter().find(|u| !ids.contains(&u.as_str())) {
        return Err(ConfigError::Invalid(format!(
            "user `{unknown}` is not one of the run's: its users are {}",
            ids.join(", ")
        )));
    }
    if let Some(shard) = config.shard {
        let users = plan.users.len();
        if shard.index >= users {
            return Err(ConfigError::Invalid(format!(
                "shard {shard} would run no user: the run has {users} user{}, so at most {users} shards; \
                 run fewer shards or more users",
                if users == 1 { "" } else { "s" }
            )));
        }
        if !plan
            .users
            .iter()
            .enumerate()
            .any(|(i, u)| shard.owns(i) && config.runs(&u.id))
        {
            return Err(ConfigError::Invalid(format!(
                "none of the users chosen ({}) is shard {shard}'s",
                config.only_users.join(", ")
            )));
        }
    }
    Ok(())
}

/// A step of a sharded run that cannot do what it is asked: one line naming the fix.
fn check_step(config: &RunConfig, shared: bool) -> Result<(), ConfigError> {
    use crate::shard::Step;
    let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
    match (&config.step, config.shard) {
        (Step::SetupOnly | Step::VerifyOnly(_), Some(_)) => {
            bad("a setup-only or verify-only step is not a shard: run it once, without --shard")
        }
        (Step::SetupOnly | Step::VerifyOnly(_), None) if !shared => bad(
            "a setup-only or verify-only step needs an engine the shards share (a server given by address, \
             like STRESS_PG_DSN): on this adapter each shard sets up and verifies its own engine",
        ),
        (Step::VerifyOnly(dir), None) => crate::shard::Ledgers::load(dir).map(drop).map_err(ConfigError::Invalid),
        _ => Ok(()),
    }
}

fn refuse_original(out: &Path, original: &Path) -> Result<(), RunError> {
    let same = match (out.canonicalize(), original.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Err(RunError::Output {
            path: out.to_owned(),
            message: "is the directory of the run being replayed: a replay writes to a new directory".into(),
        });
    }
    Ok(())
}
