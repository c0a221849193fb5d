//! The one place a layer stack is composed: [`stack`] and [`StackBuilder`].

use std::sync::Arc;
#[cfg(feature = "resilience")]
use std::time::Duration;

use covet_core::{Adapter, Layer};

#[cfg(feature = "monitor")]
use covet_monitor::{MetricsLayer, SlowLog, SlowLogLayer};
#[cfg(feature = "resilience")]
use covet_resilience::{BreakerLayer, RetryLayer, RetryPolicy, TimeoutLayer, breaker::Breaker};

/// Starts a layer stack over `adapter` (any backend, chosen by URL or not).
///
/// Shorthand for [`StackBuilder::new`]; see there for the order of the
/// layers.
pub fn stack(adapter: Arc<dyn Adapter>) -> StackBuilder {
    StackBuilder::new(adapter)
}

/// The positions of the built-in layers, outermost first. A custom layer
/// is anchored to one of them: it sits directly below that layer (below
/// the custom layers anchored there before it), or on top for `Top`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    Top,
    #[cfg(feature = "resilience")]
    Timeout,
    #[cfg(feature = "resilience")]
    Retry,
    #[cfg(feature = "resilience")]
    Breaker,
    #[cfg(feature = "monitor")]
    Metrics,
    #[cfg(feature = "monitor")]
    SlowLog,
}

type BoxLayer = Box<dyn Layer + Send + Sync>;

/// Builds a layer stack over an adapter, one method per layer, as tower's
/// `ServiceBuilder` does for services.
///
/// The built-in layers always compose in this order, whatever order their
/// methods are called in (layers not asked for are left out):
///
/// ```text
/// Timeout -> Retry -> Breaker -> Metrics -> SlowLog -> adapter
/// ```
///
/// The timeout bounds the whole retried call; retries pass through the
/// breaker, so an open breaker stops them; metrics and the slow log see
/// each real attempt. Timeout, retry and breaker need the `resilience`
/// feature, metrics and the slow log the `monitor` feature (both on by
/// default).
///
/// A custom layer added with [`layer`](Self::layer) sits directly below the
/// built-in layer whose method was called last before it, or on top of the
/// stack when no built-in method was called yet. Custom layers added after
/// the same method keep their order: the first added is the outermost. So
/// a chain written in the order above reads top to bottom:
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use covet::{Adapter, Layer, Statement};
/// use covet::resilience::RetryPolicy;
///
/// /// A custom layer (here one that adds nothing).
/// struct Audit;
/// impl Layer for Audit {
///     fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter> {
///         inner
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> covet::Result<()> {
/// let backend = covet::connect("sqlite::memory:").await?;
/// // Timeout -> Audit -> Retry -> adapter: Audit sees one call per
/// // statement, never the retried attempts.
/// let db = covet::stack(backend)
///     .timeout(Duration::from_secs(5))
///     .layer(Audit)
///     .retry(RetryPolicy::default())
///     .build();
/// db.query(&Statement::new("SELECT 1").idempotent(true)).await?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct StackBuilder {
    adapter: Arc<dyn Adapter>,
    #[cfg(feature = "resilience")]
    timeout: Option<TimeoutLayer>,
    #[cfg(feature = "resilience")]
    retry: Option<RetryLayer>,
    #[cfg(feature = "resilience")]
    breaker: Option<BreakerLayer>,
    #[cfg(feature = "monitor")]
    metrics: Option<MetricsLayer>,
    #[cfg(feature = "monitor")]
    slow_log: Option<SlowLogLayer>,
    /// Where the next custom layer goes: below the last built-in layer set.
    anchor: Slot,
    custom: Vec<(Slot, BoxLayer)>,
}

impl std::fmt::Debug for StackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackBuilder")
            .field("layers", &self.plan_names())
            .finish_non_exhaustive()
    }
}

impl StackBuilder {
    /// Starts a stack over `adapter`, with no layer yet.
    pub fn new(adapter: Arc<dyn Adapter>) -> Self {
        StackBuilder {
            adapter,
            #[cfg(feature = "resilience")]
            timeout: None,
            #[cfg(feature = "resilience")]
            retry: None,
            #[cfg(feature = "resilience")]
            breaker: None,
            #[cfg(feature = "monitor")]
            metrics: None,
            #[cfg(feature = "monitor")]
            slow_log: None,
            anchor: Slot::Top,
            custom: Vec::new(),
        }
    }

    /// Adds a custom layer directly below the built-in layer set last (on
    /// top when none is set yet); see the type's docs for the order.
    pub fn layer(mut self, layer: impl Layer + Send + Sync + 'static) -> Self {
        self.custom.push((self.anchor, Box::new(layer)));
        self
    }

    /// Adds a timeout layer with this default statement timeout
    /// (outermost of the built-in layers).
    #[cfg(feature = "resilience")]
    pub fn timeout(self, default: Duration) -> Self {
        self.timeout_layer(TimeoutLayer::new(default))
    }

    /// Adds a configured [`TimeoutLayer`] (outermost of the built-in
    /// layers).
    #[cfg(feature = "resilience")]
    pub fn timeout_layer(mut self, layer: TimeoutLayer) -> Self {
        self.timeout = Some(layer);
        self.anchor = Slot::Timeout;
        self
    }

    /// Adds a retry layer with `policy`, below the timeout.
    #[cfg(feature = "resilience")]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(RetryLayer::new(policy));
        self.anchor = Slot::Retry;
        self
    }

    /// Adds a circuit-breaker layer consulting `breaker`, below the retry
    /// layer.
    #[cfg(feature = "resilience")]
    pub fn breaker(mut self, breaker: Arc<dyn Breaker>) -> Self {
        self.breaker = Some(BreakerLayer::new(breaker));
        self.anchor = Slot::Breaker;
        self
    }

    /// Adds a metrics and tracing layer, below the breaker.
    #[cfg(feature = "monitor")]
    pub fn metrics(mut self, layer: MetricsLayer) -> Self {
        self.metrics = Some(layer);
        self.anchor = Slot::Metrics;
        self
    }

    /// Adds a slow-query log layer reporting to `log`, the innermost of
    /// the built-in layers.
    #[cfg(feature = "monitor")]
    pub fn slow_log(mut self, log: Arc<dyn SlowLog>) -> Self {
        self.slow_log = Some(SlowLogLayer::new(log));
        self.anchor = Slot::SlowLog;
        self
    }

    /// Composes the layers over the adapter; the result is the top of the
    /// stack.
    pub fn build(self) -> Arc<dyn Adapter> {
        let mut top = Arc::clone(&self.adapter);
        for (_, layer) in self.plan().into_iter().rev() {
            top = layer.layer(top);
        }
        top
    }

    /// The layers to apply, outermost first, each with a name for tests
    /// and `Debug` (custom layers are named by their index in `custom`).
    fn plan<'a>(&'a self) -> Vec<(String, &'a dyn Layer)> {
        let mut plan: Vec<(String, &'a dyn Layer)> = Vec::new();
        let push_slot = |plan: &mut Vec<(String, &'a dyn Layer)>, slot: Slot| {
            for (i, (at, layer)) in self.custom.iter().enumerate() {
                if *at == slot {
                    plan.push((format!("custom {i}"), layer.as_ref() as &dyn Layer));
                }
            }
        };
        push_slot(&mut plan, Slot::Top);
        #[cfg(feature = "resilience")]
        {
            if let Some(l) = &self.timeout {
                plan.push(("timeout".into(), l));
            }
            push_slot(&mut plan, Slot::Timeout);
            if let Some(l) = &self.retry {
                plan.push(("retry".into(), l));
            }
            push_slot(&mut plan, Slot::Retry);
            if let Some(l) = &self.breaker {
                plan.push(("breaker".into(), l));
            }
            push_slot(&mut plan, Slot::Breaker);
        }
        #[cfg(feature = "monitor")]
        {
            if let Some(l) = &self.metrics {
                plan.push(("metrics".into(), l));
            }
            push_slot(&mut plan, Slot::Metrics);
            if let Some(l) = &self.slow_log {
                plan.push(("slow log".into(), l));
            }
            push_slot(&mut plan, Slot::SlowLog);
        }
        plan
    }

    fn plan_names(&self) -> Vec<String> {
        self.plan().into_iter().map(|(name, _)| name).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use covet_core::Statement;

    use super::*;

    /// A layer that notes its name each time a statement passes it, and
    /// passes it on.
    #[derive(Clone)]
    struct Recording {
        name: &'static str,
        seen: Arc<Mutex<Vec<&'static str>>>,
    }

    impl Layer for Recording {
        fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter> {
            Arc::new(Recorded {
                me: self.clone(),
                inner,
            })
        }
    }

    struct Recorded {
        me: Recording,
        inner: Arc<dyn Adapter>,
    }

    #[async_trait::async_trait]
    impl Adapter for Recorded {
        fn engine(&self) -> covet_core::Engine {
            self.inner.engine()
        }
        async fn execute(&self, stmt: &Statement) -> covet_core::Result<covet_core::ExecResult> {
            self.me.seen.lock().unwrap().push(self.me.name);
            self.inner.execute(stmt).await
        }
        async fn query(&self, stmt: &Statement) -> covet_core::Result<covet_core::Rows> {
            self.me.seen.lock().unwrap().push(self.me.name);
            self.inner.query(stmt).await
        }
        async fn query_stream(
            &self,
            stmt: &Statement,
        ) -> covet_core::Result<covet_core::RowStream> {
            self.inner.query_stream(stmt).await
        }
        async fn run(&self, stmt: &Statement) -> covet_core::Result<covet_core::Outcome> {
            self.me.seen.lock().unwrap().push(self.me.name);
            self.inner.run(stmt).await
        }
        async fn bulk_insert(
            &self,
            table: &str,
            columns: &[String],
            rows: covet_core::BulkRows,
        ) -> covet_core::Result<u64> {
            self.inner.bulk_insert(table, columns, rows).await
        }
        async fn begin_with(
            &self,
            options: covet_core::TxOptions,
        ) -> covet_core::Result<Box<dyn covet_core::Transaction>> {
            self.inner.begin_with(options).await
        }
        async fn schema(&self) -> covet_core::Result<covet_core::Schema> {
            self.inner.schema().await
        }
        async fn ping(&self) -> covet_core::Result<()> {
            self.inner.ping().await
        }
        async fn server_version(&self) -> covet_core::Result<String> {
            self.inner.server_version().await
        }
        async fn close(&self) {
            self.inner.close().await;
        }
    }

    fn recorder(seen: &Arc<Mutex<Vec<&'static str>>>, name: &'static str) -> Recording {
        Recording {
            name,
            seen: Arc::clone(seen),
        }
    }

    fn mock() -> Arc<dyn Adapter> {
        Arc::new(covet_resilience::testing::MockAdapter::new())
    }

    /// Custom layers alone keep the order they were added in, the first
    /// outermost, and a statement passes them top to bottom.
    #[tokio::test]
    async fn custom_layers_apply_first_added_outermost() {
        let seen = Arc::default();
        let db = stack(mock())
            .layer(recorder(&seen, "a"))
            .layer(recorder(&seen, "b"))
            .layer(recorder(&seen, "c"))
            .build();
        db.query(&Statement::new("SELECT 1")).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), ["a", "b", "c"]);
    }

    /// The built-in layers take their fixed places whatever order their
    /// methods are called in, and each custom layer sits directly below the
    /// built-in layer set just before it.
    #[cfg(all(feature = "resilience", feature = "monitor"))]
    #[tokio::test]
    async fn builtin_layers_keep_their_order_and_custom_layers_sit_where_added() {
        let seen = Arc::default();
        let breaker = Arc::new(covet_resilience::CircuitBreaker::builder().build().unwrap());
        // Called in reverse of the fixed order.
        let b = stack(mock())
            .layer(recorder(&seen, "top"))
            .slow_log(Arc::new(covet_monitor::SlowQueryLogger::default()))
            .layer(recorder(&seen, "below slow log"))
            .metrics(MetricsLayer::new())
            .layer(recorder(&seen, "below metrics"))
            .breaker(breaker)
            .layer(recorder(&seen, "below breaker"))
            .retry(RetryPolicy::default())
            .layer(recorder(&seen, "below retry"))
            .timeout(Duration::from_secs(5))
            .layer(recorder(&seen, "below timeout 1"))
            .layer(recorder(&seen, "below timeout 2"));
        assert_eq!(
            b.plan_names(),
            [
                "custom 0", // top
                "timeout", "custom 5", // below timeout 1
                "custom 6", // below timeout 2
                "retry", "custom 4", // below retry
                "breaker", "custom 3", // below breaker
                "metrics", "custom 2", // below metrics
                "slow log", "custom 1", // below slow log
            ]
        );
        let db = b.build();
        db.query(&Statement::new("SELECT 1")).await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "top",
                "below timeout 1",
                "below timeout 2",
                "below retry",
                "below breaker",
                "below metrics",
                "below slow log",
            ]
        );
    }

    /// The order is real, not only a plan: a layer below the retry layer
    /// sees each attempt, one above it sees the call once; a layer below an
    /// open breaker sees nothing, one above it sees the call.
    #[cfg(feature = "resilience")]
    #[tokio::test]
    async fn retry_and_breaker_sit_where_the_order_says() {
        let backend = covet_resilience::testing::MockAdapter::new();
        backend.fail_next(covet_core::Error::new(
            covet_core::ErrorKind::Connection,
            "refused before sending",
        ));
        let seen = Arc::default();
        // Methods called out of order on purpose.
        let db = stack(Arc::new(backend.clone()))
            .retry(RetryPolicy::default())
            .layer(recorder(&seen, "below retry"))
            .timeout(Duration::from_secs(5))
            .layer(recorder(&seen, "above retry"))
            .build();
        db.query(&Statement::new("SELECT 1").idempotent(true))
            .await
            .unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            ["above retry", "below retry", "below retry"]
        );

        let breaker = Arc::new(covet_resilience::CircuitBreaker::builder().build().unwrap());
        breaker.force_open();
        let seen = Arc::default();
        let db = stack(Arc::new(backend))
            .breaker(breaker)
            .layer(recorder(&seen, "below breaker"))
            .retry(RetryPolicy::default())
            .layer(recorder(&seen, "above breaker"))
            .build();
        assert!(db.query(&Statement::new("SELECT 1")).await.is_err());
        assert_eq!(*seen.lock().unwrap(), ["above breaker"]);
    }
}
