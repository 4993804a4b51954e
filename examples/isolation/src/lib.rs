//! Is what the engine answered correct? Transactions of the isolation kits, checked after the
//! run by the isolation checker against the model the workload expects (`serializable`):
//!
//! - `append_postgres`: list-append on PostgreSQL (the server in `STRESS_PG_DSN`, else a
//!   managed one);
//! - `register_postgres`: rw-register on PostgreSQL;
//! - `append_sqlite`: list-append on SQLite, hosted (so that `kill` and the other faults hit
//!   the engine, not the harness).
//!
//! The parameter `isolation` is the level the transactions ask the engine for:
//! `serializable` (the default), `repeatable_read` or `read_committed` (PostgreSQL; SQLite offers
//! only `serializable`). Asked for less than the workload expects, PostgreSQL shows what it
//! allows: `cargo stress run -p isolation append_postgres --param isolation=repeatable_read`
//! finds write skew (G2-item) and fails with a witness.

#![warn(missing_docs)]

use stress_core::isolation::{self, Kind, Model};
use stress_core::prelude::*;
use stress_postgres::Postgres;
use stress_sqlite::Sqlite;

/// The kit's workload on any engine whose connections speak the SQL layer: 8 clients, each op
/// one transaction of `kind`, checked against `serializable`.
pub fn workload<A: Adapter>(adapter: A, kind: Kind) -> Workload<A>
where
    A::Conn: SqlConn,
{
    let txn = match kind {
        Kind::ListAppend => isolation::append_txn::<A>,
        Kind::RwRegister => isolation::register_txn::<A>,
    };
    Workload::new(adapter)
        .setup(|db: &mut A::Conn, rng| isolation::setup(db, rng))
        .class(UserClass::new("client", 8).write("txn", 1.0, txn))
        .isolation(Model::Serializable, kind)
}

/// PostgreSQL: the server in `STRESS_PG_DSN`, else a managed one that detects deadlocks after
/// 20 ms, not 1 s (transactions that upsert the same keys in other orders deadlock often).
pub fn postgres() -> Postgres {
    Postgres::from_env().unwrap_or_else(|| Postgres::managed().setting("deadlock_timeout", "20ms"))
}

/// List-append on PostgreSQL.
#[stress_workload(duration = "12s")]
pub fn append_postgres() -> Workload<Postgres> {
    workload(postgres(), Kind::ListAppend)
}

/// Rw-register on PostgreSQL.
#[stress_workload(duration = "12s")]
pub fn register_postgres() -> Workload<Postgres> {
    workload(postgres(), Kind::RwRegister)
}

/// List-append on SQLite, hosted: faults reach the engine.
#[stress_workload(duration = "12s")]
pub fn append_sqlite() -> Workload<Sqlite> {
    workload(Sqlite::temp_file().hosted(), Kind::ListAppend)
}
