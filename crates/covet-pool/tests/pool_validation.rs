//! Validation on checkout: the skip window, failures and hangs.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use covet_pool::{CloseReason, Pool};
use support::TestManager;
use tokio::time::{Instant, sleep};

/// The original pool's failing "connection validation" test: a validate
/// that hangs past validation_timeout discards that connection, and the
/// acquire still succeeds with a fresh one within acquire_timeout.
#[tokio::test(start_paused = true)]
async fn hanging_validation_is_discarded_and_a_fresh_connection_served() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m)
        .max_size(2)
        .validation_timeout(Duration::from_secs(1))
        .validation_skip_window(Duration::from_millis(100))
        .acquire_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let first = pool.get().await.unwrap().id;
    knobs.hang_validate.lock().unwrap().push(first);
    sleep(Duration::from_secs(1)).await; // past the skip window

    let t0 = Instant::now();
    let conn = pool
        .get()
        .await
        .expect("acquire succeeds with a fresh connection");
    let waited = t0.elapsed();
    assert_ne!(conn.id, first, "the hung connection was not handed out");
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(5),
        "served after the validation timeout, inside the acquire timeout: {waited:?}"
    );
    let s = pool.stats();
    assert_eq!(s.validation_failures, 1);
    assert_eq!(s.closed_for(CloseReason::ValidationFailed), 1);
    assert_eq!(s.created, 2);
    assert_eq!((s.state.size, s.state.in_use, s.state.idle), (1, 1, 0));
    assert_eq!(
        knobs.live.load(Ordering::SeqCst),
        1,
        "hung connection dropped"
    );
}

#[tokio::test(start_paused = true)]
async fn recently_used_connections_skip_validation() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m)
        .validation_skip_window(Duration::from_millis(500))
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    for _ in 0..10 {
        drop(pool.get().await.unwrap());
    }
    assert_eq!(
        knobs.validations.load(Ordering::SeqCst),
        0,
        "all inside the window"
    );
    sleep(Duration::from_secs(2)).await;
    drop(pool.get().await.unwrap());
    assert_eq!(
        knobs.validations.load(Ordering::SeqCst),
        1,
        "idle past the window"
    );
}

#[tokio::test(start_paused = true)]
async fn failed_validation_discards_and_retries() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m)
        .max_size(3)
        .validation_skip_window(Duration::from_millis(10))
        .build()
        .unwrap();
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let (ida, idb) = (a.id, b.id);
    drop(a);
    drop(b);
    knobs.fail_validate.lock().unwrap().extend([ida, idb]);
    sleep(Duration::from_secs(1)).await;
    let c = pool.get().await.unwrap();
    assert!(c.id != ida && c.id != idb);
    let s = pool.stats();
    assert_eq!(s.validation_failures, 2);
    assert_eq!(s.closed_for(CloseReason::ValidationFailed), 2);
    assert_eq!(knobs.live.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn validation_can_be_turned_off() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m)
        .validate_on_checkout(false)
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    sleep(Duration::from_secs(5)).await;
    drop(pool.get().await.unwrap());
    assert_eq!(knobs.validations.load(Ordering::SeqCst), 0);
}
