//! Content addressing at scale: every entity is stored under the SHA-256 of its content, and
//! found again by it. Does the layer hold at 10K, 100K, 1M entities (and more when asked)?
//!
//! The setup step stores `entities` entities (generated from the database's seed, so any run
//! can regenerate entity *i* and its address); then, at the same time,
//! - a *generator* derives the addresses of new entities in batches and stores them
//!   (`generate`: phases `address` and `write`), counting collisions — a second entity under
//!   an address already taken, which must never happen;
//! - *readers* look seeded entities up by address and check that what comes back hashes to the
//!   address it was found under (`lookup`).
//!
//! Figures: `collisions` (must stay 0; an op that finds one fails) and `bytes_per_entity` (the
//! database file over the entities in it). The linear scaling check is a sweep:
//!
//! ```sh
//! cargo stress sweep content_addressing --param entities=10k..1m:*10
//! ```

#![warn(missing_docs)]

pub mod bulk;

use sha2::{Digest, Sha256};
use stress_core::prelude::*;
use stress_sqlite::rusqlite::{OptionalExtension, params};
use stress_sqlite::{Sqlite, SqliteConn};

/// Entities stored by the setup step unless `--param entities=N` says otherwise.
pub const DEFAULT_ENTITIES: u64 = 10_000;
/// Entities one `generate` op stores.
pub const GENERATE_BATCH: u64 = 100;

const INSERT: &str = "INSERT OR IGNORE INTO entities (addr, body) VALUES (?1, ?2)";

/// The content-addressing layer on SQLite: 1 generator and 3 readers for 10 s.
#[stress_workload(duration = "10s")]
pub fn content_addressing() -> Workload<Sqlite> {
    addressing(Sqlite::temp_file())
}

/// The same on a given SQLite database.
pub fn addressing(db: Sqlite) -> Workload<Sqlite> {
    Workload::new(db)
        // At least one entity for the readers to look up; the guide goes to 10m.
        .param_range("entities", DEFAULT_ENTITIES, 1..=1_000_000_000)
        .setup_with_params(setup)
        .class(UserClass::new("generator", 1).write("generate", 1.0, generate))
        .class(UserClass::new("reader", 3).read("lookup", 1.0, lookup))
        .verify(verify)
}

/// The address of a content: its SHA-256.
pub fn address(content: &[u8]) -> [u8; 32] {
    Sha256::digest(content).into()
}

/// The namespace of a database's seeded entities: the first draw of its schema seed's stream,
/// which setup gets as its RNG and users rebuild from [`User::db_seed`].
pub fn namespace(db_seed: u64) -> u64 {
    stress_core::seed::rng(db_seed).random()
}

/// Seeded entity `i` of a namespace: 64 to 191 bytes, a header and filler from a SplitMix64
/// stream, so that any run regenerates it (and its address) without storing it.
pub fn entity(namespace: u64, i: u64) -> Vec<u8> {
    let mut x = namespace ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = move || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let len = 64 + (next() % 128) as usize;
    let mut body = format!("entity {i} of {namespace:016x}:").into_bytes();
    while body.len() < len {
        body.extend_from_slice(&next().to_le_bytes());
    }
    body.truncate(len);
    body
}

/// Stores `entities` seeded entities, and how many there are for the verify step.
fn setup(db: &mut SqliteConn, rng: &mut StressRng, p: &Params) -> Result<(), OpError> {
    let n: u64 = p.get("entities")?;
    let namespace: u64 = rng.random();
    db.raw().execute_batch(
        "CREATE TABLE entities (id INTEGER PRIMARY KEY, addr BLOB NOT NULL UNIQUE, body BLOB NOT NULL);
         CREATE TABLE seeded (entities INTEGER NOT NULL);",
    )?;
    db.raw().execute("INSERT INTO seeded VALUES (?1)", [n as i64])?;
    let stored = db.insert_rows(
        INSERT,
        (0..n).map(|i| {
            let body = entity(namespace, i);
            (address(&body).to_vec(), body)
        }),
    )?;
    if stored != n {
        stress_core::op_bail!("{} of {n} seeded entities collided with another's address", n - stored);
    }
    Ok(())
}

/// Stores a batch of new entities under their addresses; a collision fails the op.
pub fn generate(u: &mut User<Sqlite>) -> OpResult {
    let n = GENERATE_BATCH;
    let (user, done) = (u.id().to_owned(), u.ops_done());
    let rows: Vec<(Vec<u8>, Vec<u8>)> = u.phase("address", |u| {
        (0..n)
            .map(|j| {
                let mut body = format!("new {user} {done} {j}:").into_bytes();
                let len = 64 + u.rng().random_range(0..128usize);
                while body.len() < len {
                    body.push(u.rng().random_range(b'a'..=b'z'));
                }
                (address(&body).to_vec(), body)
            })
            .collect()
    });
    let bytes: u64 = rows.iter().map(|(_, b)| b.len() as u64).sum();
    u.ledger().pending("entities", rows.len() as u64);
    let stored = u.phase("write", |u| {
        u.conn().insert_rows(INSERT, rows.iter().map(|(a, b)| (a, b)))
    })?;
    u.ledger().acknowledge("entities", stored);
    let collisions = n - stored;
    u.figure("collisions", collisions as f64);
    if u.ops_done().is_multiple_of(50) {
        let (pages, page_size, entities): (i64, i64, i64) = u.conn().raw().query_row(
            "SELECT (SELECT page_count FROM pragma_page_count()), (SELECT page_size FROM pragma_page_size()), \
             (SELECT coalesce(max(id), 0) FROM entities)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        if entities > 0 {
            u.figure("bytes_per_entity", (pages * page_size) as f64 / entities as f64);
        }
    }
    if collisions > 0 {
        stress_core::op_bail!("{collisions} of {n} new entities collided with an address already taken");
    }
    Ok(Outcome::rows(stored).with_bytes(bytes))
}

/// Looks a seeded entity up by its address and checks that it hashes to it.
pub fn lookup(u: &mut User<Sqlite>) -> OpResult {
    let n: u64 = u.param("entities")?;
    if n == 0 {
        return Ok(Outcome::done());
    }
    let i = u.rng().random_range(0..n);
    let addr = u.phase("address", |u| address(&entity(namespace(u.db_seed()), i)));
    let body: Option<Vec<u8>> = u
        .conn()
        .raw()
        .prepare_cached("SELECT body FROM entities WHERE addr = ?1")?
        .query_row(params![&addr[..]], |r| r.get(0))
        .optional()?;
    match body {
        None => stress_core::op_bail!("entity {i} is not at its address"),
        Some(b) if address(&b) != addr => {
            stress_core::op_bail!("the entity at entity {i}'s address does not hash to it")
        }
        Some(b) => Ok(Outcome::rows(1).with_bytes(b.len() as u64)),
    }
}

/// Every entity seeded or acknowledged is there, no other, and the file is sound.
fn verify(db: &mut SqliteConn, ledger: &Ledger) -> Result<(), OpError> {
    db.integrity_check()?;
    let seeded = db.query_i64("SELECT entities FROM seeded", [])? as u64;
    ledger.check_counts(&["entities"], |_| seeded, |t| db.count(t))
}
