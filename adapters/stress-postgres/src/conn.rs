//! One user's PostgreSQL connection and the SQL layer on it.

use std::collections::HashMap;
use std::error::Error;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, IsolationLevel, Statement, Transaction};
use stress_core::OpError;
use stress_core::sql::{ColumnType, Row, SqlConn, TableDef, Value, quote_ident};

/// A user's connection: the `postgres::Client` (through [`client`](Self::client)) with its
/// prepared statements cached.
pub struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
    postmaster_pid: Option<u32>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn")
            .field("cached_statements", &self.statements.len())
            .finish_non_exhaustive()
    }
}

impl PgConn {
    pub(crate) fn new(client: Client, postmaster_pid: Option<u32>) -> Self {
        Self {
            client,
            statements: HashMap::new(),
            postmaster_pid,
        }
    }

    /// The underlying client.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// The statement for `sql`, prepared once per connection.
    pub fn prepare_cached(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Runs `f` in a transaction at the server's default isolation and commits it; rolls back
    /// if `f` fails. `f` gets the `postgres::Transaction` (`query`, `execute`, `prepare`, …).
    pub fn write<T, E: From<postgres::Error>>(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tx = self.client.transaction()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// [`write`](Self::write) at an isolation level of its own: at
    /// `IsolationLevel::Serializable`, conflicting transactions fail with SQLSTATE 40001, which
    /// the adapter calls retryable (`--max-tries`).
    pub fn transaction_at<T, E: From<postgres::Error>>(
        &mut self,
        isolation: IsolationLevel,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tx = self.client.build_transaction().isolation_level(isolation).start()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// The pid of the managed server's postmaster (`None` for a given server): what a test
    /// kills to check crash detection.
    pub fn postmaster_pid(&self) -> Option<u32> {
        self.postmaster_pid
    }
}

/// A [`Value`] bound to a parameter of whatever type the server asks for: integers widen or
/// narrow (checked), NULL fits any type.
#[derive(Debug)]
struct Param<'a>(&'a Value);

fn int_to_sql(v: i64, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
    match *ty {
        Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
        Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
        Type::FLOAT8 => (v as f64).to_sql(ty, out),
        _ => v.to_sql(ty, out),
    }
}

fn timestamp(micros: i64) -> SystemTime {
    if micros >= 0 {
        UNIX_EPOCH + Duration::from_micros(micros as u64)
    } else {
        UNIX_EPOCH - Duration::from_micros(micros.unsigned_abs())
    }
}

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::SmallInt(v) => int_to_sql((*v).into(), ty, out),
            Value::Int(v) => int_to_sql((*v).into(), ty, out),
            Value::BigInt(v) => int_to_sql(*v, ty, out),
            Value::Double(v) if *ty == Type::FLOAT4 => (*v as f32).to_sql(ty, out),
            Value::Double(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Bool(v) => v.to_sql(ty, out),
            Value::Timestamp(v) => timestamp(*v).to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn pg_type(t: ColumnType) -> Type {
    match t {
        ColumnType::SmallInt => Type::INT2,
        ColumnType::Int => Type::INT4,
        ColumnType::BigInt => Type::INT8,
        ColumnType::Double => Type::FLOAT8,
        ColumnType::Text => Type::TEXT,
        ColumnType::Bool => Type::BOOL,
        ColumnType::Timestamp => Type::TIMESTAMP,
    }
}

fn read(row: &postgres::Row, i: usize) -> Result<Value, OpError> {
    let ty = row.columns()[i].type_();
    let v = match *ty {
        Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(Value::SmallInt),
        Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(Value::Int),
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::BigInt),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map(|v| Value::Double(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Double),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(Value::Bool),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => row.try_get::<_, Option<String>>(i)?.map(Value::Text),
        Type::TIMESTAMP => row.try_get::<_, Option<SystemTime>>(i)?.map(|t| {
            Value::Timestamp(match t.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_micros() as i64,
                Err(e) => -(e.duration().as_micros() as i64),
            })
        }),
        ref other => {
            return Err(OpError::msg(format!(
                "column `{}` is of type {other}, which the SQL layer does not read: cast it in the query (e.g. ::float8, ::bigint, ::text)",
                row.columns()[i].name()
            )));
        }
    };
    Ok(v.unwrap_or(Value::Null))
}

impl SqlConn for PgConn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, OpError> {
        let stmt = self.prepare_cached(sql)?;
        let ps: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        Ok(self.client.execute(&stmt, &refs)?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, OpError> {
        let stmt = self.prepare_cached(sql)?;
        let ps: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client
            .query(&stmt, &refs)?
            .iter()
            .map(|r| (0..r.len()).map(|i| read(r, i)).collect())
            .collect()
    }

    /// Binary `COPY … FROM STDIN` (one statement: all rows or none).
    fn bulk_insert(&mut self, table: &TableDef, rows: &[Row]) -> Result<u64, OpError> {
        for row in rows {
            table.check_row(row)?;
        }
        let cols: Vec<String> = table.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let types: Vec<Type> = table.columns.iter().map(|c| pg_type(c.ty)).collect();
        let sink = self.client.copy_in(&format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            quote_ident(&table.name),
            cols.join(", ")
        ))?;
        let mut writer = BinaryCopyInWriter::new(sink, &types);
        for row in rows {
            let ps: Vec<Param<'_>> = row.iter().map(Param).collect();
            writer.write_raw(ps.iter().map(|p| p as &(dyn ToSql + Sync)))?;
        }
        Ok(writer.finish()?)
    }

    fn batch(&mut self, sql: &str) -> Result<(), OpError> {
        Ok(self.client.batch_execute(sql)?)
    }
}
