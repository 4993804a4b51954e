//! Per-database schemas, generated from the database's schema seed: 2–5 tables, each small,
//! medium or wide.

use stress_core::prelude::*;
use stress_core::sql::{ColumnType as T, Value};

/// Rows every table holds before the users start.
pub const SEED_ROWS: i32 = 100;

/// How wide a table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 3 columns.
    Small,
    /// 8 columns.
    Medium,
    /// 20 columns.
    Wide,
}

/// A table of the mix.
#[derive(Debug, Clone)]
pub struct Table {
    /// Its kind.
    pub kind: Kind,
    /// Its definition.
    pub def: TableDef,
}

/// The tables of one database.
#[derive(Debug, Clone)]
pub struct Schema {
    /// 2 to 5 tables.
    pub tables: Vec<Table>,
}

fn definition(name: &str, kind: Kind) -> TableDef {
    let t = TableDef::new(name)
        .column("id", T::Int)
        .column("name", T::Text)
        .column("value", T::Double);
    if kind == Kind::Small {
        return t;
    }
    let t = t
        .column("created_at", T::Timestamp)
        .column("category", T::Text)
        .column("quantity", T::Int)
        .column("price", T::Double)
        .column("description", T::Text);
    if kind == Kind::Medium {
        return t;
    }
    t.column("is_active", T::Bool)
        .column("rating", T::SmallInt)
        .column("score", T::Double)
        .nullable("notes", T::Text)
        .column("updated_at", T::Timestamp)
        .column("ref_code", T::Text)
        .column("weight", T::Double)
        .column("height", T::Double)
        .column("tag_a", T::Text)
        .column("tag_b", T::Text)
        .column("counter", T::BigInt)
        .column("fraction", T::Double)
}

impl Schema {
    /// The schema of a database, from the first draws of its schema seed's RNG: the setup step
    /// and every user regenerate the same one.
    pub fn generate(rng: &mut StressRng) -> Self {
        let n = rng.random_range(2..=5);
        let tables = (0..n)
            .map(|i| {
                let kind = [Kind::Small, Kind::Medium, Kind::Wide][rng.random_range(0..3)];
                let name = format!("t{i}_{}", format!("{kind:?}").to_lowercase());
                Table {
                    kind,
                    def: definition(&name, kind),
                }
            })
            .collect();
        Self { tables }
    }

    /// The schema of a user's database.
    pub fn of<A: Adapter>(u: &User<A>) -> Self {
        Self::generate(&mut stress_core::seed::rng(u.db_seed()))
    }
}

const CATEGORIES: [&str; 6] = ["books", "garden", "tools", "toys", "food", "music"];
const TAGS: [&str; 5] = ["red", "green", "blue", "amber", "violet"];
const WORDS: [&str; 8] = ["quick", "brown", "fox", "lazy", "dog", "stress", "test", "row"];

/// One row for `table` with the given id: every value drawn from `rng`.
pub fn row(rng: &mut StressRng, table: &Table, id: i32) -> Vec<Value> {
    let mut r = vec![
        Value::Int(id),
        Value::Text(format!("name-{:08x}", rng.random::<u32>())),
        Value::Double(rng.random_range(0.0..1000.0)),
    ];
    if table.kind == Kind::Small {
        return r;
    }
    let ts = |rng: &mut StressRng| Value::Timestamp(1_700_000_000_000_000 + rng.random_range(0..31_536_000_000_000i64));
    let words = |rng: &mut StressRng, n: usize| {
        (0..n)
            .map(|_| WORDS[rng.random_range(0..WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    };
    r.extend([
        ts(rng),
        Value::Text(CATEGORIES[rng.random_range(0..CATEGORIES.len())].into()),
        Value::Int(rng.random_range(1..1000)),
        Value::Double(f64::from(rng.random_range(100..100_000u32)) / 100.0),
        Value::Text(words(rng, 6)),
    ]);
    if table.kind == Kind::Medium {
        return r;
    }
    r.extend([
        Value::Bool(rng.random_bool(0.7)),
        Value::SmallInt(rng.random_range(1..=5)),
        Value::Double(rng.random_range(0.0..100.0)),
        if rng.random_bool(0.1) {
            Value::Null
        } else {
            Value::Text(words(rng, 10))
        },
        ts(rng),
        Value::Text(format!("REF-{:06}", rng.random_range(0..1_000_000))),
        Value::Double(rng.random_range(0.1..500.0)),
        Value::Double(rng.random_range(0.1..300.0)),
        Value::Text(TAGS[rng.random_range(0..TAGS.len())].into()),
        Value::Text(TAGS[rng.random_range(0..TAGS.len())].into()),
        Value::BigInt(rng.random_range(0..i64::MAX)),
        Value::Double(rng.random::<f64>()),
    ]);
    r
}

/// Ids of inserted rows come from the seeded range, so that joins on `id` keep matching.
pub fn id(rng: &mut StressRng) -> i32 {
    rng.random_range(1..=SEED_ROWS)
}

/// A row for a user to insert: an id from the seeded range, the rest as [`row`].
pub fn inserted_row(rng: &mut StressRng, table: &Table) -> Vec<Value> {
    let id = id(rng);
    row(rng, table, id)
}
