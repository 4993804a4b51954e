//! `cargo stress compare`, and the comparison `run --baseline` makes after each run.

use std::path::{Path, PathBuf};

use stress_core::compare::{self, Comparison, Options, RunData};

use crate::cli::CompareArgs;
use crate::error::{CliError, usage};
use crate::shared::print_table;

pub(crate) fn compare(args: &CompareArgs) -> Result<(), CliError> {
    let base = RunData::load(&args.base).map_err(usage)?;
    let new = RunData::load(&args.new).map_err(usage)?;
    let options = stress_core::compare::Options {
        any_workload: args.any_workload,
        ..args.gate.options()
    };
    let c = judge(&base, &new, options)?;
    verdict(&c)
}

/// Compares, prints the table and writes compare.json and compare.md beside the new run.
pub(crate) fn judge(base: &RunData, new: &RunData, options: Options) -> Result<Comparison, CliError> {
    let c = compare::compare(base, new, options).map_err(usage)?;
    println!(
        "compare {}: base {} (`{}`, seed {}, {}), new {} (seed {}, {})",
        c.new.workload,
        c.base.dir.display(),
        c.base.workload,
        c.base.seed,
        c.base.adapter,
        c.new.dir.display(),
        c.new.seed,
        c.new.adapter
    );
    print_table(
        &["SCOPE", "METRIC", "BASE", "NEW", "CHANGE", "TEST", "VERDICT"],
        &c.rows(),
    );
    println!("{}", c.rule());
    for (what, ops) in [
        ("only in the new run", &c.added_ops),
        ("only in the base run", &c.removed_ops),
    ] {
        if !ops.is_empty() {
            println!("{what} (not compared): {}", ops.join(", "));
        }
    }
    if let Some(p) = &c.profile {
        // The largest moves of self time, in points of each run's samples (shown, not judged).
        let mut moved: Vec<_> = p.functions.iter().filter(|f| f.change_points != 0.0).collect();
        moved.sort_by(|a, b| b.change_points.abs().total_cmp(&a.change_points.abs()));
        let said: Vec<String> = moved
            .iter()
            .take(3)
            .map(|f| format!("{} {:+.1}", f.function, f.change_points))
            .collect();
        println!(
            "CPU profiles: self time moved most in {} (points of each run's samples; compare.html draws both and the difference)",
            if said.is_empty() {
                "no function".to_owned()
            } else {
                said.join(", ")
            }
        );
    }
    for n in &c.notes {
        println!("note: {n}");
    }
    let written = c.write(&new.dir).map_err(CliError::Failed)?;
    let paths: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    println!("compare: {}", paths.join(", "));
    Ok(c)
}

/// Exit 5 with the regressions named, or 0.
pub(crate) fn verdict(c: &Comparison) -> Result<(), CliError> {
    if !c.regressed {
        return Ok(());
    }
    let list: Vec<String> = compare::regressions(c)
        .into_iter()
        .map(|(scope, ms)| format!("{scope}: {}", ms.join(", ")))
        .collect();
    Err(CliError::Regressed(format!(
        "`{}` regressed against {}: {}",
        c.new.workload,
        c.base.dir.display(),
        list.join("; ")
    )))
}

/// The baseline run for `workload` under `dir`: the run itself, `dir/WORKLOAD/latest`, or
/// `dir/latest`; one line saying what to give otherwise.
pub(crate) fn baseline_for(dir: &Path, workload: &str) -> Result<PathBuf, CliError> {
    for candidate in [dir.to_owned(), dir.join(workload).join("latest"), dir.join(workload)] {
        if candidate.join("summary.json").is_file() || candidate.join("latest/summary.json").is_file() {
            return Ok(candidate);
        }
    }
    Err(usage(format!(
        "--baseline {} holds no run of `{workload}` (no summary.json there, in {workload}/latest or in latest): give a run directory or a saved target/stress",
        dir.display()
    )))
}
