//! The mix for a few seconds on each engine: no failed op, a passing verify step, every op run.

use std::time::Duration;

use stress_core::{Runner, StopReason, Summary};

fn check(s: &Summary) {
    assert_eq!(s.stop_reason, StopReason::DurationElapsed, "{:?}", s.stop_detail);
    assert_eq!(s.failed_ops, 0, "first error: {:?}", s.errors.first());
    assert!(s.verify.ran && s.verify.passed, "{:?}", s.verify.errors);
    assert!(s.passed, "{:?}", s.failures);
    for op in ["bulk_insert", "single_insert", "select", "aggregate", "join", "ddl"] {
        assert!(
            s.ops.get(op).is_some_and(|o| o.count > 0),
            "{op} never ran: {:?}",
            s.ops.keys()
        );
    }
    let generation = s.ops["bulk_insert"]
        .untimed_us
        .expect("row generation is reported apart");
    assert_eq!(generation.count, s.ops["bulk_insert"].count);
    assert_eq!(
        s.users.iter().map(|u| u.db).max(),
        Some(2),
        "users spread over 3 databases"
    );
}

fn runner(name: &str) -> Runner {
    Runner::new(name)
        .seed(17)
        .duration(Duration::from_secs(4))
        .think_ms(1, 20)
        .batch(100, 2_000)
        // Every query shape, on every engine.
        .param("query_complexity_max", 4)
}

#[test]
fn the_mix_on_sqlite() {
    let r = runner("monte_carlo_sqlite")
        .run(monte_carlo::monte_carlo_sqlite())
        .unwrap();
    check(&r.summary);
    assert!(r.summary.resources["sqlite.disk_mb"] > 0.0);
}

#[test]
fn the_mix_on_a_managed_postgres() {
    let r = runner("monte_carlo_postgres")
        .run(monte_carlo::mix(
            stress_postgres::Postgres::managed().setting("fsync", "off"),
        ))
        .unwrap();
    check(&r.summary);
    assert!(
        r.summary.resources["postgres.memory_mb"] > 0.0,
        "{:?}",
        r.summary.resources
    );
    assert!(
        r.summary.resources["postgres.connections"] >= 9.0,
        "{:?}",
        r.summary.resources
    );
}

#[test]
fn a_replay_of_the_mix_matches_every_digest() {
    let dir = tempfile::tempdir().unwrap();
    let first = Runner::new("monte_carlo_sqlite")
        .seed(3)
        .ops_per_user(15)
        .think_ms(0, 0)
        .batch(10, 100)
        .output_dir(dir.path().join("a"))
        .run(monte_carlo::monte_carlo_sqlite())
        .unwrap();
    assert!(first.passed(), "{:?}", first.summary.failures);
    let again = Runner::new("monte_carlo_sqlite")
        .replay_file(dir.path().join("a"))
        .unwrap()
        .output_dir(dir.path().join("b"))
        .run(monte_carlo::monte_carlo_sqlite())
        .unwrap();
    let digests = |s: &Summary| s.users.iter().map(|u| u.op_digest.clone()).collect::<Vec<_>>();
    assert_eq!(digests(&again.summary), digests(&first.summary));
}

/// hyperd's log lines of kind `k` in the run directory `dir`.
fn hyperd_log_lines(dir: &std::path::Path, k: &str) -> usize {
    let needle = format!(r#""k":"{k}""#);
    std::fs::read_dir(dir.join("hyperd"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .map(|t| t.lines().filter(|l| l.contains(&needle)).count())
        .sum()
}

#[test]
fn the_mix_on_hyper_in_every_data_format_and_transport() {
    use stress_hyper::{DataFormat, Hyper, Transport};
    for (transport, format) in [
        (Transport::LibPq, DataFormat::HyperBinary),
        (Transport::Grpc, DataFormat::Arrow),
        (Transport::LibPq, DataFormat::Arrow),
        (Transport::Grpc, DataFormat::HyperBinary),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let r = runner("monte_carlo_hyper")
            .duration(Duration::from_secs(3))
            .output_dir(dir.path().join("run"))
            .run(monte_carlo::mix(
                Hyper::managed().transport(transport).data_format(format),
            ))
            .unwrap();
        let s = &r.summary;
        check(s);
        let label = format!("{transport:?}/{format:?}");
        // hyperd's resource log reached the monitor.
        assert!(s.resources["hyper.memory_mb"] > 0.0, "{label}: {:?}", s.resources);
        assert!(
            s.resources.contains_key("hyper.scheduler_active_threads"),
            "{label}: {:?}",
            s.resources
        );
        assert!(s.resources["hyper.db_size_mb"] > 0.0, "{label}");
        // Server-side latency beside the client's.
        let server = &s.server_latency_us["hyper"];
        assert!(server.count > 0 && server.max > 0, "{label}: {server:?}");
        // Each path really ran: Arrow inserts, gRPC reads.
        let run = dir.path().join("run");
        let grpc_queries = hyperd_log_lines(&run, "grpc-query-end");
        match transport {
            Transport::Grpc => assert!(grpc_queries > 0, "{label}: no gRPC query in hyperd's log"),
            Transport::LibPq => assert_eq!(grpc_queries, 0, "{label}"),
        }
    }
}

#[test]
fn the_hyper_paths_are_parameters_a_run_sets_and_its_replay_file_records() {
    let dir = tempfile::tempdir().unwrap();
    let r = runner("monte_carlo_hyper")
        .duration(Duration::from_secs(2))
        .param("transport", "grpc")
        .param("data_format", "arrow")
        .output_dir(dir.path().join("run"))
        .run(monte_carlo::monte_carlo_hyper())
        .unwrap();
    check(&r.summary);
    assert!(
        hyperd_log_lines(&dir.path().join("run"), "grpc-query-end") > 0,
        "reads went over gRPC"
    );
    let replay: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("run/replay.json")).unwrap()).unwrap();
    let params = &replay["config"]["params"];
    assert_eq!(
        (params["transport"].as_str(), params["data_format"].as_str()),
        (Some("grpc"), Some("arrow")),
        "{params}"
    );
}

#[test]
fn hyper_memory_backpressure_pauses_users_then_ends_the_run() {
    let layer = stress_core::ConfigLayer {
        // hyperd alone uses more than this from its first resource record.
        max_memory_mb: Some(50),
        limit_grace: Some(Duration::from_secs(3)),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let r = runner("monte_carlo_hyper")
        .duration(Duration::from_secs(120))
        .settings(&layer)
        .output_dir(dir.path().join("run"))
        .run(monte_carlo::mix(stress_hyper::Hyper::managed()))
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::ResourceLimit, "{:?}", s.stop_detail);
    assert!(
        s.backpressure.pauses >= 1 && s.backpressure.paused_s > 0.0,
        "{:?}",
        s.backpressure
    );
    assert!(s.resources["hyper.memory_mb"] > 50.0, "{:?}", s.resources);
    assert!(s.duration_s < 60.0);
    let csv = std::fs::read_to_string(dir.path().join("run/timeseries.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains("hyper.memory_mb"), "{csv}");
}

#[test]
fn hyperd_killed_mid_run_is_a_crash_with_every_report_written() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use stress_core::prelude::*;
    use stress_hyper::{Hyper, HyperConn};

    static KILLED: AtomicBool = AtomicBool::new(false);
    fn kill(u: &mut User<Hyper>) -> OpResult {
        if u.ops_done() >= 3 && !KILLED.swap(true, Ordering::SeqCst) {
            let pid = u.conn().hyperd_pid().expect("managed");
            std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()?;
        }
        let c: &mut HyperConn = u.conn();
        Ok(Outcome::rows(c.query_count("SELECT 1", &[])?))
    }
    let dir = tempfile::tempdir().unwrap();
    let w = Workload::new(Hyper::managed()).class(UserClass::new("killer", 2).read("probe", 1.0, kill));
    let r = Runner::new("hyper_crash")
        .seed(9)
        .duration(Duration::from_secs(60))
        .think_ms(50, 50)
        .output_dir(dir.path().join("run"))
        .run(w)
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::CrashDetected, "{:?}", s.stop_detail);
    let detail = s.stop_detail.as_deref().unwrap();
    assert!(
        detail.contains("hyperd") && detail.contains("last log lines"),
        "{detail}"
    );
    assert!(!s.passed);
    for f in ["summary.json", "replay.json", "timeseries.csv"] {
        assert!(dir.path().join("run").join(f).is_file(), "{f} written");
    }
}
