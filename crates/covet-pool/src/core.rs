//! The pool's state machine: slots, the idle list, the waiter queue and
//! close, behind one mutex from the loom shim.
//!
//! Nothing here sleeps, spawns or talks to a database. Each operation takes
//! the lock once, updates the counts, and returns [`Effects`]: what the
//! caller must do after the lock is released (wake a waiter, close a
//! connection, start a create). That keeps the critical section short and
//! lets loom check every interleaving of the operations.
//!
//! Invariants (checked by the loom models and the proptest):
//! - `size + pending <= max_size` except right after a shrink, when the excess
//!   is closed as it comes back;
//! - `size == idle + in_use + maintenance`;
//! - a waiter is granted at most one connection, and a connection is in at
//!   most one place (idle list, a waiter's grant, a holder);
//! - waiters are served in arrival order, and the idle list is empty while
//!   anyone waits.

use std::collections::VecDeque;
use std::task::{Poll, Waker};

use crate::loom::sync::Mutex;

const NIL: u32 = u32::MAX;

/// Above this many waiter slots, an empty queue gives its memory back.
const KEEP_WAITER_CAPACITY: usize = 64;

/// Why a connection was closed; one counter per reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// `Manager::has_broken` said so, on return or checkout.
    Broken,
    /// The holder called [`crate::Pooled::discard`], or dropped the acquire
    /// future while the connection was being validated.
    Discarded,
    /// Validation on checkout failed or timed out.
    ValidationFailed,
    /// A keepalive ping failed or timed out.
    KeepaliveFailed,
    /// `Manager::reset` failed after return.
    ResetFailed,
    /// Idle for longer than `idle_timeout` with more than `min_idle` idle.
    IdleTimeout,
    /// Older than `max_lifetime` (minus its jitter).
    MaxLifetime,
    /// The pool shrank below the number of open connections.
    Resized,
    /// The pool was closed.
    PoolClosed,
}

impl CloseReason {
    /// Every reason, in counter order.
    pub const ALL: [CloseReason; 9] = [
        CloseReason::Broken,
        CloseReason::Discarded,
        CloseReason::ValidationFailed,
        CloseReason::KeepaliveFailed,
        CloseReason::ResetFailed,
        CloseReason::IdleTimeout,
        CloseReason::MaxLifetime,
        CloseReason::Resized,
        CloseReason::PoolClosed,
    ];

    /// The `reason` label value used in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Broken => "broken",
            CloseReason::Discarded => "discarded",
            CloseReason::ValidationFailed => "validation_failed",
            CloseReason::KeepaliveFailed => "keepalive_failed",
            CloseReason::ResetFailed => "reset_failed",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::MaxLifetime => "max_lifetime",
            CloseReason::Resized => "resized",
            CloseReason::PoolClosed => "pool_closed",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Event counters kept under the state lock, so they are exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) created: u64,
    pub(crate) closed: [u64; CloseReason::ALL.len()],
    pub(crate) acquired: u64,
    pub(crate) released: u64,
    pub(crate) waits: u64,
    pub(crate) cancelled_waits: u64,
    pub(crate) timeouts: u64,
    pub(crate) create_failures: u64,
    pub(crate) create_retries: u64,
    pub(crate) validation_failures: u64,
    pub(crate) leaks_detected: u64,
}

impl Counters {
    pub(crate) fn closed_total(&self) -> u64 {
        self.closed.iter().sum()
    }
}

/// Identifies one waiter; the generation makes a stale key harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WaitKey {
    idx: u32,
    generation: u32,
}

/// What a waiter receives.
#[derive(Debug)]
pub(crate) enum Grant<T> {
    /// A connection, already counted as in use.
    Conn(T),
    /// The pool closed while it waited.
    Closed,
    /// Its deadline passed ([`Core::time_out`]).
    TimedOut,
}

#[derive(Debug)]
enum Slot<T> {
    Free {
        next_free: u32,
    },
    Waiting {
        prev: u32,
        next: u32,
        waker: Option<Waker>,
    },
    Ready(Grant<T>),
}

#[derive(Debug)]
struct Node<T> {
    generation: u32,
    slot: Slot<T>,
}

/// FIFO of waiters: a doubly linked list threaded through a slab, so a
/// cancelled waiter unlinks in O(1) and nodes are reused without allocating.
#[derive(Debug)]
struct WaitList<T> {
    nodes: Vec<Node<T>>,
    free: u32,
    head: u32,
    tail: u32,
    /// Nodes in `Waiting`.
    waiting: u32,
    /// Nodes not `Free` (waiting, or granted and not yet collected).
    live: u32,
}

impl<T> WaitList<T> {
    fn new() -> Self {
        Self {
            nodes: Vec::new(),
            free: NIL,
            head: NIL,
            tail: NIL,
            waiting: 0,
            live: 0,
        }
    }

    fn push_back(&mut self) -> WaitKey {
        let slot = Slot::Waiting {
            prev: self.tail,
            next: NIL,
            waker: None,
        };
        let idx = if self.free != NIL {
            let idx = self.free;
            let node = &mut self.nodes[idx as usize];
            let Slot::Free { next_free } = node.slot else {
                unreachable!("free list points at a used node")
            };
            self.free = next_free;
            node.slot = slot;
            idx
        } else {
            let idx = u32::try_from(self.nodes.len()).expect("fewer than 2^32 waiters");
            self.nodes.push(Node {
                generation: 0,
                slot,
            });
            idx
        };
        if self.tail != NIL {
            self.set_next(self.tail, idx);
        } else {
            self.head = idx;
        }
        self.tail = idx;
        self.waiting += 1;
        self.live += 1;
        WaitKey {
            idx,
            generation: self.nodes[idx as usize].generation,
        }
    }

    fn set_next(&mut self, idx: u32, to: u32) {
        if let Slot::Waiting { next, .. } = &mut self.nodes[idx as usize].slot {
            *next = to;
        }
    }

    fn set_prev(&mut self, idx: u32, to: u32) {
        if let Slot::Waiting { prev, .. } = &mut self.nodes[idx as usize].slot {
            *prev = to;
        }
    }

    /// Unlinks a waiting node and returns its waker.
    fn unlink(&mut self, idx: u32) -> Option<Waker> {
        let Slot::Waiting {
            prev, next, waker, ..
        } = std::mem::replace(
            &mut self.nodes[idx as usize].slot,
            Slot::Free { next_free: NIL },
        )
        else {
            unreachable!("unlink of a node that is not waiting")
        };
        if prev != NIL {
            self.set_next(prev, next);
        } else {
            self.head = next;
        }
        if next != NIL {
            self.set_prev(next, prev);
        } else {
            self.tail = prev;
        }
        self.waiting -= 1;
        waker
    }

    /// Gives the oldest waiter its grant; returns its waker, or gives the
    /// grant back when nobody waits.
    fn grant_front(&mut self, grant: Grant<T>) -> Result<Option<Waker>, Grant<T>> {
        if self.head == NIL {
            return Err(grant);
        }
        Ok(self.grant(self.head, grant))
    }

    fn grant(&mut self, idx: u32, grant: Grant<T>) -> Option<Waker> {
        let waker = self.unlink(idx);
        self.nodes[idx as usize].slot = Slot::Ready(grant);
        waker
    }

    fn node(&mut self, key: WaitKey) -> &mut Node<T> {
        let node = &mut self.nodes[key.idx as usize];
        debug_assert_eq!(node.generation, key.generation, "stale wait key");
        node
    }

    fn free_node(&mut self, idx: u32) {
        let node = &mut self.nodes[idx as usize];
        node.generation = node.generation.wrapping_add(1);
        node.slot = Slot::Free {
            next_free: self.free,
        };
        self.free = idx;
        self.live -= 1;
        if self.live == 0 {
            // No key is outstanding, so the slab can start over; this keeps a
            // burst of waiters from pinning memory for the pool's lifetime.
            self.nodes.clear();
            self.nodes.shrink_to(KEEP_WAITER_CAPACITY);
            self.free = NIL;
        }
    }
}

/// Work for the caller once the lock is released.
#[must_use = "effects carry a waker to wake, a connection to close or a create to start"]
#[derive(Debug)]
pub(crate) struct Effects<T> {
    /// Wake this waiter.
    pub(crate) wake: Option<Waker>,
    /// Close (drop) this connection; it is already uncounted.
    pub(crate) close: Option<(T, CloseReason)>,
    /// Start this many creates; their slots are already reserved.
    pub(crate) creates: u32,
    /// The pool is closed and nothing is open or being created any more.
    pub(crate) drained: bool,
}

impl<T> Default for Effects<T> {
    fn default() -> Self {
        Self {
            wake: None,
            close: None,
            creates: 0,
            drained: false,
        }
    }
}

/// The outcome of [`Core::acquire`].
#[derive(Debug)]
pub(crate) enum Acquire<T> {
    /// An idle connection, now counted in use.
    Ready(T),
    /// Queued. `creates` slots were reserved for new connections the caller
    /// must start; whatever they produce goes to the queue in order.
    Wait { key: WaitKey, creates: u32 },
    /// The pool is closed.
    Closed,
}

/// A snapshot of the gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Gauges {
    pub(crate) size: u32,
    pub(crate) idle: u32,
    pub(crate) in_use: u32,
    pub(crate) maintenance: u32,
    pub(crate) pending: u32,
    pub(crate) waiters: u32,
    pub(crate) max_size: u32,
    pub(crate) closed: bool,
}

#[derive(Debug)]
struct State<T> {
    /// Least recently used at the front; checkout takes from the back.
    idle: VecDeque<T>,
    waiters: WaitList<T>,
    /// Open connections: idle + in use + maintenance.
    size: u32,
    /// Creates in flight, each holding a reserved slot.
    pending: u32,
    in_use: u32,
    /// Idle connections taken out for a keepalive ping.
    maintenance: u32,
    max_size: u32,
    closed: bool,
    counters: Counters,
}

/// The lock-protected state machine.
#[derive(Debug)]
pub(crate) struct Core<T> {
    state: Mutex<State<T>>,
}

impl<T> State<T> {
    /// Reserves slots for creates while waiters outnumber creates in flight.
    fn reserve_for_waiters(&mut self) -> u32 {
        if self.closed {
            return 0;
        }
        let want = self.waiters.waiting.saturating_sub(self.pending);
        let room = self.max_size.saturating_sub(self.size + self.pending);
        let n = want.min(room);
        self.pending += n;
        n
    }

    fn drained(&self) -> bool {
        self.closed && self.size == 0 && self.pending == 0
    }

    /// Places an open connection that nobody holds: to the oldest waiter,
    /// else on the idle list; closed instead when the pool is closed or over
    /// its size.
    fn place(&mut self, conn: T, fx: &mut Effects<T>) {
        if self.closed {
            self.close_one(conn, CloseReason::PoolClosed, fx);
        } else if self.size > self.max_size {
            self.close_one(conn, CloseReason::Resized, fx);
        } else {
            match self.waiters.grant_front(Grant::Conn(conn)) {
                Ok(waker) => {
                    self.in_use += 1;
                    self.counters.acquired += 1;
                    fx.wake = waker;
                }
                Err(Grant::Conn(conn)) => self.idle.push_back(conn),
                Err(Grant::Closed | Grant::TimedOut) => unreachable!(),
            }
        }
    }

    fn close_one(&mut self, conn: T, reason: CloseReason, fx: &mut Effects<T>) {
        self.size -= 1;
        self.counters.closed[reason.index()] += 1;
        fx.close = Some((conn, reason));
        fx.creates += self.reserve_for_waiters();
        fx.drained = self.drained();
    }
}

impl<T> Core<T> {
    pub(crate) fn new(max_size: u32) -> Self {
        Self {
            state: Mutex::new(State {
                idle: VecDeque::with_capacity(max_size as usize),
                waiters: WaitList::new(),
                size: 0,
                pending: 0,
                in_use: 0,
                maintenance: 0,
                max_size,
                closed: false,
                counters: Counters::default(),
            }),
        }
    }

    /// Takes the most recently used idle connection, or queues the caller
    /// until a grant arrives or it gives up ([`Core::cancel`],
    /// [`Core::time_out`]).
    pub(crate) fn acquire(&self) -> Acquire<T> {
        let mut s = self.state.lock();
        if s.closed {
            return Acquire::Closed;
        }
        if let Some(conn) = s.idle.pop_back() {
            s.in_use += 1;
            s.counters.acquired += 1;
            return Acquire::Ready(conn);
        }
        let key = s.waiters.push_back();
        s.counters.waits += 1;
        let creates = s.reserve_for_waiters();
        Acquire::Wait { key, creates }
    }

    /// Collects a grant, or records the waker to use when one arrives.
    pub(crate) fn poll_wait(&self, key: WaitKey, waker: &Waker) -> Poll<Grant<T>> {
        let mut s = self.state.lock();
        let node = s.waiters.node(key);
        match &mut node.slot {
            Slot::Waiting { waker: slot, .. } => {
                match slot {
                    Some(w) if w.will_wake(waker) => {}
                    _ => *slot = Some(waker.clone()),
                }
                Poll::Pending
            }
            Slot::Ready(_) => {
                let Slot::Ready(grant) =
                    std::mem::replace(&mut node.slot, Slot::Free { next_free: NIL })
                else {
                    unreachable!()
                };
                s.waiters.free_node(key.idx);
                Poll::Ready(grant)
            }
            Slot::Free { .. } => unreachable!("wait key polled after completion"),
        }
    }

    /// A waiter's future was dropped. A connection granted to it in the
    /// meantime is passed on.
    pub(crate) fn cancel(&self, key: WaitKey) -> Effects<T> {
        let mut fx = Effects::default();
        let mut s = self.state.lock();
        if matches!(s.waiters.node(key).slot, Slot::Waiting { .. }) {
            s.counters.cancelled_waits += 1;
            drop(s.waiters.unlink(key.idx));
            s.waiters.free_node(key.idx);
            return fx;
        }
        let node = s.waiters.node(key);
        match std::mem::replace(&mut node.slot, Slot::Free { next_free: NIL }) {
            Slot::Waiting { .. } => unreachable!("handled above"),
            Slot::Ready(grant) => {
                s.waiters.free_node(key.idx);
                if let Grant::Conn(conn) = grant {
                    s.counters.cancelled_waits += 1;
                    s.in_use -= 1;
                    s.counters.released += 1;
                    // It was never used: the next waiter or the idle list
                    // gets it as it is.
                    s.place(conn, &mut fx);
                }
            }
            Slot::Free { .. } => unreachable!("wait key cancelled after completion"),
        }
        fx
    }

    /// A holder returns a healthy connection.
    pub(crate) fn release(&self, conn: T) -> Effects<T> {
        let mut fx = Effects::default();
        let mut s = self.state.lock();
        s.in_use -= 1;
        s.counters.released += 1;
        s.place(conn, &mut fx);
        fx
    }

    /// A holder's connection is closed instead of returned. The caller drops
    /// the connection it still owns; `Effects::close` stays empty.
    pub(crate) fn discard(&self, reason: CloseReason) -> Effects<T> {
        let mut fx = Effects::default();
        let mut s = self.state.lock();
        s.in_use -= 1;
        s.counters.released += 1;
        s.size -= 1;
        s.counters.closed[reason.index()] += 1;
        fx.creates = s.reserve_for_waiters();
        fx.drained = s.drained();
        fx
    }

    /// A create finished: the new connection goes to the oldest waiter or
    /// the idle list, even if the waiter that asked for it is gone.
    pub(crate) fn create_done(&self, conn: T) -> Effects<T> {
        let mut fx = Effects::default();
        let mut s = self.state.lock();
        s.pending -= 1;
        s.size += 1;
        s.counters.created += 1;
        s.place(conn, &mut fx);
        fx
    }

    /// A create attempt failed. Returns whether to try again (someone still
    /// waits and the pool is open); if not, the reserved slot is freed.
    pub(crate) fn create_failed(&self) -> (bool, Effects<T>) {
        let mut fx = Effects::default();
        let mut s = self.state.lock();
        s.counters.create_failures += 1;
        let retry = !s.closed && s.waiters.waiting > 0;
        if !retry {
            s.pending -= 1;
            fx.drained = s.drained();
        }
        (retry, fx)
    }

    /// After the backoff: retry (counted) if someone still waits, else free
    /// the reserved slot.
    pub(crate) fn create_retry(&self) -> (bool, Effects<T>) {
        let mut fx = Effects::default();
        let mut s = self.state.lock();
        let retry = !s.closed && s.waiters.waiting > 0;
        if retry {
            s.counters.create_retries += 1;
        } else {
            s.pending -= 1;
            fx.drained = s.drained();
        }
        (retry, fx)
    }

    /// A waiter's deadline passed (its own timer fired, outside the core).
    /// A grant that reached it first wins: it is returned as the outcome,
    /// so a connection released at the deadline is served, never dropped.
    /// Otherwise the waiter leaves the queue as timed out, and no later
    /// release can reach it. Either way the key is spent.
    pub(crate) fn time_out(&self, key: WaitKey) -> Grant<T> {
        let mut s = self.state.lock();
        if matches!(s.waiters.node(key).slot, Slot::Waiting { .. }) {
            drop(s.waiters.unlink(key.idx));
            s.waiters.free_node(key.idx);
            s.counters.timeouts += 1;
            return Grant::TimedOut;
        }
        let node = s.waiters.node(key);
        match std::mem::replace(&mut node.slot, Slot::Free { next_free: NIL }) {
            Slot::Waiting { .. } => unreachable!("handled above"),
            Slot::Ready(grant) => {
                s.waiters.free_node(key.idx);
                grant
            }
            Slot::Free { .. } => unreachable!("wait key timed out after completion"),
        }
    }

    /// Reserves slots to bring idle + creating up to `min_idle`.
    pub(crate) fn reserve_min_idle(&self, min_idle: u32) -> u32 {
        let mut s = self.state.lock();
        if s.closed {
            return 0;
        }
        let have = s.idle.len() as u32 + s.pending;
        let want = min_idle.saturating_sub(have);
        let room = s.max_size.saturating_sub(s.size + s.pending);
        let n = want.min(room);
        s.pending += n;
        n
    }

    /// Marks the pool closed: waiters get [`Grant::Closed`], idle connections
    /// are handed back to be closed, in-use ones close on return.
    pub(crate) fn close(&self) -> (Vec<T>, Vec<Waker>, bool) {
        let mut s = self.state.lock();
        s.closed = true;
        let idle: Vec<T> = s.idle.drain(..).collect();
        let n = idle.len() as u32;
        s.size -= n;
        s.counters.closed[CloseReason::PoolClosed.index()] += u64::from(n);
        let mut wakers = Vec::with_capacity(s.waiters.waiting as usize);
        while let Ok(waker) = s.waiters.grant_front(Grant::Closed) {
            wakers.extend(waker);
        }
        let drained = s.drained();
        (idle, wakers, drained)
    }

    /// Changes `max_size`. Shrinking closes idle connections over the new
    /// size (least recently used first); growing starts creates for waiters.
    pub(crate) fn resize(&self, max_size: u32) -> (Vec<T>, u32) {
        let mut s = self.state.lock();
        s.max_size = max_size;
        let mut closed = Vec::new();
        while s.size > max_size {
            let Some(conn) = s.idle.pop_front() else {
                break;
            };
            s.size -= 1;
            s.counters.closed[CloseReason::Resized.index()] += 1;
            closed.push(conn);
        }
        let creates = s.reserve_for_waiters();
        (closed, creates)
    }

    /// Removes idle connections for which `reason` says why, oldest first.
    /// `IdleTimeout` is only honoured while more than `min_idle` stay idle.
    pub(crate) fn evict_idle(
        &self,
        min_idle: u32,
        mut reason: impl FnMut(&T) -> Option<CloseReason>,
    ) -> Vec<(T, CloseReason)> {
        let mut s = self.state.lock();
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.idle.len() {
            match reason(&s.idle[i]) {
                Some(CloseReason::IdleTimeout) if s.idle.len() as u32 <= min_idle => i += 1,
                Some(r) => {
                    let conn = s.idle.remove(i).expect("index checked");
                    s.size -= 1;
                    s.counters.closed[r.index()] += 1;
                    out.push((conn, r));
                }
                None => i += 1,
            }
        }
        out
    }

    /// Takes idle connections that `want` selects out for a keepalive ping.
    pub(crate) fn take_for_maintenance(&self, mut want: impl FnMut(&T) -> bool) -> Vec<T> {
        let mut s = self.state.lock();
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.idle.len() {
            if want(&s.idle[i]) {
                out.push(s.idle.remove(i).expect("index checked"));
            } else {
                i += 1;
            }
        }
        s.maintenance += out.len() as u32;
        out
    }

    /// Ends a keepalive: a healthy connection is placed as if released, a
    /// failed one is closed.
    pub(crate) fn maintenance_done(&self, conn: T, failed: Option<CloseReason>) -> Effects<T> {
        let mut fx = Effects::default();
        let mut s = self.state.lock();
        s.maintenance -= 1;
        match failed {
            None => s.place(conn, &mut fx),
            Some(reason) => s.close_one(conn, reason, &mut fx),
        }
        fx
    }

    /// Runs `f` on the counters under the lock.
    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.state.lock().counters);
    }

    pub(crate) fn snapshot(&self) -> (Gauges, Counters) {
        let s = self.state.lock();
        (
            Gauges {
                size: s.size,
                idle: s.idle.len() as u32,
                in_use: s.in_use,
                maintenance: s.maintenance,
                pending: s.pending,
                waiters: s.waiters.waiting,
                max_size: s.max_size,
                closed: s.closed,
            },
            s.counters,
        )
    }

    /// Capacities of the internal collections: (waiter slab length, waiter
    /// slab capacity, idle list capacity).
    pub(crate) fn allocations(&self) -> (usize, usize, usize) {
        let s = self.state.lock();
        (
            s.waiters.nodes.len(),
            s.waiters.nodes.capacity(),
            s.idle.capacity(),
        )
    }
}

#[cfg(all(test, loom))]
mod tests {
    mod loom_support;

    mod loom_cancel;
    mod loom_close;
    mod loom_expire;
    mod loom_handout;
    mod loom_wake;
}
