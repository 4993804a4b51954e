//! JUnit XML for CI systems (`cargo stress run --junit PATH`): one test suite per workload, one
//! test case per checker's section (the run's stop, the verify step, the acknowledged-write and
//! isolation checkers, the error rate, each threshold, a workload's own checkers), and with `--baseline` one per
//! compared metric, each failure with its message (observed value and limit, or the change and
//! the test); the seed and the command that replays the run as properties.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use stress_core::compare::{Change, Comparison};
use stress_core::{FailureKind, Summary};

use crate::error::{CliError, usage};
use crate::harness::Workload;

/// A test case that passed, or failed with `messages`.
fn case(name: String, messages: &[&str]) -> TestCase {
    let status = if messages.is_empty() {
        TestCaseStatus::success()
    } else {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        s.set_message(messages.join("; "));
        s
    };
    TestCase::new(name, status)
}

/// The report of the runs in `done`, with their comparisons to a baseline (by index) if any.
pub(crate) fn report(done: &[(&Workload, PathBuf, Summary)], compared: &[Option<Comparison>]) -> Report {
    let mut report = Report::new("cargo-stress");
    for (i, (w, dir, s)) in done.iter().enumerate() {
        let mut suite = TestSuite::new(w.name.as_str());
        suite.set_time(Duration::from_secs_f64(s.duration_s.max(0.0)));
        suite.add_property(Property::new("seed", s.seed.to_string()));
        suite.add_property(Property::new("adapter", s.adapter.as_str()));
        suite.add_property(Property::new("stop_reason", format!("{:?}", s.stop_reason)));
        suite.add_property(Property::new(
            "replay",
            format!("cargo stress replay {}", dir.display()),
        ));
        // One case per checker's section (a workload's own checkers too), failed with what it
        // found; failures no checker made (reports not written) fail the run's case.
        let mut cases = Vec::new();
        for c in &s.checks {
            let mut messages: Vec<&str> = Vec::new();
            if !c.passed {
                messages.push(&c.headline);
                messages.extend(c.details.iter().map(String::as_str));
            }
            if c.name == "run" {
                messages.extend(
                    s.failures
                        .iter()
                        .filter(|f| matches!(f.kind, FailureKind::ReportsNotWritten { .. }))
                        .map(|f| f.message.as_str()),
                );
            }
            cases.push(case(c.name.clone(), &messages));
        }
        if let Some(Some(c)) = compared.get(i) {
            suite.add_property(Property::new("baseline", c.base.dir.display().to_string()));
            for m in &c.metrics {
                let message = format!(
                    "{} {}: {} → {} ({}), {}; {}",
                    m.scope,
                    m.metric.label(),
                    m.metric.show(m.base),
                    m.metric.show(m.new),
                    Comparison::show_change(m),
                    Comparison::show_test(m),
                    m.verdict.label()
                );
                let failed: &[&str] = if m.verdict == Change::Regressed {
                    &[&message]
                } else {
                    &[]
                };
                cases.push(case(format!("compare {} {}", m.scope, m.metric.label()), failed));
            }
        }
        suite.add_test_cases(cases);
        report.add_test_suite(suite);
    }
    report
}

/// Refuses, before anything runs, a path the report could not be written to.
pub(crate) fn check_path(path: &Path) -> Result<(), CliError> {
    check_writable("--junit", path)
}

/// Refuses, before anything runs, a path given to `flag` where no file can be written.
pub(crate) fn check_writable(flag: &str, path: &Path) -> Result<(), CliError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if path.is_dir() || !parent.is_dir() {
        return Err(usage(format!(
            "{flag} {}: give a file in a directory that exists",
            path.display()
        )));
    }
    // A directory that exists may still refuse files (/proc, a read-only mount, another
    // user's): the report is written after the run, so try now with a file of our own.
    // (The report is written by rename from a temp file beside it: the directory must take one.)
    let probe = parent.join(format!(".cargo-stress-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(usage(format!(
            "{flag} {}: cannot write in {}: {e}; give a file in a directory you can write",
            path.display(),
            parent.display(),
        ))),
    }
}

/// Writes the report of `done` (and their comparisons) to `path`.
pub(crate) fn write(
    path: &Path,
    done: &[(&Workload, PathBuf, Summary)],
    compared: &[Option<Comparison>],
) -> Result<(), CliError> {
    let xml = report(done, compared)
        .to_string()
        .map_err(|e| CliError::Failed(format!("cannot make the JUnit report: {e}")))?;
    stress_core::report::write_atomic(path, xml.as_bytes())
        .map_err(|e| CliError::Failed(format!("cannot write the JUnit report {}: {e}", path.display())))
}
