//! Opening connections: one create per reserved slot, retried with full
//! jitter backoff while someone waits, and each new connection's lifetime.

use std::time::Duration;

use super::clock::ms;
use super::{Conn, Shared};
use crate::loom::sync::atomic::Ordering;
use crate::loom::sync::{Arc, StdArc};
use crate::manager::Manager;

impl<M: Manager> Shared<M> {
    pub(super) fn new_conn(&self, raw: M::Connection) -> Conn<M::Connection> {
        let now = self.clock.exact();
        let expires = self.config.max_lifetime.map_or(u64::MAX, |life| {
            let jitter = self.config.lifetime_jitter;
            let cut = if jitter.is_zero() {
                Duration::ZERO
            } else {
                jitter.mul_f64(self.random_unit())
            };
            now.saturating_add(ms(life - cut))
        });
        Conn {
            raw,
            expires,
            last_used: now,
        }
    }

    /// A uniform value in [0, 1) from a shared xorshift state.
    fn random_unit(&self) -> f64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Full jitter: a uniform delay in [0, min(max, base * 2^attempt)).
    fn backoff(&self, attempt: u32) -> Duration {
        let cfg = &self.config;
        let ceiling = cfg
            .create_backoff_base
            .saturating_mul(1u32 << attempt.min(20))
            .min(cfg.create_backoff_max);
        ceiling.mul_f64(self.random_unit())
    }

    pub(super) fn spawn_create(this: &Arc<Self>) {
        this.runtime.spawn(Self::create_loop(Arc::clone(this)));
    }

    /// Opens one connection for the slot reserved for it, retrying while
    /// someone waits; the result goes to the oldest waiter or the idle list.
    async fn create_loop(this: Arc<Self>) {
        let mut attempt = 0u32;
        loop {
            match tokio::time::timeout(this.config.create_timeout, this.manager.create()).await {
                Ok(Ok(raw)) => {
                    *this.last_error.lock() = None;
                    let conn = this.new_conn(raw);
                    let fx = this.core.create_done(conn);
                    Self::apply(&this, fx);
                    return;
                }
                Ok(Err(e)) => {
                    tracing::warn!(pool = %this.config.name, error = %e, "connection create failed");
                    *this.last_error.lock() = Some(StdArc::new(e));
                }
                Err(_) => {
                    tracing::warn!(pool = %this.config.name, timeout = ?this.config.create_timeout, "connection create timed out");
                }
            }
            let (retry, fx) = this.core.create_failed();
            Self::apply(&this, fx);
            if !retry {
                return;
            }
            tokio::time::sleep(this.backoff(attempt)).await;
            attempt = attempt.saturating_add(1);
            let (retry, fx) = this.core.create_retry();
            Self::apply(&this, fx);
            if !retry {
                return;
            }
        }
    }
}
