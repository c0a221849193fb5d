//! The layer stack a load test runs through, and its counters.
//!
//! Retries are counted as the calls that reach the layer below the retry
//! layer minus the calls made to it, so no layer needs a counter of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use covet::{
    Adapter, Engine, ExecResult, PoolState, Result, RowStream, Rows, Schema, Statement,
    Transaction, TxOptions, Value,
};
use covet_loadtest::LayerReport;
use covet_monitor::{PlanCapture, SlowLogAdapter, SlowQueryLogger};
use covet_resilience::{
    BreakerAdapter, BreakerState, CircuitBreaker, Retry, RetryPolicy, StateChange,
};

/// Counts the statements that pass through it.
pub struct Counting {
    inner: Arc<dyn Adapter>,
    calls: AtomicU64,
}

impl Counting {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Adapter>) -> Arc<Self> {
        Arc::new(Counting {
            inner,
            calls: AtomicU64::new(0),
        })
    }

    /// Statements seen so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl Adapter for Counting {
    fn engine(&self) -> Engine {
        self.inner.engine()
    }
    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.execute(stmt).await
    }
    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.query(stmt).await
    }
    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        self.inner.query_stream(stmt).await
    }
    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        self.inner.begin_with(options).await
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
    fn default_timeout(&self) -> Option<std::time::Duration> {
        self.inner.default_timeout()
    }
    fn pool_state(&self) -> Option<PoolState> {
        self.inner.pool_state()
    }
    async fn close(&self) {
        self.inner.close().await;
    }
}

/// The adapter a run uses and the counters behind its layer report.
pub struct Stack {
    top: Arc<dyn Adapter>,
    names: Vec<String>,
    outer: Option<Arc<Counting>>,
    below_retry: Option<Arc<Counting>>,
    openings: Arc<AtomicU64>,
    slow: Option<(Arc<SlowQueryLogger>, std::time::Duration)>,
}

impl Stack {
    /// The backend alone.
    pub fn bare(backend: Arc<dyn Adapter>) -> Self {
        Stack {
            top: backend,
            names: vec!["adapter".into()],
            outer: None,
            below_retry: None,
            openings: Arc::new(AtomicU64::new(0)),
            slow: None,
        }
    }

    /// Retry (covet-resilience's default policy: 3 attempts, only what is
    /// safe to repeat) over a circuit breaker over covet-monitor's slow-query
    /// log (statements over `slow`, plans not captured) over `backend`.
    pub fn resilient(backend: Arc<dyn Adapter>, slow: std::time::Duration) -> Result<Self> {
        let logger = Arc::new(
            SlowQueryLogger::builder()
                .threshold(slow)
                .plan_capture(PlanCapture::disabled())
                .build(),
        );
        let backend: Arc<dyn Adapter> = Arc::new(SlowLogAdapter::new(
            backend,
            Arc::clone(&logger) as Arc<dyn covet_monitor::SlowLog>,
        ));
        let openings = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&openings);
        let breaker = CircuitBreaker::builder()
            .name("loadtest")
            .on_state_change(move |c: &StateChange| {
                if c.to == BreakerState::Open {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
            .build()
            .map_err(|e| covet::Error::config(e.to_string()))?;
        let guarded: Arc<dyn Adapter> = Arc::new(BreakerAdapter::new(backend, Arc::new(breaker)));
        let below_retry = Counting::new(guarded);
        let retry: Arc<dyn Adapter> = Arc::new(Retry::new(
            Arc::clone(&below_retry) as Arc<dyn Adapter>,
            RetryPolicy::default(),
        ));
        let outer = Counting::new(retry);
        Ok(Stack {
            top: Arc::clone(&outer) as Arc<dyn Adapter>,
            names: vec![
                "retry".into(),
                "circuit breaker".into(),
                "slow-query log".into(),
                "adapter".into(),
            ],
            outer: Some(outer),
            below_retry: Some(below_retry),
            openings,
            slow: Some((logger, slow)),
        })
    }

    /// The adapter to run statements through.
    pub fn adapter(&self) -> Arc<dyn Adapter> {
        Arc::clone(&self.top)
    }

    /// The counters, for the report.
    pub fn report(&self) -> LayerReport {
        let retries = match (&self.outer, &self.below_retry) {
            (Some(o), Some(b)) => b.calls().saturating_sub(o.calls()),
            _ => 0,
        };
        LayerReport {
            stack: self.names.clone(),
            retries,
            breaker_openings: self.openings.load(Ordering::Relaxed),
            slow_statements: self.slow.as_ref().map_or(0, |(log, _)| {
                log.snapshot().fingerprints.iter().map(|f| f.calls).sum()
            }),
            slow_threshold_ms: self.slow.as_ref().map(|(_, t)| t.as_secs_f64() * 1e3),
        }
    }
}
