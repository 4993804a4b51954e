//! The engine-neutral SQL layer: typed table definitions, values and rows, and the operations a
//! workload needs (create/drop, execute, query, typed bulk insert), which each adapter maps to
//! its fastest path (SQLite: one prepared statement in one transaction; PostgreSQL: binary
//! `COPY`; Hyper: its inserter).
//!
//! Statements use PostgreSQL-style numbered parameters (`$1`, `$2`, …) on every engine.

use std::fmt;

use crate::outcome::OpError;

/// A column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// 16-bit integer.
    SmallInt,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    BigInt,
    /// 64-bit float.
    Double,
    /// Text.
    Text,
    /// Boolean.
    Bool,
    /// Timestamp without time zone, microsecond precision.
    Timestamp,
}

impl ColumnType {
    /// The type's name in standard SQL (`DOUBLE PRECISION`, `TIMESTAMP`, …), which PostgreSQL,
    /// Hyper and SQLite all accept.
    pub fn sql_name(self) -> &'static str {
        match self {
            Self::SmallInt => "SMALLINT",
            Self::Int => "INTEGER",
            Self::BigInt => "BIGINT",
            Self::Double => "DOUBLE PRECISION",
            Self::Text => "TEXT",
            Self::Bool => "BOOLEAN",
            Self::Timestamp => "TIMESTAMP",
        }
    }
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: ColumnType,
    /// Whether it may hold NULL.
    pub nullable: bool,
}

/// A table: a name and typed columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// The table's name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<Column>,
}

impl TableDef {
    /// A table with no columns yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            columns: Vec::new(),
        }
    }

    /// Adds a `NOT NULL` column.
    pub fn column(mut self, name: impl Into<String>, ty: ColumnType) -> Self {
        self.columns.push(Column {
            name: name.into(),
            ty,
            nullable: false,
        });
        self
    }

    /// Adds a nullable column.
    pub fn nullable(mut self, name: impl Into<String>, ty: ColumnType) -> Self {
        self.columns.push(Column {
            name: name.into(),
            ty,
            nullable: true,
        });
        self
    }

    /// `CREATE TABLE name (...)`, or `CREATE TEMP TABLE` when `temporary`.
    pub fn create_sql(&self, temporary: bool) -> String {
        let cols: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                format!(
                    "{} {}{}",
                    quote_ident(&c.name),
                    c.ty.sql_name(),
                    if c.nullable { "" } else { " NOT NULL" }
                )
            })
            .collect();
        format!(
            "CREATE {}TABLE {} ({})",
            if temporary { "TEMP " } else { "" },
            quote_ident(&self.name),
            cols.join(", ")
        )
    }

    /// `INSERT INTO name (cols) VALUES ($1, …)`.
    pub fn insert_sql(&self) -> String {
        let cols: Vec<String> = self.columns.iter().map(|c| quote_ident(&c.name)).collect();
        let params: Vec<String> = (1..=self.columns.len()).map(|i| format!("${i}")).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote_ident(&self.name),
            cols.join(", "),
            params.join(", ")
        )
    }

    /// Checks that a row fits the table: as many values as columns, each of its column's type
    /// or NULL where the column allows it.
    pub fn check_row(&self, row: &[Value]) -> Result<(), OpError> {
        if row.len() != self.columns.len() {
            return Err(OpError::msg(format!(
                "a row for `{}` has {} values, the table has {} columns",
                self.name,
                row.len(),
                self.columns.len()
            )));
        }
        for (c, v) in self.columns.iter().zip(row) {
            let fits = match v {
                Value::Null => c.nullable,
                v => v.column_type() == Some(c.ty),
            };
            if !fits {
                return Err(OpError::msg(format!(
                    "column `{}.{}` is {}{}, the row gives {v:?}",
                    self.name,
                    c.name,
                    c.ty.sql_name(),
                    if c.nullable { "" } else { " NOT NULL" }
                )));
            }
        }
        Ok(())
    }
}

/// Quotes an identifier for SQL (`"name"`, doubling inner quotes).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A value of one of the [`ColumnType`]s, or NULL. Serialisable, so that it can cross a process
/// boundary as it is (SQLite's engine host takes parameters and returns rows so).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Value {
    /// NULL.
    Null,
    /// SMALLINT.
    SmallInt(i16),
    /// INTEGER.
    Int(i32),
    /// BIGINT.
    BigInt(i64),
    /// DOUBLE PRECISION.
    Double(f64),
    /// TEXT.
    Text(String),
    /// BOOLEAN.
    Bool(bool),
    /// TIMESTAMP, as microseconds since 1970-01-01 00:00:00.
    Timestamp(i64),
}

impl Value {
    /// The column type this value belongs to (`None` for NULL).
    pub fn column_type(&self) -> Option<ColumnType> {
        Some(match self {
            Self::Null => return None,
            Self::SmallInt(_) => ColumnType::SmallInt,
            Self::Int(_) => ColumnType::Int,
            Self::BigInt(_) => ColumnType::BigInt,
            Self::Double(_) => ColumnType::Double,
            Self::Text(_) => ColumnType::Text,
            Self::Bool(_) => ColumnType::Bool,
            Self::Timestamp(_) => ColumnType::Timestamp,
        })
    }

    /// Any integer as `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::SmallInt(v) => Some(v.into()),
            Self::Int(v) => Some(v.into()),
            Self::BigInt(v) | Self::Timestamp(v) => Some(v),
            _ => None,
        }
    }

    /// Any number as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::Double(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// The size of the value's payload in bytes (text length, integer width), for
    /// `Outcome::with_bytes`.
    pub fn payload_bytes(&self) -> u64 {
        match self {
            Self::Null => 0,
            Self::SmallInt(_) => 2,
            Self::Int(_) => 4,
            Self::Bool(_) => 1,
            Self::BigInt(_) | Self::Double(_) | Self::Timestamp(_) => 8,
            Self::Text(s) => s.len() as u64,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::SmallInt(v) => write!(f, "{v}"),
            Self::Int(v) => write!(f, "{v}"),
            Self::BigInt(v) | Self::Timestamp(v) => write!(f, "{v}"),
            Self::Double(v) => write!(f, "{v}"),
            Self::Text(v) => f.write_str(v),
            Self::Bool(v) => write!(f, "{v}"),
        }
    }
}

/// A row of values.
pub type Row = Vec<Value>;

/// The isolation level a transaction asks the engine for ([`SqlConn::in_transaction`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Each statement sees what was committed before it began.
    ReadCommitted,
    /// The transaction sees one snapshot (PostgreSQL: snapshot isolation).
    RepeatableRead,
    /// As if the transactions ran one at a time.
    Serializable,
}

impl Isolation {
    /// Every level, as parameters name them.
    pub const ALL: [Isolation; 3] = [Self::ReadCommitted, Self::RepeatableRead, Self::Serializable];

    /// Its name: `read_committed`, `repeatable_read`, `serializable`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ReadCommitted => "read_committed",
            Self::RepeatableRead => "repeatable_read",
            Self::Serializable => "serializable",
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Isolation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        Self::ALL.into_iter().find(|l| l.name() == s).ok_or_else(|| {
            format!("isolation `{s}` is not a level: give read_committed, repeatable_read or serializable")
        })
    }
}

/// The SQL operations a workload uses, implemented by each adapter's connection.
pub trait SqlConn {
    /// The statement that begins a transaction at `isolation` on this engine, or an error naming
    /// the levels it offers. The default is PostgreSQL's (`BEGIN ISOLATION LEVEL …`).
    fn begin_sql(&self, isolation: Isolation) -> Result<&'static str, OpError> {
        Ok(match isolation {
            Isolation::ReadCommitted => "BEGIN ISOLATION LEVEL READ COMMITTED",
            Isolation::RepeatableRead => "BEGIN ISOLATION LEVEL REPEATABLE READ",
            Isolation::Serializable => "BEGIN ISOLATION LEVEL SERIALIZABLE",
        })
    }

    /// Runs `f` in one transaction at `isolation`: begins it, commits it when `f` returns `Ok`,
    /// rolls it back when `f` fails (and returns `f`'s error). An error of the commit itself —
    /// a serialization failure, say — is returned as the transaction's: it did not commit, or
    /// (a broken connection: the adapter's `is_indeterminate`) it is not known whether it did.
    fn in_transaction<T>(
        &mut self,
        isolation: Isolation,
        f: impl FnOnce(&mut Self) -> Result<T, OpError>,
    ) -> Result<T, OpError>
    where
        Self: Sized,
    {
        let begin = self.begin_sql(isolation)?;
        self.batch(begin)?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Runs a statement; returns the rows it affected.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, OpError>;

    /// Runs a query; returns its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, OpError>;

    /// Inserts rows into `table` by the engine's fastest path, in one transaction; returns the
    /// rows inserted. Rows are checked against the table first.
    fn bulk_insert(&mut self, table: &TableDef, rows: &[Row]) -> Result<u64, OpError>;

    /// Runs several statements separated by `;` (schema setup), without parameters.
    fn batch(&mut self, sql: &str) -> Result<(), OpError>;

    /// Runs a query and returns how many rows it produced.
    fn query_count(&mut self, sql: &str, params: &[Value]) -> Result<u64, OpError> {
        Ok(self.query(sql, params)?.len() as u64)
    }

    /// Runs a query and returns the first column of its first row.
    fn query_scalar(&mut self, sql: &str, params: &[Value]) -> Result<Value, OpError> {
        self.query(sql, params)?
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| OpError::msg(format!("query returned no rows: {sql}")))
    }

    /// Creates a table (a temporary one when `temporary`).
    fn create_table(&mut self, table: &TableDef, temporary: bool) -> Result<(), OpError> {
        self.execute(&table.create_sql(temporary), &[]).map(|_| ())
    }

    /// Drops a table if it exists.
    fn drop_table(&mut self, name: &str) -> Result<(), OpError> {
        self.execute(&format!("DROP TABLE IF EXISTS {}", quote_ident(name)), &[])
            .map(|_| ())
    }

    /// Rows in a table.
    fn count_rows(&mut self, table: &str) -> Result<u64, OpError> {
        let v = self.query_scalar(&format!("SELECT count(*) FROM {}", quote_ident(table)), &[])?;
        v.as_i64()
            .map(|n| n as u64)
            .ok_or_else(|| OpError::msg(format!("count(*) of `{table}` returned {v:?}")))
    }
}

/// Rewrites `$N` parameters to `?N` for engines that number parameters that way (SQLite),
/// leaving string literals, quoted identifiers and comments alone.
pub fn dollar_to_question(sql: &str) -> String {
    replace_params(sql, |n| format!("?{n}"))
}

/// Replaces each `$N` parameter with `f(N)` (an engine's own placeholder, or a literal for a
/// transport that takes none), leaving string literals, quoted identifiers and comments alone.
pub fn replace_params(sql: &str, mut f: impl FnMut(usize) -> String) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '$' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = 0usize;
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                    n = n.saturating_mul(10).saturating_add(d as usize);
                    chars.next();
                }
                out.push_str(&f(n));
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_levels_parse_as_parameters_name_them() {
        for l in Isolation::ALL {
            assert_eq!(l.name().parse::<Isolation>(), Ok(l));
        }
        assert_eq!("Repeatable Read".parse::<Isolation>(), Ok(Isolation::RepeatableRead));
        assert_eq!("read-committed".parse::<Isolation>(), Ok(Isolation::ReadCommitted));
        let e = "snapshot".parse::<Isolation>().unwrap_err();
        assert!(
            e.contains("isolation `snapshot` is not a level") && e.contains("repeatable_read"),
            "{e}"
        );
    }

    fn table() -> TableDef {
        TableDef::new("t")
            .column("id", ColumnType::Int)
            .column("name", ColumnType::Text)
            .nullable("at", ColumnType::Timestamp)
    }

    #[test]
    fn ddl_and_insert_statements() {
        assert_eq!(
            table().create_sql(false),
            "CREATE TABLE \"t\" (\"id\" INTEGER NOT NULL, \"name\" TEXT NOT NULL, \"at\" TIMESTAMP)"
        );
        assert!(table().create_sql(true).starts_with("CREATE TEMP TABLE"));
        assert_eq!(
            table().insert_sql(),
            "INSERT INTO \"t\" (\"id\", \"name\", \"at\") VALUES ($1, $2, $3)"
        );
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn rows_are_checked_against_the_table() {
        let t = table();
        assert!(
            t.check_row(&[Value::Int(1), Value::Text("a".into()), Value::Null])
                .is_ok()
        );
        let e = t.check_row(&[Value::Int(1)]).unwrap_err().to_string();
        assert!(e.contains("has 1 values, the table has 3 columns"), "{e}");
        let e = t
            .check_row(&[Value::BigInt(1), Value::Text("a".into()), Value::Null])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`t.id` is INTEGER NOT NULL, the row gives BigInt(1)"), "{e}");
        let e = t
            .check_row(&[Value::Int(1), Value::Null, Value::Null])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`t.name`"), "{e}");
    }

    #[test]
    fn parameters_are_replaced_outside_literals() {
        let sql = "SELECT '$1', \"$2\", $12 -- $3\n, $2";
        let lits = ["a", "b"];
        let out = replace_params(sql, |n| lits.get(n - 1).map_or(format!("<{n}>"), |s| s.to_string()));
        assert_eq!(out, "SELECT '$1', \"$2\", <12> -- $3\n, b");
    }

    #[test]
    fn parameters_are_renumbered_outside_literals() {
        assert_eq!(
            dollar_to_question("SELECT $1, '$2', \"$3\" -- $4\n FROM t WHERE a = $10"),
            "SELECT ?1, '$2', \"$3\" -- $4\n FROM t WHERE a = ?10"
        );
        assert_eq!(dollar_to_question("SELECT $$"), "SELECT $$");
    }

    #[test]
    fn values_convert() {
        assert_eq!(Value::SmallInt(3).as_i64(), Some(3));
        assert_eq!(Value::Int(3).as_f64(), Some(3.0));
        assert_eq!(Value::Text("x".into()).as_i64(), None);
        assert_eq!(Value::Text("abc".into()).payload_bytes(), 3);
        assert_eq!(Value::Null.to_string(), "NULL");
    }
}
