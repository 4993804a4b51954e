//! Bulk load at scale: one loader inserts `rows` seeded rows in batches of `batch`, each batch
//! one transaction through one prepared statement, on in-process or hosted SQLite. Row *i* is a
//! function of *i* alone ([`row`]), so a hand-written loop can insert exactly the same rows in
//! the same batches, and the verify step can check the table against them.
//!
//! The loader's op *k* loads batch *k*; a run of `rows / batch` ops (rounded up) loads every
//! row: the workloads' own op limit (100) loads the default million, `--ops-per-user` others
//! (`cargo bench -p scale --bench bulk` drives 1M → 10M → 100M that way, each run with its op
//! limit); ops past the last batch insert nothing.

use stress_core::prelude::*;
use stress_core::sql::{ColumnType, SqlConn, TableDef, Value};
use stress_sqlite::{Sqlite, SqliteConn};

/// Rows loaded unless `--param rows=N` says otherwise.
pub const DEFAULT_ROWS: u64 = 1_000_000;
/// Rows per batch (one transaction, one op) unless `--param batch=N` says otherwise.
pub const DEFAULT_BATCH: u64 = 10_000;

/// The table every bulk load creates.
pub const CREATE: &str = "CREATE TABLE bulk (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v INTEGER NOT NULL)";
/// The insert every bulk load runs, once per row.
pub const INSERT: &str = "INSERT INTO bulk (id, k, v) VALUES (?1, ?2, ?3)";

/// Bulk load on in-process SQLite: one loader, `rows` rows in batches of `batch`; by default
/// its 100 ops load the default million rows (`--ops-per-user` is `rows / batch` for others).
#[stress_workload(ops_per_user = 100)]
pub fn bulk_load() -> Workload<Sqlite> {
    bulk(Sqlite::temp_file())
}

/// Bulk load on SQLite in an engine host process of its own (100 ops: the default million rows).
#[stress_workload(ops_per_user = 100)]
pub fn bulk_load_hosted() -> Workload<Sqlite> {
    bulk(Sqlite::temp_file().hosted())
}

/// The bulk load on a given SQLite adapter.
pub fn bulk(db: Sqlite) -> Workload<Sqlite> {
    Workload::new(db)
        .param_range("rows", DEFAULT_ROWS, 1..=10_000_000_000)
        .param_range("batch", DEFAULT_BATCH, 1..=1_000_000)
        .setup(|db: &mut SqliteConn, _: &mut StressRng| {
            db.batch(CREATE)?;
            Ok(())
        })
        .class(UserClass::new("loader", 1).write("load", 1.0, load))
        .verify(verify)
}

/// Row `i`: its id and two 64-bit values from SplitMix64 steps of `i` (a key spread over the
/// whole range, and a payload; about 30 bytes a row in the file).
#[inline]
pub fn row(i: u64) -> (i64, i64, i64) {
    let mix = |x: u64| {
        let mut z = x.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (i as i64, mix(2 * i + 1) as i64, mix(2 * i + 2) as i64)
}

/// The table's columns, for the hosted bulk path.
fn table() -> TableDef {
    TableDef::new("bulk")
        .column("id", ColumnType::BigInt)
        .column("k", ColumnType::BigInt)
        .column("v", ColumnType::BigInt)
}

/// The rows of batch `k`: `k * batch` up to `rows`.
pub fn batch_range(k: u64, batch: u64, rows: u64) -> std::ops::Range<u64> {
    let from = k.saturating_mul(batch).min(rows);
    from..from.saturating_add(batch).min(rows)
}

/// Loads the next batch in one transaction: rows with the adapter's prepared statement in
/// process, typed rows through the host's bulk path when hosted.
pub fn load(u: &mut User<Sqlite>) -> OpResult {
    let (rows, batch): (u64, u64) = (u.param("rows")?, u.param("batch")?);
    let range = batch_range(u.ops_done(), batch, rows);
    if range.is_empty() {
        return Ok(Outcome::done());
    }
    let n = range.end - range.start;
    u.ledger().pending("bulk", n);
    let stored = if u.conn().is_hosted() {
        let values: Vec<Vec<Value>> = range
            .map(|i| {
                let (id, k, v) = row(i);
                vec![Value::BigInt(id), Value::BigInt(k), Value::BigInt(v)]
            })
            .collect();
        u.conn().bulk_insert(&table(), &values)?
    } else {
        u.conn().insert_rows(INSERT, range.map(row))?
    };
    u.ledger().acknowledge("bulk", stored);
    Ok(Outcome::rows(stored).with_bytes(stored * 24))
}

/// Every acknowledged row is there, and the last one is the row it should be.
fn verify(db: &mut SqliteConn, ledger: &Ledger) -> Result<(), OpError> {
    ledger.check_counts(&["bulk"], |_| 0, |t| db.count(t))?;
    let rows = db.query("SELECT id, k, v FROM bulk ORDER BY id DESC LIMIT 1", &[])?;
    if let Some(last) = rows.first() {
        let Some(Value::BigInt(id)) = last.first() else {
            stress_core::op_bail!("the last row has no id: {last:?}");
        };
        let (_, k, v) = row(*id as u64);
        if last.get(1) != Some(&Value::BigInt(k)) || last.get(2) != Some(&Value::BigInt(v)) {
            stress_core::op_bail!("row {id} is not the row loaded: {last:?}");
        }
    }
    Ok(())
}
