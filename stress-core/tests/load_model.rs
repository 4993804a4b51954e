//! Load models that tell the truth: open-loop rates with coordinated-omission correction,
//! latency limits, stages, warm-up and thresholds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use stress_core::prelude::*;
use stress_core::protocol::Event;
use stress_core::{ConfigLayer, Failure, FailureKind, StopReason};

fn noop(_: &mut User<Bare>) -> OpResult {
    Ok(Outcome::done())
}

fn bare(users: usize) -> Workload<Bare> {
    Workload::new(Bare).class(UserClass::new("u", users).read("noop", 1.0, noop))
}

/// One op stalls for 500 ms in a run at a fixed rate: every op scheduled during the stall waits
/// for it, and the intended-start latency shows that; the service time does not spread it.
#[test]
fn coordinated_omission_is_corrected() {
    let stalled = Arc::new(AtomicBool::new(false));
    let s2 = stalled.clone();
    let w = Workload::new(Bare).class(UserClass::new("u", 1).read("op", 1.0, move |u: &mut User<Bare>| {
        if u.ops_done() == 100 && !s2.swap(true, Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(Outcome::done())
    }));
    let r = Runner::new("co")
        .seed(1)
        .rate(200.0)
        .duration(Duration::from_secs(4))
        .settings(&ConfigLayer {
            arrival: Some(stress_core::config::Arrival::Uniform),
            ..Default::default()
        })
        .run(w)
        .unwrap();
    let s = &r.summary;
    assert!(stalled.load(Ordering::SeqCst));
    // About 100 slots (500 ms at 200/s) started late, waiting up to 500 ms.
    assert!(s.late_ops >= 50, "late: {}", s.late_ops);
    assert!(s.max_lag_us >= 400_000, "max lag {}", s.max_lag_us);
    assert!(
        s.latency_us.max >= 450_000,
        "the stall in the intended-start max: {:?}",
        s.latency_us
    );
    assert!(
        s.latency_us.p95 >= 100_000,
        "and spread over the ops that waited: {:?}",
        s.latency_us
    );
    assert!(
        s.service_us.max >= 450_000,
        "one op took the stall itself: {:?}",
        s.service_us
    );
    // One op in 800 took the stall: service time's p99 is far below it (a no-op never takes
    // 400 ms, however loaded the machine).
    assert!(
        s.service_us.p99 < 400_000,
        "service time does not spread it: {:?}",
        s.service_us
    );
    assert!(s.ops["op"].service_us.is_some());
}

#[test]
fn a_rate_is_kept_over_a_window() {
    // 4 users share 400 ops/s with equal gaps: each runs 300 ops, one every 10 ms. However
    // loaded the machine, none runs ahead of its schedule, so the run cannot end before the
    // last slot's intended time (3 s); every op runs (late ones are counted late, not dropped).
    let r = Runner::new("rate")
        .seed(2)
        .rate(400.0)
        .ops_per_user(300)
        .settings(&ConfigLayer {
            arrival: Some(stress_core::config::Arrival::Uniform),
            ..Default::default()
        })
        .run(bare(4))
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::OpLimit);
    assert_eq!(s.total_ops, 1200);
    assert_eq!(s.scheduled_ops, Some(1200), "the op limit caps the schedule");
    assert_eq!(s.delivered, Some(1.0));
    assert!(
        s.duration_s >= 2.99,
        "300 slots 10 ms apart end at 3 s: {}",
        s.duration_s
    );
    assert_eq!(s.skipped_ops, 0);
}

#[test]
fn slots_later_than_the_latency_limit_are_skipped_and_counted() {
    let w = Workload::new(Bare).class(UserClass::new("u", 1).read("slow", 1.0, |_: &mut User<Bare>| {
        std::thread::sleep(Duration::from_millis(20));
        Ok(Outcome::done())
    }));
    // 200 slots/s for one user whose ops take 20 ms: it can run 50/s; the rest fall behind.
    let layer = ConfigLayer {
        latency_limit: Some(Duration::from_millis(50)),
        ..Default::default()
    };
    let r = Runner::new("limit")
        .seed(3)
        .rate(200.0)
        .duration(Duration::from_secs(2))
        .settings(&layer)
        .run(w)
        .unwrap();
    let s = &r.summary;
    assert!(s.skipped_ops > 100, "skipped {}", s.skipped_ops);
    assert!(s.total_ops < 120, "ran {}", s.total_ops);
}

#[test]
fn stages_ramp_users_up_and_down_and_the_time_series_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let layer = ConfigLayer {
        stages: Some(stress_core::config::parse_stages("2s:4,2s:4,2s:0").unwrap()),
        think_min_ms: Some(5),
        think_max_ms: Some(5),
        ..Default::default()
    };
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let r = Runner::new("stages")
        .seed(4)
        .settings(&layer)
        .output_dir(dir.path().join("s"))
        .observer(Told(events.clone()))
        .run(bare(1))
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::DurationElapsed);
    // Each stage change is told as it comes, then the stop.
    let told: Vec<String> = events.lock().unwrap().iter().filter_map(Event::human).collect();
    let stages: Vec<&String> = told.iter().filter(|l| l.contains(": stage ")).collect();
    assert_eq!(stages.len(), 3, "{told:?}");
    for (i, target) in [(1, 4), (2, 4), (3, 0)] {
        assert!(
            stages[i - 1].starts_with(&format!("stages: stage {i} at "))
                && stages[i - 1].ends_with(&format!("ramping to {target}")),
            "{told:?}"
        );
    }
    assert!(
        told.last()
            .is_some_and(|l| l.contains("stopping at") && l.contains("DurationElapsed")),
        "{told:?}"
    );
    assert_eq!(s.users.len(), 4, "as many users as the highest stage");
    assert!(s.duration_s >= 6.0, "the stages set the length: {}", s.duration_s);
    let csv = std::fs::read_to_string(dir.path().join("s/timeseries.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let rows: Vec<Vec<String>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    let active: Vec<u64> = rows.iter().map(|r| r[col("active_users")].parse().unwrap()).collect();
    let stage: Vec<String> = rows.iter().map(|r| r[col("stage")].clone()).collect();
    let target: Vec<f64> = rows.iter().map(|r| r[col("target")].parse().unwrap()).collect();
    assert_eq!(active.iter().max(), Some(&4), "{active:?}");
    assert!(active[0] < 4, "ramping up from 0: {active:?}");
    assert!(
        stage.contains(&"0".to_owned()) && stage.contains(&"2".to_owned()),
        "{stage:?}"
    );
    // And down again: in the last stage the target falls and users are parked.
    let last: Vec<usize> = (0..rows.len()).filter(|&i| stage[i] == "2").collect();
    let (first_down, last_down) = (last[0], last[last.len() - 1]);
    assert!(
        target[last_down] < target[first_down] && target[last_down] < 4.0,
        "the target falls in the last stage: {target:?}"
    );
    assert!(
        active[last_down] < 4,
        "users are parked on the way down: {active:?} (target {target:?})"
    );
}

#[test]
fn warm_up_ops_run_but_stay_out_of_the_statistics() {
    let layer = ConfigLayer {
        warmup: Some(Duration::from_secs(1)),
        think_min_ms: Some(2),
        think_max_ms: Some(2),
        ..Default::default()
    };
    let r = Runner::new("warm")
        .seed(5)
        .duration(Duration::from_secs(2))
        .settings(&layer)
        .run(bare(2))
        .unwrap();
    let s = &r.summary;
    assert!(s.warmup_ops > 0);
    let executed: u64 = s.users.iter().map(|u| u.ops).sum();
    assert_eq!(
        executed,
        s.total_ops + s.warmup_ops,
        "every op is either measured or warm-up"
    );
    assert_eq!(s.latency_us.count, s.total_ops);
}

#[test]
fn thresholds_pass_fail_and_abort() {
    let run = |rules: &[&str], abort: bool| {
        let secs = if abort { 60 } else { 3 };
        let layer = ConfigLayer {
            thresholds: rules
                .iter()
                .map(|r| stress_core::thresholds::Threshold::parse_rule(r).unwrap())
                .collect(),
            abort_on_fail: Some(abort),
            think_min_ms: Some(1),
            think_max_ms: Some(1),
            ..Default::default()
        };
        Runner::new("t")
            .seed(6)
            .duration(Duration::from_secs(secs))
            .settings(&layer)
            .run(bare(2))
            .unwrap()
            .summary
    };
    let ok = run(&["p99<10s", "error_rate<1%", "ops_per_sec>1", "p99[noop]<10s"], false);
    assert!(ok.passed, "{:?}", ok.failures);
    assert_eq!(ok.thresholds.len(), 4);
    assert!(ok.thresholds.iter().all(|t| t.passed));
    assert!(ok.thresholds[2].observed > 1.0);

    let bad = run(&["p99<10s", "ops_per_sec>100000000"], false);
    assert!(!bad.passed);
    assert!(bad.thresholds[0].passed && !bad.thresholds[1].passed);
    assert!(
        matches!(
            &bad.failures[..],
            [Failure { kind: FailureKind::Threshold { rule, observed, .. }, message }]
                if rule == "ops_per_sec>100000000" && *observed == bad.thresholds[1].observed
                    && message.starts_with("threshold ops_per_sec>100000000 breached: observed")
        ),
        "{:?}",
        bad.failures
    );
    assert_eq!(bad.exit_code(), stress_core::verdict::EXIT_THRESHOLDS);
    assert_eq!(
        bad.stop_reason,
        StopReason::DurationElapsed,
        "without abort the run goes on"
    );

    let aborted = run(&["ops_per_sec>100000000"], true);
    assert_eq!(aborted.stop_reason, StopReason::ThresholdBreached);
    assert!(
        aborted.duration_s < 30.0,
        "stopped long before its 60 s: {}",
        aborted.duration_s
    );
}

#[test]
fn bad_load_settings_are_refused_before_anything_runs() {
    let e = Runner::new("x")
        .threshold("p99[nope]<5ms")
        .run(bare(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("op `nope`"), "{e}");
    let e = Runner::new("x")
        .threshold("latency<5ms")
        .run(bare(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown metric"), "{e}");
    let layer = ConfigLayer {
        latency_limit: Some(Duration::from_millis(100)),
        ..Default::default()
    };
    let e = Runner::new("x").settings(&layer).run(bare(1)).unwrap_err().to_string();
    assert!(e.contains("a latency limit needs a rate"), "{e}");
    let layer = ConfigLayer {
        warmup: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    let e = Runner::new("x")
        .duration(Duration::from_secs(5))
        .settings(&layer)
        .run(bare(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("warm-up"), "{e}");
    for (var, value, want) in [
        ("STRESS_RATE", "0", "above 0"),
        ("STRESS_RATE", "-3", "above 0"),
        ("STRESS_RATE", "NaN", "above 0"),
        ("STRESS_ARRIVAL", "bursty", "uniform or poisson"),
        ("STRESS_STAGES", "10s", "not a stage"),
        ("STRESS_STAGES", "10s:-5", "target of 0 or more"),
        ("STRESS_ABORT_ON_FAIL", "maybe", "1 or 0"),
        ("STRESS_LATENCY_LIMIT", "soon", "not a duration"),
    ] {
        let e = stress_core::EnvConfig::from_vars([(var.to_owned(), value.to_owned())])
            .unwrap_err()
            .to_string();
        assert!(e.contains(var) && e.contains(want), "{var}={value}: {e}");
    }
}

#[test]
fn a_class_can_have_a_rate_of_its_own() {
    let w = Workload::new(Bare)
        .class(UserClass::new("paced", 2).rate(100.0).read("paced_op", 1.0, noop))
        .class(UserClass::new("free", 1).read("free_op", 1.0, |_: &mut User<Bare>| {
            std::thread::sleep(Duration::from_millis(1));
            Ok(Outcome::done())
        }));
    let r = Runner::new("class_rate")
        .seed(8)
        .duration(Duration::from_secs(2))
        .run(w)
        .unwrap();
    let s = &r.summary;
    // The paced users follow a schedule of their own (50 ops/s each) and never run ahead of
    // it; the free user has none.
    for u in &s.users {
        match u.class.as_str() {
            "paced" => {
                let due = u.scheduled_ops.expect("a paced user has a schedule");
                assert!(u.ops <= due, "{}: {} ops, {due} due", u.id, u.ops);
                assert!(u.ops * 10 >= due * 9, "{}: {} ops, {due} due", u.id, u.ops);
            }
            _ => assert_eq!(u.scheduled_ops, None, "{}", u.id),
        }
    }
    assert!(s.ops["paced_op"].service_us.is_some());
    assert!(
        s.ops["free_op"].count > s.ops["paced_op"].count,
        "the closed-loop class runs as fast as it can: {} against {}",
        s.ops["free_op"].count,
        s.ops["paced_op"].count
    );
    let e = Workload::new(Bare)
        .class(UserClass::new("c", 1).rate(0.0).read("r", 1.0, noop))
        .validate()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "class `c` has a rate that is not above 0: give ops/s, like .rate(100.0)"
    );
}

/// Keeps the events a run tells its observers.
struct Told(std::sync::Arc<std::sync::Mutex<Vec<Event>>>);

impl stress_core::report::Observer for Told {
    fn on_event(&mut self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}
