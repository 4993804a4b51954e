//! The ledger: the writes users acknowledged (committed and reported), checked by the verify
//! step after the run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::outcome::OpError;

/// Acknowledged writes on one database: rows per table. Each user keeps its own (no locks on
/// the hot path); they are merged per database before the verify step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    rows: BTreeMap<String, u64>,
}

impl Ledger {
    /// Records that `rows` rows were committed to `table`. Call it only after the commit
    /// succeeded: the verify step holds the engine to it.
    pub fn acknowledge(&mut self, table: &str, rows: u64) {
        match self.rows.get_mut(table) {
            Some(n) => *n += rows,
            None => {
                self.rows.insert(table.to_owned(), rows);
            }
        }
    }

    /// Rows acknowledged for `table`.
    pub fn rows(&self, table: &str) -> u64 {
        self.rows.get(table).copied().unwrap_or(0)
    }

    /// Every table with acknowledged rows, and their counts.
    pub fn tables(&self) -> impl Iterator<Item = (&str, u64)> {
        self.rows.iter().map(|(t, n)| (t.as_str(), *n))
    }

    /// Adds another ledger's entries to this one.
    pub fn merge(&mut self, other: &Ledger) {
        for (t, n) in other.tables() {
            self.acknowledge(t, n);
        }
    }

    /// Checks that each table holds exactly `expected_before + acknowledged` rows, where
    /// `count` returns a table's row count and `expected_before` what it held before the users
    /// started (seed rows).
    pub fn check_counts(
        &self,
        tables: &[&str],
        expected_before: impl Fn(&str) -> u64,
        mut count: impl FnMut(&str) -> Result<u64, OpError>,
    ) -> Result<(), OpError> {
        for &table in tables {
            let want = expected_before(table) + self.rows(table);
            let got = count(table)?;
            if got != want {
                return Err(OpError::msg(format!(
                    "table `{table}` holds {got} rows, expected {want} ({} before the run + {} acknowledged)",
                    expected_before(table),
                    self.rows(table)
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_checks() {
        let mut a = Ledger::default();
        a.acknowledge("orders", 3);
        let mut b = Ledger::default();
        b.acknowledge("orders", 4);
        b.acknowledge("items", 1);
        a.merge(&b);
        assert_eq!(a.rows("orders"), 7);
        assert_eq!(a.rows("missing"), 0);
        assert!(
            a.check_counts(
                &["orders", "items"],
                |_| 10,
                |t| Ok(if t == "orders" { 17 } else { 11 })
            )
            .is_ok()
        );
        let e = a.check_counts(&["orders"], |_| 10, |_| Ok(16)).unwrap_err().to_string();
        assert!(e.contains("holds 16 rows, expected 17"), "{e}");
    }
}
