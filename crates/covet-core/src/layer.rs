//! Composing adapters: a layer wraps an adapter and is itself one.

use std::sync::Arc;

use crate::adapter::Adapter;

/// Something that wraps an adapter in another adapter (a timeout, a retry
/// policy, a circuit breaker, a slow-query log).
///
/// Layers work over `Arc<dyn Adapter>` so a stack can be built at run time
/// from a URL without generic types leaking across crate boundaries.
pub trait Layer {
    /// Wraps `inner`.
    fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter>;
}
