//! The slow log as a layer over an adapter.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use covet_core::{
    Adapter, Dialect, Engine, ExecResult, Layer, Outcome, PoolState, Result, RowStream, Rows,
    Schema, Statement, Transaction, TxOptions, TxRowStream, Value,
};
use tokio::sync::Semaphore;

use super::{QueryEvent, SlowLog};
use crate::plan::spawn_capture;

/// Wraps adapters in a [`SlowLogAdapter`] reporting to one log.
#[derive(Clone)]
pub struct SlowLogLayer {
    log: Arc<dyn SlowLog>,
    plan_slots: Arc<Semaphore>,
}

impl SlowLogLayer {
    /// A layer reporting to `log`. At most two plan captures run at once;
    /// more are skipped rather than queued.
    pub fn new(log: Arc<dyn SlowLog>) -> Self {
        SlowLogLayer {
            log,
            plan_slots: Arc::new(Semaphore::new(2)),
        }
    }
}

impl Layer for SlowLogLayer {
    fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter> {
        Arc::new(SlowLogAdapter {
            inner,
            log: self.log.clone(),
            plan_slots: self.plan_slots.clone(),
        })
    }
}

/// An adapter that times each statement and reports slow ones to a
/// [`SlowLog`], capturing plans off the request path.
pub struct SlowLogAdapter {
    inner: Arc<dyn Adapter>,
    log: Arc<dyn SlowLog>,
    plan_slots: Arc<Semaphore>,
}

impl SlowLogAdapter {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Adapter>, log: Arc<dyn SlowLog>) -> Self {
        SlowLogAdapter {
            inner,
            log,
            plan_slots: Arc::new(Semaphore::new(2)),
        }
    }
}

struct Observer<'a> {
    inner: &'a Arc<dyn Adapter>,
    log: &'a Arc<dyn SlowLog>,
    plan_slots: &'a Arc<Semaphore>,
    engine: Engine,
}

impl Observer<'_> {
    #[inline]
    async fn timed<T, Fut>(
        &self,
        stmt: &Statement,
        rows: fn(&T) -> Option<u64>,
        fut: Fut,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        let start = Instant::now();
        let result = fut.await;
        self.report(stmt, start.elapsed(), &result, rows);
        result
    }

    #[inline]
    fn report<T>(
        &self,
        stmt: &Statement,
        elapsed: Duration,
        result: &Result<T>,
        rows: fn(&T) -> Option<u64>,
    ) {
        let event = QueryEvent {
            engine: self.engine,
            stmt,
            elapsed,
            error: result.as_ref().err().map(covet_core::Error::kind),
            rows: result.as_ref().ok().and_then(rows),
        };
        if let Some(req) = self.log.observe(&event) {
            spawn_capture(
                self.inner.clone(),
                self.log.clone(),
                self.plan_slots.clone(),
                stmt,
                req,
            );
        }
    }
}

fn rows_of(r: &Rows) -> Option<u64> {
    Some(r.len() as u64)
}
fn affected(r: &ExecResult) -> Option<u64> {
    Some(r.rows_affected)
}
fn outcome_rows(r: &Outcome) -> Option<u64> {
    match r {
        Outcome::Done(done) => Some(done.rows_affected),
        _ => None,
    }
}
fn none<T>(_: &T) -> Option<u64> {
    None
}

impl SlowLogAdapter {
    fn observer(&self) -> Observer<'_> {
        Observer {
            inner: &self.inner,
            log: &self.log,
            plan_slots: &self.plan_slots,
            engine: self.inner.engine(),
        }
    }
}

#[async_trait]
impl Adapter for SlowLogAdapter {
    fn engine(&self) -> Engine {
        self.inner.engine()
    }
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        self.observer()
            .timed(stmt, affected, self.inner.execute(stmt))
            .await
    }
    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        self.observer()
            .timed(stmt, rows_of, self.inner.query(stmt))
            .await
    }
    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        // Only the time to the first row batch is measured: the rest
        // depends on how fast the caller reads.
        self.observer()
            .timed(stmt, none, self.inner.query_stream(stmt))
            .await
    }
    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        // As for query_stream, a result set is timed to its first batch.
        self.observer()
            .timed(stmt, outcome_rows, self.inner.run(stmt))
            .await
    }
    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        let tx = self.inner.begin_with(options).await?;
        Ok(Box::new(SlowLogTransaction {
            tx,
            inner: self.inner.clone(),
            log: self.log.clone(),
            plan_slots: self.plan_slots.clone(),
        }))
    }
    async fn bulk_insert(
        &self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        self.inner.bulk_insert(table, columns, rows).await
    }
    async fn schema(&self) -> Result<Schema> {
        self.inner.schema().await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    async fn server_version(&self) -> Result<String> {
        self.inner.server_version().await
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

/// A transaction whose statements are timed too. Plans for them are
/// captured on a separate connection, outside the transaction.
struct SlowLogTransaction {
    tx: Box<dyn Transaction>,
    inner: Arc<dyn Adapter>,
    log: Arc<dyn SlowLog>,
    plan_slots: Arc<Semaphore>,
}

impl SlowLogTransaction {
    fn observer(&self) -> Observer<'_> {
        Observer {
            inner: &self.inner,
            log: &self.log,
            plan_slots: &self.plan_slots,
            engine: self.tx.engine(),
        }
    }
}

#[async_trait]
impl Transaction for SlowLogTransaction {
    fn engine(&self) -> Engine {
        self.tx.engine()
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        let start = Instant::now();
        let r = self.tx.execute(stmt).await;
        self.observer().report(stmt, start.elapsed(), &r, affected);
        r
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        let start = Instant::now();
        let r = self.tx.query(stmt).await;
        self.observer().report(stmt, start.elapsed(), &r, rows_of);
        r
    }
    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        self.tx.query_stream(stmt).await
    }
    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        self.tx.bulk_insert(table, columns, rows).await
    }
    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        self.tx.savepoint().await
    }
    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await
    }
    async fn rollback(self: Box<Self>) -> Result<()> {
        self.tx.rollback().await
    }
}
