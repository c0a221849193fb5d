//! Re-running a whole transaction after a serialization failure or deadlock.

use std::future::Future;
use std::pin::Pin;

use covet_core::{Adapter, Result, RetryClass, Transaction, TxOptions};
use tokio::time::Instant;

use super::is_retryable;
use super::policy::{RetryPolicy, deadline_passed};

/// A boxed, sendable future (what transaction closures return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs `body` inside a transaction on `adapter` and commits; when the body
/// or the commit fails with [`RetryClass::RetryTransaction`] (SQLSTATE
/// 40001, 40P01, MySQL 1213) the transaction is rolled back and the whole
/// body runs again, with `policy`'s backoff, deadline and budget.
///
/// A failed `begin` is retried like any idempotent call. Any other error,
/// including a commit whose outcome is unknown ([`RetryClass::Ambiguous`]),
/// is returned and never re-run.
///
/// ```no_run
/// # async fn f(db: &dyn covet_core::Adapter) -> covet_core::Result<()> {
/// use covet_core::{Statement, TxOptions};
/// use covet_resilience::retry::{transaction, RetryPolicy};
/// let policy = RetryPolicy::default();
/// let moved = transaction(db, &policy, TxOptions::default(), |tx| Box::pin(async move {
///     tx.execute(&Statement::new("UPDATE accounts SET balance = balance - 10 WHERE id = 1")).await?;
///     tx.execute(&Statement::new("UPDATE accounts SET balance = balance + 10 WHERE id = 2")).await?;
///     Ok(20)
/// })).await?;
/// # let _ = moved; Ok(()) }
/// ```
pub async fn transaction<T, F>(
    adapter: &dyn Adapter,
    policy: &RetryPolicy,
    options: TxOptions,
    mut body: F,
) -> Result<T>
where
    T: Send,
    F: for<'t> FnMut(&'t mut dyn Transaction) -> BoxFuture<'t, Result<T>> + Send,
{
    let deadline = policy.deadline.map(|d| Instant::now() + d);
    let mut attempt = 1;
    loop {
        let once = async {
            let mut tx = match adapter.begin_with(options).await {
                Ok(tx) => tx,
                Err(e) => return (true, Err(e)),
            };
            match body(&mut *tx).await {
                Ok(v) => (false, tx.commit().await.map(|()| v)),
                Err(e) => {
                    // The rollback's own failure is not the interesting
                    // error; the body's is.
                    let _ = tx.rollback().await;
                    (false, Err(e))
                }
            }
        };
        let (at_begin, result) = match deadline {
            Some(at) => match tokio::time::timeout_at(at, once).await {
                Ok(r) => r,
                Err(_) => return Err(deadline_passed(policy.deadline, attempt)),
            },
            None => once.await,
        };
        let err = match result {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let retryable = if at_begin {
            is_retryable(&err, true)
        } else {
            err.retry_class() == RetryClass::RetryTransaction
        };
        if !retryable {
            return Err(err);
        }
        let Some(wait) = policy.next_wait(attempt, &err, deadline) else {
            return Err(err);
        };
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}
