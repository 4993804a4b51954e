use super::*;

#[test]
fn durations_read_as_people_write_them() {
    assert_eq!(human_ms(300), "300ms");
    assert_eq!(human_ms(2_000), "2s");
    assert_eq!(human_ms(2_500), "2.5s");
}

#[test]
fn a_durability_failure_without_lost_writes_is_matched_on_what_it_had() {
    let unexpected = |n| FailureKind::Durability {
        lost: 0,
        unexpected: n,
        first_lost: Vec::new(),
        first_unexpected: Vec::new(),
        errors: Vec::new(),
    };
    assert!(same_kind(&unexpected(3), &unexpected(1)));
    assert!(!same_kind(&unexpected(3), &unexpected(0)));
    let rule = |r: &str| FailureKind::Threshold {
        rule: r.into(),
        observed: 1.0,
        unit: "ms".into(),
    };
    assert!(same_kind(&rule("p99<1ms"), &rule("p99<1ms")));
    assert!(!same_kind(&rule("p99<1ms"), &rule("p50<1ms")));
    assert!(same_kind(
        &FailureKind::Crash { detail: "a".into() },
        &FailureKind::Crash { detail: "b".into() }
    ));
}
