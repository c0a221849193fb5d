//! Breaker configuration and its builder.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use covet_core::Error;

use super::error::BreakerConfigError;
use super::state::CircuitBreaker;
use super::{BreakerState, StateChange};
use crate::clock::{Clock, SystemClock};

/// A callback run after each state transition (outside the breaker's lock).
pub type StateListener = Arc<dyn Fn(&StateChange) + Send + Sync>;

/// How failures trip the breaker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FailureMode {
    /// Open after this many failures in a row (the default: 5).
    Consecutive {
        /// Consecutive failures that open the breaker.
        threshold: u32,
    },
    /// Open when, over the last `window_size` calls (once at least
    /// `min_calls` have been seen), the share of failures reaches
    /// `failure_rate`.
    Rate {
        /// Calls in the sliding window.
        window_size: u32,
        /// Calls needed before the rate is judged.
        min_calls: u32,
        /// Share of failures, in (0, 1], that opens the breaker.
        failure_rate: f64,
    },
}

/// A validated breaker configuration.
#[derive(Clone)]
pub struct BreakerConfig {
    pub(crate) name: Cow<'static, str>,
    pub(crate) mode: FailureMode,
    pub(crate) open_duration: Duration,
    pub(crate) open_jitter: f64,
    pub(crate) success_threshold: u32,
    pub(crate) half_open_max_calls: u32,
    pub(crate) probe_timeout: Option<Duration>,
    pub(crate) is_failure: fn(&Error) -> bool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) listeners: Vec<StateListener>,
    pub(crate) initial: BreakerState,
}

impl fmt::Debug for BreakerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerConfig")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .field("open_duration", &self.open_duration)
            .field("open_jitter", &self.open_jitter)
            .field("success_threshold", &self.success_threshold)
            .field("half_open_max_calls", &self.half_open_max_calls)
            .field("probe_timeout", &self.probe_timeout)
            .field("listeners", &self.listeners.len())
            .field("initial", &self.initial)
            .finish()
    }
}

fn outage(e: &Error) -> bool {
    e.is_outage()
}

/// Builds a [`CircuitBreaker`].
///
/// Defaults: 5 consecutive failures open it, it stays open 60 s (plus up to
/// 10 % jitter so many clients do not probe in step), 2 successful probes
/// close it, at most 2 probes are admitted per half-open period, each probe
/// may take 5 s, and only outage-class errors count.
///
/// ```
/// use std::time::Duration;
/// use covet_resilience::breaker::{CircuitBreaker, BreakerConfigError};
///
/// let breaker = CircuitBreaker::builder()
///     .name("primary")
///     .failure_threshold(5)
///     .open_duration(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(breaker.name(), "primary");
///
/// let bad = CircuitBreaker::builder().success_threshold(3).half_open_max_calls(2).build();
/// assert!(matches!(bad, Err(BreakerConfigError::SuccessAboveHalfOpenCalls { .. })));
/// # Ok::<(), BreakerConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerBuilder {
    config: BreakerConfig,
}

impl Default for CircuitBreakerBuilder {
    fn default() -> Self {
        CircuitBreakerBuilder {
            config: BreakerConfig {
                name: Cow::Borrowed("default"),
                mode: FailureMode::Consecutive { threshold: 5 },
                open_duration: Duration::from_secs(60),
                open_jitter: 0.1,
                success_threshold: 2,
                half_open_max_calls: 2,
                probe_timeout: Some(Duration::from_secs(5)),
                is_failure: outage,
                clock: Arc::new(SystemClock::default()),
                listeners: Vec::new(),
                initial: BreakerState::Closed,
            },
        }
    }
}

impl CircuitBreakerBuilder {
    /// Names the breaker (the `breaker` metrics label).
    #[must_use]
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Consecutive-failure mode with this threshold.
    #[must_use]
    pub fn failure_threshold(mut self, threshold: u32) -> Self {
        self.config.mode = FailureMode::Consecutive { threshold };
        self
    }

    /// Sliding-window failure-rate mode.
    #[must_use]
    pub fn failure_rate(mut self, window_size: u32, min_calls: u32, failure_rate: f64) -> Self {
        self.config.mode = FailureMode::Rate {
            window_size,
            min_calls,
            failure_rate,
        };
        self
    }

    /// How long the breaker stays open before probing.
    #[must_use]
    pub fn open_duration(mut self, d: Duration) -> Self {
        self.config.open_duration = d;
        self
    }

    /// Extra random open time, as a fraction of the open duration (0 = none).
    #[must_use]
    pub fn open_jitter(mut self, fraction: f64) -> Self {
        self.config.open_jitter = fraction;
        self
    }

    /// Successful probes needed to close again.
    #[must_use]
    pub fn success_threshold(mut self, n: u32) -> Self {
        self.config.success_threshold = n;
        self
    }

    /// Calls admitted per half-open period.
    #[must_use]
    pub fn half_open_max_calls(mut self, n: u32) -> Self {
        self.config.half_open_max_calls = n;
        self
    }

    /// How long a probe may take (`None`: no limit of its own).
    #[must_use]
    pub fn probe_timeout(mut self, d: Option<Duration>) -> Self {
        self.config.probe_timeout = d;
        self
    }

    /// Which errors count as failures (default: outage-class only).
    #[must_use]
    pub fn failure_predicate(mut self, is_failure: fn(&Error) -> bool) -> Self {
        self.config.is_failure = is_failure;
        self
    }

    /// The clock (default: the system monotonic clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.config.clock = clock;
        self
    }

    /// Adds a state-change listener.
    #[must_use]
    pub fn on_state_change(
        mut self,
        listener: impl Fn(&StateChange) + Send + Sync + 'static,
    ) -> Self {
        self.config.listeners.push(Arc::new(listener));
        self
    }

    /// Starts forced open (every call refused until reset).
    #[must_use]
    pub fn forced_open(mut self) -> Self {
        self.config.initial = BreakerState::ForcedOpen;
        self
    }

    /// Starts disabled (every call admitted, nothing counted).
    #[must_use]
    pub fn disabled(mut self) -> Self {
        self.config.initial = BreakerState::Disabled;
        self
    }

    /// Checks the configuration and builds the breaker.
    pub fn build(self) -> Result<CircuitBreaker, BreakerConfigError> {
        let c = &self.config;
        match c.mode {
            FailureMode::Consecutive { threshold } => {
                if threshold == 0 {
                    return Err(BreakerConfigError::ZeroFailureThreshold);
                }
            }
            FailureMode::Rate {
                window_size,
                min_calls,
                failure_rate,
            } => {
                if window_size == 0 {
                    return Err(BreakerConfigError::ZeroWindow);
                }
                if min_calls > window_size {
                    return Err(BreakerConfigError::MinCallsAboveWindow {
                        min_calls,
                        window_size,
                    });
                }
                if !(failure_rate > 0.0 && failure_rate <= 1.0) {
                    return Err(BreakerConfigError::FailureRateOutOfRange(failure_rate));
                }
            }
        }
        if c.success_threshold == 0 {
            return Err(BreakerConfigError::ZeroSuccessThreshold);
        }
        if c.half_open_max_calls == 0 {
            return Err(BreakerConfigError::ZeroHalfOpenCalls);
        }
        if c.success_threshold > c.half_open_max_calls {
            return Err(BreakerConfigError::SuccessAboveHalfOpenCalls {
                success_threshold: c.success_threshold,
                half_open_max_calls: c.half_open_max_calls,
            });
        }
        if !(0.0..=1.0).contains(&c.open_jitter) {
            return Err(BreakerConfigError::JitterOutOfRange(c.open_jitter));
        }
        if c.open_duration.is_zero() {
            return Err(BreakerConfigError::ZeroOpenDuration);
        }
        if c.probe_timeout.is_some_and(|d| d.is_zero()) {
            return Err(BreakerConfigError::ZeroProbeTimeout);
        }
        Ok(CircuitBreaker::from_config(self.config))
    }
}
