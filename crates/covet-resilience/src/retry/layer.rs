//! The retry policy as a layer over an adapter.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    Adapter, Dialect, Engine, ExecResult, Layer, Outcome, PoolState, Result, RowStream, Rows,
    Schema, Statement, Transaction, TxOptions, Value,
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

/// An adapter that retries failed calls by its [`RetryPolicy`].
///
/// Statements are repeated only as [`super::is_retryable`] allows, so a
/// statement not marked idempotent is never sent again after an ambiguous
/// failure. `begin`, `ping`, `schema` and `server_version` are treated as
/// idempotent. Statements inside a transaction are not retried one by one:
/// use [`Retry::transaction`] to re-run a whole transaction.
pub struct Retry {
    inner: Arc<dyn Adapter>,
    policy: RetryPolicy,
}

impl Retry {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Adapter>, policy: RetryPolicy) -> Self {
        Retry { inner, policy }
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

#[async_trait]
impl Adapter for Retry {
    fn engine(&self) -> Engine {
        self.inner.engine()
    }
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        self.policy
            .retry_bounded(stmt.is_idempotent(), stmt.timeout_duration(), || {
                self.inner.execute(stmt)
            })
            .await
    }
    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        self.policy
            .retry_bounded(stmt.is_idempotent(), stmt.timeout_duration(), || {
                self.inner.query(stmt)
            })
            .await
    }
    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        self.policy
            .retry_bounded(stmt.is_idempotent(), stmt.timeout_duration(), || {
                self.inner.query_stream(stmt)
            })
            .await
    }
    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        self.policy
            .retry_bounded(stmt.is_idempotent(), stmt.timeout_duration(), || {
                self.inner.run(stmt)
            })
            .await
    }
    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        self.policy
            .retry(true, || self.inner.begin_with(options))
            .await
    }
    async fn bulk_insert(
        &self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        if self.policy.max_attempts <= 1 {
            return self.inner.bulk_insert(table, columns, rows).await;
        }
        // A bulk insert is never idempotent: only failures that happened
        // before the server ran it are retried, and each try needs its
        // own copy of the rows.
        self.policy
            .retry(false, || {
                self.inner.bulk_insert(table, columns, rows.clone())
            })
            .await
    }
    async fn schema(&self) -> Result<Schema> {
        self.policy.retry(true, || self.inner.schema()).await
    }
    async fn ping(&self) -> Result<()> {
        self.policy.retry(true, || self.inner.ping()).await
    }
    async fn server_version(&self) -> Result<String> {
        self.policy
            .retry(true, || self.inner.server_version())
            .await
    }
    fn default_timeout(&self) -> Option<Duration> {
        self.inner.default_timeout()
    }
    fn pool_state(&self) -> Option<PoolState> {
        self.inner.pool_state()
    }
    async fn close(&self) {
        self.inner.close().await;
    }
}
