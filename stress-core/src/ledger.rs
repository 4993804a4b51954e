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
    /// Rows of ops whose outcome is open (a fault broke the connection after the commit may
    /// have gone out): the table may hold them or not.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    maybe: BTreeMap<String, u64>,
    /// Rows the current op is about to commit ([`Ledger::pending`]), settled when it ends.
    #[serde(skip)]
    pending: BTreeMap<String, u64>,
}

impl Ledger {
    /// Records that `rows` rows were committed to `table`. Call it only after the commit
    /// succeeded: the verify step holds the engine to it.
    pub fn acknowledge(&mut self, table: &str, rows: u64) {
        add(&mut self.rows, table, rows);
        if let Some(p) = self.pending.get_mut(table) {
            *p = p.saturating_sub(rows);
        }
    }

    /// Declares that the current op is about to commit `rows` rows to `table`: call it before
    /// the commit, and [`acknowledge`](Self::acknowledge) after it. If the op then ends with
    /// its outcome open (a fault broke the connection while the commit was under way), the
    /// verify step allows the table those rows or not: `check_counts` checks a range.
    pub fn pending(&mut self, table: &str, rows: u64) {
        add(&mut self.pending, table, rows);
    }

    /// Ends the current op's pending rows: kept as possible rows when the op's outcome is
    /// open (`open`), dropped otherwise (it committed and acknowledged them, or the engine
    /// refused them).
    #[inline]
    pub(crate) fn settle(&mut self, open: bool) {
        if self.pending.is_empty() {
            return;
        }
        for (table, rows) in std::mem::take(&mut self.pending) {
            if open && rows > 0 {
                add(&mut self.maybe, &table, rows);
            }
        }
    }

    /// Rows of `table` whose commit is open: the table may hold them or not.
    pub fn maybe_rows(&self, table: &str) -> u64 {
        self.maybe.get(table).copied().unwrap_or(0)
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
            add(&mut self.rows, t, n);
        }
        for (t, n) in &other.maybe {
            add(&mut self.maybe, t, *n);
        }
    }

    /// Checks that each table holds `expected_before + acknowledged` rows — or, where ops
    /// ended with their commit open ([`pending`](Self::pending)), anything from that to
    /// `expected_before + acknowledged + open` — where `count` returns a table's row count and
    /// `expected_before` what it held before the users started (seed rows).
    pub fn check_counts(
        &self,
        tables: &[&str],
        expected_before: impl Fn(&str) -> u64,
        mut count: impl FnMut(&str) -> Result<u64, OpError>,
    ) -> Result<(), OpError> {
        for &table in tables {
            let before = expected_before(table);
            let (acked, open) = (self.rows(table), self.maybe_rows(table));
            let want = before + acked;
            let got = count(table)?;
            if open == 0 && got != want {
                return Err(OpError::msg(format!(
                    "table `{table}` holds {got} rows, expected {want} ({before} before the run + {acked} acknowledged)"
                )));
            }
            if open > 0 && !(want..=want + open).contains(&got) {
                return Err(OpError::msg(format!(
                    "table `{table}` holds {got} rows, expected {want} to {} ({before} before the run + {acked} \
                     acknowledged + up to {open} of ops whose commit was open)",
                    want + open
                )));
            }
        }
        Ok(())
    }
}

fn add(map: &mut BTreeMap<String, u64>, table: &str, rows: u64) {
    match map.get_mut(table) {
        Some(n) => *n += rows,
        None => {
            map.insert(table.to_owned(), rows);
        }
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

    #[test]
    fn rows_of_ops_whose_commit_was_open_widen_the_count_to_a_range() {
        let mut a = Ledger::default();
        // Acknowledged: pending rows go when the op ends.
        a.pending("t", 2);
        a.acknowledge("t", 2);
        a.settle(false);
        // Refused: nothing.
        a.pending("t", 5);
        a.settle(false);
        // Open: 3 rows may or may not be there.
        a.pending("t", 3);
        a.settle(true);
        assert_eq!((a.rows("t"), a.maybe_rows("t")), (2, 3));
        for got in 2..=5 {
            assert!(a.check_counts(&["t"], |_| 0, |_| Ok(got)).is_ok(), "{got}");
        }
        for got in [1, 6] {
            let e = a.check_counts(&["t"], |_| 0, |_| Ok(got)).unwrap_err().to_string();
            assert!(
                e.contains("expected 2 to 5") && e.contains("up to 3 of ops whose commit was open"),
                "{e}"
            );
        }
        // Shards' ledgers keep the open rows.
        let mut m = Ledger::default();
        m.merge(&a);
        m.merge(&a);
        assert_eq!((m.rows("t"), m.maybe_rows("t")), (4, 6));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Ledger>(&json).unwrap().maybe_rows("t"), 3);
    }
}
