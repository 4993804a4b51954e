//! Errors of `cargo stress`, each with its exit code.

/// Exit code: every workload ran and passed.
pub const EXIT_OK: u8 = 0;
/// Exit code: a workload failed (errors above its allowance, failed verify step, crash,
/// resource limit, interrupted).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: usage or configuration error.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the build failed.
pub const EXIT_BUILD: u8 = 3;
/// Exit code: a threshold was breached, and nothing else failed.
pub const EXIT_THRESHOLDS: u8 = 4;

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
}

impl CliError {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            Self::Build(_) => EXIT_BUILD,
            Self::Failed(_) => EXIT_FAILED,
            Self::Thresholds(_) => EXIT_THRESHOLDS,
        }
    }
}

pub(crate) fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}
