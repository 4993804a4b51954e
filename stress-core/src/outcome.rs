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
///
/// An op that fails with an error its adapter calls retryable ([`Adapter::is_retryable`]:
/// a serialization failure or deadlock on PostgreSQL, `SQLITE_BUSY` on SQLite), or one marked
/// [`retryable`](Self::retryable), is tried again, up to `--max-tries`.
///
/// [`Adapter::is_retryable`]: crate::Adapter::is_retryable
pub struct OpError {
    inner: Box<dyn std::error::Error + Send + Sync + 'static>,
    retryable: bool,
}

impl OpError {
    /// An error with a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            inner: message.to_string().into(),
            retryable: false,
        }
    }

    /// This error, marked as worth another try of the op (a conflict of the workload's own
    /// making, say), whatever the adapter thinks of it.
    #[must_use]
    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// Whether the op marked this error [`retryable`](Self::retryable).
    pub fn is_marked_retryable(&self) -> bool {
        self.retryable
    }

    /// The underlying error.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.inner
    }

    /// The first error of type `E` in the chain (the error, then its sources): how an adapter
    /// finds its engine's error inside whatever the op wrapped it in.
    pub fn find<E: std::error::Error + 'static>(&self) -> Option<&E> {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self.inner());
        while let Some(e) = next {
            if let Some(found) = e.downcast_ref::<E>() {
                return Some(found);
            }
            next = e.source();
        }
        None
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for OpError {
    fn from(e: E) -> Self {
        Self {
            inner: Box::new(e),
            retryable: false,
        }
    }
}

impl fmt::Display for OpError {
    /// The error and its sources, joined with `: `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner)?;
        let mut source = self.inner.source();
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

    #[test]
    fn an_error_is_found_anywhere_in_the_chain_and_can_be_marked_retryable() {
        let e: OpError = Outer(std::io::Error::other("busy")).into();
        assert!(e.find::<std::io::Error>().is_some_and(|io| io.to_string() == "busy"));
        assert!(e.find::<Outer>().is_some());
        assert!(e.find::<std::fmt::Error>().is_none());
        assert!(!e.is_marked_retryable());
        assert!(e.retryable().is_marked_retryable());
    }
}
