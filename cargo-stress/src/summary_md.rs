//! A markdown summary fit for a CI step summary (`cargo stress run --summary-md PATH`, e.g.
//! `$GITHUB_STEP_SUMMARY`): a table of the workloads, then each one's failures and thresholds,
//! read from the typed summaries.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use stress_core::Summary;
use stress_core::report::human_us;

use crate::error::CliError;
use crate::harness::Workload;

/// The markdown of the runs in `done`.
pub(crate) fn markdown(done: &[(&Workload, PathBuf, Summary)]) -> String {
    let passed = done.iter().filter(|(_, _, s)| s.passed).count();
    let mut md = format!("## cargo stress: {passed} of {} workloads passed\n\n", done.len());
    md.push_str("| workload | result | stop | ops | ops/s | p50 | p99 | max | failed |\n");
    md.push_str("|---|---|---|--:|--:|--:|--:|--:|--:|\n");
    for (w, _, s) in done {
        let _ = writeln!(
            md,
            "| {} | {} | {:?} | {} | {:.0} | {} | {} | {} | {} |",
            w.name,
            if s.passed { "PASS" } else { "**FAIL**" },
            s.stop_reason,
            s.total_ops,
            s.ops_per_sec,
            human_us(s.latency_us.p50),
            human_us(s.latency_us.p99),
            human_us(s.latency_us.max),
            s.failed_ops
        );
    }
    for (w, dir, s) in done {
        let _ = writeln!(md, "\n### {}\n", w.name);
        for f in &s.failures {
            let _ = writeln!(md, "- failed: {}", escape(&f.message));
        }
        // Each checker's section, as it says it: renders a workload's own checkers too.
        for c in &s.checks {
            let _ = writeln!(
                md,
                "- {}: {}",
                if c.passed { "ok" } else { "**failed**" },
                escape(&c.headline)
            );
        }
        let _ = writeln!(md, "- seed {}; replay: `cargo stress replay {}`", s.seed, dir.display());
    }
    md
}

/// Text that markdown would read as a table cell's end or an emphasis.
fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('*', "\\*").replace('_', "\\_")
}

/// Refuses, before anything runs, a path the summary could not be written to.
pub(crate) fn check_path(path: &Path) -> Result<(), CliError> {
    crate::junit::check_writable("--summary-md", path)
}

/// Writes the summary of `done` to `path`.
pub(crate) fn write(path: &Path, done: &[(&Workload, PathBuf, Summary)]) -> Result<(), CliError> {
    std::fs::write(path, markdown(done))
        .map_err(|e| CliError::Failed(format!("cannot write the markdown summary {}: {e}", path.display())))
}
