//! A replay file goes through the same validation as the environment and the command line:
//! each edit below once ran (and passed, panicked or ran for ever); each is now refused before
//! anything runs, with one line naming what is wrong.

use std::path::Path;

use serde_json::{Value, json};
use stress_core::prelude::*;

fn noop(_: &mut User<Bare>) -> OpResult {
    Ok(Outcome::done())
}

fn workload() -> Workload<Bare> {
    Workload::new(Bare)
        .class(UserClass::new("reader", 2).read("read", 1.0, noop))
        .class(UserClass::new("writer", 1).write("write", 1.0, noop))
}

/// An edit of a replay file, as JSON.
type Edit = Box<dyn Fn(&mut Value)>;

fn recorded(dir: &Path) -> Value {
    let out = dir.join("original");
    Runner::new("edited")
        .seed(3)
        .ops_per_user(2)
        .output_dir(&out)
        .run(workload())
        .unwrap();
    serde_json::from_str(&std::fs::read_to_string(out.join("replay.json")).unwrap()).unwrap()
}

#[test]
fn edited_replay_files_are_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let original = recorded(dir.path());
    let file = dir.path().join("replay.json");
    let check = |edit: &dyn Fn(&mut Value)| {
        let mut v = original.clone();
        edit(&mut v);
        std::fs::write(&file, serde_json::to_string(&v).unwrap()).unwrap();
        let r = Runner::new("edited").replay_file(&file).unwrap();
        r.check(&workload()).err().map(|e| e.to_string())
    };
    assert_eq!(check(&|_| {}), None, "the file as written replays");
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "0 users",
            Box::new(|v| {
                v["config"]["users"] = json!([["reader", 0], ["writer", 0]]);
                v["users"] = json!([]);
            }),
            "no users to run",
        ),
        (
            "a negative rate",
            Box::new(|v| v["config"]["rate"] = json!(-10.0)),
            "rate -10 does not fit",
        ),
        (
            "an error allowance of 500%",
            Box::new(|v| v["config"]["max_error_rate"] = json!(5.0)),
            "max_error_rate 5 is not a fraction",
        ),
        (
            "a warm-up longer than the run",
            Box::new(|v| {
                v["config"]["duration_ms"] = json!(10_000);
                v["config"]["warmup_ms"] = json!(1e12 as u64);
            }),
            "is not shorter than the run",
        ),
        (
            "a user twice",
            Box::new(|v| {
                let u = v["users"][0].clone();
                v["users"][1] = u;
            }),
            "appears twice",
        ),
        (
            "another adapter",
            Box::new(|v| v["adapter"] = json!("postgres")),
            "recorded on adapter `postgres`",
        ),
        (
            "an empty think range",
            Box::new(|v| {
                v["config"]["think_min_ms"] = json!(50);
                v["config"]["think_max_ms"] = json!(10);
            }),
            "think time 50..10 ms is empty",
        ),
        (
            "batches of u64::MAX rows",
            Box::new(|v| v["config"]["batch_max"] = json!(u64::MAX)),
            "batch 100..",
        ),
        (
            "a run of 2^64-1 ms",
            Box::new(|v| v["config"]["duration_ms"] = json!(u64::MAX)),
            "longer than 30 days",
        ),
        (
            "a user on a database that does not exist",
            Box::new(|v| v["users"][0]["db"] = json!(7)),
            "works on database 7, but there are 1",
        ),
        (
            "more users in the config than seeds",
            Box::new(|v| v["config"]["users"] = json!([["reader", 5], ["writer", 1]])),
            "gives class `reader` 5 users but 2 user seeds",
        ),
        (
            "another RNG",
            Box::new(|v| v["rng"] = json!("xorshift")),
            "recorded with RNG `xorshift`",
        ),
        (
            "neither a duration nor an op limit",
            Box::new(|v| {
                v["config"]["duration_ms"] = Value::Null;
                v["config"]["ops_per_user"] = Value::Null;
            }),
            "the run would never end",
        ),
        (
            "a user id that is a path",
            Box::new(|v| v["users"][0]["id"] = json!("../../../../etc/passwd")),
            "user `../../../../etc/passwd` is not one of the workload's: class `reader` has users reader-0 to reader-1",
        ),
        (
            "a user id of another case",
            Box::new(|v| v["users"][2]["id"] = json!("WRITER-0")),
            "user `WRITER-0` is not one of the workload's",
        ),
        (
            "a user index beyond its class",
            Box::new(|v| v["users"][1]["id"] = json!("reader-7")),
            "user `reader-7` is not one of the workload's",
        ),
        (
            "adapter settings the adapter does not have",
            Box::new(|v| v["adapter_config"] = json!(0)),
            "adapter_config records settings, and adapter `bare` has none",
        ),
        (
            "a pause without its hold",
            Box::new(|v| v["faults"] = json!([{"kind": "pause", "at_ms": 1000}])),
            "its `pause` fault has no hold_ms",
        ),
        (
            "a kill with a hold",
            Box::new(|v| v["faults"] = json!([{"kind": "kill", "at_ms": 1000, "hold_ms": 5}])),
            "its `kill` fault has a hold_ms",
        ),
        (
            "a pause at the end",
            Box::new(|v| v["faults"] = json!([{"kind": "pause", "at_ms": null, "hold_ms": 5}])),
            "at the end, when no user would meet it",
        ),
        (
            "an op count for a user the run does not have",
            Box::new(|v| v["user_ops"] = json!({"reader-9": 3})),
            "its user_ops name user `reader-9`",
        ),
        (
            "more ops for a user than the run's limit",
            Box::new(|v| v["user_ops"]["reader-0"] = json!(u64::MAX)),
            "more than its ops_per_user 2",
        ),
    ];
    for (what, edit, want) in cases {
        let e = check(&*edit).unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(e.contains(want), "{what}: {e}");
        assert!(!e.contains('\n'), "{what}: one line: {e}");
    }
}
