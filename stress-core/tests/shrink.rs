//! Shrinking, through the library: the candidate planner, `same_failure`, and the search
//! driven by fake runs (whose failure is a function of the candidate) and by real replays of a
//! workload through `Runner::replay`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use stress_core::fault::{FaultKind, PlannedFault};
use stress_core::prelude::*;
use stress_core::shrink::{self, End, Options, Pass, Size, StepOutcome, Trial};
use stress_core::{Failure, FailureKind, ReplayFile, Summary};

fn noop(_: &mut User<Bare>) -> OpResult {
    Ok(Outcome::done())
}

/// A recorded run of 6 writers and 1 reader, 40 ops each: its replay file and summary.
fn recorded(dir: &Path) -> (ReplayFile, Summary) {
    let out = dir.join("original");
    let w = Workload::new(Bare)
        .class(UserClass::new("writer", 6).write("write", 1.0, noop))
        .class(UserClass::new("reader", 1).read("read", 1.0, noop));
    let r = Runner::new("bare")
        .seed(9)
        .ops_per_user(40)
        .output_dir(&out)
        .run(w)
        .unwrap();
    (ReplayFile::load(&out).unwrap(), r.summary)
}

fn failing(base: &Summary, kind: FailureKind) -> Summary {
    let mut s = base.clone();
    s.passed = false;
    s.failures = vec![Failure::new(kind)];
    s
}

fn lost(n: u64) -> FailureKind {
    FailureKind::Durability {
        lost: n,
        unexpected: 0,
        first_lost: vec!["writer-3#12".into()],
        first_unexpected: Vec::new(),
        errors: Vec::new(),
    }
}

fn unexpected() -> FailureKind {
    FailureKind::Durability {
        lost: 0,
        unexpected: 2,
        first_lost: Vec::new(),
        first_unexpected: vec!["writer-0#1".into()],
        errors: Vec::new(),
    }
}

fn anomaly(names: &[&str]) -> FailureKind {
    FailureKind::Isolation {
        model: "serializable".into(),
        forbidden: names.iter().map(|n| ((*n).to_owned(), 1)).collect::<BTreeMap<_, _>>(),
        history_errors: Vec::new(),
        incomplete: None,
        first_witness: None,
    }
}

fn verify() -> FailureKind {
    FailureKind::Verify {
        errors: vec!["database 0: 3 rows missing".into()],
    }
}

fn ops_of(file: &ReplayFile, id: &str) -> Option<u64> {
    shrink::running_users(file)
        .iter()
        .any(|u| u.id == id)
        .then(|| file.user_ops[id])
}

#[test]
fn same_failure_is_the_same_kind_and_for_isolation_the_same_anomaly() {
    let dir = tempfile::tempdir().unwrap();
    let (_, passed) = recorded(dir.path());
    let durability = failing(&passed, lost(3));
    assert!(shrink::same_failure(&durability, &failing(&passed, lost(1))));
    assert!(
        !shrink::same_failure(&durability, &failing(&passed, unexpected())),
        "lost writes are not unexpected ones"
    );
    assert!(!shrink::same_failure(&durability, &failing(&passed, verify())));
    assert!(!shrink::same_failure(&durability, &passed));

    let g1c = failing(&passed, anomaly(&["G1c", "G0"]));
    assert!(shrink::same_failure(&g1c, &failing(&passed, anomaly(&["G1c"]))));
    assert!(
        !shrink::same_failure(&g1c, &failing(&passed, anomaly(&["G-single"]))),
        "another anomaly class is another failure"
    );
    assert!(!shrink::same_failure(&g1c, &durability));

    let v = failing(&passed, verify());
    assert!(shrink::same_failure(&v, &failing(&passed, verify())));
    assert!(!shrink::same_failure(&v, &g1c));

    // With lost writes and an error rate, the lost writes are what is chased.
    let mut both = failing(
        &passed,
        FailureKind::ErrorRate {
            failed: 1,
            total: 10,
            observed: 0.1,
            limit: 0.0,
            first_error: None,
        },
    );
    both.failures.push(Failure::new(lost(2)));
    assert_eq!(shrink::target(&both).unwrap().kind, lost(2));
    assert!(!shrink::same_failure(
        &both,
        &failing(
            &passed,
            FailureKind::ErrorRate {
                failed: 1,
                total: 10,
                observed: 0.1,
                limit: 0.0,
                first_error: None,
            }
        )
    ));
    // A run only interrupted has nothing to chase.
    assert!(shrink::target(&failing(&passed, FailureKind::Interrupted)).is_none());
}

#[test]
fn the_planner_halves_the_users_halves_each_prefix_and_drops_each_fault() {
    let dir = tempfile::tempdir().unwrap();
    let (mut file, _) = recorded(dir.path());
    file.config.duration_ms = Some(10_000);
    file.faults = vec![
        PlannedFault {
            kind: FaultKind::Kill,
            at_ms: Some(1_000),
            hold_ms: None,
            arg: None,
        },
        PlannedFault {
            kind: FaultKind::Pause,
            at_ms: Some(3_000),
            hold_ms: Some(500),
            arg: None,
        },
    ];
    assert_eq!(
        Size::of(&file),
        Size {
            users: 7,
            ops: Some(280),
            faults: 2,
            duration_ms: Some(10_000),
            databases: 1
        }
    );
    let candidates = shrink::plan_candidates(&file);
    let of = |pass: Pass| candidates.iter().filter(move |c| c.pass == pass);

    // Users: the first half, the second half, then each alone.
    let users: Vec<&str> = of(Pass::Users).map(|c| c.change.as_str()).collect();
    assert_eq!(
        users[..2],
        [
            "drop users writer-0, writer-1, writer-2, writer-3",
            "drop users writer-4, writer-5, reader-0"
        ]
    );
    assert_eq!(users.len(), 2 + 7);
    let first = &of(Pass::Users).next().unwrap().file;
    let left: Vec<&str> = shrink::running_users(first).iter().map(|u| u.id.as_str()).collect();
    assert_eq!(left, ["writer-4", "writer-5", "reader-0"]);
    assert_eq!(first.config.only_users, left);
    assert_eq!(first.user_ops.len(), 3, "counts of the users left only");
    assert_eq!(Size::of(first).users, 3);

    // Ops: each user's prefix, halved; the others' untouched.
    let ops: Vec<&shrink::Candidate> = of(Pass::Ops).collect();
    assert_eq!(ops.len(), 7);
    assert_eq!(ops_of(&ops[1].file, "writer-1"), Some(20));
    assert_eq!(ops_of(&ops[1].file, "writer-0"), Some(40));
    assert_eq!(ops[1].size().ops, Some(260));

    // Faults: each dropped, then the kill moved to the end (a pause cannot be: it lasts).
    let faults: Vec<&shrink::Candidate> = of(Pass::Faults).collect();
    assert_eq!(faults.len(), 3, "{faults:?}");
    assert_eq!(faults[0].change, "drop fault kill@1s");
    assert_eq!(faults[0].file.faults, file.faults[1..]);
    assert_eq!(faults[1].change, "drop fault pause:500ms@3s");
    assert_eq!(faults[1].file.faults, file.faults[..1]);
    assert_eq!(faults[2].change, "move fault kill@1s to the end");
    assert_eq!(faults[2].file.faults[1].at_ms, None);

    // The duration halved, never cutting a fault off.
    let d: Vec<&shrink::Candidate> = of(Pass::Duration).collect();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].file.config.duration_ms, Some(5_000));
    assert!(
        shrink::with_duration(&file, 3_200).is_none(),
        "the pause at 3s holds to 3.5s"
    );
    assert!(shrink::with_duration(&file, 3_501).is_some());

    // One database: nothing to drop.
    assert!(of(Pass::Databases).next().is_none());
    assert!(
        shrink::without_users(
            &file,
            &[
                "reader-0", "writer-0", "writer-1", "writer-2", "writer-3", "writer-4", "writer-5"
            ]
        )
        .is_none()
    );
}

/// Runs a search whose candidates fail when `fails` says so, counting the runs.
fn search(
    file: &ReplayFile,
    original: &Summary,
    options: Options,
    mut fails: impl FnMut(&shrink::Attempt<'_>) -> Option<Trial>,
) -> (shrink::ShrinkReport, usize, Vec<String>) {
    let mut runs = 0;
    let mut lines = Vec::new();
    let report = shrink::shrink(
        file,
        original,
        &options,
        |a| {
            runs += 1;
            fails(a).unwrap_or_else(|| Trial::Ran(Box::new(passed_like(original))))
        },
        |step| lines.push(step.to_string()),
    );
    (report, runs, lines)
}

fn passed_like(s: &Summary) -> Summary {
    let mut s = s.clone();
    s.passed = true;
    s.failures.clear();
    s
}

#[test]
fn a_failure_that_needs_one_user_past_its_12th_op_shrinks_to_that_user_and_13_ops() {
    let dir = tempfile::tempdir().unwrap();
    let (file, summary) = recorded(dir.path());
    let original = failing(&summary, lost(4));
    let (report, _, lines) = search(&file, &original, Options::default(), |a| {
        ops_of(a.file, "writer-4")
            .is_some_and(|n| n >= 13)
            .then(|| Trial::Ran(Box::new(failing(&summary, lost(1)))))
    });
    assert_eq!(report.end, End::Done);
    let best = report.best.as_ref().unwrap();
    assert_eq!(best.size.users, 1, "{lines:#?}");
    assert_eq!(best.size.ops, Some(13));
    assert_eq!(ops_of(&best.file, "writer-4"), Some(13));
    assert_eq!(report.original.ops, Some(280));
    assert_eq!(lines.len(), report.steps.len());
    assert!(
        lines[0].contains("original") && lines[0].contains("FAILS the same way (try 1"),
        "{}",
        lines[0]
    );
    assert!(
        report
            .headline()
            .starts_with("shrunk 7 users, 280 ops, 0 faults to 1 user, 13 ops, 0 faults in "),
        "{}",
        report.headline()
    );
    let md = report.markdown("bare", "/runs/x", Some("cargo stress replay /runs/x-shrunk"));
    assert!(md.contains("cargo stress replay /runs/x-shrunk"), "{md}");
    assert!(md.contains("| smallest (candidate "), "{md}");
    assert!(md.contains("`writer-4` (13 ops)"), "{md}");
}

#[test]
fn a_failure_of_two_users_together_keeps_both() {
    let dir = tempfile::tempdir().unwrap();
    let (file, summary) = recorded(dir.path());
    let original = failing(&summary, anomaly(&["G1c"]));
    let (report, _, lines) = search(&file, &original, Options::default(), |a| {
        let (a1, a4) = (ops_of(a.file, "writer-1"), ops_of(a.file, "writer-4"));
        (a1.is_some_and(|n| n >= 5) && a4.is_some())
            .then(|| Trial::Ran(Box::new(failing(&summary, anomaly(&["G1c", "G2-item"])))))
    });
    let best = report.best.unwrap();
    let users: Vec<&str> = shrink::running_users(&best.file)
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    assert_eq!(users, ["writer-1", "writer-4"], "{lines:#?}");
    assert_eq!(best.size.ops, Some(5 + 1));
}

#[test]
fn a_run_that_failed_by_chance_is_not_reproduced_and_nothing_is_called_shrunk() {
    let dir = tempfile::tempdir().unwrap();
    let (file, summary) = recorded(dir.path());
    let original = failing(&summary, lost(1));
    let (report, runs, lines) = search(&file, &original, Options::default(), |_| None);
    assert_eq!(report.headline(), "could not reproduce: 0 of 3 tries failed");
    assert_eq!(report.end, End::NotReproduced);
    assert!(report.best.is_none() && !report.reproduced());
    assert_eq!(runs, 3, "the original, three times, and nothing else");
    assert_eq!(lines.len(), 1);
    // A failure of another kind is not a reproduction either.
    let (report, runs, _) = search(
        &file,
        &original,
        Options {
            tries: 2,
            ..Options::default()
        },
        |_| Some(Trial::Ran(Box::new(failing(&summary, verify())))),
    );
    assert_eq!(report.headline(), "could not reproduce: 0 of 2 tries failed");
    assert_eq!(runs, 2);
}

#[test]
fn a_flaky_candidate_is_kept_with_the_try_that_failed() {
    let dir = tempfile::tempdir().unwrap();
    let (file, summary) = recorded(dir.path());
    let original = failing(&summary, verify());
    // Fails on every second try of anything with writer-2 in it.
    let (report, _, _) = search(&file, &original, Options::default(), |a| {
        (a.attempt == 2 && ops_of(a.file, "writer-2").is_some())
            .then(|| Trial::Ran(Box::new(failing(&summary, verify()))))
    });
    assert_eq!(report.reproduced, StepOutcome::Failed { on_try: 2 });
    let best = report.best.unwrap();
    assert_eq!(best.attempt, 2);
    assert_eq!(best.size.users, 1);
    assert_eq!(best.size.ops, Some(1));
    assert_eq!(report.steps[best.n].outcome, StepOutcome::Failed { on_try: 2 });
}

#[test]
fn faults_not_needed_are_dropped_and_a_needed_kill_is_tried_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let (mut file, summary) = recorded(dir.path());
    file.config.duration_ms = Some(10_000);
    let kill = |at| PlannedFault {
        kind: FaultKind::Kill,
        at_ms: Some(at),
        hold_ms: None,
        arg: None,
    };
    file.faults = vec![kill(1_000), kill(2_000), kill(4_000)];
    let original = failing(&summary, lost(2));
    let (report, _, lines) = search(&file, &original, Options::default(), |a| {
        a.file
            .faults
            .iter()
            .any(|f| f.at_ms == Some(2_000))
            .then(|| Trial::Ran(Box::new(failing(&summary, lost(1)))))
    });
    let best = report.best.unwrap();
    assert_eq!(best.file.faults, [kill(2_000)], "{lines:#?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("move fault kill@2s to the end") && l.contains("passes")),
        "{lines:#?}"
    );
    let d = best.file.config.duration_ms.unwrap();
    assert!(
        (2_001..2_200).contains(&d),
        "the duration shrinks to just past the fault: {d}"
    );
}

#[test]
fn the_budget_and_a_stop_keep_the_best_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let (file, summary) = recorded(dir.path());
    let original = failing(&summary, lost(2));
    let always = |_: &shrink::Attempt<'_>| Some(Trial::Ran(Box::new(failing(&summary, lost(1)))));
    let (report, runs, _) = search(
        &file,
        &original,
        Options {
            tries: 3,
            budget: Duration::ZERO,
        },
        always,
    );
    assert_eq!((report.end, runs), (End::Budget, 1), "only the original's first try");
    assert_eq!(report.best.as_ref().unwrap().n, 0);

    let (report, _, _) = search(&file, &original, Options::default(), |a| {
        if a.n == 3 { Some(Trial::Stop) } else { always(a) }
    });
    assert_eq!(report.end, End::Interrupted);
    assert_eq!(report.steps.len(), 4);
    assert_eq!(report.best.unwrap().n, 2, "the last that failed before the stop");
}

/// The library use: the search over real replays through `Runner::replay`. One op of
/// `writer-3` (its 8th) fails; the run's allowance is 0 failed ops.
#[test]
fn a_custom_harness_shrinks_a_real_run_with_runner_replay() {
    fn op(u: &mut User<Bare>) -> OpResult {
        if u.id() == "writer-3" && u.ops_done() == 7 {
            return Err(OpError::msg("the 8th write of writer-3 breaks"));
        }
        Ok(Outcome::done())
    }
    let workload = || {
        Workload::new(Bare)
            .class(UserClass::new("writer", 6).write("write", 1.0, op))
            .class(UserClass::new("reader", 1).read("read", 1.0, noop))
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("failed");
    let r = Runner::new("real")
        .seed(4)
        .ops_per_user(30)
        .output_dir(&out)
        .run(workload())
        .unwrap();
    assert!(!r.passed());
    let file = ReplayFile::load(&out).unwrap();
    let report = shrink::shrink(
        &file,
        &r.summary,
        &Options::default(),
        |a| match Runner::new("real")
            .replay(out.join("replay.json"), a.file.clone())
            .run(workload())
        {
            Ok(r) => Trial::Ran(Box::new(r.summary)),
            Err(e) => Trial::NotStarted(e.to_string()),
        },
        |_| {},
    );
    let best = report.best.expect("it reproduces");
    let users: Vec<&str> = shrink::running_users(&best.file)
        .iter()
        .map(|u| u.id.as_str())
        .collect();
    assert_eq!(users, ["writer-3"]);
    assert_eq!(best.size.ops, Some(8));
    assert_eq!(best.summary.total_ops, 8);
    assert!(!best.summary.passed);
    assert!(
        report
            .steps
            .iter()
            .all(|s| !matches!(s.outcome, StepOutcome::NotStarted { .. })),
        "{:#?}",
        report.steps
    );
}
