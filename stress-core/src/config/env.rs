//! Reading the `STRESS_*` environment into a layer (and where a run's files go), with the
//! value parsers of [`values`](super::values) that the CLI uses too.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigLayer, values};
use crate::error::ConfigError;
use crate::params;
use crate::thresholds::Threshold;
use crate::wire::PROTOCOL_VERSION;

/// The variable that hands a harness what `cargo stress` gives a run: a [`Handover`] in JSON,
/// laid over the `STRESS_*` variables (flags beat the environment). Its values were read by
/// the same parsers as the variables' ([`values`]). Part of the
/// [protocol](crate::protocol).
pub const SETTINGS_VAR: &str = "STRESS_SETTINGS";

/// Where a run's files go and what it replays: read from the environment beside the layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvRun {
    /// `STRESS_OUTPUT_DIR`: the run's output directory, exactly.
    pub output_dir: Option<PathBuf>,
    /// `STRESS_REPLAY_FILE`: a `replay.json` (or the run directory holding it) to replay.
    pub replay_file: Option<PathBuf>,
    /// `STRESS_ORIGIN`: which package and target the harness was built from (set by
    /// `cargo stress`, recorded in `replay.json` so that `cargo stress replay` can rebuild it).
    pub origin: Option<Origin>,
    /// Progress as typed events on stderr (`STRESS_PROGRESS=json`, or `cargo stress`'s
    /// hand-over).
    pub events: bool,
    /// Stop as on Ctrl-C when stdin ends (`STRESS_LIFELINE=stdin`, or the hand-over): the
    /// parent that holds its other end died.
    pub lifeline: bool,
}

/// Everything `cargo stress` hands a harness for one run, in one variable ([`SETTINGS_VAR`], as
/// JSON): its flags as a layer laid over the `STRESS_*` variables, and where the run writes,
/// what it replays, where the harness comes from, and how it talks back. What it sets beats
/// the variables of the same meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Handover {
    /// [`PROTOCOL_VERSION`] of the `cargo stress` that wrote it: a harness refuses another.
    pub protocol_version: u32,
    /// The flags, the seed and the parameters.
    pub settings: ConfigLayer,
    /// The run's output directory, exactly.
    pub output_dir: Option<PathBuf>,
    /// A `replay.json` to replay.
    pub replay_file: Option<PathBuf>,
    /// The package and target of the harness.
    pub origin: Option<Origin>,
    /// Progress as typed events on stderr.
    pub events: bool,
    /// Stop as on Ctrl-C when stdin ends.
    pub lifeline: bool,
}

impl Default for Handover {
    fn default() -> Self {
        Self {
            protocol_version: PROTOCOL_VERSION,
            settings: ConfigLayer::default(),
            output_dir: None,
            replay_file: None,
            origin: None,
            events: false,
            lifeline: false,
        }
    }
}

/// The cargo package and target a harness binary was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The package's name.
    pub package: String,
    /// The target's kind: `test`, `bench` or `example`.
    pub kind: String,
    /// The target's name.
    pub target: String,
    /// The package's `Cargo.toml`.
    pub manifest_path: PathBuf,
}

/// Every variable this crate reads; any other `STRESS_*` is warned about.
pub const KNOWN_VARS: &[&str] = &[
    "STRESS_SEED",
    "STRESS_DURATION",
    "STRESS_OPS_PER_USER",
    "STRESS_USERS",
    "STRESS_THINK_MIN_MS",
    "STRESS_THINK_MAX_MS",
    "STRESS_BATCH_MIN",
    "STRESS_BATCH_MAX",
    "STRESS_DATABASES",
    "STRESS_MAX_MEMORY_MB",
    "STRESS_MAX_CPU_PERCENT",
    "STRESS_MAX_DISK_MB",
    "STRESS_LIMIT_GRACE",
    "STRESS_MAX_ERROR_RATE",
    "STRESS_RATE",
    "STRESS_ARRIVAL",
    "STRESS_STAGES",
    "STRESS_THRESHOLDS",
    "STRESS_ABORT_ON_FAIL",
    "STRESS_MAX_TRIES",
    "STRESS_RETRY_BACKOFF",
    "STRESS_ABORT_ON_ERROR",
    "STRESS_MAX_USERS",
    "STRESS_MAX_DATABASES",
    "STRESS_STUCK_GRACE",
    "STRESS_WARMUP",
    "STRESS_LATENCY_LIMIT",
    "STRESS_OUTPUT_DIR",
    "STRESS_REPLAY_FILE",
    "STRESS_PROGRESS",
    "STRESS_LIST",
    "STRESS_ORIGIN",
    "STRESS_LIFELINE",
    "STRESS_SHARD",
    "STRESS_START_AT",
    "STRESS_SETUP_ONLY",
    "STRESS_VERIFY_ONLY",
    "STRESS_ONLY_USERS",
    "STRESS_FAULTS",
    "STRESS_PROFILE",
    "STRESS_DASHBOARD",
    SETTINGS_VAR,
    // And one per class: users of class `inserter` (overridden by STRESS_USERS).
    "STRESS_<CLASS>_USERS",
    // And one per workload parameter (`users` and `rate` set the load).
    "STRESS_PARAM_<NAME>",
];

/// The result of reading `STRESS_*` variables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvConfig {
    /// The config layer.
    pub layer: ConfigLayer,
    /// Output directory and replay file.
    pub run: EnvRun,
    /// The `STRESS_*` variables the core does not read: an adapter's or a workload's, or typos.
    pub unknown: Vec<String>,
}

impl EnvConfig {
    /// One line for each unknown variable that no adapter or workload declares (`declared`:
    /// what they read), naming what is known.
    pub fn warnings(&self, declared: &[&str]) -> Vec<String> {
        self.unknown
            .iter()
            .filter(|name| !declared.contains(&name.as_str()))
            .map(|name| {
                let mut known: Vec<&str> = KNOWN_VARS.to_vec();
                for d in declared {
                    if !known.contains(d) {
                        known.push(d);
                    }
                }
                format!(
                    "warning: unknown variable {name} is ignored (known: {})",
                    known.join(", ")
                )
            })
            .collect()
    }

    /// Reads this process's environment.
    pub fn from_process_env() -> Result<Self, ConfigError> {
        Self::from_vars(
            std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().unwrap_or_default()))),
        )
    }

    /// Reads the given variables (tests pass their own instead of touching the process's).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut out = Self::default();
        let mut handover: Option<Handover> = None;
        let mut vars: Vec<(String, String)> = vars.into_iter().filter(|(k, _)| k.starts_with("STRESS_")).collect();
        vars.sort();
        for (name, value) in vars {
            let l = &mut out.layer;
            let v = value.trim();
            // The value parsers the CLI uses, with the variable named on error.
            let at = |m: String| ConfigError::env(&name, v, m);
            match name.as_str() {
                "STRESS_SEED" => l.seed = Some(values::seed(v).map_err(at)?),
                "STRESS_DURATION" => l.duration = Some(values::duration(v).map_err(at)?),
                "STRESS_OPS_PER_USER" => l.ops_per_user = Some(values::count(v).map_err(at)?),
                // Sorted, so STRESS_USERS comes after every STRESS_<CLASS>_USERS and wins.
                "STRESS_USERS" => match values::users(v).map_err(at)? {
                    values::UserCounts::Total(n) => l.users_total = Some(n),
                    values::UserCounts::PerClass(pairs) => {
                        for (class, n) in pairs {
                            l.users.retain(|(c, _)| *c != class);
                            l.users.push((class, n));
                        }
                    }
                },
                // Before STRESS_<CLASS>_USERS: STRESS_PARAM_USERS is the parameter `users`.
                _ if name.starts_with(params::ENV_PREFIX) => {
                    let param = name[params::ENV_PREFIX.len()..].to_ascii_lowercase();
                    if param.is_empty() {
                        return Err(ConfigError::env(
                            &name,
                            v,
                            "STRESS_PARAM_ needs a parameter name after it",
                        ));
                    }
                    l.set_param(&param, v)?;
                }
                _ if class_users(&name).is_some() => {
                    let class = class_users(&name).expect("matched above");
                    let n = values::whole(v).map_err(at)?;
                    let n = usize::try_from(n).map_err(|_| ConfigError::env(&name, v, "too many users"))?;
                    l.users.push((class, n));
                }
                "STRESS_THINK_MIN_MS" => l.think_min_ms = Some(values::whole(v).map_err(at)?),
                "STRESS_THINK_MAX_MS" => l.think_max_ms = Some(values::whole(v).map_err(at)?),
                "STRESS_BATCH_MIN" => l.batch_min = Some(values::count(v).map_err(at)?),
                "STRESS_BATCH_MAX" => l.batch_max = Some(values::count(v).map_err(at)?),
                "STRESS_DATABASES" => l.databases = Some(values::count_usize(v).map_err(at)?),
                "STRESS_MAX_MEMORY_MB" => l.max_memory_mb = Some(values::count(v).map_err(at)?),
                "STRESS_MAX_CPU_PERCENT" => l.max_cpu_percent = Some(values::count(v).map_err(at)?),
                "STRESS_MAX_DISK_MB" => l.max_disk_mb = Some(values::count(v).map_err(at)?),
                "STRESS_LIMIT_GRACE" => l.limit_grace = Some(values::duration_or_zero(v).map_err(at)?),
                "STRESS_MAX_ERROR_RATE" => l.max_error_rate = Some(values::fraction(v).map_err(at)?),
                "STRESS_RATE" => l.rate = Some(values::rate(v).map_err(at)?),
                "STRESS_ARRIVAL" => l.arrival = Some(values::arrival(v).map_err(at)?),
                "STRESS_STAGES" => l.stages = Some(values::stages(v).map_err(at)?),
                "STRESS_THRESHOLDS" => {
                    l.thresholds = v
                        .split(';')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(Threshold::parse_rule)
                        .collect::<Result<_, _>>()
                        .map_err(at)?;
                }
                "STRESS_ABORT_ON_FAIL" => l.abort_on_fail = Some(values::switch(v).map_err(at)?),
                "STRESS_PROFILE" => l.profile = Some(values::switch(v).map_err(at)?),
                "STRESS_DASHBOARD" => l.dashboard = Some(super::values::listen_addr(v).map_err(at)?),
                "STRESS_ABORT_ON_ERROR" => l.abort_on_error = Some(values::switch(v).map_err(at)?),
                "STRESS_MAX_TRIES" => l.max_tries = Some(values::tries(v).map_err(at)?),
                "STRESS_RETRY_BACKOFF" => l.retry_backoff = Some(values::backoff(v).map_err(at)?),
                "STRESS_MAX_USERS" => l.max_users = Some(values::count_usize(v).map_err(at)?),
                "STRESS_STUCK_GRACE" => l.stuck_grace = Some(values::duration_or_zero(v).map_err(at)?),
                "STRESS_MAX_DATABASES" => l.max_databases = Some(values::count_usize(v).map_err(at)?),
                "STRESS_WARMUP" => l.warmup = Some(values::duration_or_zero(v).map_err(at)?),
                "STRESS_LATENCY_LIMIT" => l.latency_limit = Some(values::duration(v).map_err(at)?),
                "STRESS_SHARD" => l.shard = Some(super::Shard::parse(v).map_err(at)?),
                "STRESS_START_AT" => l.start_at_ms = Some(values::start_at(v).map_err(at)?),
                "STRESS_SETUP_ONLY" => {
                    if values::switch(v).map_err(at)? {
                        l.step = Some(super::Step::SetupOnly);
                    }
                }
                "STRESS_VERIFY_ONLY" => l.step = Some(super::Step::VerifyOnly(path(&name, v)?)),
                "STRESS_FAULTS" => {
                    l.faults = v
                        .split(';')
                        .map(str::trim)
                        .filter(|f| !f.is_empty())
                        .map(crate::fault::FaultSpec::parse)
                        .collect::<Result<_, _>>()
                        .map_err(at)?;
                }
                "STRESS_ONLY_USERS" => {
                    l.only_users = v
                        .split(',')
                        .map(str::trim)
                        .filter(|u| !u.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if l.only_users.is_empty() {
                        return Err(at("expected user ids like writer-1,reader-0".into()));
                    }
                }
                SETTINGS_VAR => handover = Some(read_handover(v).map_err(at)?),
                "STRESS_OUTPUT_DIR" => out.run.output_dir = Some(path(&name, v)?),
                "STRESS_REPLAY_FILE" => out.run.replay_file = Some(path(&name, v)?),
                "STRESS_ORIGIN" => {
                    out.run.origin = Some(serde_json::from_str(v).map_err(|e| {
                        ConfigError::env(
                            &name,
                            v,
                            format!("expected a JSON object with package, kind, target and manifest_path: {e}"),
                        )
                    })?);
                }
                "STRESS_PROGRESS" if !matches!(v, "off" | "lines" | "json") => {
                    return Err(ConfigError::env(&name, v, "expected off, lines or json"));
                }
                "STRESS_PROGRESS" => out.run.events = v == "json",
                "STRESS_LIFELINE" if v != "stdin" => {
                    return Err(ConfigError::env(&name, v, "expected stdin"));
                }
                "STRESS_LIFELINE" => out.run.lifeline = true,
                "STRESS_LIST" => {}
                // The core's own variables end here; an adapter's or a workload's are theirs to
                // declare (`Adapter::variables`, `Workload::variable`): see `warnings`.
                _ => out.unknown.push(name),
            }
        }
        // cargo stress's hand-over, typed: what it sets beats the variables.
        if let Some(h) = handover {
            out.layer = std::mem::take(&mut out.layer).with(&h.settings);
            out.run.output_dir = h.output_dir.or(out.run.output_dir);
            out.run.replay_file = h.replay_file.or(out.run.replay_file);
            out.run.origin = h.origin.or(out.run.origin);
            out.run.events |= h.events;
            out.run.lifeline |= h.lifeline;
        }
        Ok(out)
    }
}

/// The hand-over in [`SETTINGS_VAR`], its version checked before its shape.
fn read_handover(v: &str) -> Result<Handover, String> {
    let not_ours = |e: &dyn std::fmt::Display| {
        format!(
            "not the hand-over of this protocol ({e}): it is cargo stress's channel to the harness; set the \
             STRESS_* variables instead"
        )
    };
    let json: serde_json::Value = serde_json::from_str(v).map_err(|e| not_ours(&e))?;
    if json.get("protocol_version").is_none() {
        return Err(not_ours(&"it has no protocol_version"));
    }
    crate::wire::check_version(&json).map_err(|e| {
        format!(
            "is the hand-over of a cargo stress that speaks harness protocol {}, this harness speaks \
             {PROTOCOL_VERSION}: build both from the same stress-core release (cargo update -p stress-core, \
             and install cargo-stress of that release)",
            e.theirs
        )
    })?;
    serde_json::from_value(json).map_err(|e| not_ours(&e))
}

/// `inserter` for `STRESS_INSERTER_USERS`.
fn class_users(name: &str) -> Option<String> {
    let class = name.strip_prefix("STRESS_")?.strip_suffix("_USERS")?;
    // STRESS_MAX_USERS is the bound on users, not the class `max` (STRESS_USERS=max=N sets that).
    (!class.is_empty() && !class.starts_with("PARAM_") && class != "MAX").then(|| class.to_ascii_lowercase())
}

fn path(name: &str, v: &str) -> Result<PathBuf, ConfigError> {
    if v.is_empty() {
        return Err(ConfigError::env(name, v, "expected a path"));
    }
    Ok(PathBuf::from(v))
}
