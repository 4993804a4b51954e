//! Where the users' transactions go as the run goes, for the isolation checker
//! ([`crate::isolation`]): `history.jsonl` in the run directory (a line each, buffered: memory
//! stays bounded), or memory for a run that writes no files.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use stress_isolation::history::{self, Writer};
use stress_isolation::{Mop, Outcome, ReadValue, Txn};

/// The history file of a run directory.
pub const HISTORY_FILE: &str = "history.jsonl";

/// The run's history, shared by its users.
#[derive(Debug)]
pub(crate) struct HistorySink {
    /// The clock every user's times are on.
    base: Instant,
    out: Mutex<Out>,
}

#[derive(Debug)]
enum Out {
    File {
        path: PathBuf,
        writer: Writer<BufWriter<File>>,
        /// The first write that failed (a full disk): the history is then incomplete.
        error: Option<String>,
    },
    Memory(Vec<Txn>),
}

impl HistorySink {
    /// A history written into `dir` (`history.jsonl`), or kept in memory without one.
    pub(crate) fn new(dir: Option<&Path>) -> Result<Self, String> {
        let out = match dir {
            Some(dir) => {
                let path = dir.join(HISTORY_FILE);
                let file = File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                Out::File {
                    path,
                    writer: Writer::new(BufWriter::new(file)),
                    error: None,
                }
            }
            None => Out::Memory(Vec::new()),
        };
        Ok(Self {
            base: Instant::now(),
            out: Mutex::new(out),
        })
    }

    /// Now, µs on the history's clock.
    pub(crate) fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }

    /// Records a transaction that completed now with `outcome`. What a transaction that did not
    /// commit read says nothing: its reads are kept as unknown.
    pub(crate) fn record(&self, process: u32, invoke_us: u64, mut mops: Vec<Mop>, outcome: Outcome) {
        if outcome != Outcome::Ok {
            for m in &mut mops {
                if let Mop::Read { value, .. } = m {
                    *value = ReadValue::None;
                }
            }
        }
        let txn = Txn {
            process,
            invoke_us,
            complete_us: self.now_us().max(invoke_us),
            outcome,
            mops,
        };
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *out {
            Out::File { writer, error, path } => {
                if error.is_none()
                    && let Err(e) = writer.write(&txn)
                {
                    *error = Some(format!("cannot write {}: {e}", path.display()));
                }
            }
            Out::Memory(all) => all.push(txn),
        }
    }

    /// The whole history, once the users are done: read back from its file (flushed first).
    pub(crate) fn finish(&self) -> Result<Vec<Txn>, String> {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *out {
            Out::File { path, writer, error } => {
                if let Err(e) = writer.flush() {
                    error.get_or_insert(format!("cannot write {}: {e}", path.display()));
                }
                if let Some(e) = error {
                    return Err(e.clone());
                }
                history::read(path).map_err(|e| e.to_string())
            }
            Out::Memory(all) => Ok(std::mem::take(all)),
        }
    }
}
