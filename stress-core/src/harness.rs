//! The test harness: `stress_core::main()` in a `harness = false` test target runs every
//! registered workload as a libtest trial.
//!
//! - `cargo test` runs each workload as a short smoke run (one user per class, a few ops each)
//!   so that a broken workload fails CI fast; workloads marked `ignore` are skipped.
//! - `cargo test -- --ignored` (or `--include-ignored`) runs the full configured run, with
//!   progress on stderr and its files under `target/stress/<workload>/<run-id>/`.
//! - `STRESS_REPLAY_FILE` replays a recorded run of the workload it names.
//!
//! Workloads run one at a time (`--test-threads` defaults to 1).

use std::fmt::Display;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::time::Duration;

use libtest_mimic::{Arguments, Failed, Trial};

use crate::config::EnvConfig;
use crate::error::ReplayError;
use crate::params::{self, ParamDef};
use crate::protocol::{self, ListedWorkload, Listing, Message, PROTOCOL_VERSION, SETTINGS_VAR, TrialOutcome};
use crate::registry::{self, WorkloadEntry};
use crate::report::{ConsoleProgress, ProgressStyle, ReplayFile, default_base};
use crate::run::Runner;
use crate::verdict::EXIT_USAGE;

/// Runs the registered workloads as libtest trials; return its result from `main`.
///
/// ```no_run
/// // tests/stress.rs, with `[[test]] name = "stress" harness = false` in Cargo.toml
/// use my_workloads as _; // link the crate that registers the workloads
/// fn main() -> std::process::ExitCode {
///     stress_core::main()
/// }
/// # mod my_workloads {}
/// ```
pub fn main() -> ExitCode {
    // A child started to host an engine (SQLite under faults) serves it and never gets here.
    crate::host::serve_engine_host();
    let mut args = Arguments::from_args();
    let entries = registry::entries();
    if entries.is_empty() {
        return refuse(
            None,
            "no workloads registered: is the crate that defines them linked into this binary? \
             (reference it, e.g. `use my_workloads as _;`)",
        );
    }
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    if std::env::var("STRESS_LIST").as_deref() == Ok("json") {
        println!("{}", list_json(&entries));
        return ExitCode::SUCCESS;
    }
    if args.list {
        let trials = entries.iter().map(|e| trial(e, false, None, None)).collect();
        return libtest_mimic::run(&args, trials).exit_code();
    }
    let env = match EnvConfig::from_process_env() {
        Ok(env) => env,
        Err(e) => return refuse(None, e),
    };
    if let Err(e) = check_params(&entries, &env) {
        return refuse(None, e);
    }
    // Asked to profile on a machine where perf cannot sample: said before anything runs.
    if env.layer.profile == Some(true)
        && let Err(e) = crate::profile::check_available()
    {
        eprintln!("error: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    let replay = match env.run.replay_file.as_deref().map(ReplayFile::load) {
        None => None,
        Some(Ok(file)) => Some(file),
        Some(Err(e)) => return refuse(None, e),
    };
    let trials = match &replay {
        Some(file) => {
            let Some(entry) = entries.iter().find(|e| e.name == file.workload) else {
                let available: Vec<&str> = entries.iter().map(|e| e.name).collect();
                let e = ReplayError::UnknownWorkload {
                    path: env.run.replay_file.clone().unwrap_or_default(),
                    workload: file.workload.clone(),
                    available: available.join(", "),
                };
                return refuse(None, e);
            };
            // A replay that does not fit the workload is bad input, refused before libtest
            // runs anything (its own exit code for a failed trial is 101).
            if let Err(e) = runner_for(entry, true, env.clone(), Some(file.clone()))
                .and_then(|(w, runner)| w.check(&runner).map_err(|e| e.to_string()))
            {
                return refuse(Some(entry.name), e);
            }
            // A replay is always the full run, whatever the filter flags say.
            args.ignored = false;
            args.include_ignored = true;
            vec![trial(entry, true, Some(env), Some(file.clone()))]
        }
        None => {
            let full = args.ignored || args.include_ignored;
            entries
                .iter()
                .map(|e| trial(e, full, Some(env.clone()), None).with_ignored_flag(e.options.ignore || args.ignored))
                .collect()
        }
    };
    libtest_mimic::run(&args, trials).exit_code()
}

/// Whether `cargo stress` (or a tool like it) reads this harness through the protocol: its
/// hand-over is set, or progress is asked for as JSON.
fn speaks_protocol() -> bool {
    std::env::var_os(SETTINGS_VAR).is_some() || std::env::var("STRESS_PROGRESS").as_deref() == Ok("json")
}

/// Says why the harness runs nothing, and exits with [`EXIT_USAGE`]: as the outcome on the
/// protocol's channel to `cargo stress`, as an `error:` line to people.
fn refuse(workload: Option<&str>, e: impl Display) -> ExitCode {
    if speaks_protocol() {
        protocol::send(&Message::Outcome(TrialOutcome {
            workload: workload.map(str::to_owned),
            summary: None,
            error: Some(e.to_string()),
        }));
    } else {
        eprintln!("error: {e}");
    }
    ExitCode::from(EXIT_USAGE)
}

fn trial(entry: &'static WorkloadEntry, full: bool, env: Option<EnvConfig>, replay: Option<ReplayFile>) -> Trial {
    Trial::test(entry.name, move || {
        let env = env.unwrap_or_default();
        // The trial's end goes to `cargo stress` on the protocol's channel, whatever it is
        // (libtest's report on stdout is for people).
        let events = env.run.events;
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| run_entry(entry, full, env, replay)));
        let (outcome, result) = match ran {
            Ok((outcome, result)) => (outcome, result),
            Err(panic) => {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_owned());
                if events {
                    protocol::send(&Message::Outcome(TrialOutcome {
                        workload: Some(entry.name.to_owned()),
                        summary: None,
                        error: Some(format!("the harness panicked: {why}")),
                    }));
                }
                std::panic::resume_unwind(panic)
            }
        };
        if events {
            protocol::send(&Message::Outcome(outcome));
        }
        result
    })
}

/// A `STRESS_PARAM_<NAME>` that no workload of this binary declares is a typo: refuse it. One
/// that some declare is given to those only, so that it can be set for a whole test run.
fn check_params(entries: &[&'static WorkloadEntry], env: &EnvConfig) -> Result<(), String> {
    if env.layer.params.is_empty() {
        return Ok(());
    }
    let declared: Vec<ParamDef> = entries.iter().flat_map(|e| (e.build)().params()).collect();
    for (name, _) in &env.layer.params {
        if !declared.iter().any(|d| d.name == *name) {
            let mut names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            return Err(format!(
                "{} names parameter `{name}`, which no workload here declares (declared: {}; users and rate set the load)",
                params::env_var(name),
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            ));
        }
    }
    Ok(())
}

/// The workload of `entry` and the runner that runs it as the trial would.
fn runner_for(
    entry: &WorkloadEntry,
    full: bool,
    mut env: EnvConfig,
    replay: Option<ReplayFile>,
) -> Result<(crate::registry::DynWorkload, Runner), String> {
    let workload = (entry.build)();
    let declared = workload.params();
    env.layer
        .params
        .retain(|(name, _)| declared.iter().any(|d| d.name == *name));
    let replay_path = env.run.replay_file.clone();
    let explicit_out = env.run.output_dir.is_some();
    let style = if env.run.events {
        ProgressStyle::Json
    } else {
        ProgressStyle::from_env()
    };
    // A variable another workload of this binary reads is not a typo in this one's run.
    let others: Vec<&'static str> = registry::entries()
        .iter()
        .filter(|e| e.name != entry.name)
        .flat_map(|e| (e.build)().variables())
        .collect();
    let mut runner = Runner::new(entry.name)
        .known_variables(others)
        .attr(entry.options)
        .smoke(!full)
        .env(EnvConfig {
            run: crate::config::EnvRun {
                replay_file: None,
                ..env.run.clone()
            },
            ..env
        })
        .map_err(|e| e.to_string())?;
    if let (Some(file), Some(path)) = (replay, replay_path) {
        runner = runner.replay(path, file);
    }
    if full {
        if !explicit_out {
            runner = runner.output_under(default_base());
        }
        runner = runner.observer(ConsoleProgress::new(style, Duration::from_secs(5)));
    }
    Ok((workload, runner))
}

/// Runs one workload's trial: its outcome for the protocol, and its result for libtest.
fn run_entry(
    entry: &WorkloadEntry,
    full: bool,
    env: EnvConfig,
    replay: Option<ReplayFile>,
) -> (TrialOutcome, Result<(), Failed>) {
    let mut outcome = TrialOutcome {
        workload: Some(entry.name.to_owned()),
        ..TrialOutcome::default()
    };
    let report =
        match runner_for(entry, full, env, replay).and_then(|(w, runner)| w.run(runner).map_err(|e| e.to_string())) {
            Ok(report) => report,
            Err(e) => {
                outcome.error = Some(e.clone());
                return (outcome, Err(e.into()));
            }
        };
    outcome.summary = Some(Box::new(report.summary.clone()));
    (outcome, verdict(&report))
}

/// A finished run as libtest's result: its failures, one a line, and where its files are.
fn verdict(report: &crate::RunReport) -> Result<(), Failed> {
    if report.passed() {
        return Ok(());
    }
    let lines: Vec<&str> = report.summary.failures.iter().map(|f| f.message.as_str()).collect();
    let mut msg = lines.join("\n");
    if let Some(dir) = &report.out_dir {
        msg.push_str(&format!("\nresults: {}", dir.display()));
    }
    Err(msg.into())
}

/// The registry as JSON, for tools (`STRESS_LIST=json`): the protocol's [`Listing`].
fn list_json(entries: &[&'static WorkloadEntry]) -> String {
    let listing = Listing {
        protocol_version: PROTOCOL_VERSION,
        workloads: entries.iter().map(|e| listed(e)).collect(),
    };
    serde_json::to_string(&listing).expect("a listing serialises")
}

/// The listing of a registered workload.
fn listed(e: &WorkloadEntry) -> ListedWorkload {
    let w = (e.build)();
    let o = &e.options;
    ListedWorkload {
        name: e.name.to_owned(),
        module_path: e.module_path.to_owned(),
        file: e.file.to_owned(),
        line: e.line,
        adapter: w.adapter_name().to_owned(),
        classes: w.classes(),
        params: w.params(),
        ignore: o.ignore,
        options: o.listed(),
    }
}
