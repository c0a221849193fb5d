//! The checkout fast path (an idle connection is there) allocates nothing,
//! and neither does queueing with a deadline timer: a counting global
//! allocator watches `get()` and the return on drop.
// A global allocator cannot be written without `unsafe`; it only counts.
#![allow(unsafe_code)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use covet_pool::Pool;
use support::TestManager;

/// Counts allocations made on the current thread, so the runtime's other
/// threads (none here) and the test harness cannot disturb the count.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn checkout_and_return_of_an_idle_connection_allocate_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let (m, _) = TestManager::new();
        let pool = Pool::builder(m)
            .max_size(4)
            .acquire_timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        // Open two connections and return them, so checkouts are served
        // from the idle list (used just now: no validation).
        let a = pool.get().await.unwrap();
        let b = pool.get().await.unwrap();
        drop((a, b));
        assert_eq!(pool.state().idle, 2);

        let mut cx = Context::from_waker(Waker::noop());
        let before = allocations();
        for _ in 0..1_000 {
            let first = match pin!(pool.get()).poll(&mut cx) {
                Poll::Ready(r) => r.unwrap(),
                Poll::Pending => panic!("an idle connection was there"),
            };
            let second = match pin!(pool.get()).poll(&mut cx) {
                Poll::Ready(r) => r.unwrap(),
                Poll::Pending => panic!("an idle connection was there"),
            };
            drop(first);
            drop(second);
        }
        let made = allocations() - before;
        assert_eq!(made, 0, "{made} allocations in 2,000 checkouts and returns");
        assert_eq!(pool.stats().acquired, 2_002);
    });
}

/// Queueing behind a busy pool arms a timer for the deadline; that costs
/// no allocation either once the waiter slab has room (tokio's timer
/// entries live inside the acquire future).
#[test]
fn a_queued_acquire_with_its_timer_allocates_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let (m, _) = TestManager::new();
        let pool = Pool::builder(m)
            .max_size(1)
            .acquire_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let held = pool.get().await.unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        let mut queue_and_leave = || {
            let mut get = pin!(pool.get());
            assert!(get.as_mut().poll(&mut cx).is_pending(), "the pool is busy");
        };
        // The first waiter gives the slab its memory; it keeps it.
        queue_and_leave();
        let before = allocations();
        for _ in 0..1_000 {
            queue_and_leave();
        }
        let made = allocations() - before;
        assert_eq!(made, 0, "{made} allocations in 1,000 queued acquires");
        let s = pool.stats();
        // The first get waited for the pool's first connection.
        assert_eq!((s.waits, s.cancelled_waits), (1_002, 1_001));
        drop(held);
    });
}
