//! `#[stress_workload]` misuse is a compile error that points at the mistake.
//! Regenerate the expected messages with `TRYBUILD=overwrite cargo test -p stress-core --test ui`
//! and read every changed `.stderr` before committing it.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
