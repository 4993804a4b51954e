//! `cargo stress sweep` and `cargo stress matrix`: one workload run once per value (per cell),
//! each run a separate harness process writing into its own sub-directory, compared in
//! `sweep.csv`/`sweep.md` or `matrix.csv`/`matrix.md` (stress-core's `sweep` module).

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use stress_core::ReplayFile;
use stress_core::params::{self, ParamDef};
use stress_core::report::fresh_run_dir;
use stress_core::sweep::{self, Iteration, Kind, Plan, SweepReport};

use crate::cli::SweepArgs;
use crate::error::{CliError, usage};
use crate::harness::{self, Workload};
use crate::shared::{declared, interrupt_flag, print_table, seed_for, workloads};
use crate::status::Status;

pub(crate) fn sweep(args: &SweepArgs, kind: Kind, command_line: &str) -> Result<(), CliError> {
    args.settings.check()?;
    let interrupted = interrupt_flag();
    let plan = check_plan(args, kind)?;
    let seed = seed_for(&args.settings)?;
    let (meta, all) = workloads(&args.selection)?;
    let Some(w) = all.iter().find(|w| w.name == args.workload) else {
        let names: Vec<&str> = all.iter().map(|w| w.name.as_str()).collect();
        return Err(usage(format!(
            "no workload is named `{}`: the workloads are {}{}",
            args.workload,
            names.join(", "),
            crate::discover::elsewhere(&meta, &args.selection)
        )));
    };
    let defs = declared(w);
    for p in plan.axes.iter().chain(&plan.fixed) {
        for v in &p.values {
            params::check_value(&defs, &p.name, v).map_err(|e| usage(format!("workload `{}`: {e}", w.name)))?;
        }
    }
    let (out, created) = output_dir(
        args,
        kind,
        &meta.target_directory.join("stress").into_std_path_buf(),
        w,
        seed,
    )?;

    let mut report = SweepReport::new(kind, &w.name, plan);
    report.keep_going = args.keep_going || kind == Kind::Matrix;
    report.efficiency = args.efficiency;
    report.about = about(args, w, &defs, seed, command_line);
    let mut base = args.settings.to_layer(seed);
    for p in &report.plan.fixed {
        base.set_param(&p.name, &p.values[0])
            .map_err(|e| usage(e.to_string()))?;
    }
    let total = report.plan.cell_count();
    let limit = args
        .iteration_timeout
        .or_else(|| args.settings.duration.map(|d| d * 2 + Duration::from_secs(120)));
    let mut status = Status::new(5.0);
    let not_started: Cell<Option<String>> = Cell::new(None);
    let started: Cell<Option<String>> = Cell::new(None);
    let index = Cell::new(0usize);
    let stop = || interrupted.load(Ordering::SeqCst) || index.get() == usize::MAX;
    let result = sweep::drive(&mut report, &out, &stop, |cell, dir| {
        index.set(index.get() + 1);
        let i = index.get();
        let label: Vec<String> = cell.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let head = format!(
            "{} {}: {} {i}/{total} {}",
            kind.stem(),
            w.name,
            kind.item(),
            label.join(" ")
        );
        status.println(&head);
        let mut layer = base.clone();
        for (k, v) in cell {
            layer.set_param(k, v).map_err(|e| e.to_string())?;
        }
        let ran = harness::run(w, &layer, None, dir, &mut status, limit).map_err(|e| e.to_string())?;
        if ran.timed_out {
            let why = format!(
                "still running after {}: stopped (--iteration-timeout){}",
                stress_core::report::human_us(limit.unwrap_or_default().as_micros() as u64),
                if ran.summary.is_none() {
                    "; it wrote no summary"
                } else {
                    ""
                }
            );
            status.println(&format!("{head}: timeout: {why}"));
            return Ok(sweep::CellEnd::TimedOut(why));
        }
        let Some(summary) = ran.summary else {
            let why = ran.why_not();
            let _ = std::fs::remove_dir(dir); // only if empty
            if i == 1 {
                // Nothing has run: the settings are wrong, not the system under test.
                not_started.set(Some(why.clone()));
                index.set(usize::MAX);
            }
            return Err(why);
        };
        if i == 1 {
            started.set(Some(summary.started_at.clone()));
        }
        // The summary the harness run read (or was handed on a full disk), not read again.
        let config = ReplayFile::load(&dir.join("replay.json")).ok().map(|r| r.config);
        let name = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let it = Iteration::from_summary(i, cell.to_vec(), name, &summary, config.as_ref());
        status.println(&format!("{head}: {}", outcome(&it)));
        Ok(sweep::CellEnd::Finished(Some(Box::new(it))))
    });
    if let Some(why) = not_started.take() {
        discard(&out, created, kind);
        return Err(usage(format!("workload `{}` did not start: {why}", w.name)));
    }
    result.map_err(|e| {
        CliError::Failed(format!(
            "cannot write the {} report in {}: {e}",
            kind.stem(),
            out.display()
        ))
    })?;
    add_resolved(&mut report, &out, started.take());
    report.write(&out).map_err(|e| {
        CliError::Failed(format!(
            "cannot write the {} report in {}: {e}",
            kind.stem(),
            out.display()
        ))
    })?;
    print_result(&report, &out);
    verdict(&report, interrupted.load(Ordering::SeqCst))
}

/// The plan, refused when it does not suit the command or contradicts a flag.
fn check_plan(args: &SweepArgs, kind: Kind) -> Result<Plan, CliError> {
    let plan = Plan::new(args.settings.params.clone()).map_err(usage)?;
    let varying: Vec<String> = plan.axes.iter().map(|a| a.name.clone()).collect();
    match (kind, varying.len()) {
        (Kind::Sweep, 1) => {}
        (Kind::Sweep, 0) => {
            return Err(usage(
                "a sweep needs one parameter with several values, like --param epochs=10000..1000000:10000",
            ));
        }
        (Kind::Sweep, _) => {
            return Err(usage(format!(
                "a sweep varies one parameter, and {} vary: use cargo stress matrix for a product",
                varying.join(", ")
            )));
        }
        (Kind::Matrix, 0) => {
            return Err(usage(
                "a matrix needs parameters with several values, like --param rows=10k,100k --param dist=uniform,zipfian",
            ));
        }
        (Kind::Matrix, _) => {}
    }
    let s = &args.settings;
    let given = |name: &str| plan.axes.iter().chain(&plan.fixed).any(|p| p.name == name);
    if given("users") && (s.users.is_some() || s.stages.is_some()) {
        return Err(usage("--param users sets the users: leave out --users and --stages"));
    }
    if given("rate") && s.rate.is_some() {
        return Err(usage("--param rate sets the rate: leave out --rate"));
    }
    Ok(plan)
}

/// The sweep's directory: `--out` (new or empty), else a fresh
/// `target/stress/<workload>/<sweep|matrix>-<stamp>-s<seed>/`. Returns whether it was created.
fn output_dir(args: &SweepArgs, kind: Kind, base: &Path, w: &Workload, seed: u64) -> Result<(PathBuf, bool), CliError> {
    let dir = match &args.out {
        Some(d) => {
            let busy = std::fs::read_dir(d).is_ok_and(|mut e| e.next().is_some());
            if busy {
                return Err(usage(format!(
                    "{} is not empty: give --out a new or empty directory",
                    d.display()
                )));
            }
            d.clone()
        }
        None => {
            let run = fresh_run_dir(base, &w.name, seed);
            let name = run
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let parent = run.parent().unwrap_or(base).to_owned();
            (0..)
                .map(|n| match n {
                    0 => parent.join(format!("{}-{name}", kind.stem())),
                    n => parent.join(format!("{}-{name}-{n}", kind.stem())),
                })
                .find(|d| !d.exists())
                .expect("an unused name")
        }
    };
    let created = !dir.exists();
    std::fs::create_dir_all(&dir).map_err(|e| usage(format!("{} cannot be created: {e}", dir.display())))?;
    Ok((dir, created))
}

/// Removes what a sweep that could not start wrote.
fn discard(out: &Path, created: bool, kind: Kind) {
    if created {
        let _ = std::fs::remove_dir_all(out);
    } else {
        for ext in ["csv", "md"] {
            let _ = std::fs::remove_file(out.join(format!("{}.{ext}", kind.stem())));
        }
    }
}

/// The configuration section's first lines.
fn about(args: &SweepArgs, w: &Workload, defs: &[ParamDef], seed: u64, command_line: &str) -> Vec<(String, String)> {
    let profile = match (&args.selection.build.profile, args.selection.build.debug) {
        (Some(p), _) => p.clone(),
        (None, true) => "dev (--debug)".into(),
        (None, false) => "release".into(),
    };
    let defaults: Vec<String> = defs
        .iter()
        .map(|d| format!("{}={} ({})", d.name, d.default, d.takes()))
        .collect();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    vec![
        (
            "workload".into(),
            format!(
                "{} (package {}, {} `{}`, adapter {})",
                w.name,
                w.package,
                w.kind,
                w.target,
                w.info.adapter.as_str()
            ),
        ),
        ("command".into(), format!("`{command_line}`")),
        ("seed".into(), format!("{seed} (the same for every iteration)")),
        ("build profile".into(), profile),
        (
            "parameters (defaults)".into(),
            if defaults.is_empty() {
                "none".into()
            } else {
                defaults.join(", ")
            },
        ),
        ("machine".into(), format!("{cores} cores")),
    ]
}

/// What iteration 1 resolved (users, duration, op limit, thresholds), from its replay.json.
fn add_resolved(report: &mut SweepReport, out: &Path, started: Option<String>) {
    let Some(first) = report.iterations.first() else { return };
    let dir = out.join(&first.dir);
    if let Some(at) = started {
        report.about.push(("started".into(), at));
    }
    let Ok(r) = ReplayFile::load(&dir.join("replay.json")) else {
        return;
    };
    let c = &r.config;
    let users: Vec<String> = c.users.iter().map(|(k, n)| format!("{k}={n}")).collect();
    let mut lines = vec![
        ("users (first iteration)".to_owned(), users.join(", ")),
        (
            "length".to_owned(),
            match (c.duration_ms, c.ops_per_user) {
                (Some(d), Some(n)) => format!("{n} ops per user, at most {}s", d as f64 / 1000.0),
                (Some(d), None) => format!("{}s", d as f64 / 1000.0),
                (None, Some(n)) => format!("{n} ops per user"),
                (None, None) => "unbounded".to_owned(),
            },
        ),
        ("max error rate".to_owned(), c.max_error_rate.to_string()),
    ];
    if !c.thresholds.is_empty() {
        lines.push((
            "thresholds".into(),
            format!(
                "`{}`",
                c.thresholds.iter().map(|t| t.rule()).collect::<Vec<_>>().join("`, `")
            ),
        ));
    }
    if let Some(rate) = c.rate {
        lines.push(("rate (first iteration)".into(), format!("{rate} ops/s")));
    }
    report.about.extend(lines);
}

/// `OK  52.1 ops/s  p99 80.2ms`, or the reason it did not hold.
fn outcome(it: &Iteration) -> String {
    let m = &it.metrics;
    let figures = format!(
        "{:.1} ops/s  p99 {}",
        m.ops_per_sec,
        stress_core::report::human_us(m.latency_us.p99)
    );
    if it.status.is_ok() {
        format!("OK  {figures}")
    } else {
        format!("{}  {figures}  {}", it.status, it.detail)
    }
}

fn print_result(report: &SweepReport, out: &Path) {
    let kind = report.kind;
    let mut header: Vec<String> = vec![kind.item().to_uppercase()];
    header.extend(report.plan.axes.iter().map(|a| a.name.to_uppercase()));
    header.extend(["STATUS", "OPS/S", "P50", "P99"].map(String::from));
    let rows: Vec<Vec<String>> = report
        .iterations
        .iter()
        .map(|it| {
            let mut row = vec![it.index.to_string()];
            row.extend(it.values.iter().map(|(_, v)| v.clone()));
            row.extend([
                it.status.label().to_owned(),
                format!("{:.1}", it.metrics.ops_per_sec),
                stress_core::report::human_us(it.metrics.latency_us.p50),
                stress_core::report::human_us(it.metrics.latency_us.p99),
            ]);
            row
        })
        .collect();
    print_table(&header, &rows);
    let name = &report.workload;
    let point = |i: &Iteration| format!("{} ({} {})", i.label(), kind.item(), i.index);
    if kind == Kind::Sweep {
        match report.breaking_point() {
            Some(b) => println!("{name}: breaking point {}: {} — {}", point(b), b.status, b.detail),
            None => println!("{name}: breaking point: none, every iteration held"),
        }
        if let Some(s) = report.stability_point() {
            println!("{name}: stability point {}", point(s));
        }
    }
    if let Some(o) = report.optimal_point() {
        println!("{name}: optimal efficiency point {}", point(o));
    }
    for s in report.scaling() {
        println!("{name}: scaling {s}");
    }
    if let Some(why) = &report.stopped {
        println!("{name}: stopped {why}");
    }
    println!("{name}: {}", out.join(format!("{}.md", kind.stem())).display());
}

/// The exit status: 0 when every iteration held, 4 when those that did not breached thresholds
/// only, 1 otherwise or when interrupted.
fn verdict(report: &SweepReport, interrupted: bool) -> Result<(), CliError> {
    let failed: Vec<&Iteration> = report.iterations.iter().filter(|i| !i.status.is_ok()).collect();
    if interrupted {
        return Err(CliError::Failed("interrupted".into()));
    }
    if failed.is_empty() {
        return Ok(());
    }
    let msg = match (report.kind, report.breaking_point()) {
        (Kind::Sweep, Some(b)) => format!(
            "{} broke at {} ({}): {}",
            report.workload,
            b.label(),
            b.status,
            b.detail
        ),
        _ => {
            let labels: Vec<String> = failed.iter().map(|i| format!("{} ({})", i.label(), i.status)).collect();
            format!(
                "{} of {} cells did not hold: {}",
                failed.len(),
                report.iterations.len(),
                labels.join(", ")
            )
        }
    };
    // The exit code from the iterations' typed failures, as for a run.
    match stress_core::verdict::exit_code(failed.iter().flat_map(|i| &i.failures)) {
        stress_core::verdict::EXIT_OK => Err(CliError::Failed(msg)),
        code => Err(CliError::from_exit_code(code, msg)),
    }
}
