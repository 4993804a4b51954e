//! A replay file is read, not trusted: 10,000 mutations of a valid `replay.json` (byte flips,
//! deleted fields, changed types, extreme numbers, duplicated users, truncations), each either
//! refused with one line before anything runs, or run to its end. None panics, none hangs.
//!
//! The mutations are drawn from a seeded RNG, so a failure names a case that can be repeated.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use stress_core::prelude::*;
use stress_core::{ReplayFile, RunError};

const CASES: u64 = 10_000;
/// Of the mutations that pass validation, one in this many is run for real (a run takes
/// milliseconds; validating takes microseconds).
const RUN_EVERY: u64 = 10;

fn noop(_: &mut User<Bare>) -> OpResult {
    Ok(Outcome::done())
}

fn workload() -> Workload<Bare> {
    Workload::new(Bare)
        .param("size", 10u64)
        .class(UserClass::new("reader", 2).read("read", 1.0, noop))
        .class(UserClass::new("writer", 1).write("write", 1.0, noop))
}

/// A valid replay.json, from a real run.
fn recorded(dir: &Path) -> Value {
    let out = dir.join("original");
    let r = Runner::new("mutated")
        .seed(11)
        .ops_per_user(3)
        .output_dir(&out)
        .run(workload())
        .unwrap();
    assert!(r.summary.passed);
    serde_json::from_str(&std::fs::read_to_string(out.join("replay.json")).unwrap()).unwrap()
}

/// Every path to a node of `v`.
fn paths(v: &Value, here: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                here.push(PathStep::Key(k.clone()));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                here.push(PathStep::Index(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn node<'v>(v: &'v mut Value, path: &[PathStep]) -> &'v mut Value {
    path.iter().fold(v, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

/// A value of another kind, or an extreme one.
fn replacement(rng: &mut ChaCha8Rng) -> Value {
    match rng.random_range(0..14) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => serde_json::json!(0),
        3 => serde_json::json!(-1),
        4 => serde_json::json!(-10),
        5 => serde_json::json!(u64::MAX),
        6 => serde_json::json!(i64::MIN),
        7 => serde_json::json!(1e300),
        8 => serde_json::json!(-1e300),
        9 => serde_json::json!(0.5),
        10 => serde_json::json!("x"),
        11 => serde_json::json!([]),
        12 => serde_json::json!({}),
        _ => serde_json::json!(rng.random_range(0..100_000u64)),
    }
}

/// One mutation of the recorded file, as text.
fn mutate(original: &Value, rng: &mut ChaCha8Rng) -> String {
    let mut v = original.clone();
    let mut all = Vec::new();
    paths(&v, &mut Vec::new(), &mut all);
    match rng.random_range(0..6) {
        // Replace a node by another kind of value, or an extreme one.
        0 | 1 => {
            let p = &all[rng.random_range(0..all.len())];
            *node(&mut v, p) = replacement(rng);
        }
        // Delete a member of an object.
        2 => {
            let members: Vec<&Vec<PathStep>> = all
                .iter()
                .filter(|p| matches!(p.last(), Some(PathStep::Key(_))))
                .collect();
            let p = members[rng.random_range(0..members.len())];
            let (last, parent) = p.split_last().unwrap();
            if let (PathStep::Key(k), Value::Object(m)) = (last, node(&mut v, parent)) {
                m.remove(k);
            }
        }
        // Duplicate a user, or move one to another database.
        3 => {
            let users = v["users"].as_array_mut().unwrap();
            let i = rng.random_range(0..users.len());
            if rng.random() {
                let u = users[i].clone();
                users.push(u);
            } else {
                users[i]["db"] = serde_json::json!(rng.random_range(0..4u64));
            }
        }
        // Flip bytes of the text.
        4 => {
            let mut bytes = serde_json::to_vec_pretty(&v).unwrap();
            for _ in 0..rng.random_range(1..4) {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random_range(0x20..0x7f);
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        // Cut the text short.
        _ => {
            let text = serde_json::to_string_pretty(&v).unwrap();
            let cut = rng.random_range(0..text.len());
            return text[..cut].to_owned();
        }
    }
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn ten_thousand_mutated_replay_files_are_refused_or_run_and_none_panics() {
    let dir = tempfile::tempdir().unwrap();
    let original = recorded(dir.path());
    let file = dir.path().join("replay.json");
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let (mut refused, mut valid, mut ran) = (0u64, 0u64, 0u64);
    for case in 0..CASES {
        let text = mutate(&original, &mut rng);
        std::fs::write(&file, &text).unwrap();
        let runner = || Runner::new("mutated").replay_file(&file);
        let checked = std::panic::catch_unwind(|| runner().map_err(RunError::from).and_then(|r| r.check(&workload())));
        match checked {
            Err(_) => panic!("case {case} panicked while being checked:\n{text}"),
            Ok(Err(e)) => {
                refused += 1;
                let line = e.to_string();
                assert!(
                    !line.is_empty() && !line.contains('\n'),
                    "case {case}: one line: {line}"
                );
            }
            Ok(Ok(())) => {
                valid += 1;
                // What passed validation runs: bounded, so that it ends (an op limit and no
                // think time longer than a second keep it short).
                let f = ReplayFile::load(&file).unwrap();
                let short = f.config.ops_per_user.is_some_and(|n| n <= 100)
                    && f.config.think_max_ms <= 1000
                    && f.config.duration_ms.is_none_or(|d| d <= 60_000);
                if short && valid % RUN_EVERY == 0 {
                    let out = dir.path().join(format!("run-{case}"));
                    let report = std::panic::catch_unwind(|| runner().unwrap().output_dir(&out).run(workload()));
                    match report {
                        Err(_) => panic!("case {case} panicked while running:\n{text}"),
                        Ok(Ok(r)) => {
                            ran += 1;
                            assert!(out.join("summary.json").is_file(), "case {case}");
                            assert!(r.summary.total_ops <= 1000, "case {case}");
                        }
                        // Only what only starting can tell may still stop it.
                        Ok(Err(e)) => panic!("case {case} passed validation, then did not start: {e}\n{text}"),
                    }
                    let _ = std::fs::remove_dir_all(&out);
                }
            }
        }
    }
    eprintln!("{CASES} mutations: {refused} refused, {valid} valid, {ran} of them run");
    assert!(refused > CASES / 4, "most mutations break something: {refused} refused");
    assert!(ran > 20, "valid mutations were run too: {ran}");
}
