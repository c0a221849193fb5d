#![doc = include_str!("../README.md")]
//! Resilience layers for any Covet [`Adapter`](covet_core::Adapter).
//!
//! Each piece follows tower's shape: a module per concern
//! ([`timeout`], [`retry`], [`breaker`]), a `*Layer` implementing
//! [`covet_core::Layer`], and the layer's hooks ([`Timeout`], [`Retry`],
//! [`BreakerAdapter`]), a [`covet_core::Intercept`] that
//! [`covet_core::Layered`] turns into an `Adapter` whose transactions and
//! savepoints pass through the same hooks. The usual order, outermost
//! first, is `Timeout -> Retry -> BreakerAdapter -> (monitoring) -> backend`;
//! the `covet` facade's `covet::stack` builds it with one method per layer.
#![forbid(unsafe_code)]

pub mod breaker;
mod clock;
pub mod retry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod timeout;

pub use breaker::{
    Breaker, BreakerAdapter, BreakerConfigError, BreakerLayer, BreakerState, CircuitBreaker,
    StateChange, TripCause,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use retry::{Retry, RetryBudget, RetryLayer, RetryPolicy};
pub use timeout::{Timeout, TimeoutLayer};
