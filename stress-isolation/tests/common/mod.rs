//! Helpers shared by the conformance tests: Elle's little transaction languages, restated.
#![allow(dead_code, unreachable_pub)]

pub mod sim;

use stress_isolation::{Kind, Model, Mop, Options, Outcome, ReadValue, Report, Txn, check};

/// Keys as Elle's test languages name them.
fn key(c: char) -> Option<u64> {
    "xyztu".find(c).map(|k| k as u64)
}

/// Elle's list-append language: `ax1` appends 1 to x, `rx12` reads x = [1 2], `ry` reads y = [].
pub fn la(s: &str) -> Vec<Mop> {
    let mut mops: Vec<Mop> = Vec::new();
    let mut pending: Option<(char, Option<u64>, Vec<u64>)> = None;
    let flush = |p: Option<(char, Option<u64>, Vec<u64>)>, mops: &mut Vec<Mop>| {
        if let Some((f, Some(k), vs)) = p {
            mops.push(match f {
                'a' => Mop::Append { key: k, value: vs[0] },
                _ => Mop::Read {
                    key: k,
                    value: ReadValue::List(vs),
                },
            });
        }
    };
    for c in s.chars() {
        match c {
            'a' | 'r' => flush(pending.replace((c, None, Vec::new())), &mut mops),
            _ if key(c).is_some() => pending.as_mut().expect("op first").1 = key(c),
            _ => pending
                .as_mut()
                .expect("op first")
                .2
                .push(c.to_digit(10).expect("digit") as u64),
        }
    }
    flush(pending, &mut mops);
    mops
}

/// Elle's rw-register language: `wx1` writes 1 to x, `rx1` reads x = 1, `rx_` reads x = nil.
pub fn rw(s: &str) -> Vec<Mop> {
    let mut mops = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    for op in chars.chunks(3) {
        let k = key(op[1]).expect("key");
        let v = if op[2] == '_' {
            None
        } else {
            Some(op[2].to_digit(10).expect("digit") as u64)
        };
        mops.push(match op[0] {
            'w' => Mop::Write {
                key: k,
                value: v.expect("writes have values"),
            },
            _ => Mop::Read {
                key: k,
                value: ReadValue::Register(v),
            },
        });
    }
    mops
}

/// Transactions all concurrent (invoked at 0, completed at 100), each its own user: no process
/// or real-time order, like Elle's histories of completions without invocations.
pub fn concurrent(txns: Vec<(Outcome, Vec<Mop>)>) -> Vec<Txn> {
    txns.into_iter()
        .enumerate()
        .map(|(i, (outcome, mops))| Txn {
            process: i as u32,
            invoke_us: 0,
            complete_us: 100,
            outcome,
            mops,
        })
        .collect()
}

/// Transactions one after another in real time (Elle's invoke/complete pairs in sequence), on
/// the given users.
pub fn sequential(txns: Vec<(u32, Outcome, Vec<Mop>)>) -> Vec<Txn> {
    txns.into_iter()
        .enumerate()
        .map(|(i, (process, outcome, mops))| Txn {
            process,
            invoke_us: 10 * i as u64,
            complete_us: 10 * i as u64 + 5,
            outcome,
            mops,
        })
        .collect()
}

pub fn ok(mops: Vec<Mop>) -> (Outcome, Vec<Mop>) {
    (Outcome::Ok, mops)
}

pub fn fail(mops: Vec<Mop>) -> (Outcome, Vec<Mop>) {
    (Outcome::Fail, mops)
}

pub fn run(history: &[Txn], kind: Kind, model: Model) -> Report {
    let report = check(
        history,
        &Options {
            model,
            kind,
            ..Options::default()
        },
    );
    // Every report survives the round trip through JSON (it goes into summary.json).
    let json = serde_json::to_string(&report).expect("serialize");
    assert_eq!(serde_json::from_str::<Report>(&json).expect("deserialize"), report);
    report
}

/// The anomaly names found, sorted.
pub fn kinds(r: &Report) -> Vec<&str> {
    r.anomalies.keys().map(String::as_str).collect()
}

/// The history indices of the first witness of `anomaly`, sorted (cycles may start anywhere).
pub fn witness_txns(r: &Report, anomaly: &str) -> Vec<u64> {
    let w = r
        .witnesses
        .iter()
        .find(|w| w.anomaly == anomaly)
        .unwrap_or_else(|| panic!("no {anomaly} witness: {r:#?}"));
    let mut ix = w.indices();
    ix.sort_unstable();
    ix
}
