//! What the commands share: finding and building the workloads, running one, the tables.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use stress_core::report::human_us;
use stress_core::{ConfigLayer, ReplayFile, Summary};

use crate::cli::{BuildArgs, Selection, Settings};
use crate::discover;
use crate::error::{CliError, usage};
use crate::harness::{self, Ran, Workload};
use crate::status::Status;

/// Metadata, candidates, build, and the workloads the binaries register.
pub(crate) fn workloads(sel: &Selection) -> Result<(cargo_metadata::Metadata, Vec<Workload>), CliError> {
    let meta = discover::metadata(sel.manifest_path.as_deref())?;
    let candidates = discover::candidates(&meta, sel)?;
    if candidates.is_empty() {
        return Err(usage(
            "no stress harness found: give a package that depends on stress-core a `[[test]]` with \
             `harness = false` whose main returns `stress_core::main()` (or pick packages with -p/--workspace)",
        ));
    }
    let built = discover::build(&candidates, &sel.build)?;
    Ok((meta, harness::list(&built)?))
}

/// Rebuilds the harness a recorded run (`file`, read from `replay_json`) came from and finds
/// its workload in it: for `replay` and `shrink`.
pub(crate) fn rebuild(
    file: &ReplayFile,
    replay_json: &Path,
    build: &BuildArgs,
) -> Result<(cargo_metadata::Metadata, Workload), CliError> {
    let origin = file.origin.clone().ok_or_else(|| {
        usage(format!(
            "{} was not recorded by cargo stress (it names no package and target): replay it with \
             STRESS_REPLAY_FILE={} and the harness that wrote it",
            replay_json.display(),
            replay_json.display()
        ))
    })?;
    let sel = Selection {
        manifest_path: Some(origin.manifest_path.clone()),
        packages: vec![origin.package.clone()],
        workspace: false,
        build: build.clone(),
    };
    let meta = discover::metadata(Some(&origin.manifest_path))?;
    let wanted = discover::Candidate {
        package: origin.package.clone(),
        manifest_path: origin.manifest_path.clone(),
        kind: origin.kind.clone(),
        target: origin.target.clone(),
    };
    if !discover::candidates(&meta, &sel)?.contains(&wanted) {
        return Err(usage(format!(
            "package `{}` has no stress harness {} `{}` any more: the run cannot be rebuilt",
            origin.package, origin.kind, origin.target
        )));
    }
    let built = discover::build(std::slice::from_ref(&wanted), &sel.build)?;
    let all = harness::list(&built)?;
    match all.iter().position(|w| w.name == file.workload) {
        Some(i) => Ok((meta, all.into_iter().nth(i).expect("found"))),
        None => {
            let names: Vec<&str> = all.iter().map(|w| w.name.as_str()).collect();
            Err(usage(format!(
                "workload `{}` no longer exists in {} `{}` (it has: {})",
                file.workload,
                origin.kind,
                origin.target,
                names.join(", ")
            )))
        }
    }
}

/// The parameters a workload declares, as its harness lists them.
pub(crate) fn declared(w: &Workload) -> Vec<stress_core::ParamDef> {
    w.info.params.clone()
}

pub(crate) fn print_table<H: AsRef<str>, R: AsRef<[String]>>(header: &[H], rows: &[R]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.as_ref().chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r.as_ref()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let s: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(header.iter().map(AsRef::as_ref).collect());
    for r in rows {
        line(r.as_ref().iter().map(String::as_str).collect());
    }
}

pub(crate) fn interrupt_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    // Ctrl-C, SIGTERM and SIGHUP are passed on to the harness (in a process group of its own),
    // which writes its reports; we wait for it, show what it measured, and run nothing more.
    let _ = ctrlc::set_handler(move || {
        f.store(true, Ordering::SeqCst);
        harness::forward_interrupt();
    });
    flag
}

pub(crate) fn seed_for(args: &Settings) -> Result<u64, CliError> {
    if let Some(s) = args.seed {
        return Ok(s);
    }
    match std::env::var("STRESS_SEED") {
        Ok(v) => stress_core::config::values::seed(&v).map_err(|m| usage(format!("STRESS_SEED=`{v}` is invalid: {m}"))),
        Err(_) => Ok(stress_core::seed::random_seed()),
    }
}

pub(crate) fn refuse_existing(dir: &Path) -> Result<(), CliError> {
    for f in ["summary.json", "replay.json"] {
        if dir.join(f).exists() {
            return Err(usage(format!(
                "{} already holds a run ({f}): choose another --out or remove it",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// ` (SIGKILL)` for the signals a harness is usually killed by.
fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => " (SIGHUP)",
        2 => " (SIGINT)",
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

/// Runs one workload and turns "nothing ran" into a usage error.
pub(crate) fn run_one(
    w: &Workload,
    settings: &ConfigLayer,
    replay: Option<&Path>,
    out: &Path,
    status: &mut Status,
) -> Result<Ran, CliError> {
    refuse_existing(out)?;
    let ran = harness::run(w, settings, replay, out, status, None)?;
    if ran.summary.is_none() {
        let _ = std::fs::remove_dir(out); // only if empty: never a directory with results in it
        if let Some(sig) = ran.signal {
            // It started (or was starting) and something killed it: a failure, not bad input.
            return Err(CliError::Failed(format!(
                "the harness of `{}` was killed by signal {sig}{} before it wrote its reports",
                w.name,
                signal_name(sig)
            )));
        }
        return Err(usage(format!("workload `{}` did not start: {}", w.name, ran.why_not())));
    }
    Ok(ran)
}

/// The compact table at the end of `run`, with the failures and the artifacts.
pub(crate) fn report(done: &[(&Workload, PathBuf, Summary)]) {
    let rows: Vec<[String; 9]> = done
        .iter()
        .map(|(w, _, s)| {
            [
                w.name.clone(),
                format!("{:?}", s.stop_reason),
                format!("{:.1}s", s.duration_s),
                s.total_ops.to_string(),
                format!("{:.0}", s.ops_per_sec),
                human_us(s.latency_us.p50),
                human_us(s.latency_us.p99),
                s.failed_ops.to_string(),
                if s.passed { "PASS" } else { "FAIL" }.to_owned(),
            ]
        })
        .collect();
    print_table(
        &[
            "WORKLOAD", "STOP", "TIME", "OPS", "OPS/S", "P50", "P99", "ERRORS", "RESULT",
        ],
        &rows,
    );
    for (w, dir, s) in done {
        for c in s.checks.iter().filter(|c| c.passed) {
            println!("{}: {}", w.name, c.headline);
        }
        for f in &s.failures {
            println!("{}: {f}", w.name);
        }
        if s.retried_ops > 0 {
            println!(
                "{}: {} ops retried ({} retries in all), {} failed for good",
                w.name, s.retried_ops, s.retries, s.exhausted_ops
            );
        }
        for warning in &s.warnings {
            println!("{}: warning: {warning}", w.name);
        }
        println!("{}: {}", w.name, dir.display());
    }
}
