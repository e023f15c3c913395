//! Errors that say whether trying again can help.

/// Whether the event that hit an error should come back.
pub trait Retry {
    /// True when the same event, delivered again later, may succeed (throttling, a timeout, a
    /// service error); false when it will fail the same way (bad input, missing permission).
    fn retryable(&self) -> bool;
}

/// A failure reaching AWS (or the folder standing in for it), with the operation and resource it
/// was about, so the log line names what to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Throttling, timeouts, 5xx: worth another try.
    #[error("{op} {resource} failed for now, will be retried: {message}")]
    Transient {
        op: &'static str,
        resource: String,
        message: String,
    },
    /// Access denied, missing bucket or topic: a person must fix the stack or its permissions.
    #[error(
        "{op} {resource} was refused: {message} (check the function's role and the stack's resources)"
    )]
    Refused {
        op: &'static str,
        resource: String,
        message: String,
    },
    /// Anything else the service answered: treated as not retryable, with its words.
    #[error("{op} {resource} failed: {message}")]
    Other {
        op: &'static str,
        resource: String,
        message: String,
    },
}

impl Retry for StoreError {
    fn retryable(&self) -> bool {
        matches!(self, StoreError::Transient { .. })
    }
}

/// The error type a Lambda function reports for `error`: `Retryable` or `NonRetryable`, so a
/// person reading the invocation's failure knows at once whether the event will come back.
pub fn error_type(error: &impl Retry) -> &'static str {
    if error.retryable() {
        "Retryable"
    } else {
        "NonRetryable"
    }
}
