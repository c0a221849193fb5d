//! Gauges, counters and their export through the `metrics` crate.

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};

use crate::core::{CloseReason, Counters, Gauges};
use crate::loom::sync::atomic::{AtomicU64, Ordering};

/// Buckets of the wait-time histogram: bucket `i` counts waits shorter than
/// 2^i microseconds; the last counts the rest (over about 67 s).
pub const WAIT_BUCKETS: usize = 28;

/// Wait times, recorded lock-free as waits finish.
pub(crate) struct WaitHistogram {
    buckets: [AtomicU64; WAIT_BUCKETS],
    total_nanos: AtomicU64,
    max_nanos: AtomicU64,
}

impl WaitHistogram {
    pub(crate) fn new() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            total_nanos: AtomicU64::new(0),
            max_nanos: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, waited: Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        let micros = nanos / 1000;
        let idx = (64 - micros.leading_zeros() as usize).min(WAIT_BUCKETS - 1);
        self.buckets[idx].fetch_add(1, Ordering::Relaxed);
        self.total_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.max_nanos.fetch_max(nanos, Ordering::Relaxed);
    }
}

/// Metric names. Every metric carries a `pool` label (the configured name);
/// `covet_pool_connections_closed_total` also carries `reason`
/// (see [`CloseReason::as_str`]).
pub mod names {
    /// Counter: connections opened.
    pub const CREATED: &str = "covet_pool_connections_created_total";
    /// Counter: connections closed, by `reason`.
    pub const CLOSED: &str = "covet_pool_connections_closed_total";
    /// Counter: successful checkouts.
    pub const ACQUIRED: &str = "covet_pool_acquired_total";
    /// Counter: connections given back (returned or discarded).
    pub const RELEASED: &str = "covet_pool_released_total";
    /// Counter: acquires that had to wait.
    pub const WAITS: &str = "covet_pool_waits_total";
    /// Counter: waits abandoned because the acquire future was dropped.
    pub const CANCELLED: &str = "covet_pool_cancelled_waits_total";
    /// Counter: acquires that failed with `PoolError::Timeout`.
    pub const TIMEOUTS: &str = "covet_pool_timeouts_total";
    /// Counter: failed `Manager::create` attempts (errors and timeouts).
    pub const CREATE_FAILURES: &str = "covet_pool_create_failures_total";
    /// Counter: create attempts made after a failure.
    pub const CREATE_RETRIES: &str = "covet_pool_create_retries_total";
    /// Counter: failed or timed-out validations on checkout.
    pub const VALIDATION_FAILURES: &str = "covet_pool_validation_failures_total";
    /// Counter: checkouts held longer than `leak_detection_threshold`.
    pub const LEAKS: &str = "covet_pool_leaks_detected_total";
    /// Gauge: open connections.
    pub const SIZE: &str = "covet_pool_size";
    /// Gauge: idle connections.
    pub const IDLE: &str = "covet_pool_idle";
    /// Gauge: checked-out connections.
    pub const IN_USE: &str = "covet_pool_in_use";
    /// Gauge: tasks waiting for a connection.
    pub const WAITERS: &str = "covet_pool_waiters";
    /// Gauge: the current `max_size`.
    pub const MAX_SIZE: &str = "covet_pool_max_size";
    /// Histogram (seconds): how long acquires that waited were queued.
    pub const WAIT_SECONDS: &str = "covet_pool_wait_seconds";
}

/// Occupancy at one moment.
///
/// `size == idle + in_use` except while the housekeeper pings idle
/// connections (those count in `size` only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct State {
    /// Open connections.
    pub size: u32,
    /// Idle connections.
    pub idle: u32,
    /// Checked-out connections (including ones being reset after return).
    pub in_use: u32,
    /// Tasks waiting for a connection.
    pub waiters: u32,
    /// Connections being created.
    pub creating: u32,
    /// The current maximum size.
    pub max_size: u32,
}

impl From<Gauges> for State {
    fn from(g: Gauges) -> Self {
        State {
            size: g.size,
            idle: g.idle,
            in_use: g.in_use,
            waiters: g.waiters,
            creating: g.pending,
            max_size: g.max_size,
        }
    }
}

/// A snapshot of the pool's counters, taken under the pool's lock so they
/// agree with each other and with [`Stats::state`]:
/// `created - closed == state.size` and `acquired - released == state.in_use`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Occupancy at the time of the snapshot.
    pub state: State,
    /// Connections opened.
    pub created: u64,
    /// Connections closed, all reasons.
    pub closed: u64,
    /// Successful checkouts.
    pub acquired: u64,
    /// Connections given back (returned or discarded).
    pub released: u64,
    /// Acquires that had to wait.
    pub waits: u64,
    /// Waits abandoned because the acquire future was dropped.
    pub cancelled_waits: u64,
    /// Acquires that timed out.
    pub timeouts: u64,
    /// Failed create attempts.
    pub create_failures: u64,
    /// Create attempts made after a failure.
    pub create_retries: u64,
    /// Failed validations on checkout.
    pub validation_failures: u64,
    /// Checkouts reported as leaked.
    pub leaks_detected: u64,
    /// Total time acquires spent waiting.
    pub wait_time_total: Duration,
    /// Longest single wait.
    pub wait_time_max: Duration,
    closed_by_reason: [u64; CloseReason::ALL.len()],
    wait_buckets: [u64; WAIT_BUCKETS],
}

impl Stats {
    pub(crate) fn new(g: Gauges, c: &Counters, waits: &WaitHistogram) -> Self {
        Stats {
            state: g.into(),
            created: c.created,
            closed: c.closed_total(),
            acquired: c.acquired,
            released: c.released,
            waits: c.waits,
            cancelled_waits: c.cancelled_waits,
            timeouts: c.timeouts,
            create_failures: c.create_failures,
            create_retries: c.create_retries,
            validation_failures: c.validation_failures,
            leaks_detected: c.leaks_detected,
            wait_time_total: Duration::from_nanos(waits.total_nanos.load(Ordering::Relaxed)),
            wait_time_max: Duration::from_nanos(waits.max_nanos.load(Ordering::Relaxed)),
            closed_by_reason: c.closed,
            wait_buckets: std::array::from_fn(|i| waits.buckets[i].load(Ordering::Relaxed)),
        }
    }

    /// The wait-time histogram: `(upper bound, count)` per bucket, the
    /// bounds doubling from 1 us; the last bound is `Duration::MAX`. Counts
    /// every acquire that queued and was served (not timeouts).
    pub fn wait_histogram(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.wait_buckets.iter().enumerate().map(|(i, &n)| {
            let bound = if i + 1 == WAIT_BUCKETS {
                Duration::MAX
            } else {
                Duration::from_micros(1 << i)
            };
            (bound, n)
        })
    }

    /// Connections closed for one reason.
    pub fn closed_for(&self, reason: CloseReason) -> u64 {
        self.closed_by_reason[reason.index()]
    }
}

/// Handles registered with the global recorder when the pool is built.
pub(crate) struct Metrics {
    created: Counter,
    closed: Vec<Counter>,
    acquired: Counter,
    released: Counter,
    waits: Counter,
    cancelled: Counter,
    timeouts: Counter,
    create_failures: Counter,
    create_retries: Counter,
    validation_failures: Counter,
    leaks: Counter,
    size: Gauge,
    idle: Gauge,
    in_use: Gauge,
    waiters: Gauge,
    max_size: Gauge,
    pub(crate) wait_seconds: Histogram,
}

impl Metrics {
    pub(crate) fn new(pool: &str) -> Self {
        let label = pool.to_owned();
        let c = |name: &'static str| metrics::counter!(name, "pool" => label.clone());
        let g = |name: &'static str| metrics::gauge!(name, "pool" => label.clone());
        Metrics {
            created: c(names::CREATED),
            closed: CloseReason::ALL
                .iter()
                .map(|r| {
                    metrics::counter!(names::CLOSED, "pool" => label.clone(), "reason" => r.as_str())
                })
                .collect(),
            acquired: c(names::ACQUIRED),
            released: c(names::RELEASED),
            waits: c(names::WAITS),
            cancelled: c(names::CANCELLED),
            timeouts: c(names::TIMEOUTS),
            create_failures: c(names::CREATE_FAILURES),
            create_retries: c(names::CREATE_RETRIES),
            validation_failures: c(names::VALIDATION_FAILURES),
            leaks: c(names::LEAKS),
            size: g(names::SIZE),
            idle: g(names::IDLE),
            in_use: g(names::IN_USE),
            waiters: g(names::WAITERS),
            max_size: g(names::MAX_SIZE),
            wait_seconds: metrics::histogram!(names::WAIT_SECONDS, "pool" => label.clone()),
        }
    }

    /// Publishes a consistent snapshot: counters as absolute values, so the
    /// hot path never touches the recorder.
    pub(crate) fn publish(&self, g: Gauges, c: &Counters) {
        self.created.absolute(c.created);
        for (counter, n) in self.closed.iter().zip(c.closed) {
            counter.absolute(n);
        }
        self.acquired.absolute(c.acquired);
        self.released.absolute(c.released);
        self.waits.absolute(c.waits);
        self.cancelled.absolute(c.cancelled_waits);
        self.timeouts.absolute(c.timeouts);
        self.create_failures.absolute(c.create_failures);
        self.create_retries.absolute(c.create_retries);
        self.validation_failures.absolute(c.validation_failures);
        self.leaks.absolute(c.leaks_detected);
        self.size.set(f64::from(g.size));
        self.idle.set(f64::from(g.idle));
        self.in_use.set(f64::from(g.in_use));
        self.waiters.set(f64::from(g.waiters));
        self.max_size.set(f64::from(g.max_size));
    }
}
