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

use covet_core::{Error, ErrorKind, Result};

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
    /// For a transition to [`BreakerState::Open`] caused by a failure, the
    /// failure that tripped it; `None` for every other transition.
    pub cause: Option<TripCause>,
}

/// The failure that opened a breaker: the last one counted before it
/// tripped (or the failed half-open probe that sent it back to open).
///
/// Kept so that a report can say *why* calls were refused, not only that
/// they were. The message is the error's own `Display`, which covet-core
/// errors guarantee free of passwords and bound values, cut to one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripCause {
    /// The kind of the tripping error.
    pub kind: ErrorKind,
    /// Its message on one line, at most [`TripCause::MAX_MESSAGE`] bytes.
    pub message: String,
}

impl TripCause {
    /// The longest message kept, in bytes: a cause is for a report line.
    pub const MAX_MESSAGE: usize = 300;

    /// The cause for `error`.
    pub fn from_error(error: &Error) -> Self {
        Self::new(error.kind(), &error.to_string())
    }

    /// A cause of `kind` with `message` folded onto one bounded line.
    pub fn new(kind: ErrorKind, message: &str) -> Self {
        let mut message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        if message.len() > Self::MAX_MESSAGE {
            let mut cut = Self::MAX_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        TripCause { kind, message }
    }
}

impl fmt::Display for TripCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
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
