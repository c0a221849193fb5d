//! The timeout layer and adapter.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    Adapter, Dialect, Engine, ExecResult, Layer, Outcome, PoolState, Result, RowStream, Rows,
    Schema, Statement, Transaction, TxOptions, TxRowStream, Value,
};

use super::error::Elapsed;

/// Wraps adapters in a [`Timeout`].
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    default: Duration,
    grace: Duration,
}

impl TimeoutLayer {
    /// Statements without their own timeout get `default`; the local
    /// backstop fires `grace` later (default grace: 1 s).
    pub fn new(default: Duration) -> Self {
        TimeoutLayer {
            default,
            grace: Duration::from_secs(1),
        }
    }

    /// Sets the time the server-side cancel gets before the backstop fires.
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }
}

impl Layer for TimeoutLayer {
    fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter> {
        Arc::new(Timeout {
            inner,
            default: self.default,
            grace: self.grace,
        })
    }
}

/// An adapter that bounds every statement's time (see the module docs).
///
/// Calls without a statement (`begin`, `ping`, `schema`,
/// `server_version`, `bulk_insert`) are bounded by the default timeout
/// plus grace on the local clock only.
pub struct Timeout {
    inner: Arc<dyn Adapter>,
    default: Duration,
    grace: Duration,
}

impl Timeout {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Adapter>, default: Duration) -> Self {
        Timeout {
            inner,
            default,
            grace: Duration::from_secs(1),
        }
    }
}

/// The statement as it will be sent (with a timeout) and that timeout.
fn with_timeout<'s>(
    stmt: &'s Statement,
    default: Duration,
) -> (std::borrow::Cow<'s, Statement>, Duration) {
    match stmt.timeout_duration() {
        Some(t) => (std::borrow::Cow::Borrowed(stmt), t),
        None => (
            std::borrow::Cow::Owned(stmt.clone().timeout(default)),
            default,
        ),
    }
}

async fn backstop<T>(
    limit: Duration,
    grace: Duration,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit + grace, fut).await {
        Ok(r) => r,
        Err(_) => Err(Elapsed {
            timeout: limit,
            grace,
        }
        .into()),
    }
}

#[async_trait]
impl Adapter for Timeout {
    fn engine(&self) -> Engine {
        self.inner.engine()
    }
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        let (stmt, limit) = with_timeout(stmt, self.default);
        backstop(limit, self.grace, self.inner.execute(&stmt)).await
    }
    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        let (stmt, limit) = with_timeout(stmt, self.default);
        backstop(limit, self.grace, self.inner.query(&stmt)).await
    }
    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        let (stmt, limit) = with_timeout(stmt, self.default);
        backstop(limit, self.grace, self.inner.query_stream(&stmt)).await
    }
    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        let (stmt, limit) = with_timeout(stmt, self.default);
        backstop(limit, self.grace, self.inner.run(&stmt)).await
    }
    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        let tx = backstop(self.default, self.grace, self.inner.begin_with(options)).await?;
        Ok(Box::new(TimeoutTransaction {
            inner: tx,
            default: self.default,
            grace: self.grace,
        }))
    }
    async fn bulk_insert(
        &self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        backstop(
            self.default,
            self.grace,
            self.inner.bulk_insert(table, columns, rows),
        )
        .await
    }
    async fn schema(&self) -> Result<Schema> {
        backstop(self.default, self.grace, self.inner.schema()).await
    }
    async fn ping(&self) -> Result<()> {
        backstop(self.default, self.grace, self.inner.ping()).await
    }
    async fn server_version(&self) -> Result<String> {
        backstop(self.default, self.grace, self.inner.server_version()).await
    }
    fn default_timeout(&self) -> Option<Duration> {
        Some(self.default)
    }
    fn pool_state(&self) -> Option<PoolState> {
        self.inner.pool_state()
    }
    async fn close(&self) {
        self.inner.close().await;
    }
}

/// A transaction whose statements get the layer's default timeout.
struct TimeoutTransaction {
    inner: Box<dyn Transaction>,
    default: Duration,
    grace: Duration,
}

#[async_trait]
impl Transaction for TimeoutTransaction {
    fn engine(&self) -> Engine {
        self.inner.engine()
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        let (stmt, limit) = with_timeout(stmt, self.default);
        backstop(limit, self.grace, self.inner.execute(&stmt)).await
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        let (stmt, limit) = with_timeout(stmt, self.default);
        backstop(limit, self.grace, self.inner.query(&stmt)).await
    }
    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        let (stmt, limit) = with_timeout(stmt, self.default);
        backstop(limit, self.grace, self.inner.query_stream(&stmt)).await
    }
    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        backstop(
            self.default,
            self.grace,
            self.inner.bulk_insert(table, columns, rows),
        )
        .await
    }
    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        self.inner.savepoint().await
    }
    async fn commit(self: Box<Self>) -> Result<()> {
        backstop(self.default, self.grace, self.inner.commit()).await
    }
    async fn rollback(self: Box<Self>) -> Result<()> {
        backstop(self.default, self.grace, self.inner.rollback()).await
    }
}
