//! Checkout, return, reuse order and configuration errors.

mod support;

use std::time::Duration;

use covet_pool::{ConfigError, Pool, PoolError};
use support::TestManager;

#[tokio::test(start_paused = true)]
async fn get_reuses_the_most_recently_used_connection() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m).max_size(4).build().unwrap();
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let (ida, idb) = (a.id, b.id);
    assert_ne!(ida, idb);
    drop(a);
    drop(b);
    let c = pool.get().await.unwrap();
    assert_eq!(c.id, idb, "most recently returned first");
    drop(c);
    let s = pool.stats();
    assert_eq!(s.created, 2);
    assert_eq!(s.acquired, 3);
    assert_eq!(s.released, 3);
    assert_eq!(s.state.idle, 2);
    assert_eq!(knobs.live.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn stats_carry_a_wait_time_histogram() {
    let (m, _) = TestManager::new();
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { drop(p.get().await.unwrap()) });
    while pool.state().waiters == 0 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(3)).await;
    drop(held);
    waiter.await.unwrap();
    let s = pool.stats();
    let buckets: Vec<_> = s.wait_histogram().collect();
    assert_eq!(buckets.len(), covet_pool::WAIT_BUCKETS);
    // The first get waited for its create (no time passes on the paused
    // clock); the second waited 3 ms, which lands under the 4096 us bound.
    let (bound, n) = buckets[12];
    assert_eq!((bound, n), (Duration::from_micros(4096), 1), "{buckets:?}");
    assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 2);
    assert_eq!(s.waits, 2);
    assert!(s.wait_time_max >= Duration::from_millis(3));
}

#[tokio::test]
async fn bad_configurations_are_typed_errors() {
    let (m, _) = TestManager::new();
    let err = Pool::builder(m.clone())
        .max_size(2)
        .min_idle(3)
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::MinIdleAboveMaxSize {
            min_idle: 3,
            max_size: 2
        }
    );
    let err = Pool::builder(m.clone())
        .acquire_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        ConfigError::ZeroDuration {
            setting: "acquire_timeout"
        }
    );
    let err = Pool::builder(m.clone()).max_size(0).build().unwrap_err();
    assert_eq!(err, ConfigError::ZeroMaxSize);
    let err = Pool::builder(m)
        .max_lifetime(Some(Duration::from_secs(10)))
        .lifetime_jitter(Duration::from_secs(10))
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::JitterNotBelowLifetime { .. }));
    assert!(err.to_string().contains("lifetime_jitter"));
}

#[test]
fn build_outside_a_runtime_is_an_error() {
    let (m, _) = TestManager::new();
    assert_eq!(
        Pool::builder(m).build().unwrap_err(),
        ConfigError::NoRuntime
    );
}

#[tokio::test(start_paused = true)]
async fn close_fails_waiters_and_later_gets() {
    let (m, _) = TestManager::new();
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    let held = pool.get().await.unwrap();
    let p2 = pool.clone();
    let waiter = tokio::spawn(async move { p2.get().await.map(|c| c.id) });
    while pool.state().waiters == 0 {
        tokio::task::yield_now().await;
    }
    let p3 = pool.clone();
    let closing = tokio::spawn(async move { p3.close(Duration::from_secs(5)).await });
    assert!(matches!(waiter.await.unwrap(), Err(PoolError::Closed)));
    assert!(matches!(pool.get().await, Err(PoolError::Closed)));
    drop(held);
    closing.await.unwrap().unwrap();
    let s = pool.stats();
    assert_eq!(s.state.size, 0);
    assert_eq!(s.created, s.closed);
}
