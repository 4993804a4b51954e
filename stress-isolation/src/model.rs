//! Isolation levels (models) and the anomalies each forbids, after Adya and Elle's
//! `consistency_model.clj`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An isolation level a history is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// Adya PL-2: no G0, no G1 (G1a, G1b, G1c).
    ReadCommitted,
    /// Adya PL-2.99: no G0, no G1, no G2-item (so no item G-single or G-nonadjacent either).
    RepeatableRead,
    /// Adya PL-SI: no G0, no G1, no G-single, no G-nonadjacent; G2-item (write skew) is allowed.
    SnapshotIsolation,
    /// Adya PL-3: no G0, no G1, no G2 (G-single, G-nonadjacent, G2-item).
    Serializable,
    /// Serializable plus real-time order: also no `-process` or `-realtime` cycle.
    StrictSerializable,
}

impl Model {
    /// Every model, weakest first.
    pub const ALL: [Model; 5] = [
        Model::ReadCommitted,
        Model::RepeatableRead,
        Model::SnapshotIsolation,
        Model::Serializable,
        Model::StrictSerializable,
    ];

    /// Parses `read-committed`, `repeatable-read`, `snapshot-isolation`, `serializable`,
    /// `strict-serializable` (underscores accepted too).
    pub fn parse(s: &str) -> Option<Model> {
        let s = s.trim().replace('_', "-").to_ascii_lowercase();
        Model::ALL.into_iter().find(|m| m.name() == s)
    }

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Model::ReadCommitted => "read-committed",
            Model::RepeatableRead => "repeatable-read",
            Model::SnapshotIsolation => "snapshot-isolation",
            Model::Serializable => "serializable",
            Model::StrictSerializable => "strict-serializable",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An anomaly, named as Elle prints it (Elle's `G-single-item`, `G-nonadjacent-item` are called
/// `G-single`, `G-nonadjacent` here: every cycle this crate finds is over items, never predicates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[expect(missing_docs, reason = "each variant is documented by `meaning`")]
pub enum Anomaly {
    G0,
    G0Process,
    G0Realtime,
    G1a,
    G1b,
    G1c,
    G1cProcess,
    G1cRealtime,
    GSingle,
    GSingleProcess,
    GSingleRealtime,
    GNonadjacent,
    GNonadjacentProcess,
    GNonadjacentRealtime,
    G2Item,
    G2ItemProcess,
    G2ItemRealtime,
    Internal,
    FutureRead,
    DuplicateElements,
    IncompatibleOrder,
    DirtyUpdate,
    CyclicVersions,
}

impl Anomaly {
    /// Every anomaly.
    pub const ALL: [Anomaly; 23] = [
        Anomaly::G0,
        Anomaly::G0Process,
        Anomaly::G0Realtime,
        Anomaly::G1a,
        Anomaly::G1b,
        Anomaly::G1c,
        Anomaly::G1cProcess,
        Anomaly::G1cRealtime,
        Anomaly::GSingle,
        Anomaly::GSingleProcess,
        Anomaly::GSingleRealtime,
        Anomaly::GNonadjacent,
        Anomaly::GNonadjacentProcess,
        Anomaly::GNonadjacentRealtime,
        Anomaly::G2Item,
        Anomaly::G2ItemProcess,
        Anomaly::G2ItemRealtime,
        Anomaly::Internal,
        Anomaly::FutureRead,
        Anomaly::DuplicateElements,
        Anomaly::IncompatibleOrder,
        Anomaly::DirtyUpdate,
        Anomaly::CyclicVersions,
    ];

    /// The name as reported (e.g. `G-single-realtime`).
    pub fn name(self) -> &'static str {
        match self {
            Anomaly::G0 => "G0",
            Anomaly::G0Process => "G0-process",
            Anomaly::G0Realtime => "G0-realtime",
            Anomaly::G1a => "G1a",
            Anomaly::G1b => "G1b",
            Anomaly::G1c => "G1c",
            Anomaly::G1cProcess => "G1c-process",
            Anomaly::G1cRealtime => "G1c-realtime",
            Anomaly::GSingle => "G-single",
            Anomaly::GSingleProcess => "G-single-process",
            Anomaly::GSingleRealtime => "G-single-realtime",
            Anomaly::GNonadjacent => "G-nonadjacent",
            Anomaly::GNonadjacentProcess => "G-nonadjacent-process",
            Anomaly::GNonadjacentRealtime => "G-nonadjacent-realtime",
            Anomaly::G2Item => "G2-item",
            Anomaly::G2ItemProcess => "G2-item-process",
            Anomaly::G2ItemRealtime => "G2-item-realtime",
            Anomaly::Internal => "internal",
            Anomaly::FutureRead => "future-read",
            Anomaly::DuplicateElements => "duplicate-elements",
            Anomaly::IncompatibleOrder => "incompatible-order",
            Anomaly::DirtyUpdate => "dirty-update",
            Anomaly::CyclicVersions => "cyclic-versions",
        }
    }

    /// The anomaly of that name.
    pub fn parse(name: &str) -> Option<Anomaly> {
        Anomaly::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Whether this is a cycle needing a process edge (`-process`) or a real-time edge (`-realtime`).
    pub fn is_session_or_realtime(self) -> bool {
        self.name().ends_with("-process") || self.name().ends_with("-realtime")
    }

    /// Whether `model` forbids this anomaly.
    ///
    /// Every model here forbids G0, G1a, G1b, G1c and the non-cycle anomalies (`internal`,
    /// `future-read`, `duplicate-elements`, `incompatible-order`, `dirty-update`,
    /// `cyclic-versions`), which no Adya history can show. G-single and G-nonadjacent (item
    /// anti-dependency cycles whose anti-dependency edges are not adjacent) are forbidden from
    /// repeatable-read up (Elle: item G-single is also G2-item, which PL-2.99 forbids); G2-item
    /// by repeatable-read, serializable and strict-serializable, not by snapshot isolation.
    /// The `-process` and `-realtime` variants are forbidden only by strict-serializable: the
    /// other models here are not Elle's "strong session" ones, so they allow a user not to see
    /// its own earlier transaction; these variants are still reported, as information.
    pub fn forbidden_by(self, model: Model) -> bool {
        use Anomaly::*;
        match self {
            G0 | G1a | G1b | G1c | Internal | FutureRead | DuplicateElements | IncompatibleOrder | DirtyUpdate
            | CyclicVersions => true,
            GSingle | GNonadjacent => model >= Model::RepeatableRead,
            G2Item => matches!(
                model,
                Model::RepeatableRead | Model::Serializable | Model::StrictSerializable
            ),
            _ => {
                debug_assert!(self.is_session_or_realtime());
                model == Model::StrictSerializable
            }
        }
    }

    /// What the anomaly means, in one sentence.
    pub fn meaning(self) -> &'static str {
        use Anomaly::*;
        match self {
            G0 => "write cycle: transactions overwrote each other's writes in contradictory orders (dirty write)",
            G1a => "aborted read: a committed transaction saw a write of a transaction that aborted",
            G1b => "intermediate read: a transaction saw a version another transaction later overwrote itself",
            G1c => "circular information flow: transactions each saw (or overwrote) the other's writes",
            GSingle => {
                "read skew: a transaction missed one write (one anti-dependency) that a chain of \
                 transactions it depends on had already seen or overwritten"
            }
            GNonadjacent => {
                "a cycle with several anti-dependencies, no two in a row: no snapshot order explains the reads"
            }
            G2Item => {
                "two transactions each read a state the other then overwrote (write skew): \
                 no serial order explains both"
            }
            G0Process | G1cProcess | GSingleProcess | GNonadjacentProcess | G2ItemProcess => {
                "like the anomaly without -process, but the cycle needs one user's own order of \
                 transactions: a user did not see the effects of its own earlier transaction"
            }
            G0Realtime | G1cRealtime | GSingleRealtime | GNonadjacentRealtime | G2ItemRealtime => {
                "like the anomaly without -realtime, but the cycle needs real-time order: a \
                 transaction did not see one that had completed before it began"
            }
            Internal => "a transaction's read disagreed with its own earlier writes or reads of that key",
            FutureRead => "a transaction read a value that it only appended later",
            DuplicateElements => "a read list held the same appended element more than once",
            IncompatibleOrder => "two reads of one key are not prefixes of one order of appends",
            DirtyUpdate => "a committed write was applied on top of a write of an aborted transaction",
            CyclicVersions => "the inferred version order of a key is cyclic",
        }
    }
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
