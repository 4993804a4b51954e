//! The Monte Carlo multi-user SQL mix: the simulation our first user ran by hand against one
//! Hyper server, written once against the engine-neutral SQL layer and registered for SQLite
//! and PostgreSQL.
//!
//! N databases (3 by default), each with 2–5 small/medium/wide tables generated from its schema
//! seed and seeded with 100 rows. Three classes roll their ops from these tables:
//!
//! | op | inserter | query | mixed |
//! | --- | --- | --- | --- |
//! | bulk insert (the engine's fastest path) | .70 | .05 | .35 |
//! | single-row INSERT | .15 | .05 | .15 |
//! | simple SELECT with LIMIT | .05 | .40 | .20 |
//! | aggregate (grouping, window functions at higher levels) | .03 | .25 | .15 |
//! | JOIN of 2–4 tables (grouping, window functions, a CTE at higher levels) | .02 | .20 | .10 |
//! | DDL: create temp table, insert, select, drop | .05 | .05 | .05 |
//!
//! Aggregates and joins draw a complexity level from 0 to the `query_complexity_max`
//! parameter (default 3, at most 4; see [`queries`]).
//!
//! Better than the original: inserted ids come from the seeded range so joins keep matching,
//! rows are generated outside the timed section (reported as each op's `untimed_us`), and the
//! verify step checks that every table holds its seeded rows plus every acknowledged insert.

#![warn(missing_docs)]

pub mod queries;
pub mod schema;

use stress_core::prelude::*;
use stress_core::sql::{Value, quote_ident};
use stress_hyper::Hyper;
use stress_postgres::Postgres;
use stress_sqlite::Sqlite;

use crate::schema::{SEED_ROWS, Schema, Table};

/// The mix on any engine whose connections speak the SQL layer.
pub fn mix<A: Adapter>(adapter: A) -> Workload<A>
where
    A::Conn: SqlConn,
{
    mix_with_complexity(adapter, DEFAULT_COMPLEXITY_MAX)
}

/// The default of `query_complexity_max`.
pub const DEFAULT_COMPLEXITY_MAX: u64 = 3;

/// The mix with another default for `query_complexity_max` (the parameter still overrides it).
pub fn mix_with_complexity<A: Adapter>(adapter: A, complexity_max: u64) -> Workload<A>
where
    A::Conn: SqlConn,
{
    Workload::new(adapter)
        .param("query_complexity_max", complexity_max.min(queries::MAX_LEVEL))
        .databases(3)
        .batch(100, 10_000)
        .think_ms(10, 200)
        .setup(setup::<A>)
        .class(
            UserClass::new("inserter", 4)
                .write("bulk_insert", 0.70, bulk_insert::<A>)
                .write("single_insert", 0.15, single_insert::<A>)
                .read("select", 0.05, select::<A>)
                .read("aggregate", 0.03, aggregate::<A>)
                .read("join", 0.02, join::<A>)
                .read("ddl", 0.05, ddl::<A>),
        )
        .class(
            UserClass::new("query", 3)
                .write("bulk_insert", 0.05, bulk_insert::<A>)
                .write("single_insert", 0.05, single_insert::<A>)
                .read("select", 0.40, select::<A>)
                .read("aggregate", 0.25, aggregate::<A>)
                .read("join", 0.20, join::<A>)
                .read("ddl", 0.05, ddl::<A>),
        )
        .class(
            UserClass::new("mixed", 2)
                .write("bulk_insert", 0.35, bulk_insert::<A>)
                .write("single_insert", 0.15, single_insert::<A>)
                .read("select", 0.20, select::<A>)
                .read("aggregate", 0.15, aggregate::<A>)
                .read("join", 0.10, join::<A>)
                .read("ddl", 0.05, ddl::<A>),
        )
        .verify(verify::<A>)
}

/// The mix on SQLite (temporary files, one per database).
#[stress_workload(duration = "20s")]
pub fn monte_carlo_sqlite() -> Workload<Sqlite> {
    mix(Sqlite::temp_file())
}

/// The mix on PostgreSQL: the server in `STRESS_PG_DSN`/`PG_DSN`, else a managed one.
#[stress_workload(duration = "20s")]
pub fn monte_carlo_postgres() -> Workload<Postgres> {
    mix(Postgres::from_env_or_managed())
}

/// The mix on a managed hyperd, with the original simulation's knobs: `STRESS_TRANSPORT` and
/// `STRESS_DATA_FORMAT` (the defaults of its parameters `transport` and `data_format`),
/// `STRESS_LOG_INTERVAL`, `STRESS_LOG_MODE`, `STRESS_MEMORY_LIMIT` (see
/// `stress_hyper::Hyper::from_env`), `STRESS_QUERY_COMPLEXITY_MAX`, and the core's
/// `STRESS_DATABASES`, `STRESS_INSERTER_USERS`, `STRESS_QUERY_USERS`, `STRESS_MIXED_USERS`.
#[stress_workload(duration = "20s")]
pub fn monte_carlo_hyper() -> Workload<Hyper> {
    let complexity = std::env::var("STRESS_QUERY_COMPLEXITY_MAX")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_COMPLEXITY_MAX);
    // The adapter declares the paths as parameters (`transport`, `data_format`, defaults from
    // STRESS_TRANSPORT/STRESS_DATA_FORMAT): a matrix can compare them, a replay restores them.
    mix_with_complexity(Hyper::from_env(), complexity).variable("STRESS_QUERY_COMPLEXITY_MAX")
}

fn setup<A: Adapter>(db: &mut A::Conn, rng: &mut StressRng) -> Result<(), OpError>
where
    A::Conn: SqlConn,
{
    let schema = Schema::generate(rng);
    for t in &schema.tables {
        db.drop_table(&t.def.name)?;
        db.create_table(&t.def, false)?;
        let rows: Vec<Row> = (1..=SEED_ROWS).map(|id| schema::row(rng, t, id)).collect();
        db.bulk_insert(&t.def, &rows)?;
    }
    Ok(())
}

/// A table of the user's database, drawn from its RNG.
fn pick<A: Adapter>(u: &mut User<A>, schema: &Schema) -> Table {
    schema.tables[u.rng().random_range(0..schema.tables.len())].clone()
}

fn bulk_insert<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    let schema = Schema::of(u);
    let t = pick(u, &schema);
    let n = u.batch_size();
    let rows: Vec<Row> = u.untimed(|rng| (0..n).map(|_| schema::inserted_row(rng, &t)).collect());
    let bytes = rows.iter().flatten().map(Value::payload_bytes).sum();
    u.ledger().pending(&t.def.name, n);
    let inserted = u.conn().bulk_insert(&t.def, &rows)?;
    u.ledger().acknowledge(&t.def.name, inserted);
    Ok(Outcome::rows(inserted).with_bytes(bytes))
}

fn single_insert<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    let schema = Schema::of(u);
    let t = pick(u, &schema);
    let row = u.untimed(|rng| schema::inserted_row(rng, &t));
    u.ledger().pending(&t.def.name, 1);
    let n = u.conn().execute(&t.def.insert_sql(), &row)?;
    u.ledger().acknowledge(&t.def.name, n);
    Ok(Outcome::rows(n))
}

/// A read of `n` tables of the user's database drawn at random, with an id from the seeded
/// range as `$1`.
fn read<A: Adapter>(u: &mut User<A>, n: usize, sql: impl Fn(&[String]) -> String) -> OpResult
where
    A::Conn: SqlConn,
{
    let schema = Schema::of(u);
    let tables: Vec<String> = (0..n).map(|_| quote_ident(&pick(u, &schema).def.name)).collect();
    let id = Value::Int(schema::id(u.rng()));
    Ok(Outcome::rows(u.conn().query_count(&sql(&tables), &[id])?))
}

fn select<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    read(u, 1, |t| {
        format!(
            "SELECT id, name, value FROM {} WHERE id >= $1 ORDER BY id LIMIT 10",
            t[0]
        )
    })
}

/// A complexity level from 0 to `query_complexity_max`, drawn from the user's RNG.
fn level<A: Adapter>(u: &mut User<A>) -> Result<u64, OpError> {
    let max = u.param::<u64>("query_complexity_max")?.min(queries::MAX_LEVEL);
    Ok(u.rng().random_range(0..=max))
}

fn aggregate<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    let level = level(u)?;
    read(u, queries::aggregate_tables(level), |t| queries::aggregate(level, t))
}

fn join<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    let level = level(u)?;
    read(u, queries::join_tables(level), |t| queries::join(level, t))
}

fn ddl<A: Adapter>(u: &mut User<A>) -> OpResult
where
    A::Conn: SqlConn,
{
    let scratch = TableDef::new(format!("scratch_{}", u.id().replace('-', "_")))
        .column("id", stress_core::sql::ColumnType::Int)
        .column("name", stress_core::sql::ColumnType::Text)
        .column("value", stress_core::sql::ColumnType::Double);
    let small = Table {
        kind: schema::Kind::Small,
        def: scratch.clone(),
    };
    let rows: Vec<Row> = u.untimed(|rng| (1..=10).map(|id| schema::row(rng, &small, id)).collect());
    let c = u.conn();
    c.create_table(&scratch, true)?;
    c.bulk_insert(&scratch, &rows)?;
    let n = c.count_rows(&scratch.name)?;
    c.drop_table(&scratch.name)?;
    if n != 10 {
        stress_core::op_bail!("temp table `{}` held {n} rows after inserting 10", scratch.name);
    }
    Ok(Outcome::rows(n))
}

/// Every table holds its seeded rows plus every row users acknowledged.
fn verify<A: Adapter>(db: &mut A::Conn, ledger: &Ledger) -> Result<(), OpError>
where
    A::Conn: SqlConn,
{
    // The verify step gets no RNG: the schema comes back from the tables that exist.
    let names: Vec<String> = ["small", "medium", "wide"]
        .iter()
        .flat_map(|k| (0..5).map(move |i| format!("t{i}_{k}")))
        .filter(|n| db.count_rows(n).is_ok())
        .collect();
    if names.len() < 2 {
        stress_core::op_bail!("expected 2 to 5 tables, found {names:?}");
    }
    let tables: Vec<&str> = names.iter().map(String::as_str).collect();
    ledger.check_counts(&tables, |_| SEED_ROWS as u64, |t| db.count_rows(t))
}
