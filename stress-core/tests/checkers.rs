//! Checkers compose: the built-in ones (the run's stop, verify, error rate, …) and a workload's
//! own each give a section of the summary's `checks`; a workload's checker that finds the run
//! wrong fails it (exit 1), and a merge carries the shards' sections of it, naming the shard.

use rand::Rng;
use stress_core::prelude::*;
use stress_core::shard::Shard;
use stress_core::shard::merge::{MergeOptions, merge};
use stress_core::{FailureKind, Summary};

#[path = "readme/checker.rs"]
#[expect(
    unreachable_pub,
    reason = "the guide shows the snippet as a workload crate of a user's would have it"
)]
mod snippet;

use snippet::RowsPerOp;

/// The guide shows this very file: its checkers page includes it in a Rust block (mdBook's
/// `{{#include}}`, which the guide's doctests expand as well, compiling and running it).
#[test]
fn the_guide_shows_this_very_checker() {
    let page = include_str!("../../docs/guide/src/checkers.md");
    assert!(
        page.contains("```rust\n{{#include ../../../stress-core/tests/readme/checker.rs}}\n"),
        "docs/guide/src/checkers.md must include stress-core/tests/readme/checker.rs"
    );
}

/// Reads that return 1 row, or (with `empty_reads`) sometimes none.
fn workload(empty_reads: bool) -> Workload<Bare> {
    Workload::new(Bare)
        .class(UserClass::new("reader", 2).read("get", 1.0, move |u: &mut User<Bare>| {
            let none = empty_reads && u.rng().random_range(0..4u32) == 0;
            Ok(Outcome::rows(u64::from(!none)))
        }))
        .checker(RowsPerOp)
}

fn names(s: &Summary) -> Vec<&str> {
    s.checks.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn a_workloads_own_checker_is_judged_after_the_built_in_ones_and_can_fail_the_run() {
    let ok = Runner::new("rows")
        .seed(3)
        .ops_per_user(40)
        .run(workload(false))
        .unwrap()
        .summary;
    assert!(ok.passed, "{:?}", ok.failures);
    assert_eq!(names(&ok), ["run", "error rate", "stall", "rows per op"]);
    assert!(ok.checks.iter().all(|c| c.passed), "{:?}", ok.checks);

    // The control: reads with no rows break the workload's rule.
    let bad = Runner::new("rows")
        .seed(3)
        .ops_per_user(40)
        .run(workload(true))
        .unwrap()
        .summary;
    assert!(!bad.passed);
    assert_eq!(bad.exit_code(), 1);
    let section = bad.checks.iter().find(|c| c.name == "rows per op").unwrap();
    assert!(
        !section.passed && section.headline.starts_with("rows per op: "),
        "{section:?}"
    );
    assert!(
        bad.failures.iter().any(
            |f| matches!(&f.kind, FailureKind::Check { checker, .. } if checker == "rows per op")
                && f.message.starts_with("check `rows per op` failed: ")
        ),
        "{:?}",
        bad.failures
    );
}

#[test]
fn a_merge_carries_the_shards_sections_of_a_workloads_checker() {
    let dir = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for index in 0..2 {
        let out = dir.path().join(format!("shard-{index}"));
        Runner::new("rows")
            .seed(3)
            .ops_per_user(40)
            .shard(Shard { index, count: 2 })
            .output_dir(&out)
            .run(workload(true))
            .unwrap();
        dirs.push(out);
    }
    let m = merge(&dirs, &dir.path().join("merged"), MergeOptions::default()).unwrap();
    assert_eq!(
        names(&m),
        [
            "run",
            "error rate",
            "stall",
            "shard 0: rows per op",
            "shard 1: rows per op"
        ]
    );
    assert!(!m.passed && m.exit_code() == 1, "{:?}", m.failures);
    assert!(
        m.failures
            .iter()
            .any(|f| matches!(&f.kind, FailureKind::Check { checker, .. } if checker == "shard 0: rows per op")),
        "{:?}",
        m.failures
    );
}
