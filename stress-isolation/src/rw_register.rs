//! Rw-register analysis, after Elle's `rw_register.clj`.
//!
//! Only a transaction's *external* operations count: its first access of a key if that is a read
//! (external read), and its last write of a key (external write). Values are unique per key, so a
//! read names the write it saw. Version orders are inferred from two sources only:
//!
//! - **initial state**: nil precedes every value of a key (Elle's `initial-state`);
//! - **writes follow reads**: a committed transaction that externally read `k = v1` and wrote
//!   `k = v2` installed `v2` after `v1` (Elle's `wfr-keys?`, always on here).
//!
//! Elle's optional `sequential-keys?`, `linearizable-keys?` and `transaction-order` inferences are
//! not made. From each inferred version edge `v1 -> v2` come ww edges (writer of `v1` -> writer
//! of `v2`) and rw edges (external readers of `v1` -> writer of `v2`); wr edges come from reads of
//! values directly. A key whose inferred order is cyclic is reported as `cyclic-versions` and
//! its writes-follow-reads edges are not used.

use crate::check::Findings;
use crate::explain::Explainer;
use crate::fx::FxMap;
use crate::graph::{self, Edges, Graph, RW, WR, WW};
use crate::history::{Key, Mop, Outcome, ReadValue, Txn, Value};
use crate::model::Anomaly;

/// The rw-register indices, kept for explaining edges.
#[derive(Debug)]
pub(crate) struct RwRegister<'h> {
    history: &'h [Txn],
    /// (key, value) -> (writer, whether it is the writer's last write of the key).
    writers: FxMap<(Key, Value), (u32, bool)>,
}

/// External reads (`None`: nil) and external writes of one transaction.
type Externals = (Vec<(Key, Option<Value>)>, Vec<(Key, Value)>);

/// A transaction's external reads and writes.
fn externals(t: &Txn) -> Externals {
    let mut reads = Vec::new();
    let mut writes: Vec<(Key, Value)> = Vec::new();
    for (j, m) in t.mops.iter().enumerate() {
        match *m {
            Mop::Read {
                key,
                value: ReadValue::Register(v),
            } if !t.mops[..j].iter().any(|p| p.key() == key) => {
                reads.push((key, v));
            }
            Mop::Write { key, value } => match writes.iter_mut().find(|w| w.0 == key) {
                Some(w) => w.1 = value,
                None => writes.push((key, value)),
            },
            _ => {}
        }
    }
    (reads, writes)
}

/// Analyzes a rw-register history: non-cycle anomalies and history errors into `findings`,
/// dependency edges into `edges`.
pub(crate) fn analyze<'h>(history: &'h [Txn], findings: &mut Findings<'h>, edges: &mut Edges) -> RwRegister<'h> {
    let mut rw = RwRegister {
        history,
        writers: FxMap::default(),
    };
    rw.index(findings);
    // Per key: readers of nil, and version edges (v1, v2) from writes-follow-reads.
    let mut nil_readers: FxMap<Key, Vec<u32>> = FxMap::default();
    let mut readers: FxMap<(Key, Value), Vec<u32>> = FxMap::default();
    let mut wfr: FxMap<Key, Vec<(Value, Value)>> = FxMap::default();
    let mut written: FxMap<Key, Vec<Value>> = FxMap::default();
    for (i, t) in history.iter().enumerate() {
        let i = i as u32;
        if t.outcome == Outcome::Fail {
            continue;
        }
        let (reads, writes) = externals(t);
        for &(k, v) in &writes {
            written.entry(k).or_default().push(v);
        }
        if t.outcome != Outcome::Ok {
            continue;
        }
        rw.check_reads(findings, i);
        internal(t, i, findings);
        for &(k, v) in &reads {
            match v {
                None => nil_readers.entry(k).or_default().push(i),
                Some(v) => {
                    readers.entry((k, v)).or_default().push(i);
                    if let Some(&(w, true)) = rw.writers.get(&(k, v))
                        && rw.committed(w)
                    {
                        edges.push(w, i, WR);
                    }
                    if let Some(&(_, v2)) = writes.iter().find(|w| w.0 == k) {
                        wfr.entry(k).or_default().push((v, v2));
                    }
                }
            }
        }
    }
    for (k, vs) in &written {
        for &r in nil_readers.get(k).map(Vec::as_slice).unwrap_or(&[]) {
            for v in vs {
                if let Some(&(w, _)) = rw.writers.get(&(*k, *v)) {
                    edges.push(r, w, RW);
                }
            }
        }
    }
    for (k, pairs) in &wfr {
        if cyclic(*k, pairs, findings) {
            continue;
        }
        for &(v1, v2) in pairs {
            let Some(&(w2, _)) = rw.writers.get(&(*k, v2)) else {
                continue;
            };
            if let Some(&(w1, true)) = rw.writers.get(&(*k, v1))
                && rw.committed(w1)
            {
                edges.push(w1, w2, WW);
            }
            for &r in readers.get(&(*k, v1)).map(Vec::as_slice).unwrap_or(&[]) {
                edges.push(r, w2, RW);
            }
        }
    }
    rw
}

/// Reports `cyclic-versions` if the writes-follow-reads order of `key` has a cycle.
fn cyclic(key: Key, pairs: &[(Value, Value)], findings: &mut Findings<'_>) -> bool {
    let mut ids: FxMap<Value, u32> = FxMap::default();
    let mut values = Vec::new();
    let mut edges = Edges::default();
    for &(a, b) in pairs {
        let mut id = |v: Value| {
            *ids.entry(v).or_insert_with(|| {
                values.push(v);
                values.len() as u32 - 1
            })
        };
        let (a, b) = (id(a), id(b));
        edges.push(a, b, WW);
    }
    let g = Graph::build(values.len(), edges);
    let sccs = graph::sccs(&g);
    for scc in &sccs {
        let mut vs: Vec<Value> = scc.iter().map(|&i| values[i as usize]).collect();
        vs.sort_unstable();
        findings.add(Anomaly::CyclicVersions, &[], || {
            format!(
                "key {key}: versions {vs:?} each follow another by writes-follow-reads: the version order is cyclic"
            )
        });
    }
    !sccs.is_empty()
}

impl<'h> RwRegister<'h> {
    fn index(&mut self, findings: &mut Findings<'h>) {
        for (i, t) in self.history.iter().enumerate() {
            for (j, m) in t.mops.iter().enumerate() {
                match *m {
                    Mop::Write { key, value } => {
                        let last = !t.mops[j + 1..]
                            .iter()
                            .any(|p| matches!(p, Mop::Write { key: k, .. } if *k == key));
                        match self.writers.get_mut(&(key, value)) {
                            Some(w) if w.0 == i as u32 => w.1 |= last,
                            Some(w) => {
                                let prev = w.0;
                                findings.history_error(|| {
                                    format!(
                                        "key {key}: value {value} written twice (history index {prev} and {i}); the \
                                         workload must write each value at most once per key"
                                    )
                                });
                            }
                            None => {
                                self.writers.insert((key, value), (i as u32, last));
                            }
                        }
                    }
                    Mop::Append { key, .. } => findings.history_error(|| {
                        format!("history index {i}: an append to key {key} in a rw-register history")
                    }),
                    Mop::Read {
                        key,
                        value: ReadValue::List(_),
                    } => findings.history_error(|| {
                        format!("history index {i}: a list read of key {key} in a rw-register history")
                    }),
                    Mop::Read { .. } => {}
                }
            }
        }
    }

    fn committed(&self, t: u32) -> bool {
        self.history[t as usize].outcome != Outcome::Fail
    }

    /// G1a (read a failed transaction's write) and G1b (read another's intermediate write).
    fn check_reads(&self, findings: &mut Findings<'h>, i: u32) {
        for m in &self.history[i as usize].mops {
            let Mop::Read {
                key,
                value: ReadValue::Register(Some(v)),
            } = *m
            else {
                continue;
            };
            let Some(&(w, last)) = self.writers.get(&(key, v)) else {
                continue;
            };
            if w == i {
                continue;
            }
            if !self.committed(w) {
                findings.add(Anomaly::G1a, &[i, w], || {
                    format!("T0 read key {key} = {v}, which T1 wrote, but T1 failed (aborted)")
                });
            } else if !last {
                findings.add(Anomaly::G1b, &[i, w], || {
                    format!("T0 read key {key} = {v}, which T1 wrote and then overwrote itself (an intermediate state)")
                });
            }
        }
    }
}

/// Internal consistency: a read must return the transaction's own latest write or read of that key.
fn internal(t: &Txn, i: u32, findings: &mut Findings<'_>) {
    let mut state: Vec<(Key, Option<Value>)> = Vec::new();
    for m in &t.mops {
        let (key, v, is_read) = match *m {
            Mop::Write { key, value } => (key, Some(value), false),
            Mop::Read {
                key,
                value: ReadValue::Register(v),
            } => (key, v, true),
            _ => continue,
        };
        match state.iter_mut().find(|s| s.0 == key) {
            Some(s) => {
                if is_read && s.1 != v {
                    let show = |v: Option<Value>| v.map_or("nil".to_string(), |v| v.to_string());
                    findings.add(Anomaly::Internal, &[i], || {
                        format!(
                            "T0 read key {key} = {}, but its own earlier operations imply {}",
                            show(v),
                            show(s.1)
                        )
                    });
                    return;
                }
                s.1 = v;
            }
            None => state.push((key, v)),
        }
    }
}

impl Explainer for RwRegister<'_> {
    fn explain(&self, a: u32, b: u32, kind: u8, an: &str, bn: &str) -> String {
        let (a_reads, _) = externals(&self.history[a as usize]);
        let (b_reads, b_writes) = externals(&self.history[b as usize]);
        let wrote = |k: Key, v: Value, t: u32| self.writers.get(&(k, v)).is_some_and(|w| w.0 == t);
        match kind {
            WR => {
                if let Some((k, Some(v))) = b_reads.iter().find(|(k, v)| v.is_some_and(|v| wrote(*k, v, a))) {
                    return format!("{bn} read key {k} = {v}, which {an} wrote (wr)");
                }
            }
            WW => {
                for &(k, v2) in &b_writes {
                    if let Some(&(_, Some(v1))) = b_reads
                        .iter()
                        .find(|(rk, rv)| *rk == k && rv.is_some_and(|v| wrote(k, v, a)))
                    {
                        return format!("{bn} read key {k} = {v1}, which {an} wrote, then overwrote it with {v2} (ww)");
                    }
                }
            }
            RW => {
                for &(k, v2) in &b_writes {
                    for &(rk, rv) in &a_reads {
                        if rk != k {
                            continue;
                        }
                        match rv {
                            None => {
                                return format!(
                                    "{an} read key {k} as nil (never written), and {bn} wrote {v2} to it (rw)"
                                );
                            }
                            Some(v1) if b_reads.contains(&(k, Some(v1))) => {
                                return format!("{an} read key {k} = {v1}, which {bn} later overwrote with {v2} (rw)");
                            }
                            Some(_) => {}
                        }
                    }
                }
            }
            _ => {}
        }
        format!("{an} precedes {bn} ({})", graph::kind_name(kind))
    }
}
