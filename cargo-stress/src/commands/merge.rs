//! `cargo stress merge`: a sharded run's shards into one run directory.

use crate::cli::MergeArgs;
use crate::error::{CliError, usage};

pub(crate) fn merge(args: &MergeArgs) -> Result<(), CliError> {
    let out = match &args.out {
        Some(d) => d.clone(),
        None => args.dirs[0]
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."))
            .join("merged"),
    };
    let options = stress_core::shard::merge::MergeOptions {
        allow_partial: args.allow_partial,
    };
    use stress_core::shard::merge::MergeError;
    let s = stress_core::shard::merge::merge(&args.dirs, &out, options).map_err(|e| match e {
        MergeError::Input(m) => usage(m),
        MergeError::Write(m) => CliError::Failed(format!(
            "{m}; the shards are untouched: merge them again into a directory on a disk with room"
        )),
    })?;
    let shards = s.shards.clone().unwrap_or_default();
    println!(
        "merged {} of {} shards of `{}` (seed {}): {} users, {} ops, {:.0} ops/s over {:.1}s, p50 {} µs, p99 {} µs, max {} µs",
        shards.merged.len(),
        shards.count,
        s.workload,
        s.seed,
        s.users.len(),
        s.total_ops,
        s.ops_per_sec,
        s.duration_s,
        s.latency_us.p50,
        s.latency_us.p99,
        s.latency_us.max
    );
    for m in &shards.merged {
        let barrier = if m.late_ms > 0 {
            format!(", {} ms after the start barrier", m.late_ms)
        } else {
            String::new()
        };
        println!(
            "  shard {}: {} user{}, {} ops, started {} s after the first shard{barrier} ({})",
            m.index,
            m.users,
            if m.users == 1 { "" } else { "s" },
            m.ops,
            m.offset_s,
            m.dir
        );
    }
    for w in &s.warnings {
        println!("warning: {w}");
    }
    for t in &s.thresholds {
        println!("{t}");
    }
    for f in &s.failures {
        println!("{f}");
    }
    println!("merged: {}", out.display());
    if s.passed {
        Ok(())
    } else {
        Err(CliError::from_exit_code(
            s.exit_code(),
            format!("the merged run of `{}` failed", s.workload),
        ))
    }
}
