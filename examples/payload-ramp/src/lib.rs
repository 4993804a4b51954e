//! The payload ramp: how large may one record get before PostgreSQL (or the client) breaks?
//!
//! A record is one time series of `epochs` epochs, encoded as `format` — `jsonb` (a JSONB
//! column), `bson` or `ndjson_zstd` (newline-delimited JSON compressed by zstd as it is
//! generated; both in a BYTEA column), see [`codec`]. Each op writes one record (`write`: encode
//! and INSERT), reads it back and decodes it in full (`read`: SELECT and decode), and records
//! the payload's size on the client (`client_bytes`), in the database (`db_bytes`:
//! `pg_column_size` of the payload), the row's size (`row_db_bytes`) and the table's
//! (`table_bytes`: `pg_total_relation_size`).
//!
//! Two modes:
//! - [`payload_sync`]: one writer, three records in a row;
//! - [`payload_fanout`]: eight writers at once, one record each.
//!
//! Sweep it to the breaking point (each iteration a fresh managed PostgreSQL):
//!
//! ```sh
//! cargo stress sweep payload_sync --param epochs=10000..1000000:10000 --param format=bson
//! ```

#![warn(missing_docs)]

pub mod codec;

use stress_core::prelude::*;
use stress_postgres::{PgConn, Postgres};

use crate::codec::Format;

/// Epochs in a record unless `--param epochs=N` says otherwise.
pub const DEFAULT_EPOCHS: u64 = 10_000;

/// Sync mode: one writer writes a record, reads it back and decodes it, three times.
#[stress_workload(ops_per_user = 3, duration = "120s")]
pub fn payload_sync() -> Workload<Postgres> {
    sync(Postgres::from_env_or_managed())
}

/// Fan-out mode: eight writers at once, each writing and reading back one record.
#[stress_workload(ops_per_user = 1, duration = "120s")]
pub fn payload_fanout() -> Workload<Postgres> {
    fanout(Postgres::from_env_or_managed())
}

/// The sync mode on a given server.
pub fn sync(pg: Postgres) -> Workload<Postgres> {
    ramp(pg, 1)
}

/// The fan-out mode on a given server.
pub fn fanout(pg: Postgres) -> Workload<Postgres> {
    ramp(pg, 8)
}

fn ramp(pg: Postgres, writers: usize) -> Workload<Postgres> {
    Workload::new(pg)
        // A series of no epochs measures nothing, a negative one nothing at all (every op would
        // fail); 100 million (3 GB of JSON a record) is well past any engine's breaking point.
        .param_range("epochs", DEFAULT_EPOCHS, 1..=100_000_000)
        .param_choice("format", "jsonb", &codec::FORMATS)
        .setup_with_params(setup)
        .class(UserClass::new("writer", writers).write("roundtrip", 1.0, roundtrip))
        .verify(|db, ledger| ledger.check_counts(&["payload"], |_| 0, |t| db.count_rows(t)))
}

/// The table, its payload column typed for the format.
fn setup(db: &mut PgConn, _: &mut StressRng, p: &Params) -> Result<(), OpError> {
    let format: Format = p.get::<String>("format")?.parse()?;
    db.client().batch_execute(&format!(
        "DROP TABLE IF EXISTS payload;
         CREATE TABLE payload (
             id bigserial PRIMARY KEY,
             series text NOT NULL,
             epochs integer NOT NULL,
             payload {} NOT NULL
         )",
        format.column_type()
    ))?;
    Ok(())
}

/// Sizes the database reports for a record: its payload column and its whole row.
struct Stored {
    payload: Vec<u8>,
    column: i32,
    row: i32,
}

/// Writes one record, reads it back and decodes it.
pub fn roundtrip(u: &mut User<Postgres>) -> OpResult {
    let epochs: u64 = u.param("epochs")?;
    let format: Format = u.param::<String>("format")?.parse()?;
    let series = format!("{}-{}", u.id(), u.ops_done());
    // Declared before the insert: if a fault cuts the connection during it, the verify step
    // allows the row either way.
    u.ledger().pending("payload", 1);
    let (id, client_bytes) = u.phase("write", |u| -> Result<(i64, usize), OpError> {
        let payload = u.phase("encode", |u| codec::encode(format, &series, epochs, u.rng()))?;
        let id = insert(u.conn(), format, &series, epochs, &payload)?;
        Ok((id, payload.len()))
    })?;
    u.ledger().acknowledge("payload", 1);
    let stored = u.phase("read", |u| -> Result<Stored, OpError> {
        let stored = select(u.conn(), format, id)?;
        let decoded = u.phase("decode", |_| codec::decode(format, &stored.payload))?;
        if decoded != epochs {
            stress_core::op_bail!("record {id} came back with {decoded} epochs, {epochs} were written");
        }
        Ok(stored)
    })?;
    let table: i64 = u
        .conn()
        .client()
        .query_one("SELECT pg_total_relation_size('payload')", &[])?
        .get(0);
    u.figure("client_bytes", client_bytes as f64);
    u.figure("db_bytes", f64::from(stored.column));
    u.figure("row_db_bytes", f64::from(stored.row));
    u.figure("table_bytes", table as f64);
    Ok(Outcome::rows(epochs).with_bytes(client_bytes as u64))
}

fn insert(db: &mut PgConn, format: Format, series: &str, epochs: u64, payload: &[u8]) -> Result<i64, OpError> {
    let epochs = i32::try_from(epochs).map_err(|_| OpError::msg(format!("{epochs} epochs do not fit the table")))?;
    let row = match format {
        Format::Jsonb => {
            // Sent as text: the server parses it into jsonb, as it would from any client.
            let sql = "INSERT INTO payload (series, epochs, payload) VALUES ($1, $2, $3::text::jsonb) RETURNING id";
            let text = std::str::from_utf8(payload)?;
            let stmt = db.prepare_cached(sql)?;
            db.client().query_one(&stmt, &[&series, &epochs, &text])?
        }
        Format::Bson | Format::NdjsonZstd => {
            let sql = "INSERT INTO payload (series, epochs, payload) VALUES ($1, $2, $3) RETURNING id";
            let stmt = db.prepare_cached(sql)?;
            db.client().query_one(&stmt, &[&series, &epochs, &payload])?
        }
    };
    Ok(row.get(0))
}

fn select(db: &mut PgConn, format: Format, id: i64) -> Result<Stored, OpError> {
    let sizes = "pg_column_size(payload), pg_column_size(t.*) FROM payload t WHERE id = $1";
    let sql = match format {
        Format::Jsonb => format!("SELECT payload::text, {sizes}"),
        Format::Bson | Format::NdjsonZstd => format!("SELECT payload, {sizes}"),
    };
    let stmt = db.prepare_cached(&sql)?;
    let row = db.client().query_one(&stmt, &[&id])?;
    let payload = match format {
        Format::Jsonb => row.try_get::<_, String>(0)?.into_bytes(),
        Format::Bson | Format::NdjsonZstd => row.try_get::<_, Vec<u8>>(0)?,
    };
    Ok(Stored {
        payload,
        column: row.try_get(1)?,
        row: row.try_get(2)?,
    })
}
