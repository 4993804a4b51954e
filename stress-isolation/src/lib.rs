//! An Elle-class transactional isolation checker.
//!
//! A workload records every transaction it runs (its micro-operations, what its reads returned,
//! when it was invoked and completed, and whether it committed) into a history; [`check`] infers
//! the dependencies between the transactions from the values they wrote and read, finds the
//! cycles in that dependency graph, classifies them as Adya's anomalies the way Elle (Kingsbury
//! and Alvaro, VLDB 2020) does, and says whether an isolation level ([`Model`]) allows what it
//! found. Two data models are supported ([`Kind`]):
//!
//! - **list-append**: transactions append unique elements to lists and read whole lists; a read
//!   reveals the order of every append before it, so version orders are exact.
//! - **rw-register**: transactions write unique values and read them; version orders are inferred
//!   (see the `rw_register` module's inference rules: initial nil, writes follow reads).
//!
//! # The history file
//!
//! `history.jsonl` holds one [`Txn`] per line as JSON:
//! `{"process":3,"invoke_us":1200,"complete_us":1450,"outcome":"ok","mops":[["a",4,7],["r",4,[1,2,7]]]}`.
//! `outcome` is `ok`, `fail` (aborted: no effect may be visible) or `info` (indeterminate). A
//! micro-operation is `["a",k,v]` (append), `["w",k,v]` (write), `["r",k,[..]]` (list read),
//! `["r",k,v]` / `["r",k,null]` (register read; `null` is nil) or `["r",k]` (value unknown).
//! [`history::Writer`] writes it, [`history::read`] reads it and names the file and line of any
//! damage.
//!
//! # Anomalies
//!
//! Dependencies: **ww** (T2 overwrote T1's write), **wr** (T2 read T1's write), **rw** (T2
//! overwrote the state T1 read: an anti-dependency), **process** (same user, T1 first) and
//! **realtime** (T1 completed before T2 began). Cycles are named by the edges they need:
//!
//! - **G0** (write cycle): only ww edges.
//! - **G1c** (circular information flow): ww and wr edges, at least one wr.
//! - **G-single** (read skew): exactly one rw edge.
//! - **G-nonadjacent**: two or more rw edges, no two consecutive.
//! - **G2-item** (write skew): two or more rw edges.
//! - each with **-process** or **-realtime** when the cycle needs a process or real-time edge.
//!
//! And outside cycles: **G1a** (aborted read: saw a failed transaction's write), **G1b**
//! (intermediate read: saw a state its writer overwrote itself), **internal** (a read disagreed
//! with the transaction's own earlier operations), **future-read** (read its own later append),
//! **duplicate-elements** (a list held an element twice), **incompatible-order** (two reads of a
//! key that no single order of appends explains), **dirty-update** (a committed append on top of
//! an aborted one), **cyclic-versions** (a register's inferred version order is cyclic).
//! [`Anomaly::meaning`] says each in a sentence.
//!
//! # Models
//!
//! | model | forbids |
//! | --- | --- |
//! | read-committed | G0, G1a, G1b, G1c |
//! | repeatable-read | + G-single, G-nonadjacent, G2-item (item cycles: Adya PL-2.99) |
//! | snapshot-isolation | + G-single, G-nonadjacent (G2-item, write skew, is allowed) |
//! | serializable | + G-single, G-nonadjacent, G2-item |
//! | strict-serializable | + every -process and -realtime variant |
//!
//! Every model forbids the non-cycle anomalies. Real-time edges are built only when checking
//! strict-serializable; process edges always, so `-process` cycles are reported (as allowed)
//! under the weaker models.
//!
//! # Example
//!
//! Write skew: each transaction read the empty list of the key the other appended to.
//!
//! ```
//! use stress_isolation::{check, Kind, Model, Mop, Options, Outcome, ReadValue, Txn};
//!
//! let txn = |process, mops| Txn { process, invoke_us: 0, complete_us: 10, outcome: Outcome::Ok, mops };
//! let history = vec![
//!     txn(0, vec![Mop::Read { key: 1, value: ReadValue::List(vec![]) }, Mop::Append { key: 2, value: 1 }]),
//!     txn(1, vec![Mop::Read { key: 2, value: ReadValue::List(vec![]) }, Mop::Append { key: 1, value: 1 }]),
//! ];
//! let serializable = Options { model: Model::Serializable, kind: Kind::ListAppend, ..Options::default() };
//! let report = check(&history, &serializable);
//! assert_eq!(report.anomalies.keys().collect::<Vec<_>>(), ["G2-item"]);
//! assert!(!report.valid());
//! assert_eq!(report.witnesses[0].edges, ["rw", "rw"]);
//!
//! let si = Options { model: Model::SnapshotIsolation, ..serializable };
//! assert!(check(&history, &si).valid());
//! ```

#![warn(missing_docs)]

mod check;
mod explain;
mod fx;
mod graph;
pub mod history;
mod list_append;
mod model;
mod rw_register;

pub use check::{Kind, Options, Report, check};
pub use explain::{Witness, WitnessTxn, render_mops};
pub use history::{HistoryError, Key, Mop, Outcome, ReadValue, Txn, Value};
pub use model::{Anomaly, Model};
