//! Is what the engine answered correct? Transactions recorded as a history and checked after the
//! run by an Elle-class checker ([`stress_isolation`]): the dependencies between transactions are
//! inferred from the values they wrote and read, and every cycle the expected consistency model
//! forbids is an anomaly, reported with a witness a person can follow.
//!
//! A workload says what it expects with [`Workload::isolation`](crate::Workload::isolation) and
//! runs transactions that record themselves: the kits here ([`append_txn`] for list-append,
//! [`register_txn`] for rw-register, on the SQL layer of any engine, tables made by [`setup`]),
//! or its own through [`User::record_txn`](crate::User::record_txn). Each transaction's outcome is
//! the framework's to decide, as for tracked writes: *ok* when the op returned `Ok`, *fail* when
//! it failed with the engine's own error (it aborted: nothing of it may be visible), *info* when
//! its error leaves the commit open (a fault broke the connection). The history is written to
//! `history.jsonl` in the run directory as the run goes; `cargo stress check DIR` checks it again.
//!
//! The kits' knobs are workload parameters (`--param`), declared by `Workload::isolation`:
//! `isolation` (the level to ask the engine for: `serializable`, `repeatable_read`,
//! `read_committed`), `keys` (keys in play at once), `txn_len` (most micro-operations a
//! transaction holds), `read_share` (the share of reads) and `key_rotation` (after this many
//! transactions a user moves on to fresh keys, so that lists stay short).

mod kit;

use std::path::Path;

pub use crate::history::HISTORY_FILE;
pub use kit::{KITS_TABLES, append_txn, register_txn, setup};
pub use stress_isolation::{
    Anomaly, HistoryError, Kind, Model, Mop, Options, Outcome, ReadValue, Report, Txn, Witness, WitnessTxn, history,
};

/// What a workload expects of the engine's answers: the model its transactions must satisfy and
/// how they read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Expectation {
    /// The consistency model a history must satisfy.
    pub model: Model,
    /// List-append or rw-register.
    pub kind: Kind,
}

/// Why a recorded history could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The run directory has no summary that says what to check against.
    #[error("{path}: {message}")]
    Run {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The history file is damaged.
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// Checks the history of the run in `dir` again, against the model and kind its summary
/// recorded (or `model` when given): what `cargo stress check DIR` runs.
pub fn check_dir(dir: &Path, model: Option<Model>) -> Result<Report, CheckError> {
    let summary_path = dir.join("summary.json");
    let summary = crate::Summary::load(&summary_path).map_err(|e| CheckError::Run {
        path: summary_path.clone(),
        message: e.to_string(),
    })?;
    let Some(recorded) = summary.isolation else {
        return Err(CheckError::Run {
            path: summary_path,
            message: "the run checked no transactions (its workload declares no Workload::isolation): nothing to \
                      check"
                .into(),
        });
    };
    let history = history::read(&dir.join(HISTORY_FILE))?;
    Ok(check(&history, model.unwrap_or(recorded.model), recorded.kind))
}

/// Checks `history` against `model`.
pub fn check(history: &[Txn], model: Model, kind: Kind) -> Report {
    stress_isolation::check(
        history,
        &Options {
            model,
            kind,
            ..Options::default()
        },
    )
}
