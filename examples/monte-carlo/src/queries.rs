//! Read queries by complexity level: each aggregate and join draws a level from 0 to the
//! `query_complexity_max` parameter (`STRESS_QUERY_COMPLEXITY_MAX` on Hyper, as in the
//! original simulation). Higher levels add grouping, more joins and window functions. Every
//! query takes the id bound `$1` and uses only columns every table has (`id`, `name`,
//! `value`), so it runs on any table of the schema; every query is plain SQL that SQLite,
//! PostgreSQL and Hyper all run.

/// The highest level there is.
pub const MAX_LEVEL: u64 = 4;

/// How many tables an aggregate at `level` reads.
pub fn aggregate_tables(_level: u64) -> usize {
    1
}

/// An aggregate over table `t[0]`.
pub fn aggregate(level: u64, t: &[String]) -> String {
    let t = &t[0];
    match level.min(MAX_LEVEL) {
        0 => format!("SELECT count(*), avg(value), min(value), max(value) FROM {t} WHERE id <= $1"),
        1 => format!(
            "SELECT id % 10 AS bucket, count(*), avg(value) FROM {t} WHERE id <= $1 GROUP BY id % 10 ORDER BY bucket"
        ),
        2 => format!(
            "SELECT id % 10 AS bucket, count(*), sum(value), max(name) FROM {t} WHERE id <= $1 \
             GROUP BY id % 10 HAVING count(*) > 0 ORDER BY sum(value) DESC"
        ),
        3 => format!(
            "SELECT id, value, sum(value) OVER (ORDER BY id, value ROWS BETWEEN 5 PRECEDING AND CURRENT ROW) AS moving \
             FROM {t} WHERE id <= $1 ORDER BY id, value LIMIT 200"
        ),
        _ => format!(
            "SELECT id % 10 AS bucket, id, value, \
             rank() OVER (PARTITION BY id % 10 ORDER BY value DESC) AS r, \
             avg(value) OVER (PARTITION BY id % 10) AS bucket_avg \
             FROM {t} WHERE id <= $1 ORDER BY bucket, r LIMIT 200"
        ),
    }
}

/// How many tables a join at `level` reads.
pub fn join_tables(level: u64) -> usize {
    match level.min(MAX_LEVEL) {
        0 => 2,
        1..=3 => 3,
        _ => 4,
    }
}

/// One row per id of table `t` with ids up to `$1`: what higher join levels join, so that a
/// join stays linear in the tables' size (ids repeat: raw joins of 3 or 4 tables on `id` grow
/// with the product of their sizes).
fn per_id(t: &str, agg: &str) -> String {
    format!("(SELECT id, count(*) AS n, {agg}(value) AS v FROM {t} WHERE id <= $1 GROUP BY id)")
}

/// A join of the tables `t` (as many as [`join_tables`] says).
pub fn join(level: u64, t: &[String]) -> String {
    match level.min(MAX_LEVEL) {
        0 => format!(
            "SELECT a.id, a.name, b.value FROM {} a JOIN {} b ON a.id = b.id WHERE a.id = $1 LIMIT 100",
            t[0], t[1]
        ),
        1 => format!(
            "SELECT a.id, a.n, b.v, c.v FROM {} a JOIN {} b ON a.id = b.id JOIN {} c ON b.id = c.id ORDER BY a.id",
            per_id(&t[0], "sum"),
            per_id(&t[1], "max"),
            per_id(&t[2], "min")
        ),
        2 => format!(
            "SELECT a.id % 10 AS bucket, count(*), max(a.n), avg(b.v), max(c.v) FROM {} a \
             JOIN {} b ON a.id = b.id JOIN {} c ON b.id = c.id GROUP BY a.id % 10 ORDER BY bucket",
            per_id(&t[0], "sum"),
            per_id(&t[1], "avg"),
            per_id(&t[2], "max")
        ),
        3 => format!(
            "SELECT a.id, b.v, rank() OVER (PARTITION BY a.id % 10 ORDER BY b.v DESC, a.id) AS r \
             FROM {} a JOIN {} b ON a.id = b.id JOIN {} c ON b.id = c.id ORDER BY a.id",
            per_id(&t[0], "sum"),
            per_id(&t[1], "avg"),
            per_id(&t[2], "max")
        ),
        _ => format!(
            "WITH a AS {}, b AS {}, c AS {}, d AS {} \
             SELECT a.id, a.v + b.v AS total, \
             count(*) OVER (PARTITION BY a.id % 10) AS peers, \
             max(c.n + d.n) OVER (ORDER BY a.id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS rows_near \
             FROM a JOIN b ON a.id = b.id JOIN c ON b.id = c.id JOIN d ON c.id = d.id ORDER BY a.id",
            per_id(&t[0], "max"),
            per_id(&t[1], "min"),
            per_id(&t[2], "sum"),
            per_id(&t[3], "avg")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_names_its_tables_and_the_id_bound() {
        for level in 0..=MAX_LEVEL + 1 {
            let tables: Vec<String> = (0..4).map(|i| format!("\"t{i}\"")).collect();
            let a = aggregate(level, &tables[..aggregate_tables(level)]);
            let j = join(level, &tables[..join_tables(level)]);
            for (sql, n) in [(&a, aggregate_tables(level)), (&j, join_tables(level))] {
                assert!(sql.contains("$1"), "{sql}");
                for t in &tables[..n] {
                    assert!(sql.contains(t.as_str()), "{t} in {sql}");
                }
            }
        }
        assert!(aggregate(3, &["t".into()]).contains("OVER"));
        assert!(join(4, &["a".into(), "b".into(), "c".into(), "d".into()]).contains("WITH"));
        assert!(join(3, &["a".into(), "b".into(), "c".into()]).contains("GROUP BY id"));
    }
}
