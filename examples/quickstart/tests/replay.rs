//! Replay is exact per user, on a real SQLite database: with an op limit, a replay runs every
//! user through the same ops with the same arguments, and the digests prove it.

use std::collections::BTreeMap;

use stress_core::prelude::*;
use stress_core::{ReplayFile, StopReason, Summary};

fn digests(s: &Summary) -> BTreeMap<String, String> {
    s.users.iter().map(|u| (u.id.clone(), u.op_digest.clone())).collect()
}

#[test]
fn a_replay_matches_every_users_digest_and_writes_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let first = Runner::new("orders")
        .seed(7)
        .ops_per_user(25)
        .batch(10, 50)
        .output_dir(dir.path().join("first"))
        .run(quickstart::orders())
        .unwrap();
    let s = &first.summary;
    assert_eq!(s.stop_reason, StopReason::OpLimit);
    assert_eq!(s.total_ops, 9 * 25);
    assert!(s.passed, "{:?}", s.failures);
    assert!(s.verify.ran && s.verify.passed);

    let recorded = ReplayFile::load(&dir.path().join("first")).unwrap();
    assert_eq!(recorded.users.len(), 9);
    assert_eq!(recorded.config.ops_per_user, Some(25));

    // Replaying into the original directory is refused and leaves it untouched.
    let before = std::fs::read(dir.path().join("first/summary.json")).unwrap();
    let e = Runner::new("orders")
        .replay_file(dir.path().join("first/replay.json"))
        .unwrap()
        .output_dir(dir.path().join("first"))
        .run(quickstart::orders())
        .unwrap_err();
    assert!(
        e.to_string().contains("is the directory of the run being replayed"),
        "{e}"
    );
    assert_eq!(std::fs::read(dir.path().join("first/summary.json")).unwrap(), before);

    // Settings given beside the replay file do not change what is replayed.
    let replay = Runner::new("orders")
        .replay_file(dir.path().join("first"))
        .unwrap()
        .seed(99)
        .ops_per_user(3)
        .output_dir(dir.path().join("replay"))
        .run(quickstart::orders())
        .unwrap();
    assert_eq!(replay.summary.seed, 7);
    assert_eq!(replay.summary.total_ops, s.total_ops);
    assert_eq!(digests(&replay.summary), digests(s));
    assert!(replay.summary.passed, "{:?}", replay.summary.failures);

    // A different seed gives different streams: the digests can tell runs apart.
    let other = Runner::new("orders")
        .seed(8)
        .ops_per_user(25)
        .batch(10, 50)
        .run(quickstart::orders())
        .unwrap();
    let (a, b) = (digests(s), digests(&other.summary));
    assert!(a.iter().all(|(id, d)| b[id] != *d), "every user differs");
}

#[test]
fn a_replay_file_for_another_workload_or_shape_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    Runner::new("orders")
        .seed(1)
        .ops_per_user(2)
        .output_dir(dir.path().join("run"))
        .run(quickstart::orders())
        .unwrap();
    let e = Runner::new("other_name")
        .replay_file(dir.path().join("run"))
        .unwrap()
        .run(quickstart::orders())
        .unwrap_err()
        .to_string();
    assert!(e.contains("records workload `orders`"), "{e}");

    let mut file = ReplayFile::load(&dir.path().join("run")).unwrap();
    file.users[0].class = "auditor".into();
    let e = Runner::new("orders")
        .replay("edited.json", file)
        .run(quickstart::orders())
        .unwrap_err()
        .to_string();
    assert!(e.contains("class `auditor`"), "{e}");
}
