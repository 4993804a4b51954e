//! `cargo stress run`.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use stress_core::Summary;
use stress_core::compare::RunData;
use stress_core::report::{fresh_run_dir, mark_latest};

use crate::cli::RunArgs;
use crate::discover;
use crate::error::{CliError, usage};
use crate::harness::Workload;
use crate::shared::{declared, interrupt_flag, report, run_one, seed_for, workloads};
use crate::status::Status;

fn matches(w: &Workload, filters: &[String], exact: bool) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| {
            if exact {
                w.name == *f
            } else {
                w.name.contains(f.as_str())
            }
        })
}

pub(crate) fn run(args: &RunArgs) -> Result<(), CliError> {
    let interrupted = interrupt_flag();
    args.settings.check()?;
    if let Some(p) = args.settings.params.iter().find(|p| p.varies()) {
        return Err(usage(format!(
            "run takes one value per parameter (`{p}` has {}): vary it with cargo stress sweep or cargo stress matrix",
            p.values.len()
        )));
    }
    if let Some(path) = &args.junit {
        crate::junit::check_path(path)?;
    }
    if let Some(path) = &args.summary_md {
        crate::summary_md::check_path(path)?;
    }
    let seed = seed_for(&args.settings)?;
    let (meta, all) = workloads(&args.selection)?;
    let selected: Vec<&Workload> = all.iter().filter(|w| matches(w, &args.filters, args.exact)).collect();
    if selected.is_empty() {
        let names: Vec<&str> = all.iter().map(|w| w.name.as_str()).collect();
        return Err(usage(format!(
            "no workload matches {}: the workloads are {}{}",
            args.filters.join(", "),
            names.join(", "),
            discover::elsewhere(&meta, &args.selection)
        )));
    }
    // A baseline that is not there is refused before anything runs.
    let mut baselines = Vec::new();
    if let Some(dir) = &args.baseline {
        for w in &selected {
            let path = super::compare::baseline_for(dir, &w.name)?;
            let base = RunData::load(&path).map_err(usage)?;
            if base.summary.workload != w.name {
                return Err(usage(format!(
                    "--baseline {} is a run of `{}`, not of `{}`: give a run of the same workload",
                    base.dir.display(),
                    base.summary.workload,
                    w.name
                )));
            }
            baselines.push(base);
        }
    }
    for w in &selected {
        let defs = declared(w);
        for p in &args.settings.params {
            stress_core::params::check_value(&defs, &p.name, &p.values[0])
                .map_err(|e| usage(format!("workload `{}`: {e}", w.name)))?;
        }
    }
    let mut layer = args.settings.to_layer(seed);
    layer.shard = args.shard;
    layer.start_at_ms = args.start_at;
    layer.dashboard = args.dashboard;
    if args.setup_only || args.verify_only.is_some() {
        return step(args, &selected, layer);
    }
    for p in &args.settings.params {
        layer
            .set_param(&p.name, &p.values[0])
            .map_err(|e| usage(e.to_string()))?;
    }
    let base = meta.target_directory.join("stress").into_std_path_buf();
    let mut status = Status::new(5.0);
    let mut done: Vec<(&Workload, PathBuf, Summary)> = Vec::new();
    for w in &selected {
        if interrupted.load(Ordering::SeqCst) {
            break;
        }
        let out = match &args.out {
            Some(d) if selected.len() == 1 => d.clone(),
            Some(d) => d.join(&w.name),
            None => fresh_run_dir(&base, &w.name, seed),
        };
        let ran = match run_one(w, &layer, None, &out, &mut status) {
            Ok(ran) => ran,
            Err(e) => {
                // What ran before is reported all the same.
                ci_reports(args, &done, &[])?;
                return Err(e);
            }
        };
        if args.out.is_none() {
            mark_latest(&out);
        }
        done.push((w, out, ran.summary.expect("checked by run_one")));
    }
    report(&done);
    let mut regressed = Vec::new();
    let mut compared = Vec::new();
    for (base, (_, out, _)) in baselines.iter().zip(&done) {
        let new = RunData::load(out).map_err(CliError::Failed)?;
        let c = super::compare::judge(base, &new, args.gate.options())?;
        if let Err(e) = super::compare::verdict(&c) {
            regressed.push(e.to_string());
        }
        compared.push(Some(c));
    }
    ci_reports(args, &done, &compared)?;
    let failed: Vec<&str> = done
        .iter()
        .filter(|(_, _, s)| !s.passed)
        .map(|(w, _, _)| w.name.as_str())
        .collect();
    if !failed.is_empty() {
        let msg = format!(
            "{} of {} workloads failed: {}",
            failed.len(),
            done.len(),
            failed.join(", ")
        );
        let code = stress_core::verdict::exit_code(done.iter().flat_map(|(_, _, s)| &s.failures));
        return Err(CliError::from_exit_code(code, msg));
    }
    if interrupted.load(Ordering::SeqCst) || done.len() < selected.len() {
        return Err(CliError::Failed("interrupted".into()));
    }
    if !regressed.is_empty() {
        return Err(CliError::Regressed(regressed.join("; ")));
    }
    Ok(())
}

/// The reports for CI the flags ask for: JUnit XML (with the comparisons to the baseline), a
/// markdown summary.
fn ci_reports(
    args: &RunArgs,
    done: &[(&Workload, PathBuf, Summary)],
    compared: &[Option<stress_core::compare::Comparison>],
) -> Result<(), CliError> {
    if let Some(path) = &args.junit {
        crate::junit::write(path, done, compared)?;
        println!("junit: {}", path.display());
    }
    if let Some(path) = &args.summary_md {
        crate::summary_md::write(path, done)?;
        println!("summary: {}", path.display());
    }
    Ok(())
}

/// `--setup-only` and `--verify-only DIR`: one step of a sharded run on a shared engine, of
/// one workload, which writes no run directory of its own.
fn step(args: &RunArgs, selected: &[&Workload], mut layer: stress_core::ConfigLayer) -> Result<(), CliError> {
    use stress_core::shard::Step;
    let [w] = selected else {
        let names: Vec<&str> = selected.iter().map(|w| w.name.as_str()).collect();
        return Err(usage(format!(
            "a setup-only or verify-only step is of one workload, and {} match: {} (name one, with --exact)",
            names.len(),
            names.join(", ")
        )));
    };
    let step = match &args.verify_only {
        Some(dir) => {
            let s = Summary::load(&dir.join("summary.json")).map_err(usage)?;
            if s.workload != w.name {
                return Err(usage(format!(
                    "--verify-only {} is a run of `{}`, not of `{}`",
                    dir.display(),
                    s.workload,
                    w.name
                )));
            }
            Step::VerifyOnly(dir.canonicalize().unwrap_or_else(|_| dir.clone()))
        }
        None => Step::SetupOnly,
    };
    layer.step = Some(step.clone());
    // The harness writes no run directory: it hands its verdict over on stderr.
    let nowhere = std::env::temp_dir().join(format!("cargo-stress-step-{}", std::process::id()));
    let mut status = Status::new(5.0);
    let ran = crate::harness::run(w, &layer, None, &nowhere, &mut status, None)?;
    let Some(s) = ran.summary else {
        let why = ran.why_not();
        return Err(usage(format!("workload `{}`: the step did not run: {why}", w.name)));
    };
    match &step {
        Step::VerifyOnly(dir) if s.verify.ran => println!(
            "verify of {}: {}{}",
            dir.display(),
            if s.verify.passed { "passed" } else { "FAILED" },
            s.verify.errors.iter().map(|e| format!("\n  {e}")).collect::<String>()
        ),
        Step::SetupOnly if s.passed => println!("setup of `{}`: done", w.name),
        _ => {}
    }
    for f in &s.failures {
        println!("{}: {f}", w.name);
    }
    if s.passed {
        Ok(())
    } else {
        Err(CliError::from_exit_code(
            s.exit_code(),
            format!("workload `{}` failed", w.name),
        ))
    }
}
