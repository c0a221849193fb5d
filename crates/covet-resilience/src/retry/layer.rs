//! The retry policy as a layer over an adapter.

use std::sync::Arc;

use std::future::Future;

use covet_core::{
    Adapter, Call, CallKind, Intercept, Layer, Layered, Reply, Result, Transaction, TxOptions,
};

use super::policy::RetryPolicy;
use super::transaction::{BoxFuture, transaction};

/// Wraps adapters in a [`Retry`] sharing one policy (and so one budget).
#[derive(Debug, Clone, Default)]
pub struct RetryLayer {
    policy: RetryPolicy,
}

impl RetryLayer {
    /// A layer applying `policy`.
    pub fn new(policy: RetryPolicy) -> Self {
        RetryLayer { policy }
    }
}

impl Layer for RetryLayer {
    fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter> {
        Arc::new(Retry::new(inner, self.policy.clone()))
    }
}

/// The retry layer's hooks: failed calls are retried by a [`RetryPolicy`].
///
/// Statements are repeated only as [`super::is_retryable`] allows, so a
/// statement not marked idempotent is never sent again after an ambiguous
/// failure. `begin`, `ping`, `schema` and `server_version` are treated as
/// idempotent, a bulk insert as not. Inside a transaction every call passes
/// through untouched: a statement of a transaction cannot be repeated
/// alone; use [`Retry::transaction`] to re-run a whole transaction.
pub struct Retry {
    inner: Arc<dyn Adapter>,
    policy: RetryPolicy,
}

impl Retry {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Adapter>, policy: RetryPolicy) -> Layered<Retry> {
        Layered::new(Arc::clone(&inner), Retry { inner, policy })
    }

    /// The policy applied.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Runs `body` in a transaction, re-running it from the start on a
    /// serialization failure or deadlock, with this adapter's policy.
    pub async fn transaction<T, F>(&self, options: TxOptions, body: F) -> Result<T>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut dyn Transaction) -> BoxFuture<'t, Result<T>> + Send,
    {
        transaction(&*self.inner, &self.policy, options, body).await
    }
}

impl Intercept for Retry {
    fn around_repeatable<'a, T: Reply + 'a, F, Fut>(
        &'a self,
        call: Call<'a>,
        attempt: F,
    ) -> impl Future<Output = Result<T>> + Send + 'a
    where
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        let policy = &self.policy;
        async move {
            match (call.kind(), call.statement()) {
                (_, Some(stmt)) => {
                    policy
                        .retry_bounded(stmt.is_idempotent(), stmt.timeout_duration(), attempt)
                        .await
                }
                // A bulk insert is never idempotent: only failures that
                // happened before the server ran it are retried.
                (CallKind::BulkInsert, None) => policy.retry(false, attempt).await,
                _ => policy.retry(true, attempt).await,
            }
        }
    }

    /// Each try of a bulk insert needs its own copy of the rows; with one
    /// attempt allowed none is made.
    fn repeats_bulk(&self) -> bool {
        self.policy.max_attempts > 1
    }
}
