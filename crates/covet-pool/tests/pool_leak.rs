//! The original "memory leak prevention" test: 100,000 acquire/release
//! cycles with random drops and cancellations leave the live connection
//! objects and the pool's own allocations where they started.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use covet_pool::Pool;
use support::TestManager;
use tokio::time::{Instant, sleep};

const TASKS: u64 = 16;
const CYCLES: u64 = 100_000;

#[test]
fn hundred_thousand_cycles_leave_nothing_behind() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (m, knobs) = TestManager::new();
        let pool = Pool::builder(m).max_size(8).build().unwrap();
        let allocations_before = pool.internal_allocations();
        assert_eq!(knobs.live.load(Ordering::SeqCst), 0);

        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let mut rng = 0x2545_F491_4F6C_DD1Du64 ^ (t + 1).wrapping_mul(0x9E37_79B9);
                    let mut done = 0u64;
                    for _ in 0..CYCLES / TASKS {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        match rng % 100 {
                            // Cancelled after one scheduling round.
                            0..=19 => {
                                tokio::select! {
                                    biased;
                                    c = pool.get() => drop(c.unwrap()),
                                    () = tokio::task::yield_now() => {}
                                }
                            }
                            // Closed instead of returned.
                            20..=24 => pool.get().await.unwrap().discard(),
                            // Held across a yield, then returned.
                            25..=49 => {
                                let c = pool.get().await.unwrap();
                                tokio::task::yield_now().await;
                                drop(c);
                            }
                            _ => drop(pool.get().await.unwrap()),
                        }
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        assert_eq!(total, CYCLES);

        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.state().creating > 0 {
            assert!(Instant::now() < deadline, "creates never settled");
            sleep(Duration::from_millis(1)).await;
        }
        let s = pool.stats();
        assert_eq!(s.state.in_use, 0);
        assert_eq!(s.state.waiters, 0);
        assert_eq!(s.acquired, s.released);
        assert!(s.state.size <= 8);
        assert_eq!(s.created - s.closed, u64::from(s.state.size));
        assert_eq!(knobs.live.load(Ordering::SeqCst), s.state.size as usize);
        assert!(s.cancelled_waits > 0, "some waits were cancelled: {s:?}");

        let (waiter_len, waiter_cap, idle_cap) = pool.internal_allocations();
        assert_eq!(waiter_len, 0, "waiter slab emptied");
        assert!(waiter_cap <= 64, "waiter slab shrunk back: {waiter_cap}");
        assert_eq!(idle_cap, allocations_before.2, "idle list did not grow");

        pool.close(Duration::from_secs(1)).await.unwrap();
        assert_eq!(
            knobs.live.load(Ordering::SeqCst),
            0,
            "every connection dropped"
        );
    });
}
