//! Retrying failed calls: exponential backoff with full jitter, one total
//! deadline, and a retry budget shared by every caller of a stack.
//!
//! What may be retried comes from the error's [`RetryClass`] and the
//! statement's [`Statement::is_idempotent`](covet_core::Statement::is_idempotent):
//!
//! | class | retried |
//! |---|---|
//! | `Reconnect`, `RetryStatement`, `BackOff` | yes (`BackOff` waits longer) |
//! | `RetryTransaction` | yes for a single autocommit statement; inside a transaction only [`transaction`] re-runs the whole closure |
//! | `Ambiguous` | only statements marked idempotent |
//! | `Never` | no |
//!
//! One exception, on the side of safety: a [`covet_core::ErrorKind::Connection`]
//! error on a statement not marked idempotent is not retried unless the
//! policy is built with `trust_reconnect(true)`. A driver that sees its
//! socket close mid-call cannot always tell whether the statement was lost
//! or only its answer; repeating an INSERT on that guess duplicates rows
//! (the fault-injection test in covet-monitor caught exactly that).

mod budget;
mod layer;
mod policy;
mod transaction;

pub use budget::RetryBudget;
pub use layer::{Retry, RetryLayer};
pub use policy::{RetryPolicy, RetryPolicyBuilder};
pub use transaction::{BoxFuture, transaction};

use covet_core::{Error, RetryClass};

/// Whether an error may be retried, given whether the call is idempotent.
///
/// ```
/// use covet_core::{Error, ErrorKind, RetryClass};
/// use covet_resilience::retry::is_retryable;
/// let timeout = Error::new(ErrorKind::Timeout, "statement timeout");
/// assert!(!is_retryable(&timeout, false));
/// assert!(is_retryable(&timeout, true));
/// assert!(!is_retryable(&Error::new(ErrorKind::UniqueViolation, "dup"), true));
/// ```
pub fn is_retryable(error: &Error, idempotent: bool) -> bool {
    match error.retry_class() {
        RetryClass::Reconnect
        | RetryClass::RetryStatement
        | RetryClass::BackOff
        | RetryClass::RetryTransaction => true,
        RetryClass::Ambiguous => idempotent,
        _ => false,
    }
}
