//! The SQLite adapter against real database files.

#[path = "../../../tests/support/faults.rs"]
mod faults;
use faults::alive;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use stress_core::prelude::*;
use stress_core::{Adapter, StartContext, StopReason};
use stress_sqlite::{Sqlite, SqliteConn};

fn start(mut s: Sqlite, databases: usize) -> Sqlite {
    s.start(&StartContext {
        databases,
        out_dir: None,
        seed: 0,
        params: stress_core::params::Params::none(),
        setup: true,
        teardown: true,
        faults: &[],
    })
    .unwrap();
    s
}

#[test]
fn temp_files_are_wal_and_removed_at_stop() {
    let mut s = start(Sqlite::temp_file(), 2);
    let (p0, p1) = (s.path(0).unwrap().to_owned(), s.path(1).unwrap().to_owned());
    assert_ne!(p0, p1);
    let c = s.connect(1).unwrap();
    let mode: String = c.raw().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let timeout: i64 = c.raw().query_row("PRAGMA busy_timeout", [], |r| r.get(0)).unwrap();
    assert_eq!(timeout, 5000);
    drop(c);
    assert!(p0.exists());
    s.stop().unwrap();
    assert!(!p0.exists() && !p1.exists(), "temporary files are cleaned up");
    assert!(s.connect(5).is_err());
}

#[test]
fn a_named_file_is_kept_and_numbered_per_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = start(Sqlite::at(dir.path().join("data/orders.db")), 2);
    s.connect(1).unwrap().execute_params("CREATE TABLE t (x)", []).unwrap();
    s.stop().unwrap();
    assert!(dir.path().join("data/orders.db").is_file());
    assert!(dir.path().join("data/orders-1.db").is_file());
}

#[test]
fn in_memory_lives_on_a_ram_filesystem_when_there_is_one() {
    let mut s = start(Sqlite::in_memory(), 1);
    if std::path::Path::new("/dev/shm").is_dir() {
        assert!(s.path(0).unwrap().starts_with("/dev/shm"), "{:?}", s.path(0));
    }
    s.connect(0).unwrap().execute_params("CREATE TABLE t (x)", []).unwrap();
    s.stop().unwrap();
}

#[test]
fn a_journal_mode_sqlite_refuses_is_a_clear_error() {
    let mut s = Sqlite::temp_file().journal_mode("SIDEWAYS");
    let e = s
        .start(&StartContext {
            databases: 1,
            out_dir: None,
            seed: 0,
            params: stress_core::params::Params::none(),
            setup: true,
            teardown: true,
            faults: &[],
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("journal_mode SIDEWAYS"), "{e}");
    s.stop().unwrap();
}

/// Read-then-write transactions from many users at once: with `BEGIN IMMEDIATE` (what
/// `SqliteConn::write` does) writers queue on the busy timeout instead of failing.
#[test]
fn concurrent_writers_never_see_busy_errors() {
    fn bump(u: &mut User<Sqlite>) -> OpResult {
        let n = u.conn().write(|tx| {
            let v: i64 = tx.query_row("SELECT v FROM counter WHERE id = 1", [], |r| r.get(0))?;
            tx.execute("UPDATE counter SET v = ?1 WHERE id = 1", [v + 1])
        })?;
        u.ledger().acknowledge("bumps", n as u64);
        Ok(Outcome::rows(n as u64))
    }
    let w = Workload::new(Sqlite::temp_file())
        .setup(|db: &mut SqliteConn, _| {
            db.raw().execute_batch(
                "CREATE TABLE counter (id INTEGER PRIMARY KEY, v INTEGER); INSERT INTO counter VALUES (1, 0);",
            )?;
            Ok(())
        })
        .class(UserClass::new("bumper", 6).write("bump", 1.0, bump))
        .verify(|db, ledger| {
            db.integrity_check()?;
            let v = db.query_i64("SELECT v FROM counter WHERE id = 1", [])?;
            if v as u64 != ledger.rows("bumps") {
                stress_core::op_bail!("counter is {v}, {} bumps were acknowledged", ledger.rows("bumps"));
            }
            Ok(())
        });
    let r = Runner::new("bumps").seed(1).ops_per_user(300).run(w).unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::OpLimit);
    assert_eq!(s.failed_ops, 0, "{:?}", s.errors.first());
    assert_eq!(s.total_ops, 1800);
    assert!(s.verify.passed, "{:?}", s.verify.errors);
}

/// A disk budget holds to within one op's writes per writing user: each write asks the adapter
/// for the files' size first (SQLite: three `stat` calls), not once a second, when a fast
/// writer could put tens of MB past it.
#[test]
fn disk_size_is_reported_and_drives_the_disk_budget() {
    const MB: u64 = 1_048_576;
    let written = Arc::new(AtomicU64::new(0));
    let w2 = written.clone();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blobs.db");
    let w = Workload::new(Sqlite::at(&db))
        .setup(|db: &mut SqliteConn, _| {
            db.raw().execute_batch("CREATE TABLE blobs (b BLOB)")?;
            Ok(())
        })
        .class(
            UserClass::new("writer", 2)
                .write("blob", 0.9, move |u: &mut User<Sqlite>| {
                    // 1 MB an op.
                    let rows = u
                        .conn()
                        .insert_rows("INSERT INTO blobs VALUES (zeroblob(65536))", (0..16).map(|_| ()))?;
                    w2.fetch_add(rows, Ordering::Relaxed);
                    Ok(Outcome::rows(rows).with_bytes(rows * 65536))
                })
                .read("count", 0.1, |u: &mut User<Sqlite>| {
                    Ok(Outcome::rows(u.conn().count("blobs")?))
                }),
        );
    let layer = stress_core::ConfigLayer {
        max_disk_mb: Some(2),
        ..Default::default()
    };
    // 2 writers × 30 ops would write 54 MB or so unchecked, in well under a second.
    let r = Runner::new("blobs")
        .seed(2)
        .ops_per_user(30)
        .settings(&layer)
        .run(w)
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, stress_core::StopReason::OpLimit);
    assert!(s.substituted_ops > 0, "writes became reads once the files passed 2 MB");
    assert_eq!(s.total_bytes, written.load(Ordering::Relaxed) * 65536);
    // Within one op (1 MB of rows) per writing user past the 2 MB budget.
    let rows_bytes = written.load(Ordering::Relaxed) * 65536;
    assert!(
        rows_bytes <= 4 * MB,
        "{} MB of rows written under a 2 MB budget",
        rows_bytes / MB
    );
    let files: u64 = ["", "-wal", "-shm"]
        .iter()
        .map(|x| std::fs::metadata(format!("{}{x}", db.display())).map_or(0, |m| m.len()))
        .sum();
    // The files hold each row about twice (WAL and database) between checkpoints.
    assert!(
        files <= 7 * MB,
        "the files take {} KB under a 2 MB budget",
        files / 1024
    );
    assert!(s.resources["sqlite.disk_mb"] >= 2.0, "{:?}", s.resources);
}

#[test]
fn the_sql_layer_on_sqlite() {
    use stress_core::sql::{ColumnType, SqlConn, TableDef, Value};
    let s = start(Sqlite::temp_file(), 1);
    let mut c = s.connect(0).unwrap();
    let t = TableDef::new("items")
        .column("id", ColumnType::Int)
        .column("name", ColumnType::Text)
        .column("small", ColumnType::SmallInt)
        .column("big", ColumnType::BigInt)
        .column("price", ColumnType::Double)
        .column("active", ColumnType::Bool)
        .nullable("at", ColumnType::Timestamp);
    c.create_table(&t, false).unwrap();
    let rows: Vec<Vec<Value>> = (0..50)
        .map(|i| {
            vec![
                Value::Int(i),
                Value::Text(format!("item-{i}")),
                Value::SmallInt(i as i16),
                Value::BigInt(i64::from(i) << 40),
                Value::Double(f64::from(i) / 4.0),
                Value::Bool(i % 2 == 0),
                if i % 5 == 0 {
                    Value::Null
                } else {
                    Value::Timestamp(1_700_000_000_000_000 + i64::from(i))
                },
            ]
        })
        .collect();
    assert_eq!(SqlConn::bulk_insert(&mut c, &t, &rows).unwrap(), 50);
    assert_eq!(c.count_rows("items").unwrap(), 50);
    let r = c
        .query(
            "SELECT name, price, at FROM items WHERE id = $2 OR id = $1 ORDER BY id",
            &[Value::Int(3), Value::Int(5)],
        )
        .unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(
        r[0],
        vec![
            Value::Text("item-3".into()),
            Value::Double(0.75),
            Value::BigInt(1_700_000_000_000_003)
        ]
    );
    assert_eq!(r[1][2], Value::Null);
    assert_eq!(
        c.query_scalar("SELECT count(*) FROM items WHERE active", &[]).unwrap(),
        Value::BigInt(25)
    );
    assert_eq!(
        SqlConn::execute(&mut c, "DELETE FROM items WHERE id < $1", &[Value::Int(10)]).unwrap(),
        10
    );
    let bad = vec![vec![Value::Text("x".into())]];
    assert!(
        SqlConn::bulk_insert(&mut c, &t, &bad)
            .unwrap_err()
            .to_string()
            .contains("has 1 values")
    );
    c.create_table(&TableDef::new("scratch").column("x", ColumnType::Int), true)
        .unwrap();
    c.drop_table("scratch").unwrap();
    c.drop_table("scratch").unwrap();
}

#[test]
fn a_busy_database_is_retryable_and_other_errors_are_not() {
    let mut s = start(Sqlite::temp_file().busy_timeout(std::time::Duration::ZERO), 1);
    let mut holder = s.connect(0).unwrap();
    let mut other = s.connect(0).unwrap();
    holder
        .raw_mut()
        .execute_batch("CREATE TABLE t (x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1)")
        .unwrap();
    // A second writer finds the write lock taken: SQLITE_BUSY, for real.
    let busy: OpError = other
        .write(|tx| tx.execute("INSERT INTO t VALUES (2)", []))
        .unwrap_err()
        .into();
    assert!(
        busy.to_string().contains("locked") || busy.to_string().contains("busy"),
        "{busy}"
    );
    assert!(s.is_retryable(&busy));
    let syntax: OpError = other
        .raw()
        .execute("INSERT INTO nowhere VALUES (1)", [])
        .unwrap_err()
        .into();
    assert!(!s.is_retryable(&syntax), "{syntax}");
    assert!(s.is_retryable(&OpError::msg("mine").retryable()));
    holder.raw_mut().execute_batch("COMMIT").unwrap();
    drop((holder, other));
    s.stop().unwrap();
}

/// A real engine under an open-loop rate: four SQLite users share a fixed rate of inserts and
/// lookups (equal gaps), each to its op limit. Decided by counts, not the clock: every slot
/// the schedule handed out ran (the schedule is delivered in full), every op is counted under
/// its name and measured both from its intended and from its actual start, the
/// intended-start latency is never below the service time at any percentile (it adds the
/// schedule lag), and the verify step finds every acknowledged row.
#[test]
fn sqlite_under_an_open_loop_rate_delivers_its_whole_schedule() {
    const USERS: u64 = 4;
    const OPS_PER_USER: u64 = 50;
    fn insert(u: &mut User<Sqlite>) -> OpResult {
        let (user, n) = (u.id().to_owned(), u.ops_done() as i64);
        let payload = u.rng().random_range(0..1_000_000i64);
        let rows = u.conn().write(|tx| {
            tx.execute(
                "INSERT INTO events (user, n, payload) VALUES (?1, ?2, ?3)",
                stress_sqlite::rusqlite::params![user, n, payload],
            )
        })?;
        u.ledger().acknowledge("events", rows as u64);
        Ok(Outcome::rows(rows as u64))
    }
    fn lookup(u: &mut User<Sqlite>) -> OpResult {
        let n = u.rng().random_range(0..OPS_PER_USER as i64);
        let found = u.conn().query_i64("SELECT count(*) FROM events WHERE n = ?1", [n])?;
        Ok(Outcome::rows(found as u64))
    }
    let w = Workload::new(Sqlite::temp_file())
        .setup(|db: &mut SqliteConn, _| {
            db.raw().execute_batch(
                "CREATE TABLE events (id INTEGER PRIMARY KEY, user TEXT NOT NULL, n INTEGER NOT NULL, payload INTEGER NOT NULL);
                 CREATE INDEX events_n ON events (n);",
            )?;
            Ok(())
        })
        .class(
            UserClass::new("user", USERS as usize)
                .write("insert", 0.6, insert)
                .read("lookup", 0.4, lookup),
        )
        .verify(|db, ledger| ledger.check_counts(&["events"], |_| 0, |t| db.count(t)));
    let r = Runner::new("sqlite_rate")
        .seed(5)
        .rate(400.0)
        .ops_per_user(OPS_PER_USER)
        .settings(&stress_core::ConfigLayer {
            arrival: Some(stress_core::config::Arrival::Uniform),
            ..Default::default()
        })
        .run(w)
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.stop_reason, StopReason::OpLimit, "{:?}", s.stop_detail);
    assert_eq!(s.failed_ops, 0, "{:?}", s.errors.first());
    assert_eq!(s.total_ops, USERS * OPS_PER_USER);
    assert_eq!(
        s.scheduled_ops,
        Some(USERS * OPS_PER_USER),
        "the op limit caps the schedule"
    );
    assert_eq!(s.delivered, Some(1.0));
    for u in &s.users {
        assert_eq!((u.ops, u.scheduled_ops), (OPS_PER_USER, Some(OPS_PER_USER)), "{}", u.id);
    }
    let (inserts, lookups) = (&s.ops["insert"], &s.ops["lookup"]);
    assert!(inserts.count > 0 && lookups.count > 0, "{:?}", s.ops.keys());
    assert_eq!(inserts.count + lookups.count, s.total_ops, "every op counted by name");
    assert_eq!(s.latency_us.count, s.total_ops, "every op from its intended start");
    assert_eq!(s.service_us.count, s.total_ops, "and from its actual start");
    let pairs = |l: &stress_core::stats::LatencySummary, s: &stress_core::stats::LatencySummary| {
        [("p50", l.p50, s.p50), ("p99", l.p99, s.p99), ("max", l.max, s.max)]
    };
    let mut checked = vec![("all", pairs(&s.latency_us, &s.service_us))];
    for (name, o) in &s.ops {
        let service = o
            .service_us
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no service time"));
        checked.push((name.as_str(), pairs(&o.latency_us, service)));
    }
    for (what, pairs) in checked {
        for (p, latency, service) in pairs {
            assert!(
                latency >= service && service > 0,
                "{what} {p}: latency {latency} µs, service {service} µs"
            );
        }
    }
    assert!(s.verify.ran && s.verify.passed, "{:?}", s.verify.errors);
    assert!(s.passed, "{:?}", s.failures);
}

/// Set in the child process the kill test re-runs itself as.
const KILLED_HARNESS: &str = "STRESS_TEST_KILLED_SQLITE_HARNESS";

/// A harness SIGKILLed mid-run leaves no temporary database behind (they can be hundreds of
/// MB of WAL): a watchdog removes them.
#[test]
fn a_harness_killed_with_sigkill_leaves_no_temporary_database() {
    use std::io::BufRead;
    if std::env::var_os(KILLED_HARNESS).is_some() {
        let s = start(Sqlite::temp_file(), 1);
        println!("\nready {}", s.path(0).unwrap().parent().unwrap().display());
        std::thread::sleep(std::time::Duration::from_secs(600));
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_harness_killed_with_sigkill_leaves_no_temporary_database",
            "--nocapture",
        ])
        .env(KILLED_HARNESS, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let dir = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ready ").map(std::path::PathBuf::from))
        .expect("the child started SQLite");
    assert!(dir.join("db.sqlite").is_file());
    child.kill().unwrap();
    child.wait().unwrap();
    // A hang guard only.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while dir.exists() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!dir.exists(), "{} was left behind", dir.display());
}

/// A write-heavy workload whose writes the acknowledged-write checker tracks; `insert` decides
/// how each op writes its key.
fn tracked(insert: fn(&mut User<Sqlite>) -> OpResult) -> Workload<Sqlite> {
    Workload::new(Sqlite::temp_file())
        .setup(|db: &mut SqliteConn, _| {
            db.raw()
                .execute_batch("CREATE TABLE kv (k INTEGER PRIMARY KEY CHECK (k >= 0))")?;
            Ok(())
        })
        .class(UserClass::new("writer", 3).write("insert", 1.0, insert))
        .durability(|db: &mut SqliteConn, seen| {
            let mut stmt = db.raw().prepare("SELECT k FROM kv")?;
            let keys = stmt.query_map([], |r| r.get::<_, i64>(0))?;
            for k in keys {
                seen(k?);
            }
            Ok(())
        })
}

fn honest(u: &mut User<Sqlite>) -> OpResult {
    let k = u.begin_write();
    u.conn()
        .write::<_, stress_sqlite::rusqlite::Error>(|tx| tx.execute("INSERT INTO kv VALUES (?1)", [k]))?;
    u.acknowledge_write(k);
    Ok(Outcome::rows(1))
}

#[test]
fn the_checker_finds_every_acknowledged_write_of_an_honest_workload() {
    let r = Runner::new("honest")
        .seed(1)
        .ops_per_user(200)
        .run(tracked(honest))
        .unwrap();
    let s = &r.summary;
    assert!(s.passed, "{:?}", s.failures);
    let d = s.durability.as_ref().expect("the workload tracks writes");
    assert_eq!((d.writes, d.acknowledged, d.present), (600, 600, 600));
    assert_eq!((d.lost, d.unexpected, d.recovered, d.failed), (0, 0, 0, 0));
}

/// The positive control: an op that acknowledges before it commits, and every 7th commit
/// rolled back: the checker must report those writes lost and fail the run.
#[test]
fn an_op_that_acknowledges_before_it_commits_is_caught() {
    fn ack_first(u: &mut User<Sqlite>) -> OpResult {
        let k = u.begin_write();
        u.acknowledge_write(k);
        let roll_back = u.ops_done() % 7 == 3;
        u.conn()
            .write::<_, stress_sqlite::rusqlite::Error>(|tx| {
                tx.execute("INSERT INTO kv VALUES (?1)", [k])?;
                if roll_back {
                    // As if the commit never reached the disk: the row is gone, the ack is not.
                    return Err(stress_sqlite::rusqlite::Error::QueryReturnedNoRows);
                }
                Ok(())
            })
            .or_else(|e| if roll_back { Ok(()) } else { Err(e) })?;
        Ok(Outcome::rows(1))
    }
    let dir = tempfile::tempdir().unwrap();
    let r = Runner::new("ack_first")
        .seed(1)
        .ops_per_user(70)
        .output_dir(dir.path().join("run"))
        .run(tracked(ack_first))
        .unwrap();
    let s = &r.summary;
    let d = s.durability.as_ref().unwrap();
    assert_eq!(d.lost, 30, "10 of each writer's 70 were rolled back: {d:?}");
    assert_eq!(d.first_lost[0], "writer-0#3");
    assert!(!s.passed);
    assert_eq!(s.exit_code(), 1);
    assert!(
        s.failures
            .iter()
            .any(|f| f.message.contains("30 acknowledged writes lost (first: writer-0#3")),
        "{:?}",
        s.failures
    );
    let page = std::fs::read_to_string(dir.path().join("run/report.html")).unwrap();
    assert!(
        page.contains("<h2>Acknowledged writes</h2>") && page.contains("<b>30</b>"),
        "the report's table"
    );
    assert!(page.contains("First lost: writer-0#3, "), "the report names them");
}

#[test]
fn a_key_no_write_made_is_unexpected_and_a_refused_write_is_not_lost() {
    fn stray(u: &mut User<Sqlite>) -> OpResult {
        let k = u.begin_write();
        if u.ops_done() == 5 {
            // The engine says no (its CHECK): the write is refused, and not lost.
            u.conn()
                .write::<_, stress_sqlite::rusqlite::Error>(|tx| tx.execute("INSERT INTO kv VALUES (-1)", []))?;
        }
        if u.ops_done() == 7 {
            // A key no write of the run made.
            let never = stress_core::durability::key(5, 123);
            u.conn()
                .write::<_, stress_sqlite::rusqlite::Error>(|tx| tx.execute("INSERT INTO kv VALUES (?1)", [never]))?;
        }
        u.conn()
            .write::<_, stress_sqlite::rusqlite::Error>(|tx| tx.execute("INSERT INTO kv VALUES (?1)", [k]))?;
        u.acknowledge_write(k);
        Ok(Outcome::rows(1))
    }
    // One failed op is allowed: the verdict is the checker's alone.
    let layer = stress_core::ConfigLayer {
        max_error_rate: Some(0.5),
        ..Default::default()
    };
    let s = Runner::new("stray")
        .seed(1)
        .ops_per_user(10)
        .users("writer", 1)
        .settings(&layer)
        .run(tracked(stray))
        .unwrap()
        .summary;
    let d = s.durability.as_ref().unwrap();
    assert_eq!((d.writes, d.acknowledged, d.failed, d.lost), (10, 9, 1, 0), "{d:?}");
    assert_eq!((d.present, d.unexpected), (10, 1), "{d:?}");
    assert_eq!(
        d.first_unexpected,
        [format!(
            "{} (no user's) (never attempted)",
            stress_core::durability::key(5, 123)
        )]
    );
    assert_eq!(s.failures.len(), 1, "{:?}", s.failures);
    assert!(
        s.failures[0]
            .message
            .starts_with("durability check failed: 1 unexpected writes"),
        "{:?}",
        s.failures
    );
    assert_eq!(s.exit_code(), 1);
}

/// Not a test: the way in of the SQLite engine host, which a hosted adapter starts as this very
/// binary (`engine_host --exact`, with `STRESS_SQLITE_HOST` set). In any other run it returns
/// at once.
#[test]
fn engine_host() {
    stress_core::serve_engine_host();
}

fn hosted_started(databases: usize) -> Sqlite {
    start(Sqlite::temp_file().hosted(), databases)
}

/// A write-heavy workload on a hosted SQLite whose writes the checker tracks, through the SQL
/// layer (the connections live in the host); `insert` decides how each op writes its key.
fn hosted_tracked(insert: fn(&mut User<Sqlite>) -> OpResult) -> Workload<Sqlite> {
    tracked_on(Sqlite::temp_file().hosted(), insert)
}

/// The same on `sqlite`.
fn tracked_on(sqlite: Sqlite, insert: fn(&mut User<Sqlite>) -> OpResult) -> Workload<Sqlite> {
    Workload::new(sqlite)
        .setup(|db: &mut SqliteConn, _| db.batch("CREATE TABLE kv (k INTEGER PRIMARY KEY)"))
        .class(UserClass::new("writer", 3).write("insert", 1.0, insert))
        .durability(|db: &mut SqliteConn, seen| {
            for row in db.query("SELECT k FROM kv", &[])? {
                if let Some(Value::BigInt(k)) = row.first() {
                    seen(*k);
                }
            }
            Ok(())
        })
}

fn hosted_insert(u: &mut User<Sqlite>) -> OpResult {
    let k = u.begin_write();
    u.conn().execute("INSERT INTO kv VALUES ($1)", &[Value::BigInt(k)])?;
    u.acknowledge_write(k);
    Ok(Outcome::rows(1))
}

fn host_pid_of(target: &str) -> u32 {
    target
        .strip_prefix("sqlite host (pid ")
        .and_then(|t| t.strip_suffix(')'))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a host: {target}"))
}

#[test]
fn a_hosted_engine_serves_the_sql_layer_from_a_child_process() {
    let mut s = hosted_started(2);
    let host = s.host_pid().expect("a host runs");
    assert_ne!(host, std::process::id());
    assert!(alive(host));
    let mut c = s.connect(1).unwrap();
    assert!(c.is_hosted());
    c.batch("CREATE TABLE t (x INTEGER, y TEXT)").unwrap();
    let t = TableDef::new("t")
        .column("x", ColumnType::Int)
        .column("y", ColumnType::Text);
    let rows: Vec<Row> = (0..100)
        .map(|i| vec![Value::Int(i), Value::Text(format!("r{i}"))])
        .collect();
    assert_eq!(c.bulk_insert(&t, &rows).unwrap(), 100);
    assert_eq!(
        c.execute(
            "UPDATE t SET y = $1 WHERE x < $2",
            &[Value::Text("low".into()), Value::Int(10)]
        )
        .unwrap(),
        10
    );
    assert_eq!(
        c.query_scalar("SELECT count(*) FROM t WHERE y = 'low'", &[]).unwrap(),
        Value::BigInt(10)
    );
    assert_eq!(c.count("t").unwrap(), 100);
    c.integrity_check().unwrap();
    // SQLite's own errors come back as SQLite's, codes and all.
    let e = c.execute("INSERT INTO nowhere VALUES (1)", &[]).unwrap_err();
    assert!(e.to_string().contains("no such table: nowhere"), "{e}");
    assert!(e.find::<stress_sqlite::rusqlite::Error>().is_some(), "{e:?}");
    assert!(!s.is_indeterminate(&e) && !s.is_retryable(&e));
    // The file is the adapter's, where it says.
    let p1 = s.path(1).unwrap().to_owned();
    drop(c);
    let local = stress_sqlite::rusqlite::Connection::open(&p1).unwrap();
    let n: i64 = local.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 100);
    drop(local);
    s.stop().unwrap();
    assert!(!alive(host), "the host stopped with the adapter");
    assert!(!p1.exists());
}

/// Twenty kills or more, over as many 12-second runs as it takes (one on a quiet machine; a
/// busy one, where each host takes longer to come back, fits fewer kills in a run): every
/// run keeps every acknowledged write, and every kill hits another host that checks ok.
#[test]
fn killed_twenty_times_the_hosted_engine_keeps_every_acknowledged_write_and_checks_ok() {
    let (mut kills, mut interrupted) = (0, 0);
    for round in 1.. {
        assert!(round <= 10, "only {kills} kills injected in {} runs of 12 s", round - 1);
        let (k, i) = killed_for_12_seconds(4 + round);
        (kills, interrupted) = (kills + k, interrupted + i);
        if kills >= 20 {
            break;
        }
    }
    assert!(interrupted > 0, "kills broke ops in flight");
}

/// One run of 12 s with a kill every 200–450 ms: the kills injected and the ops they broke.
fn killed_for_12_seconds(seed: u64) -> (usize, u64) {
    use stress_core::fault::FaultKind;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed");
    let r = Runner::new("killed")
        .seed(seed)
        .duration(std::time::Duration::from_secs(12))
        .fault("kill@every=200ms..450ms")
        .output_dir(&out)
        .run(hosted_tracked(hosted_insert))
        .unwrap();
    let s = &r.summary;
    let planned = stress_core::ReplayFile::load(&out).unwrap().faults;
    assert!(planned.len() >= 20, "{} kills planned", planned.len());
    assert_eq!(s.faults.len(), planned.len(), "every planned kill has its row");
    let injected: Vec<_> = s.faults.iter().filter(|f| f.skipped.is_none()).collect();
    assert!(!injected.is_empty(), "no kill injected: {:?}", s.faults);
    let mut hosts = Vec::new();
    for f in &injected {
        assert_eq!((f.kind, &f.error), (FaultKind::Kill, &None), "{f:?}");
        assert!(f.recovery_ms.is_some(), "{f:?}");
        assert_eq!(f.check.as_deref(), Some("integrity_check: ok"), "{f:?}");
        hosts.push(host_pid_of(&f.target));
    }
    // A kill not injected was skipped because the users' time was over, never for another cause.
    for f in s.faults.iter().filter(|f| f.skipped.is_some()) {
        assert!(
            f.skipped.as_deref().unwrap().contains("the users' time was over"),
            "{f:?}"
        );
    }
    hosts.dedup();
    assert_eq!(hosts.len(), injected.len(), "each kill hit another host: {hosts:?}");
    assert!(hosts.iter().all(|p| !alive(*p)), "no host outlived the run");
    assert!(s.passed, "{:?} {:?}", s.failures, s.errors.first());
    assert_eq!(
        s.failed_ops,
        0,
        "a killed host is not a failed op: {:?}",
        s.errors.first()
    );
    let d = s.durability.as_ref().expect("tracked");
    assert_eq!((d.lost, d.unexpected), (0, 0), "{d:?}");
    assert!(d.acknowledged > 100 && d.present >= d.acknowledged, "{d:?}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["faults"][0]["check"], "integrity_check: ok",
        "the check is in the summary"
    );
    (injected.len(), s.interrupted_ops)
}

/// The positive control on a hosted SQLite under kills: an op that acknowledges before it
/// commits, one commit in 7 rolled back, loses acknowledged writes and fails the run.
#[test]
fn hosted_and_killed_an_op_that_acknowledges_before_it_commits_is_caught() {
    fn ack_first(u: &mut User<Sqlite>) -> OpResult {
        let k = u.begin_write();
        u.acknowledge_write(k);
        let end = if u.ops_done() % 7 == 3 { "ROLLBACK" } else { "COMMIT" };
        let c = u.conn();
        c.batch("BEGIN IMMEDIATE")?;
        c.execute("INSERT INTO kv VALUES ($1)", &[Value::BigInt(k)])?;
        c.batch(end)?;
        Ok(Outcome::rows(1))
    }
    let r = Runner::new("ack_first")
        .seed(2)
        .duration(std::time::Duration::from_secs(3))
        .fault("kill@every=500ms..900ms")
        .run(hosted_tracked(ack_first))
        .unwrap();
    let s = &r.summary;
    assert!(!s.faults.is_empty());
    let d = s.durability.as_ref().unwrap();
    assert!(d.lost > 0, "{d:?}");
    assert!(!s.passed);
    assert_eq!(s.exit_code(), 1);
}

#[test]
fn a_paused_host_shows_in_the_latencies_and_a_restart_checks_the_files() {
    use stress_core::fault::FaultKind;
    let r = Runner::new("paused")
        .seed(3)
        .duration(std::time::Duration::from_secs(4))
        .fault("pause:1500ms@at=1s")
        .fault("restart@at=3s")
        .run(hosted_tracked(hosted_insert))
        .unwrap();
    let s = &r.summary;
    assert!(s.passed, "{:?} {:?}", s.failures, s.errors.first());
    let kinds: Vec<FaultKind> = s.faults.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [FaultKind::Pause, FaultKind::Restart], "{:?}", s.faults);
    assert!(
        s.faults.iter().all(|f| f.error.is_none() && f.recovery_ms.is_some()),
        "{:?}",
        s.faults
    );
    assert_eq!(s.faults[1].check.as_deref(), Some("integrity_check: ok"));
    assert!(
        s.latency_us.max >= 1_000_000,
        "the stall is in the latencies: {:?}",
        s.latency_us
    );
    let d = s.durability.as_ref().unwrap();
    assert_eq!((d.lost, d.unexpected), (0, 0), "{d:?}");
}

/// `corrupt` on a database whose pages are all in the main file (the WAL checkpointed): a page
/// of the table's b-tree overwritten, and SQLite's `integrity_check` finds it.
#[test]
fn a_corrupted_page_is_found_by_integrity_check() {
    use stress_core::fault::{FaultKind, PlannedFault};
    let mut s = hosted_started(1);
    let mut c = s.connect(0).unwrap();
    c.batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)").unwrap();
    let t = TableDef::new("t")
        .column("k", ColumnType::BigInt)
        .column("v", ColumnType::Text);
    let rows: Vec<Row> = (0..5000)
        .map(|i| vec![Value::BigInt(i), Value::Text("x".repeat(40))])
        .collect();
    c.bulk_insert(&t, &rows).unwrap();
    c.batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    drop(c);
    let host = s.host_pid().unwrap();
    let corrupt = PlannedFault {
        kind: FaultKind::Corrupt,
        at_ms: None,
        hold_ms: None,
        arg: None,
    };
    let done = s.inject(&corrupt, &|| false).unwrap();
    let check = done.check.unwrap();
    println!("corrupt: {check}");
    assert!(check.starts_with("damaged page "), "{check}");
    assert!(check.contains("of db.sqlite"), "{check}");
    assert!(!check.contains("integrity_check: ok"), "SQLite found it: {check}");
    assert!(
        !alive(host) && s.host_pid().is_some_and(|p| p != host),
        "a new host serves"
    );
    // The same seed damages the same page.
    let mut again = hosted_started(1);
    let mut c = again.connect(0).unwrap();
    c.batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)").unwrap();
    c.bulk_insert(&t, &rows).unwrap();
    c.batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    drop(c);
    let twice = again.inject(&corrupt, &|| false).unwrap().check.unwrap();
    assert_eq!(twice.split(';').next(), check.split(';').next());
    again.stop().unwrap();
    s.stop().unwrap();
}

#[test]
fn in_process_sqlite_refuses_faults_and_names_hosted() {
    let w = tracked(honest);
    let e = Runner::new("refused")
        .duration(std::time::Duration::from_secs(2))
        .fault("kill@at=1s")
        .run(w)
        .unwrap_err();
    assert!(e.to_string().contains("kill"), "{e}");
}

/// Runs the test `name` of this binary again as a child with `var` set, and waits until it
/// prints `ready …`: the rest of that line.
fn run_self_until_ready(name: &str, var: &str) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture"])
        .env(var, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let line = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ready ").map(str::to_owned))
        .unwrap_or_else(|| panic!("{name}: the child never said it was ready"));
    (child, line)
}

/// The directory of the socket the engine host `pid` serves (from its environment).
fn socket_dir_of(pid: u32) -> std::path::PathBuf {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let socket = environ
        .split(|b| *b == 0)
        .find_map(|v| v.strip_prefix(format!("{}=", stress_sqlite::HOST_VAR).as_bytes()))
        .expect("the host names its socket");
    std::path::Path::new(std::str::from_utf8(socket).unwrap())
        .parent()
        .unwrap()
        .to_owned()
}

/// Set in the child process the watchdog test re-runs itself as.
const KILLED_HOSTED: &str = "STRESS_TEST_KILLED_HOSTED";

/// A harness SIGKILLed while its engine host runs (paused, even) leaves no host behind.
#[test]
fn a_harness_killed_leaves_no_engine_host_behind() {
    use stress_core::fault::{FaultKind, PlannedFault};
    if std::env::var_os(KILLED_HOSTED).is_some() {
        let s = std::sync::Arc::new(hosted_started(1));
        let mut c = s.connect(0).unwrap();
        c.batch("CREATE TABLE t (x)").unwrap();
        let host = s.host_pid().unwrap();
        let pausing = std::sync::Arc::clone(&s);
        std::thread::spawn(move || {
            let pause = PlannedFault {
                kind: FaultKind::Pause,
                at_ms: Some(0),
                hold_ms: Some(600_000),
                arg: None,
            };
            let _ = pausing.inject(&pause, &|| false);
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        println!("\nready {host} {}", s.path(0).unwrap().display());
        std::thread::sleep(std::time::Duration::from_secs(600));
        return;
    }
    let (mut child, line) = run_self_until_ready("a_harness_killed_leaves_no_engine_host_behind", KILLED_HOSTED);
    let (host, path) = line.split_once(' ').unwrap();
    let host: u32 = host.parse().unwrap();
    assert!(alive(host));
    let sockets = socket_dir_of(host);
    assert!(sockets.is_dir());
    child.kill().unwrap();
    child.wait().unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while (alive(host) || std::path::Path::new(path).exists() || sockets.exists()) && std::time::Instant::now() < until
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!sockets.exists(), "{} was left behind", sockets.display());
    assert!(!alive(host), "host {host} outlived its harness");
    assert!(!std::path::Path::new(path).exists(), "{path} was left behind");
}

/// Keys that cannot be read back say nothing of what was lost: the check fails naming the
/// error, and no write is called lost.
#[test]
fn keys_that_cannot_be_read_back_fail_the_check_without_calling_writes_lost() {
    let w = tracked(honest).durability(|db: &mut SqliteConn, _seen| {
        db.raw().execute_batch("SELECT k FROM no_such_table")?;
        Ok(())
    });
    let r = Runner::new("unreadable").seed(1).ops_per_user(20).run(w).unwrap();
    let s = &r.summary;
    let d = s.durability.as_ref().unwrap();
    assert_eq!(d.lost, 0, "{d:?}");
    assert!(
        d.errors[0].contains("reading the keys back failed") && d.errors[0].contains("no_such_table"),
        "{d:?}"
    );
    assert!(!s.passed);
    assert_eq!(s.exit_code(), 1);
}

/// `disk-full` on a hosted SQLite whose files live on a 32 MiB filesystem of the run's own:
/// writes fail with SQLite's own error while it is full, are counted, and lose nothing; once the
/// space is back the engine goes on; the mount and its holder are gone after the run.
#[test]
fn a_full_disk_fails_writes_with_sqlites_own_error_and_the_engine_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("full");
    let r = Runner::new("full")
        .seed(6)
        .duration(std::time::Duration::from_secs(5))
        .fault("disk-full:1500ms@at=1s")
        .output_dir(&out)
        .run(tracked_on(
            Sqlite::temp_file().hosted().disk_limit_mb(32),
            hosted_insert,
        ))
        .unwrap();
    faults::assert_a_full_disk_was_survived(&r.summary, &out, "database or disk is full");
}

#[test]
fn disk_full_refuses_a_file_the_user_named_and_an_in_process_engine() {
    let dir = tempfile::tempdir().unwrap();
    let r = Runner::new("named")
        .duration(std::time::Duration::from_secs(2))
        .fault("disk-full:1s@at=1s")
        .run(tracked_on(Sqlite::at(dir.path().join("x.db")).hosted(), hosted_insert))
        .unwrap();
    let said = format!("{:?}", r.summary.failures);
    assert!(
        said.contains("not at ") && said.contains("Sqlite::temp_file().hosted()"),
        "{said}"
    );
    assert!(!r.summary.passed);
    let e = Runner::new("in_process")
        .duration(std::time::Duration::from_secs(2))
        .fault("disk-full:1s@at=1s")
        .run(tracked(honest))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sqlite cannot inject `disk-full`") && e.contains("Sqlite::hosted()"),
        "{e}"
    );
}

/// Set in the child process the watchdog test re-runs itself as.
const KILLED_WHILE_FULL: &str = "STRESS_TEST_KILLED_WHILE_FULL";

/// A harness SIGKILLed while a `disk-full` fault holds its filesystem full leaves nothing: not
/// the engine host, not the filesystem's holder, not the mountpoint.
#[test]
fn a_harness_killed_during_disk_full_leaves_no_host_and_no_mount() {
    use stress_core::fault::{FaultKind, PlannedFault};
    if std::env::var_os(KILLED_WHILE_FULL).is_some() {
        let mut s = Sqlite::temp_file().hosted().disk_limit_mb(16);
        s.start(&StartContext {
            databases: 1,
            out_dir: None,
            seed: 0,
            params: stress_core::params::Params::none(),
            setup: true,
            teardown: true,
            faults: &[FaultKind::DiskFull],
        })
        .unwrap();
        let s = std::sync::Arc::new(s);
        let host = s.host_pid().unwrap();
        let filling = std::sync::Arc::clone(&s);
        std::thread::spawn(move || {
            let full = PlannedFault {
                kind: FaultKind::DiskFull,
                at_ms: Some(0),
                hold_ms: Some(600_000),
                arg: None,
            };
            let _ = filling.inject(&full, &|| false);
        });
        std::thread::sleep(std::time::Duration::from_millis(500));
        // The mountpoint, as the namespace sees it: /proc/<holder>/root/<mountpoint>/db.sqlite.
        let path = s.path(0).unwrap().to_string_lossy().into_owned();
        let (holder, inside) = path.strip_prefix("/proc/").and_then(|p| p.split_once("/root")).unwrap();
        let mountpoint = inside.strip_suffix("/db.sqlite").unwrap();
        println!("\nready {host} {holder} {mountpoint}");
        std::thread::sleep(std::time::Duration::from_secs(600));
        return;
    }
    let (mut child, line) = run_self_until_ready(
        "a_harness_killed_during_disk_full_leaves_no_host_and_no_mount",
        KILLED_WHILE_FULL,
    );
    let parts: Vec<&str> = line.split(' ').collect();
    let (host, holder, mountpoint): (u32, u32, &str) = (parts[0].parse().unwrap(), parts[1].parse().unwrap(), parts[2]);
    assert!(alive(host) && alive(holder));
    assert!(std::path::Path::new(mountpoint).is_dir());
    let sockets = socket_dir_of(host);
    child.kill().unwrap();
    child.wait().unwrap();
    let gone = || {
        !alive(host)
            && !sockets.exists()
            && !alive(holder)
            && !std::path::Path::new(mountpoint).exists()
            && stress_core::monitor::pids_with_cmdline(mountpoint).is_empty()
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !gone() && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!alive(host), "host {host} outlived its harness");
    assert!(!alive(holder), "the filesystem's holder {holder} outlived its harness");
    assert!(!sockets.exists(), "{} was left behind", sockets.display());
    assert!(
        stress_core::monitor::pids_with_cmdline(mountpoint).is_empty(),
        "its watchdog outlived its harness"
    );
    assert!(
        !std::path::Path::new(mountpoint).exists(),
        "{mountpoint} was left behind"
    );
}

/// A replay file's SQLite settings are SQLite's: a busy timeout that does not fit the C int
/// SQLite takes, or a setting SQLite has not, is refused before anything runs, in one line.
#[test]
fn a_replay_file_with_settings_sqlite_cannot_take_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("original");
    let workload = || {
        Workload::new(Sqlite::temp_file()).class(UserClass::new("reader", 1).read(
            "one",
            1.0,
            |u: &mut User<Sqlite>| {
                u.conn().query("SELECT 1", &[])?;
                Ok(Outcome::done())
            },
        ))
    };
    Runner::new("settings")
        .seed(1)
        .ops_per_user(2)
        .output_dir(&out)
        .run(workload())
        .unwrap();
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("replay.json")).unwrap()).unwrap();
    let file = dir.path().join("replay.json");
    let check = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = original.clone();
        edit(&mut v);
        std::fs::write(&file, serde_json::to_string(&v).unwrap()).unwrap();
        Runner::new("settings")
            .replay_file(&file)
            .unwrap()
            .check(&workload())
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(check(&|_| {}), None, "the file as written replays");
    for (what, edit, want) in [
        (
            "a busy timeout beyond a C int",
            Box::new(|v: &mut serde_json::Value| v["adapter_config"]["busy_timeout_ms"] = 4_294_967_297u64.into())
                as Box<dyn Fn(&mut serde_json::Value)>,
            "adapter_config.busy_timeout_ms 4294967297 does not fit: SQLite takes 0 to 2147483647 ms",
        ),
        (
            "settings that are a number",
            Box::new(|v: &mut serde_json::Value| v["adapter_config"] = 0.into()),
            "adapter_config is a number, where this adapter records an object",
        ),
        (
            "a setting SQLite has not",
            Box::new(|v: &mut serde_json::Value| v["adapter_config"]["page_size_kb"] = 4.into()),
            "adapter_config has a setting `page_size_kb` this adapter does not have",
        ),
        (
            "a journal mode that is a number",
            Box::new(|v: &mut serde_json::Value| v["adapter_config"]["journal_mode"] = 3.into()),
            "adapter_config.journal_mode is a number, where this adapter records a string",
        ),
    ] {
        let e = check(&*edit).unwrap_or_else(|| panic!("{what}: accepted"));
        assert!(e.contains(want), "{what}: {e}");
        assert!(!e.contains('\n'), "{what}: one line: {e}");
    }
}
