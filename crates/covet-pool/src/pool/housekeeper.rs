//! The housekeeper: a background task that refreshes the coarse clock and,
//! every housekeeping interval, evicts idle and expired connections, runs
//! keepalives, tops up min_idle and reports leaked checkouts.

use super::clock::ms;
use super::{Conn, Shared};
use crate::core::CloseReason;
use crate::loom::sync::Arc;
use crate::manager::Manager;

impl<M: Manager> Shared<M> {
    /// Background maintenance until the pool is closed or its last handle
    /// is dropped.
    pub(super) async fn housekeeper(this: Arc<Self>) {
        let cfg = &this.config;
        let every = ms(cfg.housekeeping_interval);
        let mut tick = tokio::time::interval(this.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = this.shutdown.notified() => break,
            }
            let now = this.clock.exact();
            if now.saturating_sub(last) < every {
                continue;
            }
            last = now;
            if this.core.snapshot().0.closed {
                break;
            }
            Self::housekeep(&this);
        }
        let (g, c) = this.core.snapshot();
        this.metrics.publish(g, &c);
    }

    fn housekeep(this: &Arc<Self>) {
        let cfg = &this.config;
        let now = this.clock.exact();
        let evicted = this.core.evict_idle(cfg.min_idle, |c| {
            if c.expires <= now {
                Some(CloseReason::MaxLifetime)
            } else if cfg
                .idle_timeout
                .is_some_and(|t| now.saturating_sub(c.last_used) >= ms(t))
            {
                Some(CloseReason::IdleTimeout)
            } else {
                None
            }
        });
        drop(evicted);
        if let Some(interval) = cfg.keepalive_interval {
            for conn in this
                .core
                .take_for_maintenance(|c| now.saturating_sub(c.last_used) >= ms(interval))
            {
                this.runtime.spawn(Self::keepalive(Arc::clone(this), conn));
            }
        }
        for _ in 0..this.core.reserve_min_idle(cfg.min_idle) {
            Self::spawn_create(this);
        }
        if let (Some(threshold), Some(leaks)) = (cfg.leak_detection_threshold, &this.leaks) {
            let found = leaks.lock().scan(now, threshold);
            for (site, held) in found {
                this.core.count(|c| c.leaks_detected += 1);
                tracing::warn!(
                    pool = %cfg.name,
                    acquired_at = %site,
                    held = ?held,
                    "connection held longer than leak_detection_threshold"
                );
                if let Some(hook) = &this.leak_hook {
                    hook(site, held);
                }
            }
        }
        let (g, c) = this.core.snapshot();
        this.metrics.publish(g, &c);
    }

    async fn keepalive(this: Arc<Self>, mut conn: Conn<M::Connection>) {
        let ok = matches!(
            tokio::time::timeout(
                this.config.validation_timeout,
                this.manager.validate(&mut conn.raw)
            )
            .await,
            Ok(Ok(()))
        );
        if ok {
            conn.last_used = this.clock.exact();
        }
        let fx = this
            .core
            .maintenance_done(conn, (!ok).then_some(CloseReason::KeepaliveFailed));
        Self::apply(&this, fx);
    }
}
