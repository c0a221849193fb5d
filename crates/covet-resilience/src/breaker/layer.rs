//! The breaker as a layer over an adapter.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use covet_core::{
    Adapter, Call, CallKind, Error, ErrorKind, Intercept, Layer, Layered, Reply, Result,
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

/// The breaker layer's hooks: ask a [`Breaker`] before each call and report
/// the outcome after it.
///
/// Every call is guarded, in a transaction or not: `begin`, statements,
/// savepoints, commit, bulk inserts, `ping`, `schema`, `server_version`.
/// While the breaker is open a statement of an open transaction is refused
/// too (the database is down; failing fast is the point), and its outage
/// errors count like any other. A rollback is never refused nor counted: it
/// releases the connection, and its failure after an outage says nothing
/// new.
pub struct BreakerAdapter {
    breaker: Arc<dyn Breaker>,
}

impl BreakerAdapter {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Adapter>, breaker: Arc<dyn Breaker>) -> Layered<BreakerAdapter> {
        Layered::new(inner, BreakerAdapter { breaker })
    }

    /// The breaker consulted.
    pub fn breaker(&self) -> &Arc<dyn Breaker> {
        &self.breaker
    }

    async fn guarded<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
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
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(r) => r,
                Err(_) => {
                    guard.admission = None;
                    self.breaker.on_failure(admission);
                    return Err(probe_timed_out(limit));
                }
            },
            None => call.await,
        };
        guard.admission = None;
        match &result {
            Ok(_) => self.breaker.on_success(admission),
            Err(e) => self.breaker.on_error(admission, e),
        }
        result
    }
}

impl Intercept for BreakerAdapter {
    async fn around<'a, T: Reply + 'a>(
        &'a self,
        call: Call<'a>,
        fut: impl Future<Output = Result<T>> + Send + 'a,
    ) -> Result<T> {
        if call.kind() == CallKind::Rollback {
            fut.await
        } else {
            self.guarded(fut).await
        }
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
