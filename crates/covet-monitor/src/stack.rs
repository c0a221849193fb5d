//! One builder for the whole layer stack.

use std::sync::Arc;
use std::time::Duration;

use covet_core::{Adapter, Layer};
use covet_resilience::breaker::Breaker;
use covet_resilience::{BreakerLayer, RetryLayer, RetryPolicy, TimeoutLayer};

use crate::metrics::MetricsLayer;
use crate::slowlog::{SlowLog, SlowLogLayer};

/// Builds `Timeout -> Retry -> Breaker -> Metrics -> SlowLog -> adapter`,
/// one method per layer; layers not asked for are left out. The order is
/// fixed whatever order the methods are called in: the timeout bounds the
/// whole retried call, retries go through the breaker (so an open breaker
/// stops them), and the slow log and metrics see each real attempt.
///
/// It lives in covet-monitor because covet-monitor may depend on
/// covet-resilience, not the other way round.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use covet_core::{Adapter, Statement};
/// use covet_monitor::{Stack, SlowQueryLogger, MetricsLayer};
/// use covet_resilience::{CircuitBreaker, RetryPolicy, testing::MockAdapter};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Any backend works the same: PgAdapter, MySqlAdapter, SqliteAdapter.
/// let backend: Arc<dyn Adapter> = Arc::new(MockAdapter::new());
/// let slow = Arc::new(SlowQueryLogger::builder().threshold(Duration::from_millis(100)).build());
/// let db = Stack::new(backend)
///     .timeout(Duration::from_secs(5))
///     .retry(RetryPolicy::default())
///     .breaker(Arc::new(CircuitBreaker::builder().name("main").build()?))
///     .slow_log(slow.clone())
///     .metrics(MetricsLayer::new())
///     .build();
/// db.query(&Statement::new("SELECT 1").idempotent(true)).await?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct Stack {
    adapter: Arc<dyn Adapter>,
    timeout: Option<TimeoutLayer>,
    retry: Option<RetryLayer>,
    breaker: Option<BreakerLayer>,
    slow_log: Option<SlowLogLayer>,
    metrics: Option<MetricsLayer>,
}

impl Stack {
    /// Starts a stack over `adapter` (any backend, chosen by URL or not).
    pub fn new(adapter: Arc<dyn Adapter>) -> Self {
        Stack {
            adapter,
            timeout: None,
            retry: None,
            breaker: None,
            slow_log: None,
            metrics: None,
        }
    }

    /// Adds a [`TimeoutLayer`] with this default statement timeout.
    pub fn timeout(mut self, default: Duration) -> Self {
        self.timeout = Some(TimeoutLayer::new(default));
        self
    }

    /// Adds a configured [`TimeoutLayer`].
    pub fn timeout_layer(mut self, layer: TimeoutLayer) -> Self {
        self.timeout = Some(layer);
        self
    }

    /// Adds a [`RetryLayer`] with `policy`.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(RetryLayer::new(policy));
        self
    }

    /// Adds a [`BreakerLayer`] consulting `breaker`.
    pub fn breaker(mut self, breaker: Arc<dyn Breaker>) -> Self {
        self.breaker = Some(BreakerLayer::new(breaker));
        self
    }

    /// Adds a [`SlowLogLayer`] reporting to `log`.
    pub fn slow_log(mut self, log: Arc<dyn SlowLog>) -> Self {
        self.slow_log = Some(SlowLogLayer::new(log));
        self
    }

    /// Adds a [`MetricsLayer`].
    pub fn metrics(mut self, layer: MetricsLayer) -> Self {
        self.metrics = Some(layer);
        self
    }

    /// Composes the layers.
    pub fn build(self) -> Arc<dyn Adapter> {
        let mut a = self.adapter;
        if let Some(l) = &self.slow_log {
            a = l.layer(a);
        }
        if let Some(l) = &self.metrics {
            a = l.layer(a);
        }
        if let Some(l) = &self.breaker {
            a = l.layer(a);
        }
        if let Some(l) = &self.retry {
            a = l.layer(a);
        }
        if let Some(l) = &self.timeout {
            a = l.layer(a);
        }
        a
    }
}
