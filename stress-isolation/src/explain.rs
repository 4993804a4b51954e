//! Witnesses: an anomaly explained step by step, in sentences, the way Elle's explanations read.

use serde::{Deserialize, Serialize};

use crate::graph::{self, Cycle, PROCESS, REALTIME};
use crate::history::{Mop, ReadValue, Txn};
use crate::model::Anomaly;

/// One transaction of a witness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessTxn {
    /// Its name within the witness: `T0`, `T1`, ...
    pub name: String,
    /// Its index in the checked history.
    pub index: u64,
    /// The user that ran it.
    pub process: u32,
    /// Its micro-operations, short: `append 4 3; read 4 [1 2]`.
    pub mops: String,
}

/// An anomaly and the transactions that show it. For a cycle, `steps[i]` explains why `T(i)`
/// precedes `T(i+1)` (the last step closes the cycle back to `T0`), and `edges[i]` is that
/// step's kind: `ww`, `wr`, `rw`, `process` or `realtime`. Other anomalies have steps and no
/// edges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// The anomaly's name, e.g. `G2-item`.
    pub anomaly: String,
    /// The transactions involved.
    pub txns: Vec<WitnessTxn>,
    /// The explanation, one sentence per step.
    pub steps: Vec<String>,
    /// The kind of each cycle step (empty for anomalies that are not cycles).
    pub edges: Vec<String>,
}

impl Witness {
    /// History indices of the witness's transactions, in witness order.
    pub fn indices(&self) -> Vec<u64> {
        self.txns.iter().map(|t| t.index).collect()
    }
}

/// Renders a transaction's micro-operations short: `append 4 3; read 4 [1 2]; write 2 5`.
pub fn render_mops(mops: &[Mop]) -> String {
    let parts: Vec<String> = mops
        .iter()
        .map(|m| match m {
            Mop::Append { key, value } => format!("append {key} {value}"),
            Mop::Write { key, value } => format!("write {key} {value}"),
            Mop::Read { key, value } => format!("read {key} {}", render_read(value)),
        })
        .collect();
    parts.join("; ")
}

/// Renders a read's value: `[1 2]`, `5`, `nil` or `?` (unknown).
pub(crate) fn render_read(value: &ReadValue) -> String {
    match value {
        ReadValue::None => "?".to_string(),
        ReadValue::List(l) => render_list(l),
        ReadValue::Register(Some(v)) => v.to_string(),
        ReadValue::Register(None) => "nil".to_string(),
    }
}

/// A list as `[1 2 3]`; a long one by its ends, `[1 2 … 40 more … 97 98 99]`, so that a witness
/// stays a few lines (the history file has every element).
pub(crate) fn render_list(l: &[u64]) -> String {
    const HEAD: usize = 2;
    const TAIL: usize = 3;
    let show = |s: &[u64]| s.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
    if l.len() <= HEAD + TAIL + 2 {
        return format!("[{}]", show(l));
    }
    format!(
        "[{} … {} more … {}]",
        show(&l[..HEAD]),
        l.len() - HEAD - TAIL,
        show(&l[l.len() - TAIL..])
    )
}

/// Explains a data dependency between two transactions; each checker kind has its own.
pub(crate) trait Explainer {
    /// Why `a` precedes `b` by an edge of `kind` (`ww`, `wr` or `rw`), as a sentence naming them
    /// `an` and `bn`; ends with the kind in parentheses.
    fn explain(&self, a: u32, b: u32, kind: u8, an: &str, bn: &str) -> String;
}

/// Names the transactions `T0..` and describes them.
pub(crate) fn witness_txns(history: &[Txn], indices: &[u32]) -> Vec<WitnessTxn> {
    indices
        .iter()
        .enumerate()
        .map(|(i, &t)| WitnessTxn {
            name: format!("T{i}"),
            index: t as u64,
            process: history[t as usize].process,
            mops: render_mops(&history[t as usize].mops),
        })
        .collect()
}

/// A witness for a cycle: one sentence per edge.
pub(crate) fn cycle_witness(history: &[Txn], anomaly: Anomaly, cycle: &Cycle, ex: &dyn Explainer) -> Witness {
    let indices: Vec<u32> = cycle.iter().map(|&(v, _)| v).collect();
    let txns = witness_txns(history, &indices);
    let mut steps = Vec::with_capacity(cycle.len());
    let mut edges = Vec::with_capacity(cycle.len());
    for (i, &(a, kind)) in cycle.iter().enumerate() {
        let j = (i + 1) % cycle.len();
        let b = cycle[j].0;
        let (an, bn) = (format!("T{i}"), format!("T{j}"));
        let sentence = match kind {
            PROCESS => format!(
                "{an} and {bn} are the same user (process {}), {an} first (process)",
                history[a as usize].process
            ),
            REALTIME => format!("{an} completed before {bn} began (realtime)"),
            _ => ex.explain(a, b, kind, &an, &bn),
        };
        steps.push(sentence);
        edges.push(graph::kind_name(kind).to_string());
    }
    Witness {
        anomaly: anomaly.name().to_string(),
        txns,
        steps,
        edges,
    }
}

/// A witness for an anomaly that is not a cycle.
pub(crate) fn plain_witness(history: &[Txn], anomaly: Anomaly, indices: &[u32], step: String) -> Witness {
    Witness {
        anomaly: anomaly.name().to_string(),
        txns: witness_txns(history, indices),
        steps: vec![step],
        edges: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::render_list;

    #[test]
    fn long_lists_are_told_by_their_ends() {
        assert_eq!(render_list(&[]), "[]");
        assert_eq!(render_list(&[1, 2, 3, 4, 5, 6, 7]), "[1 2 3 4 5 6 7]");
        let long: Vec<u64> = (1..=50).collect();
        assert_eq!(render_list(&long), "[1 2 … 45 more … 48 49 50]");
    }
}
