//! The quickstart workload: order entry on SQLite.
//!
//! Customers place orders. *Inserters* mostly bulk-load orders, *readers* look orders up and
//! report on them, *mixed* users do a bit of both. The verify step checks that the `orders`
//! table holds exactly the seeded rows plus every row a user acknowledged.

#![warn(missing_docs)]

use stress_core::prelude::*;
use stress_sqlite::rusqlite::OptionalExtension;
use stress_sqlite::{Sqlite, SqliteConn};

/// Customers created by the setup step.
pub const SEED_CUSTOMERS: u64 = 100;
/// Orders created by the setup step.
pub const SEED_ORDERS: u64 = 100;

const STATUSES: [&str; 4] = ["new", "paid", "shipped", "cancelled"];
const INSERT_ORDER: &str = "INSERT INTO orders (customer_id, amount, status, created_at) VALUES (?1, ?2, ?3, ?4)";

/// The order-entry workload: 4 inserters, 3 readers and 2 mixed users for 10 s.
#[stress_workload(duration = "10s")]
pub fn orders() -> Workload<Sqlite> {
    Workload::new(Sqlite::temp_file())
        .setup(setup)
        .class(
            UserClass::new("inserter", 4)
                .write("bulk_insert", 0.70, bulk_insert)
                .write("single_insert", 0.15, single_insert)
                .read("point_select", 0.15, point_select),
        )
        .class(
            UserClass::new("reader", 3)
                .read("point_select", 0.40, point_select)
                .read("aggregate", 0.30, aggregate)
                .read("join", 0.30, join),
        )
        .class(
            UserClass::new("mixed", 2)
                .write("single_insert", 0.30, single_insert)
                .read("point_select", 0.30, point_select)
                .read("aggregate", 0.20, aggregate)
                .read("join", 0.20, join),
        )
        .batch(100, 1_000)
        .verify(verify)
}

/// Creates the schema and seeds customers and orders.
pub fn setup(db: &mut SqliteConn, rng: &mut StressRng) -> Result<(), OpError> {
    db.raw().execute_batch(
        "DROP TABLE IF EXISTS orders;
         DROP TABLE IF EXISTS customers;
         CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, region TEXT NOT NULL);
         CREATE TABLE orders (
             id INTEGER PRIMARY KEY,
             customer_id INTEGER NOT NULL REFERENCES customers(id),
             amount REAL NOT NULL,
             status TEXT NOT NULL,
             created_at INTEGER NOT NULL
         );
         CREATE INDEX orders_customer ON orders(customer_id);",
    )?;
    let regions = ["north", "south", "east", "west"];
    db.insert_rows(
        "INSERT INTO customers (id, name, region) VALUES (?1, ?2, ?3)",
        (1..=SEED_CUSTOMERS).map(|id| {
            let name = format!("customer-{:06}", rng.random_range(0..1_000_000));
            (id as i64, name, regions[rng.random_range(0..regions.len())])
        }),
    )?;
    db.insert_rows(INSERT_ORDER, (0..SEED_ORDERS).map(|_| order(rng)))?;
    Ok(())
}

fn order(rng: &mut StressRng) -> (i64, f64, &'static str, i64) {
    (
        rng.random_range(1..=SEED_CUSTOMERS as i64),
        f64::from(rng.random_range(100..50_000u32)) / 100.0,
        STATUSES[rng.random_range(0..STATUSES.len())],
        1_700_000_000 + rng.random_range(0..30_000_000i64),
    )
}

/// Inserts a batch of orders in one transaction.
pub fn bulk_insert(u: &mut User<Sqlite>) -> OpResult {
    let n = u.batch_size();
    u.ledger().pending("orders", n);
    let (db, rng) = u.conn_and_rng();
    let rows = db.insert_rows(INSERT_ORDER, (0..n).map(|_| order(rng)))?;
    u.ledger().acknowledge("orders", rows);
    Ok(Outcome::rows(rows))
}

/// Inserts one order.
pub fn single_insert(u: &mut User<Sqlite>) -> OpResult {
    let row = order(u.rng());
    u.ledger().pending("orders", 1);
    let rows = u.conn().write(|tx| tx.prepare_cached(INSERT_ORDER)?.execute(row))? as u64;
    u.ledger().acknowledge("orders", rows);
    Ok(Outcome::rows(rows))
}

/// Looks one order up by id.
pub fn point_select(u: &mut User<Sqlite>) -> OpResult {
    let id = u.rng().random_range(1..=SEED_ORDERS as i64);
    let found = u
        .conn()
        .raw()
        .prepare_cached("SELECT id, customer_id, amount, status FROM orders WHERE id = ?1")?
        .query_row([id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
        .optional()?;
    match found {
        Some(_) => Ok(Outcome::rows(1)),
        None => stress_core::op_bail!("seeded order {id} is missing"),
    }
}

/// Revenue by status over a range of ten customers.
pub fn aggregate(u: &mut User<Sqlite>) -> OpResult {
    let lo = u.rng().random_range(1..=SEED_CUSTOMERS as i64 - 9);
    let mut stmt = u.conn().raw().prepare_cached(
        "SELECT status, count(*), sum(amount) FROM orders WHERE customer_id BETWEEN ?1 AND ?2 GROUP BY status",
    )?;
    let groups = stmt.query_map([lo, lo + 9], |r| r.get::<_, i64>(1))?.count();
    Ok(Outcome::rows(groups as u64))
}

/// A customer with their order count and total.
pub fn join(u: &mut User<Sqlite>) -> OpResult {
    let customer = u.rng().random_range(1..=SEED_CUSTOMERS as i64);
    let row: Option<(String, i64, Option<f64>)> = u
        .conn()
        .raw()
        .prepare_cached(
            "SELECT c.name, count(o.id), sum(o.amount) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id \
             WHERE c.id = ?1 GROUP BY c.id",
        )?
        .query_row([customer], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    Ok(Outcome::rows(u64::from(row.is_some())))
}

/// Every acknowledged order is there, nothing else is, and the file is sound.
pub fn verify(db: &mut SqliteConn, ledger: &Ledger) -> Result<(), OpError> {
    db.integrity_check()?;
    let seeded = |table: &str| if table == "orders" { SEED_ORDERS } else { SEED_CUSTOMERS };
    ledger.check_counts(&["orders", "customers"], seeded, |t| db.count(t))
}
