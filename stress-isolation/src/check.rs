//! The checker's entry point: options, the report, and the pipeline shared by both data models.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::explain::{self, Explainer, Witness};
use crate::graph::{self, Edges, Graph, Searcher};
use crate::history::{Outcome, Txn};
use crate::model::{Anomaly, Model};
use crate::{list_append, rw_register};

/// The workload's data model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Lists at keys; transactions append unique elements and read whole lists.
    #[default]
    ListAppend,
    /// Registers at keys; transactions write unique values and read them.
    RwRegister,
}

/// How to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The isolation level the history must satisfy.
    pub model: Model,
    /// The workload's data model.
    pub kind: Kind,
    /// Witnesses kept per anomaly (default 3); every anomaly is still counted.
    pub max_witnesses: usize,
    /// Work budget of the cycle search, in edge relaxations (default 200 million). When it runs
    /// out, the report says so in `incomplete` and is not valid: never a silent pass.
    pub max_cycle_search: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            model: Model::StrictSerializable,
            kind: Kind::ListAppend,
            max_witnesses: 3,
            max_cycle_search: 200_000_000,
        }
    }
}

/// The verdict on a history: what was found, and whether the model allows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The model checked against.
    pub model: Model,
    /// The workload's data model.
    #[serde(default)]
    pub kind: Kind,
    /// Transactions in the history.
    pub txns: u64,
    /// Of which committed.
    pub ok: u64,
    /// Of which aborted.
    pub failed: u64,
    /// Of which indeterminate.
    pub indeterminate: u64,
    /// Anomaly name to count. Non-cycle anomalies count their instances (one per read or
    /// transaction; `incompatible-order` one per key); cycle anomalies count one per strongly
    /// connected component in which a cycle of that kind was found (Elle-style).
    pub anomalies: BTreeMap<String, u64>,
    /// Up to `max_witnesses` explained instances per anomaly.
    pub witnesses: Vec<Witness>,
    /// The anomalies present that the model forbids.
    pub forbidden: Vec<String>,
    /// Ways the workload broke the kit's rules (e.g. a value appended twice): not engine
    /// anomalies, but the history cannot be fully judged.
    pub history_errors: Vec<String>,
    /// Set if a search budget ran out before every forbidden cycle kind was looked for.
    pub incomplete: Option<String>,
}

impl Report {
    /// No forbidden anomaly, no history error, and the search completed.
    pub fn valid(&self) -> bool {
        self.forbidden.is_empty() && self.history_errors.is_empty() && self.incomplete.is_none()
    }
}

/// What an analysis found outside the cycle search.
#[derive(Debug)]
pub(crate) struct Findings<'h> {
    pub(crate) history: &'h [Txn],
    max_witnesses: usize,
    pub(crate) counts: BTreeMap<Anomaly, u64>,
    pub(crate) witnesses: Vec<Witness>,
    pub(crate) history_errors: Vec<String>,
    history_error_count: u64,
}

/// History errors listed one by one; beyond that, only counted.
const MAX_HISTORY_ERRORS: usize = 20;

impl<'h> Findings<'h> {
    fn new(history: &'h [Txn], max_witnesses: usize) -> Self {
        Findings {
            history,
            max_witnesses,
            counts: BTreeMap::new(),
            witnesses: Vec::new(),
            history_errors: Vec::new(),
            history_error_count: 0,
        }
    }

    /// Counts one instance of `anomaly`, and keeps a witness (built lazily) while under the limit.
    pub(crate) fn add(&mut self, anomaly: Anomaly, indices: &[u32], step: impl FnOnce() -> String) {
        let count = self.counts.entry(anomaly).or_insert(0);
        *count += 1;
        if *count as usize <= self.max_witnesses {
            let w = explain::plain_witness(self.history, anomaly, indices, step());
            self.witnesses.push(w);
        }
    }

    fn add_cycle(&mut self, anomaly: Anomaly, cycle: &graph::Cycle, ex: &dyn Explainer) {
        let count = self.counts.entry(anomaly).or_insert(0);
        *count += 1;
        if *count as usize <= self.max_witnesses {
            let w = explain::cycle_witness(self.history, anomaly, cycle, ex);
            self.witnesses.push(w);
        }
    }

    /// Records a way the workload broke the kit's rules.
    pub(crate) fn history_error(&mut self, message: impl FnOnce() -> String) {
        self.history_error_count += 1;
        if self.history_errors.len() < MAX_HISTORY_ERRORS {
            self.history_errors.push(message());
        }
    }
}

/// Checks `history` against `opts.model`.
pub fn check(history: &[Txn], opts: &Options) -> Report {
    assert!(
        history.len() < u32::MAX as usize,
        "histories hold fewer than 2^32 - 1 transactions"
    );
    let mut findings = Findings::new(history, opts.max_witnesses);
    let mut edges = Edges::default();
    let explainer: Box<dyn Explainer + '_> = match opts.kind {
        Kind::ListAppend => Box::new(list_append::analyze(history, &mut findings, &mut edges)),
        Kind::RwRegister => Box::new(rw_register::analyze(history, &mut findings, &mut edges)),
    };
    graph::process_edges(history, &mut edges);
    if opts.model == Model::StrictSerializable {
        graph::realtime_edges(history, &mut edges);
    }
    let g = Graph::build(history.len(), edges);
    let incomplete = search_cycles(&g, opts, &mut findings, explainer.as_ref());
    drop(g);
    report(history, opts, findings, incomplete)
}

/// Searches every SCC for each cycle kind, Elle's way: in order of severity, skipping kinds
/// implied by one already found in that SCC. Returns why the search was cut short, if it was.
fn search_cycles(g: &Graph, opts: &Options, findings: &mut Findings<'_>, ex: &dyn Explainer) -> Option<String> {
    let specs = graph::specs();
    let mut searcher = Searcher::new(g, opts.max_cycle_search);
    let mut incomplete = None;
    for (id, scc) in graph::sccs(g).iter().enumerate() {
        let id = id as u32;
        searcher.enter(scc, id);
        let mut skip: Vec<Anomaly> = Vec::new();
        for spec in &specs {
            if skip.contains(&spec.anomaly) {
                continue;
            }
            let forbidden = spec.anomaly.forbidden_by(opts.model);
            if searcher.budget == 0 && !forbidden {
                continue;
            }
            match searcher.find(scc, id, spec) {
                Ok(Some(cycle)) => {
                    findings.add_cycle(spec.anomaly, &cycle, ex);
                    skip.extend_from_slice(graph::implied(spec.anomaly));
                }
                Ok(None) => {}
                Err(()) if forbidden && incomplete.is_none() => {
                    incomplete = Some(format!(
                        "cycle search budget of {} steps ran out in a strongly connected component of {} \
                         transactions while looking for {}",
                        opts.max_cycle_search,
                        scc.len(),
                        spec.anomaly
                    ));
                }
                Err(()) => {}
            }
        }
    }
    incomplete
}

fn report(history: &[Txn], opts: &Options, findings: Findings<'_>, incomplete: Option<String>) -> Report {
    let count = |o: Outcome| history.iter().filter(|t| t.outcome == o).count() as u64;
    let forbidden = findings
        .counts
        .keys()
        .filter(|a| a.forbidden_by(opts.model))
        .map(|a| a.name().to_string())
        .collect();
    let mut history_errors = findings.history_errors;
    if findings.history_error_count > history_errors.len() as u64 {
        history_errors.push(format!(
            "... and {} more history errors",
            findings.history_error_count - history_errors.len() as u64
        ));
    }
    Report {
        kind: opts.kind,
        model: opts.model,
        txns: history.len() as u64,
        ok: count(Outcome::Ok),
        failed: count(Outcome::Fail),
        indeterminate: count(Outcome::Info),
        anomalies: findings
            .counts
            .iter()
            .map(|(a, &n)| (a.name().to_string(), n))
            .collect(),
        witnesses: findings.witnesses,
        forbidden,
        history_errors,
        incomplete,
    }
}
