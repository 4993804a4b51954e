//! A sweep and a matrix driven in-process ([`sweep::drive`] with a [`Runner`] per cell): each
//! iteration a full run in its own directory, the reports rewritten after each, the sweep
//! stopping after its breaking point unless asked to go on.

use std::path::Path;

use stress_core::prelude::*;
use stress_core::sweep::{self, Kind, ParamSpec, Plan, Status, SweepReport};

/// Ops fail once `size` is above `limit`: a breaking point at a known value.
fn workload() -> Workload<Bare> {
    Workload::new(Bare)
        .param("size", 1u64)
        .param("limit", 3u64)
        .param_choice("shape", "flat", &["flat", "steep"])
        .class(UserClass::new("writer", 2).write("put", 1.0, |u| {
            let (size, limit): (u64, u64) = (u.param("size")?, u.param("limit")?);
            if size > limit {
                stress_core::op_bail!("size {size} is above the limit {limit}");
            }
            u.phase("write", |_| ());
            u.figure("db_bytes", (size * 100) as f64);
            Ok(Outcome::rows(size))
        }))
}

fn run_cell(cell: &[(String, String)], dir: &Path) -> Result<(), String> {
    let mut runner = Runner::new("sized").seed(3).ops_per_user(5).output_dir(dir);
    for (name, value) in cell {
        runner = runner.param(name, value);
    }
    runner.run(workload()).map(|_| ()).map_err(|e| e.to_string())
}

fn plan(specs: &[&str]) -> Plan {
    Plan::new(specs.iter().map(|s| ParamSpec::parse(s).unwrap()).collect()).unwrap()
}

#[test]
fn a_sweep_stops_after_its_breaking_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = SweepReport::new(Kind::Sweep, "sized", plan(&["size=1..6:1"]));
    sweep::drive(&mut report, dir.path(), &|| false, run_cell).unwrap();
    let statuses: Vec<Status> = report.iterations.iter().map(|i| i.status).collect();
    assert_eq!(statuses, [Status::Ok, Status::Ok, Status::Ok, Status::Errors]);
    assert_eq!(report.breaking_point().unwrap().label(), "size=4");
    assert!(
        report
            .breaking_point()
            .unwrap()
            .detail
            .contains("size 4 is above the limit 3")
    );
    assert_eq!(report.stability_point().unwrap().label(), "size=3");
    assert!(report.optimal_point().unwrap().status.is_ok());
    assert_eq!(report.iterations[2].metrics.figures.get("db_bytes"), Some(&300.0));
    assert!(report.iterations[2].metrics.phases_ms.contains_key("write"));
    for i in 1..=4 {
        assert!(dir.path().join(format!("iter-00{i}/summary.json")).is_file());
    }
    assert!(
        !dir.path().join("iter-005").exists(),
        "nothing runs after the breaking point"
    );
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(csv.lines().nth(4).unwrap().starts_with("4,4,errors,10,10,"), "{csv}");
    let md = std::fs::read_to_string(dir.path().join("sweep.md")).unwrap();
    assert!(
        md.contains("- Breaking point: **size=4** (iter 4): errors — 10 of 10 ops failed"),
        "{md}"
    );
    assert!(md.contains("Stopped: after the breaking point"), "{md}");

    // --continue: every iteration runs; the points stay where they were.
    let dir = tempfile::tempdir().unwrap();
    let mut report = SweepReport::new(Kind::Sweep, "sized", plan(&["size=1..6:1"]));
    report.keep_going = true;
    sweep::drive(&mut report, dir.path(), &|| false, run_cell).unwrap();
    assert_eq!(report.iterations.len(), 6);
    assert_eq!(report.breaking_point().unwrap().index, 4);
    assert_eq!(report.stability_point().unwrap().index, 3);
    assert_eq!(report.stopped, None);
}

#[test]
fn a_cell_that_does_not_start_is_an_error_and_an_interrupt_stops_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = SweepReport::new(Kind::Matrix, "sized", plan(&["size=1,2", "shape=flat,bumpy"]));
    sweep::drive(&mut report, dir.path(), &|| false, run_cell).unwrap();
    assert_eq!(report.iterations.len(), 4, "a matrix runs every cell");
    let bumpy = &report.iterations[1];
    assert_eq!(
        (bumpy.status, bumpy.label().as_str()),
        (Status::Error, "size=1 shape=bumpy")
    );
    assert!(
        bumpy
            .detail
            .starts_with("did not start: parameter `shape` takes one of flat, steep, not `bumpy`"),
        "{}",
        bumpy.detail
    );
    assert!(dir.path().join("matrix.csv").is_file() && dir.path().join("matrix.md").is_file());

    let dir = tempfile::tempdir().unwrap();
    let mut report = SweepReport::new(Kind::Sweep, "sized", plan(&["size=1..3:1"]));
    let ran = std::cell::Cell::new(0);
    sweep::drive(&mut report, dir.path(), &|| ran.get() >= 1, |cell, d| {
        ran.set(ran.get() + 1);
        run_cell(cell, d)
    })
    .unwrap();
    assert_eq!(report.iterations.len(), 1);
    assert_eq!(report.stopped.as_deref(), Some("interrupted after 1 of 3"));
}

#[test]
fn a_run_its_runner_timed_out_is_a_timeout_and_the_breaking_point() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = SweepReport::new(Kind::Sweep, "sized", plan(&["size=1..3:1"]));
    sweep::drive(&mut report, dir.path(), &|| false, |cell, d| {
        run_cell(cell, d)?;
        let size = &cell[0].1;
        Ok(if size == "2" {
            sweep::CellEnd::TimedOut("no end after 1s: stopped".into())
        } else {
            sweep::CellEnd::Finished(None)
        })
    })
    .unwrap();
    let statuses: Vec<Status> = report.iterations.iter().map(|i| i.status).collect();
    assert_eq!(
        statuses,
        [Status::Ok, Status::Timeout],
        "stops after the breaking point"
    );
    assert_eq!(report.iterations[1].detail, "no end after 1s: stopped");
    assert_eq!(report.breaking_point().map(|i| i.label()), Some("size=2".into()));
    let md = std::fs::read_to_string(dir.path().join("sweep.md")).unwrap();
    assert!(md.contains("timeout"), "{md}");
}
