//! The breaker as a layer over an adapter.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    Adapter, Dialect, Engine, Error, ErrorKind, ExecResult, Layer, Outcome, PoolState, Result,
    RowStream, Rows, Schema, Statement, Transaction, TxOptions, Value,
};

use super::{Admission, Breaker};

/// Wraps adapters in a [`BreakerAdapter`] sharing one breaker.
#[derive(Clone)]
pub struct BreakerLayer {
    breaker: Arc<dyn Breaker>,
}

impl BreakerLayer {
    /// A layer consulting `breaker`.
    pub fn new(breaker: Arc<dyn Breaker>) -> Self {
        BreakerLayer { breaker }
    }
}

impl Layer for BreakerLayer {
    fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter> {
        Arc::new(BreakerAdapter::new(inner, self.breaker.clone()))
    }
}

/// An adapter that asks a [`Breaker`] before each call and reports the
/// outcome after it.
///
/// `begin` is guarded; statements inside a transaction already hold a
/// connection and are not refused, but their outage errors are counted.
pub struct BreakerAdapter {
    inner: Arc<dyn Adapter>,
    breaker: Arc<dyn Breaker>,
}

impl BreakerAdapter {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Adapter>, breaker: Arc<dyn Breaker>) -> Self {
        BreakerAdapter { inner, breaker }
    }

    /// The breaker consulted.
    pub fn breaker(&self) -> &Arc<dyn Breaker> {
        &self.breaker
    }

    async fn guarded<'a, T, F, Fut>(&'a self, call: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>> + 'a,
    {
        let admission = self.breaker.try_acquire()?;
        let mut guard = Pending {
            breaker: &*self.breaker,
            admission: Some(admission),
        };
        let result = match self
            .breaker
            .probe_timeout()
            .filter(|_| admission.is_probe())
        {
            Some(limit) => match tokio::time::timeout(limit, call()).await {
                Ok(r) => r,
                Err(_) => {
                    guard.admission = None;
                    self.breaker.on_failure(admission);
                    return Err(probe_timed_out(limit));
                }
            },
            None => call().await,
        };
        guard.admission = None;
        match &result {
            Ok(_) => self.breaker.on_success(admission),
            Err(e) => self.breaker.on_error(admission, e),
        }
        result
    }
}

fn probe_timed_out(limit: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("circuit breaker probe took longer than {limit:?}"),
    )
}

/// Hands the admission back if the call's future is dropped mid-flight.
struct Pending<'a> {
    breaker: &'a dyn Breaker,
    admission: Option<Admission>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(a) = self.admission.take() {
            self.breaker.release(a);
        }
    }
}

#[async_trait]
impl Adapter for BreakerAdapter {
    fn engine(&self) -> Engine {
        self.inner.engine()
    }
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        self.guarded(|| self.inner.execute(stmt)).await
    }
    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        self.guarded(|| self.inner.query(stmt)).await
    }
    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        self.guarded(|| self.inner.query_stream(stmt)).await
    }
    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        self.guarded(|| self.inner.run(stmt)).await
    }
    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        let tx = self.guarded(|| self.inner.begin_with(options)).await?;
        Ok(Box::new(BreakerTransaction {
            inner: tx,
            breaker: self.breaker.clone(),
        }))
    }
    async fn bulk_insert(
        &self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        self.guarded(|| self.inner.bulk_insert(table, columns, rows))
            .await
    }
    async fn schema(&self) -> Result<Schema> {
        self.guarded(|| self.inner.schema()).await
    }
    async fn ping(&self) -> Result<()> {
        self.guarded(|| self.inner.ping()).await
    }
    async fn server_version(&self) -> Result<String> {
        self.guarded(|| self.inner.server_version()).await
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

/// A transaction whose outage errors count against the breaker.
struct BreakerTransaction {
    inner: Box<dyn Transaction>,
    breaker: Arc<dyn Breaker>,
}

impl BreakerTransaction {
    fn observe<T>(&self, result: Result<T>) -> Result<T> {
        Self::observe_with(&*self.breaker, result)
    }
}

#[async_trait]
impl Transaction for BreakerTransaction {
    fn engine(&self) -> Engine {
        self.inner.engine()
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        let r = self.inner.execute(stmt).await;
        self.observe(r)
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        let r = self.inner.query(stmt).await;
        self.observe(r)
    }
    async fn query_stream(&mut self, stmt: &Statement) -> Result<covet_core::TxRowStream<'_>> {
        self.inner.query_stream(stmt).await
    }
    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        let r = self.inner.bulk_insert(table, columns, rows).await;
        self.observe(r)
    }
    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        self.inner.savepoint().await
    }
    async fn commit(self: Box<Self>) -> Result<()> {
        let breaker = self.breaker.clone();
        let r = self.inner.commit().await;
        BreakerTransaction::observe_with(&*breaker, r)
    }
    async fn rollback(self: Box<Self>) -> Result<()> {
        self.inner.rollback().await
    }
}

impl BreakerTransaction {
    fn observe_with<T>(breaker: &dyn Breaker, result: Result<T>) -> Result<T> {
        // Only a closed breaker counts these: a transaction begun before the
        // breaker opened says nothing about a half-open probe.
        if let Err(e) = &result
            && breaker.state() == super::BreakerState::Closed
            && let Ok(a) = breaker.try_acquire()
        {
            breaker.on_error(a, e);
        }
        result
    }
}
