//! Helpers shared by the loom models: a core over `usize` connections.

use std::future::poll_fn;
use std::task::{Poll, Waker};

use crate::core::{Acquire, Core, Effects, Grant};
use crate::loom::sync::Arc;

pub(super) type TestCore = Arc<Core<usize>>;

/// A core with `max_size` slots and `warm` idle connections numbered 0...
pub(super) fn core(max_size: u32, warm: u32) -> TestCore {
    let core = Arc::new(Core::new(max_size));
    assert_eq!(core.reserve_min_idle(warm), warm);
    for id in 0..warm as usize {
        apply(core.create_done(id));
    }
    core
}

/// Does what the pool does with effects; the models never close or create
/// through effects unless they say so.
pub(super) fn apply(fx: Effects<usize>) {
    if let Some(w) = fx.wake {
        w.wake();
    }
}

/// Acquires, waiting if needed; `None` when the pool closed. Creates the
/// core asks for are completed inline with `next_id`.
pub(super) fn acquire(core: &Core<usize>, next_id: usize) -> Option<usize> {
    match core.acquire() {
        Acquire::Ready(c) => Some(c),
        Acquire::Closed => None,
        Acquire::Wait { key, creates } => {
            for i in 0..creates as usize {
                apply(core.create_done(next_id + i));
            }
            match loom::future::block_on(poll_fn(|cx| core.poll_wait(key, cx.waker()))) {
                Grant::Conn(c) => Some(c),
                Grant::Closed | Grant::TimedOut => None,
            }
        }
    }
}

/// Acquires, queueing if needed, and lets its deadline pass after one poll:
/// the waiter's timer firing, as `Wait::poll` sees it. `Err(())` when it
/// timed out; a grant that got there first is served.
pub(super) fn acquire_then_time_out(core: &Core<usize>) -> Result<usize, ()> {
    match core.acquire() {
        Acquire::Ready(c) => Ok(c),
        Acquire::Closed => Err(()),
        Acquire::Wait { key, creates } => {
            assert_eq!(creates, 0, "models using deadlines start full");
            let grant = match core.poll_wait(key, Waker::noop()) {
                Poll::Ready(grant) => grant,
                Poll::Pending => core.time_out(key),
            };
            match grant {
                Grant::Conn(c) => Ok(c),
                Grant::Closed | Grant::TimedOut => Err(()),
            }
        }
    }
}

/// Enqueues (or takes an idle connection), polls once, then gives up.
/// Returns the connection if it was handed over before giving up.
pub(super) fn acquire_then_cancel(core: &Core<usize>) -> Option<usize> {
    match core.acquire() {
        Acquire::Ready(c) => Some(c),
        Acquire::Closed => None,
        Acquire::Wait { key, creates } => {
            assert_eq!(creates, 0, "models using cancel start full");
            match core.poll_wait(key, Waker::noop()) {
                Poll::Ready(Grant::Conn(c)) => Some(c),
                Poll::Ready(Grant::Closed | Grant::TimedOut) => None,
                Poll::Pending => {
                    apply(core.cancel(key));
                    None
                }
            }
        }
    }
}

/// Asserts the counting invariants of a quiet core.
pub(super) fn assert_balanced(core: &Core<usize>) {
    let (g, c) = core.snapshot();
    assert!(g.size + g.pending <= g.max_size, "max_size exceeded: {g:?}");
    assert_eq!(g.size, g.idle + g.in_use + g.maintenance, "{g:?}");
    assert_eq!(
        c.created - c.closed_total(),
        u64::from(g.size),
        "{c:?} {g:?}"
    );
    assert_eq!(c.acquired - c.released, u64::from(g.in_use), "{c:?} {g:?}");
}
