//! Did every acknowledged write survive? A write-heavy workload with unique keys, written once
//! against the engine-neutral SQL layer, whose every write the acknowledged-write checker
//! tracks: 4 writers insert rows keyed by `User::begin_write` (one autocommit `INSERT` each,
//! acknowledged when the engine returned), 1 reader counts them. Registered on
//!
//! - `durability_sqlite`: SQLite, hosted (its connections in a child process of the harness, so
//!   that `kill`, `pause`, `restart` and `corrupt` hit the engine, not the harness);
//! - `durability_postgres`: a managed PostgreSQL (or the server in `STRESS_PG_DSN`, which takes
//!   the network's faults only: `net-delay(250ms):3s@at=2s`, `net-reset@at=6s`, …);
//! - `durability_hyper`: a managed hyperd.
//!
//! Run them under faults: `cargo stress run -p durability durability_postgres --fault
//! 'kill@every=1s..3s'`. After the users stop, every key is read back: an acknowledged key that
//! is missing is *lost* and fails the run (exit 1).
//!
//! `--param ack_early=N` (default 0: off) is a bug switch, the checker's positive control and
//! something to shrink (`cargo stress shrink`): with N > 0 each write is acknowledged before
//! its transaction commits, and one commit in N (each writer's N-th, 2N-th, … op) is rolled
//! back instead, so those acknowledged writes are lost, the same ones in every replay.

#![warn(missing_docs)]

use stress_core::prelude::*;
use stress_hyper::Hyper;
use stress_postgres::Postgres;
use stress_sqlite::Sqlite;

/// The table the writers fill: the key, the writer's number and a payload.
pub const CREATE: &str = "CREATE TABLE acked (k BIGINT NOT NULL, writer TEXT NOT NULL, payload TEXT NOT NULL)";

/// The workload on any engine whose connections speak the SQL layer.
pub fn workload<A: Adapter>(adapter: A) -> Workload<A>
where
    A::Conn: SqlConn,
{
    Workload::new(adapter)
        .param("ack_early", 0u64)
        .setup(|db: &mut A::Conn, _| db.batch(CREATE))
        .class(UserClass::new("writer", 4).write("insert", 1.0, insert::<A>))
        .class(UserClass::new("reader", 1).read("count", 1.0, count::<A>))
        .durability(|db: &mut A::Conn, seen| {
            for row in db.query("SELECT k FROM acked", &[])? {
                match row.first() {
                    Some(Value::BigInt(k)) => seen(*k),
                    other => return Err(OpError::msg(format!("a key that is not a BIGINT: {other:?}"))),
                }
            }
            Ok(())
        })
}

/// One tracked write: a key no other write of the run has, one autocommit `INSERT`,
/// acknowledged once the engine returned — or, with `ack_early=N`, acknowledged before an
/// explicit transaction whose commit is a rollback at every N-th op of the writer (the bug).
fn insert<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    let k = u.begin_write();
    let writer = u.id().to_owned();
    let payload: String = u.untimed(|rng| (0..48).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect());
    let row = [Value::BigInt(k), Value::Text(writer), Value::Text(payload)];
    let sql = "INSERT INTO acked (k, writer, payload) VALUES ($1, $2, $3)";
    let ack_early: u64 = u.param("ack_early")?;
    if ack_early > 0 {
        u.acknowledge_write(k);
        let end = if u.ops_done() % ack_early == ack_early - 1 {
            "ROLLBACK"
        } else {
            "COMMIT"
        };
        let c = u.conn();
        c.batch("BEGIN")?;
        let n = c.execute(sql, &row)?;
        c.batch(end)?;
        return Ok(Outcome::rows(n));
    }
    let n = u.conn().execute(sql, &row)?;
    u.acknowledge_write(k);
    Ok(Outcome::rows(n))
}

/// A read beside the writes: how many rows there are.
fn count<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    let n = u.conn().count_rows("acked")?;
    Ok(Outcome::rows(n))
}

/// On SQLite, hosted: faults kill, pause, restart and damage the engine host, not the harness.
#[stress_workload(duration = "20s")]
pub fn durability_sqlite() -> Workload<Sqlite> {
    workload(Sqlite::temp_file().hosted())
}

/// On PostgreSQL: the server in `STRESS_PG_DSN`/`PG_DSN`, else a managed one (which faults can
/// hit).
#[stress_workload(duration = "20s")]
pub fn durability_postgres() -> Workload<Postgres> {
    workload(Postgres::from_env_or_managed())
}

/// On a managed hyperd (`STRESS_HYPERD` or the one `scripts/install-hyperd` installed).
#[stress_workload(duration = "20s")]
pub fn durability_hyper() -> Workload<Hyper> {
    workload(Hyper::from_env())
}
