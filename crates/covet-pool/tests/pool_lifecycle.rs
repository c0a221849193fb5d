//! min_idle, idle_timeout, max_lifetime, keepalive, leak detection, resize,
//! fairness and close.

mod support;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use covet_pool::{CloseError, CloseReason, Pool, PoolError};
use support::TestManager;
use tokio::time::{Instant, sleep, timeout};

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn min_idle_is_warmed_up_and_kept() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m).max_size(5).min_idle(3).build().unwrap();
    until("warm-up", || pool.state().idle == 3).await;
    assert_eq!(pool.stats().created, 3);
    let held: Vec<_> = [pool.get().await.unwrap(), pool.get().await.unwrap()].into();
    for c in held {
        c.discard();
    }
    until("min_idle restored", || pool.state().idle == 3).await;
    assert_eq!(knobs.live.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_only_closes_above_min_idle() {
    let (m, _) = TestManager::new();
    let pool = Pool::builder(m)
        .max_size(5)
        .min_idle(2)
        .idle_timeout(Some(Duration::from_secs(10)))
        .build()
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(pool.get().await.unwrap());
    }
    drop(held);
    assert_eq!(pool.state().idle, 5);
    sleep(Duration::from_secs(5)).await;
    assert_eq!(pool.state().idle, 5, "not yet");
    sleep(Duration::from_secs(7)).await;
    let s = pool.stats();
    assert_eq!(s.state.idle, 2, "down to min_idle");
    assert_eq!(s.closed_for(CloseReason::IdleTimeout), 3);
}

#[tokio::test(start_paused = true)]
async fn max_lifetime_with_jitter_retires_connections() {
    let (m, _) = TestManager::new();
    let pool = Pool::builder(m)
        .max_lifetime(Some(Duration::from_secs(60)))
        .lifetime_jitter(Duration::from_secs(10))
        .idle_timeout(None)
        .build()
        .unwrap();
    let first = pool.get().await.unwrap().id;
    sleep(Duration::from_secs(45)).await;
    assert_eq!(pool.get().await.unwrap().id, first, "younger than 50 s");
    sleep(Duration::from_secs(20)).await;
    let s = pool.stats();
    assert_eq!(s.closed_for(CloseReason::MaxLifetime), 1, "retired by 65 s");
    assert_ne!(pool.get().await.unwrap().id, first);
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_idle_connections_and_closes_dead_ones() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m)
        .keepalive_interval(Some(Duration::from_secs(5)))
        .build()
        .unwrap();
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let dead = b.id;
    drop((a, b));
    knobs.fail_validate.lock().unwrap().push(dead);
    sleep(Duration::from_secs(7)).await;
    assert!(knobs.validations.load(Ordering::SeqCst) >= 2, "both pinged");
    let s = pool.stats();
    assert_eq!(s.closed_for(CloseReason::KeepaliveFailed), 1);
    assert_eq!((s.state.size, s.state.idle), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn leak_detection_reports_where_the_connection_was_acquired() {
    let (m, _) = TestManager::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let pool = Pool::builder(m)
        .leak_detection_threshold(Some(Duration::from_secs(2)))
        .leak_hook(move |site, held| sink.lock().unwrap().push((site.file(), site.line(), held)))
        .build()
        .unwrap();
    let line = line!() + 1;
    let leaked = pool.get().await.unwrap();
    let short = pool.get().await.unwrap();
    drop(short);
    sleep(Duration::from_secs(4)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].0.ends_with("pool_lifecycle.rs"));
    assert_eq!(seen[0].1, line);
    assert!(seen[0].2 >= Duration::from_secs(2));
    assert_eq!(pool.stats().leaks_detected, 1, "reported once");
    drop(leaked);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_first_come_first_served() {
    let (m, _) = TestManager::new();
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    let held = pool.get().await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..5 {
        let (p, order) = (pool.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let c = p.get().await.unwrap();
            order.lock().unwrap().push(i);
            tokio::task::yield_now().await;
            drop(c);
        }));
        let want = i + 1;
        until("queued", || pool.state().waiters == want).await;
    }
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn resize_grows_for_waiters_and_shrinks_on_return() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m).max_size(2).build().unwrap();
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { p.get().await.map(|c| c.id) });
    until("queued", || pool.state().waiters == 1).await;
    pool.resize(3).unwrap();
    let id = timeout(Duration::from_secs(1), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(id, 3, "served by a new connection");
    assert_eq!(pool.state().max_size, 3);

    pool.resize(1).unwrap();
    assert_eq!(pool.state().size, 2, "the idle one closed");
    drop(a);
    drop(b);
    let s = pool.stats();
    assert_eq!((s.state.size, s.state.idle), (1, 1));
    assert_eq!(s.closed_for(CloseReason::Resized), 2);
    assert_eq!(knobs.live.load(Ordering::SeqCst), 1);
    assert!(pool.resize(0).is_err());
}

#[tokio::test(start_paused = true)]
async fn close_waits_for_in_use_connections_up_to_its_deadline() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m).build().unwrap();
    let held = pool.get().await.unwrap();
    drop(pool.get().await.unwrap()); // a second connection, idle
    let err = pool.close(Duration::from_secs(1)).await.unwrap_err();
    assert_eq!(
        err,
        CloseError::Timeout {
            in_use: 1,
            creating: 0
        }
    );
    assert_eq!(knobs.live.load(Ordering::SeqCst), 1, "idle closed at once");
    assert!(matches!(pool.get().await, Err(PoolError::Closed)));
    let p = pool.clone();
    let closing = tokio::spawn(async move { p.close(Duration::from_secs(10)).await });
    sleep(Duration::from_millis(500)).await;
    drop(held);
    closing.await.unwrap().expect("drained once returned");
    let s = pool.stats();
    assert_eq!(s.closed_for(CloseReason::PoolClosed), 2);
    assert_eq!(s.state.size, 0);
    assert_eq!(knobs.live.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn broken_connections_are_closed_on_return() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m).build().unwrap();
    let c = pool.get().await.unwrap();
    knobs.broken.lock().unwrap().push(c.id);
    drop(c);
    let s = pool.stats();
    assert_eq!(s.closed_for(CloseReason::Broken), 1);
    assert_eq!(s.state.size, 0);
    assert_eq!(knobs.live.load(Ordering::SeqCst), 0);
}
