//! The history file, witness sentences, and a randomized control: a long serial history is
//! clean, and the same history with two reads swapped is caught.

mod common;

use common::*;
use stress_isolation::history::{self, Writer};
use stress_isolation::{Kind, Model, Mop, Options, Outcome, ReadValue, Txn, check};

fn sample() -> Vec<Txn> {
    vec![
        Txn {
            process: 1,
            invoke_us: 5,
            complete_us: 9,
            outcome: Outcome::Ok,
            mops: vec![
                Mop::Append { key: 3, value: 7 },
                Mop::Read {
                    key: 3,
                    value: ReadValue::List(vec![1, 7]),
                },
            ],
        },
        Txn {
            process: 2,
            invoke_us: 6,
            complete_us: 12,
            outcome: Outcome::Info,
            mops: vec![
                Mop::Write { key: 4, value: 1 },
                Mop::Read {
                    key: 4,
                    value: ReadValue::None,
                },
                Mop::Read {
                    key: 5,
                    value: ReadValue::Register(None),
                },
                Mop::Read {
                    key: 6,
                    value: ReadValue::Register(Some(2)),
                },
            ],
        },
    ]
}

#[test]
fn history_round_trips_in_compact_json() {
    let mut w = Writer::new(Vec::new());
    for t in sample() {
        w.write(&t).unwrap();
    }
    w.flush().unwrap();
    let text = String::from_utf8(w.into_inner()).unwrap();
    assert!(text.contains(r#""mops":[["a",3,7],["r",3,[1,7]]]"#), "{text}");
    assert!(text.contains(r#"["w",4,1],["r",4],["r",5,null],["r",6,2]"#), "{text}");
    let back = history::read_from(text.as_bytes(), "history.jsonl").unwrap();
    assert_eq!(back, sample());
}

#[test]
fn damaged_file_names_file_and_line() {
    let mut w = Writer::new(Vec::new());
    for t in sample() {
        w.write(&t).unwrap();
    }
    let good = String::from_utf8(w.into_inner()).unwrap();
    // Bad JSON on line 3.
    let bad = format!("{good}{{\"process\":1,,}}\n");
    let e = history::read_from(bad.as_bytes(), "history.jsonl")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("history.jsonl:3: "), "{e}");
    assert!(!e.contains('\n'), "{e}");
    // A truncated last line (a crash mid-write).
    let first = good.lines().next().unwrap();
    let truncated = format!("{good}{}", &first[..first.len() / 2]);
    let e = history::read_from(truncated.as_bytes(), "history.jsonl")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("history.jsonl:3: truncated line"), "{e}");
    // A wrong micro-operation.
    let wrong = good.replace(r#"["a",3,7]"#, r#"["x",3,7]"#);
    let e = history::read_from(wrong.as_bytes(), "h.jsonl").unwrap_err().to_string();
    assert!(
        e.starts_with("h.jsonl:1: ") && e.contains("unknown micro-operation"),
        "{e}"
    );
    // And from a file on disk.
    let dir = std::env::temp_dir().join(format!("stress-isolation-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("history.jsonl");
    std::fs::write(&path, bad).unwrap();
    let e = history::read(&path).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:3: ", path.display())), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn merge_orders_shards_by_invoke_time() {
    let mut a = sample();
    a.truncate(1);
    let mut b = sample();
    b.remove(0);
    b[0].invoke_us = 1;
    let merged = history::merge(vec![a, b]);
    assert_eq!(merged.iter().map(|t| t.process).collect::<Vec<_>>(), [2, 1]);
}

#[test]
fn witnesses_read_as_sentences() {
    // G2-item: T0 reads x = [] and appends y; T1 reads y = [] and appends x.
    let h = concurrent(vec![ok(la("rxay1")), ok(la("ryax1"))]);
    let r = run(&h, Kind::ListAppend, Model::Serializable);
    let w = &r.witnesses[0];
    assert_eq!(w.txns[0].name, "T0");
    assert_eq!(w.txns[0].mops, "read 0 []; append 1 1");
    assert_eq!(w.steps.len(), 2);
    for s in &w.steps {
        assert!(s.starts_with('T') && s.ends_with("(rw)"), "{s}");
        assert!(s.contains("read key") && s.contains("appended"), "{s}");
    }
    // G1c: wr and ww sentences.
    let h = concurrent(vec![ok(la("ax1ry1")), ok(la("ax2ay1")), ok(la("rx12ry1"))]);
    let r = run(&h, Kind::ListAppend, Model::Serializable);
    let steps = r.witnesses[0].steps.join(" | ");
    assert!(
        steps.contains("read key 1 and saw 1 last, which T") && steps.contains("(wr)"),
        "{steps}"
    );
    assert!(
        steps.contains("'s append of 2 to key 0 came right after T") && steps.contains("(ww)"),
        "{steps}"
    );
    // Real time and process.
    let h = sequential(vec![
        (0, Outcome::Ok, la("ax1")),
        (1, Outcome::Ok, la("ax2")),
        (1, Outcome::Ok, la("rx1")),
        (2, Outcome::Ok, la("rx12")),
    ]);
    let r = run(&h, Kind::ListAppend, Model::StrictSerializable);
    let steps = r.witnesses[0].steps.join(" | ");
    assert!(
        steps.contains("are the same user (process 1)") && steps.contains("first (process)"),
        "{steps}"
    );
    let h = sequential(vec![(0, Outcome::Ok, rw("wx1")), (1, Outcome::Ok, rw("rx_"))]);
    let r = run(&h, Kind::RwRegister, Model::StrictSerializable);
    let steps = r.witnesses[0].steps.join(" | ");
    assert!(
        steps.contains("completed before") && steps.contains("began (realtime)"),
        "{steps}"
    );
    assert!(steps.contains("read key 0 as nil"), "{steps}");
}

#[test]
fn random_serial_history_is_clean_and_a_swap_is_caught() {
    let h = sim::serial_list_append(20_000, 8, 16, 100, 7);
    let opts = Options {
        model: Model::StrictSerializable,
        ..Options::default()
    };
    let r = check(&h, &opts);
    assert!(r.valid(), "{:?} {:?}", r.anomalies, r.witnesses.first());
    assert_eq!(r.txns, 20_000);
    // Swap the values of an early and a late read of one key (lengths differ).
    let reads: Vec<(usize, usize, u64, usize)> = h
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            t.mops.iter().enumerate().filter_map(move |(j, m)| match m {
                Mop::Read {
                    key,
                    value: ReadValue::List(l),
                } => Some((i, j, *key, l.len())),
                _ => None,
            })
        })
        .collect();
    let &(i, j, key, len) = reads.iter().find(|r| r.0 > 1000 && r.3 > 2).unwrap();
    let &(i2, j2, _, _) = reads
        .iter()
        .rev()
        .find(|r| r.2 == key && r.3 > len && r.0 > i + 300)
        .expect("a later read");
    let mut bad = h.clone();
    let a = std::mem::replace(&mut bad[i].mops[j], Mop::Append { key: 0, value: 0 });
    let b = std::mem::replace(&mut bad[i2].mops[j2], a);
    bad[i].mops[j] = b;
    let r = check(&bad, &opts);
    assert!(!r.valid(), "a swapped read must be caught");
    assert!(!r.forbidden.is_empty());
}
