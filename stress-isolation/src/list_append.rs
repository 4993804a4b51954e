//! List-append analysis: version orders from reads, non-cycle anomalies, and ww/wr/rw edges.
//!
//! Each key's version order is its longest read (ok or info, with a value); every other read of
//! that key must be a prefix of it, or the key shows `incompatible-order`. Appends no read saw
//! come after the last element of the longest read (Elle's inference). Per read only the last
//! element and the length matter after the prefix check, which compares it element by element
//! with the longest read in place: no list is copied but each key's order once.

use std::collections::HashSet;

use crate::check::Findings;
use crate::explain::{Explainer, render_list};
use crate::fx::FxMap;
use crate::graph::{Edges, RW, WR, WW};
use crate::history::{Key, Mop, Outcome, ReadValue, Txn, Value};
use crate::model::Anomaly;

const NONE: u32 = u32::MAX;
/// The append is the transaction's last to that key.
const FINAL: u8 = 1;

#[derive(Debug, Clone, Copy)]
struct AppendRec {
    txn: u32,
    /// Position in the key's version order, `NONE` if no read saw it.
    pos: u32,
    flags: u8,
}

#[derive(Debug, Default)]
struct KeyOrder {
    /// The longest read: (txn, mop index).
    longest: Option<(u32, u32)>,
    longest_len: usize,
    /// Distinct elements of the longest read, in order, and who appended each (`NONE`: nobody).
    values: Vec<Value>,
    writers: Vec<u32>,
    /// Appenders (ok or info) of elements no read saw.
    unobserved: Vec<u32>,
    /// First index in the longest read of an element from a failed txn / of a repeated element.
    fail_at: usize,
    dup_at: usize,
    incompatible: bool,
}

/// The list-append indices, kept for explaining edges.
#[derive(Debug)]
pub(crate) struct ListAppend<'h> {
    history: &'h [Txn],
    appends: FxMap<(Key, Value), AppendRec>,
    keys: FxMap<Key, KeyOrder>,
}

fn list_at(history: &[Txn], (t, m): (u32, u32)) -> &[Value] {
    match &history[t as usize].mops[m as usize] {
        Mop::Read {
            value: ReadValue::List(l),
            ..
        } => l,
        _ => &[],
    }
}

/// Analyzes a list-append history: records non-cycle anomalies and history errors in
/// `findings`, dependency edges in `edges`.
pub(crate) fn analyze<'h>(history: &'h [Txn], findings: &mut Findings<'h>, edges: &mut Edges) -> ListAppend<'h> {
    let mut la = ListAppend {
        history,
        appends: FxMap::default(),
        keys: FxMap::default(),
    };
    la.index(findings);
    la.build_orders(findings);
    la.ww_edges(edges);
    la.dirty_updates(findings);
    la.reads(findings, edges);
    for (i, t) in history.iter().enumerate() {
        if t.outcome == Outcome::Ok {
            internal(history, i as u32, findings);
        }
    }
    la
}

impl<'h> ListAppend<'h> {
    /// Indexes appends (who, and whether final within its txn) and finds each key's longest read.
    fn index(&mut self, findings: &mut Findings<'h>) {
        self.appends.reserve(self.history.len() * 2);
        for (i, t) in self.history.iter().enumerate() {
            for (j, mop) in t.mops.iter().enumerate() {
                match mop {
                    &Mop::Append { key, value } => {
                        let last = !t.mops[j + 1..]
                            .iter()
                            .any(|m| matches!(m, Mop::Append { key: k, .. } if *k == key));
                        let rec = AppendRec {
                            txn: i as u32,
                            pos: NONE,
                            flags: if last { FINAL } else { 0 },
                        };
                        if let Some(prev) = self.appends.get(&(key, value)) {
                            let prev = prev.txn;
                            findings.history_error(|| {
                                format!(
                                    "key {key}: value {value} appended twice (history index {prev} and {i}); the \
                                     workload must append each value at most once per key"
                                )
                            });
                        } else {
                            self.appends.insert((key, value), rec);
                        }
                    }
                    Mop::Write { key, .. } => findings
                        .history_error(|| format!("history index {i}: a write to key {key} in a list-append history")),
                    Mop::Read {
                        key,
                        value: ReadValue::List(l),
                    } if t.outcome != Outcome::Fail => {
                        let order = self.keys.entry(*key).or_default();
                        if order.longest.is_none() || l.len() > order.longest_len {
                            order.longest = Some((i as u32, j as u32));
                            order.longest_len = l.len();
                        }
                    }
                    Mop::Read {
                        key,
                        value: ReadValue::Register(_),
                    } => findings.history_error(|| {
                        format!("history index {i}: a register read of key {key} in a list-append history")
                    }),
                    Mop::Read { .. } => {}
                }
            }
        }
    }

    /// Turns each key's longest read into its version order, and gathers unobserved appends.
    fn build_orders(&mut self, findings: &mut Findings<'h>) {
        let history = self.history;
        for (&key, order) in self.keys.iter_mut() {
            order.fail_at = usize::MAX;
            order.dup_at = usize::MAX;
            let Some(at) = order.longest else { continue };
            for (idx, &e) in list_at(history, at).iter().enumerate() {
                match self.appends.get_mut(&(key, e)) {
                    None => {
                        findings.history_error(|| {
                            format!(
                                "key {key}: history index {} read element {e}, which no transaction in the history \
                                 appended",
                                at.0
                            )
                        });
                        order.values.push(e);
                        order.writers.push(NONE);
                    }
                    Some(rec) if rec.pos != NONE => order.dup_at = order.dup_at.min(idx),
                    Some(rec) => {
                        rec.pos = order.values.len() as u32;
                        order.values.push(e);
                        order.writers.push(rec.txn);
                        if history[rec.txn as usize].outcome == Outcome::Fail {
                            order.fail_at = order.fail_at.min(idx);
                        }
                    }
                }
            }
        }
        for (&(key, _), rec) in &self.appends {
            if rec.pos == NONE && history[rec.txn as usize].outcome != Outcome::Fail {
                self.keys.entry(key).or_default().unobserved.push(rec.txn);
            }
        }
        for order in self.keys.values_mut() {
            order.unobserved.sort_unstable();
            order.unobserved.dedup();
        }
    }

    fn committed(&self, t: u32) -> bool {
        t != NONE && self.history[t as usize].outcome != Outcome::Fail
    }

    /// ww: each element's appender precedes the next one's; the last seen precedes unseen ones.
    fn ww_edges(&self, edges: &mut Edges) {
        for order in self.keys.values() {
            for w in order.writers.windows(2) {
                if self.committed(w[0]) && self.committed(w[1]) {
                    edges.push(w[0], w[1], WW);
                }
            }
            if let Some(&last) = order.writers.last()
                && self.committed(last)
            {
                for &u in &order.unobserved {
                    edges.push(last, u, WW);
                }
            }
        }
    }

    /// Dirty update (Elle): in a key's version order, a committed append right after (a run of
    /// info appends after) an append of a failed transaction.
    fn dirty_updates(&self, findings: &mut Findings<'h>) {
        for (&key, order) in &self.keys {
            let mut last_failed: Option<(usize, u32)> = None;
            for (p, &w) in order.writers.iter().enumerate() {
                if w == NONE {
                    continue;
                }
                match self.history[w as usize].outcome {
                    Outcome::Fail => last_failed = Some((p, w)),
                    Outcome::Info => {}
                    Outcome::Ok => {
                        if let Some((fp, f)) = last_failed.take() {
                            let values = render_list(&order.values[fp..=p]);
                            findings.add(Anomaly::DirtyUpdate, &[f, w], || {
                                format!(
                                    "T0 appended {} to key {key} and failed, yet T1's committed append of {} came \
                                     after it (versions {values})",
                                    order.values[fp], order.values[p]
                                )
                            });
                        }
                    }
                }
            }
        }
    }

    /// Checks every read against its key's order; wr and rw edges; G1a, G1b, duplicates,
    /// incompatible orders.
    fn reads(&mut self, findings: &mut Findings<'h>, edges: &mut Edges) {
        let history = self.history;
        for (i, t) in history.iter().enumerate() {
            if t.outcome == Outcome::Fail {
                continue;
            }
            let i = i as u32;
            for mop in &t.mops {
                if let Mop::Read {
                    key,
                    value: ReadValue::List(l),
                } = mop
                {
                    self.read(findings, edges, i, *key, l);
                }
            }
        }
    }

    fn read(&mut self, findings: &mut Findings<'h>, edges: &mut Edges, i: u32, key: Key, l: &[Value]) {
        let history = self.history;
        let ok = history[i as usize].outcome == Outcome::Ok;
        let order = self.keys.get_mut(&key).expect("every read key has an order");
        let longest = order.longest.map(|at| list_at(history, at)).unwrap_or(&[]);
        let prefix = l.len() <= longest.len() && longest[..l.len()] == *l;
        if !prefix && !order.incompatible {
            order.incompatible = true;
            let (lt, _) = order.longest.expect("a longer or different read exists");
            findings.add(Anomaly::IncompatibleOrder, &[i, lt], || {
                format!(
                    "T0 read key {key} as {} and T1 read it as {}: neither is a prefix of the other",
                    render_list(l),
                    render_list(longest)
                )
            });
        }
        let order = &self.keys[&key];
        if ok {
            let (dup, failed) = if prefix {
                (order.dup_at < l.len(), order.fail_at < l.len())
            } else {
                let mut seen = HashSet::new();
                let dup = !l.iter().all(|e| seen.insert(*e));
                let failed = l.iter().any(|e| {
                    self.appends
                        .get(&(key, *e))
                        .is_some_and(|r| history[r.txn as usize].outcome == Outcome::Fail)
                });
                (dup, failed)
            };
            if dup {
                findings.add(Anomaly::DuplicateElements, &[i], || {
                    format!("T0 read key {key} as {}, which holds an element twice", render_list(l))
                });
            }
            if failed {
                self.g1a(findings, i, key, l);
            }
        }
        let Some(&last) = l.last() else {
            // Saw the empty list: precedes the first append.
            self.rw_from(edges, i, &key, 0);
            return;
        };
        let Some(&rec) = self.appends.get(&(key, last)) else {
            return;
        };
        if ok && rec.flags & FINAL == 0 && rec.txn != i {
            findings.add(Anomaly::G1b, &[i, rec.txn], || {
                format!(
                    "T0 read key {key} as {}, ending in {last}, which T1 appended before appending more to key {key} \
                     (an intermediate state)",
                    render_list(l)
                )
            });
        }
        if self.committed(rec.txn) {
            edges.push(rec.txn, i, WR);
        }
        if rec.pos != NONE {
            self.rw_from(edges, i, &key, rec.pos as usize + 1);
        }
    }

    /// rw: reader `i` saw the key's state up to (not including) position `next`.
    fn rw_from(&self, edges: &mut Edges, i: u32, key: &Key, next: usize) {
        let order = &self.keys[key];
        if let Some(&w) = order.writers.get(next) {
            if self.committed(w) {
                edges.push(i, w, RW);
            }
        } else if next == order.writers.len() {
            for &u in &order.unobserved {
                edges.push(i, u, RW);
            }
        }
    }

    fn g1a(&self, findings: &mut Findings<'h>, i: u32, key: Key, l: &[Value]) {
        let history = self.history;
        for e in l {
            if let Some(r) = self.appends.get(&(key, *e))
                && history[r.txn as usize].outcome == Outcome::Fail
            {
                findings.add(Anomaly::G1a, &[i, r.txn], || {
                    format!(
                        "T0 read key {key} as {} and saw {e}, which T1 appended, but T1 failed (aborted)",
                        render_list(l)
                    )
                });
                return;
            }
        }
    }

    /// The append of `txn` to `key` whose predecessor in the order is at position `prev`
    /// (`None`: the initial empty list), for explanations.
    fn appends_of(&self, txn: u32) -> impl Iterator<Item = (Key, Value, AppendRec)> + '_ {
        self.history[txn as usize].mops.iter().filter_map(move |m| match *m {
            Mop::Append { key, value } => self.appends.get(&(key, value)).map(|r| (key, value, *r)),
            _ => None,
        })
    }

    /// Position of the element before `rec` in its key's order (`None` = the empty list), and
    /// whether `rec` was seen at all.
    fn prev_pos(&self, key: Key, rec: &AppendRec) -> Option<usize> {
        if rec.pos != NONE {
            (rec.pos as usize).checked_sub(1)
        } else {
            self.keys.get(&key).and_then(|o| o.values.len().checked_sub(1))
        }
    }
}

impl Explainer for ListAppend<'_> {
    fn explain(&self, a: u32, b: u32, kind: u8, an: &str, bn: &str) -> String {
        let history = self.history;
        for (key, v2, rec) in self.appends_of(b) {
            let order = &self.keys[&key];
            let prev = self.prev_pos(key, &rec);
            let unseen = if rec.pos == NONE { " (no read saw it)" } else { "" };
            if kind == WW {
                if let Some(p) = prev.filter(|&p| order.writers[p] == a) {
                    return format!(
                        "{bn}'s append of {v2} to key {key}{unseen} came right after {an}'s append of {} (ww)",
                        order.values[p]
                    );
                }
            } else if kind == RW {
                let next = prev.map_or(0, |p| p + 1);
                for m in &history[a as usize].mops {
                    let Mop::Read {
                        key: k,
                        value: ReadValue::List(l),
                    } = m
                    else {
                        continue;
                    };
                    let seen_next = match l.last() {
                        None => 0,
                        Some(e) => match self.appends.get(&(*k, *e)) {
                            Some(r) if r.pos != NONE => r.pos as usize + 1,
                            _ => continue,
                        },
                    };
                    if *k == key && seen_next == next {
                        return if l.is_empty() {
                            format!("{an} read key {key} as empty, and {bn} then appended {v2}{unseen} to it (rw)")
                        } else {
                            format!(
                                "{an} read key {key} as {} without {bn}'s append of {v2}, which came next{unseen} (rw)",
                                render_list(l)
                            )
                        };
                    }
                }
            }
        }
        if kind == WR {
            for m in &history[b as usize].mops {
                let Mop::Read {
                    key,
                    value: ReadValue::List(l),
                } = m
                else {
                    continue;
                };
                if let Some(e) = l.last()
                    && self.appends.get(&(*key, *e)).is_some_and(|r| r.txn == a)
                {
                    return format!("{bn} read key {key} and saw {e} last, which {an} appended (wr)");
                }
            }
        }
        format!("{an} precedes {bn} ({})", crate::graph::kind_name(kind))
    }
}

/// Internal consistency (Elle's INT) and future reads, for one committed transaction: a read
/// must agree with the transaction's own earlier reads and appends of that key.
fn internal(history: &[Txn], i: u32, findings: &mut Findings<'_>) {
    let mops = &history[i as usize].mops;
    // Most transactions touch each key once: nothing to check.
    let repeated = mops
        .iter()
        .enumerate()
        .any(|(j, m)| mops[..j].iter().any(|p| p.key() == m.key()));
    if !repeated {
        return;
    }
    // key -> (known whole list?, expected list or suffix)
    let mut state: Vec<(Key, bool, Vec<Value>)> = Vec::new();
    for (j, m) in mops.iter().enumerate() {
        match m {
            Mop::Append { key, value } => {
                if mops[..j].iter().any(
                    |p| matches!(p, Mop::Read { key: k, value: ReadValue::List(l) } if k == key && l.contains(value)),
                ) {
                    findings.add(Anomaly::FutureRead, &[i], || {
                        format!("T0 read key {key} with {value} in it before appending {value} itself")
                    });
                    return;
                }
                match state.iter_mut().find(|s| s.0 == *key) {
                    Some(s) => s.2.push(*value),
                    None => state.push((*key, false, vec![*value])),
                }
            }
            Mop::Read {
                key,
                value: ReadValue::List(l),
            } => {
                if let Some(s) = state.iter_mut().find(|s| s.0 == *key) {
                    let agrees = if s.1 {
                        s.2 == *l
                    } else {
                        l.len() >= s.2.len() && l[l.len() - s.2.len()..] == s.2[..]
                    };
                    if !agrees {
                        let expected = if s.1 {
                            render_list(&s.2)
                        } else {
                            format!("[... {}]", render_list(&s.2).trim_matches(['[', ']']))
                        };
                        findings.add(Anomaly::Internal, &[i], || {
                            format!(
                                "T0 read key {key} as {}, but its own earlier operations imply {expected}",
                                render_list(l)
                            )
                        });
                        return;
                    }
                    s.1 = true;
                    s.2.clone_from(l);
                } else {
                    state.push((*key, true, l.clone()));
                }
            }
            _ => {}
        }
    }
}
