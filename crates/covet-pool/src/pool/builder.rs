//! [`PoolBuilder`]: one setter per configuration field, and `build`, which
//! starts the pool.

use std::fmt;
use std::panic::Location;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::clock::{Clock, clock_tick};
use super::handle::HandleToken;
use super::leak::{LeakHook, LeakTable};
use super::{Pool, Shared};
use crate::config::{ConfigError, PoolConfig};
use crate::core::Core;
use crate::loom::sync::atomic::AtomicU64;
use crate::loom::sync::{Arc, Mutex};
use crate::manager::Manager;
use crate::metrics::{Metrics, WaitHistogram};

/// Builds a [`Pool`]; one setter per [`PoolConfig`] field.
pub struct PoolBuilder<M: Manager> {
    manager: M,
    config: PoolConfig,
    leak_hook: Option<LeakHook>,
}

impl<M: Manager> fmt::Debug for PoolBuilder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$name = value;
            self
        }
    )*};
}

impl<M: Manager> PoolBuilder<M> {
    setters! {
        /// See [`PoolConfig::max_size`] (default 10).
        max_size: u32;
        /// See [`PoolConfig::min_idle`] (default 0).
        min_idle: u32;
        /// See [`PoolConfig::acquire_timeout`] (default 30 s).
        acquire_timeout: Duration;
        /// See [`PoolConfig::create_timeout`] (default 10 s).
        create_timeout: Duration;
        /// See [`PoolConfig::validate_on_checkout`] (default true).
        validate_on_checkout: bool;
        /// See [`PoolConfig::validation_timeout`] (default 5 s).
        validation_timeout: Duration;
        /// See [`PoolConfig::validation_skip_window`] (default 500 ms).
        validation_skip_window: Duration;
        /// See [`PoolConfig::idle_timeout`] (default 10 min).
        idle_timeout: Option<Duration>;
        /// See [`PoolConfig::max_lifetime`] (default 30 min).
        max_lifetime: Option<Duration>;
        /// See [`PoolConfig::lifetime_jitter`] (default 30 s).
        lifetime_jitter: Duration;
        /// See [`PoolConfig::keepalive_interval`] (default off).
        keepalive_interval: Option<Duration>;
        /// See [`PoolConfig::leak_detection_threshold`] (default off).
        leak_detection_threshold: Option<Duration>;
        /// See [`PoolConfig::create_backoff_base`] (default 10 ms).
        create_backoff_base: Duration;
        /// See [`PoolConfig::create_backoff_max`] (default 1 s).
        create_backoff_max: Duration;
        /// See [`PoolConfig::housekeeping_interval`] (default 1 s).
        housekeeping_interval: Duration;
    }

    /// The `pool` label on this pool's metrics (default `"default"`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: PoolConfig) -> Self {
        self.config = config;
        self
    }

    /// Called for each leaked checkout, in addition to the `tracing` warning
    /// and the `leaks_detected` counter.
    pub fn leak_hook(
        mut self,
        hook: impl Fn(&'static Location<'static>, Duration) + Send + Sync + 'static,
    ) -> Self {
        self.leak_hook = Some(Box::new(hook));
        self
    }

    /// Validates the configuration and starts the pool: `min_idle`
    /// connections are opened in the background and the housekeeper starts.
    /// Must be called inside a tokio runtime; the pool's background work
    /// (creates, resets, the housekeeper) and the waiters' timers run on
    /// that runtime, so it must outlive the pool's use.
    pub fn build(self) -> Result<Pool<M>, ConfigError> {
        self.config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let seed = Instant::now().elapsed().as_nanos() as u64
            ^ (std::ptr::from_ref(&runtime) as usize as u64).rotate_left(17)
            ^ 0x9E37_79B9_7F4A_7C15;
        let tick = clock_tick(&self.config);
        let shared = Arc::new(Shared {
            core: Core::new(self.config.max_size),
            metrics: Metrics::new(&self.config.name),
            leaks: self.config.leak_detection_threshold.map(|_| {
                Mutex::new(LeakTable {
                    slots: Vec::new(),
                    free: Vec::new(),
                })
            }),
            leak_hook: self.leak_hook,
            manager: self.manager,
            config: self.config,
            runtime,
            last_error: Mutex::new(None),
            drained: Notify::new(),
            shutdown: Notify::new(),
            waits: WaitHistogram::new(),
            rng: AtomicU64::new(seed | 1),
            clock: Clock {
                origin: Instant::now(),
                ms: AtomicU64::new(0),
            },
            tick,
        });
        let warm = shared.core.reserve_min_idle(shared.config.min_idle);
        for _ in 0..warm {
            Shared::spawn_create(&shared);
        }
        shared
            .runtime
            .spawn(Shared::housekeeper(Arc::clone(&shared)));
        Ok(Pool {
            token: Arc::new(HandleToken { shared }),
        })
    }
}

impl<M: Manager> Pool<M> {
    /// Starts configuring a pool over `manager`.
    pub fn builder(manager: M) -> PoolBuilder<M> {
        PoolBuilder {
            manager,
            config: PoolConfig::default(),
            leak_hook: None,
        }
    }
}
