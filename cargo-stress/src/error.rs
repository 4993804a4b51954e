//! Errors of `cargo stress`, each with its exit code.

pub use stress_core::verdict::{EXIT_BUILD, EXIT_FAILED, EXIT_OK, EXIT_REGRESSION, EXIT_THRESHOLDS, EXIT_USAGE};

/// What went wrong, as one line that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flags, settings, paths or replay files.
    #[error("{0}")]
    Usage(String),
    /// cargo could not build the harness.
    #[error("{0}")]
    Build(String),
    /// A workload failed.
    #[error("{0}")]
    Failed(String),
    /// Thresholds were breached; nothing else failed.
    #[error("{0}")]
    Thresholds(String),
    /// A comparison with a baseline found a regression; nothing else failed.
    #[error("{0}")]
    Regressed(String),
}

impl CliError {
    /// The failure a run's verdict exit code stands for ([`stress_core::verdict::exit_code`]).
    pub(crate) fn from_exit_code(code: u8, msg: String) -> Self {
        match code {
            EXIT_THRESHOLDS => Self::Thresholds(msg),
            EXIT_USAGE => Self::Usage(msg),
            EXIT_BUILD => Self::Build(msg),
            EXIT_REGRESSION => Self::Regressed(msg),
            _ => Self::Failed(msg),
        }
    }

    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            Self::Build(_) => EXIT_BUILD,
            Self::Failed(_) => EXIT_FAILED,
            Self::Thresholds(_) => EXIT_THRESHOLDS,
            Self::Regressed(_) => EXIT_REGRESSION,
        }
    }
}

pub(crate) fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}
