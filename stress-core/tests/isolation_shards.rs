//! A sharded run's transactions are checked as one history: each shard writes its own
//! `history.jsonl` and checks nothing alone (its reads see the other shards' writes); the merge
//! joins the histories and checks the whole — a clean history passes, and write skew that only
//! shows across two shards is found.

use std::sync::{Arc, Mutex};

use stress_core::isolation::{Kind, Model, Mop, ReadValue};
use stress_core::prelude::*;
use stress_core::shard::Shard;
use stress_core::shard::merge::{MergeOptions, merge};

/// An engine of lists in memory, shared by the shards (as a server would be).
type Lists = Arc<Mutex<std::collections::BTreeMap<u64, Vec<u64>>>>;

/// Each user appends its own value to a key of its own, and reads its own key back: no
/// transaction depends on another's, so the history is serializable.
fn clean(lists: Lists) -> Workload<Bare> {
    Workload::new(Bare)
        .class(
            UserClass::new("client", 4).write("txn", 1.0, move |u: &mut User<Bare>| {
                let key = u64::from(u.plan_index());
                let value = u.ops_done() * 100 + key;
                let invoked = u.txn_clock();
                let seen = {
                    let mut l = lists.lock().unwrap();
                    let list = l.entry(key).or_default();
                    list.push(value);
                    list.clone()
                };
                u.record_txn(
                    invoked,
                    vec![
                        Mop::Append { key, value },
                        Mop::Read {
                            key,
                            value: ReadValue::List(seen),
                        },
                    ],
                );
                Ok(Outcome::done())
            }),
        )
        .isolation(Model::Serializable, Kind::ListAppend)
}

/// Write skew between the first two users, who are in different shards (user index mod 2):
/// each reads the other's key as empty and appends to its own, once.
fn skewed(lists: Lists) -> Workload<Bare> {
    Workload::new(Bare)
        .class(
            UserClass::new("client", 2).write("txn", 1.0, move |u: &mut User<Bare>| {
                let me = u64::from(u.plan_index());
                let other = 1 - me;
                let invoked = u.txn_clock();
                lists.lock().unwrap().entry(me).or_default().push(me + 10);
                u.record_txn(
                    invoked,
                    vec![
                        Mop::Read {
                            key: other,
                            value: ReadValue::List(Vec::new()),
                        },
                        Mop::Append {
                            key: me,
                            value: me + 10,
                        },
                    ],
                );
                Ok(Outcome::done())
            }),
        )
        .isolation(Model::Serializable, Kind::ListAppend)
}

fn sharded(dir: &std::path::Path, ops: u64, workload: impl Fn() -> Workload<Bare>) -> stress_core::Summary {
    let mut dirs = Vec::new();
    for index in 0..2 {
        let out = dir.join(format!("shard-{index}"));
        let r = Runner::new("sharded")
            .seed(5)
            .ops_per_user(ops)
            .shard(Shard { index, count: 2 })
            .output_dir(&out)
            .run(workload())
            .unwrap();
        assert!(r.summary.isolation.is_none(), "a shard checks nothing alone");
        assert!(out.join("history.jsonl").is_file());
        dirs.push(out);
    }
    let merged = dir.join("merged");
    merge(&dirs, &merged, MergeOptions::default()).unwrap()
}

#[test]
fn the_merge_checks_the_shards_histories_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let lists = Lists::default();
    let s = sharded(&dir.path().join("clean"), 25, || clean(Arc::clone(&lists)));
    let r = s.isolation.as_ref().expect("the merged run is checked");
    assert_eq!((r.txns, r.ok), (100, 100), "{r:?}");
    assert!(r.valid() && r.anomalies.is_empty(), "{r:?}");
    assert!(s.passed, "{:?}", s.failures);
    assert!(dir.path().join("clean/merged/history.jsonl").is_file());
    let again = stress_core::isolation::check_dir(&dir.path().join("clean/merged"), None).unwrap();
    assert_eq!(again.txns, 100);

    let lists = Lists::default();
    let s = sharded(&dir.path().join("skewed"), 1, || skewed(Arc::clone(&lists)));
    let r = s.isolation.as_ref().expect("checked");
    assert!(r.forbidden.contains(&"G2-item".to_owned()), "{r:?}");
    assert!(!s.passed && s.exit_code() == 1, "{:?}", s.failures);
}
