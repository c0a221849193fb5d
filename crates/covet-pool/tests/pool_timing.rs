//! Acquire timeouts: a waiter fails at its deadline (not on a later
//! housekeeper tick), and every waiter that times out while creates fail
//! gets the last create error.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use covet_pool::{Pool, PoolError};
use support::TestManager;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// With the paused clock a timeout fires exactly at `acquire_timeout`:
/// no tick rounds it up. The default housekeeping settings give a 50 ms
/// clock tick, which used to add up to two ticks.
#[tokio::test(start_paused = true)]
async fn exhausted_pool_times_out_exactly_at_the_deadline_with_a_paused_clock() {
    for timeout_ms in [20u64, 300, 2_000, 30_000] {
        let timeout = Duration::from_millis(timeout_ms);
        let (m, _) = TestManager::new();
        let pool = Pool::builder(m)
            .max_size(1)
            .acquire_timeout(timeout)
            .build()
            .unwrap();
        let _held = pool.get().await.unwrap();
        let t0 = Instant::now();
        let err = pool.get().await.expect_err("nothing is released");
        assert_eq!(t0.elapsed(), timeout, "timeout {timeout:?}");
        match err {
            PoolError::Timeout { waited, last_error } => {
                assert_eq!(waited, timeout);
                assert!(last_error.is_none(), "the pool was only busy");
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
        let s = pool.stats();
        assert_eq!((s.timeouts, s.state.waiters), (1, 0));
    }
}

/// Real time: the acquire fails within a few milliseconds of its deadline,
/// never before it. 20 ms of slack absorbs scheduling on a busy machine;
/// the old tick-based expiry was at least 21 ms late here (tick 20 ms).
#[tokio::test]
async fn exhausted_pool_times_out_within_milliseconds_in_real_time() {
    let timeout = Duration::from_millis(200);
    let (m, _) = TestManager::new();
    let pool = Pool::builder(m)
        .max_size(1)
        .acquire_timeout(timeout)
        .build()
        .unwrap();
    let _held = pool.get().await.unwrap();
    for _ in 0..3 {
        let t0 = std::time::Instant::now();
        let err = pool.get().await.expect_err("nothing is released");
        let took = t0.elapsed();
        assert!(matches!(err, PoolError::Timeout { .. }), "{err:?}");
        assert!(took >= timeout, "early: {took:?}");
        assert!(
            took < timeout + Duration::from_millis(20),
            "late: {took:?} for a {timeout:?} timeout"
        );
    }
}

/// Many waiters time out at the same instant while every create fails:
/// each one carries the last create error, not only the first to look.
#[tokio::test(start_paused = true)]
async fn waiters_timing_out_together_all_get_the_last_create_error() {
    const WAITERS: usize = 8;
    let (m, knobs) = TestManager::new();
    knobs.always_fail.store(true, Ordering::SeqCst);
    let pool = Pool::builder(m)
        .max_size(2)
        .acquire_timeout(Duration::from_millis(500))
        .create_backoff_base(Duration::from_millis(10))
        .create_backoff_max(Duration::from_millis(40))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..WAITERS {
        let pool = pool.clone();
        set.spawn(async move { pool.get().await.map(|c| c.id) });
    }
    let mut errors = Vec::new();
    while let Some(r) = set.join_next().await {
        errors.push(r.unwrap().expect_err("every create fails"));
    }
    let attempts = knobs.creates.load(Ordering::SeqCst);
    assert!(attempts > 2, "creates were retried: {attempts}");
    for err in &errors {
        assert!(
            matches!(
                err,
                PoolError::Timeout {
                    last_error: Some(_),
                    ..
                }
            ),
            "a waiter timed out without the create error: {err:?}"
        );
        let msg = err.to_string();
        let n: u64 = msg
            .rsplit("attempt ")
            .next()
            .and_then(|s| s.trim_end_matches(')').parse().ok())
            .unwrap_or_else(|| panic!("no attempt number in {msg:?}"));
        // The most recent failure at the time of the timeout (the other
        // create slot may fail in the same instant).
        assert!(
            n + 2 >= attempts,
            "a stale error: attempt {n} of {attempts}"
        );
        assert!(std::error::Error::source(err).is_some());
    }
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(500),
        "all at the deadline"
    );
    let s = pool.stats();
    assert_eq!(s.timeouts, WAITERS as u64);
    assert_eq!(s.state.waiters, 0);
}
