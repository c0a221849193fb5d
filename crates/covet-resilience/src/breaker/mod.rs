//! Circuit breaking: stop sending calls to a database that is down.
//!
//! [`CircuitBreaker`] is the state machine (closed, open, half-open, plus
//! forced-open and disabled), [`BreakerLayer`] wraps an adapter in a
//! [`BreakerAdapter`] that consults it before every call. While the breaker
//! is open, calls fail at once with [`covet_core::ErrorKind::CircuitOpen`]
//! and never reach the inner adapter (so never touch the pool or network).
//!
//! Only outage-class errors ([`covet_core::ErrorKind::is_outage`]) count as
//! failures by default: a unique violation is the caller's problem and the
//! server answered, so it counts as a success.

mod config;
mod error;
mod layer;
mod state;

pub use config::{BreakerConfig, CircuitBreakerBuilder, FailureMode, StateListener};
pub use error::BreakerConfigError;
pub use layer::{BreakerAdapter, BreakerLayer};
pub use state::CircuitBreaker;

use std::fmt;
use std::time::Duration;

use covet_core::{Error, Result};

/// The state a breaker is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Calls flow; failures are counted.
    Closed,
    /// Calls are refused until the open duration has passed.
    Open,
    /// A limited number of probe calls are let through to test recovery.
    HalfOpen,
    /// Refusing every call until [`CircuitBreaker::reset`].
    ForcedOpen,
    /// Letting every call through and counting nothing.
    Disabled,
}

impl BreakerState {
    /// A short stable name, used as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::ForcedOpen => "forced_open",
            BreakerState::Disabled => "disabled",
        }
    }

    /// The value of the `covet_breaker_state` gauge for this state.
    pub fn gauge_value(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
            BreakerState::ForcedOpen => 3.0,
            BreakerState::Disabled => 4.0,
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state transition, passed to listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// The breaker's name.
    pub name: String,
    /// The state left.
    pub from: BreakerState,
    /// The state entered.
    pub to: BreakerState,
    /// The breaker clock's reading at the transition.
    pub at: Duration,
}

/// Permission to make one call, returned by [`Breaker::try_acquire`].
///
/// Hand it back with exactly one of [`Breaker::on_success`],
/// [`Breaker::on_error`], [`Breaker::on_failure`] or [`Breaker::release`].
/// Results from an earlier state (an older epoch) are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    epoch: u64,
    probe: bool,
}

impl Admission {
    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
}

/// A circuit breaker as the breaker layer sees it.
pub trait Breaker: Send + Sync + 'static {
    /// Asks to make a call; fails with [`covet_core::ErrorKind::CircuitOpen`]
    /// when the breaker refuses it.
    fn try_acquire(&self) -> Result<Admission>;

    /// The call succeeded.
    fn on_success(&self, admission: Admission);

    /// The call failed with `error`; the breaker decides whether it counts.
    fn on_error(&self, admission: Admission, error: &Error);

    /// The call failed in a way that always counts (a probe timeout).
    fn on_failure(&self, admission: Admission);

    /// The call was abandoned before it finished (its future was dropped).
    fn release(&self, admission: Admission);

    /// The current state.
    fn state(&self) -> BreakerState;

    /// How long a half-open probe may take before it counts as a failure.
    fn probe_timeout(&self) -> Option<Duration> {
        None
    }
}
