//! The transaction dependency graph: compact (CSR) adjacency, process and real-time edges,
//! strongly connected components (iterative Tarjan) and the shortest cycle of each anomaly kind.

use crate::history::{Outcome, Txn};
use crate::model::Anomaly;

/// Edge kinds, one bit each.
pub(crate) const WW: u8 = 1;
pub(crate) const WR: u8 = 2;
pub(crate) const RW: u8 = 4;
pub(crate) const PROCESS: u8 = 8;
pub(crate) const REALTIME: u8 = 16;

/// The name of one edge kind.
pub(crate) fn kind_name(kind: u8) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        _ => "realtime",
    }
}

/// One dependency: `from` must precede `to`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    pub(crate) from: u32,
    pub(crate) to: u32,
    pub(crate) kind: u8,
}

/// Edges collected before the graph is built; self-edges are dropped.
#[derive(Debug, Default)]
pub(crate) struct Edges(pub(crate) Vec<Edge>);

impl Edges {
    pub(crate) fn push(&mut self, from: u32, to: u32, kind: u8) {
        if from != to {
            self.0.push(Edge { from, to, kind });
        }
    }
}

/// Adjacency in compressed sparse rows: the out-edges of `v` are `targets[offsets[v]..offsets[v+1]]`.
#[derive(Debug)]
pub(crate) struct Graph {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    kinds: Vec<u8>,
}

impl Graph {
    /// Builds the graph of `n` vertices, consuming the edge list (so both never coexist for long).
    pub(crate) fn build(n: usize, edges: Edges) -> Graph {
        let edges = edges.0;
        let mut offsets = vec![0u32; n + 1];
        for e in &edges {
            offsets[e.from as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill: Vec<u32> = offsets[..n].to_vec();
        let mut targets = vec![0u32; edges.len()];
        let mut kinds = vec![0u8; edges.len()];
        for e in edges {
            let slot = &mut fill[e.from as usize];
            targets[*slot as usize] = e.to;
            kinds[*slot as usize] = e.kind;
            *slot += 1;
        }
        Graph {
            offsets,
            targets,
            kinds,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn out(&self, v: u32) -> impl Iterator<Item = (u32, u8)> + '_ {
        let range = self.offsets[v as usize] as usize..self.offsets[v as usize + 1] as usize;
        self.targets[range.clone()]
            .iter()
            .copied()
            .zip(self.kinds[range].iter().copied())
    }
}

/// Process edges: each ok transaction of a user precedes that user's next transaction. Info
/// transactions get no outgoing process edge (they may take effect at any later time); failed
/// ones are not in the graph.
pub(crate) fn process_edges(history: &[Txn], edges: &mut Edges) {
    let mut order: Vec<u32> = (0..history.len() as u32).collect();
    order.sort_by_key(|&i| (history[i as usize].process, history[i as usize].invoke_us, i));
    let mut last_ok: Option<(u32, u32)> = None; // (process, txn)
    for i in order {
        let t = &history[i as usize];
        if t.outcome == Outcome::Fail {
            continue;
        }
        match last_ok {
            Some((p, prev)) if p == t.process => edges.push(prev, i, PROCESS),
            Some((p, _)) if p != t.process => last_ok = None,
            _ => {}
        }
        if t.outcome == Outcome::Ok {
            last_ok = Some((t.process, i));
        }
    }
}

/// Real-time edges, sparsely (as Elle does): when T is invoked, an edge from every transaction
/// in the frontier (completed, and not known to precede another completed one) to T; when T
/// completes, it joins the frontier and evicts the transactions it was linked from. The
/// transitive closure is exactly "completed before the other was invoked". Info transactions
/// never complete, so they never gain outgoing real-time edges.
pub(crate) fn realtime_edges(history: &[Txn], edges: &mut Edges) {
    // (time, 0 = invoke / 1 = complete, txn): at equal times invokes go first, so only a
    // strictly earlier completion orders two transactions.
    let mut events: Vec<(u64, u8, u32)> = Vec::with_capacity(history.len() * 2);
    for (i, t) in history.iter().enumerate() {
        if t.outcome == Outcome::Fail {
            continue;
        }
        events.push((t.invoke_us, 0, i as u32));
        if t.outcome == Outcome::Ok {
            events.push((t.complete_us.max(t.invoke_us), 1, i as u32));
        }
    }
    events.sort_unstable();
    let mut frontier: Vec<u32> = Vec::new();
    let mut preds: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    for (_, what, i) in events {
        if what == 0 {
            for &f in &frontier {
                edges.push(f, i, REALTIME);
            }
            if history[i as usize].outcome == Outcome::Ok {
                preds.insert(i, frontier.clone());
            }
        } else {
            let before = preds.remove(&i).unwrap_or_default();
            frontier.retain(|f| !before.contains(f));
            frontier.push(i);
        }
    }
}

/// Strongly connected components with more than one vertex (a graph without self-edges has no
/// other cycles). Iterative Tarjan: no recursion, whatever the depth.
pub(crate) fn sccs(g: &Graph) -> Vec<Vec<u32>> {
    const UNSEEN: u32 = u32::MAX;
    let n = g.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut call: Vec<(u32, u32)> = Vec::new(); // (vertex, next edge slot)
    let mut next = 0u32;
    let mut out = Vec::new();
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        call.push((root, g.offsets[root as usize]));
        index[root as usize] = next;
        low[root as usize] = next;
        next += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut slot)) = call.last_mut() {
            let end = g.offsets[v as usize + 1];
            if *slot < end {
                let w = g.targets[*slot as usize];
                *slot += 1;
                if index[w as usize] == UNSEEN {
                    index[w as usize] = next;
                    low[w as usize] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    call.push((w, g.offsets[w as usize]));
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                let mut comp = Vec::new();
                loop {
                    let w = stack.pop().expect("Tarjan stack holds v");
                    on_stack[w as usize] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort_unstable();
                    out.push(comp);
                }
            }
        }
    }
    out
}

/// How many anti-dependency (rw) edges a cycle kind takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RwRule {
    None,
    One,
    /// Two or more, no two consecutive (cyclically).
    Nonadjacent,
    /// Two or more.
    Several,
}

/// A kind of cycle to search for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    pub(crate) anomaly: Anomaly,
    allowed: u8,
    rw: RwRule,
    need: u8,
}

/// Every cycle kind, in the order Elle searches them: data-only kinds first, then the
/// `-process` variants, then the `-realtime` ones.
pub(crate) fn specs() -> Vec<Spec> {
    use Anomaly::*;
    let base: [(Anomaly, Anomaly, Anomaly, u8, RwRule, u8); 5] = [
        (G0, G0Process, G0Realtime, WW, RwRule::None, 0),
        (G1c, G1cProcess, G1cRealtime, WW | WR, RwRule::None, WR),
        (GSingle, GSingleProcess, GSingleRealtime, WW | WR, RwRule::One, 0),
        (
            GNonadjacent,
            GNonadjacentProcess,
            GNonadjacentRealtime,
            WW | WR,
            RwRule::Nonadjacent,
            0,
        ),
        (G2Item, G2ItemProcess, G2ItemRealtime, WW | WR | RW, RwRule::Several, 0),
    ];
    let mut out = Vec::new();
    for (variant, extra, need) in [(0, 0, 0), (1, PROCESS, PROCESS), (2, PROCESS | REALTIME, REALTIME)] {
        for &(a, p, r, allowed, rw, n) in &base {
            let anomaly = [a, p, r][variant];
            out.push(Spec {
                anomaly,
                allowed: allowed | extra,
                rw,
                need: n | need,
            });
        }
    }
    out
}

/// The cycle kinds that finding `a` makes redundant within one SCC (Elle's implied anomalies).
pub(crate) fn implied(a: Anomaly) -> &'static [Anomaly] {
    use Anomaly::*;
    match a {
        G0 => &[G1c, G0Process, G1cProcess, G0Realtime, G1cRealtime],
        G0Process => &[G1cProcess, G0Realtime, G1cRealtime],
        G0Realtime | G1cProcess => &[G1cRealtime],
        G1c => &[G1cProcess, G1cRealtime],
        GSingle => &[
            GNonadjacent,
            G2Item,
            GSingleProcess,
            GSingleRealtime,
            GNonadjacentProcess,
            GNonadjacentRealtime,
            G2ItemProcess,
            G2ItemRealtime,
        ],
        GSingleProcess => &[
            GNonadjacentProcess,
            G2ItemProcess,
            GSingleRealtime,
            GNonadjacentRealtime,
            G2ItemRealtime,
        ],
        GSingleRealtime => &[GNonadjacentRealtime, G2ItemRealtime],
        GNonadjacent => &[
            G2Item,
            GNonadjacentProcess,
            G2ItemProcess,
            GNonadjacentRealtime,
            G2ItemRealtime,
        ],
        GNonadjacentProcess => &[G2ItemProcess, GNonadjacentRealtime, G2ItemRealtime],
        GNonadjacentRealtime => &[G2ItemRealtime],
        G2Item => &[G2ItemProcess, G2ItemRealtime],
        G2ItemProcess => &[G2ItemRealtime],
        _ => &[],
    }
}

/// A cycle: `steps[i] = (from, kind)`, each step's edge going to the next step's vertex and the
/// last one back to the first.
pub(crate) type Cycle = Vec<(u32, u8)>;

/// Search state bits: rw count (2 bits), last edge rw, first edge rw, and which needed kinds
/// (wr, process, realtime) have been seen.
const RW_MASK: u8 = 0b11;
const LAST_RW: u8 = 4;
const FIRST_RW: u8 = 8;
const SEEN_WR: u8 = 16;
const SEEN_PROCESS: u8 = 32;
const SEEN_REALTIME: u8 = 64;

fn seen_bit(kind: u8) -> u8 {
    match kind {
        WR => SEEN_WR,
        PROCESS => SEEN_PROCESS,
        REALTIME => SEEN_REALTIME,
        _ => 0,
    }
}

/// Finds cycles of given kinds inside one SCC, within a shared work budget.
#[derive(Debug)]
pub(crate) struct Searcher<'g> {
    g: &'g Graph,
    /// SCC id of every vertex (`u32::MAX` outside the SCC being searched).
    member: Vec<u32>,
    /// Edge relaxations left.
    pub(crate) budget: u64,
}

/// How many start vertices to try after the first hit, looking for a shorter cycle.
const EXTRA_STARTS: usize = 16;

impl<'g> Searcher<'g> {
    pub(crate) fn new(g: &'g Graph, budget: u64) -> Self {
        Searcher {
            g,
            member: vec![u32::MAX; g.len()],
            budget,
        }
    }

    /// Marks `scc` (id `id`) as the set of vertices to search within.
    pub(crate) fn enter(&mut self, scc: &[u32], id: u32) {
        for &v in scc {
            self.member[v as usize] = id;
        }
    }

    /// The shortest cycle of kind `spec` found in SCC `id`; `Err(())` if the budget ran out.
    pub(crate) fn find(&mut self, scc: &[u32], id: u32, spec: &Spec) -> Result<Option<Cycle>, ()> {
        // Every such cycle can be rotated to start just after an edge of its rarest required kind.
        let entry = if spec.rw != RwRule::None {
            RW
        } else if spec.need & WR != 0 {
            WR
        } else if spec.need & (PROCESS | REALTIME) != 0 {
            spec.need & (PROCESS | REALTIME)
        } else {
            0
        };
        let mut starts: Vec<u32> = Vec::new();
        if entry == 0 {
            starts.extend_from_slice(scc);
        } else {
            let mut is_start = std::collections::HashSet::new();
            for &v in scc {
                for (w, k) in self.g.out(v) {
                    if k & entry != 0 && self.member[w as usize] == id && is_start.insert(w) {
                        starts.push(w);
                    }
                }
            }
            starts.sort_unstable();
        }
        let mut best: Option<Cycle> = None;
        let mut tries_after_hit = 0;
        for s in starts {
            if best.is_some() {
                tries_after_hit += 1;
                if tries_after_hit > EXTRA_STARTS {
                    break;
                }
            }
            if let Some(c) = self.bfs(s, id, spec)?
                && best.as_ref().is_none_or(|b| c.len() < b.len())
            {
                best = Some(c);
            }
        }
        Ok(best)
    }

    fn accepts(spec: &Spec, state: u8) -> bool {
        let rw = state & RW_MASK;
        let rw_ok = match spec.rw {
            RwRule::None => rw == 0,
            RwRule::One => rw == 1,
            RwRule::Several => rw >= 2,
            RwRule::Nonadjacent => rw >= 2 && !(state & LAST_RW != 0 && state & FIRST_RW != 0),
        };
        let need = (if spec.need & WR != 0 { SEEN_WR } else { 0 })
            | (if spec.need & PROCESS != 0 { SEEN_PROCESS } else { 0 })
            | (if spec.need & REALTIME != 0 { SEEN_REALTIME } else { 0 });
        rw_ok && state & need == need
    }

    /// The state after taking an edge of `kind` in `state` (`first`: it is the cycle's first
    /// edge), or `None` if the spec forbids it.
    fn step(spec: &Spec, state: u8, kind: u8, first: bool) -> Option<u8> {
        if kind == RW {
            let rw = state & RW_MASK;
            let limit_ok = match spec.rw {
                RwRule::None => false,
                RwRule::One => rw == 0,
                RwRule::Nonadjacent => state & LAST_RW == 0,
                RwRule::Several => true,
            };
            if !limit_ok {
                return None;
            }
            let rw = (rw + 1).min(2);
            let first_bit = if first { FIRST_RW } else { state & FIRST_RW };
            Some((state & !(RW_MASK | LAST_RW | FIRST_RW)) | rw | LAST_RW | first_bit)
        } else if spec.allowed & kind != 0 {
            Some((state & !LAST_RW) | seen_bit(kind))
        } else {
            None
        }
    }

    /// Breadth-first search over (vertex, state) from `s` back to `s`.
    fn bfs(&mut self, s: u32, id: u32, spec: &Spec) -> Result<Option<Cycle>, ()> {
        use std::collections::HashMap;
        use std::collections::VecDeque;
        // (vertex, state) -> (previous vertex, previous state, edge kind)
        let mut parent: HashMap<(u32, u8), (u32, u8, u8)> = HashMap::new();
        let mut queue: VecDeque<(u32, u8, bool)> = VecDeque::new();
        queue.push_back((s, 0, true));
        while let Some((v, state, first)) = queue.pop_front() {
            for (w, kind) in self.g.out(v) {
                if self.budget == 0 {
                    return Err(());
                }
                self.budget -= 1;
                if self.member[w as usize] != id {
                    continue;
                }
                let Some(next) = Self::step(spec, state, kind, first) else {
                    continue;
                };
                if w == s {
                    if Self::accepts(spec, next) {
                        let mut cycle = vec![(v, kind)];
                        let (mut cv, mut cs) = (v, state);
                        while !(cv == s && cs == 0) {
                            let &(pv, ps, pk) = parent.get(&(cv, cs)).expect("BFS parent recorded");
                            cycle.push((pv, pk));
                            (cv, cs) = (pv, ps);
                        }
                        cycle.reverse();
                        let mut seen: Vec<u32> = cycle.iter().map(|&(v, _)| v).collect();
                        seen.sort_unstable();
                        seen.dedup();
                        if seen.len() == cycle.len() {
                            return Ok(Some(cycle));
                        }
                    }
                    continue;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = parent.entry((w, next)) {
                    e.insert((v, state, kind));
                    queue.push_back((w, next, false));
                }
            }
        }
        Ok(None)
    }
}
