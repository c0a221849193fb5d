//! Checkout: the idle fast path, the wait in line with its own timer, and
//! validation before a connection is handed out.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use super::clock::ms;
use super::{Conn, Pooled, Shared};
use crate::core::{Acquire, CloseReason, Grant, WaitKey};
use crate::error::PoolError;
use crate::loom::sync::Arc;
use crate::manager::Manager;

/// Waits for a grant until `expiry` fires; cancels the wait (passing on any
/// grant) when dropped.
struct Wait<'a, 'b, M: Manager> {
    shared: &'a Arc<Shared<M>>,
    key: Option<WaitKey>,
    /// This waiter's own timer, armed only once it has to queue, so an
    /// acquire fails at its deadline rather than on a housekeeper tick.
    expiry: Pin<&'b mut tokio::time::Sleep>,
}

impl<M: Manager> Future for Wait<'_, '_, M> {
    type Output = Grant<Conn<M::Connection>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let key = self.key.expect("Wait polled after completion");
        if let Poll::Ready(grant) = self.shared.core.poll_wait(key, cx.waker()) {
            self.key = None;
            return Poll::Ready(grant);
        }
        if self.expiry.as_mut().poll(cx).is_ready() {
            // A grant made since the look above still wins (`time_out`
            // hands it over); after this no release can reach the key.
            self.key = None;
            return Poll::Ready(self.shared.core.time_out(key));
        }
        Poll::Pending
    }
}

impl<M: Manager> Drop for Wait<'_, '_, M> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let fx = self.shared.core.cancel(key);
            Shared::apply(self.shared, fx);
        }
    }
}

impl<M: Manager> Shared<M> {
    /// Checks out a connection for a caller at `site`: see [`Pool::get`](super::Pool::get).
    pub(super) async fn acquire(
        this: &Arc<Self>,
        site: &'static Location<'static>,
    ) -> Result<Pooled<M>, PoolError<M::Error>> {
        let cfg = &this.config;
        // Set at the first step that can block (queueing or validating);
        // everything before it is a few instructions under one lock, so the
        // fast path reads no clock and the bound is still the whole call.
        let mut started: Option<Instant> = None;
        loop {
            let conn = match this.core.acquire() {
                Acquire::Ready(conn) => conn,
                Acquire::Closed => return Err(PoolError::Closed),
                Acquire::Wait { key, creates } => {
                    for _ in 0..creates {
                        Self::spawn_create(this);
                    }
                    let start = *started.get_or_insert_with(Instant::now);
                    let grant = Wait {
                        shared: this,
                        key: Some(key),
                        expiry: std::pin::pin!(tokio::time::sleep_until(
                            start + cfg.acquire_timeout
                        )),
                    }
                    .await;
                    if let Grant::TimedOut = grant {
                        return Err(this.timeout_error(start));
                    }
                    this.record_wait(start.elapsed());
                    match grant {
                        Grant::Conn(conn) => conn,
                        Grant::Closed => return Err(PoolError::Closed),
                        Grant::TimedOut => unreachable!("handled above"),
                    }
                }
            };
            let mut pooled = Pooled {
                conn: Some(conn),
                shared: Arc::clone(this),
                discard: None,
                reset_done: false,
                leak_slot: None,
            };
            let now = this.clock.coarse();
            let c = pooled.conn.as_mut().expect("just set");
            if c.expires <= now {
                pooled.discard = Some(CloseReason::MaxLifetime);
                continue;
            }
            if this.manager.has_broken(&mut c.raw) {
                pooled.discard = Some(CloseReason::Broken);
                continue;
            }
            if cfg.validate_on_checkout
                && now.saturating_sub(c.last_used) >= ms(cfg.validation_skip_window)
            {
                // Dropped mid-validation, the connection's protocol state is
                // unknown: it is discarded rather than returned.
                pooled.discard = Some(CloseReason::Discarded);
                let now = Instant::now();
                let start = *started.get_or_insert(now);
                let until = (now + cfg.validation_timeout).min(start + cfg.acquire_timeout);
                let c = pooled.conn.as_mut().expect("just set");
                let ok = matches!(
                    tokio::time::timeout_at(until, this.manager.validate(&mut c.raw)).await,
                    Ok(Ok(()))
                );
                if !ok {
                    this.core.count(|c| c.validation_failures += 1);
                    pooled.discard = Some(CloseReason::ValidationFailed);
                    drop(pooled);
                    if Instant::now() >= start + cfg.acquire_timeout {
                        this.core.count(|c| c.timeouts += 1);
                        return Err(this.timeout_error(start));
                    }
                    continue;
                }
                pooled.discard = None;
            }
            if let Some(leaks) = &this.leaks {
                pooled.leak_slot = Some(leaks.lock().insert(now, site));
            }
            return Ok(pooled);
        }
    }

    pub(super) fn timeout_error(&self, start: Instant) -> PoolError<M::Error> {
        PoolError::Timeout {
            waited: start.elapsed(),
            last_error: self.last_error.lock().clone(),
        }
    }

    pub(super) fn record_wait(&self, waited: Duration) {
        self.waits.record(waited);
        self.metrics.wait_seconds.record(waited.as_secs_f64());
    }
}
