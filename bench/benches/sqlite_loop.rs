//! The same point-select and insert workloads on SQLite as a hand-written rusqlite loop and as a
//! cargo-stress workload, alternated A B A B, with the ratio per pair; the loop times each op
//! into an HdrHistogram as the harness does, and an untimed loop and the timed loop on a thread
//! of its own (as a harness runs its users) are reported beside it.
//!
//! `cargo bench -p stress-bench --bench sqlite_loop`

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;
use stress_bench::{full, median, pick};
use stress_core::prelude::*;
use stress_sqlite::{Sqlite, SqliteConn};

const ROWS: i64 = 100_000;

fn prepare(db: &Connection) {
    db.execute_batch(
        "DROP TABLE IF EXISTS t; CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);
         DROP TABLE IF EXISTS log; CREATE TABLE log (id INTEGER PRIMARY KEY, v INTEGER NOT NULL);",
    )
    .unwrap();
    let tx = db.unchecked_transaction().unwrap();
    {
        let mut st = tx.prepare("INSERT INTO t (id, v) VALUES (?1, ?2)").unwrap();
        for i in 1..=ROWS {
            st.execute([i, i * 7]).unwrap();
        }
    }
    tx.commit().unwrap();
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Select,
    Insert,
}

const SELECT: &str = "SELECT v FROM t WHERE id = ?1";
const INSERT: &str = "INSERT INTO log (v) VALUES (?1)";

/// The op's body, the same in the loop and in the workload: a cached prepared statement, a
/// random id.
fn body(db: &Connection, kind: Kind, id: i64) -> rusqlite::Result<u64> {
    match kind {
        Kind::Select => {
            let v: i64 = db.prepare_cached(SELECT)?.query_row([id], |r| r.get(0))?;
            std::hint::black_box(v);
            Ok(1)
        }
        Kind::Insert => Ok(db.prepare_cached(INSERT)?.execute([id])? as u64),
    }
}

/// The hand-written loop: ops/s, timing each op into a histogram when `timed`.
fn raw(path: &std::path::Path, kind: Kind, d: Duration, timed: bool) -> f64 {
    let db = Connection::open(path).unwrap();
    db.pragma_update(None, "synchronous", "NORMAL").unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < d {
        for _ in 0..256 {
            let id = rng.random_range(1..=ROWS);
            let t0 = timed.then(Instant::now);
            body(&db, kind, id).unwrap();
            if let Some(t0) = t0 {
                hist.saturating_record(t0.elapsed().as_micros() as u64);
            }
        }
        n += 256;
    }
    std::hint::black_box(&hist);
    n as f64 / start.elapsed().as_secs_f64()
}

fn select(u: &mut User<Sqlite>) -> OpResult {
    let id = u.rng().random_range(1..=ROWS);
    Ok(Outcome::rows(body(u.conn().raw(), Kind::Select, id)?))
}

fn insert(u: &mut User<Sqlite>) -> OpResult {
    let id = u.rng().random_range(1..=ROWS);
    Ok(Outcome::rows(body(u.conn().raw(), Kind::Insert, id)?))
}

/// The same as a workload: ops/s.
fn workload(path: &std::path::Path, kind: Kind, d: Duration) -> f64 {
    let class = match kind {
        Kind::Select => UserClass::new("u", 1).read("select", 1.0, select),
        Kind::Insert => UserClass::new("u", 1).write("insert", 1.0, insert),
    };
    let w = Workload::new(Sqlite::at(path)).class(class);
    Runner::new("sqlite_loop")
        .seed(1)
        .duration(d)
        .run(w)
        .unwrap()
        .summary
        .ops_per_sec
}

fn main() {
    // A second thread from the start, as a run has (its monitor; the Ctrl-C handler's thread
    // stays once the first run installs it): in a process of one thread the kernel skips the
    // file reference each system call on a descriptor takes (SQLite makes several per read
    // transaction), so without it the first pair's loops alone would run under other
    // conditions than every later pair's.
    std::thread::spawn(|| {
        loop {
            std::thread::park();
        }
    });
    let dir = tempfile::Builder::new()
        .prefix("stress-bench-")
        .tempdir_in(if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .unwrap();
    let path = dir.path().join("bench.sqlite");
    {
        let mut s = Sqlite::at(&path);
        stress_core::Adapter::start(
            &mut s,
            &stress_core::StartContext {
                databases: 1,
                out_dir: None,
                seed: 0,
                params: stress_core::params::Params::none(),
                setup: true,
                teardown: true,
                faults: &[],
            },
        )
        .unwrap();
        let c: SqliteConn = stress_core::Adapter::connect(&s, 0).unwrap();
        prepare(c.raw());
    }
    let d = pick(Duration::from_secs(5), Duration::from_millis(300));
    let pairs = if full() { 5 } else { 1 };
    for (kind, name) in [(Kind::Select, "point select"), (Kind::Insert, "insert")] {
        let (mut ratios, mut loops, mut ours, mut untimed) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for pair in 1..=pairs {
            let a = raw(&path, kind, d, true);
            let b = workload(&path, kind, d);
            let u = raw(&path, kind, d, false);
            // The main thread waits: the process has two threads, as a run has more.
            let th = {
                let p = path.clone();
                std::thread::spawn(move || raw(&p, kind, d, true)).join().unwrap()
            };
            println!(
                "{name}: pair {pair}: timed loop on a thread of its own {th:.0}/s (workload/that {:.3})",
                b / th
            );
            println!(
                "{name}: pair {pair}: timed loop {a:.0}/s, workload {b:.0}/s, ratio {:.3}; untimed loop {u:.0}/s",
                b / a
            );
            ratios.push(b / a);
            loops.push(a);
            ours.push(b);
            untimed.push(u);
        }
        println!(
            "{name}: median timed loop {:.0}/s, workload {:.0}/s, ratio {:.3}; untimed loop {:.0}/s (workload/untimed {:.3})",
            median(loops),
            median(ours.clone()),
            median(ratios),
            median(untimed.clone()),
            median(ours) / median(untimed)
        );
    }
}
