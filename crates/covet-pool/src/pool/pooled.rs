//! [`Pooled`], the checked-out connection, and the return path it takes when
//! dropped: reset if needed, closed if broken or expired, else released.

use std::fmt;
use std::ops::{Deref, DerefMut};

use super::{Conn, Shared};
use crate::core::CloseReason;
use crate::loom::sync::Arc;
use crate::manager::Manager;

/// A checked-out connection; it goes back to the pool when dropped.
pub struct Pooled<M: Manager> {
    pub(super) conn: Option<Conn<M::Connection>>,
    pub(super) shared: Arc<Shared<M>>,
    /// Close instead of returning, for this reason.
    pub(super) discard: Option<CloseReason>,
    pub(super) reset_done: bool,
    pub(super) leak_slot: Option<u32>,
}

impl<M: Manager> Pooled<M> {
    /// Returns the connection to the pool on drop after all.
    fn keep(&mut self) {
        self.discard = None;
    }

    /// Closes this connection instead of returning it (after a timeout left
    /// it mid-query, or a fatal error); the pool frees the slot.
    pub fn discard(mut self) {
        self.discard = Some(CloseReason::Discarded);
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        &self.conn.as_ref().expect("present until drop").raw
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.conn.as_mut().expect("present until drop").raw
    }
}

impl<M: Manager> fmt::Debug for Pooled<M>
where
    M::Connection: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pooled").field(&**self).finish()
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        if let (Some(i), Some(leaks)) = (self.leak_slot.take(), &self.shared.leaks) {
            leaks.lock().remove(i);
        }
        if let Some(conn) = self.conn.take() {
            Shared::give_back(&self.shared, conn, self.discard, self.reset_done);
        }
    }
}

impl<M: Manager> Shared<M> {
    /// Takes back a connection from a [`Pooled`].
    fn give_back(
        this: &Arc<Self>,
        mut conn: Conn<M::Connection>,
        discard: Option<CloseReason>,
        reset_done: bool,
    ) {
        let reason = discard.or_else(|| {
            this.manager
                .has_broken(&mut conn.raw)
                .then_some(CloseReason::Broken)
        });
        if let Some(reason) = reason {
            let fx = this.core.discard(reason);
            drop(conn);
            Self::apply(this, fx);
            return;
        }
        if !reset_done && this.manager.needs_reset(&conn.raw) {
            let mut pooled = Pooled {
                conn: Some(conn),
                shared: Arc::clone(this),
                discard: Some(CloseReason::ResetFailed),
                reset_done: true,
                leak_slot: None,
            };
            let timeout = this.config.validation_timeout;
            this.runtime.spawn(async move {
                let shared = Arc::clone(&pooled.shared);
                let c = pooled.conn.as_mut().expect("set above");
                if let Ok(Ok(())) =
                    tokio::time::timeout(timeout, shared.manager.reset(&mut c.raw)).await
                {
                    pooled.keep();
                }
            });
            return;
        }
        let now = this.clock.coarse();
        if conn.expires <= now {
            let fx = this.core.discard(CloseReason::MaxLifetime);
            drop(conn);
            Self::apply(this, fx);
            return;
        }
        conn.last_used = now;
        let fx = this.core.release(conn);
        Self::apply(this, fx);
    }
}
