//! One record of what a run measured, built by a run and added by a merge: a run of six users
//! and the merge of the same run in three shards agree on every figure that adds (counts, rows,
//! bytes, retries, figures, phases' counts, each user's ops and digest, the verify step),
//! because both derive their summary from a record in one function.

use rand::Rng;
use stress_core::prelude::*;
use stress_core::shard::Shard;
use stress_core::shard::merge::{MergeOptions, merge};

fn workload() -> Workload<Bare> {
    Workload::new(Bare)
        .class(
            UserClass::new("writer", 4)
                .write("put", 3.0, |u: &mut User<Bare>| {
                    let size = u.rng().random_range(10..1000u64);
                    u.figure("size", size as f64);
                    u.phase("work", |_| ());
                    Ok(Outcome::rows(2).with_bytes(size))
                })
                .read("flaky", 1.0, |u: &mut User<Bare>| {
                    // Fails for good one time in five, retryable one time in five.
                    match u.rng().random_range(0..5u32) {
                        0 => Err(OpError::msg("no such row")),
                        1 => Err(OpError::msg("busy").retryable()),
                        _ => Ok(Outcome::rows(1)),
                    }
                }),
        )
        .class(UserClass::new("reader", 2).read("get", 1.0, |u: &mut User<Bare>| {
            let n = u.rng().random_range(0..3u64);
            Ok(Outcome::rows(n))
        }))
        .verify(|_conn, _ledger| Ok(()))
}

fn runner(name: &str) -> Runner {
    Runner::new(name).seed(7).ops_per_user(60).max_tries(3)
}

#[test]
fn a_run_and_the_merge_of_its_three_shards_agree_on_every_figure_that_adds() {
    let dir = tempfile::tempdir().unwrap();
    let whole = runner("whole")
        .output_dir(dir.path().join("whole"))
        .run(workload())
        .unwrap()
        .summary;
    let mut shards = Vec::new();
    for index in 0..3 {
        let out = dir.path().join(format!("shard-{index}"));
        runner("whole")
            .shard(Shard { index, count: 3 })
            .output_dir(&out)
            .run(workload())
            .unwrap();
        shards.push(out);
    }
    let merged = merge(&shards, &dir.path().join("merged"), MergeOptions::default()).unwrap();

    // The control: the figures compared are not all zero, and differ between users.
    assert_eq!(whole.total_ops, 6 * 60);
    assert!(
        whole.failed_ops > 0 && whole.retries > 0 && whole.total_rows > 0,
        "{whole:?}"
    );
    assert!(whole.users.windows(2).any(|w| w[0].op_digest != w[1].op_digest));

    let same = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
        assert_eq!(
            format!("{a:?}"),
            format!("{b:?}"),
            "{what}: the run and the merge differ"
        );
    };
    same("stop_reason", &whole.stop_reason, &merged.stop_reason);
    same("total_ops", &whole.total_ops, &merged.total_ops);
    same("failed_ops", &whole.failed_ops, &merged.failed_ops);
    same("substituted_ops", &whole.substituted_ops, &merged.substituted_ops);
    same("total_rows", &whole.total_rows, &merged.total_rows);
    same("total_bytes", &whole.total_bytes, &merged.total_bytes);
    same("warmup_ops", &whole.warmup_ops, &merged.warmup_ops);
    same("retried_ops", &whole.retried_ops, &merged.retried_ops);
    same("retries", &whole.retries, &merged.retries);
    same("exhausted_ops", &whole.exhausted_ops, &merged.exhausted_ops);
    same("interrupted_ops", &whole.interrupted_ops, &merged.interrupted_ops);
    same("latency count", &whole.latency_us.count, &merged.latency_us.count);
    same("users", &whole.users, &merged.users);
    same("figures", &whole.figures, &merged.figures);
    let counts = |s: &stress_core::Summary| -> Vec<(String, u64, u64, u64, u64)> {
        s.ops
            .iter()
            .map(|(n, o)| (n.clone(), o.count, o.failed, o.interrupted, o.latency_us.count))
            .collect()
    };
    same("ops", &counts(&whole), &counts(&merged));
    let phases = |s: &stress_core::Summary| -> Vec<(String, u64)> {
        s.phases.iter().map(|(n, p)| (n.clone(), p.count)).collect()
    };
    same("phases", &phases(&whole), &phases(&merged));
    same("verify", &whole.verify, &merged.verify);
    assert!(merged.verify.ran && merged.verify.passed, "{:?}", merged.verify);
    same("passed", &whole.passed, &merged.passed);
    let checks = |s: &stress_core::Summary| -> Vec<(String, bool)> {
        s.checks.iter().map(|c| (c.name.clone(), c.passed)).collect()
    };
    same("checks", &checks(&whole), &checks(&merged));
    let kinds =
        |s: &stress_core::Summary| -> Vec<String> { s.failures.iter().map(|f| format!("{:?}", f.kind)).collect() };
    same("failures", &kinds(&whole).len(), &kinds(&merged).len());
}

/// A merge's error is an error like any other: `?` carries it into `Box<dyn Error>` with its
/// one line (here, no shard given), and nothing is written.
#[test]
fn a_merge_error_goes_where_any_error_goes() {
    fn merged(out: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
        merge(&[], out, MergeOptions::default())?;
        Ok(())
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("merged");
    let e = merged(&out).expect_err("nothing to merge");
    assert!(!e.to_string().is_empty() && !e.to_string().contains('\n'), "{e}");
    assert!(!out.exists(), "nothing written");
}
