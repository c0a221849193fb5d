//! The live progress figures and the once-a-second loop that reports them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::config::RunConfig;
use super::dispatch::Shared;

/// What the live progress callback receives once a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Time since the run started (warm-up included).
    pub elapsed: Duration,
    /// Whether the run is still warming up.
    pub warming_up: bool,
    /// Statements completed in the last second.
    pub rate: f64,
    /// The target rate.
    pub target_rate: f64,
    /// p95 latency of the measured statements so far.
    pub p95: Duration,
    /// Errors so far (measured period).
    pub errors: u64,
    /// Statements started late so far.
    pub late: u64,
    /// Statements dropped so far.
    pub dropped: u64,
    /// Statements in flight now.
    pub in_flight: u64,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Calls `f` once a second with live figures until `done`.
pub(super) async fn progress_loop(
    shared: Arc<Shared>,
    done: Arc<AtomicBool>,
    f: ProgressFn,
    cfg: RunConfig,
    start: Instant,
) {
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    while !done.load(Ordering::Relaxed) {
        tick.tick().await;
        let now = Instant::now();
        let p = {
            let mut r = shared.recorder.lock();
            let rate = r.completed_last as f64;
            r.completed_last = 0;
            Progress {
                elapsed: now.saturating_duration_since(start),
                warming_up: now < r.measure_from,
                rate,
                target_rate: cfg.rate,
                p95: r.overall.latency.quantile(0.95),
                errors: r.overall.errors,
                late: r.overall.late,
                dropped: r.overall.dropped,
                in_flight: shared.in_flight.load(Ordering::Relaxed),
            }
        };
        f(&p);
    }
}
