//! One user's SQLite connection.

use rusqlite::{Connection, Params, Transaction, TransactionBehavior};
use stress_core::OpError;

/// A user's connection: the `rusqlite::Connection` (through [`raw`](Self::raw)) plus the
/// write paths a stress test needs.
#[derive(Debug)]
pub struct SqliteConn {
    conn: Connection,
}

impl SqliteConn {
    pub(crate) fn new(conn: Connection) -> Self {
        // Enough for every statement of a typical workload to stay prepared.
        conn.set_prepared_statement_cache_capacity(64);
        Self { conn }
    }

    /// The underlying connection (use `prepare_cached` for statements run often).
    pub fn raw(&self) -> &Connection {
        &self.conn
    }

    /// The underlying connection, mutably.
    pub fn raw_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Runs `f` in a write transaction started with `BEGIN IMMEDIATE` and commits it; rolls
    /// back if `f` fails. Use it for every transaction that writes.
    pub fn write<T, E: From<rusqlite::Error>>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Executes one statement (outside any explicit transaction).
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    /// Inserts rows with one prepared statement in one `BEGIN IMMEDIATE` transaction; returns
    /// the rows inserted.
    pub fn bulk_insert<P: Params>(&mut self, sql: &str, rows: impl IntoIterator<Item = P>) -> rusqlite::Result<u64> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(sql)?;
            let mut n = 0u64;
            for row in rows {
                n += stmt.execute(row)? as u64;
            }
            Ok(n)
        })
    }

    /// Runs a query and returns its first column of its first row as `i64`.
    pub fn query_i64<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<i64> {
        self.conn.prepare_cached(sql)?.query_row(params, |r| r.get(0))
    }

    /// Rows in `table`.
    pub fn count(&self, table: &str) -> rusqlite::Result<u64> {
        self.query_i64(&format!("SELECT count(*) FROM \"{}\"", table.replace('"', "\"\"")), [])
            .map(|n| n as u64)
    }

    /// `PRAGMA integrity_check`: `Ok` when SQLite answers `ok`, else an error with its findings.
    pub fn integrity_check(&self) -> Result<(), OpError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        if rows == ["ok"] {
            Ok(())
        } else {
            Err(OpError::msg(format!("integrity check failed: {}", rows.join("; "))))
        }
    }
}
