//! The timeout layer and adapter.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::borrow::Cow;

use covet_core::{Adapter, Call, Intercept, Layer, Layered, Reply, Result, Statement};

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
        let inner_default = inner.default_timeout();
        Arc::new(Layered::new(
            inner,
            Timeout {
                default: self.default,
                grace: self.grace,
                inner_default,
            },
        ))
    }
}

/// The timeout layer's hooks: every statement without a timeout of its own
/// gets the default, and every call (statements, `begin`, savepoints,
/// commit, rollback, `bulk_insert`, `ping`, `schema`, `server_version`),
/// in a transaction or not, is bounded by its limit plus the grace on the
/// local clock. Calls without a statement are bounded by the default.
#[derive(Debug, Clone, Copy)]
pub struct Timeout {
    default: Duration,
    grace: Duration,
    /// The inner adapter's own default: when it equals ours, a statement
    /// without a timeout already gets ours below, and is sent unchanged.
    inner_default: Option<Duration>,
}

impl Timeout {
    /// Wraps `inner` with a default timeout of `default` (grace 1 s).
    pub fn new(inner: Arc<dyn Adapter>, default: Duration) -> Layered<Timeout> {
        let inner_default = inner.default_timeout();
        Layered::new(
            inner,
            Timeout {
                default,
                grace: Duration::from_secs(1),
                inner_default,
            },
        )
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

impl Intercept for Timeout {
    /// The statement as sent: unchanged when it has its own timeout or
    /// when the inner adapter's default is already this layer's, else a
    /// copy with the default, so the adapter cancels it on the server. The
    /// copy shares the SQL and the parameters: reference counts, no value
    /// copied (an owned label is the one string copied).
    fn statement<'s>(&self, stmt: &'s Statement) -> Cow<'s, Statement> {
        if stmt.timeout_duration().is_some() || self.inner_default == Some(self.default) {
            Cow::Borrowed(stmt)
        } else {
            Cow::Owned(stmt.clone().timeout(self.default))
        }
    }

    fn around<'a, T: Reply + 'a>(
        &'a self,
        call: Call<'a>,
        fut: impl Future<Output = Result<T>> + Send + 'a,
    ) -> impl Future<Output = Result<T>> + Send + 'a {
        let limit = call
            .statement()
            .and_then(Statement::timeout_duration)
            .unwrap_or(self.default);
        backstop(limit, self.grace, fut)
    }

    fn default_timeout(&self, _inner: &dyn Adapter) -> Option<Duration> {
        Some(self.default)
    }
}
