//! What the adapters' fault tests check alike (`#[path]`): that a run served again after a
//! fault, and that a fault's size-limited filesystem left nothing behind.
#![allow(dead_code)]

use std::path::Path;

/// Whether process `pid` is alive (not a zombie).
pub(crate) fn alive(pid: u32) -> bool {
    stress_core::monitor::read_process(&pid.to_string()).is_some_and(|p| p.state != 'Z')
}

/// Asserts that the run in `out` had ops and no failed op in its last two seconds (its
/// `timeseries.csv`): the engine served again after the fault.
pub(crate) fn assert_last_seconds_clean(out: &Path) {
    let csv = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
    };
    let (ops, failed) = (col("ops"), col("failed"));
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let tail = &rows[rows.len().saturating_sub(2)..];
    assert!(
        tail.iter()
            .all(|r| r[ops].parse::<f64>().unwrap() > 0.0 && r[failed].parse::<f64>().unwrap() == 0.0),
        "{csv}"
    );
}

/// Asserts that the size-limited filesystem a `disk-full` fault's row names (`… (a 32 MiB
/// filesystem at /tmp/stress-disk-x, held by pid 42)`) left nothing behind: not its holder, not
/// its mountpoint, no process naming it.
pub(crate) fn assert_filesystem_gone(target: &str) {
    let (mountpoint, holder) = target
        .rsplit_once(" at ")
        .and_then(|(_, rest)| rest.trim_end_matches(')').split_once(", held by pid "))
        .unwrap_or_else(|| panic!("{target}"));
    let holder: u32 = holder.parse().unwrap();
    assert!(mountpoint.starts_with('/'), "{target}");
    assert!(!alive(holder), "the filesystem's holder {holder} was left behind");
    assert!(!Path::new(mountpoint).exists(), "{mountpoint} was left behind");
    assert!(
        stress_core::monitor::pids_with_cmdline(mountpoint).is_empty(),
        "a process naming {mountpoint} was left behind"
    );
}

/// Asserts what a run with one `disk-full` fault into `out` should show: the fault injected,
/// its filesystem filled and freed, the engine serving again; writes failed meanwhile with the
/// engine's own error (`engine_error`), counted, refused and never lost; the last seconds clean;
/// nothing of the filesystem left.
pub(crate) fn assert_a_full_disk_was_survived(s: &stress_core::Summary, out: &Path, engine_error: &str) {
    assert_eq!(s.faults.len(), 1, "{:?}", s.faults);
    let f = &s.faults[0];
    println!("disk-full: {f:?}");
    assert_eq!(
        (f.kind, &f.error),
        (stress_core::fault::FaultKind::DiskFull, &None),
        "{f:?}"
    );
    assert!(
        f.check.as_deref().is_some_and(|c| c.starts_with("filled with ")),
        "{f:?}"
    );
    assert!(f.recovery_ms.is_some(), "the engine served again: {f:?}");
    assert!(s.failed_ops > 0, "writes failed while the disk was full");
    assert!(
        s.errors.iter().any(|e| e.message.contains(engine_error)),
        "the engine's own error: {:?}",
        s.errors.first()
    );
    let d = s.durability.as_ref().unwrap();
    assert_eq!((d.lost, d.unexpected), (0, 0), "{d:?}");
    assert!(d.failed > 0, "a refused write is failed, not lost: {d:?}");
    // Once the space was back, writes went through again; nothing of the filesystem is left.
    assert_last_seconds_clean(out);
    assert_filesystem_gone(&f.target);
}
