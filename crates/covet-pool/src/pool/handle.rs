//! [`Pool`], the cloneable handle: checkout, state, resize and close.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::time::Duration;

use tokio::time::Instant;

use super::{Pooled, Shared};
use crate::config::{ConfigError, PoolConfig, check_sizes};
use crate::error::{CloseError, PoolError};
use crate::loom::sync::Arc;
use crate::manager::Manager;
use crate::metrics::{State, Stats};

/// Stops the housekeeper when the last user handle goes away.
pub(super) struct HandleToken<M: Manager> {
    pub(super) shared: Arc<Shared<M>>,
}

impl<M: Manager> Drop for HandleToken<M> {
    fn drop(&mut self) {
        self.shared.shutdown.notify_one();
    }
}

/// A pool of connections made by a [`Manager`]. Cloning is cheap and every
/// clone shares the same connections.
///
/// ```
/// # use covet_pool::{Manager, Pool};
/// # struct Numbers;
/// # impl Manager for Numbers {
/// #     type Connection = u64;
/// #     type Error = std::io::Error;
/// #     async fn create(&self) -> Result<u64, std::io::Error> { Ok(7) }
/// #     async fn validate(&self, _: &mut u64) -> Result<(), std::io::Error> { Ok(()) }
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = Pool::builder(Numbers).max_size(4).build()?;
/// let conn = pool.get().await?;
/// assert_eq!(*conn, 7);
/// drop(conn);
/// assert_eq!(pool.state().idle, 1);
/// # Ok(()) }
/// ```
pub struct Pool<M: Manager> {
    pub(super) token: Arc<HandleToken<M>>,
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self {
            token: self.token.clone(),
        }
    }
}

impl<M: Manager> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("name", &self.config().name)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl<M: Manager> Pool<M> {
    fn shared(&self) -> &Arc<Shared<M>> {
        &self.token.shared
    }

    /// Checks out a connection: the most recently used idle one, else waits
    /// in line (first come, first served) while a new one is created.
    ///
    /// Fails with [`PoolError::Timeout`] at `acquire_timeout` (a waiter has
    /// its own timer, so within a millisecond or so of the deadline),
    /// carrying the last create error if creates were failing (every caller
    /// that times out gets it), or [`PoolError::Closed`]. The fast path, an
    /// idle connection, arms no timer, reads no clock and allocates nothing.
    /// Dropping the future at any point loses no capacity: a connection
    /// created or granted for it goes to the next waiter or the idle list.
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<Pooled<M>, PoolError<M::Error>>> + Send + '_ {
        let site = Location::caller();
        Shared::acquire(self.shared(), site)
    }

    /// Current occupancy.
    pub fn state(&self) -> State {
        self.shared().core.snapshot().0.into()
    }

    /// An exact, self-consistent snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.shared().stats()
    }

    /// The configuration the pool was built with (`max_size` as built; see
    /// [`State::max_size`] after a resize).
    pub fn config(&self) -> &PoolConfig {
        &self.shared().config
    }

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.shared().manager
    }

    /// Changes the maximum size at run time. Growing starts creates for
    /// waiting callers; shrinking closes idle connections at once and
    /// checked-out ones as they come back.
    pub fn resize(&self, max_size: u32) -> Result<(), ConfigError> {
        let shared = self.shared();
        check_sizes(max_size, shared.config.min_idle)?;
        let (closed, creates) = shared.core.resize(max_size);
        drop(closed);
        for _ in 0..creates {
            Shared::spawn_create(shared);
        }
        Ok(())
    }

    /// Closes the pool: waiting callers get [`PoolError::Closed`], idle
    /// connections are closed now, checked-out ones when they are returned.
    /// Waits up to `deadline` for those to come back.
    pub async fn close(&self, deadline: Duration) -> Result<(), CloseError> {
        let shared = self.shared();
        let (idle, wakers, _) = shared.core.close();
        drop(idle);
        for w in wakers {
            w.wake();
        }
        shared.shutdown.notify_one();
        let until = Instant::now() + deadline;
        loop {
            let notified = shared.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (g, c) = shared.core.snapshot();
            if g.size == 0 && g.pending == 0 {
                shared.metrics.publish(g, &c);
                return Ok(());
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                let (g, c) = shared.core.snapshot();
                shared.metrics.publish(g, &c);
                if g.size == 0 && g.pending == 0 {
                    return Ok(());
                }
                return Err(CloseError::Timeout {
                    in_use: g.in_use + g.maintenance,
                    creating: g.pending,
                });
            }
        }
    }

    /// Lengths and capacities of the pool's internal collections (waiter
    /// slab length, waiter slab capacity, idle list capacity). For leak tests.
    #[doc(hidden)]
    pub fn internal_allocations(&self) -> (usize, usize, usize) {
        self.shared().core.allocations()
    }
}
