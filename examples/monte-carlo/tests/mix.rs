//! The mix on each engine, run to an op limit (the seed fixes every user's sequence of ops, so
//! nothing here depends on how fast a loaded machine runs): no failed op, a passing verify
//! step, every op of the mix run and counted.

use std::time::Duration;

use stress_core::{Runner, StopReason, Summary};

/// The users of the mix: 4 inserters, 3 query users, 2 mixed.
const USERS: u64 = 9;
/// Ops each user runs. The seed fixes which; 9 × 40 draws bring up every op of the mix, the
/// 5% `ddl` included (any seed would leave it out with a chance of 0.95^360 ≈ 1e-8).
const OPS_PER_USER: u64 = 40;
/// The ops of the mix.
const OPS: [&str; 6] = ["bulk_insert", "single_insert", "select", "aggregate", "join", "ddl"];

/// An op-limited run of the mix: it stopped at its op limit, every user ran its ops, each op
/// of the mix ran and the per-op counts add up to the total, none failed, the verify step
/// passed.
fn check(s: &Summary) {
    assert_eq!(s.stop_reason, StopReason::OpLimit, "{:?}", s.stop_detail);
    assert_eq!(s.failed_ops, 0, "first error: {:?}", s.errors.first());
    assert!(s.verify.ran && s.verify.passed, "{:?}", s.verify.errors);
    assert!(s.passed, "{:?}", s.failures);
    assert_eq!(s.total_ops, USERS * OPS_PER_USER);
    assert_eq!(s.users.len() as u64, USERS);
    for u in &s.users {
        assert_eq!(u.ops, OPS_PER_USER, "{}", u.id);
    }
    for op in OPS {
        assert!(
            s.ops.get(op).is_some_and(|o| o.count > 0),
            "{op} never ran: {:?}",
            s.ops.iter().map(|(k, o)| (k, o.count)).collect::<Vec<_>>()
        );
    }
    let counted: u64 = OPS.iter().map(|op| s.ops[*op].count).sum();
    assert_eq!(counted, s.total_ops, "every op counted under its name");
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
        .ops_per_user(OPS_PER_USER)
        // Only a guard against a hang: the op limit ends the run.
        .duration(Duration::from_secs(600))
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
    // The first reading is taken once every user has connected (the users' common start).
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
            .output_dir(dir.path().join("run"))
            .run(monte_carlo::mix(
                Hyper::managed()
                    .transport(transport)
                    .data_format(format)
                    // A resource record every 100 ms: many within the users' think times alone
                    // (40 ops × 1–20 ms each), however fast the ops themselves run.
                    .log_interval(Duration::from_millis(100)),
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

/// A memory limit that hyperd alone exceeds pauses the users and, once it stays breached past
/// its grace, ends the run: decided by the limit's events, not by how far the users got (no op
/// limit; the duration only guards against a hang).
#[test]
fn hyper_memory_backpressure_pauses_users_then_ends_the_run() {
    let layer = stress_core::ConfigLayer {
        // hyperd alone uses more than this from its first resource record.
        max_memory_mb: Some(50),
        limit_grace: Some(Duration::from_secs(3)),
        ..Default::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let r = Runner::new("monte_carlo_hyper")
        .seed(17)
        .think_ms(1, 20)
        .batch(100, 2_000)
        .duration(Duration::from_secs(120))
        .settings(&layer)
        .output_dir(dir.path().join("run"))
        .run(monte_carlo::mix(stress_hyper::Hyper::managed()))
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::ResourceLimit, "{:?}", s.stop_detail);
    assert!(s.backpressure.pauses >= 1, "{:?}", s.backpressure);
    assert!(s.resources["hyper.memory_mb"] > 50.0, "{:?}", s.resources);
    let csv = std::fs::read_to_string(dir.path().join("run/timeseries.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(header.contains(&"hyper.memory_mb"), "{csv}");
    let paused = header.iter().position(|h| *h == "paused").unwrap();
    assert!(
        lines.any(|l| l.split(',').nth(paused) == Some("1")),
        "an interval with the users paused: {csv}"
    );
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
