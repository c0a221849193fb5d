//! The pool handle, its builder, checkouts and the background tasks.
//!
//! Split by role: `builder` (configuring and starting a pool), `handle`
//! (the cloneable [`Pool`] and its operations), `acquire` (checkout: the
//! fast path, the wait and validation), `pooled` (the [`Pooled`] guard and
//! the return path), `create` (opening connections with backoff),
//! `housekeeper` (eviction, keepalive, min_idle, leak scans), `clock` and
//! `leak`. This module holds what they all share: [`Shared`] and [`Conn`].

use std::time::Duration;

use tokio::sync::Notify;

use crate::config::PoolConfig;
use crate::core::{Core, Effects};
use crate::loom::sync::atomic::AtomicU64;
use crate::loom::sync::{Arc, Mutex, StdArc};
use crate::manager::Manager;
use crate::metrics::{Metrics, Stats, WaitHistogram};

mod acquire;
mod builder;
mod clock;
mod create;
mod handle;
mod housekeeper;
mod leak;
mod pooled;

pub use builder::PoolBuilder;
pub use handle::Pool;
pub use leak::LeakHook;
pub use pooled::Pooled;

use clock::Clock;
use leak::LeakTable;

/// A connection with the pool's bookkeeping. Times are [`Clock`] ticks.
pub(crate) struct Conn<C> {
    raw: C,
    /// When it must be closed (max_lifetime minus jitter); `u64::MAX` never.
    expires: u64,
    /// When it was last returned (or created).
    last_used: u64,
}

/// What every handle, checkout and background task of one pool shares.
pub(crate) struct Shared<M: Manager> {
    manager: M,
    config: PoolConfig,
    core: Core<Conn<M::Connection>>,
    runtime: tokio::runtime::Handle,
    /// The most recent real create error, shared by every waiter that
    /// times out while it stands (`PoolError::Timeout`).
    last_error: Mutex<Option<StdArc<M::Error>>>,
    /// Signalled when a closed pool has nothing left open.
    drained: Notify,
    /// Signalled when the last `Pool` handle is dropped.
    shutdown: Notify,
    metrics: Metrics,
    leaks: Option<Mutex<LeakTable>>,
    leak_hook: Option<LeakHook>,
    waits: WaitHistogram,
    rng: AtomicU64,
    clock: Clock,
    /// How often the housekeeper refreshes `clock`.
    tick: Duration,
}

impl<M: Manager> Shared<M> {
    fn stats(&self) -> Stats {
        let (g, c) = self.core.snapshot();
        Stats::new(g, &c, &self.waits)
    }

    /// Carries out what the core asked for, outside its lock.
    fn apply(this: &Arc<Self>, fx: Effects<Conn<M::Connection>>) {
        if let Some(w) = fx.wake {
            w.wake();
        }
        if let Some((conn, reason)) = fx.close {
            tracing::debug!(pool = %this.config.name, reason = reason.as_str(), "closing connection");
            drop(conn);
        }
        for _ in 0..fx.creates {
            Self::spawn_create(this);
        }
        if fx.drained {
            this.drained.notify_waiters();
        }
    }
}
