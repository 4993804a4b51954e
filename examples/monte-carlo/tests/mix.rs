//! The mix for a few seconds on each engine: no failed op, a passing verify step, every op run.

use std::time::Duration;

use stress_core::{Runner, StopReason, Summary};

fn check(s: &Summary) {
    assert_eq!(s.stop_reason, StopReason::DurationElapsed, "{:?}", s.stop_detail);
    assert_eq!(s.failed_ops, 0, "first error: {:?}", s.errors.first());
    assert!(s.verify.ran && s.verify.passed, "{:?}", s.verify.errors);
    assert!(s.passed, "{:?}", s.failures);
    for op in ["bulk_insert", "single_insert", "select", "aggregate", "join", "ddl"] {
        assert!(
            s.ops.get(op).is_some_and(|o| o.count > 0),
            "{op} never ran: {:?}",
            s.ops.keys()
        );
    }
    let generation = s.ops["bulk_insert"]
        .untimed_us
        .expect("row generation is reported apart");
    assert_eq!(generation.count, s.ops["bulk_insert"].count);
    assert_eq!(
        s.users.iter().map(|u| u.db).max(),
        Some(2),
        "users spread over 3 databases"
    );
}

fn runner(name: &str) -> Runner {
    Runner::new(name)
        .seed(17)
        .duration(Duration::from_secs(4))
        .think_ms(1, 20)
        .batch(100, 2_000)
}

#[test]
fn the_mix_on_sqlite() {
    let r = runner("monte_carlo_sqlite")
        .run(monte_carlo::monte_carlo_sqlite())
        .unwrap();
    check(&r.summary);
    assert!(r.summary.resources["sqlite.disk_mb"] > 0.0);
}

#[test]
fn the_mix_on_a_managed_postgres() {
    let r = runner("monte_carlo_postgres")
        .run(monte_carlo::mix(
            stress_postgres::Postgres::managed().setting("fsync", "off"),
        ))
        .unwrap();
    check(&r.summary);
    assert!(
        r.summary.resources["postgres.memory_mb"] > 0.0,
        "{:?}",
        r.summary.resources
    );
    assert!(
        r.summary.resources["postgres.connections"] >= 9.0,
        "{:?}",
        r.summary.resources
    );
}

#[test]
fn a_replay_of_the_mix_matches_every_digest() {
    let dir = tempfile::tempdir().unwrap();
    let first = Runner::new("monte_carlo_sqlite")
        .seed(3)
        .ops_per_user(15)
        .think_ms(0, 0)
        .batch(10, 100)
        .output_dir(dir.path().join("a"))
        .run(monte_carlo::monte_carlo_sqlite())
        .unwrap();
    assert!(first.passed(), "{:?}", first.summary.failures);
    let again = Runner::new("monte_carlo_sqlite")
        .replay_file(dir.path().join("a"))
        .unwrap()
        .output_dir(dir.path().join("b"))
        .run(monte_carlo::monte_carlo_sqlite())
        .unwrap();
    let digests = |s: &Summary| s.users.iter().map(|u| u.op_digest.clone()).collect::<Vec<_>>();
    assert_eq!(digests(&again.summary), digests(&first.summary));
}
