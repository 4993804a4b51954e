//! The engine's promises, on the engine-less `Bare` adapter: panics are op errors, limits
//! pause users and end runs, the disk budget turns writes into reads, a crash stops the run
//! with every report written, and seeds make runs repeatable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use stress_core::monitor::{Health, MetricsSource, Reading, ResourceKind};
use stress_core::prelude::*;
use stress_core::protocol::Event;
use stress_core::{FailureKind, StartContext, StopReason, Summary};

fn spin(_: &mut User<Bare>) -> OpResult {
    std::thread::sleep(Duration::from_micros(200));
    Ok(Outcome::rows(1))
}

fn read(_: &mut User<Bare>) -> OpResult {
    std::thread::sleep(Duration::from_micros(200));
    Ok(Outcome::done())
}

fn mixed() -> Workload<Bare> {
    Workload::new(Bare).class(
        UserClass::new("worker", 2)
            .write("write", 0.5, spin)
            .read("read", 0.5, read),
    )
}

#[test]
fn a_panicking_op_is_an_error_of_that_op_and_the_run_goes_on() {
    let w = Workload::new(Bare).class(UserClass::new("worker", 3).write("fine", 0.5, spin).write(
        "explodes",
        0.5,
        |u: &mut User<Bare>| {
            if u.rng().random_bool(0.5) {
                panic!("kaboom in {}", u.id());
            }
            Ok(Outcome::done())
        },
    ));
    let r = Runner::new("panics").seed(3).ops_per_user(200).run(w).unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::OpLimit);
    assert_eq!(s.total_ops, 600, "every user ran all its ops despite the panics");
    assert!(
        s.failed_ops > 0 && s.failed_ops < s.ops["explodes"].count,
        "{}",
        s.failed_ops
    );
    assert_eq!(s.ops["fine"].failed, 0);
    assert_eq!(s.ops["explodes"].failed, s.failed_ops);
    let e = &s.errors[0];
    assert_eq!(e.op, "explodes");
    assert!(e.message.starts_with("panicked: kaboom in worker-"), "{}", e.message);
    assert!(e.message.contains("engine.rs"), "location kept: {}", e.message);
    assert!(!s.passed);
    assert!(
        matches!(s.failures[0].kind, FailureKind::ErrorRate { failed, total, limit, .. }
            if failed == s.failed_ops && total == s.total_ops && limit == 0.0),
        "{:?}",
        s.failures
    );
    assert!(s.failures[0].message.contains("ops failed"), "{:?}", s.failures);
    assert_eq!(s.exit_code(), stress_core::verdict::EXIT_FAILED);
}

#[test]
fn an_error_rate_within_the_allowance_passes() {
    let w = Workload::new(Bare).class(UserClass::new("u", 1).write("flaky", 1.0, |u: &mut User<Bare>| {
        if u.ops_done() % 100 == 7 {
            stress_core::op_bail!("transient");
        }
        Ok(Outcome::done())
    }));
    let layer = stress_core::ConfigLayer {
        max_error_rate: Some(0.02),
        ..Default::default()
    };
    let r = Runner::new("flaky")
        .seed(1)
        .ops_per_user(1000)
        .settings(&layer)
        .run(w)
        .unwrap();
    assert_eq!(r.summary.failed_ops, 10);
    assert!(r.passed(), "{:?}", r.summary.failures);
}

#[test]
fn a_breached_memory_limit_pauses_users_then_ends_the_run() {
    // This process always uses more than 1 MB: the limit is breached from the first sample.
    let layer = stress_core::ConfigLayer {
        max_memory_mb: Some(1),
        limit_grace: Some(Duration::from_secs(2)),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let events = Events::default();
    let r = Runner::new("limited")
        .seed(5)
        .duration(Duration::from_secs(120))
        .settings(&layer)
        .observer(events.clone())
        .output_dir(dir.path().join("run"))
        .run(mixed())
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::ResourceLimit, "{:?}", s.stop_detail);
    let detail = s.stop_detail.as_deref().unwrap();
    assert!(
        detail.contains("max_memory_mb 1") && detail.contains("despite backpressure"),
        "{detail}"
    );
    assert!(s.backpressure.pauses >= 1);
    assert!(s.backpressure.paused_s >= 1.0, "{}", s.backpressure.paused_s);
    assert!(s.duration_s < 60.0, "stopped long before the 120 s duration");
    assert!(s.resources["process.rss_mb"] > 1.0);
    assert!(!s.passed);
    let csv = std::fs::read_to_string(dir.path().join("run/timeseries.csv")).unwrap();
    let paused = csv
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|c| c == "paused")
        .unwrap();
    assert!(
        csv.lines().skip(1).any(|l| l.split(',').nth(paused) == Some("1")),
        "a paused interval: {csv}"
    );
    let on_disk = Summary::load(&dir.path().join("run/summary.json")).unwrap();
    assert_eq!(on_disk, *s);
    // Observers were told, as it happened: the pause, then the stop and why.
    let events = events.0.lock().unwrap().clone();
    assert!(
        matches!(&events[0], Event::Pause { workload, reason, .. } if workload == "limited" && reason.contains("memory")),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(Event::Stopping { stop_reason: StopReason::ResourceLimit, detail: Some(d), .. }) if d == detail),
        "{events:?}"
    );
    let pauses = events.iter().filter(|e| matches!(e, Event::Pause { .. })).count();
    assert_eq!(pauses as u64, s.backpressure.pauses, "{events:?}");
}

/// Keeps the events a run tells its observers.
#[derive(Clone, Default)]
struct Events(Arc<std::sync::Mutex<Vec<Event>>>);

impl stress_core::report::Observer for Events {
    fn on_event(&mut self, event: &Event) {
        self.0.lock().unwrap().push(event.clone());
    }
}

/// Reports a fixed disk size, or a crash after some samples.
struct Fake {
    disk_mb: f64,
    crash_after: Option<u32>,
    samples: Arc<AtomicU64>,
}

impl MetricsSource for Fake {
    fn name(&self) -> &str {
        "fake"
    }
    fn sample(&mut self) -> Result<Vec<Reading>, String> {
        self.samples.fetch_add(1, Ordering::SeqCst);
        Ok(vec![Reading::new("disk_mb", ResourceKind::DiskMb, self.disk_mb)])
    }
    fn health(&mut self) -> Health {
        match self.crash_after {
            Some(n) if self.samples.load(Ordering::SeqCst) >= u64::from(n) => {
                Health::Crashed("server exited with signal 9; last log line: bye".into())
            }
            _ => Health::Alive,
        }
    }
}

#[test]
fn over_the_disk_budget_writes_become_reads() {
    // Every op waits until the monitor has sampled the disk three times: once as the users
    // start (the baseline, which sets no flag), once at the first interval, whose limits set the
    // budget's flag after the sample was taken, and once more, which the monitor thread takes
    // only after storing that flag. From then on no write may run. A write rolled before that
    // waits inside its op and runs, at most one per user. (Waiting for the second sample left
    // a window, between it and the flag, that a loaded machine widened into several writes.)
    let samples = Arc::new(AtomicU64::new(0));
    let wait = {
        let samples = Arc::clone(&samples);
        move || {
            let until = std::time::Instant::now() + Duration::from_secs(60);
            while samples.load(Ordering::SeqCst) < 3 && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    };
    let (w1, w2) = (wait.clone(), wait);
    let workload = Workload::new(Bare).class(
        UserClass::new("worker", 2)
            .write("write", 0.5, move |u: &mut User<Bare>| {
                w1();
                spin(u)
            })
            .read("read", 0.5, move |u: &mut User<Bare>| {
                w2();
                read(u)
            }),
    );
    let layer = stress_core::ConfigLayer {
        max_disk_mb: Some(5),
        ..Default::default()
    };
    let r = Runner::new("disk")
        .seed(8)
        .duration(Duration::from_secs(4))
        .settings(&layer)
        .metrics_source(Fake {
            disk_mb: 10.0,
            crash_after: None,
            samples: Arc::clone(&samples),
        })
        .run(workload)
        .unwrap();
    let s = &r.summary;
    assert!(samples.load(Ordering::SeqCst) >= 3);
    assert_eq!(s.stop_reason, StopReason::DurationElapsed);
    assert_eq!(s.backpressure.disk_budget_hits, 1);
    assert_eq!(s.users.iter().map(|u| u.substituted).sum::<u64>(), s.substituted_ops);
    let writes = s.ops.get("write").map_or(0, |o| o.count);
    assert!(
        writes <= 2,
        "only writes rolled before the budget was known ran: {:?}",
        s.ops
    );
    assert!(s.substituted_ops > 0);
    assert!(
        s.ops["read"].count >= s.substituted_ops,
        "every substitute is a read: {:?}",
        s.ops
    );
    assert!(s.passed, "{:?}", s.failures);
}

#[test]
fn a_crash_stops_the_run_and_every_report_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crash");
    let r = Runner::new("crashy")
        .seed(9)
        .duration(Duration::from_secs(120))
        .output_dir(&out)
        .metrics_source(Fake {
            disk_mb: 0.0,
            crash_after: Some(2),
            samples: Arc::default(),
        })
        .run(mixed())
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::CrashDetected);
    assert!(
        s.stop_detail
            .as_deref()
            .unwrap()
            .contains("fake: server exited with signal 9")
    );
    assert!(s.total_ops > 0);
    assert!(!s.passed);
    for f in ["summary.json", "replay.json", "timeseries.csv", "histograms.hlog"] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let replay = stress_core::ReplayFile::load(&out).unwrap();
    assert_eq!(replay.stop_reason, Some(StopReason::CrashDetected));
}

#[test]
fn same_seed_same_streams_other_seed_other_streams() {
    let run = |seed| {
        Runner::new("digests")
            .seed(seed)
            .ops_per_user(300)
            .think_ms(0, 0)
            .run(mixed())
            .unwrap()
            .summary
    };
    let digests = |s: &Summary| s.users.iter().map(|u| u.op_digest.clone()).collect::<Vec<_>>();
    let (a, b, c) = (run(11), run(11), run(12));
    assert_eq!(digests(&a), digests(&b));
    assert_ne!(digests(&a), digests(&c));
    assert_ne!(
        a.users[0].op_digest, a.users[1].op_digest,
        "users have their own streams"
    );
    for (op, stats) in &a.ops {
        assert_eq!((stats.count, stats.failed), (b.ops[op].count, b.ops[op].failed), "{op}");
    }
}

#[test]
fn bad_workloads_and_settings_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let zero = Workload::new(Bare).class(UserClass::new("c", 1).read("r", 0.0, read));
    let e = Runner::new("zero").output_dir(&out).run(zero).unwrap_err().to_string();
    assert_eq!(
        e,
        "workload `zero`: class `c` has only zero weights: give at least one op a positive weight"
    );
    let e = Runner::new("users")
        .users("nobody", 3)
        .output_dir(&out)
        .run(mixed())
        .unwrap_err()
        .to_string();
    assert!(e.contains("class `nobody`") && e.contains("worker"), "{e}");
    assert!(!out.exists(), "no output directory for a run that never started");
}

#[test]
fn untimed_work_is_taken_out_of_the_latency_and_reported_apart() {
    let w =
        Workload::new(Bare).class(
            UserClass::new("gen", 2).write("generate_then_write", 1.0, |u: &mut User<Bare>| {
                let rows = u.untimed(|rng| {
                    std::thread::sleep(Duration::from_millis(200));
                    rng.random_range(1..10u64)
                });
                Ok(Outcome::rows(rows))
            }),
        );
    let r = Runner::new("untimed").seed(1).ops_per_user(3).run(w).unwrap();
    let op = &r.summary.ops["generate_then_write"];
    let untimed = op.untimed_us.expect("reported");
    assert_eq!(untimed.count, 6);
    assert!(untimed.p50 >= 200_000, "{untimed:?}");
    // The timed part does nothing: far below the 200 ms spent generating.
    assert!(op.latency_us.max < untimed.p50, "{:?}", op.latency_us);
}

/// An adapter whose own settings are bad.
struct Misconfigured;

impl Adapter for Misconfigured {
    type Conn = ();

    fn name(&self) -> &'static str {
        "misconfigured"
    }

    fn check(&self) -> Result<(), String> {
        Err("ENGINE_URL=`ftp://x` is invalid: use engine://host:port".into())
    }

    fn start(&mut self, _: &StartContext<'_>) -> Result<(), OpError> {
        panic!("a run whose adapter fails its check must not start it");
    }

    fn connect(&self, _: usize) -> Result<(), OpError> {
        Ok(())
    }
}

#[test]
fn an_adapter_that_fails_its_check_is_bad_input_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let w = Workload::new(Misconfigured).class(UserClass::new("u", 1).read("r", 1.0, |_| Ok(Outcome::rows(1))));
    let err = Runner::new("misconfigured")
        .seed(1)
        .output_dir(dir.path().join("run"))
        .run(w)
        .unwrap_err();
    assert!(matches!(err, stress_core::RunError::Config(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "ENGINE_URL=`ftp://x` is invalid: use engine://host:port"
    );
    assert!(!dir.path().join("run").exists(), "nothing written");
}

#[test]
fn histograms_hlog_read_back_by_the_hdrhistogram_reader_gives_the_summarys_counts() {
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use std::collections::BTreeMap;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let r = Runner::new("hlog")
        .seed(21)
        .duration(Duration::from_millis(2500))
        .output_dir(&out)
        .run(mixed())
        .unwrap();
    let s = &r.summary;
    assert!(s.passed, "{:?}", s.failures);
    let text = std::fs::read(out.join("histograms.hlog")).unwrap();
    let (mut counts, mut maxes, mut seconds) = (BTreeMap::new(), BTreeMap::new(), std::collections::BTreeSet::new());
    let mut start_time = None;
    for entry in IntervalLogIterator::new(&text) {
        match entry.expect("a valid interval log") {
            LogEntry::StartTime(t) => start_time = Some(t),
            LogEntry::BaseTime(_) => {}
            LogEntry::Interval(i) => {
                let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, i.encoded_histogram())
                    .expect("base64");
                let h: hdrhistogram::Histogram<u64> = Deserializer::new()
                    .deserialize(&mut raw.as_slice())
                    .expect("a histogram");
                let tag = i.tag().expect("every line names its op").as_str().to_owned();
                *counts.entry(tag.clone()).or_insert(0u64) += h.len();
                let m = maxes.entry(tag).or_insert(0u64);
                *m = (*m).max(h.max());
                seconds.insert(i.start_timestamp().as_secs());
            }
        }
    }
    assert!(start_time.is_some(), "the log says when the run started");
    assert!(seconds.len() >= 2, "one histogram per op and second: {seconds:?}");
    for (name, op) in &s.ops {
        assert!(op.latency_us.count > 0, "{name} ran");
        assert_eq!(
            counts.get(name),
            Some(&op.latency_us.count),
            "{name}: every successful op is in the log"
        );
        // The log's maximum is its bucket's top: within HdrHistogram's 0.1% of the exact one.
        let logged = maxes[name] as f64;
        let exact = op.latency_us.max as f64;
        assert!(
            logged >= exact && logged <= exact * 1.001 + 1.0,
            "{name}: {logged} vs {exact}"
        );
    }
    assert_eq!(counts.len(), s.ops.len(), "no other tags: {counts:?}");
    // It streamed to a temporary file in the run directory, renamed at the end.
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".histograms.hlog."))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
