//! Errors building a breaker.

/// A breaker configuration that cannot work, rejected by
/// [`super::CircuitBreakerBuilder::build`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerConfigError {
    /// `failure_threshold` must be at least 1.
    #[error("failure_threshold must be at least 1")]
    ZeroFailureThreshold,
    /// `success_threshold` must be at least 1.
    #[error("success_threshold must be at least 1")]
    ZeroSuccessThreshold,
    /// `half_open_max_calls` must be at least 1.
    #[error("half_open_max_calls must be at least 1")]
    ZeroHalfOpenCalls,
    /// The half-open state could never close: it admits fewer calls than the
    /// successes it needs.
    #[error(
        "success_threshold ({success_threshold}) is above half_open_max_calls \
         ({half_open_max_calls}): the breaker could never close"
    )]
    SuccessAboveHalfOpenCalls {
        /// The configured success threshold.
        success_threshold: u32,
        /// The configured half-open admission cap.
        half_open_max_calls: u32,
    },
    /// The sliding window must hold at least one call.
    #[error("window_size must be at least 1")]
    ZeroWindow,
    /// The rate mode could never trip: it waits for more calls than the
    /// window holds.
    #[error(
        "min_calls ({min_calls}) is above window_size ({window_size}): the breaker could never open"
    )]
    MinCallsAboveWindow {
        /// The configured minimum number of calls.
        min_calls: u32,
        /// The configured window size.
        window_size: u32,
    },
    /// The failure rate must be in (0, 1].
    #[error("failure_rate must be in (0, 1], got {0}")]
    FailureRateOutOfRange(f64),
    /// The jitter fraction must be in [0, 1].
    #[error("open_jitter must be in [0, 1], got {0}")]
    JitterOutOfRange(f64),
    /// The open duration must be above zero.
    #[error("open_duration must be above zero")]
    ZeroOpenDuration,
    /// A probe timeout, when set, must be above zero.
    #[error("probe_timeout must be above zero")]
    ZeroProbeTimeout,
}
