//! A sharded run: three shard processes against one PostgreSQL server (setup step, shards
//! behind a start barrier, merge, verify step), and the same workload run unsharded with the
//! same seed: the merged run has exactly its users, op counts and per-user digests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use stress_core::prelude::*;
use stress_core::shard::merge::{MergeOptions, merge};
use stress_core::sql::{SqlConn, Value};
use stress_core::{Adapter, EnvConfig, StartContext, Summary};
use stress_postgres::{PgConn, Postgres};

/// Set in the child processes this test runs itself as: they run the workload as the
/// `STRESS_*` variables say, as a harness would.
const CHILD: &str = "STRESS_TEST_SHARD_CHILD";
const TEST: &str = "three_shards_against_one_server_merge_into_exactly_the_unsharded_run";

fn workload() -> Workload<Postgres> {
    Workload::new(Postgres::from_env().expect("the test sets STRESS_PG_DSN"))
        .databases(2)
        .setup(|db: &mut PgConn, _| {
            db.batch("CREATE TABLE events (user_id TEXT NOT NULL, x INTEGER NOT NULL, k BIGINT NOT NULL)")
        })
        .class(
            UserClass::new("writer", 4)
                .write("insert", 3.0, |u: &mut User<Postgres>| {
                    let x = Value::Int(u.rng().random_range(0..1000));
                    let id = Value::Text(u.id().to_owned());
                    let k = u.begin_write();
                    let n = u
                        .conn()
                        .execute("INSERT INTO events VALUES ($1, $2, $3)", &[id, x, Value::BigInt(k)])?;
                    u.acknowledge_write(k);
                    u.ledger().acknowledge("events", n);
                    Ok(Outcome::rows(n))
                })
                .read("mine", 1.0, |u: &mut User<Postgres>| {
                    let id = Value::Text(u.id().to_owned());
                    u.conn()
                        .query_scalar("SELECT count(*) FROM events WHERE user_id = $1", &[id])?;
                    Ok(Outcome::rows(1))
                }),
        )
        .class(
            UserClass::new("reader", 3).read("lookup", 1.0, |u: &mut User<Postgres>| {
                let x = Value::Int(u.rng().random_range(0..1000));
                let rows = u
                    .conn()
                    .query("SELECT user_id FROM events WHERE x = $1 LIMIT 5", &[x])?;
                Ok(Outcome::rows(rows.len() as u64))
            }),
        )
        .verify(|db, ledger| ledger.check_counts(&["events"], |_| 0, |t| db.count_rows(t)))
        .durability(|db: &mut PgConn, seen| {
            for row in db.query("SELECT k FROM events", &[])? {
                if let Some(Value::BigInt(k)) = row.first() {
                    seen(*k);
                }
            }
            Ok(())
        })
}

/// The child: one run (a step, a shard or the whole run) as its environment says.
fn child() {
    let env = EnvConfig::from_process_env().expect("valid STRESS_* variables");
    let report = Runner::new("sharded")
        .env(env)
        .expect("valid environment")
        .run(workload())
        .expect("the run starts");
    let s = &report.summary;
    assert!(s.passed, "{:?} {:?} {:?}", s.failures, s.errors.first(), s.warnings);
}

fn spawn(vars: &[(&str, String)]) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", TEST, "--nocapture"]).env(CHILD, "1");
    // Nothing of the test's own environment decides the run.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("STRESS_") || k == "JOB_COMPLETION_INDEX") {
        cmd.env_remove(k);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn succeeded(out: Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn load(dir: &Path) -> Summary {
    Summary::load(&dir.join("summary.json")).unwrap()
}

/// Per op tag: the count of every histogram of an interval log, read by HdrHistogram's reader.
fn hlog_counts(dir: &Path) -> BTreeMap<String, u64> {
    use hdrhistogram::serialization::Deserializer;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let bytes = std::fs::read(dir.join("histograms.hlog")).unwrap();
    let mut out = BTreeMap::new();
    for entry in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(i) = entry.expect("a valid interval log") {
            let raw =
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, i.encoded_histogram()).unwrap();
            let h: hdrhistogram::Histogram<u64> = Deserializer::new().deserialize(&mut raw.as_slice()).unwrap();
            *out.entry(i.tag().unwrap().as_str().to_owned()).or_default() += h.len();
        }
    }
    out
}

#[test]
fn three_shards_against_one_server_merge_into_exactly_the_unsharded_run() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let mut server = Postgres::managed().password("s3cret").setting("fsync", "off");
    server
        .start(&StartContext {
            databases: 2,
            out_dir: None,
            seed: 0,
            params: stress_core::params::Params::none(),
            setup: true,
            teardown: true,
            faults: &[],
        })
        .unwrap();
    let port = server.server_port().unwrap();
    let dsn = |db: &str| format!("host=127.0.0.1 port={port} user=postgres password=s3cret dbname={db}");
    let tmp = tempfile::tempdir().unwrap();
    let common = |db: &str| {
        vec![
            ("STRESS_PG_DSN", dsn(db)),
            ("STRESS_SEED", "7".to_owned()),
            ("STRESS_OPS_PER_USER", "30".to_owned()),
        ]
    };

    // The setup step, once.
    let mut vars = common("stress_0");
    vars.push(("STRESS_SETUP_ONLY", "1".into()));
    succeeded(spawn(&vars).wait_with_output().unwrap(), "the setup step");

    // Three shards, started together behind a barrier; the third finds its index as a
    // Kubernetes Indexed Job's pod does.
    let barrier = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3;
    let dirs: Vec<PathBuf> = (0..3).map(|i| tmp.path().join(format!("shard-{i}"))).collect();
    let children: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            let mut vars = common("stress_0");
            vars.push(("STRESS_OUTPUT_DIR", dir.display().to_string()));
            vars.push(("STRESS_START_AT", format!("@{barrier}")));
            if i == 2 {
                vars.push(("STRESS_SHARD", "auto/3".into()));
                vars.push(("JOB_COMPLETION_INDEX", "2".into()));
            } else {
                vars.push(("STRESS_SHARD", format!("{i}/3")));
            }
            spawn(&vars)
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        succeeded(c.wait_with_output().unwrap(), &format!("shard {i}"));
    }
    let shards: Vec<Summary> = dirs.iter().map(|d| load(d)).collect();
    for (i, (s, dir)) in shards.iter().zip(&dirs).enumerate() {
        let info = s.shards.as_ref().expect("a shard's summary says which it is");
        assert_eq!((info.index, info.count), (Some(i), 3));
        assert!(
            !s.verify.ran,
            "a shard on a shared engine leaves verify to its own step"
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("shard.json")).unwrap()).unwrap();
        assert!(
            manifest["users_started_ms"].as_u64().unwrap() >= barrier * 1000,
            "users never start before the barrier: {manifest}"
        );
    }
    // Users 0..7 of the plan (writers 0-3, readers 0-2) dealt round robin.
    let ids = |s: &Summary| s.users.iter().map(|u| u.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&shards[0]), ["writer-0", "writer-3", "reader-2"]);
    assert_eq!(ids(&shards[1]), ["writer-1", "reader-0"]);
    assert_eq!(ids(&shards[2]), ["writer-2", "reader-1"]);

    // Merge, then the verify step against the merged ledger.
    let merged_dir = tmp.path().join("merged");
    let merged = merge(&dirs, &merged_dir, MergeOptions::default()).unwrap();
    assert!(merged.passed, "{:?}", merged.failures);
    // The verify step holds the server to the merged ledger: one row more acknowledged than
    // the shards wrote fails it, and the failure is recorded in that run.
    let doctored = tmp.path().join("merged-doctored");
    std::fs::create_dir(&doctored).unwrap();
    for f in [
        "summary.json",
        "replay.json",
        "ledger.json",
        "histograms.hlog",
        "timeseries.csv",
    ] {
        std::fs::copy(merged_dir.join(f), doctored.join(f)).unwrap();
    }
    let mut ledger: serde_json::Value =
        serde_json::from_slice(&std::fs::read(doctored.join("ledger.json")).unwrap()).unwrap();
    let acknowledged = ledger["databases"]["0"]["rows"]["events"].as_u64().unwrap();
    ledger["databases"]["0"]["rows"]["events"] = (acknowledged + 1).into();
    std::fs::write(doctored.join("ledger.json"), ledger.to_string()).unwrap();
    let mut vars = common("stress_0");
    vars.push(("STRESS_VERIFY_ONLY", doctored.display().to_string()));
    assert!(!spawn(&vars).wait_with_output().unwrap().status.success());
    let bad = load(&doctored);
    assert!(bad.verify.ran && !bad.verify.passed && !bad.passed, "{:?}", bad.verify);
    assert!(bad.verify.errors[0].contains("expected"), "{:?}", bad.verify.errors);

    let mut vars = common("stress_0");
    vars.push(("STRESS_VERIFY_ONLY", merged_dir.display().to_string()));
    succeeded(spawn(&vars).wait_with_output().unwrap(), "the verify step");
    let merged = load(&merged_dir);
    assert!(merged.verify.ran && merged.verify.passed, "{:?}", merged.verify);
    assert!(merged.passed, "{:?}", merged.failures);
    // The shards' tracked writes, merged, were checked against the shared server: every
    // acknowledged insert is there, and no shard checked alone.
    assert!(
        shards.iter().all(|s| s.durability.is_none()),
        "a shard on a shared server checks nothing"
    );
    let d = merged.durability.as_ref().expect("the verify step checked the writes");
    let inserts: u64 = merged.ops.get("insert").map_or(0, |o| o.count);
    assert_eq!(
        (d.writes, d.acknowledged, d.present),
        (inserts, inserts, inserts),
        "{d:?}"
    );
    assert_eq!((d.lost, d.unexpected), (0, 0), "{d:?}");

    // The same workload, unsharded, with the same seed, on a database of its own.
    let whole_dir = tmp.path().join("whole");
    let mut vars = common("stress_1");
    vars.push(("STRESS_OUTPUT_DIR", whole_dir.display().to_string()));
    succeeded(spawn(&vars).wait_with_output().unwrap(), "the unsharded run");
    let whole = load(&whole_dir);

    let users = |s: &Summary| {
        s.users
            .iter()
            .map(|u| (u.id.clone(), u.ops, u.failed, u.op_digest.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(users(&merged), users(&whole), "the same users, ops and digests");
    assert_eq!(merged.total_ops, whole.total_ops);
    assert_eq!(merged.total_ops, 7 * 30);
    let per_op = |s: &Summary| {
        s.ops
            .iter()
            .map(|(n, o)| (n.clone(), o.count, o.failed, o.latency_us.count))
            .collect::<Vec<_>>()
    };
    assert_eq!(per_op(&merged), per_op(&whole));
    // Histograms: the merged log's counts are the sum of the shards', op by op.
    let mut summed: BTreeMap<String, u64> = BTreeMap::new();
    for d in &dirs {
        for (tag, n) in hlog_counts(d) {
            *summed.entry(tag).or_default() += n;
        }
    }
    assert_eq!(hlog_counts(&merged_dir), summed);
    assert_eq!(hlog_counts(&merged_dir), hlog_counts(&whole_dir));
    let latency_count: u64 = shards.iter().map(|s| s.latency_us.count).sum();
    assert_eq!(merged.latency_us.count, latency_count);
    assert!(merged.latency_us.p99 <= merged.latency_us.max);
    // The merged run reads like any run: its replay plan is the whole run's.
    let replay = stress_core::ReplayFile::load(&merged_dir.join("replay.json")).unwrap();
    assert_eq!(replay.config.shard, None);
    assert_eq!(replay.users.len(), 7);
    assert!(merged_dir.join("report.html").is_file());
    server.stop().unwrap();
}
