//! `cargo stress check`: the isolation checker again, offline, on a recorded history.

use stress_core::isolation::{self, Anomaly, Model};

use crate::cli::CheckArgs;
use crate::error::{CliError, usage};

pub(crate) fn check(args: &CheckArgs) -> Result<(), CliError> {
    let model = match &args.model {
        None => None,
        Some(m) => Some(Model::parse(m).ok_or_else(|| {
            usage(format!(
                "--model {m} is not a model: give read-committed, repeatable-read, snapshot-isolation, serializable \
                 or strict-serializable"
            ))
        })?),
    };
    let dir = if args.dir.join("summary.json").is_file() {
        args.dir.clone()
    } else if args.dir.join("latest/summary.json").is_file() {
        args.dir.join("latest")
    } else {
        return Err(usage(format!(
            "{} holds no run (no summary.json): give a run directory, such as target/stress/append_postgres/latest",
            args.dir.display()
        )));
    };
    let report = isolation::check_dir(&dir, model).map_err(|e| usage(e.to_string()))?;
    println!(
        "{}: {} transactions ({} committed, {} aborted, {} indeterminate), {} checked against {}",
        dir.display(),
        report.txns,
        report.ok,
        report.failed,
        report.indeterminate,
        serde_json::to_value(report.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        report.model.name()
    );
    for (name, n) in &report.anomalies {
        let verdict = if report.forbidden.contains(name) {
            "FORBIDDEN"
        } else {
            "allowed"
        };
        let meaning = Anomaly::parse(name).map_or("", Anomaly::meaning);
        println!("  {name:<22} {n:>6}  {verdict:<9}  {meaning}");
    }
    for w in report
        .witnesses
        .iter()
        .filter(|w| report.forbidden.contains(&w.anomaly))
    {
        println!("{} witness:", w.anomaly);
        for t in &w.txns {
            println!("  {} (user {}): {}", t.name, t.process, t.mops);
        }
        for (i, step) in w.steps.iter().enumerate() {
            println!("  {}. {step}", i + 1);
        }
    }
    for e in &report.history_errors {
        println!("the workload broke its kit's rules: {e}");
    }
    if let Some(why) = &report.incomplete {
        println!("not fully checked: {why}");
    }
    if report.valid() {
        println!("{}: no anomaly {} forbids", dir.display(), report.model.name());
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "{} is not {}: {}",
            dir.display(),
            report.model.name(),
            if report.forbidden.is_empty() {
                "see above".to_owned()
            } else {
                report.forbidden.join(", ")
            }
        )))
    }
}
