//! Histories: transactions as a workload saw them, and the `history.jsonl` file that holds them.
//!
//! One line of `history.jsonl` is one [`Txn`] as JSON, e.g.
//!
//! ```text
//! {"process":3,"invoke_us":1200,"complete_us":1450,"outcome":"ok","mops":[["a",4,7],["r",4,[1,2,7]]]}
//! ```
//!
//! A micro-operation ([`Mop`]) is a compact JSON array:
//!
//! | JSON | meaning |
//! | --- | --- |
//! | `["a",k,v]` | append `v` to the list at key `k` (list-append) |
//! | `["w",k,v]` | write `v` to the register at key `k` (rw-register) |
//! | `["r",k,[1,2]]` | read the list at `k`, which was `[1, 2]` |
//! | `["r",k,5]` | read the register at `k`, which was `5` |
//! | `["r",k,null]` | read the register at `k`, which was nil (never written) |
//! | `["r",k]` | read `k`, value unknown (the transaction did not complete, or was not ok) |

use std::fmt;
use std::io::{self, BufRead, Write};
use std::path::Path;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A key of the tested data set.
pub type Key = u64;
/// A value appended to a list or written to a register. Workloads write each value at most once
/// per key, so that a read says which write it saw.
pub type Value = u64;

/// What a read returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadValue {
    /// Unknown: the transaction did not complete, or was not ok.
    None,
    /// A list-append read: the whole list, oldest element first.
    List(Vec<Value>),
    /// A rw-register read: `None` is the initial nil (never written).
    Register(Option<Value>),
}

/// One micro-operation of a transaction. Serialized as a compact array, see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mop {
    /// Append `value` to the list at `key`.
    Append {
        /// The list's key.
        key: Key,
        /// The appended element.
        value: Value,
    },
    /// Write `value` to the register at `key`.
    Write {
        /// The register's key.
        key: Key,
        /// The written value.
        value: Value,
    },
    /// Read `key`.
    Read {
        /// The key read.
        key: Key,
        /// What the read returned.
        value: ReadValue,
    },
}

impl Mop {
    /// The key this micro-operation touches.
    pub fn key(&self) -> Key {
        match self {
            Mop::Append { key, .. } | Mop::Write { key, .. } | Mop::Read { key, .. } => *key,
        }
    }
}

impl Serialize for Mop {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Mop::Append { key, value } => ("a", key, value).serialize(s),
            Mop::Write { key, value } => ("w", key, value).serialize(s),
            Mop::Read { key, value } => match value {
                ReadValue::None => ("r", key).serialize(s),
                ReadValue::List(list) => {
                    let mut seq = s.serialize_seq(Some(3))?;
                    seq.serialize_element("r")?;
                    seq.serialize_element(key)?;
                    seq.serialize_element(list)?;
                    seq.end()
                }
                ReadValue::Register(v) => ("r", key, v).serialize(s),
            },
        }
    }
}

/// The third element of a read: a list or a register value (`null` is the register's nil).
#[derive(Deserialize)]
#[serde(untagged)]
enum ReadShape {
    List(Vec<Value>),
    Register(Option<Value>),
}

struct MopVisitor;

impl<'de> Visitor<'de> for MopVisitor {
    type Value = Mop;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a micro-operation like ["a",key,value], ["w",key,value], ["r",key,value] or ["r",key]"#)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Mop, A::Error> {
        let tag: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let key: Key = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
        let mop = match tag.as_str() {
            "a" | "w" => {
                let value: Value = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(2, &self))?;
                if tag == "a" {
                    Mop::Append { key, value }
                } else {
                    Mop::Write { key, value }
                }
            }
            "r" => {
                let value = match seq.next_element::<ReadShape>()? {
                    None => ReadValue::None,
                    Some(ReadShape::List(list)) => ReadValue::List(list),
                    Some(ReadShape::Register(v)) => ReadValue::Register(v),
                };
                Mop::Read { key, value }
            }
            other => {
                return Err(de::Error::custom(format!(
                    "unknown micro-operation {other:?} (not a, w or r)"
                )));
            }
        };
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("a micro-operation has at most 3 elements"));
        }
        Ok(mop)
    }
}

impl<'de> Deserialize<'de> for Mop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mop, D::Error> {
        d.deserialize_seq(MopVisitor)
    }
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Committed.
    Ok,
    /// The engine said it aborted: none of its effects may be visible.
    Fail,
    /// Indeterminate (e.g. a timeout): it may or may not have committed, at any time after invoke.
    Info,
}

/// One transaction of one user (`process`; each user runs one transaction at a time).
///
/// Times are microseconds on one monotonic clock shared by all processes. An [`Outcome::Info`]
/// transaction's `complete_us` is when the user gave up; for real-time order it may have taken
/// effect at any time after `invoke_us`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// The user that ran it.
    pub process: u32,
    /// When the user began it.
    pub invoke_us: u64,
    /// When the user learned its outcome.
    pub complete_us: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Its micro-operations, in order.
    pub mops: Vec<Mop>,
}

/// A damaged `history.jsonl`: one line naming the file, the line and what is wrong.
#[derive(Debug)]
pub enum HistoryError {
    /// The file could not be opened or read.
    Io {
        /// The file's name.
        name: String,
        /// What went wrong.
        error: io::Error,
    },
    /// A line is not a transaction.
    Line {
        /// The file's name.
        name: String,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Io { name, error } => write!(f, "{name}: {error}"),
            HistoryError::Line { name, line, message } => write!(f, "{name}:{line}: {message}"),
        }
    }
}

impl std::error::Error for HistoryError {}

/// Writes transactions to a `history.jsonl`, one per line.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    line: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// A writer over `out` (wrap files in a `BufWriter`).
    pub fn new(out: W) -> Self {
        Writer {
            out,
            line: Vec::with_capacity(256),
        }
    }

    /// Appends one transaction as one line.
    pub fn write(&mut self, txn: &Txn) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, txn).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Reads a `history.jsonl` file.
pub fn read(path: &Path) -> Result<Vec<Txn>, HistoryError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|error| HistoryError::Io {
        name: name.clone(),
        error,
    })?;
    read_from(io::BufReader::new(file), &name)
}

/// Reads a history from `reader`; `name` names it in errors. Blank lines are skipped.
pub fn read_from(reader: impl BufRead, name: &str) -> Result<Vec<Txn>, HistoryError> {
    let mut txns = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|error| HistoryError::Io {
            name: name.to_string(),
            error,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let txn = serde_json::from_str::<Txn>(&line).map_err(|e| HistoryError::Line {
            name: name.to_string(),
            line: i + 1,
            message: describe_json_error(&e),
        })?;
        txns.push(txn);
    }
    Ok(txns)
}

fn describe_json_error(e: &serde_json::Error) -> String {
    let what = if e.is_eof() { "truncated line: " } else { "" };
    // serde_json appends " at line L column C"; the line is always 1 here, the column helps.
    let text = e.to_string();
    let text = text.split(" at line ").next().unwrap_or(&text);
    format!("{what}{text} (column {})", e.column())
}

/// Merges shards' histories into one, ordered by invoke time (then completion, then process).
/// The shards' processes must already be distinct.
pub fn merge(histories: Vec<Vec<Txn>>) -> Vec<Txn> {
    let mut all: Vec<Txn> = histories.into_iter().flatten().collect();
    all.sort_by_key(|t| (t.invoke_us, t.complete_us, t.process));
    all
}
