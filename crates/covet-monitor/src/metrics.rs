//! `metrics` instruments and tracing spans for every call.
//!
//! Names (all prefixed `covet_`; durations in seconds):
//!
//! | name | kind | labels | recorded by |
//! |---|---|---|---|
//! | `covet_query_duration_seconds` | histogram | `engine`, `operation` | [`MetricsAdapter`], every statement (in transactions and savepoints too), `begin`, commit, bulk insert |
//! | `covet_query_errors_total` | counter | `engine`, `operation`, `kind` | [`MetricsAdapter`] |
//! | `covet_slow_query_duration_seconds` | histogram | `fingerprint` (top-K by total time, else `other`) | [`crate::SlowQueryLogger`] |
//! | `covet_adapter_pool_connections` | gauge | `engine`, `state` = `idle` / `in_use` | [`MetricsAdapter`], from `Adapter::pool_state` |
//! | `covet_adapter_pool_size` | gauge | `engine` | same |
//! | `covet_adapter_pool_waiters` | gauge | `engine` | same |
//! | `covet_retries_total` | counter | `class` | `covet_resilience::Retry` |
//! | `covet_retry_budget_exhausted_total` | counter | | `covet_resilience::Retry` |
//! | `covet_breaker_state` | gauge | `breaker` (0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled) | `covet_resilience::CircuitBreaker` |
//! | `covet_breaker_transitions_total` | counter | `breaker`, `from`, `to` | same |
//! | `covet_breaker_rejected_total` | counter | `breaker` | same |
//!
//! Handles are registered when the layer is built, so install the
//! recorder (for example `metrics_exporter_prometheus`) first.
//!
//! Each statement also runs in a `tracing` span named `db.query` with the
//! OpenTelemetry attributes `db.system.name`, `db.operation.name` and,
//! when the span is enabled, `db.query.text` (the fingerprint: literals
//! replaced, never parameter values).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use covet_core::{Adapter, Call, CallKind, Engine, Intercept, Layer, Layered, Reply, Result};
use tracing::Instrument;

use crate::fingerprint::{Fingerprint, operation};

/// `covet_query_duration_seconds`.
pub const QUERY_DURATION: &str = "covet_query_duration_seconds";
/// `covet_query_errors_total`.
pub const QUERY_ERRORS: &str = "covet_query_errors_total";
/// `covet_slow_query_duration_seconds`.
pub const SLOW_QUERY_DURATION: &str = "covet_slow_query_duration_seconds";
/// `covet_adapter_pool_connections` (named apart from covet-pool's own
/// `covet_pool_*{pool}` series, which carry different labels).
pub const POOL_CONNECTIONS: &str = "covet_adapter_pool_connections";
/// `covet_adapter_pool_size`.
pub const POOL_SIZE: &str = "covet_adapter_pool_size";
/// `covet_adapter_pool_waiters`.
pub const POOL_WAITERS: &str = "covet_adapter_pool_waiters";

const OPS: [&str; 8] = [
    "select", "insert", "update", "delete", "with", "begin", "commit", "other",
];

fn op_slot(op: &str) -> usize {
    OPS.iter().position(|o| *o == op).unwrap_or(OPS.len() - 1)
}

/// Wraps adapters in a [`MetricsAdapter`].
#[derive(Debug, Clone, Copy)]
pub struct MetricsLayer {
    pool_every: u64,
}

impl Default for MetricsLayer {
    fn default() -> Self {
        MetricsLayer { pool_every: 256 }
    }
}

impl MetricsLayer {
    /// A layer with the defaults (pool gauges refreshed every 256 calls).
    pub fn new() -> Self {
        Self::default()
    }

    /// Refreshes the pool gauges every `n` calls (at least 1).
    #[must_use]
    pub fn pool_gauges_every(mut self, n: u64) -> Self {
        self.pool_every = n.max(1);
        self
    }
}

impl Layer for MetricsLayer {
    fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter> {
        Arc::new(MetricsAdapter::new(inner, *self))
    }
}

/// The metrics layer's hooks: durations, errors and pool gauges, each
/// statement inside a `db.query` span.
///
/// Every statement is recorded, inside transactions and savepoints as
/// well as outside (operation from its first word), and so are `begin`,
/// commit (and savepoint release) and bulk inserts (`insert`). Rollbacks,
/// `ping`, `schema` and `server_version` are not.
pub struct MetricsAdapter {
    inner: Arc<dyn Adapter>,
    engine: Engine,
    durations: [metrics::Histogram; 8],
    calls: AtomicU64,
    pool_every: u64,
}

impl MetricsAdapter {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Adapter>, layer: MetricsLayer) -> Layered<MetricsAdapter> {
        let engine = inner.engine();
        let durations = OPS.map(|op| {
            metrics::histogram!(QUERY_DURATION, "engine" => engine.as_str(), "operation" => op)
        });
        Layered::new(
            Arc::clone(&inner),
            MetricsAdapter {
                inner,
                engine,
                durations,
                calls: AtomicU64::new(0),
                pool_every: layer.pool_every,
            },
        )
    }

    /// Sets the pool gauges from the adapter's [`PoolState`](covet_core::PoolState) now.
    pub fn record_pool_gauges(&self) {
        if let Some(p) = self.inner.pool_state() {
            let engine = self.engine.as_str();
            metrics::gauge!(POOL_CONNECTIONS, "engine" => engine, "state" => "idle")
                .set(f64::from(p.idle));
            metrics::gauge!(POOL_CONNECTIONS, "engine" => engine, "state" => "in_use")
                .set(f64::from(p.in_use));
            metrics::gauge!(POOL_SIZE, "engine" => engine).set(f64::from(p.size));
            metrics::gauge!(POOL_WAITERS, "engine" => engine).set(f64::from(p.waiters));
        }
    }

    /// Times `fut` as `op`, counting its error.
    async fn timed<T>(&self, op: &'static str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let start = Instant::now();
        let result = fut.await;
        self.durations[op_slot(op)].record(start.elapsed().as_secs_f64());
        if let Err(e) = &result {
            metrics::counter!(QUERY_ERRORS, "engine" => self.engine.as_str(), "operation" => op, "kind" => e.kind().as_str())
                .increment(1);
        }
        result
    }
}

impl Intercept for MetricsAdapter {
    async fn around<'a, T: Reply + 'a>(
        &'a self,
        call: Call<'a>,
        fut: impl Future<Output = Result<T>> + Send + 'a,
    ) -> Result<T> {
        let Some(stmt) = call.statement() else {
            return match call.kind() {
                CallKind::Begin => self.timed("begin", fut).await,
                CallKind::Commit => self.timed("commit", fut).await,
                CallKind::BulkInsert => self.timed("insert", fut).await,
                _ => fut.await,
            };
        };
        let op = operation(stmt.sql());
        let span = tracing::info_span!(
            "db.query",
            "db.system.name" = self.engine.as_str(),
            "db.operation.name" = op,
            "db.query.text" = tracing::field::Empty,
        );
        if !span.is_disabled() {
            span.record(
                "db.query.text",
                Fingerprint::for_engine(self.engine, stmt.sql())
                    .text
                    .as_str(),
            );
        }
        let result = self.timed(op, fut.instrument(span)).await;
        if self
            .calls
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(self.pool_every)
        {
            self.record_pool_gauges();
        }
        result
    }
}
