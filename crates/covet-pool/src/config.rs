//! Pool configuration, its defaults and its validation.

use std::time::Duration;

/// Why a configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_size` was 0.
    #[error("max_size must be at least 1")]
    ZeroMaxSize,
    /// `min_idle` was larger than `max_size`.
    #[error("min_idle ({min_idle}) must not exceed max_size ({max_size})")]
    MinIdleAboveMaxSize {
        /// The requested `min_idle`.
        min_idle: u32,
        /// The requested `max_size`.
        max_size: u32,
    },
    /// A duration that must be positive was zero.
    #[error("{setting} must be greater than zero")]
    ZeroDuration {
        /// The name of the setting.
        setting: &'static str,
    },
    /// `create_backoff_base` was larger than `create_backoff_max`.
    #[error("create_backoff_base ({base:?}) must not exceed create_backoff_max ({max:?})")]
    BackoffBaseAboveMax {
        /// The requested base.
        base: Duration,
        /// The requested cap.
        max: Duration,
    },
    /// `lifetime_jitter` was not smaller than `max_lifetime`.
    #[error("lifetime_jitter ({jitter:?}) must be smaller than max_lifetime ({max_lifetime:?})")]
    JitterNotBelowLifetime {
        /// The requested jitter.
        jitter: Duration,
        /// The requested lifetime.
        max_lifetime: Duration,
    },
    /// `keepalive_interval` was not smaller than `max_lifetime`, so no
    /// connection would ever be pinged.
    #[error(
        "keepalive_interval ({keepalive:?}) must be smaller than max_lifetime ({max_lifetime:?})"
    )]
    KeepaliveNotBelowLifetime {
        /// The requested keepalive interval.
        keepalive: Duration,
        /// The requested lifetime.
        max_lifetime: Duration,
    },
    /// `build` was called outside a tokio runtime.
    #[error("the pool must be built inside a tokio runtime (it spawns its housekeeper)")]
    NoRuntime,
}

/// Every pool setting. Build one with [`crate::Pool::builder`]; read it back
/// with [`crate::Pool::config`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Most connections open at once, including ones being created.
    /// Default 10. Can be changed later with [`crate::Pool::resize`].
    pub max_size: u32,
    /// Idle connections the pool opens at start and keeps open; connections
    /// beyond this many are closed after `idle_timeout`. Default 0.
    pub min_idle: u32,
    /// How long [`crate::Pool::get`] may take in total: waiting, creating
    /// and validating. Default 30 s. A caller that has to wait arms its own
    /// timer for this deadline, so the timeout fires never early and only as
    /// late as the runtime's timer resolution (about a millisecond).
    pub acquire_timeout: Duration,
    /// Bound on one `Manager::create` call. Default 10 s.
    pub create_timeout: Duration,
    /// Whether `Manager::validate` runs on checkout (subject to
    /// `validation_skip_window`). Default true.
    pub validate_on_checkout: bool,
    /// Bound on one `Manager::validate` call. Default 5 s.
    pub validation_timeout: Duration,
    /// A connection used (returned) within this window is not validated on
    /// checkout. Default 500 ms.
    pub validation_skip_window: Duration,
    /// Idle connections above `min_idle` are closed after this long unused.
    /// `None` keeps them. Default 10 min.
    pub idle_timeout: Option<Duration>,
    /// Connections are closed once this old (when idle or on return).
    /// `None` keeps them forever. Default 30 min.
    pub max_lifetime: Option<Duration>,
    /// Each connection's lifetime is shortened by a random amount up to this,
    /// so connections opened together do not all expire together.
    /// Default 30 s (must be below `max_lifetime`).
    pub lifetime_jitter: Duration,
    /// Idle connections unused for this long are pinged with
    /// `Manager::validate` by the housekeeper; a failure closes them.
    /// `None` disables pings. Default `None`.
    pub keepalive_interval: Option<Duration>,
    /// A connection held longer than this is reported (once per checkout)
    /// with the place it was acquired, and counted in `leaks_detected`.
    /// `None` disables it. Default `None`.
    pub leak_detection_threshold: Option<Duration>,
    /// First retry delay after a failed create; doubles per attempt, with
    /// full jitter. Default 10 ms.
    pub create_backoff_base: Duration,
    /// Cap on the retry delay. Default 1 s.
    pub create_backoff_max: Duration,
    /// How often the housekeeper runs (idle and lifetime eviction, min_idle,
    /// keepalive, leak detection, metric gauges). Default 1 s.
    pub housekeeping_interval: Duration,
    /// The `pool` label on every metric. Default `"default"`.
    pub name: String,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 10,
            min_idle: 0,
            acquire_timeout: Duration::from_secs(30),
            create_timeout: Duration::from_secs(10),
            validate_on_checkout: true,
            validation_timeout: Duration::from_secs(5),
            validation_skip_window: Duration::from_millis(500),
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            lifetime_jitter: Duration::from_secs(30),
            keepalive_interval: None,
            leak_detection_threshold: None,
            create_backoff_base: Duration::from_millis(10),
            create_backoff_max: Duration::from_secs(1),
            housekeeping_interval: Duration::from_secs(1),
            name: "default".to_owned(),
        }
    }
}

impl PoolConfig {
    /// Checks the settings against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_sizes(self.max_size, self.min_idle)?;
        for (setting, d) in [
            ("acquire_timeout", Some(self.acquire_timeout)),
            ("create_timeout", Some(self.create_timeout)),
            ("validation_timeout", Some(self.validation_timeout)),
            ("idle_timeout", self.idle_timeout),
            ("max_lifetime", self.max_lifetime),
            ("keepalive_interval", self.keepalive_interval),
            ("leak_detection_threshold", self.leak_detection_threshold),
            ("create_backoff_base", Some(self.create_backoff_base)),
            ("housekeeping_interval", Some(self.housekeeping_interval)),
        ] {
            if d == Some(Duration::ZERO) {
                return Err(ConfigError::ZeroDuration { setting });
            }
        }
        if self.create_backoff_base > self.create_backoff_max {
            return Err(ConfigError::BackoffBaseAboveMax {
                base: self.create_backoff_base,
                max: self.create_backoff_max,
            });
        }
        if let Some(max_lifetime) = self.max_lifetime {
            if self.lifetime_jitter >= max_lifetime {
                return Err(ConfigError::JitterNotBelowLifetime {
                    jitter: self.lifetime_jitter,
                    max_lifetime,
                });
            }
            if let Some(keepalive) = self.keepalive_interval
                && keepalive >= max_lifetime
            {
                return Err(ConfigError::KeepaliveNotBelowLifetime {
                    keepalive,
                    max_lifetime,
                });
            }
        }
        Ok(())
    }
}

pub(crate) fn check_sizes(max_size: u32, min_idle: u32) -> Result<(), ConfigError> {
    if max_size == 0 {
        return Err(ConfigError::ZeroMaxSize);
    }
    if min_idle > max_size {
        return Err(ConfigError::MinIdleAboveMaxSize { min_idle, max_size });
    }
    Ok(())
}
