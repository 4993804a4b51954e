//! The SQLite adapter against real database files.

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
        .verify(|db, ledger| ledger.check_counts(&["events"], |_| 0, |t| Ok(db.count(t)?)));
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
