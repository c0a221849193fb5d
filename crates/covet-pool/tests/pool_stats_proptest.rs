//! The original "statistics tracking" test as a proptest: after any sequence
//! of operations (including cancelled acquires, acquires whose deadline
//! races a release, broken connections, failing creates, evictions and
//! resizes) the counters are exact.

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Waker};
use std::time::Duration;

use covet_pool::{Pool, PoolError, Pooled};
use proptest::prelude::*;
use support::TestManager;
use tokio::time::{sleep, timeout};

#[derive(Debug, Clone)]
enum Op {
    /// Acquire and hold; gives up after 50 ms when the pool is full (the
    /// pool's own 30 ms acquire timeout usually fires first).
    Get,
    /// Hand a held connection to a task that returns it after this many
    /// ms (around the 30 ms acquire timeout, often at the same instant),
    /// and acquire from another task meanwhile: the waiter's expiry races
    /// the release. The flag spawns the acquiring task first, which changes
    /// which of the two runs first when both timers fire together.
    GetRacingRelease(usize, u64, bool),
    Release(usize),
    Discard(usize),
    /// Mark a held connection broken and return it.
    Break(usize),
    /// Queue an acquire, poll it once, drop it.
    CancelGet,
    /// The next create fails.
    FailNextCreate,
    /// Let time pass (idle timeout and lifetime evictions, warm-up).
    Advance(u64),
    Resize(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Get),
        3 => (any::<usize>(), 28u64..=32, any::<bool>())
            .prop_map(|(i, ms, getter_first)| Op::GetRacingRelease(i, ms, getter_first)),
        3 => any::<usize>().prop_map(Op::Release),
        1 => any::<usize>().prop_map(Op::Discard),
        1 => any::<usize>().prop_map(Op::Break),
        2 => Just(Op::CancelGet),
        1 => Just(Op::FailNextCreate),
        1 => (0u64..700).prop_map(Op::Advance),
        1 => (1u32..=4).prop_map(Op::Resize),
    ]
}

fn take(held: &mut Vec<Pooled<TestManager>>, i: usize) -> Option<Pooled<TestManager>> {
    (!held.is_empty()).then(|| {
        let n = held.len();
        held.swap_remove(i % n)
    })
}

fn check(pool: &Pool<TestManager>, held: usize, live: usize) -> Result<(), TestCaseError> {
    let s = pool.stats();
    let st = s.state;
    prop_assert_eq!(
        s.created - s.closed,
        u64::from(st.size),
        "created - closed == size: {:?}",
        s
    );
    prop_assert_eq!(
        st.idle + st.in_use,
        st.size,
        "idle + in_use == size: {:?}",
        s
    );
    prop_assert_eq!(
        s.acquired - s.released,
        u64::from(st.in_use),
        "acquired - released == in_use: {:?}",
        s
    );
    prop_assert_eq!(st.in_use as usize, held, "in_use == held");
    prop_assert_eq!(live, st.size as usize, "live connection objects == size");
    prop_assert!(
        st.size <= st.max_size || st.idle == 0,
        "over max_size with idle: {:?}",
        st
    );
    prop_assert_eq!(st.waiters, 0);
    Ok(())
}

const ACQUIRE_TIMEOUT_MS: u64 = 30;

async fn settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    sleep(Duration::from_millis(1)).await;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn counters_stay_exact(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let (m, knobs) = TestManager::new();
            let pool = Pool::builder(m)
                .max_size(3)
                .min_idle(1)
                .idle_timeout(Some(Duration::from_millis(300)))
                .max_lifetime(Some(Duration::from_millis(1500)))
                .lifetime_jitter(Duration::from_millis(200))
                .validation_skip_window(Duration::from_millis(100))
                .create_backoff_base(Duration::from_millis(5))
                .create_backoff_max(Duration::from_millis(20))
                .acquire_timeout(Duration::from_millis(ACQUIRE_TIMEOUT_MS))
                .build()
                .unwrap();
            let mut held = Vec::new();
            settle().await;
            for op in ops {
                match op {
                    Op::Get => match timeout(Duration::from_millis(50), pool.get()).await {
                        Ok(Ok(c)) => held.push(c),
                        Ok(Err(PoolError::Timeout { .. })) | Err(_) => {}
                        Ok(Err(e)) => panic!("the pool is open: {e}"),
                    },
                    Op::GetRacingRelease(i, ms, getter_first) => {
                        let spawn_getter = || {
                            let pool = pool.clone();
                            tokio::spawn(async move { pool.get().await })
                        };
                        let getter = getter_first.then(spawn_getter);
                        let giver = take(&mut held, i).map(|c| {
                            tokio::spawn(async move {
                                sleep(Duration::from_millis(ms)).await;
                                drop(c);
                            })
                        });
                        let getter = match getter {
                            Some(g) => g,
                            None => spawn_getter(),
                        };
                        match getter.await.unwrap() {
                            Ok(c) => held.push(c),
                            Err(PoolError::Timeout { waited, .. }) => prop_assert_eq!(
                                waited,
                                Duration::from_millis(ACQUIRE_TIMEOUT_MS),
                                "timed out at the deadline"
                            ),
                            Err(e) => panic!("the pool is open: {e}"),
                        }
                        if let Some(giver) = giver {
                            giver.await.unwrap();
                        }
                    }
                    Op::Release(i) => drop(take(&mut held, i)),
                    Op::Discard(i) => {
                        if let Some(c) = take(&mut held, i) {
                            c.discard();
                        }
                    }
                    Op::Break(i) => {
                        if let Some(c) = take(&mut held, i) {
                            knobs.broken.lock().unwrap().push(c.id);
                            drop(c);
                        }
                    }
                    Op::CancelGet => {
                        let mut fut = pin!(pool.get());
                        if let std::task::Poll::Ready(r) =
                            fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
                        {
                            held.push(r.expect("ready means a connection"));
                        }
                    }
                    Op::FailNextCreate => {
                        knobs.fail_creates.fetch_add(1, Ordering::SeqCst);
                    }
                    Op::Advance(ms) => sleep(Duration::from_millis(ms)).await,
                    Op::Resize(n) => pool.resize(n).unwrap(),
                }
                settle().await;
                check(&pool, held.len(), knobs.live.load(Ordering::SeqCst))?;
            }
            drop(held);
            settle().await;
            check(&pool, 0, knobs.live.load(Ordering::SeqCst))?;
            Ok::<(), TestCaseError>(())
        })?;
    }
}
