//! One user's SQLite connection.

use rusqlite::{Connection, Params, Transaction, TransactionBehavior};
use stress_core::OpError;
use stress_core::sql::{Row, SqlConn, TableDef, Value, dollar_to_question};

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

    /// Executes one statement with `rusqlite` parameters (outside any explicit transaction).
    pub fn execute_params<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
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

impl SqlConn for SqliteConn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, OpError> {
        let mut stmt = self.conn.prepare_cached(&dollar_to_question(sql))?;
        let params: Vec<rusqlite::types::Value> = params.iter().map(to_sql).collect();
        Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, OpError> {
        let mut stmt = self.conn.prepare_cached(&dollar_to_question(sql))?;
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
        let sql = dollar_to_question(&table.insert_sql());
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut n = 0;
            for row in rows {
                n += stmt.execute(rusqlite::params_from_iter(row.iter().map(to_sql)))? as u64;
            }
            Ok::<u64, OpError>(n)
        })
    }

    fn batch(&mut self, sql: &str) -> Result<(), OpError> {
        Ok(self.conn.execute_batch(sql)?)
    }
}
