//! One user's Hyper connection and the SQL layer on it: writes over libpq, bulk inserts by
//! `Inserter` (HyperBinary COPY) or `ArrowInserter` (Arrow IPC), reads over libpq or gRPC.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, Float64Array, Float64Builder, Int16Array, Int16Builder, Int32Array,
    Int32Builder, Int64Array, Int64Builder, LargeStringArray, StringArray, StringBuilder, TimestampMicrosecondArray,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use hyperdb_api::grpc::GrpcConnection;
use hyperdb_api::{ArrowInserter, Connection, Inserter, SqlType, TableDefinition, Timestamp, ToSqlParam};
use stress_core::OpError;
use stress_core::sql::{ColumnType, Row, SqlConn, TableDef, Value, quote_ident, replace_params};

use crate::{DataFormat, Transport};

/// Microseconds from 1970-01-01 (the SQL layer's epoch) to 2000-01-01 (Hyper's).
const EPOCH_2000_US: i64 = 946_684_800_000_000;

/// A user's connection: a libpq [`Connection`] for writes (and reads, over `Transport::LibPq`)
/// and, over `Transport::Grpc`, a [`GrpcConnection`] for reads.
pub struct HyperConn {
    conn: Connection,
    grpc: Option<GrpcConnection>,
    format: DataFormat,
    /// Quoted names of this session's temporary tables: only this libpq session sees them, so
    /// reads of them never go over gRPC.
    temp_tables: HashSet<String>,
    hyperd_pid: Option<u32>,
}

impl std::fmt::Debug for HyperConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperConn")
            .field("transport", &self.transport())
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl HyperConn {
    pub(crate) fn new(
        conn: Connection,
        grpc: Option<GrpcConnection>,
        format: DataFormat,
        hyperd_pid: Option<u32>,
    ) -> Self {
        Self {
            conn,
            grpc,
            format,
            temp_tables: HashSet::new(),
            hyperd_pid,
        }
    }

    /// The libpq connection, for what the SQL layer does not cover.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Where reads go.
    pub fn transport(&self) -> Transport {
        if self.grpc.is_some() {
            Transport::Grpc
        } else {
            Transport::LibPq
        }
    }

    /// How bulk inserts travel.
    pub fn data_format(&self) -> DataFormat {
        self.format
    }

    /// The managed hyperd's pid: what a test kills to check crash detection.
    pub fn hyperd_pid(&self) -> Option<u32> {
        self.hyperd_pid
    }

    /// Runs a query over libpq, handing each chunk of rows to `each`.
    fn libpq_query(
        &self,
        sql: &str,
        params: &[Value],
        mut each: impl FnMut(&[hyperdb_api::Row]) -> Result<(), OpError>,
    ) -> Result<(), OpError> {
        let boxed = to_params(params);
        let refs: Vec<&dyn ToSqlParam> = boxed.iter().map(|b| b.as_ref()).collect();
        let mut rowset = if refs.is_empty() {
            self.conn.execute_query(sql)?
        } else {
            self.conn.query_params(sql, &refs)?
        };
        while let Some(chunk) = rowset.next_chunk()? {
            each(&chunk)?;
        }
        Ok(())
    }

    /// Runs a query over gRPC; returns its result as an Arrow IPC stream. gRPC takes no bound
    /// parameters here: they go in as SQL literals.
    fn grpc_query(&mut self, sql: &str, params: &[Value]) -> Result<impl AsRef<[u8]> + use<>, OpError> {
        let boxed = to_params(params);
        let sql = replace_params(sql, |n| {
            boxed
                .get(n.wrapping_sub(1))
                .map_or_else(|| format!("${n}"), |p| p.to_sql_literal())
        });
        let grpc = self.grpc.as_mut().expect("called only with a gRPC connection");
        Ok(grpc.execute_query_to_arrow(&sql)?)
    }

    fn over_grpc(&self, sql: &str) -> bool {
        self.grpc.is_some() && !self.touches_temp_table(sql)
    }

    fn touches_temp_table(&self, sql: &str) -> bool {
        self.temp_tables.iter().any(|t| sql.contains(t.as_str()))
    }
}

/// The SQL layer's values as Hyper parameters.
fn to_params(params: &[Value]) -> Vec<Box<dyn ToSqlParam>> {
    params
        .iter()
        .map(|v| -> Box<dyn ToSqlParam> {
            match v {
                // Untyped: the server infers the type from where it goes.
                Value::Null => Box::new(None::<String>),
                Value::SmallInt(v) => Box::new(*v),
                Value::Int(v) => Box::new(*v),
                Value::BigInt(v) => Box::new(*v),
                Value::Double(v) => Box::new(*v),
                Value::Text(v) => Box::new(v.clone()),
                Value::Bool(v) => Box::new(*v),
                Value::Timestamp(us) => Box::new(Timestamp::from_microseconds(us - EPOCH_2000_US)),
            }
        })
        .collect()
}

fn unreadable(name: &str, ty: impl std::fmt::Debug) -> OpError {
    OpError::msg(format!(
        "column `{name}` is of type {ty:?}, which the SQL layer does not read: cast it in the query (e.g. CAST(x AS DOUBLE PRECISION), CAST(x AS BIGINT), CAST(x AS TEXT))"
    ))
}

fn read_row(row: &hyperdb_api::Row, i: usize) -> Result<Value, OpError> {
    let ty = row.sql_type(i).ok_or_else(|| unreadable(&i.to_string(), "unknown"))?;
    let v = match ty {
        SqlType::SmallInt => row.get::<i16>(i).map(Value::SmallInt),
        SqlType::Int => row.get::<i32>(i).map(Value::Int),
        SqlType::BigInt => row.get::<i64>(i).map(Value::BigInt),
        SqlType::Double | SqlType::Float => row.get::<f64>(i).map(Value::Double),
        SqlType::Bool => row.get::<bool>(i).map(Value::Bool),
        SqlType::Text | SqlType::Varchar { .. } | SqlType::Char { .. } => row.get::<String>(i).map(Value::Text),
        SqlType::Timestamp => row
            .get::<Timestamp>(i)
            .map(|t| Value::Timestamp(t.microseconds() + EPOCH_2000_US)),
        SqlType::Numeric { .. } => row.get::<f64>(i).map(Value::Double),
        other => return Err(unreadable(&i.to_string(), other)),
    };
    Ok(v.unwrap_or(Value::Null))
}

/// The record batches of an Arrow IPC stream (what gRPC returns).
fn ipc_batches(ipc: &[u8]) -> Result<Vec<RecordBatch>, OpError> {
    if ipc.is_empty() {
        return Ok(Vec::new());
    }
    arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc), None)
        .map_err(|e| OpError::msg(format!("gRPC result is not an Arrow stream: {e}")))?
        .map(|b| b.map_err(|e| OpError::msg(format!("gRPC result: {e}"))))
        .collect()
}

/// Rows of an Arrow IPC stream.
fn decode_ipc(ipc: &[u8]) -> Result<Vec<Row>, OpError> {
    let mut out = Vec::new();
    for batch in ipc_batches(ipc)? {
        let columns = batch.columns();
        for r in 0..batch.num_rows() {
            let row = columns
                .iter()
                .zip(batch.schema().fields())
                .map(|(c, f)| arrow_value(c.as_ref(), r, f.name()))
                .collect::<Result<Row, OpError>>()?;
            out.push(row);
        }
    }
    Ok(out)
}

fn arrow_value(col: &dyn Array, r: usize, name: &str) -> Result<Value, OpError> {
    if col.is_null(r) {
        return Ok(Value::Null);
    }
    fn get<T: 'static>(col: &dyn Array) -> &T {
        col.as_any()
            .downcast_ref::<T>()
            .expect("array type matches its data type")
    }
    Ok(match col.data_type() {
        DataType::Int16 => Value::SmallInt(get::<Int16Array>(col).value(r)),
        DataType::Int32 => Value::Int(get::<Int32Array>(col).value(r)),
        DataType::Int64 => Value::BigInt(get::<Int64Array>(col).value(r)),
        DataType::Float64 => Value::Double(get::<Float64Array>(col).value(r)),
        DataType::Boolean => Value::Bool(get::<BooleanArray>(col).value(r)),
        DataType::Utf8 => Value::Text(get::<StringArray>(col).value(r).to_owned()),
        DataType::LargeUtf8 => Value::Text(get::<LargeStringArray>(col).value(r).to_owned()),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            Value::Timestamp(get::<TimestampMicrosecondArray>(col).value(r))
        }
        other => return Err(unreadable(name, other)),
    })
}

fn hyper_type(t: ColumnType) -> SqlType {
    match t {
        ColumnType::SmallInt => SqlType::small_int(),
        ColumnType::Int => SqlType::int(),
        ColumnType::BigInt => SqlType::big_int(),
        ColumnType::Double => SqlType::double(),
        ColumnType::Text => SqlType::text(),
        ColumnType::Bool => SqlType::bool(),
        ColumnType::Timestamp => SqlType::timestamp(),
    }
}

fn hyper_table(table: &TableDef) -> TableDefinition {
    table.columns.iter().fold(TableDefinition::new(&table.name), |def, c| {
        if c.nullable {
            def.add_nullable_column(&c.name, hyper_type(c.ty))
        } else {
            def.add_required_column(&c.name, hyper_type(c.ty))
        }
    })
}

/// HyperBinary COPY: one `Inserter`, one statement.
fn insert_hyperbinary(conn: &Connection, table: &TableDef, rows: &[Row]) -> Result<u64, OpError> {
    let mut ins = Inserter::new(conn, &hyper_table(table))?;
    for row in rows {
        for (v, c) in row.iter().zip(&table.columns) {
            match v {
                Value::Null => ins.add_null()?,
                Value::SmallInt(v) => ins.add_i16(*v)?,
                Value::Int(v) => ins.add_i32(*v)?,
                Value::BigInt(v) => ins.add_i64(*v)?,
                Value::Double(v) => ins.add_f64(*v)?,
                Value::Text(v) => ins.add_str(v)?,
                Value::Bool(v) => ins.add_bool(*v)?,
                Value::Timestamp(us) => ins.add_timestamp(Timestamp::from_microseconds(us - EPOCH_2000_US))?,
            }
            debug_assert!(v.column_type().is_none_or(|t| t == c.ty));
        }
        ins.end_row()?;
    }
    Ok(ins.execute()?)
}

/// One Arrow record batch of the rows, typed by the table.
fn record_batch(table: &TableDef, rows: &[Row]) -> Result<RecordBatch, OpError> {
    let mut fields = Vec::with_capacity(table.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for (i, c) in table.columns.iter().enumerate() {
        let cells = rows.iter().map(|r| &r[i]);
        let (ty, array): (DataType, ArrayRef) = match c.ty {
            ColumnType::SmallInt => {
                let mut b = Int16Builder::with_capacity(rows.len());
                cells.for_each(|v| b.append_option(v.as_i64().map(|v| v as i16)));
                (DataType::Int16, Arc::new(b.finish()))
            }
            ColumnType::Int => {
                let mut b = Int32Builder::with_capacity(rows.len());
                cells.for_each(|v| b.append_option(v.as_i64().map(|v| v as i32)));
                (DataType::Int32, Arc::new(b.finish()))
            }
            ColumnType::BigInt => {
                let mut b = Int64Builder::with_capacity(rows.len());
                cells.for_each(|v| b.append_option(v.as_i64()));
                (DataType::Int64, Arc::new(b.finish()))
            }
            ColumnType::Double => {
                let mut b = Float64Builder::with_capacity(rows.len());
                cells.for_each(|v| b.append_option(v.as_f64()));
                (DataType::Float64, Arc::new(b.finish()))
            }
            ColumnType::Text => {
                let mut b = StringBuilder::new();
                cells.for_each(|v| match v {
                    Value::Text(s) => b.append_value(s),
                    _ => b.append_null(),
                });
                (DataType::Utf8, Arc::new(b.finish()))
            }
            ColumnType::Bool => {
                let mut b = BooleanBuilder::with_capacity(rows.len());
                cells.for_each(|v| {
                    b.append_option(match v {
                        Value::Bool(x) => Some(*x),
                        _ => None,
                    })
                });
                (DataType::Boolean, Arc::new(b.finish()))
            }
            ColumnType::Timestamp => {
                let mut b = TimestampMicrosecondBuilder::with_capacity(rows.len());
                cells.for_each(|v| b.append_option(v.as_i64()));
                (DataType::Timestamp(TimeUnit::Microsecond, None), Arc::new(b.finish()))
            }
        };
        fields.push(Field::new(&c.name, ty, c.nullable));
        arrays.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| OpError::msg(format!("cannot build an Arrow batch for `{}`: {e}", table.name)))
}

/// Arrow IPC through `ArrowInserter`: one statement.
fn insert_arrow(conn: &Connection, table: &TableDef, rows: &[Row]) -> Result<u64, OpError> {
    let batch = record_batch(table, rows)?;
    let mut ins = ArrowInserter::new(conn, &hyper_table(table))?;
    ins.insert_batch(&batch)?;
    Ok(ins.execute()?)
}

impl SqlConn for HyperConn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, OpError> {
        if params.is_empty() {
            return Ok(self.conn.execute_command(sql)?);
        }
        let boxed = to_params(params);
        let refs: Vec<&dyn ToSqlParam> = boxed.iter().map(|b| b.as_ref()).collect();
        Ok(self.conn.command_params(sql, &refs)?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, OpError> {
        if self.over_grpc(sql) {
            return decode_ipc(self.grpc_query(sql, params)?.as_ref());
        }
        let mut out = Vec::new();
        self.libpq_query(sql, params, |chunk| {
            for row in chunk {
                out.push(
                    (0..row.column_count())
                        .map(|i| read_row(row, i))
                        .collect::<Result<_, _>>()?,
                );
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Counts rows without converting values: any column type will do.
    fn query_count(&mut self, sql: &str, params: &[Value]) -> Result<u64, OpError> {
        if self.over_grpc(sql) {
            let batches = ipc_batches(self.grpc_query(sql, params)?.as_ref())?;
            return Ok(batches.iter().map(|b| b.num_rows() as u64).sum());
        }
        let mut n = 0;
        self.libpq_query(sql, params, |chunk| {
            n += chunk.len() as u64;
            Ok(())
        })?;
        Ok(n)
    }

    fn bulk_insert(&mut self, table: &TableDef, rows: &[Row]) -> Result<u64, OpError> {
        for row in rows {
            table.check_row(row)?;
        }
        if rows.is_empty() {
            return Ok(0);
        }
        match self.format {
            DataFormat::HyperBinary => insert_hyperbinary(&self.conn, table, rows),
            DataFormat::Arrow => insert_arrow(&self.conn, table, rows),
        }
    }

    fn batch(&mut self, sql: &str) -> Result<(), OpError> {
        self.conn.execute_command(sql).map(|_| ()).map_err(Into::into)
    }

    fn create_table(&mut self, table: &TableDef, temporary: bool) -> Result<(), OpError> {
        self.execute(&table.create_sql(temporary), &[])?;
        if temporary {
            self.temp_tables.insert(quote_ident(&table.name));
        }
        Ok(())
    }

    fn drop_table(&mut self, name: &str) -> Result<(), OpError> {
        self.execute(&format!("DROP TABLE IF EXISTS {}", quote_ident(name)), &[])?;
        self.temp_tables.remove(&quote_ident(name));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrow_batches_round_trip_every_type() {
        let table = TableDef::new("t")
            .column("a", ColumnType::SmallInt)
            .column("b", ColumnType::Int)
            .column("c", ColumnType::BigInt)
            .column("d", ColumnType::Double)
            .nullable("e", ColumnType::Text)
            .column("f", ColumnType::Bool)
            .column("g", ColumnType::Timestamp);
        let rows = vec![
            vec![
                Value::SmallInt(-2),
                Value::Int(7),
                Value::BigInt(1 << 40),
                Value::Double(0.5),
                Value::Text("x'y".into()),
                Value::Bool(true),
                Value::Timestamp(1_700_000_000_000_000),
            ],
            vec![
                Value::SmallInt(3),
                Value::Int(-1),
                Value::BigInt(0),
                Value::Double(-1e9),
                Value::Null,
                Value::Bool(false),
                Value::Timestamp(-5),
            ],
        ];
        let batch = record_batch(&table, &rows).unwrap();
        let mut ipc = Vec::new();
        {
            let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut ipc, &batch.schema()).unwrap();
            w.write(&batch).unwrap();
            w.finish().unwrap();
        }
        assert_eq!(decode_ipc(&ipc).unwrap(), rows);
    }
}
