//! The PostgreSQL adapter against real servers it starts itself.

#[path = "../../../tests/support/browser.rs"]
mod browser;
#[path = "../../../tests/support/other_account.rs"]
mod other_account;

#[path = "../../../tests/support/faults.rs"]
mod faults;
use faults::alive;
use other_account::{is_root, psql_as_nobody};

use std::path::Path;
use std::time::Duration;

use stress_core::prelude::*;
use stress_core::sql::{ColumnType, SqlConn, TableDef, Value};
use stress_core::{Adapter, StartContext, StopReason};
use stress_postgres::{Driver, PgConn, Postgres, sqlstate};

fn ctx(databases: usize) -> StartContext<'static> {
    StartContext {
        databases,
        out_dir: None,
        seed: 0,
        params: stress_core::params::Params::none(),
        setup: true,
        teardown: true,
        faults: &[],
    }
}

fn started(mut pg: Postgres, databases: usize) -> Postgres {
    pg.start(&ctx(databases)).unwrap();
    pg
}

/// Processes whose command line mentions `needle` (to find orphans of a cluster directory).
fn processes_mentioning(needle: &str) -> Vec<u32> {
    stress_core::monitor::pids_with_cmdline(needle)
}

fn items() -> TableDef {
    TableDef::new("items")
        .column("id", ColumnType::Int)
        .column("small", ColumnType::SmallInt)
        .column("big", ColumnType::BigInt)
        .column("price", ColumnType::Double)
        .column("name", ColumnType::Text)
        .column("active", ColumnType::Bool)
        .nullable("at", ColumnType::Timestamp)
}

#[test]
fn a_managed_server_serves_the_sql_layer_and_is_gone_after_stop() {
    let parent = tempfile::tempdir().unwrap();
    let mut pg = started(
        Postgres::managed()
            .cluster_parent(parent.path())
            .setting("fsync", "off"),
        2,
    );
    let pid = pg.postmaster_pid().unwrap();
    assert!(alive(pid));
    let mut c: PgConn = pg.connect(0).unwrap();
    c.create_table(&items(), false).unwrap();
    let rows: Vec<Vec<Value>> = (0..1000)
        .map(|i| {
            vec![
                Value::Int(i),
                Value::SmallInt((i % 100) as i16),
                Value::BigInt(i64::from(i) << 33),
                Value::Double(f64::from(i) / 8.0),
                Value::Text(format!("item-{i}")),
                Value::Bool(i % 3 == 0),
                if i % 10 == 0 {
                    Value::Null
                } else {
                    Value::Timestamp(1_700_000_000_123_456 + i64::from(i))
                },
            ]
        })
        .collect();
    assert_eq!(c.bulk_insert(&items(), &rows).unwrap(), 1000, "binary COPY");
    assert_eq!(c.count_rows("items").unwrap(), 1000);
    let got = c
        .query(
            "SELECT id, small, big, price, name, active, at FROM items WHERE id = $1 OR id = $2 ORDER BY id",
            &[Value::Int(7), Value::BigInt(10)],
        )
        .unwrap();
    assert_eq!(
        got,
        vec![rows[7].clone(), rows[10].clone()],
        "every type round-trips, NULL included"
    );
    assert_eq!(
        c.query_scalar("SELECT count(*) FROM items WHERE active", &[]).unwrap(),
        Value::BigInt(334)
    );
    assert_eq!(
        c.execute("DELETE FROM items WHERE id < $1", &[Value::Int(100)])
            .unwrap(),
        100
    );
    let e = c.query("SELECT sum(big) FROM items", &[]).unwrap_err().to_string();
    assert!(e.contains("numeric") && e.contains("cast it"), "{e}");
    // Database 1 is a database of its own.
    let mut other = pg.connect(1).unwrap();
    assert!(other.count_rows("items").is_err());
    pg.stop().unwrap();
    assert!(!alive(pid), "postmaster stopped");
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0, "cluster removed");
}

#[test]
fn a_given_server_by_dsn_with_schemas_per_database() {
    let server = started(Postgres::managed().password("s3cret").setting("fsync", "off"), 1);
    let port = server.server_port().unwrap();
    let dsn = format!("host=127.0.0.1 port={port} user=postgres password=s3cret dbname=stress_0");
    let w = Workload::new(Postgres::dsn(&dsn).statement_timeout(Duration::from_secs(30)))
        .databases(2)
        .setup(|db: &mut PgConn, _| db.batch("CREATE TABLE t (x INTEGER NOT NULL)"))
        .class(
            UserClass::new("writer", 2).write("insert", 1.0, |u: &mut User<Postgres>| {
                let x = Value::Int(u.rng().random_range(0..1000));
                let n = u.conn().execute("INSERT INTO t VALUES ($1)", &[x])?;
                u.ledger().acknowledge("t", n);
                Ok(Outcome::rows(n))
            }),
        )
        .verify(|db, ledger| ledger.check_counts(&["t"], |_| 0, |t| db.count_rows(t)));
    let r = Runner::new("dsn").seed(4).ops_per_user(20).run(w).unwrap();
    let s = &r.summary;
    assert!(s.passed, "{:?} {:?}", s.failures, s.errors.first());
    assert_eq!(s.total_ops, 40);
    assert!(s.resources.contains_key("postgres.db_size_mb"), "{:?}", s.resources);
    // The schemas were dropped at the end; the database is as it was.
    let mut check = Postgres::dsn(&dsn);
    check.start(&ctx(1)).unwrap();
    let n = check
        .connect(0)
        .unwrap()
        .query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'stress_db%'", &[])
        .unwrap();
    assert_eq!(n, Value::BigInt(0));
}

#[test]
fn a_killed_postmaster_ends_the_run_with_crash_detected_and_reports_written() {
    let w = Workload::new(Postgres::managed().setting("fsync", "off"))
        .setup(|db: &mut PgConn, _| db.batch("CREATE TABLE t (x INTEGER)"))
        .class(
            UserClass::new("writer", 2).write("insert", 1.0, |u: &mut User<Postgres>| {
                if u.id() == "writer-0" && u.ops_done() == 20 {
                    let pid = u.conn().postmaster_pid().expect("managed");
                    std::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status()?;
                }
                let n = u.conn().execute("INSERT INTO t VALUES (1)", &[])?;
                Ok(Outcome::rows(n))
            }),
        )
        .think_ms(1, 2);
    let segments = || -> std::collections::BTreeSet<String> {
        std::fs::read_dir("/dev/shm")
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = segments();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crash");
    let r = Runner::new("crash")
        .seed(1)
        .duration(Duration::from_secs(120))
        .output_dir(&out)
        .run(w)
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::CrashDetected, "{:?}", s.stop_detail);
    let detail = s.stop_detail.as_deref().unwrap();
    assert!(
        detail.contains("postgres: postgres (pid") && detail.contains("exited"),
        "{detail}"
    );
    assert!(s.duration_s < 60.0);
    for f in ["summary.json", "replay.json", "timeseries.csv"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    assert!(s.resources.contains_key("postgres.memory_mb"), "{:?}", s.resources);
    // A killed server cannot remove its dynamic shared memory: it lived in the cluster's own
    // directory, gone with it, not in /dev/shm. (Another test's initdb makes segments of its
    // own there meanwhile, and removes them when it ends: what stays is what leaked.)
    let left = || -> Vec<String> {
        segments()
            .difference(&before)
            .filter(|n| n.starts_with("PostgreSQL."))
            .cloned()
            .collect()
    };
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while !left().is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(left().is_empty(), "left in /dev/shm: {:?}", left());
}

#[test]
fn a_managed_run_reports_the_server_s_resources() {
    let w = Workload::new(Postgres::managed().setting("fsync", "off"))
        .setup(|db: &mut PgConn, _| db.batch("CREATE TABLE t (x INTEGER)"))
        .class(
            UserClass::new("writer", 2).write("insert", 1.0, |u: &mut User<Postgres>| {
                Ok(Outcome::rows(u.conn().execute("INSERT INTO t VALUES (1)", &[])?))
            }),
        );
    let r = Runner::new("resources")
        .seed(2)
        .duration(Duration::from_secs(3))
        .run(w)
        .unwrap();
    let s = &r.summary;
    assert!(s.passed, "{:?}", s.failures);
    for k in [
        "postgres.memory_mb",
        "postgres.cpu_percent",
        "postgres.db_size_mb",
        "postgres.connections",
        "postgres.commits",
    ] {
        assert!(s.resources.contains_key(k), "{k}: {:?}", s.resources);
    }
    assert!(s.resources["postgres.memory_mb"] > 1.0);
    assert!(
        s.resources["postgres.connections"] >= 2.0,
        "both users connected: {:?}",
        s.resources
    );
    assert!(s.resources["postgres.commits"] >= s.total_ops as f64);
}

#[test]
fn a_cpu_profile_of_a_managed_run_samples_the_server_s_processes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let w = Workload::new(Postgres::managed().setting("fsync", "off"))
        .setup(|db: &mut PgConn, _| db.batch("CREATE TABLE t (x INTEGER, s TEXT)"))
        .class(
            UserClass::new("writer", 2).write("insert", 1.0, |u: &mut User<Postgres>| {
                let n = u.conn().execute(
                    "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 50) g",
                    &[],
                )?;
                Ok(Outcome::rows(n))
            }),
        );
    let r = Runner::new("profiled")
        .seed(4)
        .duration(Duration::from_secs(3))
        .settings(&stress_core::ConfigLayer {
            profile: Some(true),
            ..Default::default()
        })
        .output_dir(&out)
        .run(w)
        .unwrap();
    assert!(r.summary.passed, "{:?}", r.summary.failures);
    assert!(r.summary.warnings.is_empty(), "{:?}", r.summary.warnings);
    let p = stress_core::profile::ProfileSummary::load(&out)
        .unwrap()
        .expect("profile.json");
    assert!(p.target.contains("server"), "{}", p.target);
    assert!(
        p.pids.len() >= 3,
        "the postmaster and its children, both users' backends among them: {p:?}"
    );
    assert!(
        !p.pids.contains(&std::process::id()),
        "the server, not this process: {p:?}"
    );
    let svg = std::fs::read_to_string(out.join("flamegraph.svg")).unwrap();
    assert!(svg.contains("PostgresMain"), "a backend's main loop, by name");
    let folded = std::fs::read_to_string(out.join("profile.folded")).unwrap();
    assert!(
        folded.lines().all(|l| l.starts_with("postgres;")),
        "only the server's processes: {}",
        folded.lines().find(|l| !l.starts_with("postgres;")).unwrap_or_default()
    );
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        page.contains("id=\"hottest\"") && page.contains("id=\"flamegraph\""),
        "report.html carries the profile"
    );
}

#[test]
fn bad_input_is_one_clear_error_with_nothing_left_behind() {
    let parent = tempfile::tempdir().unwrap();
    let needle = parent.path().to_str().unwrap().to_owned();
    let fails = |pg: Postgres| -> String {
        let mut pg = pg.cluster_parent(parent.path());
        let e = pg.start(&ctx(1)).unwrap_err().to_string();
        pg.stop().unwrap();
        assert!(!e.contains('\n'), "one line: {e}");
        assert_eq!(
            std::fs::read_dir(parent.path()).unwrap().count(),
            0,
            "no leftover cluster after: {e}"
        );
        assert!(
            processes_mentioning(&needle).is_empty(),
            "no orphaned server after: {e}"
        );
        e
    };
    // Binaries not found.
    let e = fails(Postgres::managed().bindir("/nonexistent/bin"));
    assert!(e.contains("/nonexistent/bin holds no initdb and postgres"), "{e}");
    // A setting PostgreSQL rejects: its own log lines say which.
    let e = fails(Postgres::managed().setting("shared_buffers", "banana"));
    assert!(
        e.contains("postgres exited during startup") && e.contains("shared_buffers"),
        "{e}"
    );
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let e = fails(Postgres::managed().tcp(true).port(port));
    assert!(
        e.contains("postgres exited during startup") && e.contains("Address already in use"),
        "{e}"
    );
    drop(taken);

    // An unreachable server: named by host and port.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut pg = Postgres::dsn(format!(
        "host=127.0.0.1 port={free} user=postgres password=hunter2 dbname=x"
    ));
    let e = pg.start(&ctx(1)).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot connect to PostgreSQL at 127.0.0.1:{free}/x:")),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "never the password: {e}");
    // A wrong password.
    let server = started(Postgres::managed().password("right").setting("fsync", "off"), 1);
    let port = server.server_port().unwrap();
    let mut pg = Postgres::dsn(format!("postgresql://postgres:wrong-pw@127.0.0.1:{port}/stress_0"));
    let e = pg.start(&ctx(1)).unwrap_err().to_string();
    assert!(
        e.contains(&format!("127.0.0.1:{port}/stress_0")) && e.contains("password authentication failed"),
        "{e}"
    );
    assert!(!e.contains("wrong-pw"), "never the password: {e}");
    // A malformed connection string.
    let e = Postgres::dsn("host=x port=notaport")
        .start(&ctx(1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("connection string is not valid"), "{e}");
    // … refused by the check before a run starts too, never echoing the string.
    let e = Postgres::dsn("host=x password=s3cret port=notaport")
        .check()
        .unwrap_err();
    assert!(
        e.contains("connection string is not valid") && !e.contains("s3cret"),
        "{e}"
    );
    assert!(Postgres::dsn("host=x port=5432").check().is_ok());
    assert!(Path::new("/proc").is_dir());
}

/// Two users under SERIALIZABLE: the first op of each bumps the shared row 0, both having taken
/// their snapshot before either updates, so the second to update fails for real (SQLSTATE 40001,
/// "could not serialize access"); every op also bumps the user's own row, which nobody else
/// touches. Exactly one op conflicts, whatever the scheduling.
fn contended(max_tries: u32, driver: Driver) -> stress_core::Summary {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use stress_core::ConfigLayer;
    use stress_postgres::postgres::IsolationLevel;

    let parent = tempfile::tempdir().unwrap();
    // Both first ops wait here, inside their transactions, for each other (30 s at most, so
    // that a user that never gets there cannot hang the test).
    let arrived = Arc::new(AtomicUsize::new(0));
    let bump = move |u: &mut User<Postgres>| -> OpResult {
        let first = u.ops_done() == 0;
        let meet = first && u.attempt() == 1;
        let own: i32 = if u.id() == "bumper-0" { 1 } else { 2 };
        let arrived = Arc::clone(&arrived);
        let meet = move || {
            if meet {
                arrived.fetch_add(1, Ordering::SeqCst);
                let until = std::time::Instant::now() + Duration::from_secs(30);
                while arrived.load(Ordering::SeqCst) < 2 && std::time::Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        };
        match driver {
            // The SQL layer on the wire client.
            Driver::Wire => u.conn().serializable(|c| {
                c.query_scalar("SELECT n FROM counters WHERE id = 0", &[])?;
                meet();
                if first {
                    c.execute("UPDATE counters SET n = n + 1 WHERE id = 0", &[])?;
                }
                c.execute("UPDATE counters SET n = n + 1 WHERE id = $1", &[Value::Int(own)])?;
                Ok(())
            })?,
            // The postgres crate's transaction.
            _ => u.conn().transaction_at(IsolationLevel::Serializable, |tx| {
                let _: i64 = tx.query_one("SELECT n FROM counters WHERE id = 0", &[])?.get(0);
                meet();
                if first {
                    tx.execute("UPDATE counters SET n = n + 1 WHERE id = 0", &[])?;
                }
                tx.execute("UPDATE counters SET n = n + 1 WHERE id = $1", &[&own])?;
                Ok::<_, OpError>(())
            })?,
        }
        u.ledger().acknowledge("bumps", 1);
        Ok(Outcome::rows(2))
    };
    let w = Workload::new(
        Postgres::managed()
            .cluster_parent(parent.path())
            .setting("fsync", "off"),
    )
    .setup(|c, _| {
        c.client().batch_execute(
            "CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL); \
             INSERT INTO counters VALUES (0, 0), (1, 0), (2, 0)",
        )?;
        Ok(())
    })
    .class(UserClass::new("bumper", 2).write("bump", 1.0, bump))
    .verify(|c, ledger| {
        // Every acknowledged bump is in its user's row; row 0 has one per user's first op.
        let n = |id: i32, c: &mut PgConn| -> Result<i64, OpError> {
            Ok(c.client()
                .query_one("SELECT n FROM counters WHERE id = $1", &[&id])?
                .get(0))
        };
        let (shared, mine) = (n(0, c)?, n(1, c)? + n(2, c)?);
        let want = ledger.rows("bumps") as i64;
        if mine != want || shared != 2 {
            stress_core::op_bail!("rows 1 + 2 hold {mine} and row 0 {shared}: {want} bumps were acknowledged");
        }
        Ok(())
    });
    Runner::new("contended")
        .seed(9)
        .ops_per_user(30)
        .settings(&ConfigLayer {
            max_tries: Some(max_tries),
            ..Default::default()
        })
        .run(w)
        .unwrap()
        .summary
}

/// Users that all bump one row under SERIALIZABLE, with `max_tries` tries and the retry
/// backoff `backoff`: each op reads the row, then updates it, so any other user's commit in
/// between fails it (SQLSTATE 40001), and a retry at once meets the same crowd again.
fn hot_row(max_tries: u32, backoff: (Duration, Duration)) -> stress_core::Summary {
    use stress_core::ConfigLayer;

    let parent = tempfile::tempdir().unwrap();
    let bump = |u: &mut User<Postgres>| -> OpResult {
        u.conn().serializable(|c| {
            c.query_scalar("SELECT n FROM hot WHERE id = 0", &[])?;
            c.execute("UPDATE hot SET n = n + 1 WHERE id = 0", &[])?;
            Ok(())
        })?;
        u.ledger().acknowledge("bumps", 1);
        Ok(Outcome::rows(1))
    };
    let w = Workload::new(
        Postgres::managed()
            .cluster_parent(parent.path())
            .setting("fsync", "off"),
    )
    .setup(|c, _| {
        c.client()
            .batch_execute("CREATE TABLE hot (id int PRIMARY KEY, n bigint NOT NULL); INSERT INTO hot VALUES (0, 0)")?;
        Ok(())
    })
    .class(UserClass::new("bumper", 8).write("bump", 1.0, bump))
    .verify(|c, ledger| {
        let n: i64 = c.client().query_one("SELECT n FROM hot WHERE id = 0", &[])?.get(0);
        let want = ledger.rows("bumps") as i64;
        if n != want {
            stress_core::op_bail!("the hot row holds {n}: {want} bumps were acknowledged");
        }
        Ok(())
    });
    Runner::new("hot-row")
        .seed(11)
        .ops_per_user(500)
        .duration(Duration::from_secs(120))
        .settings(&ConfigLayer {
            max_tries: Some(max_tries),
            max_error_rate: Some(1.0),
            ..Default::default()
        })
        .retry_backoff(backoff.0, backoff.1)
        .run(w)
        .unwrap()
        .summary
}

#[test]
fn backoff_leaves_fewer_ops_failed_for_good_on_a_hot_row() {
    let off = hot_row(5, (Duration::ZERO, Duration::ZERO));
    let on = hot_row(5, stress_core::config::DEFAULT_RETRY_BACKOFF);
    for (name, s) in [("no backoff", &off), ("backoff 1ms..100ms", &on)] {
        eprintln!(
            "{name}: {} ops, {} failed ({} failed for good), {} retried ({} retries), {:.1}s, p99 {} µs",
            s.total_ops, s.failed_ops, s.exhausted_ops, s.retried_ops, s.retries, s.duration_s, s.latency_us.p99
        );
        assert_eq!(s.total_ops, 8 * 500, "{name}: every op ran: {:?}", s.stop_reason);
        assert!(s.verify.ran && s.verify.passed, "{name}: {:?}", s.verify);
        assert_eq!(
            s.failed_ops,
            s.exhausted_ops,
            "{name}: only conflicts fail: {:?}",
            s.errors.first()
        );
    }
    assert!(off.retried_ops > 0 && on.retried_ops > 0, "the row is hot both times");
    assert!(
        on.failed_ops < off.failed_ops,
        "backoff: {} failed ops, without: {}",
        on.failed_ops,
        off.failed_ops
    );
}

#[test]
fn serialization_failures_are_retried_and_counted_with_max_tries() {
    for driver in [Driver::Wire, Driver::Postgres] {
        let s = contended(10, driver);
        assert!(s.passed, "{driver:?}: {:?} {:?}", s.failures, s.errors.first());
        assert_eq!((s.total_ops, s.failed_ops), (60, 0), "{driver:?}");
        assert_eq!(
            (s.retried_ops, s.retries),
            (1, 1),
            "{driver:?}: the one forced conflict, retried once"
        );
        assert!(s.verify.ran && s.verify.passed, "{driver:?}: {:?}", s.verify);

        // Without retries the same conflict is a failed op, with PostgreSQL's own words.
        let s = contended(1, driver);
        assert!(!s.passed, "{driver:?}");
        assert_eq!((s.failed_ops, s.retries), (1, 0), "{driver:?}");
        assert!(
            s.errors[0].message.contains("could not serialize access"),
            "{driver:?}: {:?}",
            s.errors
        );
    }
}

#[test]
fn a_harness_that_panics_leaves_no_server_and_no_cluster_behind() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().to_owned();
    // A custom harness that starts a managed server and then panics: unwinding drops the
    // adapter, and its Drop stops the server and removes the cluster.
    let (tx, rx) = std::sync::mpsc::channel();
    let harness = std::thread::spawn(move || {
        let pg = started(Postgres::managed().cluster_parent(&dir).setting("fsync", "off"), 1);
        tx.send(pg.postmaster_pid().unwrap()).unwrap();
        assert!(
            std::fs::read_dir(&dir).unwrap().count() > 0,
            "the cluster is in {dir:?}"
        );
        panic!("the harness's own bug");
    });
    let pid = rx.recv().unwrap();
    assert!(harness.join().is_err(), "the harness panicked");
    assert!(!alive(pid), "postmaster {pid} outlived the panic");
    assert!(
        processes_mentioning(parent.path().to_str().unwrap()).is_empty(),
        "no process of the cluster is left"
    );
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        0,
        "the cluster directory was removed"
    );
}

/// Every process of a managed PostgreSQL stopped (SIGSTOP) for 4 s mid-run, as a frozen server
/// would be: the run does not pass it unnoticed.
#[test]
fn a_frozen_server_is_a_stall_in_the_summary() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let parent = tempfile::tempdir().unwrap();
    let frozen = Arc::new(AtomicBool::new(false));
    let signal_all = |pid: u32, sig: &str| {
        let mut pids = vec![pid];
        pids.extend(stress_core::monitor::children_of(pid));
        for p in pids {
            // A backend may exit between the listing and the signal: nothing to say then.
            std::process::Command::new("kill")
                .args([sig, &p.to_string()])
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap();
        }
    };
    let w = Workload::new(
        Postgres::managed()
            .cluster_parent(parent.path())
            .setting("fsync", "off"),
    )
    .class(
        UserClass::new("reader", 2).read("select", 1.0, move |u: &mut User<Postgres>| {
            if u.ops_done() == 20 && !frozen.swap(true, Ordering::SeqCst) {
                let pid = u.conn().postmaster_pid().unwrap();
                signal_all(pid, "-STOP");
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs(4));
                    signal_all(pid, "-CONT");
                });
            }
            let n: i32 = u.conn().client().query_one("SELECT 1", &[])?.get(0);
            Ok(Outcome::rows(n as u64))
        }),
    );
    let s = Runner::new("frozen").seed(2).ops_per_user(60).run(w).unwrap().summary;
    assert_eq!(s.failed_ops, 0, "{:?}", s.errors.first());
    assert!(s.max_stall_s >= 3.5, "4 s frozen: max_stall_s {}", s.max_stall_s);
    assert!(
        s.warnings.iter().any(|w| w.contains("the engine stalled")),
        "{:?}",
        s.warnings
    );
}

#[test]
fn no_other_local_account_can_connect_to_a_managed_server() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let mut pg = started(
        Postgres::managed()
            .cluster_parent(parent.path())
            .setting("fsync", "off"),
        1,
    );
    let port = pg.server_port().unwrap();
    let cluster = std::fs::read_dir(parent.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mode = std::fs::metadata(&cluster).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the cluster directory (and its socket) is private: {mode:o}"
    );
    // No TCP listener at all by default.
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens on 127.0.0.1:{port}"
    );
    let (ok, said) = psql_as_nobody("127.0.0.1", port);
    assert!(!ok, "in over TCP: {said}");
    if is_root() {
        // The socket is there, but another account cannot reach it.
        let (ok, said) = psql_as_nobody(cluster.to_str().unwrap(), port);
        assert!(!ok && said.contains("Permission denied"), "{said}");
    }
    // The run's own connections get in.
    let mut c = pg.connect(0).unwrap();
    assert_eq!(c.query_scalar("SELECT 1", &[]).unwrap(), Value::Int(1));
    drop(c);
    pg.stop().unwrap();

    // Over TCP on request, with a password random per run: nobody without it gets in.
    let mut pg = started(Postgres::managed().tcp(true).setting("fsync", "off"), 1);
    let port = pg.server_port().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let (ok, said) = psql_as_nobody("127.0.0.1", port);
    assert!(!ok && said.contains("password"), "{said}");
    let mut c = pg.connect(0).unwrap();
    assert_eq!(c.query_scalar("SELECT 1", &[]).unwrap(), Value::Int(1));
    drop(c);
    pg.stop().unwrap();
}

#[test]
fn a_paused_server_shows_in_the_latencies_and_a_replay_pauses_it_again() {
    use stress_core::fault::FaultKind;
    let workload = || {
        Workload::new(Postgres::managed().setting("fsync", "off"))
            .setup(|db: &mut PgConn, _| db.batch("CREATE TABLE t (x INTEGER)"))
            .class(
                UserClass::new("writer", 2).write("insert", 1.0, |u: &mut User<Postgres>| {
                    let n = u.conn().execute("INSERT INTO t VALUES (1)", &[])?;
                    Ok(Outcome::rows(n))
                }),
            )
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("paused");
    let r = Runner::new("paused")
        .seed(3)
        .duration(Duration::from_secs(6))
        .fault("pause:1500ms@at=1s")
        .output_dir(&out)
        .run(workload())
        .unwrap();
    let s = &r.summary;
    assert!(s.passed, "{:?} {:?}", s.failures, s.errors.first());
    assert_eq!(s.faults.len(), 1, "{:?}", s.faults);
    let f = &s.faults[0];
    assert_eq!((f.kind, f.due_s, f.hold_s), (FaultKind::Pause, Some(1.0), Some(1.5)));
    assert!(f.at_s.is_some_and(|a| a >= 1.0), "{f:?}");
    // Users' ops hung in the frozen server until it resumed: the engine was out at least as
    // long as the hold (until the users' end, if it resumed only then on a busy machine).
    assert!(f.outage_ms.is_some_and(|ms| ms >= 1500) || f.outage_open, "{f:?}");
    assert!(s.unavailable_s >= 1.5, "{}", s.unavailable_s);
    assert_eq!(f.error, None);
    assert!(f.target.starts_with("postgres (pid "), "{}", f.target);
    assert!(f.recovery_ms.is_some(), "the server accepted connections again");
    // Users were in their ops while the server was stopped: the stall is in the latencies.
    assert!(s.latency_us.max >= 1_000_000, "{:?}", s.latency_us);
    assert!(s.max_stall_s >= 1.0, "{}", s.max_stall_s);
    // The report marks it on the timeline (one red line per chart) and lists it.
    let dom = browser::dump_dom(&out.join("report.html"));
    assert!(
        dom.contains("<h2>Faults</h2>") && dom.contains("postgres (pid "),
        "the faults table"
    );
    let marks = dom.matches(r##"fill="#b03a2e">pause</text>"##).count();
    assert!(marks >= 3, "a mark on every timeline chart: {marks}");
    let shaded = dom.matches(r#"class="outage""#).count();
    assert!(shaded >= 3, "the outage shaded on every timeline chart: {shaded}");
    // The schedule is in replay.json, and a replay injects it again.
    let file = stress_core::ReplayFile::load(&out).unwrap();
    assert_eq!(file.faults.len(), 1);
    let again = Runner::new("paused")
        .replay_file(&out)
        .unwrap()
        .output_dir(dir.path().join("again"))
        .run(workload())
        .unwrap();
    let table = |s: &stress_core::Summary| s.faults.iter().map(|f| (f.kind, f.due_s, f.hold_s)).collect::<Vec<_>>();
    assert_eq!(table(&again.summary), table(s));
}

/// A write-heavy workload on a managed server whose every write the checker tracks, and whose
/// verify step counts the rows (a range, where a kill left a commit open).
fn tracked_inserts(pg: Postgres) -> Workload<Postgres> {
    Workload::new(pg)
        .setup(|db: &mut PgConn, _| db.batch("CREATE TABLE kv (k BIGINT PRIMARY KEY)"))
        .class(
            UserClass::new("writer", 4).write("insert", 1.0, |u: &mut User<Postgres>| {
                let k = u.begin_write();
                u.ledger().pending("kv", 1);
                u.conn().execute("INSERT INTO kv VALUES ($1)", &[Value::BigInt(k)])?;
                u.acknowledge_write(k);
                u.ledger().acknowledge("kv", 1);
                Ok(Outcome::rows(1))
            }),
        )
        .verify(|db, ledger| ledger.check_counts(&["kv"], |_| 0, |t| db.count_rows(t)))
        .durability(|db: &mut PgConn, seen| {
            for row in db.client().query("SELECT k FROM kv", &[])? {
                seen(row.get::<_, i64>(0));
            }
            Ok(())
        })
}

#[test]
fn killed_twenty_times_the_server_comes_back_and_keeps_every_acknowledged_write() {
    use stress_core::fault::FaultKind;
    let parent = tempfile::tempdir().unwrap();
    let pg = Postgres::managed()
        .cluster_parent(parent.path())
        .setting("fsync", "off");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed");
    let r = Runner::new("killed")
        .seed(5)
        .duration(Duration::from_secs(60))
        .fault("kill@every=300ms..700ms")
        .output_dir(&out)
        .run(tracked_inserts(pg))
        .unwrap();
    let s = &r.summary;
    let planned = stress_core::ReplayFile::load(&out).unwrap().faults;
    assert!(planned.len() >= 20, "{} kills planned", planned.len());
    assert_eq!(s.faults.len(), planned.len(), "every planned kill has its row");
    let injected: Vec<_> = s.faults.iter().filter(|f| f.skipped.is_none()).collect();
    assert!(
        injected.len() >= 20,
        "{} kills injected: {:?}",
        injected.len(),
        s.faults
    );
    for f in &injected {
        assert_eq!((f.kind, &f.error), (FaultKind::Kill, &None), "{f:?}");
        assert!(f.recovery_ms.is_some(), "{f:?}");
        assert!(
            f.at_s.unwrap() >= f.due_s.unwrap() && f.at_s.unwrap() <= s.duration_s,
            "{f:?}"
        );
        // The users were without answers at least until the server took connections again.
        match f.outage_ms {
            Some(ms) => assert!(ms >= f.recovery_ms.unwrap(), "{f:?}"),
            None => assert!(f.outage_open, "{f:?}"),
        }
    }
    // The outages are in the figures: a stall as long as the longest, the time unavailable.
    let longest = injected.iter().filter_map(|f| f.outage_ms).max().unwrap_or(0) as f64 / 1000.0;
    assert!(s.max_stall_s >= longest, "max_stall_s {} < {longest}", s.max_stall_s);
    assert!(
        s.unavailable_s >= longest && s.unavailable_s <= s.duration_s + 0.01,
        "{}",
        s.unavailable_s
    );
    // A kill during an insert whose commit was open never fails the row count: a range.
    assert!(s.verify.passed, "{:?}", s.verify.errors);
    assert!(s.passed, "{:?} {:?}", s.failures, s.errors.first());
    assert_eq!(
        s.failed_ops,
        0,
        "a broken connection is not a failed op: {:?}",
        s.errors.first()
    );
    assert!(s.interrupted_ops > 0, "kills broke connections in flight");
    let d = s.durability.as_ref().expect("tracked");
    assert_eq!((d.lost, d.unexpected), (0, 0), "{d:?}");
    assert!(d.acknowledged > 100 && d.present >= d.acknowledged, "{d:?}");
    assert!(
        processes_mentioning(parent.path().to_str().unwrap()).is_empty(),
        "no server left"
    );
    assert_eq!(std::fs::read_dir(parent.path()).unwrap().count(), 0, "no cluster left");
}

/// The positive control: commits acknowledged before their WAL is written
/// (`synchronous_commit=off`, and a WAL writer that waits 10 s) die with the server, and the
/// checker says so.
#[test]
fn with_synchronous_commit_off_a_kill_loses_acknowledged_writes_and_the_checker_catches_it() {
    let pg = Postgres::managed()
        .setting("fsync", "off")
        .setting("synchronous_commit", "off")
        .setting("wal_writer_delay", "10000");
    let r = Runner::new("unsafe")
        .seed(5)
        .duration(Duration::from_secs(4))
        .fault("kill@at=1s")
        .fault("kill@at=2500ms")
        .run(tracked_inserts(pg))
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.faults.len(), 2, "{:?}", s.faults);
    let d = s.durability.as_ref().unwrap();
    assert!(d.lost > 0, "{d:?}");
    assert!(!s.passed);
    assert_eq!(s.exit_code(), 1);
    assert!(
        s.failures
            .iter()
            .any(|f| f.message.contains("acknowledged writes lost")),
        "{:?}",
        s.failures
    );
}

/// Set in the child process the watchdog test re-runs itself as: the cluster's parent.
const KILLED_AFTER_RESTART: &str = "STRESS_TEST_KILLED_AFTER_RESTART_PARENT";

/// A server started again by a `kill` fault is guarded by a watchdog of its own: the harness
/// killed after it leaves no server and no cluster behind, and the old watchdog, let go,
/// removed nothing while the new server ran.
#[test]
fn a_harness_killed_after_a_kill_fault_leaves_no_server_behind() {
    use stress_core::fault::{FaultKind, PlannedFault};
    if let Some(parent) = std::env::var_os(KILLED_AFTER_RESTART) {
        let pg = started(Postgres::managed().cluster_parent(parent).setting("fsync", "off"), 1);
        let before = pg.postmaster_pid().unwrap();
        let kill = PlannedFault {
            kind: FaultKind::Kill,
            at_ms: Some(0),
            hold_ms: None,
            arg: None,
        };
        pg.inject(&kill, &|| false).unwrap();
        let after = pg.postmaster_pid().unwrap();
        assert_ne!(before, after);
        assert!(pg.connect(0).is_ok(), "the data is where it was");
        println!("\nready {before} {after}");
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    let (mut child, pids) = run_self_until_ready(
        "a_harness_killed_after_a_kill_fault_leaves_no_server_behind",
        KILLED_AFTER_RESTART,
        parent.path(),
    );
    let (before, after) = (pids[0], pids[1]);
    assert!(!alive(before) && alive(after));
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        1,
        "the cluster is still there"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while (alive(after) || std::fs::read_dir(parent.path()).unwrap().count() > 0) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(after), "postmaster {after} outlived its harness");
    assert!(processes_mentioning(parent.path().to_str().unwrap()).is_empty());
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        0,
        "the cluster was removed"
    );
}

/// Set in the child process the paused-harness test re-runs itself as: the cluster's parent.
const KILLED_WHILE_PAUSED: &str = "STRESS_TEST_KILLED_WHILE_PAUSED_PARENT";

/// A harness killed while a `pause` fault holds its server stopped leaves no process behind:
/// not the postmaster, and not its backends, stopped and leaders of groups of their own.
#[test]
fn a_harness_killed_during_a_pause_leaves_no_stopped_process_behind() {
    use stress_core::fault::{FaultKind, PlannedFault};
    if let Some(parent) = std::env::var_os(KILLED_WHILE_PAUSED) {
        let pg = std::sync::Arc::new(started(
            Postgres::managed().cluster_parent(parent).setting("fsync", "off"),
            1,
        ));
        let _client: PgConn = pg.connect(0).unwrap();
        let postmaster = pg.postmaster_pid().unwrap();
        let kids = stress_core::monitor::children_of(postmaster);
        let pausing = std::sync::Arc::clone(&pg);
        std::thread::spawn(move || {
            let pause = PlannedFault {
                kind: FaultKind::Pause,
                at_ms: Some(0),
                hold_ms: Some(600_000),
                arg: None,
            };
            let _ = pausing.inject(&pause, &|| false);
        });
        let list: Vec<String> = kids.iter().map(u32::to_string).collect();
        println!("\nready {postmaster} {}", list.join(" "));
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    let (mut child, pids) = run_self_until_ready(
        "a_harness_killed_during_a_pause_leaves_no_stopped_process_behind",
        KILLED_WHILE_PAUSED,
        parent.path(),
    );
    assert!(pids.len() > 3, "the postmaster and its processes: {pids:?}");
    let state = |pid: u32| stress_core::monitor::read_process(&pid.to_string()).map(|p| p.state);
    // Stopped, or ended before the pause reached it (a worker the server had just let go).
    let stopped_or_gone = |pid: u32| matches!(state(pid), None | Some('T' | 'Z'));
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while !pids.iter().all(|p| stopped_or_gone(*p)) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let states: Vec<(u32, Option<char>)> = pids.iter().map(|p| (*p, state(*p))).collect();
    assert!(
        pids.iter().all(|p| stopped_or_gone(*p)),
        "the pause stopped them all: {states:?}"
    );
    assert_eq!(state(pids[0]), Some('T'), "the postmaster is stopped: {states:?}");
    assert!(
        pids.iter().filter(|p| state(**p) == Some('T')).count() >= 3,
        "its processes are stopped with it: {states:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while pids.iter().any(|p| alive(*p)) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<&u32> = pids.iter().filter(|p| alive(**p)).collect();
    assert!(
        left.is_empty(),
        "processes of the server outlived its harness: {left:?}"
    );
    while std::fs::read_dir(parent.path()).unwrap().count() > 0 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        0,
        "the cluster was removed"
    );
}

#[test]
fn a_restarted_server_loses_nothing() {
    let pg = Postgres::managed().setting("fsync", "off");
    let r = Runner::new("restarted")
        .seed(6)
        .duration(Duration::from_secs(4))
        .fault("restart@at=1s")
        .fault("restart@at=2500ms")
        .run(tracked_inserts(pg))
        .unwrap();
    let s = &r.summary;
    assert!(s.passed, "{:?} {:?}", s.failures, s.errors.first());
    assert_eq!(
        s.faults.iter().filter(|f| f.error.is_none()).count(),
        2,
        "{:?}",
        s.faults
    );
    let d = s.durability.as_ref().unwrap();
    assert_eq!((d.lost, d.unexpected), (0, 0), "{d:?}");
}

#[test]
fn a_broken_connection_leaves_a_write_open_and_a_refused_statement_does_not() {
    let pg = started(Postgres::managed().setting("fsync", "off"), 1);
    // The SQL layer on the wire client.
    let mut victim: PgConn = pg.connect(0).unwrap();
    let mut admin: PgConn = pg.connect(0).unwrap();
    let refused = admin.batch("SELEC 1").unwrap_err();
    assert!(!pg.is_indeterminate(&refused), "{refused}");
    assert_eq!(sqlstate(&refused), Some("42601"), "{refused}");
    let pid = victim.query_scalar("SELECT pg_backend_pid()", &[]).unwrap();
    admin.execute("SELECT pg_terminate_backend($1)", &[pid]).unwrap();
    let terminated = victim.batch("SELECT 1").unwrap_err();
    assert!(pg.is_indeterminate(&terminated), "{terminated}");
    assert!(
        terminated
            .to_string()
            .contains("terminating connection due to administrator command"),
        "the server's own words: {terminated}"
    );
    let closed = victim.execute("SELECT 1", &[]).unwrap_err();
    assert!(pg.is_indeterminate(&closed), "{closed}");
    assert_eq!(closed.to_string(), "connection closed");

    // The postgres crate's client.
    let mut victim: PgConn = pg.connect(0).unwrap();
    let refused: OpError = admin.client().batch_execute("SELEC 1").unwrap_err().into();
    assert!(
        !pg.is_indeterminate(&refused),
        "a syntax error is the server's no: {refused}"
    );
    let pid = victim
        .client()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get::<_, i32>(0);
    admin
        .client()
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let terminated: OpError = victim.client().batch_execute("SELECT 1").unwrap_err().into();
    assert!(pg.is_indeterminate(&terminated), "{terminated}");
    let closed: OpError = victim.client().batch_execute("SELECT 1").unwrap_err().into();
    assert!(pg.is_indeterminate(&closed), "{closed}");
}

#[test]
fn faults_a_server_given_by_address_cannot_take_are_refused() {
    let w = Workload::new(Postgres::dsn("host=127.0.0.1 port=1 user=nobody")).class(UserClass::new("reader", 1).read(
        "noop",
        1.0,
        |_: &mut User<Postgres>| Ok(Outcome::rows(0)),
    ));
    let e = Runner::new("dsn")
        .duration(Duration::from_secs(2))
        .fault("pause:1s@at=1s")
        .run(w)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "postgres cannot inject `pause` faults: it injects net-delay, net-bandwidth, net-drop, net-reset, \
             net-partition (on a managed server"
        ),
        "{e}"
    );
}

/// Runs this test binary's test `name` in a child process with `var` set to `parent` (the
/// child's cue to play the harness), and waits for its `ready PID…` line: the child and the
/// pids it printed.
fn run_self_until_ready(name: &str, var: &str, parent: &Path) -> (std::process::Child, Vec<u32>) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env(var, parent)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let pids = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            Some(
                l.strip_prefix("ready ")?
                    .split_whitespace()
                    .map(|p| p.parse().unwrap())
                    .collect::<Vec<u32>>(),
            )
        })
        .unwrap_or_else(|| panic!("{name}: the child never said it was ready"));
    (child, pids)
}

/// Set in the child process the kill test re-runs itself as: the cluster's parent directory.
const KILLED_HARNESS: &str = "STRESS_TEST_KILLED_HARNESS_PARENT";

#[test]
fn a_harness_killed_with_sigkill_leaves_no_server_and_no_cluster_behind() {
    if let Some(parent) = std::env::var_os(KILLED_HARNESS) {
        // The child: a harness that starts a managed server and is then killed.
        let pg = started(Postgres::managed().cluster_parent(parent).setting("fsync", "off"), 1);
        println!("\nready {}", pg.postmaster_pid().unwrap());
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    let (mut child, pids) = run_self_until_ready(
        "a_harness_killed_with_sigkill_leaves_no_server_and_no_cluster_behind",
        KILLED_HARNESS,
        parent.path(),
    );
    let pid = pids[0];
    assert!(alive(pid));
    // SIGKILL: no handler, no destructor, no Drop runs in the harness.
    child.kill().unwrap();
    child.wait().unwrap();
    // A hang guard only: the watchdog stops the server in well under a second.
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while (alive(pid) || std::fs::read_dir(parent.path()).unwrap().count() > 0) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(pid), "postmaster {pid} outlived its harness");
    assert!(
        processes_mentioning(parent.path().to_str().unwrap()).is_empty(),
        "no process of the cluster is left"
    );
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        0,
        "the cluster directory was removed"
    );
}

/// `corrupt` on a managed server: with the server stopped, a page of the table overwritten
/// (chosen by the seed); the server starts again and `amcheck` finds the damage. The same seed
/// damages the same page.
#[test]
fn a_corrupted_page_is_found_by_amcheck() {
    use stress_core::fault::{FaultKind, PlannedFault};
    let corrupt = PlannedFault {
        kind: FaultKind::Corrupt,
        at_ms: None,
        hold_ms: None,
        arg: None,
    };
    let mut said = Vec::new();
    for _ in 0..2 {
        let mut pg = started(Postgres::managed().setting("fsync", "off"), 1);
        let mut c = pg.connect(0).unwrap();
        c.batch("CREATE TABLE t (k BIGINT NOT NULL); INSERT INTO t SELECT generate_series(1, 5000)")
            .unwrap();
        drop(c);
        let before = pg.postmaster_pid().unwrap();
        let done = pg.inject(&corrupt, &|| false).unwrap();
        assert_eq!(done.target, format!("postgres (pid {before})"));
        assert!(done.recovery.is_some());
        let check = done.check.unwrap();
        println!("corrupt: {check}");
        assert!(check.starts_with("damaged page "), "{check}");
        assert!(check.contains("amcheck: "), "{check}");
        assert!(!check.contains("no corruption found"), "amcheck found it: {check}");
        assert_ne!(pg.postmaster_pid().unwrap(), before, "the server was started again");
        pg.stop().unwrap();
        said.push(check.split(';').next().unwrap().to_owned());
    }
    assert_eq!(said[0], said[1], "the same seed, the same page");
}

/// `disk-full` on a managed server whose data lives on a 128 MiB filesystem of the run's own:
/// writes fail with PostgreSQL's own error while it is full, are counted, and lose nothing;
/// once the space is back the server goes on; the mount, its holder and the server are gone
/// after the run.
#[test]
fn a_full_disk_fails_writes_with_postgres_own_error_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("full");
    let r = Runner::new("full")
        .seed(6)
        .duration(Duration::from_secs(6))
        .fault("disk-full:2s@at=1s")
        .output_dir(&out)
        .run(tracked_inserts(
            Postgres::managed().setting("fsync", "off").disk_limit_mb(128),
        ))
        .unwrap();
    faults::assert_a_full_disk_was_survived(&r.summary, &out, "No space left on device");
}

/// Set in the child process the disk-full watchdog test re-runs itself as: the cluster's parent.
const KILLED_WHILE_FULL: &str = "STRESS_TEST_PG_KILLED_WHILE_FULL";

/// A harness killed while a `disk-full` fault holds the cluster's filesystem full leaves no
/// server, no cluster and no mountpoint behind.
#[test]
fn a_harness_killed_during_disk_full_leaves_no_server_and_no_mount() {
    use stress_core::fault::{FaultKind, PlannedFault};
    if let Some(parent) = std::env::var_os(KILLED_WHILE_FULL) {
        let mut pg = Postgres::managed()
            .cluster_parent(parent)
            .setting("fsync", "off")
            .disk_limit_mb(96);
        pg.start(&StartContext {
            faults: &[FaultKind::DiskFull],
            ..ctx(1)
        })
        .unwrap();
        let pg = std::sync::Arc::new(pg);
        let postmaster = pg.postmaster_pid().unwrap();
        let filling = std::sync::Arc::clone(&pg);
        std::thread::spawn(move || {
            let full = PlannedFault {
                kind: FaultKind::DiskFull,
                at_ms: Some(0),
                hold_ms: Some(600_000),
                arg: None,
            };
            let _ = filling.inject(&full, &|| false);
        });
        std::thread::sleep(Duration::from_millis(500));
        println!("\nready {postmaster}");
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    let (mut child, pids) = run_self_until_ready(
        "a_harness_killed_during_disk_full_leaves_no_server_and_no_mount",
        KILLED_WHILE_FULL,
        parent.path(),
    );
    let postmaster = pids[0];
    // The data directory, on the run's own filesystem: `-D /tmp/stress-disk-…/data`.
    let cmdline = std::fs::read(format!("/proc/{postmaster}/cmdline")).unwrap();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let data = args[args.iter().position(|a| a == "-D").unwrap() + 1].clone();
    let mountpoint = std::path::Path::new(&data).parent().unwrap().to_owned();
    assert!(
        mountpoint.starts_with(std::env::temp_dir()) && mountpoint.is_dir(),
        "{data}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let gone = || {
        !alive(postmaster)
            && !mountpoint.exists()
            && processes_mentioning(mountpoint.to_str().unwrap()).is_empty()
            && std::fs::read_dir(parent.path()).unwrap().count() == 0
    };
    while !gone() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(postmaster), "postmaster {postmaster} outlived its harness");
    assert!(!mountpoint.exists(), "{} was left behind", mountpoint.display());
    assert!(processes_mentioning(mountpoint.to_str().unwrap()).is_empty());
    assert_eq!(
        std::fs::read_dir(parent.path()).unwrap().count(),
        0,
        "the cluster was removed"
    );
}

/// What the SQL layer answers on one connection: rows of every type (NULL and a timestamp
/// before 1970 too), counts, and each refusal with its SQLSTATE; the connection goes on after
/// each refusal.
fn sql_layer_answers(pg: &Postgres, c: &mut PgConn) -> Vec<String> {
    let mut seen = Vec::new();
    c.batch("DROP TABLE IF EXISTS items; DROP TABLE IF EXISTS k; CREATE TABLE k (id int PRIMARY KEY)")
        .unwrap();
    c.create_table(&items(), false).unwrap();
    let rows: Vec<Vec<Value>> = (0..300)
        .map(|i| {
            vec![
                Value::Int(i),
                Value::SmallInt(-(i as i16)),
                Value::BigInt(i64::from(i) << 40),
                Value::Double(f64::from(i) / 3.0),
                Value::Text(format!("item-{i} ünïcödé")),
                Value::Bool(i % 2 == 0),
                match i % 3 {
                    0 => Value::Null,
                    1 => Value::Timestamp(-86_400_000_123 * i64::from(i)),
                    _ => Value::Timestamp(1_700_000_000_123_456 + i64::from(i)),
                },
            ]
        })
        .collect();
    assert_eq!(c.bulk_insert(&items(), &rows).unwrap(), 300, "binary COPY");
    let got = c
        .query(
            "SELECT id, small, big, price, name, active, at FROM items ORDER BY id",
            &[],
        )
        .unwrap();
    assert_eq!(got, rows, "every type round-trips, NULL included");
    let got = c
        .query(
            "SELECT name FROM items WHERE id = ANY(ARRAY[$1, $2]::int[]) AND active = $3 ORDER BY id",
            &[Value::BigInt(4), Value::SmallInt(5), Value::Bool(true)],
        )
        .unwrap();
    assert_eq!(got, vec![vec![Value::Text("item-4 ünïcödé".into())]]);
    assert_eq!(
        c.query_scalar("SELECT $1::int IS NULL", &[Value::Null]).unwrap(),
        Value::Bool(true)
    );
    assert_eq!(
        c.execute(
            "UPDATE items SET price = $1 WHERE id >= $2",
            &[Value::Int(2), Value::Int(200)]
        )
        .unwrap(),
        100,
        "rows affected, a parameter widened from INT to FLOAT8"
    );
    assert_eq!(c.query("SELECT 1 WHERE false", &[]).unwrap(), Vec::<Vec<Value>>::new());

    let mut refused = |c: &mut PgConn, e: OpError| {
        assert!(!pg.is_indeterminate(&e), "a refusal is not a broken connection: {e}");
        assert_eq!(
            c.query_scalar("SELECT 1", &[]).unwrap(),
            Value::Int(1),
            "usable after: {e}"
        );
        seen.push(format!("{:?} {e}", sqlstate(&e)));
    };
    let e = c.query("SELEC 1", &[]).unwrap_err();
    assert_eq!(sqlstate(&e), Some("42601"), "{e}");
    assert!(e.to_string().contains("syntax error at or near \"SELEC\""), "{e}");
    refused(c, e);
    let e = c.query("SELECT $1::int", &[]).unwrap_err();
    assert!(e.to_string().contains("expected 1 parameters but got 0"), "{e}");
    refused(c, e);
    let e = c.query("SELECT sum(big) FROM items", &[]).unwrap_err();
    assert!(
        e.to_string().contains("numeric") && e.to_string().contains("cast it"),
        "{e}"
    );
    refused(c, e);
    let e = c.execute("SELECT 1 / $1", &[Value::Int(0)]).unwrap_err();
    assert_eq!(sqlstate(&e), Some("22012"), "{e}");
    refused(c, e);
    c.execute("INSERT INTO k VALUES ($1)", &[Value::Int(i32::MAX)]).unwrap();
    let e = c.execute("SELECT $1::smallint", &[Value::Int(i32::MAX)]).unwrap_err();
    assert!(e.to_string().contains("error serializing parameter 0"), "{e}");
    refused(c, e);
    // COPY is all or nothing: a duplicate key refuses every row.
    let k = TableDef::new("k").column("id", ColumnType::Int);
    let e = c
        .bulk_insert(&k, &[vec![Value::Int(1)], vec![Value::Int(i32::MAX)]])
        .unwrap_err();
    assert_eq!(sqlstate(&e), Some("23505"), "{e}");
    refused(c, e);
    // A batch is one implicit transaction: a statement that fails takes the others with it.
    let e = c
        .batch("INSERT INTO k VALUES (2); SELEC; INSERT INTO k VALUES (3)")
        .unwrap_err();
    refused(c, e);
    assert_eq!(c.count_rows("k").unwrap(), 1);
    // A transaction of SQL-layer calls commits, or rolls back on the op's error.
    c.transaction(|c| c.execute("INSERT INTO k VALUES (10)", &[])).unwrap();
    let e = c
        .transaction(|c| {
            c.execute("INSERT INTO k VALUES (11)", &[])?;
            c.execute("INSERT INTO k VALUES (10)", &[])
        })
        .unwrap_err();
    assert_eq!(sqlstate(&e), Some("23505"), "{e}");
    refused(c, e);
    assert_eq!(
        c.query("SELECT id FROM k ORDER BY id", &[]).unwrap(),
        vec![vec![Value::Int(10)], vec![Value::Int(i32::MAX)]]
    );
    seen
}

#[test]
fn the_wire_client_answers_as_the_postgres_crate_does() {
    let server = started(Postgres::managed().password("s3cret").setting("fsync", "off"), 1);
    let port = server.server_port().unwrap();
    let dsn = format!("host=127.0.0.1 port={port} user=postgres password=s3cret dbname=stress_0");
    let mut answers = Vec::new();
    for driver in [Driver::Wire, Driver::Postgres] {
        // Over TCP with SCRAM-SHA-256.
        let pg = started(Postgres::dsn(&dsn).driver(driver), 1);
        let mut c: PgConn = pg.connect(0).unwrap();
        assert_eq!(c.driver(), driver);
        answers.push(sql_layer_answers(&pg, &mut c));
        assert_eq!(c.driver(), driver, "the SQL layer stayed on its driver");
    }
    assert_eq!(answers[0], answers[1], "the same rows and the same refusals");

    // Through the managed server's private socket (trust), the default driver.
    let mut c: PgConn = server.connect(0).unwrap();
    assert_eq!(c.driver(), Driver::Wire);
    assert_eq!(sql_layer_answers(&server, &mut c), answers[0]);
    // client() hands the session to the postgres crate, which then runs the SQL layer too.
    c.batch("BEGIN").unwrap();
    let in_tx = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        c.client();
    }))
    .unwrap_err();
    assert!(
        in_tx
            .downcast_ref::<&str>()
            .is_some_and(|m| m.contains("in a transaction begun through the SQL layer")),
        "a transaction is not dropped silently"
    );
    let mut c: PgConn = server.connect(0).unwrap();
    let n: i64 = c.client().query_one("SELECT count(*) FROM k", &[]).unwrap().get(0);
    assert_eq!((n, c.driver()), (2, Driver::Postgres));
    assert_eq!(c.count_rows("k").unwrap(), 2);

    // A wrong password on the wire: the server's words, never the password.
    let mut admin: PgConn = server.connect(0).unwrap();
    admin.batch("CREATE ROLE mover LOGIN PASSWORD 'first-pw'").unwrap();
    let pg = started(
        Postgres::dsn(format!(
            "host=127.0.0.1 port={port} user=mover password=first-pw dbname=stress_0"
        )),
        1,
    );
    admin.batch("ALTER ROLE mover PASSWORD 'second-pw'").unwrap();
    let e = pg.connect(0).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot connect to PostgreSQL at 127.0.0.1:{port}/stress_0:"))
            && e.contains("password authentication failed for user \"mover\""),
        "{e}"
    );
    assert!(!e.contains("first-pw"), "never the password: {e}");
}

/// A replay file's PostgreSQL settings are PostgreSQL's: a statement timeout beyond its int of
/// milliseconds, a driver that does not exist, or settings of another shape are refused in one
/// line before anything runs (`Runner::check` calls this for a replay).
#[test]
fn recorded_settings_postgres_cannot_take_are_refused() {
    let pg = Postgres::managed().statement_timeout(Duration::from_secs(5));
    let good = pg.describe();
    assert_eq!(pg.check_recorded(&good), Ok(()));
    for (what, edit, want) in [
        (
            "a timeout beyond an int",
            Box::new(|v: &mut serde_json::Value| v["statement_timeout_ms"] = 4_294_967_297u64.into())
                as Box<dyn Fn(&mut serde_json::Value)>,
            "adapter_config.statement_timeout_ms 4294967297 does not fit: PostgreSQL takes 0 to 2147483647 ms",
        ),
        (
            "another driver",
            Box::new(|v: &mut serde_json::Value| v["driver"] = "odbc".into()),
            "adapter_config.driver `odbc` is not a driver: wire or postgres",
        ),
        (
            "settings that are a number",
            Box::new(|v: &mut serde_json::Value| *v = 0.into()),
            "adapter_config is a number, where this adapter records an object",
        ),
    ] {
        let mut v = good.clone();
        edit(&mut v);
        let e = pg.check_recorded(&v).expect_err(what);
        assert!(e.contains(want) && !e.contains('\n'), "{what}: {e}");
    }
}

/// `.tls(true)`: a certificate made for the run, TLS only over TCP. Both drivers reach the
/// server over TLS (the server says so in `pg_stat_ssl`), verifying its certificate; a client
/// without TLS is refused by the server, and a client that verifies against another authority
/// is refused by itself, naming the certificate problem.
#[test]
fn a_managed_server_with_tls_takes_tls_connections_only() {
    let mut pg = started(
        Postgres::managed().tls(true).password("s3cret").setting("fsync", "off"),
        1,
    );
    let port = pg.server_port().unwrap();
    for driver in [Driver::Wire, Driver::Postgres] {
        let mut c = pg.connect(0).unwrap();
        if driver == Driver::Postgres {
            let ssl: bool = c
                .client()
                .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
                .unwrap()
                .get(0);
            assert!(ssl, "the postgres crate's session is over TLS");
        } else {
            assert_eq!(
                c.query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
                    .unwrap(),
                Value::Bool(true),
                "the wire client's session is over TLS"
            );
        }
    }
    // The same server by address: refused without TLS (hostssl only), taken with it.
    let by_dsn = |tls: &str, driver: Driver| {
        let mut given = Postgres::dsn(format!(
            "host=127.0.0.1 port={port} user=postgres password=s3cret dbname=stress_0 {tls}"
        ))
        .driver(driver);
        given.start(&ctx(1)).and_then(|()| given.connect(0).map(drop))
    };
    for driver in [Driver::Wire, Driver::Postgres] {
        let e = by_dsn("sslmode=disable", driver).unwrap_err().to_string();
        assert!(e.contains("no encryption"), "{driver:?}: {e}");
        by_dsn("sslmode=require", driver).unwrap();
        // Another authority's certificate as the root: the run's server is not trusted.
        let other = tempfile::NamedTempFile::new().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::default();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        std::fs::write(other.path(), ca.self_signed(&key).unwrap().pem()).unwrap();
        let e = by_dsn(
            &format!("sslmode=verify-full sslrootcert={}", other.path().display()),
            driver,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("UnknownIssuer") && e.contains("not signed by a CA in sslrootcert") && !e.contains('\n'),
            "{driver:?}: {e}"
        );
    }
    pg.stop().unwrap();
}
