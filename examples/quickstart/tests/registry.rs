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
