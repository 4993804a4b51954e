//! The subcommands.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use stress_core::report::{fresh_run_dir, human_us, mark_latest};
use stress_core::{ReplayFile, Summary};

use crate::cli::{self, BuildArgs, Cli, Command, Format, ListArgs, ReplayArgs, RunArgs, Selection, Settings};
use crate::discover::{self, Candidate};
use crate::error::{CliError, usage};
use crate::harness::{self, Ran, Workload};
use crate::status::Status;

pub(crate) fn dispatch(cli: Cli, command_line: &str) -> Result<(), CliError> {
    match cli.command {
        Command::List(a) => list(&a),
        Command::Run(a) => run(&a),
        Command::Replay(a) => replay(&a),
        Command::Sweep(a) => crate::sweep::sweep(&a, stress_core::sweep::Kind::Sweep, command_line),
        Command::Matrix(a) => crate::sweep::sweep(&a, stress_core::sweep::Kind::Matrix, command_line),
    }
}

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

fn list(args: &ListArgs) -> Result<(), CliError> {
    let (_, all) = workloads(&args.selection)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&all).expect("serialisable")),
        Format::Human => {
            let rows: Vec<[String; 5]> = all
                .iter()
                .map(|w| {
                    let o = &w.info.options;
                    // Without a duration, an op limit runs until the ops are done.
                    let duration = match (o.duration_ms, o.ops_per_user) {
                        (Some(ms), _) => format!("{}s", ms as f64 / 1000.0),
                        (None, Some(n)) => format!("{n} ops/user"),
                        (None, None) => "10s (default)".to_owned(),
                    };
                    // The code's user counts, with the attribute's laid over them.
                    let attr = o.users.as_deref().unwrap_or_default();
                    let users: Vec<String> = w
                        .info
                        .classes
                        .iter()
                        .map(|(class, n)| {
                            let n = attr.iter().find(|(c, _)| c == class).map_or(n, |(_, n)| n);
                            format!("{class}={n}")
                        })
                        .collect();
                    let ignore = if w.info.ignore { ", ignored by cargo test" } else { "" };
                    let params: Vec<String> = declared(w)
                        .iter()
                        .map(|p| format!("{}={}", p.name, p.default))
                        .collect();
                    let params = if params.is_empty() {
                        String::new()
                    } else {
                        format!(", params {}", params.join(","))
                    };
                    [
                        w.name.clone(),
                        w.package.clone(),
                        format!("{} {}", w.kind, w.target),
                        w.info.adapter.clone(),
                        format!("{duration}, users {}{params}{ignore}", users.join(",")),
                    ]
                })
                .collect();
            print_table(&["WORKLOAD", "PACKAGE", "TARGET", "ADAPTER", "DEFAULTS"], &rows);
        }
    }
    Ok(())
}

/// The parameters a workload declares, as its harness lists them.
pub(crate) fn declared(w: &Workload) -> Vec<stress_core::ParamDef> {
    w.info.params.clone()
}

pub(crate) fn print_table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let s: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
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

fn refuse_existing(dir: &Path) -> Result<(), CliError> {
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

pub(crate) fn seed_for(args: &Settings) -> Result<u64, CliError> {
    if let Some(s) = args.seed {
        return Ok(s);
    }
    match std::env::var("STRESS_SEED") {
        Ok(v) => stress_core::config::values::seed(&v).map_err(|m| usage(format!("STRESS_SEED=`{v}` is invalid: {m}"))),
        Err(_) => Ok(stress_core::seed::random_seed()),
    }
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
fn run_one(w: &Workload, env: &[(String, String)], out: &Path, status: &mut Status) -> Result<Ran, CliError> {
    refuse_existing(out)?;
    let ran = harness::run(w, env, out, status, None)?;
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
        let why = harness::failure_message(&ran.stdout);
        return Err(usage(if why.is_empty() {
            format!("workload `{}` did not start (harness exit code {:?})", w.name, ran.code)
        } else {
            format!("workload `{}` did not start: {why}", w.name)
        }));
    }
    Ok(ran)
}

fn run(args: &RunArgs) -> Result<(), CliError> {
    let interrupted = interrupt_flag();
    if let Some(p) = args.settings.params.iter().find(|p| p.varies()) {
        return Err(usage(format!(
            "run takes one value per parameter (`{p}` has {}): vary it with cargo stress sweep or cargo stress matrix",
            p.values.len()
        )));
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
    for w in &selected {
        let defs = declared(w);
        for p in &args.settings.params {
            stress_core::params::check_value(&defs, &p.name, &p.values[0])
                .map_err(|e| usage(format!("workload `{}`: {e}", w.name)))?;
        }
    }
    let mut layer = args.settings.to_layer(seed);
    for p in &args.settings.params {
        layer
            .set_param(&p.name, &p.values[0])
            .map_err(|e| usage(e.to_string()))?;
    }
    let env = vec![cli::settings_env(&layer)];
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
        let ran = run_one(w, &env, &out, &mut status)?;
        if args.out.is_none() {
            mark_latest(&out);
        }
        done.push((w, out, ran.summary.expect("checked by run_one")));
    }
    report(&done);
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
    Ok(())
}

/// The compact table at the end of `run`, with the failures and the artifacts.
fn report(done: &[(&Workload, PathBuf, Summary)]) {
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
        for t in s.thresholds.iter().filter(|t| t.passed) {
            println!("{}: {t}", w.name);
        }
        for f in &s.failures {
            println!("{}: {f}", w.name);
        }
        if s.retried_ops > 0 {
            println!(
                "{}: {} ops retried ({} retries in all), {} failed for good",
                w.name, s.retried_ops, s.retries, s.failed_ops
            );
        }
        for warning in &s.warnings {
            println!("{}: warning: {warning}", w.name);
        }
        println!("{}: {}", w.name, dir.display());
    }
}

fn replay(args: &ReplayArgs) -> Result<(), CliError> {
    let interrupted = interrupt_flag();
    let file = ReplayFile::load(&args.path).map_err(|e| usage(e.to_string()))?;
    let replay_json = if args.path.is_dir() {
        args.path.join("replay.json")
    } else {
        args.path.clone()
    };
    let original_dir = replay_json.parent().unwrap_or(Path::new(".")).to_owned();
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
        build: BuildArgs {
            profile: args.build.profile.clone(),
            debug: args.build.debug,
        },
    };
    let meta = discover::metadata(Some(&origin.manifest_path))?;
    let wanted = Candidate {
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
    let Some(w) = all.iter().find(|w| w.name == file.workload) else {
        let names: Vec<&str> = all.iter().map(|w| w.name.as_str()).collect();
        return Err(usage(format!(
            "workload `{}` no longer exists in {} `{}` (it has: {})",
            file.workload,
            origin.kind,
            origin.target,
            names.join(", ")
        )));
    };
    let out = match &args.out {
        Some(d) => d.clone(),
        None => fresh_run_dir(
            &meta.target_directory.join("stress").into_std_path_buf(),
            &w.name,
            file.seed,
        ),
    };
    let env = vec![("STRESS_REPLAY_FILE".to_owned(), replay_json.display().to_string())];
    let mut status = Status::new(5.0);
    let ran = run_one(w, &env, &out, &mut status)?;
    let summary = ran.summary.expect("checked by run_one");
    report(&[(w, out, summary.clone())]);
    let original = Summary::load(&original_dir.join("summary.json")).ok();
    let diverged = match &original {
        Some(o) => compare_digests(o, &summary),
        None => {
            println!("no summary.json beside the replay file: nothing to compare digests with");
            0
        }
    };
    if diverged > 0 && file.config.ops_per_user.is_some() {
        return Err(CliError::Failed(format!(
            "replay diverged: {diverged} of {} users ran other ops or arguments than recorded",
            summary.users.len()
        )));
    }
    if !summary.passed {
        return Err(CliError::Failed(format!("workload `{}` failed", w.name)));
    }
    if interrupted.load(Ordering::SeqCst) {
        return Err(CliError::Failed("interrupted".into()));
    }
    Ok(())
}

/// Prints each user's digest beside the original's; returns how many differ.
fn compare_digests(original: &Summary, replay: &Summary) -> usize {
    let mut differ = 0;
    let rows: Vec<[String; 4]> = original
        .users
        .iter()
        .map(|u| {
            let r = replay.users.iter().find(|r| r.id == u.id);
            let verdict = match r {
                Some(r) if r.op_digest == u.op_digest => "match",
                _ => {
                    differ += 1;
                    "DIFFERS"
                }
            };
            [
                u.id.clone(),
                u.op_digest.clone(),
                r.map_or("-".into(), |r| r.op_digest.clone()),
                verdict.to_owned(),
            ]
        })
        .collect();
    print_table(&["USER", "ORIGINAL", "REPLAY", "DIGEST"], &rows);
    println!(
        "op_digest: {} of {} users match",
        original.users.len() - differ,
        original.users.len()
    );
    differ
}
