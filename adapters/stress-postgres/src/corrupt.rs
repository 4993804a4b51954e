//! The `corrupt` fault on a managed cluster: with the server stopped, one 8 KiB page of one of
//! the run's relation files (a table's or an index's: relfilenode 16384 and up), both chosen by
//! the run's seed, overwritten with random bytes; once the server is up again, `amcheck`
//! (`verify_heapam` on every table, `bt_index_check` on every B-tree index) says whether
//! PostgreSQL can tell. The managed cluster has no data checksums (initdb's default): a damaged
//! page whose header still looks valid is served as it is.

use std::path::Path;

use stress_core::OpError;
use stress_core::rand::Rng;

use crate::tls::Tls;

/// PostgreSQL's page size (the default build's `BLCKSZ`).
const PAGE: u64 = 8192;
/// The first object id of objects made after initdb: the run's own relations.
const FIRST_NORMAL_OID: u32 = 16_384;

/// Damages one page of one of the run's relation files under `data`; says which.
pub(crate) fn damage(data: &Path, rng: &mut impl Rng) -> Result<String, OpError> {
    let sorted = |dir: &Path| -> Vec<std::path::PathBuf> {
        let mut all: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        all.sort();
        all
    };
    let mut files = Vec::new();
    for db in sorted(&data.join("base")) {
        for file in sorted(&db) {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let ours = name.parse::<u32>().is_ok_and(|oid| oid >= FIRST_NORMAL_OID);
            let pages = std::fs::metadata(&file).map_or(0, |m| m.len() / PAGE);
            if ours && pages > 0 {
                files.push((file, pages));
            }
        }
    }
    if files.is_empty() {
        return Err(OpError::msg("no relation of the run holds a page yet"));
    }
    let (file, pages) = files.swap_remove(rng.random_range(0..files.len()));
    let page = rng.random_range(0..pages);
    stress_core::fault::overwrite(&file, page * PAGE, PAGE as usize, rng)?;
    let rel = file.strip_prefix(data).unwrap_or(&file).display().to_string();
    Ok(format!("damaged page {page} of {pages} of {rel}"))
}

/// `amcheck` over every table and B-tree index of the run's databases: what it found (or that
/// the check itself failed, which is a finding too: the damage stopped it).
pub(crate) fn amcheck<'a>(databases: impl Iterator<Item = (&'a postgres::Config, &'a Tls)>) -> String {
    let mut found = Vec::new();
    for (config, tls) in databases {
        if let Err(e) = check_one(config, tls, &mut found) {
            found.push(format!("the check failed: {}", OpError::from(e)));
        }
    }
    if found.is_empty() {
        "amcheck: no corruption found".to_owned()
    } else {
        let n = found.len();
        found.truncate(3);
        format!("amcheck: {n} finding(s): {}", found.join("; "))
    }
}

fn check_one(config: &postgres::Config, tls: &Tls, found: &mut Vec<String>) -> Result<(), postgres::Error> {
    let mut c = crate::client(config, tls)?;
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS amcheck")?;
    let relations = c.query(
        "SELECT c.oid::regclass::text, c.relkind::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND (c.relkind = 'r' OR (c.relkind = 'i' AND c.relam = 403)) ORDER BY 1",
        &[],
    )?;
    for row in relations {
        let (name, kind): (String, String) = (row.get(0), row.get(1));
        let result = if kind == "r" {
            c.query(
                "SELECT blkno, msg FROM verify_heapam($1::text::regclass) LIMIT 3",
                &[&name],
            )
            .map(|rows| {
                for r in rows {
                    found.push(format!(
                        "{name} block {}: {}",
                        r.get::<_, i64>(0),
                        r.get::<_, String>(1)
                    ));
                }
            })
        } else {
            c.execute("SELECT bt_index_check($1::text::regclass)", &[&name])
                .map(drop)
        };
        if let Err(e) = result {
            found.push(format!("{name}: {}", OpError::from(e)));
        }
    }
    Ok(())
}
