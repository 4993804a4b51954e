//! Content addressing over a small ramp of `entities` (op limits, not durations: nothing here
//! depends on timing): every lookup finds its entity and checks its hash, no address collides,
//! the verify step counts every entity, and the sweep report carries the scaling check.

use stress_core::Runner;
use stress_core::sweep::{self, Kind, ParamSpec, Plan, SweepReport};

#[test]
fn a_ramp_of_entities_holds_with_no_collision() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::new(vec![ParamSpec::parse("entities=1k..10k:*10").unwrap()]).unwrap();
    let mut report = SweepReport::new(Kind::Sweep, "content_addressing", plan);
    sweep::drive(&mut report, dir.path(), &|| false, |cell, out| {
        let mut runner = Runner::new("content_addressing")
            .seed(4)
            .ops_per_user(20)
            .output_dir(out);
        for (k, v) in cell {
            runner = runner.param(k, v);
        }
        runner
            .run(scale::content_addressing())
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .unwrap();
    assert_eq!(report.iterations.len(), 2);
    for it in &report.iterations {
        assert!(it.status.is_ok(), "{}: {}", it.label(), it.detail);
        assert_eq!(it.metrics.figures["collisions"], 0.0);
        assert!(
            it.metrics.figures["bytes_per_entity"] > 64.0,
            "{:?}",
            it.metrics.figures
        );
        assert!(it.metrics.per_op.contains_key("generate") && it.metrics.per_op.contains_key("lookup"));
    }
    let s = stress_core::Summary::load(&dir.path().join("iter-002/summary.json")).unwrap();
    assert_eq!(s.ops["lookup"].count, 60, "3 readers × 20");
    assert_eq!(s.failed_ops, 0, "{:?}", s.errors.first());
    assert_eq!(s.total_rows, 20 * scale::GENERATE_BATCH + 60);
    assert!(s.verify.ran && s.verify.passed, "{:?}", s.verify);
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    for col in [
        "figure_collisions",
        "figure_bytes_per_entity",
        "op_generate_per_sec",
        "op_lookup_per_sec",
        "phase_address_ms",
    ] {
        assert!(header.split(',').any(|h| h == col), "{col} in {header}");
    }
    let md = std::fs::read_to_string(dir.path().join("sweep.md")).unwrap();
    assert!(md.contains("- entities 1000→10000 (2 points): rows/s ×"), "{md}");
}

#[test]
fn an_entity_is_found_under_the_hash_of_its_content() {
    let ns = scale::namespace(42);
    assert_eq!(ns, scale::namespace(42));
    let (a, b) = (scale::entity(ns, 7), scale::entity(ns, 8));
    assert_eq!(a, scale::entity(ns, 7), "regenerated alike");
    assert!((64..192).contains(&a.len()) && a != b);
    assert_eq!(scale::address(&a), scale::address(&a.clone()));
    assert_ne!(scale::address(&a), scale::address(&b));
}
