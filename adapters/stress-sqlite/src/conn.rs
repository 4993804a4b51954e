//! One user's SQLite connection.

use rusqlite::{Connection, Params, Transaction, TransactionBehavior};
use stress_core::OpError;
use stress_core::sql::{Isolation, Row, SqlConn, TableDef, Value, dollar_to_question};

use crate::host_client::HostConn;

/// A user's connection: the `rusqlite::Connection` (through [`raw`](Self::raw)) plus the
/// write paths a stress test needs.
///
/// On a hosted adapter ([`Sqlite::hosted`](crate::Sqlite::hosted)) the connection lives in the
/// engine host process: only the [`SqlConn`] methods (`execute`, `query`, `batch`,
/// `bulk_insert`, and [`count`](Self::count), [`integrity_check`](Self::integrity_check)) reach
/// it; [`raw`](Self::raw) and the methods built on it panic, naming this.
#[derive(Debug)]
pub struct SqliteConn {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Local(Connection),
    Hosted(HostConn),
}

const HOSTED: &str = "this SQLite connection lives in the engine host process (Sqlite::hosted, for faults): \
use its SqlConn methods (execute, query, batch, bulk_insert), not raw() or the rusqlite-typed helpers";

impl SqliteConn {
    pub(crate) fn new(conn: Connection) -> Self {
        // Enough for every statement of a typical workload to stay prepared.
        conn.set_prepared_statement_cache_capacity(64);
        Self {
            inner: Inner::Local(conn),
        }
    }

    pub(crate) fn hosted(conn: HostConn) -> Self {
        Self {
            inner: Inner::Hosted(conn),
        }
    }

    /// Whether the connection lives in the engine host process.
    pub fn is_hosted(&self) -> bool {
        matches!(self.inner, Inner::Hosted(_))
    }

    /// The underlying connection (use `prepare_cached` for statements run often).
    ///
    /// # Panics
    /// On a hosted adapter, whose connections live in another process.
    pub fn raw(&self) -> &Connection {
        match &self.inner {
            Inner::Local(c) => c,
            Inner::Hosted(_) => panic!("{HOSTED}"),
        }
    }

    /// The underlying connection, mutably.
    ///
    /// # Panics
    /// On a hosted adapter, whose connections live in another process.
    pub fn raw_mut(&mut self) -> &mut Connection {
        match &mut self.inner {
            Inner::Local(c) => c,
            Inner::Hosted(_) => panic!("{HOSTED}"),
        }
    }

    /// Runs `f` in a write transaction started with `BEGIN IMMEDIATE` and commits it; rolls
    /// back if `f` fails. Use it for every transaction that writes.
    pub fn write<T, E: From<rusqlite::Error>>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .raw_mut()
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Executes one statement with `rusqlite` parameters (outside any explicit transaction).
    pub fn execute_params<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.raw().prepare_cached(sql)?.execute(params)
    }

    /// Inserts rows with one prepared statement (`rusqlite` parameters) in one `BEGIN IMMEDIATE`
    /// transaction; returns the rows inserted. For typed rows of a [`TableDef`], see
    /// [`SqlConn::bulk_insert`].
    pub fn insert_rows<P: Params>(&mut self, sql: &str, rows: impl IntoIterator<Item = P>) -> rusqlite::Result<u64> {
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
        self.raw().prepare_cached(sql)?.query_row(params, |r| r.get(0))
    }

    /// Rows in `table`.
    pub fn count(&mut self, table: &str) -> Result<u64, OpError> {
        self.count_rows(table)
    }

    /// `PRAGMA integrity_check`: `Ok` when SQLite answers `ok`, else an error with its findings.
    pub fn integrity_check(&mut self) -> Result<(), OpError> {
        let rows: Vec<String> = self
            .query("PRAGMA integrity_check", &[])?
            .into_iter()
            .map(|r| match r.first() {
                Some(Value::Text(t)) => t.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        if rows == ["ok"] {
            Ok(())
        } else {
            Err(OpError::msg(format!("integrity check failed: {}", rows.join("; "))))
        }
    }
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    use rusqlite::types::Value as S;
    match v {
        Value::Null => S::Null,
        Value::SmallInt(x) => S::Integer((*x).into()),
        Value::Int(x) => S::Integer((*x).into()),
        Value::BigInt(x) | Value::Timestamp(x) => S::Integer(*x),
        Value::Double(x) => S::Real(*x),
        Value::Text(x) => S::Text(x.clone()),
        Value::Bool(x) => S::Integer((*x).into()),
    }
}

fn from_sql(v: rusqlite::types::ValueRef<'_>) -> Result<Value, OpError> {
    use rusqlite::types::ValueRef as S;
    Ok(match v {
        S::Null => Value::Null,
        S::Integer(x) => Value::BigInt(x),
        S::Real(x) => Value::Double(x),
        S::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        S::Blob(_) => return Err(OpError::msg("a BLOB result: the SQL layer has no BLOB type")),
    })
}

impl SqliteConn {
    /// One prepared statement (`?` parameters) per row, all in one `BEGIN IMMEDIATE`
    /// transaction: [`SqlConn::bulk_insert`]'s work, once the rows were checked.
    pub(crate) fn insert_all(&mut self, sql: &str, rows: &[Row]) -> Result<u64, OpError> {
        if let Inner::Hosted(h) = &mut self.inner {
            return h.insert_all(sql, rows);
        }
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(sql)?;
            let mut n = 0;
            for row in rows {
                n += stmt.execute(rusqlite::params_from_iter(row.iter().map(to_sql)))? as u64;
            }
            Ok::<u64, OpError>(n)
        })
    }
}

impl SqlConn for SqliteConn {
    /// SQLite runs every transaction serializable: `BEGIN IMMEDIATE` takes the write lock at
    /// once (waiting up to the busy timeout), so a transaction that reads and then writes cannot
    /// fail to upgrade its lock halfway.
    fn begin_sql(&self, isolation: Isolation) -> Result<&'static str, OpError> {
        match isolation {
            Isolation::Serializable => Ok("BEGIN IMMEDIATE"),
            other => Err(OpError::msg(format!(
                "SQLite runs every transaction serializable: isolation {other} is not one it offers (give \
                 serializable)"
            ))),
        }
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, OpError> {
        let conn = match &mut self.inner {
            Inner::Local(c) => c,
            Inner::Hosted(h) => return h.execute(sql, params),
        };
        let mut stmt = conn.prepare_cached(&dollar_to_question(sql))?;
        let params: Vec<rusqlite::types::Value> = params.iter().map(to_sql).collect();
        Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, OpError> {
        let conn = match &mut self.inner {
            Inner::Local(c) => c,
            Inner::Hosted(h) => return h.query(sql, params),
        };
        let mut stmt = conn.prepare_cached(&dollar_to_question(sql))?;
        let n = stmt.column_count();
        let params: Vec<rusqlite::types::Value> = params.iter().map(to_sql).collect();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(
                (0..n)
                    .map(|i| from_sql(r.get_ref(i)?))
                    .collect::<Result<Row, OpError>>()?,
            );
        }
        Ok(out)
    }

    /// One prepared `INSERT` per row, all in one `BEGIN IMMEDIATE` transaction.
    fn bulk_insert(&mut self, table: &TableDef, rows: &[Row]) -> Result<u64, OpError> {
        for row in rows {
            table.check_row(row)?;
        }
        self.insert_all(&dollar_to_question(&table.insert_sql()), rows)
    }

    fn batch(&mut self, sql: &str) -> Result<(), OpError> {
        match &mut self.inner {
            Inner::Local(c) => Ok(c.execute_batch(sql)?),
            Inner::Hosted(h) => h.batch(sql),
        }
    }
}
