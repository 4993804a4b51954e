//! `cargo stress report`: rebuild `report.html` of runs from their files.

use std::path::PathBuf;

use crate::cli::ReportArgs;
use crate::error::{CliError, usage};

pub(crate) fn report(args: &ReportArgs) -> Result<(), CliError> {
    // Every path is checked before any page is written.
    let mut dirs: Vec<PathBuf> = Vec::new();
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
        stress_core::Summary::load(&dir.join("summary.json")).map_err(usage)?;
        dirs.push(dir.canonicalize().unwrap_or(dir));
    }
    for dir in dirs {
        let path = stress_core::report::html::write(&dir).map_err(CliError::Failed)?;
        println!("report: {}", path.display());
    }
    Ok(())
}
