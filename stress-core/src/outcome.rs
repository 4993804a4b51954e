//! What one op reports: its outcome, or an error.

use std::fmt;

/// The result of one op.
pub type OpResult = Result<Outcome, OpError>;

/// What a successful op did: rows and bytes it touched, counted into the run's totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Rows read or written.
    pub rows: u64,
    /// Payload bytes read or written.
    pub bytes: u64,
}

impl Outcome {
    /// An op that touched no rows worth counting.
    pub const fn done() -> Self {
        Self { rows: 0, bytes: 0 }
    }

    /// An op that read or wrote `rows` rows.
    pub const fn rows(rows: u64) -> Self {
        Self { rows, bytes: 0 }
    }

    /// Adds a payload size in bytes.
    pub const fn with_bytes(mut self, bytes: u64) -> Self {
        self.bytes = bytes;
        self
    }
}

/// The error of a failed op, setup or verify step: any error type converts into it with `?`.
///
/// Like `anyhow::Error` it keeps the source chain; unlike it, it costs nothing to depend on.
pub struct OpError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl OpError {
    /// An error with a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self(message.to_string().into())
    }

    /// The underlying error.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for OpError {
    fn from(e: E) -> Self {
        Self(Box::new(e))
    }
}

impl fmt::Display for OpError {
    /// The error and its sources, joined with `: `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

impl fmt::Debug for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpError({self})")
    }
}

/// Returns early from an op with an [`OpError`] built like `format!`.
#[macro_export]
macro_rules! op_bail {
    ($($arg:tt)*) => {
        return ::core::result::Result::Err($crate::OpError::msg(::std::format!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn display_keeps_the_chain() {
        let e: OpError = Outer(std::io::Error::other("disk on fire")).into();
        assert_eq!(e.to_string(), "outer: disk on fire");
        assert_eq!(OpError::msg("plain").to_string(), "plain");
    }
}
