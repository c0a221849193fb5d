//! Dropping an acquire future at each await point loses no capacity and
//! hands no connection to nobody.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use covet_pool::{CloseReason, Pool};
use support::TestManager;
use tokio::time::{sleep, timeout};

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test(start_paused = true)]
async fn dropped_while_waiting() {
    let (m, _) = TestManager::new();
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    let held = pool.get().await.unwrap();
    assert!(
        timeout(Duration::from_millis(10), pool.get())
            .await
            .is_err()
    );
    let s = pool.stats();
    assert_eq!((s.state.waiters, s.cancelled_waits), (0, 1));
    drop(held);
    assert_eq!(
        pool.state().idle,
        1,
        "the released connection is idle, not lost"
    );
    let again = timeout(Duration::from_millis(10), pool.get()).await;
    assert!(again.is_ok(), "capacity intact");
    assert_eq!(
        pool.internal_allocations().0,
        0,
        "no waiter slot left behind"
    );
}

/// Granted but never polled again: the grant passes to the idle list.
#[tokio::test(start_paused = true)]
async fn dropped_after_the_grant_before_collecting_it() {
    let (m, _) = TestManager::new();
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    let held = pool.get().await.unwrap();
    let id = held.id;
    {
        let mut fut = pin!(pool.get());
        assert!(poll_once(fut.as_mut()).is_pending());
        assert_eq!(pool.state().waiters, 1);
        drop(held); // handed straight to the queued future
        let s = pool.state();
        assert_eq!((s.waiters, s.in_use, s.idle), (0, 1, 0));
    } // dropped without collecting
    let s = pool.stats();
    assert_eq!((s.state.in_use, s.state.idle), (0, 1));
    assert_eq!(s.acquired - s.released, 0);
    assert_eq!(pool.get().await.unwrap().id, id);
}

/// The grant passes to the next waiter, who is woken.
#[tokio::test(start_paused = true)]
async fn granted_connection_of_a_quitter_goes_to_the_next_waiter() {
    let (m, _) = TestManager::new();
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    let held = pool.get().await.unwrap();
    let mut quitter = Box::pin(pool.get());
    assert!(poll_once(quitter.as_mut()).is_pending());
    let p2 = pool.clone();
    let patient = tokio::spawn(async move { p2.get().await.map(|c| c.id) });
    while pool.state().waiters < 2 {
        tokio::task::yield_now().await;
    }
    drop(held); // goes to the quitter, first in line
    drop(quitter);
    let got = timeout(Duration::from_secs(1), patient).await;
    assert!(matches!(got, Ok(Ok(Ok(_)))), "next waiter served: {got:?}");
}

/// Dropped while its connection is being created: the new connection goes
/// to the next waiter.
#[tokio::test(start_paused = true)]
async fn dropped_while_creating_connection_goes_to_next_waiter() {
    let (m, knobs) = TestManager::new();
    *knobs.create_delay.lock().unwrap() = Duration::from_secs(1);
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    assert!(
        timeout(Duration::from_millis(100), pool.get())
            .await
            .is_err()
    );
    assert_eq!(pool.state().creating, 1, "the create continues");
    let conn = timeout(Duration::from_secs(2), pool.get())
        .await
        .expect("served by the create started for the quitter")
        .unwrap();
    assert_eq!(conn.id, 1);
    let s = pool.stats();
    assert_eq!((s.created, s.acquired, s.state.creating), (1, 1, 0));
    assert_eq!(knobs.creates.load(Ordering::SeqCst), 1, "no second create");
}

/// Dropped while creating with nobody else waiting: the connection is idle.
#[tokio::test(start_paused = true)]
async fn dropped_while_creating_connection_goes_idle() {
    let (m, knobs) = TestManager::new();
    *knobs.create_delay.lock().unwrap() = Duration::from_secs(1);
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    assert!(
        timeout(Duration::from_millis(100), pool.get())
            .await
            .is_err()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while pool.state().creating > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "create never finished"
        );
        sleep(Duration::from_millis(10)).await;
    }
    let s = pool.stats();
    assert_eq!((s.state.idle, s.state.size, s.state.creating), (1, 1, 0));
    assert_eq!(knobs.live.load(Ordering::SeqCst), 1);
}

/// Dropped mid-validation: that connection is discarded (its state is
/// unknown) and its slot is free for the next caller.
#[tokio::test(start_paused = true)]
async fn dropped_while_validating() {
    let (m, knobs) = TestManager::new();
    let pool = Pool::builder(m)
        .max_size(1)
        .validation_skip_window(Duration::from_millis(10))
        .validation_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    sleep(Duration::from_secs(1)).await;
    *knobs.validate_delay.lock().unwrap() = Duration::from_secs(5);
    assert!(
        timeout(Duration::from_millis(100), pool.get())
            .await
            .is_err()
    );
    assert_eq!(
        knobs.validations.load(Ordering::SeqCst),
        1,
        "was validating"
    );
    let s = pool.stats();
    assert_eq!(s.closed_for(CloseReason::Discarded), 1);
    assert_eq!((s.state.size, s.state.in_use), (0, 0));
    *knobs.validate_delay.lock().unwrap() = Duration::ZERO;
    let conn = timeout(Duration::from_secs(1), pool.get())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conn.id, 2, "a fresh connection in the freed slot");
    assert_eq!(knobs.live.load(Ordering::SeqCst), 1);
}
