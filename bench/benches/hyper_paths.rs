//! Hyper's paths side by side, each pair in one run, A B A B: bulk inserts as HyperBinary
//! (`Inserter`) against Arrow (`ArrowInserter`), and reads over libpq against gRPC — rows/s of
//! each, the median of the pairs and their ratio. Every run is the same seeded workload on a
//! fresh managed hyperd: 2 users, each op inserting 10,000 rows or reading up to 20,000 back.
//!
//! `cargo bench -p stress-bench --bench hyper_paths` (needs hyperd: `scripts/install-hyperd`)

use std::time::Duration;

use stress_bench::{full, median, pick};
use stress_core::prelude::*;
use stress_core::sql::{ColumnType, Value};
use stress_hyper::{DataFormat, Hyper, Transport};

const ROWS_PER_INSERT: i32 = 10_000;
const ROWS_PER_READ: i32 = 20_000;

fn table() -> TableDef {
    TableDef::new("points")
        .column("id", ColumnType::Int)
        .column("v", ColumnType::Double)
        .column("name", ColumnType::Text)
        .column("at", ColumnType::Timestamp)
}

fn rows(rng: &mut StressRng, n: i32) -> Vec<Row> {
    (0..n)
        .map(|i| {
            vec![
                Value::Int(i),
                Value::Double(rng.random()),
                Value::Text(format!("point-{:08x}", rng.random::<u32>())),
                Value::Timestamp(1_700_000_000_000_000 + i64::from(i) * 1_000),
            ]
        })
        .collect()
}

fn insert(u: &mut User<Hyper>) -> OpResult {
    let batch = u.untimed(|rng| rows(rng, ROWS_PER_INSERT));
    Ok(Outcome::rows(u.conn().bulk_insert(&table(), &batch)?))
}

fn read(u: &mut User<Hyper>) -> OpResult {
    let sql = "SELECT id, v, name, at FROM points WHERE id < $1";
    Ok(Outcome::rows(u.conn().query_count(sql, &[Value::Int(ROWS_PER_READ)])?))
}

/// Rows/s of `op` on a fresh hyperd with these paths.
fn rows_per_sec(transport: Transport, format: DataFormat, op: &str, d: Duration) -> f64 {
    let w = Workload::new(Hyper::managed().transport(transport).data_format(format))
        .setup(|db, rng| {
            db.create_table(&table(), false)?;
            // Enough rows that every read returns ROWS_PER_READ of them.
            db.bulk_insert(&table(), &rows(rng, ROWS_PER_READ))?;
            Ok(())
        })
        .class(match op {
            "insert" => UserClass::new("client", 2).write("insert", 1.0, insert),
            _ => UserClass::new("client", 2).read("read", 1.0, read),
        });
    let s = Runner::new(op).seed(7).duration(d).run(w).unwrap().summary;
    assert_eq!(s.failed_ops, 0, "{:?}", s.errors.first());
    s.rows_per_sec
}

fn main() {
    let (d, pairs) = (
        pick(Duration::from_secs(8), Duration::from_secs(1)),
        if full() { 3 } else { 1 },
    );
    for (what, op, a, b) in [
        (
            "bulk insert (libpq)",
            "insert",
            (Transport::LibPq, DataFormat::HyperBinary, "hyperbinary"),
            (Transport::LibPq, DataFormat::Arrow, "arrow"),
        ),
        (
            "read (hyperbinary)",
            "read",
            (Transport::LibPq, DataFormat::HyperBinary, "libpq"),
            (Transport::Grpc, DataFormat::HyperBinary, "grpc"),
        ),
    ] {
        let (mut ra, mut rb, mut ratios) = (vec![], vec![], vec![]);
        for pair in 1..=pairs {
            let x = rows_per_sec(a.0, a.1, op, d);
            let y = rows_per_sec(b.0, b.1, op, d);
            println!(
                "{what}: pair {pair}: {} {x:.0} rows/s | {} {y:.0} rows/s | ratio {:.3}",
                a.2,
                b.2,
                y / x
            );
            ra.push(x);
            rb.push(y);
            ratios.push(y / x);
        }
        println!(
            "{what}: median {} {:.0} rows/s, {} {:.0} rows/s, ratio {}/{} {:.3}",
            a.2,
            median(ra),
            b.2,
            median(rb),
            b.2,
            a.2,
            median(ratios)
        );
    }
}
