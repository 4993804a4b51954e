//! The workload kits: transactions of a few micro-operations on a small, skewed key space, on
//! the SQL layer of any engine, each recorded in the run's history.
//!
//! - *list-append*: `append(k, v)` adds `v` to the list at `k` (a text column of
//!   comma-separated values, `INSERT … ON CONFLICT (k) DO UPDATE SET v = v || ',' || new`);
//!   `read(k)` returns the whole list. A read shows the order of every append before it.
//! - *rw-register*: `write(k, v)` sets the register at `k`; `read(k)` returns its value.
//!
//! Every value is unique: the user's own counter times the run's user count, plus its index in
//! the run's plan. Keys are drawn from `keys` keys, the low ones hottest; every
//! `key_rotation` transactions a user moves on to the next `keys` keys, so lists stay short
//! (Elle's generators retire keys the same way).

use rand::Rng;

use super::{Mop, ReadValue};
use crate::adapter::Adapter;
use crate::outcome::{OpError, OpResult, Outcome};
use crate::seed::StressRng;
use crate::sql::{Isolation, SqlConn, Value};
use crate::user::User;

/// The kits' tables: `stress_append (k BIGINT PRIMARY KEY, v TEXT NOT NULL)` and
/// `stress_register (k BIGINT PRIMARY KEY, v BIGINT NOT NULL)`.
pub const KITS_TABLES: [&str; 2] = ["stress_append", "stress_register"];

/// Creates the kits' tables (dropping earlier ones): a workload's setup step.
pub fn setup<C: SqlConn>(db: &mut C, _rng: &mut StressRng) -> Result<(), OpError> {
    db.batch(
        "DROP TABLE IF EXISTS stress_append; DROP TABLE IF EXISTS stress_register; \
         CREATE TABLE stress_append (k BIGINT PRIMARY KEY, v TEXT NOT NULL); \
         CREATE TABLE stress_register (k BIGINT PRIMARY KEY, v BIGINT NOT NULL)",
    )
}

/// One list-append transaction: a few appends and reads, at the `isolation` parameter's level.
pub fn append_txn<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    txn(u, false)
}

/// One rw-register transaction: a few writes and reads, at the `isolation` parameter's level.
pub fn register_txn<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    txn(u, true)
}

/// The kits' knobs, read from the parameters once per user.
#[derive(Debug, Clone, Copy)]
struct Knobs {
    isolation: Isolation,
    keys: u64,
    txn_len: u64,
    read_share: f64,
    key_rotation: u64,
}

/// What a user keeps between its transactions.
#[derive(Debug, Default)]
struct KitState {
    knobs: Option<Knobs>,
    /// The last value it wrote.
    counter: u64,
}

fn knobs<A: Adapter>(u: &mut User<A>) -> Result<Knobs, OpError> {
    if let Some(k) = u.state::<KitState>().knobs {
        return Ok(k);
    }
    let isolation: Isolation = u.param::<String>("isolation")?.parse().map_err(OpError::msg)?;
    let knobs = Knobs {
        isolation,
        keys: u.param::<u64>("keys")?.max(1),
        txn_len: u.param::<u64>("txn_len")?.max(1),
        read_share: u.param::<f64>("read_share")?.clamp(0.0, 1.0),
        key_rotation: u.param::<u64>("key_rotation")?.max(1),
    };
    u.state::<KitState>().knobs = Some(knobs);
    Ok(knobs)
}

/// The transaction's micro-operations, drawn from the user's stream (reads without values yet).
fn plan<A: Adapter>(u: &mut User<A>, k: Knobs, register: bool) -> Vec<Mop> {
    let epoch = u.ops_done() / k.key_rotation;
    let process = u64::from(u.plan_index());
    let n = u.rng().random_range(1..=k.txn_len);
    let mut mops = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let (read, x): (bool, f64) = {
            let rng = u.rng();
            (rng.random_bool(k.read_share), rng.random())
        };
        // Skewed: the density of key i falls off with i (the square of a uniform draw).
        let key = epoch * k.keys + ((x * x * k.keys as f64) as u64).min(k.keys - 1);
        mops.push(if read {
            Mop::Read {
                key,
                value: ReadValue::None,
            }
        } else {
            // Unique and short: the user's own counter, spread over the run's users.
            let users = u.config().users.iter().map(|(_, n)| *n as u64).sum::<u64>().max(1);
            let state = u.state::<KitState>();
            state.counter += 1;
            let value = state.counter * users + process;
            if register {
                Mop::Write { key, value }
            } else {
                Mop::Append { key, value }
            }
        });
    }
    mops
}

fn txn<A: Adapter>(u: &mut User<A>, register: bool) -> OpResult
where
    A::Conn: SqlConn,
{
    let k = knobs(u)?;
    let mut mops = plan(u, k, register);
    let invoke = u.txn_clock();
    let result = u.conn().in_transaction(k.isolation, |c| {
        for m in &mut mops {
            run(c, m, register)?;
        }
        Ok(())
    });
    match result {
        // The engine aborted it on its own (a serialization failure, a deadlock): an answer
        // the checker weighs, not an error of the op. Counted as the figure `aborted_txns`.
        Err(e) if u.is_retryable(&e) => {
            u.record_aborted_txn(invoke, mops);
            u.figure("aborted_txns", 1.0);
            Ok(Outcome::done())
        }
        result => {
            u.record_txn(invoke, mops);
            result.map(|()| Outcome::done())
        }
    }
}

fn key_param(key: u64) -> Result<Value, OpError> {
    i64::try_from(key)
        .map(Value::BigInt)
        .map_err(|_| OpError::msg(format!("key {key} does not fit a BIGINT")))
}

/// Runs one micro-operation, filling in what a read returned.
fn run<C: SqlConn>(c: &mut C, m: &mut Mop, register: bool) -> Result<(), OpError> {
    match m {
        Mop::Append { key, value } => {
            c.execute(
                "INSERT INTO stress_append (k, v) VALUES ($1, $2) \
                 ON CONFLICT (k) DO UPDATE SET v = stress_append.v || ',' || excluded.v",
                &[key_param(*key)?, Value::Text(value.to_string())],
            )?;
        }
        Mop::Write { key, value } => {
            let v = i64::try_from(*value).map_err(|_| OpError::msg(format!("value {value} does not fit a BIGINT")))?;
            c.execute(
                "INSERT INTO stress_register (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
                &[key_param(*key)?, Value::BigInt(v)],
            )?;
        }
        Mop::Read { key, value } if register => {
            let rows = c.query("SELECT v FROM stress_register WHERE k = $1", &[key_param(*key)?])?;
            let v =
                match rows.first().and_then(|r| r.first()) {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(v.as_i64().and_then(|n| u64::try_from(n).ok()).ok_or_else(|| {
                        OpError::msg(format!("register {key} holds {v:?}, not a value the kit wrote"))
                    })?),
                };
            *value = ReadValue::Register(v);
        }
        Mop::Read { key, value } => {
            let rows = c.query("SELECT v FROM stress_append WHERE k = $1", &[key_param(*key)?])?;
            let list = match rows.first().and_then(|r| r.first()) {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Text(t)) => t
                    .split(',')
                    .map(|e| e.trim().parse::<u64>())
                    .collect::<Result<Vec<u64>, _>>()
                    .map_err(|e| OpError::msg(format!("list {key} holds `{t}`, not values the kit appended: {e}")))?,
                Some(v) => return Err(OpError::msg(format!("list {key} holds {v:?}, not text"))),
            };
            *value = ReadValue::List(list);
        }
    }
    Ok(())
}
