//! The pool handle, its builder, checkouts and the background tasks.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::config::{ConfigError, PoolConfig, check_sizes};
use crate::core::{Acquire, CloseReason, Core, Effects, Grant, WaitKey};
use crate::error::{CloseError, PoolError};
use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::loom::sync::{Arc, Mutex, StdArc};
use crate::manager::Manager;
use crate::metrics::{Metrics, State, Stats, WaitHistogram};

/// A connection with the pool's bookkeeping. Times are [`Clock`] ticks.
pub(crate) struct Conn<C> {
    raw: C,
    /// When it must be closed (max_lifetime minus jitter); `u64::MAX` never.
    expires: u64,
    /// When it was last returned (or created).
    last_used: u64,
}

/// Milliseconds since the pool started, read without a system call on the
/// hot path: checkout and return read a value the housekeeper refreshes
/// every few milliseconds (a tenth of the validation skip window), because
/// `clock_gettime` per checkout is a measurable share of a cycle.
struct Clock {
    origin: Instant,
    ms: AtomicU64,
}

impl Clock {
    fn coarse(&self) -> u64 {
        self.ms.load(Ordering::Relaxed)
    }

    fn exact(&self) -> u64 {
        let now = ms(self.origin.elapsed());
        self.ms.fetch_max(now, Ordering::Relaxed);
        now
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Reports leaked checkouts. Called from the housekeeper with the place
/// `get()` was called and how long the connection has been held.
pub type LeakHook = Box<dyn Fn(&'static Location<'static>, Duration) + Send + Sync>;

/// Open checkouts, tracked only when leak detection is on.
struct LeakTable {
    slots: Vec<Option<LeakEntry>>,
    free: Vec<u32>,
}

struct LeakEntry {
    since: u64,
    site: &'static Location<'static>,
    reported: bool,
}

pub(crate) struct Shared<M: Manager> {
    manager: M,
    config: PoolConfig,
    core: Core<Conn<M::Connection>>,
    runtime: tokio::runtime::Handle,
    /// The most recent real create error, shared by every waiter that
    /// times out while it stands (`PoolError::Timeout`).
    last_error: Mutex<Option<StdArc<M::Error>>>,
    /// Signalled when a closed pool has nothing left open.
    drained: Notify,
    /// Signalled when the last `Pool` handle is dropped.
    shutdown: Notify,
    metrics: Metrics,
    leaks: Option<Mutex<LeakTable>>,
    leak_hook: Option<LeakHook>,
    waits: WaitHistogram,
    rng: AtomicU64,
    clock: Clock,
    /// How often the housekeeper refreshes `clock`.
    tick: Duration,
}

/// Stops the housekeeper when the last user handle goes away.
struct HandleToken<M: Manager> {
    shared: Arc<Shared<M>>,
}

impl<M: Manager> Drop for HandleToken<M> {
    fn drop(&mut self) {
        self.shared.shutdown.notify_one();
    }
}

/// A pool of connections made by a [`Manager`]. Cloning is cheap and every
/// clone shares the same connections.
///
/// ```
/// # use covet_pool::{Manager, Pool};
/// # struct Numbers;
/// # impl Manager for Numbers {
/// #     type Connection = u64;
/// #     type Error = std::io::Error;
/// #     async fn create(&self) -> Result<u64, std::io::Error> { Ok(7) }
/// #     async fn validate(&self, _: &mut u64) -> Result<(), std::io::Error> { Ok(()) }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = Pool::builder(Numbers).max_size(4).build()?;
/// let conn = pool.get().await?;
/// assert_eq!(*conn, 7);
/// drop(conn);
/// assert_eq!(pool.state().idle, 1);
/// # Ok(()) }
/// ```
pub struct Pool<M: Manager> {
    token: Arc<HandleToken<M>>,
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self {
            token: self.token.clone(),
        }
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.config().name)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

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

    fn shared(&self) -> &Arc<Shared<M>> {
        &self.token.shared
    }

    /// Checks out a connection: the most recently used idle one, else waits
    /// in line (first come, first served) while a new one is created.
    ///
    /// Fails with [`PoolError::Timeout`] at `acquire_timeout` (a waiter has
    /// its own timer, so within a millisecond or so of the deadline),
    /// carrying the last create error if creates were failing (every caller
    /// that times out gets it), or [`PoolError::Closed`]. The fast path, an
    /// idle connection, arms no timer, reads no clock and allocates nothing.
    /// Dropping the future at any point loses no capacity: a connection
    /// created or granted for it goes to the next waiter or the idle list.
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<Pooled<M>, PoolError<M::Error>>> + Send + '_ {
        let site = Location::caller();
        Shared::acquire(self.shared(), site)
    }

    /// Current occupancy.
    pub fn state(&self) -> State {
        self.shared().core.snapshot().0.into()
    }

    /// An exact, self-consistent snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared().stats()
    }

    /// The configuration the pool was built with (`max_size` as built; see
    /// [`State::max_size`] after a resize).
    pub fn config(&self) -> &PoolConfig {
        &self.shared().config
    }

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.shared().manager
    }

    /// Changes the maximum size at run time. Growing starts creates for
    /// waiting callers; shrinking closes idle connections at once and
    /// checked-out ones as they come back.
    pub fn resize(&self, max_size: u32) -> Result<(), ConfigError> {
        let shared = self.shared();
        check_sizes(max_size, shared.config.min_idle)?;
        let (closed, creates) = shared.core.resize(max_size);
        drop(closed);
        for _ in 0..creates {
            Shared::spawn_create(shared);
        }
        Ok(())
    }

    /// Closes the pool: waiting callers get [`PoolError::Closed`], idle
    /// connections are closed now, checked-out ones when they are returned.
    /// Waits up to `deadline` for those to come back.
    pub async fn close(&self, deadline: Duration) -> Result<(), CloseError> {
        let shared = self.shared();
        let (idle, wakers, _) = shared.core.close();
        drop(idle);
        for w in wakers {
            w.wake();
        }
        shared.shutdown.notify_one();
        let until = Instant::now() + deadline;
        loop {
            let notified = shared.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (g, c) = shared.core.snapshot();
            if g.size == 0 && g.pending == 0 {
                shared.metrics.publish(g, &c);
                return Ok(());
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                let (g, c) = shared.core.snapshot();
                shared.metrics.publish(g, &c);
                if g.size == 0 && g.pending == 0 {
                    return Ok(());
                }
                return Err(CloseError::Timeout {
                    in_use: g.in_use + g.maintenance,
                    creating: g.pending,
                });
            }
        }
    }

    /// Lengths and capacities of the pool's internal collections (waiter
    /// slab length, waiter slab capacity, idle list capacity). For leak tests.
    #[doc(hidden)]
    pub fn internal_allocations(&self) -> (usize, usize, usize) {
        self.shared().core.allocations()
    }
}

/// Waits for a grant until `expiry` fires; cancels the wait (passing on any
/// grant) when dropped.
struct Wait<'a, 'b, M: Manager> {
    shared: &'a Arc<Shared<M>>,
    key: Option<WaitKey>,
    /// This waiter's own timer, armed only once it has to queue, so an
    /// acquire fails at its deadline rather than on a housekeeper tick.
    expiry: Pin<&'b mut tokio::time::Sleep>,
}

impl<M: Manager> Future for Wait<'_, '_, M> {
    type Output = Grant<Conn<M::Connection>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let key = self.key.expect("Wait polled after completion");
        if let Poll::Ready(grant) = self.shared.core.poll_wait(key, cx.waker()) {
            self.key = None;
            return Poll::Ready(grant);
        }
        if self.expiry.as_mut().poll(cx).is_ready() {
            // A grant made since the look above still wins (`time_out`
            // hands it over); after this no release can reach the key.
            self.key = None;
            return Poll::Ready(self.shared.core.time_out(key));
        }
        Poll::Pending
    }
}

impl<M: Manager> Drop for Wait<'_, '_, M> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let fx = self.shared.core.cancel(key);
            Shared::apply(self.shared, fx);
        }
    }
}

impl<M: Manager> Shared<M> {
    async fn acquire(
        this: &Arc<Self>,
        site: &'static Location<'static>,
    ) -> Result<Pooled<M>, PoolError<M::Error>> {
        let cfg = &this.config;
        // Set at the first step that can block (queueing or validating);
        // everything before it is a few instructions under one lock, so the
        // fast path reads no clock and the bound is still the whole call.
        let mut started: Option<Instant> = None;
        loop {
            let conn = match this.core.acquire() {
                Acquire::Ready(conn) => conn,
                Acquire::Closed => return Err(PoolError::Closed),
                Acquire::Wait { key, creates } => {
                    for _ in 0..creates {
                        Self::spawn_create(this);
                    }
                    let start = *started.get_or_insert_with(Instant::now);
                    let grant = Wait {
                        shared: this,
                        key: Some(key),
                        expiry: std::pin::pin!(tokio::time::sleep_until(
                            start + cfg.acquire_timeout
                        )),
                    }
                    .await;
                    if let Grant::TimedOut = grant {
                        return Err(this.timeout_error(start));
                    }
                    this.record_wait(start.elapsed());
                    match grant {
                        Grant::Conn(conn) => conn,
                        Grant::Closed => return Err(PoolError::Closed),
                        Grant::TimedOut => unreachable!("handled above"),
                    }
                }
            };
            let mut pooled = Pooled {
                conn: Some(conn),
                shared: Arc::clone(this),
                discard: None,
                reset_done: false,
                leak_slot: None,
            };
            let now = this.clock.coarse();
            let c = pooled.conn.as_mut().expect("just set");
            if c.expires <= now {
                pooled.discard = Some(CloseReason::MaxLifetime);
                continue;
            }
            if this.manager.has_broken(&mut c.raw) {
                pooled.discard = Some(CloseReason::Broken);
                continue;
            }
            if cfg.validate_on_checkout
                && now.saturating_sub(c.last_used) >= ms(cfg.validation_skip_window)
            {
                // Dropped mid-validation, the connection's protocol state is
                // unknown: it is discarded rather than returned.
                pooled.discard = Some(CloseReason::Discarded);
                let now = Instant::now();
                let start = *started.get_or_insert(now);
                let until = (now + cfg.validation_timeout).min(start + cfg.acquire_timeout);
                let c = pooled.conn.as_mut().expect("just set");
                let ok = matches!(
                    tokio::time::timeout_at(until, this.manager.validate(&mut c.raw)).await,
                    Ok(Ok(()))
                );
                if !ok {
                    this.core.count(|c| c.validation_failures += 1);
                    pooled.discard = Some(CloseReason::ValidationFailed);
                    drop(pooled);
                    if Instant::now() >= start + cfg.acquire_timeout {
                        this.core.count(|c| c.timeouts += 1);
                        return Err(this.timeout_error(start));
                    }
                    continue;
                }
                pooled.discard = None;
            }
            if let Some(leaks) = &this.leaks {
                pooled.leak_slot = Some(leaks.lock().insert(now, site));
            }
            return Ok(pooled);
        }
    }

    fn timeout_error(&self, start: Instant) -> PoolError<M::Error> {
        PoolError::Timeout {
            waited: start.elapsed(),
            last_error: self.last_error.lock().clone(),
        }
    }

    fn record_wait(&self, waited: Duration) {
        self.waits.record(waited);
        self.metrics.wait_seconds.record(waited.as_secs_f64());
    }

    fn stats(&self) -> Stats {
        let (g, c) = self.core.snapshot();
        Stats::new(g, &c, &self.waits)
    }

    /// Carries out what the core asked for, outside its lock.
    fn apply(this: &Arc<Self>, fx: Effects<Conn<M::Connection>>) {
        if let Some(w) = fx.wake {
            w.wake();
        }
        if let Some((conn, reason)) = fx.close {
            tracing::debug!(pool = %this.config.name, reason = reason.as_str(), "closing connection");
            drop(conn);
        }
        for _ in 0..fx.creates {
            Self::spawn_create(this);
        }
        if fx.drained {
            this.drained.notify_waiters();
        }
    }

    fn new_conn(&self, raw: M::Connection) -> Conn<M::Connection> {
        let now = self.clock.exact();
        let expires = self.config.max_lifetime.map_or(u64::MAX, |life| {
            let jitter = self.config.lifetime_jitter;
            let cut = if jitter.is_zero() {
                Duration::ZERO
            } else {
                jitter.mul_f64(self.random_unit())
            };
            now.saturating_add(ms(life - cut))
        });
        Conn {
            raw,
            expires,
            last_used: now,
        }
    }

    /// A uniform value in [0, 1) from a shared xorshift state.
    fn random_unit(&self) -> f64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Full jitter: a uniform delay in [0, min(max, base * 2^attempt)).
    fn backoff(&self, attempt: u32) -> Duration {
        let cfg = &self.config;
        let ceiling = cfg
            .create_backoff_base
            .saturating_mul(1u32 << attempt.min(20))
            .min(cfg.create_backoff_max);
        ceiling.mul_f64(self.random_unit())
    }

    fn spawn_create(this: &Arc<Self>) {
        this.runtime.spawn(Self::create_loop(Arc::clone(this)));
    }

    /// Opens one connection for the slot reserved for it, retrying while
    /// someone waits; the result goes to the oldest waiter or the idle list.
    async fn create_loop(this: Arc<Self>) {
        let mut attempt = 0u32;
        loop {
            match tokio::time::timeout(this.config.create_timeout, this.manager.create()).await {
                Ok(Ok(raw)) => {
                    *this.last_error.lock() = None;
                    let conn = this.new_conn(raw);
                    let fx = this.core.create_done(conn);
                    Self::apply(&this, fx);
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(pool = %this.config.name, error = %e, "connection create failed");
                    *this.last_error.lock() = Some(StdArc::new(e));
                }
                Err(_) => {
                    tracing::warn!(pool = %this.config.name, timeout = ?this.config.create_timeout, "connection create timed out");
                }
            }
            let (retry, fx) = this.core.create_failed();
            Self::apply(&this, fx);
            if !retry {
                return;
            }
            tokio::time::sleep(this.backoff(attempt)).await;
            attempt = attempt.saturating_add(1);
            let (retry, fx) = this.core.create_retry();
            Self::apply(&this, fx);
            if !retry {
                return;
            }
        }
    }

    /// Takes back a connection from a [`Pooled`].
    fn give_back(
        this: &Arc<Self>,
        mut conn: Conn<M::Connection>,
        discard: Option<CloseReason>,
        reset_done: bool,
    ) {
        let reason = discard.or_else(|| {
            this.manager
                .has_broken(&mut conn.raw)
                .then_some(CloseReason::Broken)
        });
        if let Some(reason) = reason {
            let fx = this.core.discard(reason);
            drop(conn);
            Self::apply(this, fx);
            return;
        }
        if !reset_done && this.manager.needs_reset(&conn.raw) {
            let mut pooled = Pooled {
                conn: Some(conn),
                shared: Arc::clone(this),
                discard: Some(CloseReason::ResetFailed),
                reset_done: true,
                leak_slot: None,
            };
            let timeout = this.config.validation_timeout;
            this.runtime.spawn(async move {
                let shared = Arc::clone(&pooled.shared);
                let c = pooled.conn.as_mut().expect("set above");
                if let Ok(Ok(())) =
                    tokio::time::timeout(timeout, shared.manager.reset(&mut c.raw)).await
                {
                    pooled.keep();
                }
            });
            return;
        }
        let now = this.clock.coarse();
        if conn.expires <= now {
            let fx = this.core.discard(CloseReason::MaxLifetime);
            drop(conn);
            Self::apply(this, fx);
            return;
        }
        conn.last_used = now;
        let fx = this.core.release(conn);
        Self::apply(this, fx);
    }

    /// Background maintenance until the pool is closed or its last handle
    /// is dropped.
    async fn housekeeper(this: Arc<Self>) {
        let cfg = &this.config;
        let every = ms(cfg.housekeeping_interval);
        let mut tick = tokio::time::interval(this.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = this.shutdown.notified() => break,
            }
            let now = this.clock.exact();
            if now.saturating_sub(last) < every {
                continue;
            }
            last = now;
            if this.core.snapshot().0.closed {
                break;
            }
            Self::housekeep(&this);
        }
        let (g, c) = this.core.snapshot();
        this.metrics.publish(g, &c);
    }

    fn housekeep(this: &Arc<Self>) {
        let cfg = &this.config;
        let now = this.clock.exact();
        let evicted = this.core.evict_idle(cfg.min_idle, |c| {
            if c.expires <= now {
                Some(CloseReason::MaxLifetime)
            } else if cfg
                .idle_timeout
                .is_some_and(|t| now.saturating_sub(c.last_used) >= ms(t))
            {
                Some(CloseReason::IdleTimeout)
            } else {
                None
            }
        });
        drop(evicted);
        if let Some(interval) = cfg.keepalive_interval {
            for conn in this
                .core
                .take_for_maintenance(|c| now.saturating_sub(c.last_used) >= ms(interval))
            {
                this.runtime.spawn(Self::keepalive(Arc::clone(this), conn));
            }
        }
        for _ in 0..this.core.reserve_min_idle(cfg.min_idle) {
            Self::spawn_create(this);
        }
        if let (Some(threshold), Some(leaks)) = (cfg.leak_detection_threshold, &this.leaks) {
            let found = leaks.lock().scan(now, threshold);
            for (site, held) in found {
                this.core.count(|c| c.leaks_detected += 1);
                tracing::warn!(
                    pool = %cfg.name,
                    acquired_at = %site,
                    held = ?held,
                    "connection held longer than leak_detection_threshold"
                );
                if let Some(hook) = &this.leak_hook {
                    hook(site, held);
                }
            }
        }
        let (g, c) = this.core.snapshot();
        this.metrics.publish(g, &c);
    }

    async fn keepalive(this: Arc<Self>, mut conn: Conn<M::Connection>) {
        let ok = matches!(
            tokio::time::timeout(
                this.config.validation_timeout,
                this.manager.validate(&mut conn.raw)
            )
            .await,
            Ok(Ok(()))
        );
        if ok {
            conn.last_used = this.clock.exact();
        }
        let fx = this
            .core
            .maintenance_done(conn, (!ok).then_some(CloseReason::KeepaliveFailed));
        Self::apply(&this, fx);
    }
}

/// How often the coarse clock is refreshed: a tenth of the shortest window
/// it measures, between 1 ms and 100 ms. Acquire deadlines do not use it
/// (each waiter has its own timer).
fn clock_tick(cfg: &PoolConfig) -> Duration {
    let mut shortest = cfg.housekeeping_interval;
    if cfg.validate_on_checkout && !cfg.validation_skip_window.is_zero() {
        shortest = shortest.min(cfg.validation_skip_window);
    }
    (shortest / 10).clamp(Duration::from_millis(1), Duration::from_millis(100))
}

impl LeakTable {
    fn insert(&mut self, since: u64, site: &'static Location<'static>) -> u32 {
        let entry = Some(LeakEntry {
            since,
            site,
            reported: false,
        });
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = entry;
            i
        } else {
            self.slots.push(entry);
            (self.slots.len() - 1) as u32
        }
    }

    fn remove(&mut self, i: u32) {
        self.slots[i as usize] = None;
        self.free.push(i);
    }

    fn scan(
        &mut self,
        now: u64,
        threshold: Duration,
    ) -> Vec<(&'static Location<'static>, Duration)> {
        let mut out = Vec::new();
        for e in self.slots.iter_mut().flatten() {
            let held = Duration::from_millis(now.saturating_sub(e.since));
            if !e.reported && held >= threshold {
                e.reported = true;
                out.push((e.site, held));
            }
        }
        out
    }
}

/// A checked-out connection; it goes back to the pool when dropped.
pub struct Pooled<M: Manager> {
    conn: Option<Conn<M::Connection>>,
    shared: Arc<Shared<M>>,
    /// Close instead of returning, for this reason.
    discard: Option<CloseReason>,
    reset_done: bool,
    leak_slot: Option<u32>,
}

impl<M: Manager> Pooled<M> {
    /// Returns the connection to the pool on drop after all.
    fn keep(&mut self) {
        self.discard = None;
    }

    /// Closes this connection instead of returning it (after a timeout left
    /// it mid-query, or a fatal error); the pool frees the slot.
    pub fn discard(mut self) {
        self.discard = Some(CloseReason::Discarded);
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        &self.conn.as_ref().expect("present until drop").raw
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.conn.as_mut().expect("present until drop").raw
    }
}

impl<M: Manager> fmt::Debug for Pooled<M>
where
    M::Connection: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pooled").field(&**self).finish()
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        if let (Some(i), Some(leaks)) = (self.leak_slot.take(), &self.shared.leaks) {
            leaks.lock().remove(i);
        }
        if let Some(conn) = self.conn.take() {
            Shared::give_back(&self.shared, conn, self.discard, self.reset_done);
        }
    }
}
