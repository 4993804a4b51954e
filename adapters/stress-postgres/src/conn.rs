//! One user's PostgreSQL connection and the SQL layer on it.

use std::collections::HashMap;
use std::error::Error;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, IsolationLevel, Statement, Transaction};
use postgres_protocol::message::backend::DataRowBody;
use stress_core::OpError;
use stress_core::sql::{ColumnType, Row, SqlConn, TableDef, Value, quote_ident};

use crate::wire::{self, WireError};

/// Which client a user's connection speaks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Driver {
    /// The adapter's own blocking client of the wire protocol (the default): one socket
    /// written and read by the user's thread, as libpq does.
    #[default]
    Wire,
    /// The synchronous `postgres` crate (a tokio runtime per connection).
    Postgres,
}

impl Driver {
    /// `wire` or `postgres`, as `STRESS_PG_DRIVER` names them.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "wire" => Some(Self::Wire),
            "postgres" => Some(Self::Postgres),
            _ => None,
        }
    }

    /// Its name in `STRESS_PG_DRIVER` and the run's adapter description.
    pub fn name(self) -> &'static str {
        match self {
            Self::Wire => "wire",
            Self::Postgres => "postgres",
        }
    }
}

/// What a user's session is made of: where, and the statements that set it up.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) config: postgres::Config,
    pub(crate) tls: crate::tls::Tls,
    pub(crate) setup: Vec<String>,
    /// How long the wire client waits for an answer before it gives the connection up
    /// (`statement_timeout` plus a second; `None`: for ever).
    pub(crate) answer_timeout: Option<Duration>,
}

impl Session {
    fn client(&self) -> Result<Client, OpError> {
        let mut c = crate::connect(&self.config, &self.tls)?;
        for sql in &self.setup {
            c.batch_execute(sql)?;
        }
        Ok(c)
    }

    fn wire(&self) -> Result<wire::Conn, OpError> {
        let mut c =
            wire::Conn::connect(&self.config, &self.tls).map_err(|e| crate::cannot_connect(&self.config, e.into()))?;
        c.set_answer_timeout(self.answer_timeout)?;
        for sql in &self.setup {
            c.batch(sql)?;
        }
        Ok(c)
    }
}

/// A user's connection, with its prepared statements cached. The SQL layer ([`SqlConn`]) runs
/// on the adapter's wire client by default; [`client`](Self::client) gives the `postgres`
/// crate's `Client` for everything else.
pub struct PgConn {
    wire: Option<wire::Conn>,
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    session: Session,
    postmaster_pid: Option<u32>,
}

impl std::fmt::Debug for PgConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConn")
            .field("driver", &if self.wire.is_some() { "wire" } else { "postgres" })
            .field("cached_statements", &self.statements.len())
            .finish_non_exhaustive()
    }
}

impl PgConn {
    pub(crate) fn open(session: Session, driver: Driver, postmaster_pid: Option<u32>) -> Result<Self, OpError> {
        let (wire, client) = match driver {
            Driver::Wire => (Some(session.wire()?), None),
            Driver::Postgres => (None, Some(session.client()?)),
        };
        Ok(Self {
            wire,
            client,
            statements: HashMap::new(),
            session,
            postmaster_pid,
        })
    }

    /// The `postgres` crate's client on this user's session.
    ///
    /// A connection on the wire client ([`Driver::Wire`], the default) is handed to the
    /// `postgres` crate for good at the first call: a new session, with the adapter's own
    /// settings (schema, `statement_timeout`) applied again — `SET`s run through the SQL layer
    /// before are not carried over, and a transaction begun through it must have ended (it
    /// panics otherwise, naming why). Ops that use `client()` throughout pay this once per
    /// user. It panics if the new session cannot be opened (the op fails with the reason).
    pub fn client(&mut self) -> &mut Client {
        if self.client.is_none() {
            if let Some(w) = self.wire.take() {
                assert!(
                    !w.in_transaction(),
                    "PgConn::client() was called in a transaction begun through the SQL layer: end it first, or run the whole transaction through one of them"
                );
            }
            match self.session.client() {
                Ok(c) => self.client = Some(c),
                Err(e) => panic!("{e}"),
            }
        }
        self.client.as_mut().expect("a client was just opened")
    }

    /// The statement for `sql`, prepared once per connection (on the `postgres` crate's
    /// client: see [`client`](Self::client)).
    pub fn prepare_cached(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client().prepare(sql)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Runs `f` in a transaction at the server's default isolation and commits it; rolls back
    /// if `f` fails. `f` gets the `postgres::Transaction` (`query`, `execute`, `prepare`, …).
    /// For a transaction of SQL-layer calls, see [`transaction`](Self::transaction).
    pub fn write<T, E: From<postgres::Error>>(
        &mut self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tx = self.client().transaction()?;
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
        let mut tx = self.client().build_transaction().isolation_level(isolation).start()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f`'s SQL-layer calls in one transaction (`BEGIN` … `COMMIT`, prepared like any
    /// statement); rolls back and returns `f`'s error if it fails.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, OpError>) -> Result<T, OpError> {
        self.transaction_with("BEGIN", f)
    }

    /// [`transaction`](Self::transaction) at `SERIALIZABLE`: conflicting transactions fail
    /// with SQLSTATE 40001, which the adapter calls retryable (`--max-tries`).
    pub fn serializable<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, OpError>) -> Result<T, OpError> {
        self.transaction_with("BEGIN ISOLATION LEVEL SERIALIZABLE", f)
    }

    fn transaction_with<T>(
        &mut self,
        begin: &str,
        f: impl FnOnce(&mut Self) -> Result<T, OpError>,
    ) -> Result<T, OpError> {
        self.execute(begin, &[])?;
        match f(self) {
            Ok(out) => {
                self.execute("COMMIT", &[])?;
                Ok(out)
            }
            Err(e) => {
                // The connection may be gone (then so is the transaction): the op's error is the one to tell.
                let _ = self.execute("ROLLBACK", &[]);
                Err(e)
            }
        }
    }

    /// Which client the SQL layer runs on now.
    pub fn driver(&self) -> Driver {
        if self.wire.is_some() {
            Driver::Wire
        } else {
            Driver::Postgres
        }
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

/// A column of the `postgres` crate's row as a [`Value`]: the same decoding as the wire
/// client's ([`read_raw`]), through [`Cell`].
fn read(row: &postgres::Row, i: usize) -> Result<Value, OpError> {
    let column = &row.columns()[i];
    if read_raw(column.type_(), None).is_ok_and(|v| v.is_none()) {
        return Err(OpError::msg(unreadable(column.name(), column.type_())));
    }
    Ok(row.try_get::<_, Cell>(i)?.0)
}

/// A value of any type the SQL layer reads, as the `postgres` crate decodes a column.
struct Cell(Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Self::from_sql_nullable(ty, Some(raw))
    }

    fn from_sql_nullable(ty: &Type, raw: Option<&'a [u8]>) -> Result<Self, Box<dyn Error + Sync + Send>> {
        read_raw(ty, raw)?
            .map(Cell)
            .ok_or_else(|| format!("the SQL layer does not read type {ty}").into())
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A column of a wire client's row as a [`Value`].
fn read_wire(name: &str, ty: &Type, raw: Option<&[u8]>, i: usize) -> Result<Value, WireError> {
    read_raw(ty, raw)
        .map_err(|e| WireError::from_sql(i, e))?
        .ok_or_else(|| WireError::message(unreadable(name, ty)))
}

/// A value of a type the SQL layer reads (`None`: a type it does not).
fn read_raw(ty: &Type, raw: Option<&[u8]>) -> Result<Option<Value>, Box<dyn Error + Sync + Send>> {
    fn get<'a, T: FromSql<'a>>(ty: &Type, raw: Option<&'a [u8]>) -> Result<Option<T>, Box<dyn Error + Sync + Send>> {
        Option::<T>::from_sql_nullable(ty, raw)
    }
    let v = match *ty {
        Type::INT2 => get::<i16>(ty, raw)?.map(Value::SmallInt),
        Type::INT4 => get::<i32>(ty, raw)?.map(Value::Int),
        Type::INT8 => get::<i64>(ty, raw)?.map(Value::BigInt),
        Type::FLOAT4 => get::<f32>(ty, raw)?.map(|v| Value::Double(v.into())),
        Type::FLOAT8 => get::<f64>(ty, raw)?.map(Value::Double),
        Type::BOOL => get::<bool>(ty, raw)?.map(Value::Bool),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => get::<String>(ty, raw)?.map(Value::Text),
        Type::TIMESTAMP => get::<SystemTime>(ty, raw)?.map(|t| Value::Timestamp(micros(t))),
        _ => return Ok(None),
    };
    Ok(Some(v.unwrap_or(Value::Null)))
}

fn micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

fn unreadable(name: &str, ty: &Type) -> String {
    format!(
        "column `{name}` is of type {ty}, which the SQL layer does not read: cast it in the query (e.g. ::float8, ::bigint, ::text)"
    )
}

/// A wire client's row.
fn wire_row(st: &wire::Statement, body: &DataRowBody) -> Result<Row, WireError> {
    let buf = body.buffer();
    let mut ranges = body.ranges();
    let mut row = Vec::with_capacity(st.columns.len());
    let mut i = 0;
    while let Some(range) = fallible_iterator::FallibleIterator::next(&mut ranges).map_err(WireError::from)? {
        let (name, ty) = &st.columns[i];
        row.push(read_wire(name, ty, range.map(|r| &buf[r]), i)?);
        i += 1;
    }
    Ok(row)
}

impl SqlConn for PgConn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, OpError> {
        if let Some(w) = self.wire.as_mut() {
            let st = w.prepare(sql)?;
            return Ok(w.run(st, params.iter().map(Param), |_, _| Ok(()))?);
        }
        let stmt = self.prepare_cached(sql)?;
        let ps: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        Ok(self.client().execute(&stmt, &refs)?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, OpError> {
        if let Some(w) = self.wire.as_mut() {
            let st = w.prepare(sql)?;
            let mut rows = Vec::new();
            w.run(st, params.iter().map(Param), |st, body| {
                rows.push(wire_row(st, body)?);
                Ok(())
            })?;
            return Ok(rows);
        }
        let stmt = self.prepare_cached(sql)?;
        let ps: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = ps.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        self.client()
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
        let sql = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            quote_ident(&table.name),
            cols.join(", ")
        );
        if let Some(w) = self.wire.as_mut() {
            return Ok(w.copy_in(&sql, &types, rows.iter().map(|r| r.iter().map(Param)))?);
        }
        let sink = self.client().copy_in(&sql)?;
        let mut writer = BinaryCopyInWriter::new(sink, &types);
        for row in rows {
            let ps: Vec<Param<'_>> = row.iter().map(Param).collect();
            writer.write_raw(ps.iter().map(|p| p as &(dyn ToSql + Sync)))?;
        }
        Ok(writer.finish()?)
    }

    fn batch(&mut self, sql: &str) -> Result<(), OpError> {
        if let Some(w) = self.wire.as_mut() {
            return Ok(w.batch(sql)?);
        }
        Ok(self.client().batch_execute(sql)?)
    }
}
