//! The runner's own cost per statement, counted with a counting global
//! allocator: the scheduler, the recorder and the per-statement
//! bookkeeping allocate nothing per statement in steady state: a
//! statement costs its task, and what building it and the adapter's call
//! cost (counted apart here).
#![allow(unsafe_code)] // a GlobalAlloc is unsafe to implement

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use covet_core::Dialect;
use covet_loadtest::{Pacer, RunConfig, Workload, point_select, run};
use support::MockAdapter;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by a run of `secs` seconds at 1,000/s.
async fn allocations(secs: u64) -> (u64, u64) {
    let adapter = MockAdapter::new(Duration::from_micros(200), None);
    let w = Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1).unwrap();
    let cfg = RunConfig {
        rate: 1_000.0,
        duration: Duration::from_secs(secs),
        warmup: Duration::ZERO,
        pacer: Pacer::Tokio,
        sample_memory: false,
        ..RunConfig::default()
    };
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let r = run(adapter, w, cfg).await.unwrap();
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    (after - before, r.summary.completed)
}

/// Allocations per call of `f`, over 1,000 calls.
async fn per_call<F: std::future::Future<Output = ()>>(mut f: impl FnMut() -> F) -> f64 {
    f().await;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..1_000 {
        f().await;
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / 1_000.0
}

#[tokio::test(start_paused = true)]
async fn the_runner_adds_one_task_per_statement_and_nothing_more() {
    // Warm tokio's and the allocator's own structures first.
    allocations(1).await;
    let (short, n_short) = allocations(2).await;
    let (long, n_long) = allocations(6).await;
    assert_eq!((n_short, n_long), (2_000, 6_000));
    // The difference is the steady state: 4 s and 4,000 statements more.
    let per_statement = (long as f64 - short as f64) / 4_000.0;

    // What a statement costs outside the runner: building it (its
    // parameter Vec and the Arc covet-core keeps it in) and the adapter's
    // call (async_trait's boxed future; the mock's empty Rows).
    let w = std::cell::RefCell::new(
        Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1).unwrap(),
    );
    let build = per_call(|| {
        let s = w.borrow_mut().build(0);
        drop(s);
        std::future::ready(())
    })
    .await;
    let adapter = MockAdapter::new(Duration::from_micros(200), None);
    let stmt = w.borrow_mut().build(0);
    let query = per_call(|| {
        let (a, s) = (adapter.clone(), stmt.clone());
        async move {
            covet_core::Adapter::query(&*a, &s).await.unwrap();
        }
    })
    .await;
    let runner = per_statement - build - query;
    println!(
        "allocations per statement: {per_statement:.3} = build {build:.3} + adapter {query:.3} + runner {runner:.3}"
    );
    assert!(build <= 2.0, "building a statement: {build}");
    // The runner's share is the statement's task (tokio::spawn); the
    // scheduler, the recorder and the counters allocate nothing per
    // statement. (A label String per statement used to, and calling the
    // adapter through `Arc<dyn Adapter>`'s own `Adapter` impl boxed a
    // second future per statement.)
    assert!(
        (0.95..=1.05).contains(&runner),
        "the runner allocates {runner:.3} per statement (of {per_statement:.3})"
    );
}
