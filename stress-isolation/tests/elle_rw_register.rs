//! Elle's rw-register tests (`test/elle/rw_register_test.clj`), restated. Elle's `op` language:
//! `wx1` writes 1 to x, `rx1` reads x = 1, `rx_` reads x = nil; see `common::rw`.
//!
//! This checker infers version orders from the initial nil and from writes-follow-reads (always
//! on), never from process or real-time order. Not restated, and why:
//! - `ext-index-test`, `ext-key-graph*`, `transaction-graph->version-graphs-test`,
//!   `version-graphs->transaction-graphs-test`: Elle's internal functions.
//! - checker-test "G0" and "cyclic version order", "Read read returns what was just been
//!   written", "G2-item", `scc-sort-bug-test`, `cyclic-versions-bug-test`: they need
//!   `:sequential-keys?` / `:linearizable-keys?` (version order from process or real-time
//!   order), which are not inferred here; G0, G2-item and cyclic versions are shown below with
//!   histories whose orders writes-follow-reads reveals.
//! - "G-single transaction-order", "G2-item transaction-order": Elle's `:transaction-order`
//!   option (white-box commit order) has no counterpart.
//! - "wfr" with `:wfr-keys? false`: writes-follow-reads is always on here.
//! - "writing files", `type-sanity`, `lost-update-test` (no lost-update kind), perf tests.

mod common;

use common::*;
use stress_isolation::{Kind, Model, Outcome, Report, Txn};

fn check_rw(h: &[Txn], model: Model) -> Report {
    run(h, Kind::RwRegister, model)
}

/// internal-cases-test "stale", "nil read" and "good".
#[test]
fn internal() {
    for t in ["rx1wx2rx1", "rx_rx2"] {
        let r = check_rw(&concurrent(vec![ok(rw(t))]), Model::ReadCommitted);
        assert_eq!(kinds(&r), ["internal"], "{t}");
    }
    // checker-test "internal": rx1rx2.
    assert_eq!(
        kinds(&check_rw(&concurrent(vec![ok(rw("rx1rx2"))]), Model::ReadCommitted)),
        ["internal"]
    );
    assert!(check_rw(&concurrent(vec![ok(rw("ry2wx2rx2wx1rx1"))]), Model::StrictSerializable).valid());
}

/// g1a-cases-test "bad" and checker-test "G1a": a read of a failed write.
#[test]
fn g1a() {
    let h = concurrent(vec![ok(rw("rx2")), fail(rw("wx2"))]);
    let r = check_rw(&h, Model::ReadCommitted);
    assert_eq!(kinds(&r), ["G1a"]);
    assert_eq!(witness_txns(&r, "G1a"), [0, 1]);
    // "good"
    assert!(
        check_rw(
            &concurrent(vec![ok(rw("wx1")), ok(rw("rx1"))]),
            Model::StrictSerializable
        )
        .valid()
    );
}

/// g1b-cases-test "bad" and checker-test "G1b": a read of an intermediate write.
#[test]
fn g1b() {
    for h in [
        concurrent(vec![ok(rw("rx2")), ok(rw("wx2wx1"))]),
        concurrent(vec![ok(rw("wx1wx2")), ok(rw("rx1"))]),
    ] {
        let r = check_rw(&h, Model::RepeatableRead);
        assert_eq!(kinds(&r), ["G1b"]);
        assert!(!r.valid());
    }
}

/// checker-test "G1c": T2 observes T1's write of x, and T1 T2's write of y.
#[test]
fn g1c() {
    let h = concurrent(vec![ok(rw("wx1ry1")), ok(rw("wy1rx1"))]);
    for model in [Model::ReadCommitted, Model::Serializable] {
        let r = check_rw(&h, model);
        assert_eq!(kinds(&r), ["G1c"]);
        assert_eq!(r.witnesses[0].edges, ["wr", "wr"]);
    }
    // wr-graph-test "chain across two registers".
    let h = concurrent(vec![ok(rw("rx0wy1")), ok(rw("ry1wx0"))]);
    assert_eq!(kinds(&check_rw(&h, Model::ReadCommitted)), ["G1c"]);
}

/// wr-graph-test "chain on one register": a wr cycle, and writes-follow-reads makes x's
/// versions cyclic (0 < 1 < 0).
#[test]
fn chain_on_one_register() {
    let h = concurrent(vec![ok(rw("rx0wx1")), ok(rw("rx1wx0"))]);
    let r = check_rw(&h, Model::ReadCommitted);
    assert_eq!(kinds(&r), ["G1c", "cyclic-versions"]);
}

/// checker-test "initial state": nil precedes every value, so T1's nil read of x precedes T2's
/// write of x, while T1 read T2's y: G-single.
#[test]
fn initial_state_g_single() {
    let h = concurrent(vec![ok(rw("rx_ry1")), ok(rw("wy1wx2"))]);
    let r = check_rw(&h, Model::Serializable);
    assert_eq!(kinds(&r), ["G-single"]);
    assert_eq!(witness_txns(&r, "G-single"), [0, 1]);
    let mut edges = r.witnesses[0].edges.clone();
    edges.sort();
    assert_eq!(edges, ["rw", "wr"]);
}

/// checker-test "wfr" with `:wfr-keys? true`: T1 read y = 1 and wrote y = 2, so 1 < 2.
#[test]
fn writes_follow_reads_g_single() {
    let h = concurrent(vec![ok(rw("ry1wx1wy2")), ok(rw("rx1ry1"))]);
    let r = check_rw(&h, Model::Serializable);
    assert_eq!(kinds(&r), ["G-single"]);
    assert!(check_rw(&h, Model::ReadCommitted).valid());
}

/// wr-graph-test "write skew": legal for wr alone; with writes-follow-reads it is G2-item,
/// which snapshot isolation allows and serializable does not.
#[test]
fn write_skew() {
    let h = concurrent(vec![ok(rw("rx0ry0wx1")), ok(rw("rx0ry0wy1"))]);
    let r = check_rw(&h, Model::Serializable);
    assert_eq!(kinds(&r), ["G2-item"]);
    assert!(!r.valid());
    assert!(check_rw(&h, Model::SnapshotIsolation).valid());
    // The same from the initial state (our own case).
    let h = concurrent(vec![ok(rw("rx_wy1")), ok(rw("ry_wx1"))]);
    assert_eq!(kinds(&check_rw(&h, Model::Serializable)), ["G2-item"]);
}

/// checker-test "cyclic version order", restated with writes-follow-reads instead of
/// sequential keys: 1 < 2 and 2 < 1.
#[test]
fn cyclic_versions() {
    let h = concurrent(vec![ok(rw("wx1")), ok(rw("rx1wx2")), ok(rw("rx2wx1"))]);
    let r = check_rw(&h, Model::ReadCommitted);
    assert!(r.anomalies.contains_key("cyclic-versions"), "{r:#?}");
    assert!(!r.valid());
}

/// A G0 whose orders writes-follow-reads reveals (our own case, standing for checker-test
/// "G0"): x: T1's 1 < T2's 4, y: T2's 2 < T1's 3.
#[test]
fn g0() {
    let h = concurrent(vec![ok(rw("wx1ry2wy3")), ok(rw("rx1wx4wy2"))]);
    let r = check_rw(&h, Model::ReadCommitted);
    assert_eq!(kinds(&r), ["G0"]);
    assert_eq!(r.witnesses[0].edges, ["ww", "ww"]);
}

/// Real time: T2 read x = nil after T1's write of x completed (our own case).
#[test]
fn stale_read_is_realtime() {
    let h = sequential(vec![(0, Outcome::Ok, rw("wx1")), (1, Outcome::Ok, rw("rx_"))]);
    assert!(check_rw(&h, Model::Serializable).valid());
    let r = check_rw(&h, Model::StrictSerializable);
    assert_eq!(kinds(&r), ["G-single-realtime"]);
}
