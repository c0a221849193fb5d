//! Create failures: retries with backoff, and the last error on timeout.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use covet_pool::{Pool, PoolError};
use support::{TestError, TestManager};
use tokio::time::{Instant, sleep};

/// The original "connection factory failures" test, part one: a factory
/// that fails k times then succeeds gives a successful acquire with
/// create_retries == k exactly.
#[tokio::test(start_paused = true)]
async fn factory_failing_k_times_then_succeeding() {
    for k in [1u64, 3, 7] {
        let (m, knobs) = TestManager::new();
        knobs.fail_creates.store(k, Ordering::SeqCst);
        let pool = Pool::builder(m)
            .create_backoff_base(Duration::from_millis(10))
            .create_backoff_max(Duration::from_millis(200))
            .acquire_timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let conn = pool.get().await.expect("succeeds after retries");
        assert_eq!(conn.id, k + 1, "the (k+1)th create");
        let s = pool.stats();
        assert_eq!(s.create_retries, k, "k = {k}");
        assert_eq!(s.create_failures, k, "k = {k}");
        assert_eq!(s.created, 1);
        assert_eq!(knobs.creates.load(Ordering::SeqCst), k + 1);
    }
}

/// Part two: a factory that always fails returns the last factory error
/// after acquire_timeout.
#[tokio::test(start_paused = true)]
async fn always_failing_factory_returns_the_last_error_after_the_timeout() {
    let (m, knobs) = TestManager::new();
    knobs.always_fail.store(true, Ordering::SeqCst);
    let pool = Pool::builder(m)
        .acquire_timeout(Duration::from_secs(2))
        .create_backoff_base(Duration::from_millis(10))
        .create_backoff_max(Duration::from_millis(100))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let err = pool.get().await.expect_err("nothing can be created");
    let waited = t0.elapsed();
    // The waiter's own timer fires at the deadline (paused clock: exactly).
    assert_eq!(waited, Duration::from_secs(2));
    let attempts = knobs.creates.load(Ordering::SeqCst);
    assert!(attempts > 1, "retried: {attempts}");
    match &err {
        PoolError::Timeout {
            last_error: Some(last),
            waited,
        } => {
            let TestError::Refused(n) = **last else {
                panic!("expected the create error, got {last:?}");
            };
            assert!(n >= attempts - 1, "a recent error: {n} of {attempts}");
            assert_eq!(*waited, Duration::from_secs(2));
        }
        other => panic!("expected a timeout with the create error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("connection refused"), "{msg}");
    assert!(std::error::Error::source(&err).is_some());

    // Nobody waits any more: the retry loop stops and frees its slot.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.state().creating > 0 {
        assert!(Instant::now() < deadline, "create loop kept running");
        sleep(Duration::from_millis(50)).await;
    }
    let s = pool.stats();
    assert_eq!(s.timeouts, 1);
    assert_eq!(s.state.size, 0);
    assert_eq!(s.create_failures, knobs.creates.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn busy_pool_timeout_has_no_create_error() {
    let (m, _) = TestManager::new();
    let pool = Pool::builder(m)
        .max_size(1)
        .acquire_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let _held = pool.get().await.unwrap();
    match pool.get().await {
        Err(PoolError::Timeout {
            last_error: None,
            waited,
        }) => assert!(waited >= Duration::from_millis(300)),
        other => panic!("expected a plain timeout, got {other:?}"),
    }
    assert_eq!(pool.stats().timeouts, 1);
    assert_eq!(pool.state().waiters, 0);
}

#[tokio::test(start_paused = true)]
async fn slow_create_is_bounded_by_create_timeout_and_retried() {
    let (m, knobs) = TestManager::new();
    *knobs.create_delay.lock().unwrap() = Duration::from_secs(60);
    let pool = Pool::builder(m)
        .create_timeout(Duration::from_secs(1))
        .acquire_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let err = pool.get().await.expect_err("every create times out");
    assert!(matches!(
        err,
        PoolError::Timeout {
            last_error: None,
            ..
        }
    ));
    let s = pool.stats();
    assert!(s.create_failures >= 2, "{s:?}");
    assert_eq!(knobs.live.load(Ordering::SeqCst), 0);
}
