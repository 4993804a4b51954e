//! `cargo stress shrink`: the search is `stress_core::shrink`'s; this runs its candidates
//! through the harness, one directory each, and keeps the smallest failing one.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use stress_core::report::{fresh_run_dir, write_atomic};
use stress_core::shrink::{self, End, Options, Trial};
use stress_core::{ConfigLayer, ReplayFile, Summary};

use crate::cli::ShrinkArgs;
use crate::error::{CliError, usage};
use crate::shared::{interrupt_flag, rebuild, refuse_existing, report, run_one};
use crate::status::Status;

pub(crate) fn shrink(args: &ShrinkArgs) -> Result<(), CliError> {
    let interrupted = interrupt_flag();
    let dir = &args.dir;
    let replay_json = dir.join("replay.json");
    if !dir.is_dir() {
        return Err(usage(format!("{} is not a run directory", dir.display())));
    }
    let file = ReplayFile::load(&replay_json).map_err(|e| usage(e.to_string()))?;
    let summary = Summary::load(&dir.join("summary.json")).map_err(usage)?;
    if summary.passed {
        return Err(usage(format!("nothing to shrink: the run in {} passed", dir.display())));
    }
    if shrink::target(&summary).is_none() {
        return Err(usage(format!(
            "nothing to shrink: the run in {} failed only by being interrupted or by not writing its reports",
            dir.display()
        )));
    }
    let (meta, w) = rebuild(&file, &replay_json, &args.build)?;
    let out = match &args.out {
        Some(d) => d.clone(),
        None => {
            let fresh = fresh_run_dir(
                &meta.target_directory.join("stress").into_std_path_buf(),
                &w.name,
                file.seed,
            );
            let name = fresh
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            fresh.with_file_name(format!("{name}-shrink"))
        }
    };
    refuse_existing(&out)?;
    if out.join("shrink.md").exists() {
        return Err(usage(format!(
            "{} already holds a shrink (shrink.md): choose another --out or remove it",
            out.display()
        )));
    }
    let work = out.join("candidates");
    std::fs::create_dir_all(&work).map_err(|e| usage(format!("cannot create {}: {e}", work.display())))?;
    let options = Options {
        tries: args.tries,
        budget: args.budget,
    };
    eprintln!(
        "shrink {}: chasing `{}` ({} tries a candidate, budget {}s)",
        dir.display(),
        shrink::target(&summary).map_or("", |f| f.message.as_str()),
        options.tries,
        options.budget.as_secs()
    );
    let mut status = Status::quiet();
    let report = shrink::shrink(
        &file,
        &summary,
        &options,
        |a| {
            if interrupted.load(Ordering::SeqCst) {
                return Trial::Stop;
            }
            let input = work.join(format!("{:03}.json", a.n));
            let body = serde_json::to_vec_pretty(a.file).expect("a replay file serialises");
            if let Err(e) = write_atomic(&input, &body) {
                return Trial::NotStarted(e.to_string());
            }
            let run_dir = attempt_dir(&work, a.n, a.attempt);
            match run_one(&w, &ConfigLayer::default(), Some(&input), &run_dir, &mut status) {
                Ok(ran) => {
                    let s = ran.summary.expect("checked by run_one");
                    if !shrink::same_failure(&summary, &s) {
                        // Only failing runs can be the result: the others make room.
                        let _ = std::fs::remove_dir_all(&run_dir);
                    }
                    Trial::Ran(Box::new(s))
                }
                Err(_) if interrupted.load(Ordering::SeqCst) => Trial::Stop,
                Err(e) => Trial::NotStarted(e.to_string()),
            }
        },
        |step| eprintln!("{step}"),
    );
    // The smallest failing run becomes the run in `out`; the other candidates go.
    if let Some(best) = &report.best {
        let from = attempt_dir(&work, best.n, best.attempt);
        copy_files(&from, &out)?;
    }
    let _ = std::fs::remove_dir_all(&work);
    let command = report.best.as_ref().map(|_| replay_command(&out, args));
    let md = report.markdown(&w.name, &dir.display().to_string(), command.as_deref());
    write_atomic(&out.join("shrink.md"), md.as_bytes())
        .map_err(|e| CliError::Failed(format!("cannot write shrink.md: {e}")))?;
    if let Some(best) = &report.best {
        report_table(&w, &out, &best.summary);
    }
    println!("{}", report.headline());
    println!("shrink.md: {}", out.join("shrink.md").display());
    if let Some(cmd) = &command {
        println!("replay the smallest run: {cmd}");
    }
    match report.end {
        End::Interrupted => Err(CliError::Failed(format!(
            "interrupted: the smallest failing run so far is in {}",
            out.display()
        ))),
        End::NotReproduced | End::NothingToShrink => Err(CliError::Failed(report.headline())),
        End::Done | End::Budget => Ok(()),
    }
}

fn report_table(w: &crate::harness::Workload, out: &Path, summary: &Summary) {
    report(&[(w, out.to_owned(), summary.clone())]);
}

fn attempt_dir(work: &Path, n: usize, attempt: u32) -> PathBuf {
    work.join(format!("{n:03}-try{attempt}"))
}

/// The files of a run directory, into `to` (a run directory of its own from then on).
fn copy_files(from: &Path, to: &Path) -> Result<(), CliError> {
    let fail = |e: std::io::Error| CliError::Failed(format!("cannot copy {} to {}: {e}", from.display(), to.display()));
    for entry in std::fs::read_dir(from).map_err(fail)? {
        let entry = entry.map_err(fail)?;
        if entry.file_type().map_err(fail)?.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(fail)?;
        }
    }
    Ok(())
}

/// `cargo stress replay OUT`, with the build profile the shrink used.
fn replay_command(out: &Path, args: &ShrinkArgs) -> String {
    let mut cmd = format!("cargo stress replay {}", out.display());
    if args.build.debug {
        cmd.push_str(" --debug");
    }
    if let Some(p) = &args.build.profile {
        cmd.push_str(&format!(" --profile {p}"));
    }
    cmd
}
