//! The guide's durability snippet, exactly as the guide shows it (its checkers page includes this
//! file), run as written: on a hosted SQLite killed again and again, and on a managed PostgreSQL killed
//! once. Every acknowledged write is there afterwards.

use std::time::Duration;

use stress_postgres::Postgres;
use stress_sqlite::Sqlite;

/// The harness re-runs itself as SQLite's engine host (`STRESS_SQLITE_HOST`); in any other run
/// this returns at once.
#[test]
fn engine_host() {
    stress_core::serve_engine_host();
}

#[path = "readme/durability.rs"]
#[expect(
    unreachable_pub,
    reason = "the guide shows the snippet as a workload crate of a user's would have it"
)]
mod snippet;

/// The guide shows this very file: its checkers page includes it in a Rust block (mdBook's
/// `{{#include}}`, which the guide's doctests expand as well, compiling and running it).
#[test]
fn the_guide_shows_this_very_snippet() {
    let page = include_str!("../../../docs/guide/src/checkers.md");
    assert!(
        page.contains("```rust\n{{#include ../../../examples/isolation/tests/readme/durability.rs}}\n"),
        "docs/guide/src/checkers.md must include examples/isolation/tests/readme/durability.rs"
    );
}

fn assert_kept(s: &stress_core::Summary) {
    assert!(s.passed, "{:?} {:?}", s.failures, s.errors.first());
    let d = s.durability.as_ref().expect("tracked");
    assert!(d.acknowledged > 50, "{d:?}");
    assert_eq!((d.lost, d.unexpected), (0, 0), "{d:?}");
}

#[test]
fn the_readme_durability_snippet_runs_on_hosted_sqlite_under_kills() {
    let s = stress_core::Runner::new("readme_sqlite")
        .seed(2)
        .duration(Duration::from_secs(5))
        .fault("kill@every=1s..2s")
        .run(snippet::tracked(Sqlite::temp_file().hosted()))
        .unwrap()
        .summary;
    assert!(
        s.faults.iter().any(|f| f.skipped.is_none() && f.error.is_none()),
        "{:?}",
        s.faults
    );
    assert_kept(&s);
}

#[test]
fn the_readme_durability_snippet_runs_on_postgres() {
    let s = stress_core::Runner::new("readme_postgres")
        .seed(2)
        .duration(Duration::from_secs(3))
        .fault("kill@at=1s")
        .run(snippet::tracked(Postgres::managed().setting("fsync", "off")))
        .unwrap()
        .summary;
    assert_kept(&s);
}
