//! Connections that need a reset on return, and the Send-ness of the API.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use covet_pool::{CloseReason, Pool};
use support::TestManager;
use tokio::time::{Instant, sleep};

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn reset_runs_before_reuse_and_counts_as_in_use_until_done() {
    let (m, knobs) = TestManager::new();
    *knobs.reset_delay.lock().unwrap() = Duration::from_millis(100);
    let pool = Pool::builder(m).max_size(1).build().unwrap();
    let c = pool.get().await.unwrap();
    let id = c.id;
    knobs.dirty.lock().unwrap().push(id);
    drop(c);
    let s = pool.state();
    assert_eq!((s.in_use, s.idle), (1, 0), "in use while resetting");
    let again = pool.get().await.unwrap();
    assert_eq!(again.id, id, "reused after its reset");
    assert_eq!(knobs.resets.load(Ordering::SeqCst), 1);
    assert!(knobs.dirty.lock().unwrap().is_empty());
    drop(again);
    let s = pool.stats();
    assert_eq!((s.acquired, s.released, s.state.idle), (2, 2, 1));
}

#[tokio::test(start_paused = true)]
async fn failed_reset_discards_the_connection() {
    let (m, knobs) = TestManager::new();
    knobs.fail_reset.store(true, Ordering::SeqCst);
    let pool = Pool::builder(m).build().unwrap();
    let c = pool.get().await.unwrap();
    knobs.dirty.lock().unwrap().push(c.id);
    drop(c);
    until("reset finished", || pool.state().in_use == 0).await;
    let s = pool.stats();
    assert_eq!(s.closed_for(CloseReason::ResetFailed), 1);
    assert_eq!(s.state.size, 0);
    assert_eq!(knobs.live.load(Ordering::SeqCst), 0);
}

#[test]
fn pool_handles_and_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn assert_sync<T: Sync>() {}
    assert_sync::<Pool<TestManager>>();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = Pool::builder(TestManager::default()).build().unwrap();
        let fut = pool.get();
        assert_send(&fut);
        let conn = fut.await.unwrap();
        assert_send(&conn);
        let close = pool.close(Duration::from_secs(1));
        assert_send(&close);
        drop(conn);
        close.await.unwrap();
    });
}
