//! Composing adapters: a layer wraps an adapter and is itself one.

use std::sync::Arc;

use crate::adapter::Adapter;

/// Something that wraps an adapter in another adapter (a timeout, a retry
/// policy, a circuit breaker, a slow-query log).
///
/// Layers work over `Arc<dyn Adapter>` so a stack can be built at run time
/// from a URL without generic types leaking across crate boundaries.
///
/// A layer is written as an [`Intercept`](crate::Intercept) and returns
/// `Arc::new(Layered::new(inner, hooks))`: [`Layered`](crate::Layered)
/// supplies every `Adapter` and `Transaction` method, so transactions and
/// savepoints pass through the layer and its hooks see every statement.
pub trait Layer {
    /// Wraps `inner`.
    fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter>;
}
