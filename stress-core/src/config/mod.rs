//! Layered run configuration: built-in defaults < the workload's code < attribute options <
//! `STRESS_*` environment < explicit API/CLI values; a replay file overrides them all.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod attr;
mod env;
mod shard;
pub mod values;

pub use attr::{AttrOptions, ListedOptions};
pub use env::{EnvConfig, EnvRun, Handover, KNOWN_VARS, Origin, SETTINGS_VAR};
pub use shard::{AUTO_INDEX_VARS, Shard, Step};
pub use values::{UserCounts, stages as parse_stages};

use crate::error::ConfigError;
use crate::fault::FaultSpec;
use crate::params::{self, Params};
use crate::thresholds::Threshold;

/// The duration of a run when no layer sets one and no op limit is set: 10 s.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Default batch range (rows per bulk op): 100..1000.
pub const DEFAULT_BATCH: (u64, u64) = (100, 1_000);
/// How long a memory or CPU limit may stay breached, users paused, before the run stops with
/// `ResourceLimit`: 10 s.
pub const DEFAULT_LIMIT_GRACE: Duration = Duration::from_secs(10);
/// Default retry backoff (`--retry-backoff`): before try k+1 of an op, a wait drawn from
/// 0 to min(100 ms, 1 ms·2^(k-1)).
pub const DEFAULT_RETRY_BACKOFF: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(100));
/// Ops per user in a smoke run (plain `cargo test`).
pub const SMOKE_OPS_PER_USER: u64 = 3;
/// Longest a smoke run may take before it stops by duration.
pub const SMOKE_MAX_DURATION: Duration = Duration::from_secs(60);

/// One layer of settings: each field is `None` where this layer says nothing.
///
/// Every field names its `STRESS_*` variable; the default stated is the built-in one.
/// `cargo stress` hands its flags to a harness as one such layer, in its [`Handover`]
/// ([`SETTINGS_VAR`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigLayer {
    /// Global seed (`STRESS_SEED`); default: random, printed and recorded.
    pub seed: Option<u64>,
    /// How long users run (`STRESS_DURATION`: `90`, `30s`, `2m`); default 10 s unless an op
    /// limit is set, in which case the run lasts until every user is done.
    pub duration: Option<Duration>,
    /// Ops each user runs before it stops (`STRESS_OPS_PER_USER`); default: no limit.
    pub ops_per_user: Option<u64>,
    /// Users per class (`STRESS_USERS`: `inserter=4,reader=3`); classes not named keep theirs.
    pub users: Vec<(String, usize)>,
    /// Users in all, spread over the classes in their proportions (`STRESS_USERS=10`, or
    /// `STRESS_PARAM_USERS=10`); applied after the per-class counts. Default: none.
    pub users_total: Option<usize>,
    /// Think time between a user's ops, uniform, in ms (`STRESS_THINK_MIN_MS`,
    /// `STRESS_THINK_MAX_MS`); default 0..0.
    pub think_min_ms: Option<u64>,
    /// See `think_min_ms`.
    pub think_max_ms: Option<u64>,
    /// Rows per bulk op, uniform (`STRESS_BATCH_MIN`, `STRESS_BATCH_MAX`); default 100..1000.
    pub batch_min: Option<u64>,
    /// See `batch_min`.
    pub batch_max: Option<u64>,
    /// Databases users are spread over by index (`STRESS_DATABASES`); default 1.
    pub databases: Option<usize>,
    /// Memory (MB) of the processes under test above which users pause
    /// (`STRESS_MAX_MEMORY_MB`); default: none.
    pub max_memory_mb: Option<u64>,
    /// CPU (% of one core, summed) above which users pause (`STRESS_MAX_CPU_PERCENT`);
    /// default: none.
    pub max_cpu_percent: Option<u64>,
    /// Disk (MB) the engine's files may take; writes over it become reads
    /// (`STRESS_MAX_DISK_MB`); default: none.
    pub max_disk_mb: Option<u64>,
    /// How long a limit may stay breached before the run stops with `ResourceLimit`
    /// (`STRESS_LIMIT_GRACE`); default 10 s.
    pub limit_grace: Option<Duration>,
    /// Fraction of failed ops a run may have and still pass (`STRESS_MAX_ERROR_RATE`, e.g.
    /// `0.001`); default 0.
    pub max_error_rate: Option<f64>,
    /// Open-loop target rate, ops/s over all users (`STRESS_RATE`); default: none (closed loop).
    pub rate: Option<f64>,
    /// Inter-arrival times under a rate (`STRESS_ARRIVAL`: `uniform` or `poisson`); default
    /// poisson.
    pub arrival: Option<Arrival>,
    /// Load stages (`STRESS_STAGES`: `10s:50,30s:200,10s:0`): users, or ops/s under a rate;
    /// linear ramps between them. Default: none.
    pub stages: Option<Vec<Stage>>,
    /// Pass/fail rules (`STRESS_THRESHOLDS`, `;`-separated: `p99<50ms;error_rate<0.1%`),
    /// parsed where they were typed (their ops are checked when the run resolves); layers add
    /// to each other.
    pub thresholds: Vec<Threshold>,
    /// Stop the run at the first interval (after warm-up) that breaches a threshold
    /// (`STRESS_ABORT_ON_FAIL=1`); default off.
    pub abort_on_fail: Option<bool>,
    /// Tries an op gets when it fails with an error its adapter calls retryable (a
    /// serialization failure or deadlock on PostgreSQL, `SQLITE_BUSY` on SQLite), like pgbench
    /// `--max-tries` (`STRESS_MAX_TRIES`); default 1, no retry.
    pub max_tries: Option<u32>,
    /// How long a user waits before it tries an op again (`STRESS_RETRY_BACKOFF`:
    /// `MIN..MAX`, like `1ms..100ms`; `0..0` for none): before try k+1, a wait drawn uniformly
    /// from 0 to min(MAX, MIN·2^(k-1)) — exponential backoff with full jitter — from a stream
    /// of the user's own. Default [`DEFAULT_RETRY_BACKOFF`] (1ms..100ms).
    pub retry_backoff: Option<(Duration, Duration)>,
    /// Stop the run at the first op that fails, after its tries when its error is retryable
    /// (`STRESS_ABORT_ON_ERROR=1`), like pgbench's default; default off.
    pub abort_on_error: Option<bool>,
    /// How long users may stay in an op after the run stopped (its duration elapsed, Ctrl-C,
    /// a limit) before the run abandons them and writes its reports (`STRESS_STUCK_GRACE`);
    /// default 10 s. A second Ctrl-C abandons them at once.
    pub stuck_grace: Option<Duration>,
    /// The most users a run may have (`STRESS_MAX_USERS`); default: what this machine can
    /// run ([`bounds::max_users`](crate::bounds::max_users)).
    pub max_users: Option<usize>,
    /// The most databases a run may have (`STRESS_MAX_DATABASES`); default
    /// [`bounds::MAX_DATABASES`](crate::bounds::MAX_DATABASES).
    pub max_databases: Option<usize>,
    /// Ops run but left out of the statistics for this long from the start (`STRESS_WARMUP`);
    /// default 0.
    pub warmup: Option<Duration>,
    /// Under a rate, skip slots whose start is later than this (`STRESS_LATENCY_LIMIT`),
    /// counted as skipped, like pgbench `--latency-limit`; default: none.
    pub latency_limit: Option<Duration>,
    /// Workload parameters as given, `(name, value)` (`STRESS_PARAM_<NAME>=VALUE`); checked
    /// against the workload's declarations when the run resolves. Default: the declared defaults.
    pub params: Vec<(String, String)>,
    /// Run only this shard's users (`STRESS_SHARD`: `I/N`, or `auto/N` from the job engine's
    /// index variable); default: all of them.
    pub shard: Option<Shard>,
    /// Start the users at this wall-clock time, ms since the Unix epoch (`STRESS_START_AT`: RFC
    /// 3339 UTC or `@UNIX_SECONDS`), so that shards started apart measure one window.
    pub start_at_ms: Option<u64>,
    /// Only the setup step (`STRESS_SETUP_ONLY=1`) or only the verify step against a merged
    /// run (`STRESS_VERIFY_ONLY=DIR`); default: the whole run.
    pub step: Option<Step>,
    /// Run only these users, by id (`STRESS_ONLY_USERS=writer-1,reader-0`): a replay of one
    /// user. Each keeps its seed, database and share of the rate. Default: every user.
    pub only_users: Vec<String>,
    /// Faults to inject (`STRESS_FAULTS=pause:3s@at=20s;kill@every=5s..15s`, see
    /// [`crate::fault`]), parsed where they were typed; default: none.
    pub faults: Vec<FaultSpec>,
    /// Sample the engine's on-CPU stacks with perf during the measured window and write a
    /// flame graph (`STRESS_PROFILE=1`, `run --cpu-profile`); default off.
    pub profile: Option<bool>,
    /// Serve the run live on this address (`STRESS_DASHBOARD=127.0.0.1:0`, `run --dashboard`);
    /// default: no dashboard.
    pub dashboard: Option<std::net::SocketAddr>,
}

impl ConfigLayer {
    /// Sets a parameter given as `name=value`: `users` and `rate` set the load (total users,
    /// open-loop rate), any other name a workload parameter (checked when the run resolves).
    pub fn set_param(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let var = params::env_var(name);
        let v = value.trim();
        match name {
            "users" => {
                self.users_total = Some(
                    params::parse_int(v)
                        .filter(|n| *n >= 1)
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or_else(|| ConfigError::env(&var, v, "expected a whole number of users above 0"))?,
                );
            }
            "rate" => self.rate = Some(values::rate(v).map_err(|m| ConfigError::env(&var, v, m))?),
            _ => {
                params::check_name(name).map_err(|m| ConfigError::env(&var, v, m))?;
                match self.params.iter_mut().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = v.to_owned(),
                    None => self.params.push((name.to_owned(), v.to_owned())),
                }
            }
        }
        Ok(())
    }
}

/// How inter-arrival times are drawn under a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Equal gaps.
    Uniform,
    /// Exponential gaps (a Poisson process), as pgbench `-R` schedules.
    #[default]
    Poisson,
}

/// One load stage: ramp linearly to `target` over `duration_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    /// How long the ramp takes.
    pub duration_ms: u64,
    /// Users, or ops/s under a rate, at the stage's end.
    pub target: f64,
}

impl ConfigLayer {
    /// This layer with `upper` laid over it: each field `upper` sets wins; user counts are
    /// overridden class by class. Stages set the run's length unless a duration does: stages
    /// laid over a lower layer's duration (the attribute's `duration = "10s"` under
    /// `--stages`) replace it, and a duration in the same or a higher layer wins.
    pub fn with(mut self, upper: &ConfigLayer) -> Self {
        if upper.stages.is_some() && upper.duration.is_none() {
            self.duration = None;
        }
        macro_rules! over {
            ($($f:ident),*) => { $( if upper.$f.is_some() { self.$f = upper.$f.clone(); } )* };
        }
        over!(
            seed,
            duration,
            ops_per_user,
            think_min_ms,
            think_max_ms,
            batch_min,
            batch_max,
            databases,
            max_memory_mb,
            max_cpu_percent,
            max_disk_mb,
            limit_grace,
            max_error_rate,
            rate,
            arrival,
            stages,
            abort_on_fail,
            max_tries,
            retry_backoff,
            abort_on_error,
            max_users,
            max_databases,
            stuck_grace,
            warmup,
            latency_limit,
            users_total,
            shard,
            start_at_ms,
            step,
            profile,
            dashboard
        );
        if !upper.only_users.is_empty() {
            self.only_users = upper.only_users.clone();
        }
        if !upper.faults.is_empty() {
            self.faults = upper.faults.clone();
        }
        for (name, value) in &upper.params {
            match self.params.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value.clone(),
                None => self.params.push((name.clone(), value.clone())),
            }
        }
        for t in &upper.thresholds {
            if !self.thresholds.contains(t) {
                self.thresholds.push(t.clone());
            }
        }
        for (class, n) in &upper.users {
            match self.users.iter_mut().find(|(c, _)| c == class) {
                Some(slot) => slot.1 = *n,
                None => self.users.push((class.clone(), *n)),
            }
        }
        self
    }
}

/// Sets the classes' user counts to `total` users in all, in their current proportions by the
/// largest remainder, with at least one user for every class that had any: a total too small
/// for that is an error, never a class emptied silently.
pub fn scale_users(users: &mut [(String, usize)], total: usize) -> Result<(), ConfigError> {
    let too_many = || ConfigError::Invalid(format!("{total} users in all is more than any machine can count"));
    let current = users
        .iter()
        .try_fold(0usize, |t, (_, n)| t.checked_add(*n))
        .ok_or_else(too_many)?;
    if current == 0 || current == total {
        return Ok(());
    }
    let classes = users.iter().filter(|(_, n)| *n > 0).count();
    if total < classes {
        let names: Vec<&str> = users.iter().filter(|(_, n)| *n > 0).map(|(c, _)| c.as_str()).collect();
        return Err(ConfigError::Invalid(format!(
            "{total} users in all cannot give each of the {classes} classes ({}) a user: give at least \
             {classes}, or set classes one by one (class=N)",
            names.join(", ")
        )));
    }
    // In u128: `n * total` of two usizes always fits it (in usize, 18446744073709551615
    // users times a class of 2 wraps).
    let quota: Vec<f64> = users
        .iter()
        .map(|(_, n)| (*n as u128 * total as u128) as f64 / current as f64)
        .collect();
    let mut share: Vec<usize> = users
        .iter()
        .zip(&quota)
        .map(|((_, n), q)| {
            if *n == 0 {
                0
            } else {
                (q.floor() as usize).clamp(1, total)
            }
        })
        .collect();
    let sum = |share: &[usize]| {
        share
            .iter()
            .try_fold(0usize, |t, n| t.checked_add(*n))
            .ok_or_else(too_many)
    };
    // Too many after the minimum of one: take back from the classes furthest above their quota.
    while sum(&share)? > total {
        let i = (0..share.len())
            .filter(|&i| share[i] > 1)
            .max_by(|&a, &b| {
                (share[a] as f64 - quota[a])
                    .total_cmp(&(share[b] as f64 - quota[b]))
                    .then(b.cmp(&a))
            })
            .expect("total >= classes leaves a class above one user");
        share[i] -= 1;
    }
    // Too few: give to the classes furthest below their quota, the first on a tie.
    while sum(&share)? < total {
        let i = (0..share.len())
            .filter(|&i| users[i].1 > 0)
            .max_by(|&a, &b| {
                (quota[a] - share[a] as f64)
                    .total_cmp(&(quota[b] - share[b] as f64))
                    .then(b.cmp(&a))
            })
            .expect("a class has users");
        share[i] += 1;
    }
    for ((_, n), s) in users.iter_mut().zip(share) {
        *n = s;
    }
    Ok(())
}

/// The resolved configuration of one run: what `replay.json` records and a replay restores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The global seed.
    pub seed: u64,
    /// Run length in ms; `None`: until every user reaches `ops_per_user`.
    pub duration_ms: Option<u64>,
    /// Ops per user; `None`: no limit.
    pub ops_per_user: Option<u64>,
    /// Users per class, in the workload's class order.
    pub users: Vec<(String, usize)>,
    /// Think time range in ms.
    pub think_min_ms: u64,
    /// Think time range in ms.
    pub think_max_ms: u64,
    /// Rows per bulk op.
    pub batch_min: u64,
    /// Rows per bulk op.
    pub batch_max: u64,
    /// Databases.
    pub databases: usize,
    /// Memory limit (MB) driving backpressure.
    pub max_memory_mb: Option<u64>,
    /// CPU limit (%) driving backpressure.
    pub max_cpu_percent: Option<u64>,
    /// Disk budget (MB) turning writes into reads.
    pub max_disk_mb: Option<u64>,
    /// How long a limit may stay breached before the run stops, in ms.
    pub limit_grace_ms: u64,
    /// Failed-op fraction a run may have and still pass.
    pub max_error_rate: f64,
    /// A smoke run: one user per class, a few ops each, no think time.
    pub smoke: bool,
    /// Open-loop rate, ops/s over all users.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Inter-arrival times under a rate.
    #[serde(default)]
    pub arrival: Arrival,
    /// Load stages.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Pass/fail rules, parsed where they were typed; `replay.json` records each as written.
    #[serde(default, with = "crate::thresholds::as_rules")]
    pub thresholds: Vec<Threshold>,
    /// Stop at the first breached threshold after warm-up.
    #[serde(default)]
    pub abort_on_fail: bool,
    /// Tries an op gets when it fails with a retryable error (1: no retry).
    #[serde(default = "one_try")]
    pub max_tries: u32,
    /// The retry backoff's MIN, µs: before try k+1 of an op a user waits a time drawn
    /// uniformly from 0 to min(MAX, MIN·2^(k-1)). 0 (with MAX 0): no backoff, what a
    /// `replay.json` written before backoff existed ran with.
    #[serde(default)]
    pub retry_backoff_min_us: u64,
    /// The retry backoff's MAX, µs (see `retry_backoff_min_us`).
    #[serde(default)]
    pub retry_backoff_max_us: u64,
    /// Stop at the first op that fails (after its tries).
    #[serde(default)]
    pub abort_on_error: bool,
    /// How long users may stay in an op after the run stopped before they are abandoned, ms.
    #[serde(default = "default_stuck_grace_ms")]
    pub stuck_grace_ms: u64,
    /// Warm-up, ms.
    #[serde(default)]
    pub warmup_ms: u64,
    /// Latency limit under a rate, ms.
    #[serde(default)]
    pub latency_limit_ms: Option<u64>,
    /// The workload's parameters, every declared one with its value.
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub params: Params,
    /// The shard this run is of a sharded run: only its users run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// The start barrier, ms since the Unix epoch (not replayed: a replay starts at once).
    #[serde(skip)]
    pub start_at_ms: Option<u64>,
    /// What this process does of the run (not replayed).
    #[serde(skip)]
    pub step: Step,
    /// Only these users run (ids); empty: every user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only_users: Vec<String>,
    /// The fault specs (the schedule drawn from them is in `replay.json`'s `faults`); a
    /// `replay.json` written before they were typed lists them as they were typed, and is read.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "fault_specs")]
    pub faults: Vec<FaultSpec>,
    /// A replay's op count per user (by id), as the recorded run's users ran them: each user
    /// stops after its own count, so that a replay of a run bounded by time runs the same ops
    /// ([`crate::ReplayFile::user_ops`]). Empty: `ops_per_user` and the duration bound the run.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_ops: BTreeMap<String, u64>,
    /// Sample the engine's stacks with perf during the measured window
    /// ([`crate::profile`]). An observation, not part of the load: not in `replay.json`, so
    /// a replay runs without it.
    #[serde(skip)]
    pub profile: bool,
    /// Where the run is served live ([`crate::dashboard`]): not in `replay.json` (the controls
    /// applied through it are).
    #[serde(skip)]
    pub dashboard: Option<std::net::SocketAddr>,
}

/// Fault specs as `replay.json` records them: typed, or (written before they were) as typed.
fn fault_specs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<FaultSpec>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Recorded {
        Typed(FaultSpec),
        Text(String),
    }
    Vec::<Recorded>::deserialize(d)?
        .into_iter()
        .map(|r| match r {
            Recorded::Typed(spec) => Ok(spec),
            Recorded::Text(text) => FaultSpec::parse(&text).map_err(serde::de::Error::custom),
        })
        .collect()
}

fn one_try() -> u32 {
    1
}

/// Users still in an op this long after the run stopped are abandoned.
const DEFAULT_STUCK_GRACE_MS: u64 = 10_000;

fn default_stuck_grace_ms() -> u64 {
    DEFAULT_STUCK_GRACE_MS
}

/// The users per class and the stages of a run.
type Load = (Vec<(String, usize)>, Vec<Stage>);

/// The users per class and the stages of a run: the layer's counts laid over the classes'
/// (one each in a smoke run), scaled to the stages' peak or the total asked for, and checked
/// against what this machine may run and the shards.
fn resolve_load(layer: &ConfigLayer, classes: &[(String, usize)], smoke: bool) -> Result<Load, ConfigError> {
    for (class, _) in &layer.users {
        if !classes.iter().any(|(c, _)| c == class) {
            let known: Vec<&str> = classes.iter().map(|(c, _)| c.as_str()).collect();
            return Err(ConfigError::Invalid(format!(
                "users names class `{class}`, which this workload does not have (its classes: {})",
                known.join(", ")
            )));
        }
    }
    let mut users: Vec<(String, usize)> = classes
        .iter()
        .map(|(c, n)| {
            let n = layer.users.iter().find(|(k, _)| k == c).map_or(*n, |(_, n)| *n);
            (c.clone(), if smoke { n.min(1) } else { n })
        })
        .collect();
    let stages = if smoke {
        Vec::new()
    } else {
        layer.stages.clone().unwrap_or_default()
    };
    if layer.stages.as_ref().is_some_and(Vec::is_empty) {
        return Err(ConfigError::Invalid(
            "stages are empty: give DURATION:TARGET steps".into(),
        ));
    }
    let (bound, why) = match layer.max_users {
        Some(n) => (n, "STRESS_MAX_USERS".to_owned()),
        None => crate::bounds::max_users(),
    };
    let over_bound = |total: String| {
        ConfigError::Invalid(format!(
            "{total} users is more than this run may start: at most {bound} ({why}); run fewer users, \
             or set STRESS_MAX_USERS={total} to try anyway"
        ))
    };
    if layer.rate.is_none() && !stages.is_empty() {
        // Stages of users: as many users as the highest stage, in the classes' proportions.
        let peak = stages.iter().map(|s| s.target).fold(0.0, f64::max).round();
        // Refused before it is scaled to: a peak of 1e308 users is no count of threads.
        if peak > bound as f64 {
            return Err(over_bound(values::show_number(peak)));
        }
        let peak = peak as usize;
        let total: usize = users.iter().map(|(_, n)| n).sum();
        if peak == 0 {
            return Err(ConfigError::Invalid(
                "every stage targets 0 users: give one stage a target above 0".into(),
            ));
        }
        if total > 0 && total != peak {
            scale_users(&mut users, peak)
                .map_err(|e| ConfigError::Invalid(format!("the stages' peak of {peak} users: {e}")))?;
        }
    } else if let (Some(want), false) = (layer.users_total, smoke) {
        if want > bound {
            return Err(over_bound(want.to_string()));
        }
        if users.iter().all(|(_, n)| *n == 0) {
            users.iter_mut().for_each(|(_, n)| *n = 1);
        }
        scale_users(&mut users, want)?;
    }
    if users.iter().all(|(_, n)| *n == 0) {
        return Err(ConfigError::Invalid(
            "no users to run: every class has 0 users (set some with STRESS_USERS=class=N)".into(),
        ));
    }
    let total = users.iter().fold(0usize, |t, (_, n)| t.saturating_add(*n));
    if total > bound {
        return Err(over_bound(total.to_string()));
    }
    // (A shard whose own index is beyond the users is refused with the plan, which says
    // so of that shard: `check_selection`.)
    if let Some(shard) = layer.shard
        && shard.count > total
        && shard.index < total
    {
        return Err(ConfigError::Invalid(format!(
            "shard {shard} (--shard, STRESS_SHARD) is of {} shards, more than the run's {total} users: \
             shards beyond them would run no one; give at most {total} shards",
            shard.count
        )));
    }
    Ok((users, stages))
}

impl RunConfig {
    /// Resolves a merged layer against the workload's classes (name, users from its code).
    pub fn resolve(
        layer: &ConfigLayer,
        classes: &[(String, usize)],
        seed: u64,
        smoke: bool,
    ) -> Result<Self, ConfigError> {
        let (users, stages) = resolve_load(layer, classes, smoke)?;
        let databases = layer.databases.unwrap_or(1).max(1);
        let db_bound = layer.max_databases.unwrap_or(crate::bounds::MAX_DATABASES);
        if databases > db_bound {
            return Err(ConfigError::Invalid(format!(
                "{databases} databases is more than this run may set up: at most {db_bound}; use fewer, \
                 or set STRESS_MAX_DATABASES={databases} to try anyway"
            )));
        }
        let think_min_ms = layer.think_min_ms.unwrap_or(0);
        let think_max_ms = layer.think_max_ms.unwrap_or(think_min_ms);
        if think_min_ms > think_max_ms {
            return Err(ConfigError::Invalid(format!(
                "think time {think_min_ms}..{think_max_ms} ms is empty: its minimum exceeds its maximum"
            )));
        }
        let batch_min = layer.batch_min.unwrap_or(DEFAULT_BATCH.0);
        // An empty or oversized batch range is refused by `validate`, below.
        let batch_max = layer.batch_max.unwrap_or(DEFAULT_BATCH.1.max(batch_min));
        let staged = (!stages.is_empty()).then(|| Duration::from_millis(stages.iter().map(|s| s.duration_ms).sum()));
        let mut duration = match (layer.duration, staged, layer.ops_per_user) {
            (Some(d), _, _) | (None, Some(d), _) => Some(d),
            (None, None, Some(_)) => None,
            (None, None, None) => Some(DEFAULT_DURATION),
        };
        if layer.latency_limit.is_some() && layer.rate.is_none() {
            return Err(ConfigError::Invalid(
                "a latency limit needs a rate (STRESS_RATE / --rate): without a schedule no op is late".into(),
            ));
        }
        let warmup = if smoke {
            Duration::ZERO
        } else {
            layer.warmup.unwrap_or_default()
        };
        if duration.is_some_and(|d| warmup >= d) {
            return Err(ConfigError::Invalid(format!(
                "warm-up {}s is not shorter than the run: nothing would be measured",
                warmup.as_secs_f64()
            )));
        }
        let mut ops_per_user = layer.ops_per_user;
        let (mut think_min_ms, mut think_max_ms) = (think_min_ms, think_max_ms);
        if smoke {
            ops_per_user = Some(ops_per_user.map_or(SMOKE_OPS_PER_USER, |n| n.min(SMOKE_OPS_PER_USER)));
            duration = Some(duration.map_or(SMOKE_MAX_DURATION, |d| d.min(SMOKE_MAX_DURATION)));
            (think_min_ms, think_max_ms) = (0, 0);
        }
        if duration == Some(Duration::ZERO) {
            return Err(ConfigError::Invalid("duration is 0: give a run at least 1s".into()));
        }
        let retry_backoff = layer.retry_backoff.unwrap_or(DEFAULT_RETRY_BACKOFF);
        let config = Self {
            seed,
            duration_ms: duration.map(|d| d.as_millis() as u64),
            ops_per_user,
            users,
            think_min_ms,
            think_max_ms,
            batch_min,
            batch_max,
            databases,
            max_memory_mb: layer.max_memory_mb,
            max_cpu_percent: layer.max_cpu_percent,
            max_disk_mb: layer.max_disk_mb,
            limit_grace_ms: layer.limit_grace.unwrap_or(DEFAULT_LIMIT_GRACE).as_millis() as u64,
            max_error_rate: layer.max_error_rate.unwrap_or(0.0),
            smoke,
            rate: if smoke { None } else { layer.rate },
            arrival: layer.arrival.unwrap_or_default(),
            stages,
            thresholds: layer.thresholds.clone(),
            abort_on_fail: layer.abort_on_fail.unwrap_or(false),
            max_tries: layer.max_tries.unwrap_or(1),
            retry_backoff_min_us: retry_backoff.0.as_micros().try_into().unwrap_or(u64::MAX),
            retry_backoff_max_us: retry_backoff.1.as_micros().try_into().unwrap_or(u64::MAX),
            abort_on_error: layer.abort_on_error.unwrap_or(false),
            stuck_grace_ms: layer
                .stuck_grace
                .map_or(DEFAULT_STUCK_GRACE_MS, |d| d.as_millis() as u64),
            warmup_ms: warmup.as_millis() as u64,
            latency_limit_ms: if smoke {
                None
            } else {
                layer.latency_limit.map(|d| d.as_millis() as u64)
            },
            params: Params::default(),
            shard: layer.shard,
            start_at_ms: layer.start_at_ms,
            step: layer.step.clone().unwrap_or_default(),
            only_users: layer.only_users.clone(),
            faults: layer.faults.clone(),
            user_ops: BTreeMap::new(),
            profile: !smoke && layer.profile.unwrap_or(false),
            dashboard: if smoke { None } else { layer.dashboard },
        };
        // The same checks a replay file goes through.
        config.validate().map_err(ConfigError::Invalid)?;
        Ok(config)
    }

    /// The hash every shard of one run shares: of this configuration without the shard, as
    /// JSON, with FNV-1a (in `shard.json`; the merge refuses shards whose hashes differ).
    pub fn hash_without_shard(&self) -> String {
        let mut c = self.clone();
        c.shard = None;
        let json = serde_json::to_vec(&c).unwrap_or_default();
        let mut h = crate::seed::Fnv64::new();
        h.write(&json);
        format!("{:016x}", h.finish())
    }

    /// Whether user `id` runs (every user unless some are chosen).
    pub fn runs(&self, id: &str) -> bool {
        self.only_users.is_empty() || self.only_users.iter().any(|u| u == id)
    }

    /// The run length, if bounded by time.
    pub fn duration(&self) -> Option<Duration> {
        self.duration_ms.map(Duration::from_millis)
    }

    /// When the users stop at the latest: the duration, or for a replay that runs each user to
    /// its recorded op count ([`user_ops`](Self::user_ops)), four times it and 30 s more — time
    /// for a slower replay to finish the same ops, yet an end.
    pub fn users_deadline(&self) -> Option<Duration> {
        let d = self.duration()?;
        if self.user_ops.is_empty() {
            return Some(d);
        }
        Some(d.saturating_mul(4).saturating_add(Duration::from_secs(30)))
    }

    /// The ops user `id` runs at most: its recorded count in a replay, or `ops_per_user`.
    pub fn op_limit(&self, id: &str) -> Option<u64> {
        self.user_ops.get(id).copied().or(self.ops_per_user)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<EnvConfig, ConfigError> {
        EnvConfig::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn classes() -> Vec<(String, usize)> {
        vec![("inserter".into(), 4), ("reader".into(), 3)]
    }

    #[test]
    fn layers_apply_in_order() {
        let attr = AttrOptions {
            duration: Some(Duration::from_secs(30)),
            seed: Some(1),
            users: Some(&[("reader", 5)]),
            think_ms: Some((10, 20)),
            ..AttrOptions::DEFAULT
        };
        let e = env(&[("STRESS_SEED", "2"), ("STRESS_USERS", "inserter=1")]).unwrap();
        let api = ConfigLayer {
            duration: Some(Duration::from_secs(5)),
            ..ConfigLayer::default()
        };
        let merged = ConfigLayer::default()
            .with(&ConfigLayer::from_attr(&attr))
            .with(&e.layer)
            .with(&api);
        assert_eq!(merged.seed, Some(2), "env beats attribute");
        assert_eq!(merged.duration, Some(Duration::from_secs(5)), "API beats attribute");
        assert_eq!(merged.think_min_ms, Some(10), "attribute beats default");
        let rc = RunConfig::resolve(&merged, &classes(), 2, false).unwrap();
        assert_eq!(rc.users, vec![("inserter".into(), 1), ("reader".into(), 5)]);
        assert_eq!(rc.duration_ms, Some(5_000));
        assert_eq!((rc.batch_min, rc.batch_max), DEFAULT_BATCH);
    }

    #[test]
    fn per_class_user_variables_yield_to_stress_users() {
        let e = env(&[
            ("STRESS_INSERTER_USERS", "7"),
            ("STRESS_READER_USERS", "2"),
            ("STRESS_USERS", "reader=9"),
            ("STRESS_TRANSPORT", "grpc"),
        ])
        .unwrap();
        assert_eq!(
            e.unknown,
            vec!["STRESS_TRANSPORT".to_owned()],
            "the core does not read it"
        );
        assert!(
            e.warnings(&["STRESS_TRANSPORT"]).is_empty(),
            "an adapter that declares it does"
        );
        let rc = RunConfig::resolve(&e.layer, &classes(), 0, false).unwrap();
        assert_eq!(rc.users, vec![("inserter".into(), 7), ("reader".into(), 9)]);
        let err = env(&[("STRESS_INSERTER_USERS", "many")]).unwrap_err();
        assert!(err.to_string().contains("STRESS_INSERTER_USERS"), "{err}");
        let e = env(&[("STRESS_WRITER_USERS", "1")]).unwrap();
        let err = RunConfig::resolve(&e.layer, &classes(), 0, false).unwrap_err();
        assert!(err.to_string().contains("writer"), "an unknown class is named: {err}");
    }

    #[test]
    fn cargo_stress_settings_are_one_typed_layer_over_the_variables() {
        let flags = ConfigLayer {
            seed: Some(7),
            rate: Some(2000.0),
            users_total: Some(4),
            thresholds: vec![Threshold::parse_rule("p99<1s").unwrap()],
            ..ConfigLayer::default()
        };
        let handover = Handover {
            settings: flags,
            output_dir: Some("/runs/a".into()),
            events: true,
            lifeline: true,
            ..Handover::default()
        };
        let json = serde_json::to_string(&handover).unwrap();
        let e = env(&[
            ("STRESS_SEED", "1"),
            ("STRESS_RATE", "2k"),
            ("STRESS_DURATION", "3s"),
            ("STRESS_OUTPUT_DIR", "/runs/b"),
            ("STRESS_REPLAY_FILE", "/runs/c"),
            (crate::protocol::SETTINGS_VAR, &json),
        ])
        .unwrap();
        assert!(e.unknown.is_empty(), "{:?}", e.unknown);
        assert_eq!(
            e.run.output_dir,
            Some(PathBuf::from("/runs/a")),
            "the hand-over beats the variable"
        );
        assert_eq!(
            e.run.replay_file,
            Some(PathBuf::from("/runs/c")),
            "what it leaves is kept"
        );
        assert!(e.run.events && e.run.lifeline);
        let plain = env(&[("STRESS_PROGRESS", "lines")]).unwrap();
        assert!(!plain.run.events && !plain.run.lifeline);
        assert_eq!(e.layer.seed, Some(7), "the flags beat the variables");
        assert_eq!(
            e.layer.duration,
            Some(Duration::from_secs(3)),
            "what the flags leave is kept"
        );
        assert_eq!((e.layer.rate, e.layer.users_total), (Some(2000.0), Some(4)));
        assert_eq!(e.layer.thresholds, vec![Threshold::parse_rule("p99<1s").unwrap()]);
    }

    #[test]
    fn the_rate_reads_alike_from_the_variable_and_a_parameter() {
        // STRESS_RATE reads `2k` as --rate and --param rate= do.
        assert_eq!(env(&[("STRESS_RATE", "2k")]).unwrap().layer.rate, Some(2000.0));
        let mut l = ConfigLayer::default();
        l.set_param("rate", "2k").unwrap();
        assert_eq!(l.rate, Some(2000.0));
    }

    #[test]
    fn a_hand_made_settings_variable_that_does_not_fit_is_refused_naming_it() {
        // A hand-made channel that does not fit is refused, naming the variable.
        for bad in [
            "{",
            r#"{"settings": {"rate": "fast"}}"#,
            r#"{"frobnicate": 1}"#,
            r#"{"rate": 5}"#,
            r#"{"protocol_version": 2, "settings": {"rate": "fast"}}"#,
        ] {
            let e = env(&[(crate::protocol::SETTINGS_VAR, bad)]).unwrap_err().to_string();
            assert!(
                e.starts_with("STRESS_SETTINGS=") && e.contains("set the STRESS_* variables instead"),
                "{e}"
            );
        }
    }

    #[test]
    fn duration_defaults_only_without_an_op_limit() {
        let l = ConfigLayer::default();
        let rc = RunConfig::resolve(&l, &classes(), 0, false).unwrap();
        assert_eq!(rc.duration(), Some(DEFAULT_DURATION));
        let l = ConfigLayer {
            ops_per_user: Some(10),
            ..ConfigLayer::default()
        };
        assert_eq!(RunConfig::resolve(&l, &classes(), 0, false).unwrap().duration(), None);
    }

    #[test]
    fn smoke_caps_users_ops_and_think() {
        let l = ConfigLayer {
            ops_per_user: Some(1000),
            think_min_ms: Some(100),
            think_max_ms: Some(200),
            ..ConfigLayer::default()
        };
        let rc = RunConfig::resolve(&l, &classes(), 0, true).unwrap();
        assert_eq!(rc.users, vec![("inserter".into(), 1), ("reader".into(), 1)]);
        assert_eq!(rc.ops_per_user, Some(SMOKE_OPS_PER_USER));
        assert_eq!((rc.think_min_ms, rc.think_max_ms), (0, 0));
        assert_eq!(rc.duration(), Some(SMOKE_MAX_DURATION));
    }

    #[test]
    fn every_variable_parses() {
        let e = env(&[
            ("STRESS_SEED", "42"),
            ("STRESS_DURATION", "2m"),
            ("STRESS_OPS_PER_USER", "7"),
            ("STRESS_USERS", "inserter=4,reader=3"),
            ("STRESS_THINK_MIN_MS", "10"),
            ("STRESS_THINK_MAX_MS", "200"),
            ("STRESS_BATCH_MIN", "100"),
            ("STRESS_BATCH_MAX", "10000"),
            ("STRESS_DATABASES", "3"),
            ("STRESS_MAX_MEMORY_MB", "512"),
            ("STRESS_MAX_CPU_PERCENT", "150"),
            ("STRESS_MAX_DISK_MB", "64"),
            ("STRESS_LIMIT_GRACE", "3s"),
            ("STRESS_MAX_ERROR_RATE", "0.01"),
            ("STRESS_OUTPUT_DIR", "/tmp/out"),
            ("STRESS_REPLAY_FILE", "/tmp/replay.json"),
            ("PATH", "/bin"),
        ])
        .unwrap();
        let l = &e.layer;
        assert_eq!(l.seed, Some(42));
        assert_eq!(l.duration, Some(Duration::from_secs(120)));
        assert_eq!(l.ops_per_user, Some(7));
        assert_eq!(l.users.len(), 2);
        assert_eq!((l.think_min_ms, l.think_max_ms), (Some(10), Some(200)));
        assert_eq!((l.batch_min, l.batch_max), (Some(100), Some(10_000)));
        assert_eq!(l.databases, Some(3));
        assert_eq!(
            (l.max_memory_mb, l.max_cpu_percent, l.max_disk_mb),
            (Some(512), Some(150), Some(64))
        );
        assert_eq!(l.limit_grace, Some(Duration::from_secs(3)));
        assert_eq!(l.max_error_rate, Some(0.01));
        assert_eq!(e.run.output_dir, Some(PathBuf::from("/tmp/out")));
        assert_eq!(e.run.replay_file, Some(PathBuf::from("/tmp/replay.json")));
        assert!(e.unknown.is_empty(), "{:?}", e.unknown);
    }

    #[test]
    fn parameters_and_a_total_of_users_come_from_the_environment() {
        let e = env(&[
            ("STRESS_PARAM_EPOCHS", "10k"),
            ("STRESS_PARAM_FORMAT", "bson"),
            ("STRESS_PARAM_USERS", "6"),
            ("STRESS_PARAM_RATE", "2.5"),
        ])
        .unwrap();
        assert!(e.unknown.is_empty(), "{:?}", e.unknown);
        assert_eq!(
            e.layer.params,
            vec![
                ("epochs".to_owned(), "10k".to_owned()),
                ("format".to_owned(), "bson".to_owned())
            ]
        );
        assert_eq!((e.layer.users_total, e.layer.rate), (Some(6), Some(2.5)));
        let rc = RunConfig::resolve(&e.layer, &classes(), 0, false).unwrap();
        assert_eq!(
            rc.users,
            vec![("inserter".into(), 3), ("reader".into(), 3)],
            "4:3 scaled to 6: quotas 3.43 and 2.57, the larger remainder gets the sixth"
        );
        let e = env(&[("STRESS_USERS", "14")]).unwrap();
        let rc = RunConfig::resolve(&e.layer, &classes(), 0, false).unwrap();
        assert_eq!(rc.users, vec![("inserter".into(), 8), ("reader".into(), 6)]);
        let one = RunConfig::resolve(
            &ConfigLayer {
                users_total: Some(1),
                ..ConfigLayer::default()
            },
            &classes(),
            0,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            one.contains("1 users in all cannot give each of the 2 classes (inserter, reader) a user"),
            "{one}"
        );
        for (var, value, expect) in [
            ("STRESS_PARAM_USERS", "0", "whole number of users above 0"),
            ("STRESS_PARAM_RATE", "x", "`x` is not a rate: expected ops/s above 0"),
            ("STRESS_PARAM_", "1", "needs a parameter name"),
            ("STRESS_PARAM_A-B", "1", "is not a parameter name"),
            ("STRESS_USERS", "0", "`0` users: give a total above 0"),
        ] {
            let err = env(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(expect), "{var}: {err}");
        }
    }

    #[test]
    fn a_progress_style_that_does_not_exist_is_refused() {
        let e = EnvConfig::from_vars([("STRESS_PROGRESS".to_owned(), "bogus".to_owned())]).unwrap_err();
        assert!(
            e.to_string().contains("STRESS_PROGRESS") && e.to_string().contains("expected off, lines or json"),
            "{e}"
        );
        for ok in ["off", "lines", "json"] {
            assert!(EnvConfig::from_vars([("STRESS_PROGRESS".to_owned(), ok.to_owned())]).is_ok());
        }
    }

    #[test]
    fn users_and_databases_beyond_what_can_run_are_refused_before_anything_is_allocated() {
        let classes = [("r".to_owned(), 2usize)];
        let resolve = |vars: &[(&str, &str)]| {
            let env = EnvConfig::from_vars(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))).unwrap();
            RunConfig::resolve(&env.layer, &classes, 1, false)
        };
        let e = resolve(&[("STRESS_USERS", "1000000000")]).unwrap_err().to_string();
        assert!(
            e.starts_with("1000000000 users is more than this run may start: at most ")
                && e.contains("set STRESS_MAX_USERS=1000000000 to try anyway"),
            "{e}"
        );
        let e = resolve(&[("STRESS_USERS", "r=50"), ("STRESS_MAX_USERS", "10")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 10 (STRESS_MAX_USERS)"), "{e}");
        assert_eq!(
            resolve(&[("STRESS_USERS", "r=50"), ("STRESS_MAX_USERS", "50")])
                .unwrap()
                .users,
            vec![("r".to_owned(), 50)],
            "raised on purpose"
        );
        let e = resolve(&[("STRESS_DATABASES", "1000000")]).unwrap_err().to_string();
        assert!(
            e.contains("1000000 databases is more than this run may set up: at most 10000"),
            "{e}"
        );
        assert_eq!(
            resolve(&[("STRESS_DATABASES", "20000"), ("STRESS_MAX_DATABASES", "20000")])
                .unwrap()
                .databases,
            20000
        );
    }

    #[test]
    fn scaling_to_a_huge_total_never_wraps() {
        let mut users = vec![("a".to_owned(), 2), ("b".to_owned(), 1)];
        // Ok or a refusal, never a wrapped multiplication (a panic in debug, a hang in release).
        if scale_users(&mut users, usize::MAX).is_ok() {
            assert!(users.iter().all(|(_, n)| *n > 0), "{users:?}");
        }
        let mut huge = vec![("a".to_owned(), usize::MAX), ("b".to_owned(), 1)];
        let e = scale_users(&mut huge, 3).unwrap_err();
        assert!(e.to_string().contains("more than any machine can count"), "{e}");
        let layer = ConfigLayer {
            users_total: Some(usize::MAX),
            max_users: Some(1000),
            ..ConfigLayer::default()
        };
        let e = RunConfig::resolve(&layer, &classes(), 0, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("18446744073709551615 users is more than this run may start: at most 1000"),
            "{e}"
        );
        let staged = ConfigLayer {
            stages: Some(vec![Stage {
                duration_ms: 1000,
                target: 1e8,
            }]),
            max_users: Some(1000),
            ..ConfigLayer::default()
        };
        let e = RunConfig::resolve(&staged, &classes(), 0, false)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("100000000 users is more than"), "{e}");
    }

    #[test]
    fn a_shard_count_beyond_the_users_is_refused() {
        let layer = ConfigLayer {
            shard: Some(Shard {
                index: 0,
                count: usize::MAX,
            }),
            ..ConfigLayer::default()
        };
        let e = RunConfig::resolve(&layer, &classes(), 0, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than the run's 7 users"), "{e}");
        let fits = ConfigLayer {
            shard: Some(Shard { index: 6, count: 7 }),
            ..ConfigLayer::default()
        };
        assert!(RunConfig::resolve(&fits, &classes(), 0, false).is_ok());
    }

    #[test]
    fn a_total_of_users_never_empties_a_class() {
        let spread = |counts: &[usize], total: usize| {
            let mut users: Vec<(String, usize)> =
                counts.iter().enumerate().map(|(i, n)| (format!("c{i}"), *n)).collect();
            scale_users(&mut users, total).map(|()| users.into_iter().map(|(_, n)| n).collect::<Vec<_>>())
        };
        assert_eq!(
            spread(&[8, 2], 4).unwrap(),
            vec![3, 1],
            "the issue's case: 8:2 run with 4 users"
        );
        assert_eq!(spread(&[4, 3, 2], 10).unwrap(), vec![5, 3, 2]);
        assert_eq!(spread(&[4, 3, 2], 3).unwrap(), vec![1, 1, 1]);
        assert_eq!(spread(&[100, 1, 1], 5).unwrap(), vec![3, 1, 1]);
        assert_eq!(spread(&[5, 0, 5], 4).unwrap(), vec![2, 0, 2], "a class of 0 stays 0");
        assert_eq!(spread(&[1, 1], 1000).unwrap(), vec![500, 500]);
        for (counts, total) in [
            (&[8usize, 2][..], 9usize),
            (&[4, 3, 2], 7),
            (&[1, 99], 37),
            (&[7, 1, 1, 1], 5),
        ] {
            let got = spread(counts, total).unwrap();
            assert_eq!(got.iter().sum::<usize>(), total, "{counts:?} to {total}: {got:?}");
            assert!(
                got.iter().zip(counts).all(|(g, c)| (*g > 0) == (*c > 0)),
                "{counts:?}: {got:?}"
            );
        }
        let e = spread(&[8, 2], 1).unwrap_err().to_string();
        assert!(e.contains("give at least 2"), "{e}");
    }

    #[test]
    fn stages_set_the_length_unless_a_duration_does() {
        let attr = ConfigLayer {
            duration: Some(Duration::from_secs(10)),
            ..ConfigLayer::default()
        };
        let cli_stages = ConfigLayer {
            stages: Some(parse_stages("3s:4,4s:4").unwrap()),
            ..ConfigLayer::default()
        };
        let rc = |l: &ConfigLayer| RunConfig::resolve(l, &classes(), 0, false).unwrap().duration_ms;
        assert_eq!(
            rc(&attr.clone().with(&cli_stages)),
            Some(7_000),
            "stages over an attribute's duration"
        );
        let cli_both = ConfigLayer {
            duration: Some(Duration::from_secs(5)),
            ..cli_stages.clone()
        };
        assert_eq!(
            rc(&attr.clone().with(&cli_both)),
            Some(5_000),
            "a duration beside the stages wins"
        );
        let cli_duration = ConfigLayer {
            duration: Some(Duration::from_secs(2)),
            ..ConfigLayer::default()
        };
        assert_eq!(
            rc(&ConfigLayer::default().with(&cli_stages).with(&cli_duration)),
            Some(2_000),
            "a duration above the stages wins"
        );
        assert_eq!(rc(&attr), Some(10_000));
    }

    #[test]
    fn unknown_variables_are_warned_about() {
        let e = env(&[("STRESS_DURATON", "5s"), ("STRESS_PG_DSN", "host=x")]).unwrap();
        let w = e.warnings(&["STRESS_PG_DSN"]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("unknown variable STRESS_DURATON")
                && w[0].contains("STRESS_DURATION, ")
                && w[0].ends_with("STRESS_PG_DSN)"),
            "the core's variables and the declared ones are named: {}",
            w[0]
        );
        assert_eq!(e.warnings(&[]).len(), 2, "nothing declares STRESS_PG_DSN here");
    }

    #[test]
    fn malformed_values_name_the_variable_and_the_form() {
        let cases = [
            ("STRESS_SEED", "x", "whole number"),
            ("STRESS_DURATION", "abc", "not a duration"),
            ("STRESS_OPS_PER_USER", "0", "above 0"),
            ("STRESS_USERS", "reader=x", "class=N"),
            ("STRESS_THINK_MIN_MS", "-5", "whole number"),
            ("STRESS_BATCH_MAX", "0", "above 0"),
            ("STRESS_DATABASES", "0", "above 0"),
            ("STRESS_MAX_MEMORY_MB", "lots", "above 0"),
            ("STRESS_MAX_CPU_PERCENT", "1.5", "above 0"),
            ("STRESS_MAX_DISK_MB", "", "above 0"),
            ("STRESS_LIMIT_GRACE", "soon", "not a duration"),
            ("STRESS_MAX_ERROR_RATE", "2", "fraction"),
            ("STRESS_OUTPUT_DIR", "", "path"),
        ];
        for (var, value, expect) in cases {
            let err = env(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{var}: {err}");
            assert!(err.contains(expect), "{var}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn inconsistent_values_are_refused() {
        let bad = [
            ConfigLayer {
                users: vec![("writer".into(), 1)],
                ..ConfigLayer::default()
            },
            ConfigLayer {
                users: vec![("inserter".into(), 0), ("reader".into(), 0)],
                ..ConfigLayer::default()
            },
            ConfigLayer {
                think_min_ms: Some(50),
                think_max_ms: Some(10),
                ..ConfigLayer::default()
            },
            ConfigLayer {
                batch_min: Some(500),
                batch_max: Some(10),
                ..ConfigLayer::default()
            },
        ];
        let expect = ["class `writer`", "0 users", "think time", "batch"];
        for (layer, want) in bad.iter().zip(expect) {
            let err = RunConfig::resolve(layer, &classes(), 0, false).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn the_retry_backoff_comes_from_the_variable_the_api_or_the_default() {
        let ms = Duration::from_millis;
        let rc = |l: &ConfigLayer| RunConfig::resolve(l, &classes(), 0, false);
        let default = rc(&ConfigLayer::default()).unwrap();
        assert_eq!(
            (default.retry_backoff_min_us, default.retry_backoff_max_us),
            (1_000, 100_000)
        );
        let e = env(&[("STRESS_RETRY_BACKOFF", "5ms..2s")]).unwrap();
        assert_eq!(e.layer.retry_backoff, Some((ms(5), ms(2_000))));
        let r = rc(&e.layer).unwrap();
        assert_eq!((r.retry_backoff_min_us, r.retry_backoff_max_us), (5_000, 2_000_000));
        let off = rc(&env(&[("STRESS_RETRY_BACKOFF", "0..0")]).unwrap().layer).unwrap();
        assert_eq!((off.retry_backoff_min_us, off.retry_backoff_max_us), (0, 0));
        // A bad value names the variable and what to give, on one line.
        for (bad, want) in [
            ("100ms..1ms", "is an empty range"),
            ("1ms..2h", "waits longer than an hour"),
            ("10..100", "has no unit"),
        ] {
            let err = env(&[("STRESS_RETRY_BACKOFF", bad)]).unwrap_err().to_string();
            assert!(err.contains("STRESS_RETRY_BACKOFF") && err.contains(want), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
        // The API's values go through the same checks when the run resolves.
        for (lo, hi, want) in [
            (ms(5), ms(1), "retry backoff 5ms..1ms is an empty range"),
            (ms(1), ms(3_600_001), "waits longer than an hour"),
            (Duration::ZERO, ms(100), "would never wait"),
        ] {
            let l = ConfigLayer {
                retry_backoff: Some((lo, hi)),
                ..ConfigLayer::default()
            };
            let err = rc(&l).unwrap_err().to_string();
            assert!(err.contains(want) && err.contains("--retry-backoff"), "{err}");
        }
        // A replay.json written before backoff existed replays without it, as it ran.
        let mut json = serde_json::to_value(&default).unwrap();
        let fields = json.as_object_mut().unwrap();
        fields.remove("retry_backoff_min_us");
        fields.remove("retry_backoff_max_us");
        let old: RunConfig = serde_json::from_value(json).unwrap();
        assert_eq!((old.retry_backoff_min_us, old.retry_backoff_max_us), (0, 0));
        assert!(old.validate().is_ok());
    }
}
