//! Elle's list-append tests (`test/elle/list_append_test.clj`), restated: the same histories and
//! the anomaly names Elle expects. Elle's `op` language: `ax1` appends 1 to x, `rx12` reads
//! x = [1 2]; see `common::la`.
//!
//! Not restated, and why:
//! - `op-test`, `ww-graph-test`, `wr-graph-test`, `graph-test` (edge sets) and the
//!   `g1a-cases`/`g1b-cases`/`internal-cases` unit tests: they test Elle's internal functions;
//!   their histories are restated below as whole-checker tests where they show an anomaly.
//! - "duplicate inserts attempts": Elle throws; here a value appended twice is a history error
//!   (`duplicate_appends_are_a_history_error`).
//! - the incompatible-order HTML file check, `huge-scc-test`, `unfindable-g-single`,
//!   `intermediate-sequential-extension-test`, the `sim-*` and `*-perf-test` tests: Elle's
//!   plotting, history files, simulator and timing.
//! - `lost-update`: not an anomaly kind here; its history is restated for the G2-item Elle also
//!   reports.
//! - Elle's per-request anomaly filters (`:anomalies [:G1]`): this checker always reports every
//!   kind it finds; the model decides which are forbidden.

mod common;

use common::*;
use stress_isolation::{Kind, Model, Mop, Outcome, ReadValue, Txn};

const LA: Kind = Kind::ListAppend;

fn check_la(h: &[Txn], model: Model) -> stress_isolation::Report {
    run(h, LA, model)
}

/// graph-test "G2: anti-dependency cycle": two transactions each read the empty list the other
/// appends to.
#[test]
fn graph_g2_anti_dependency_cycle() {
    let h = concurrent(vec![ok(la("rxay1")), ok(la("ryax1")), ok(la("rx1ry1"))]);
    let r = check_la(&h, Model::Serializable);
    assert_eq!(kinds(&r), ["G2-item"]);
    assert_eq!(witness_txns(&r, "G2-item"), [0, 1]);
}

/// graph-test "info reads": an info txn's unknown read says nothing (no rw edge), while its
/// observed append counts as committed.
#[test]
fn info_reads_are_not_anti_dependencies() {
    let h = concurrent(vec![
        (
            Outcome::Info,
            vec![
                Mop::Append { key: 0, value: 2 },
                Mop::Read {
                    key: 1,
                    value: ReadValue::None,
                },
            ],
        ),
        ok(la("ax1ay1")),
        ok(la("rx12ry1")),
    ]);
    let r = check_la(&h, Model::StrictSerializable);
    assert!(r.valid(), "{r:#?}");
    assert_eq!(r.indeterminate, 1);
}

/// graph-test "single appends without reads" / "multiple appends without reads": appends no read
/// saw still follow the empty read. Made into a cycle by a read of y.
#[test]
fn unobserved_appends_follow_the_empty_read() {
    // T0 reads x = [] and y = [1] (T1's); T1 appends to x (never read): T0 -rw-> T1 -wr-> T0.
    let h = concurrent(vec![ok(la("rxry1")), ok(la("ax1ay1"))]);
    let r = check_la(&h, Model::Serializable);
    assert_eq!(kinds(&r), ["G-single"]);
}

/// checker-test "G0": a pure write cycle (x => T1, T2; y => T2, T1).
#[test]
fn g0() {
    let h = concurrent(vec![ok(la("ax1ay1")), ok(la("ax2ay2")), ok(la("rx12ry21"))]);
    let r = check_la(&h, Model::ReadCommitted);
    assert_eq!(kinds(&r), ["G0"]);
    assert_eq!(witness_txns(&r, "G0"), [0, 1]);
    assert_eq!(r.witnesses[0].edges, ["ww", "ww"]);
    assert!(!r.valid());
}

/// checker-test "G1a": T2 sees T1's failed append.
#[test]
fn g1a() {
    let h = concurrent(vec![fail(la("ax1")), ok(la("rx1"))]);
    for model in [Model::ReadCommitted, Model::RepeatableRead] {
        let r = check_la(&h, model);
        assert_eq!(kinds(&r), ["G1a"]);
        assert_eq!(r.forbidden, ["G1a"]);
        assert_eq!(witness_txns(&r, "G1a"), [0, 1]);
    }
}

/// checker-test "G1b": T2 sees T1's intermediate append; also G-single (Elle: G-single-item),
/// since rx1 observes ax1 but not ax2.
#[test]
fn g1b() {
    let h = sequential(vec![(0, Outcome::Ok, la("ax1ax2")), (0, Outcome::Ok, la("rx1"))]);
    let r = check_la(&h, Model::StrictSerializable);
    assert_eq!(kinds(&r), ["G-single", "G1b"]);
    assert_eq!(witness_txns(&r, "G-single"), [0, 1]);
    // g1b-cases "internal reads": reading one's own intermediate append is fine.
    let own = concurrent(vec![ok(la("ax1rx1ax2"))]);
    assert!(check_la(&own, Model::StrictSerializable).valid());
}

/// checker-test "G1c": T2 appends x after T1, but T1 observes T2's append to y.
#[test]
fn g1c() {
    let h = concurrent(vec![ok(la("ax1ry1")), ok(la("ax2ay1")), ok(la("rx12ry1"))]);
    let r = check_la(&h, Model::ReadCommitted);
    assert_eq!(kinds(&r), ["G1c"]);
    assert_eq!(witness_txns(&r, "G1c"), [0, 1]);
    let mut edges = r.witnesses[0].edges.clone();
    edges.sort();
    assert_eq!(edges, ["wr", "ww"]);
}

/// checker-test "G-single": G0 and G1 checkers miss it, repeatable-read and up catch it.
#[test]
fn g_single() {
    let h = concurrent(vec![ok(la("ax1ay1")), ok(la("ax2ry")), ok(la("rx12"))]);
    let r = check_la(&h, Model::SnapshotIsolation);
    assert_eq!(kinds(&r), ["G-single"]);
    assert_eq!(witness_txns(&r, "G-single"), [0, 1]);
    assert!(!r.valid());
    assert!(check_la(&h, Model::ReadCommitted).valid());
    assert!(!check_la(&h, Model::RepeatableRead).valid());
}

/// checker-test "G2" and repeatable-read-test: a pure anti-dependency cycle; read-committed and
/// snapshot isolation allow it, repeatable-read and serializable do not.
#[test]
fn g2_item_and_model_verdicts() {
    for h in [
        concurrent(vec![ok(la("ax1ry")), ok(la("ay1rx"))]),
        concurrent(vec![ok(la("rxay1")), ok(la("ryax1"))]),
    ] {
        let r = check_la(&h, Model::Serializable);
        assert_eq!(kinds(&r), ["G2-item"]);
        assert_eq!(r.forbidden, ["G2-item"]);
        assert_eq!(witness_txns(&r, "G2-item"), [0, 1]);
        assert_eq!(r.witnesses[0].edges, ["rw", "rw"]);
        assert!(check_la(&h, Model::ReadCommitted).valid());
        assert!(check_la(&h, Model::SnapshotIsolation).valid());
        assert!(!check_la(&h, Model::RepeatableRead).valid());
        assert!(!check_la(&h, Model::StrictSerializable).valid());
    }
}

/// checker-test "Strong SI violation": T2 reads x = [1] after T1's append of 2 completed.
#[test]
fn g_single_realtime() {
    let h = sequential(vec![
        (0, Outcome::Ok, la("ax1")),
        (1, Outcome::Ok, la("ax2")),
        (2, Outcome::Ok, la("rx1")),
        (3, Outcome::Ok, la("rx12")),
    ]);
    assert!(check_la(&h, Model::Serializable).valid());
    let r = check_la(&h, Model::StrictSerializable);
    assert_eq!(kinds(&r), ["G-single-realtime"]);
    assert_eq!(witness_txns(&r, "G-single-realtime"), [1, 2]);
    let w = &r.witnesses[0];
    assert!(w.edges.contains(&"realtime".to_string()) && w.edges.contains(&"rw".to_string()));
}

/// checker-test "Strong Session SI violation": the same, but T1 and T2 are one user. Elle
/// reports G-single-item-process under strong-session SI; here process edges are always built,
/// so serializable reports it as allowed and strict-serializable forbids it.
#[test]
fn g_single_process() {
    let h = sequential(vec![
        (0, Outcome::Ok, la("ax1")),
        (1, Outcome::Ok, la("ax2")),
        (1, Outcome::Ok, la("rx1")),
        (2, Outcome::Ok, la("rx12")),
    ]);
    let r = check_la(&h, Model::Serializable);
    assert_eq!(kinds(&r), ["G-single-process"]);
    assert!(r.valid());
    let r = check_la(&h, Model::StrictSerializable);
    assert_eq!(kinds(&r), ["G-single-process"]);
    assert_eq!(witness_txns(&r, "G-single-process"), [1, 2]);
    assert_eq!(r.forbidden, ["G-single-process"]);
}

/// checker-test "G-nonadjacent-process" (elle issue 17). Under strict-serializable the
/// real-time order adds G1c-realtime and G-single-realtime: T0 read z = [1] although T3 appended
/// it only after T0 had completed (Elle's strong-session check has no real-time edges).
#[test]
fn g_nonadjacent_process() {
    let h = sequential(vec![
        (0, Outcome::Ok, la("rxrz1")),
        (1, Outcome::Ok, la("ax1")),
        (1, Outcome::Ok, la("rz")),
        (2, Outcome::Ok, la("az1")),
    ]);
    let r = check_la(&h, Model::Serializable);
    assert_eq!(kinds(&r), ["G-nonadjacent-process"]);
    assert!(r.valid());
    let r = check_la(&h, Model::StrictSerializable);
    assert_eq!(
        kinds(&r),
        ["G-nonadjacent-process", "G-single-realtime", "G1c-realtime"]
    );
    assert_eq!(witness_txns(&r, "G-nonadjacent-process"), [0, 1, 2, 3]);
}

/// checker-test "contradictory read orders": [1 3] and [1 2 3] cannot both be prefixes.
#[test]
fn incompatible_order() {
    let h = concurrent(vec![
        ok(la("ax1ry1")),
        ok(la("ax2")),
        ok(la("ax3ay1")),
        ok(la("rx13")),
        ok(la("rx123")),
    ]);
    let r = check_la(&h, Model::ReadCommitted);
    assert_eq!(kinds(&r), ["G1c", "incompatible-order"]);
    assert_eq!(witness_txns(&r, "G1c"), [0, 1, 2]);
    assert_eq!(witness_txns(&r, "incompatible-order"), [3, 4]);
}

/// checker-test "dirty update" direct and indirect (Elle also calls the read of the failed
/// append G1a, which it was not asked for there).
#[test]
fn dirty_update() {
    let direct = concurrent(vec![fail(la("ax1")), ok(la("ax2")), ok(la("rx12"))]);
    let r = check_la(&direct, Model::ReadCommitted);
    assert_eq!(kinds(&r), ["G1a", "dirty-update"]);
    assert_eq!(witness_txns(&r, "dirty-update"), [0, 1]);
    let indirect = concurrent(vec![
        fail(la("ax1")),
        (Outcome::Info, la("ax2")),
        ok(la("ax3")),
        ok(la("rx123")),
    ]);
    let r = check_la(&indirect, Model::ReadCommitted);
    assert_eq!(kinds(&r), ["G1a", "dirty-update"]);
    assert_eq!(witness_txns(&r, "dirty-update"), [0, 2]);
    // "none": a failed append alone is fine.
    assert!(check_la(&concurrent(vec![fail(la("ax1"))]), Model::StrictSerializable).valid());
}

/// checker-test "duplicated elements": [1 2 1]; also G1c, and (as Elle notes) a G-single, since
/// the read looks like 1 was appended last.
#[test]
fn duplicate_elements() {
    let h = concurrent(vec![ok(la("ax1ry1")), ok(la("ax2ay1")), ok(la("rx121"))]);
    let r = check_la(&h, Model::ReadCommitted);
    assert_eq!(kinds(&r), ["G-single", "G1c", "duplicate-elements"]);
    assert_eq!(r.forbidden, ["G1c", "duplicate-elements"]);
    assert_eq!(witness_txns(&r, "duplicate-elements"), [2]);
}

/// checker-test "internal consistency violation" (Elle: "There's a G0 here too").
#[test]
fn internal() {
    let h = concurrent(vec![ok(la("ax1ax2ax4")), ok(la("ax3rx1234"))]);
    let r = check_la(&h, Model::ReadCommitted);
    assert_eq!(kinds(&r), ["G0", "internal"]);
    assert_eq!(witness_txns(&r, "internal"), [1]);
}

/// internal-cases-test: "read nil, then something", "read-append-read" (4 cases),
/// "append-read" (2 cases), "FaunaDB example"; and "good".
#[test]
fn internal_cases() {
    let count = |h: &[Txn]| {
        check_la(h, Model::ReadCommitted)
            .anomalies
            .get("internal")
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(count(&concurrent(vec![ok(la("rxrx2"))])), 1);
    let rar = ["rx12ax3rx12", "rx12ax3rx023", "rx12ax3rx1234", "rx12ax3rx1"];
    for t in rar {
        assert_eq!(count(&concurrent(vec![ok(la(t))])), 1, "{t}");
    }
    assert_eq!(count(&concurrent(vec![ok(la("ax3rx1234"))])), 1);
    assert_eq!(count(&concurrent(vec![ok(la("ax3rx"))])), 1);
    assert_eq!(
        count(&concurrent(vec![ok(vec![
            Mop::Append { key: 0, value: 6 },
            Mop::Read {
                key: 0,
                value: ReadValue::List(vec![])
            }
        ])])),
        1
    );
    assert_eq!(count(&concurrent(vec![ok(la("ry56ax3rx123ax4rx1234"))])), 0);
}

/// internal-cases-test "future read external" / "future read internal", and future-read-test.
#[test]
fn future_read() {
    for t in ["rx012ax1", "ax1rx01ax0ax3", "rx1ax1"] {
        let r = check_la(&concurrent(vec![ok(la(t))]), Model::ReadCommitted);
        assert!(r.anomalies.contains_key("future-read"), "{t}: {r:#?}");
        assert!(!r.valid());
    }
}

/// unobserved-write-test: appends no read saw still follow the longest read: G-single and G0.
#[test]
fn unobserved_writes() {
    let h = concurrent(vec![
        ok(la("ax1ay1")),
        ok(la("ax2ay2")),
        ok(la("ax3ay3")),
        ok(la("rx12")),
        ok(la("ry2")),
    ]);
    let r = check_la(&h, Model::Serializable);
    assert_eq!(kinds(&r), ["G-single", "G0"]);
    assert_eq!(witness_txns(&r, "G0"), [0, 1]);
    assert_eq!(witness_txns(&r, "G-single"), [0, 1, 4]);
}

/// G-nonadjacent-test (Elle runs these on one process in sequence; here each is its own user so
/// that the process order adds no G-single-process) and its negative case, rw rw wr rw wr.
#[test]
fn g_nonadjacent() {
    let h = concurrent(vec![ok(la("ax1")), ok(la("rx1ry")), ok(la("ay1")), ok(la("ry1rx"))]);
    let r = check_la(&h, Model::SnapshotIsolation);
    assert_eq!(kinds(&r), ["G-nonadjacent"]);
    assert_eq!(witness_txns(&r, "G-nonadjacent"), [0, 1, 2, 3]);
    assert!(!r.valid());
    let h = concurrent(vec![
        ok(la("rx5ay1")),
        ok(la("ryaz2")),
        ok(la("rzat3")),
        ok(la("rt3au4")),
        ok(la("ruax5")),
    ]);
    assert!(check_la(&h, Model::SnapshotIsolation).valid());
}

/// rr-g-single-item-test and rr-g-nonadjacent-item-test: repeatable-read forbids item G-single
/// and G-nonadjacent.
#[test]
fn repeatable_read_item_cycles() {
    let h = sequential(vec![(0, Outcome::Ok, la("ax1ay1")), (0, Outcome::Ok, la("rx1ry"))]);
    let r = check_la(&h, Model::RepeatableRead);
    assert_eq!(kinds(&r), ["G-single"]);
    assert_eq!(r.forbidden, ["G-single"]);
    let h = concurrent(vec![
        ok(la("ax1at1")),
        ok(la("rx1ry")),
        ok(la("ay1az2")),
        ok(la("rz2rt")),
    ]);
    let r = check_la(&h, Model::RepeatableRead);
    assert_eq!(kinds(&r), ["G-nonadjacent"]);
    assert!(!r.valid());
}

/// lost-update-test: Elle reports lost-update and G2-item; lost update is not a kind here.
#[test]
fn lost_update_is_g2_item() {
    let h = sequential(vec![
        (0, Outcome::Ok, la("ax0")),
        (1, Outcome::Ok, la("rx0ax1")),
        (2, Outcome::Ok, la("rx0ax2")),
    ]);
    let r = check_la(&h, Model::Serializable);
    assert_eq!(kinds(&r), ["G2-item"]);
    assert_eq!(witness_txns(&r, "G2-item"), [1, 2]);
    // "one txn, double write" is fine.
    let h = sequential(vec![(0, Outcome::Ok, la("rxax1ax2")), (0, Outcome::Ok, la("rx12"))]);
    assert!(check_la(&h, Model::StrictSerializable).valid());
}

/// wr-process-test (elle issue 21): t0 -wr-> t1 -process-> t2 -wr-> t0.
#[test]
fn g1c_process() {
    let h = sequential(vec![
        (1, Outcome::Ok, la("rx1ay1")),
        (2, Outcome::Ok, la("ry1")),
        (2, Outcome::Ok, la("ax1")),
    ]);
    let r = check_la(&h, Model::StrictSerializable);
    assert_eq!(kinds(&r), ["G1c-process"]);
    assert_eq!(witness_txns(&r, "G1c-process"), [0, 1, 2]);
    assert!(check_la(&h, Model::Serializable).valid());
}

/// "duplicate inserts attempts": appending one value twice breaks the kit's rule; reported as
/// a history error, not an engine anomaly.
#[test]
fn duplicate_appends_are_a_history_error() {
    let h = concurrent(vec![ok(la("ax1")), ok(la("ay2ax1"))]);
    let r = check_la(&h, Model::ReadCommitted);
    assert!(r.anomalies.is_empty());
    assert_eq!(r.history_errors.len(), 1, "{:?}", r.history_errors);
    assert!(r.history_errors[0].contains("appended twice"));
    assert!(!r.valid());
}

/// A clean serializable history (no Elle counterpart: sim-ssi-test's spirit).
#[test]
fn clean_serial_history() {
    let h = sequential(vec![
        (0, Outcome::Ok, la("ax1ay1")),
        (1, Outcome::Ok, la("rx1ax2")),
        (0, Outcome::Ok, la("rx12ry1az1")),
        (1, Outcome::Fail, la("az9")),
        (2, Outcome::Ok, la("rz1rx12ry1")),
    ]);
    let r = check_la(&h, Model::StrictSerializable);
    assert!(r.valid(), "{r:#?}");
    assert_eq!((r.ok, r.failed), (4, 1));
}
