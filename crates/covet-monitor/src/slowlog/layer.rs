//! The slow log as a layer over an adapter.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use covet_core::{Adapter, Call, Intercept, Layer, Layered, Reply, Result};
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
        Arc::new(Layered::new(
            Arc::clone(&inner),
            SlowLogAdapter {
                inner,
                log: self.log.clone(),
                plan_slots: self.plan_slots.clone(),
            },
        ))
    }
}

/// The slow log's hooks: time each statement and report slow ones to a
/// [`SlowLog`], capturing plans off the request path.
///
/// Every statement is timed, inside transactions and savepoints as well as
/// outside; a plan for a statement of a transaction is captured on a
/// separate connection, outside the transaction. `query_stream` and a
/// `run` that returns rows are timed to their first batch of rows: the
/// rest depends on how fast the caller reads.
pub struct SlowLogAdapter {
    inner: Arc<dyn Adapter>,
    log: Arc<dyn SlowLog>,
    plan_slots: Arc<Semaphore>,
}

impl SlowLogAdapter {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Adapter>, log: Arc<dyn SlowLog>) -> Layered<SlowLogAdapter> {
        Layered::new(
            Arc::clone(&inner),
            SlowLogAdapter {
                inner,
                log,
                plan_slots: Arc::new(Semaphore::new(2)),
            },
        )
    }
}

impl Intercept for SlowLogAdapter {
    async fn around<'a, T: Reply + 'a>(
        &'a self,
        call: Call<'a>,
        fut: impl Future<Output = Result<T>> + Send + 'a,
    ) -> Result<T> {
        let Some(stmt) = call.statement() else {
            return fut.await;
        };
        let start = Instant::now();
        let result = fut.await;
        let event = QueryEvent {
            engine: call.engine(),
            stmt,
            elapsed: start.elapsed(),
            error: result.as_ref().err().map(covet_core::Error::kind),
            rows: result.as_ref().ok().and_then(Reply::rows),
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
        result
    }
}
