//! `cargo stress replay`.

use std::path::Path;
use std::sync::atomic::Ordering;

use stress_core::report::fresh_run_dir;
use stress_core::{ReplayFile, Summary};

use crate::cli::ReplayArgs;
use crate::error::{CliError, usage};
use crate::shared::{interrupt_flag, print_table, rebuild, report, run_one};
use crate::status::Status;

pub(crate) fn replay(args: &ReplayArgs) -> Result<(), CliError> {
    let interrupted = interrupt_flag();
    let file = ReplayFile::load(&args.path).map_err(|e| usage(e.to_string()))?;
    let replay_json = if args.path.is_dir() {
        args.path.join("replay.json")
    } else {
        args.path.clone()
    };
    let original_dir = replay_json.parent().unwrap_or(Path::new(".")).to_owned();
    let (meta, w) = rebuild(&file, &replay_json, &args.build)?;
    let w = &w;
    let out = match &args.out {
        Some(d) => d.clone(),
        None => fresh_run_dir(
            &meta.target_directory.join("stress").into_std_path_buf(),
            &w.name,
            file.seed,
        ),
    };
    let mut status = Status::new(5.0);
    // A replay of one shard (of a merged run, say) runs that shard's users only.
    let settings = stress_core::ConfigLayer {
        shard: args.shard,
        only_users: args.users.clone(),
        ..stress_core::ConfigLayer::default()
    };
    let ran = run_one(w, &settings, Some(&replay_json), &out, &mut status)?;
    let summary = ran.summary.expect("checked by run_one");
    report(&[(w, out, summary.clone())]);
    let original = Summary::load(&original_dir.join("summary.json")).ok();
    let diverged = match &original {
        Some(o) => compare_digests(o, &summary, args.shard.is_some() || !args.users.is_empty()),
        None => {
            println!("no summary.json beside the replay file: nothing to compare digests with");
            0
        }
    };
    // Each user ran its recorded count (or the op limit): a digest that differs is a
    // divergence. Without counts (a run killed hard), users ran for the recorded time only.
    if diverged > 0 && (file.config.ops_per_user.is_some() || !file.user_ops.is_empty()) {
        return Err(CliError::Failed(format!(
            "replay diverged: {diverged} of {} users ran other ops or arguments than recorded",
            summary.users.len()
        )));
    }
    if diverged > 0 {
        println!(
            "the digests cannot match: {} records no op count per user (the run did not end: it was killed \
             hard), so the users ran for its duration, not its ops",
            replay_json.display()
        );
    }
    if !summary.passed {
        return Err(CliError::Failed(format!("workload `{}` failed", w.name)));
    }
    if interrupted.load(Ordering::SeqCst) {
        return Err(CliError::Failed("interrupted".into()));
    }
    Ok(())
}

/// Prints each user's digest beside the original's (only the replayed users' for a replay of
/// some: `partial`); returns how many differ.
fn compare_digests(original: &Summary, replay: &Summary, partial: bool) -> usize {
    let mut differ = 0;
    // A replay of one shard is compared on that shard's users.
    let replayed: Vec<_> = original
        .users
        .iter()
        .filter(|u| !partial || replay.users.iter().any(|r| r.id == u.id))
        .collect();
    let rows: Vec<[String; 4]> = replayed
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
        replayed.len() - differ,
        replayed.len()
    );
    differ
}
