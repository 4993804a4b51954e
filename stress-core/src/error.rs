//! Typed errors: each message is one line that names the cause and the fix.

use std::path::PathBuf;

/// A setting that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// A `STRESS_*` variable holds a value of the wrong form: fix or unset it.
    #[error("{var}=`{value}` is invalid: {expected}")]
    Env {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
        /// What it expects.
        expected: String,
    },
    /// Settings that contradict each other or the workload: the message says which.
    #[error("{0}")]
    Invalid(String),
}

impl ConfigError {
    pub(crate) fn env(var: &str, value: &str, expected: impl Into<String>) -> Self {
        Self::Env {
            var: var.to_owned(),
            value: value.to_owned(),
            expected: expected.into(),
        }
    }
}

/// A workload that is not well formed: fix its definition.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkloadError {
    /// The workload has no user classes.
    #[error("workload has no user classes: add one with .class(UserClass::new(\"name\", users)...)")]
    NoClasses,
    /// Two classes share a name.
    #[error("class `{0}` is defined twice: give each class its own name")]
    DuplicateClass(String),
    /// A class has no ops.
    #[error("class `{0}` has no ops: add some with .read(..) or .write(..)")]
    NoOps(String),
    /// Two ops of one class share a name.
    #[error("class `{class}` defines op `{op}` twice: give each op its own name")]
    DuplicateOp {
        /// The class.
        class: String,
        /// The op.
        op: String,
    },
    /// A weight is negative, infinite or NaN.
    #[error("class `{class}` op `{op}` has weight {weight}: weights must be finite and not negative")]
    BadWeight {
        /// The class.
        class: String,
        /// The op.
        op: String,
        /// The weight.
        weight: String,
    },
    /// A class rate that is not a positive number.
    #[error("class `{0}` has a rate that is not above 0: give ops/s, like .rate(100.0)")]
    BadRate(String),
    /// Every op of a class has weight 0.
    #[error("class `{0}` has only zero weights: give at least one op a positive weight")]
    AllZero(String),
    /// A parameter declaration that cannot be used.
    #[error("parameter `{name}` {why}")]
    BadParam {
        /// The parameter.
        name: String,
        /// What is wrong with it.
        why: String,
    },
}

/// A replay file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file is not there.
    #[error(
        "replay file {path} cannot be read: {source} (give the replay.json of a run, or the run directory holding it)"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a replay file.
    #[error("replay file {path} is not valid: {message} (was it written by cargo-stress?)")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// Another format version.
    #[error(
        "replay file {path} has format_version {found}, this build reads {supported}: replay it with the cargo-stress version that wrote it ({tool})"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The file's version.
        found: u64,
        /// The version this build reads.
        supported: u64,
        /// The tool version that wrote it.
        tool: String,
    },
    /// The recorded workload is not in this binary.
    #[error("replay file {path} is for workload `{workload}`, which this binary does not have (it has: {available})")]
    UnknownWorkload {
        /// The file.
        path: PathBuf,
        /// The recorded workload.
        workload: String,
        /// What the binary has.
        available: String,
    },
    /// The file holds a run that cannot run as written (edited, damaged, or from elsewhere).
    #[error("replay file {path} cannot be run as written: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The workload changed since the recording.
    #[error("replay file {path} does not fit workload `{workload}` any more: {message}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// The workload.
        workload: String,
        /// What differs.
        message: String,
    },
}

/// Why a run could not start: nothing was measured and no files were written.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A bad setting.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A malformed workload.
    #[error("workload `{name}`: {source}")]
    Workload {
        /// The workload.
        name: String,
        /// What is wrong.
        source: WorkloadError,
    },
    /// A bad replay file.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The output directory cannot be used.
    #[error("output directory {path}: {message}")]
    Output {
        /// The directory.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The run was interrupted (Ctrl-C) before it started.
    #[error("interrupted before the run started")]
    Interrupted,
}
