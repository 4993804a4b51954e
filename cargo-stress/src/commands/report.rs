//! `cargo stress report`: rebuild `report.html` of runs from their files.

use std::path::PathBuf;

use crate::cli::ReportArgs;
use crate::error::{CliError, usage};

pub(crate) fn report(args: &ReportArgs) -> Result<(), CliError> {
    // Every page is made before any is written: what is wrong with a run's files (none there,
    // another summary version, a damaged interval log) is bad input, and nothing is written.
    let mut pages: Vec<(PathBuf, String)> = Vec::new();
    for d in &args.dirs {
        let dir = if d.join("summary.json").is_file() {
            d.clone()
        } else if d.join("latest/summary.json").is_file() {
            d.join("latest")
        } else {
            return Err(usage(format!(
                "{} holds no run (no summary.json): give a run directory, such as target/stress/orders/latest",
                d.display()
            )));
        };
        let dir = dir.canonicalize().unwrap_or(dir);
        let page = stress_core::report::html::render(&dir).map_err(usage)?;
        if let Some(why) = stress_core::report::html::missing_log(&dir) {
            eprintln!("warning: {why}");
        }
        pages.push((dir.join("report.html"), page));
    }
    for (path, page) in pages {
        stress_core::report::write_atomic(&path, page.as_bytes())
            .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", path.display())))?;
        println!("report: {}", path.display());
    }
    Ok(())
}
