//! Errors returned by the pool.

use std::fmt;
use std::time::Duration;

use crate::loom::sync::StdArc as Arc;

/// Why [`crate::Pool::get`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError<E> {
    /// `acquire_timeout` passed without a connection.
    Timeout {
        /// How long the caller waited.
        waited: Duration,
        /// The last real error from `Manager::create` (wrong password,
        /// connection refused, ...) when creates were failing; `None` when
        /// the pool was simply busy. Shared, so every caller that times out
        /// while it stands gets the same error, however many time out
        /// together. A successful create clears it.
        last_error: Option<Arc<E>>,
    },
    /// The pool was closed.
    Closed,
}

impl<E: fmt::Display> fmt::Display for PoolError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Timeout {
                waited,
                last_error: Some(e),
            } => write!(
                f,
                "timed out after {waited:?} waiting for a connection; last connect error: {e}"
            ),
            PoolError::Timeout {
                waited,
                last_error: None,
            } => write!(f, "timed out after {waited:?} waiting for a connection"),
            PoolError::Closed => f.write_str("the pool is closed"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for PoolError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Timeout {
                last_error: Some(e),
                ..
            } => Some(&**e),
            _ => None,
        }
    }
}

/// Why [`crate::Pool::close`] returned before every connection was closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CloseError {
    /// The deadline passed while connections were still checked out or
    /// being created; they close when they come back.
    #[error(
        "close deadline passed with {in_use} connection(s) in use and {creating} being created"
    )]
    Timeout {
        /// Connections still checked out (or being pinged).
        in_use: u32,
        /// Creates still in flight.
        creating: u32,
    },
}
