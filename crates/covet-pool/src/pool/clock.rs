//! The pool's coarse millisecond clock and how often it is refreshed.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::PoolConfig;
use crate::loom::sync::atomic::{AtomicU64, Ordering};

/// Milliseconds since the pool started, read without a system call on the
/// hot path: checkout and return read a value the housekeeper refreshes
/// every few milliseconds (a tenth of the validation skip window), because
/// `clock_gettime` per checkout is a measurable share of a cycle.
pub(super) struct Clock {
    pub(super) origin: Instant,
    pub(super) ms: AtomicU64,
}

impl Clock {
    pub(super) fn coarse(&self) -> u64 {
        self.ms.load(Ordering::Relaxed)
    }

    pub(super) fn exact(&self) -> u64 {
        let now = ms(self.origin.elapsed());
        self.ms.fetch_max(now, Ordering::Relaxed);
        now
    }
}

/// `d` in whole milliseconds, saturating.
pub(super) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// How often the coarse clock is refreshed: a tenth of the shortest window
/// it measures, between 1 ms and 100 ms. Acquire deadlines do not use it
/// (each waiter has its own timer).
pub(super) fn clock_tick(cfg: &PoolConfig) -> Duration {
    let mut shortest = cfg.housekeeping_interval;
    if cfg.validate_on_checkout && !cfg.validation_skip_window.is_zero() {
        shortest = shortest.min(cfg.validation_skip_window);
    }
    (shortest / 10).clamp(Duration::from_millis(1), Duration::from_millis(100))
}
