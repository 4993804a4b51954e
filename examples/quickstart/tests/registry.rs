//! The registry holds exactly the workloads this crate defines, in sorted order.

use quickstart as _;

#[test]
fn exactly_the_quickstart_workloads_are_registered() {
    let found: Vec<(&str, &str)> = stress_core::registry::entries()
        .iter()
        .map(|e| (e.module_path, e.name))
        .collect();
    assert_eq!(found, [("quickstart", "orders")]);
    let e = stress_core::registry::find("orders").unwrap();
    assert_eq!(e.options.duration, Some(std::time::Duration::from_secs(10)));
    assert!(e.file.ends_with("lib.rs"), "{}", e.file);
    assert!(!e.options.ignore);
}

/// The README shows the quickstart workload in full: keep it the truth.
#[test]
fn the_readme_shows_this_very_workload() {
    let readme = include_str!("../../../README.md");
    let source = include_str!("../src/lib.rs");
    assert!(
        readme.contains(source),
        "README.md must contain examples/quickstart/src/lib.rs verbatim"
    );
}
