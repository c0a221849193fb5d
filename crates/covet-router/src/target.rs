//! One server the router sends statements to: its adapter (with its own
//! pool and circuit breaker), its load, its health and its metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use covet_core::Adapter;
use covet_resilience::{Breaker, BreakerState, CircuitBreaker};
use parking_lot::Mutex;

use crate::balance::Load;
use crate::token::ConsistencyToken;

/// Whether a target takes writes or only reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Role {
    /// The writable server.
    Primary,
    /// A read replica.
    Replica,
}

/// A snapshot of one target, for reports and tests ([`crate::Router::stats`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TargetStats {
    /// The target's name (`host:port` for a URL-built router).
    pub name: String,
    /// Primary or replica.
    pub role: Role,
    /// Statements and transactions routed to it so far.
    pub routed: u64,
    /// Requests in flight now.
    pub outstanding: usize,
    /// Whether the health checks have ejected it (replicas only).
    pub ejected: bool,
    /// How many times it was ejected.
    pub ejections: u64,
    /// Its last measured lag (replicas, once checked).
    pub lag: Option<Duration>,
    /// Why it is ejected, when it is.
    pub reason: Option<&'static str>,
    /// Its circuit breaker's state.
    pub breaker: BreakerState,
    /// The last replayed position seen by a check (replicas).
    pub position: Option<ConsistencyToken>,
}

#[derive(Debug, Default)]
pub(crate) struct Health {
    pub(crate) ejected: bool,
    pub(crate) reason: Option<&'static str>,
    pub(crate) lag: Option<Duration>,
    pub(crate) position: Option<ConsistencyToken>,
    pub(crate) good_checks: u32,
}

pub(crate) struct Target {
    pub(crate) name: String,
    /// The adapter behind this target's breaker.
    pub(crate) adapter: Arc<dyn Adapter>,
    pub(crate) breaker: Arc<CircuitBreaker>,
    pub(crate) weight: u32,
    outstanding: AtomicUsize,
    routed: AtomicU64,
    ejections: AtomicU64,
    pub(crate) health: Mutex<Health>,
    m_routed: metrics::Counter,
    m_ejections: metrics::Counter,
    m_lag: metrics::Gauge,
    m_ejected: metrics::Gauge,
}

impl Target {
    pub(crate) fn new(
        name: String,
        raw: Arc<dyn Adapter>,
        breaker: CircuitBreaker,
        weight: u32,
    ) -> Arc<Target> {
        let breaker = Arc::new(breaker);
        let adapter: Arc<dyn Adapter> = Arc::new(covet_resilience::BreakerAdapter::new(
            raw,
            breaker.clone() as Arc<dyn Breaker>,
        ));
        // Labelled by target only: with failover a target's role changes.
        let labels = [("target", name.clone())];
        Arc::new(Target {
            m_routed: metrics::counter!("covet_router_routed_total", &labels),
            m_ejections: metrics::counter!("covet_router_ejections_total", &labels),
            m_lag: metrics::gauge!("covet_router_replica_lag_seconds", &labels),
            m_ejected: metrics::gauge!("covet_router_replica_ejected", &labels),
            name,
            adapter,
            breaker,
            weight: weight.max(1),
            outstanding: AtomicUsize::new(0),
            routed: AtomicU64::new(0),
            ejections: AtomicU64::new(0),
            health: Mutex::new(Health::default()),
        })
    }

    /// Counts a request as routed here and in flight until the guard drops.
    pub(crate) fn start(self: &Arc<Self>) -> InFlight {
        self.outstanding.fetch_add(1, Ordering::Relaxed);
        self.routed.fetch_add(1, Ordering::Relaxed);
        self.m_routed.increment(1);
        InFlight(self.clone())
    }

    /// Whether reads may go here: not ejected, breaker not refusing.
    pub(crate) fn eligible(&self) -> bool {
        !self.health.lock().ejected
            && !matches!(
                self.breaker.state(),
                BreakerState::Open | BreakerState::ForcedOpen
            )
    }

    pub(crate) fn covers(&self, token: &ConsistencyToken) -> bool {
        self.health
            .lock()
            .position
            .as_ref()
            .is_some_and(|p| token.covered_by(p))
    }

    /// Records what a health check found; `ok` is whether the replica is
    /// fit to serve.
    pub(crate) fn record_check(
        &self,
        ok: Result<(), &'static str>,
        lag: Option<Duration>,
        position: Option<ConsistencyToken>,
        readmit_after: u32,
    ) {
        let mut h = self.health.lock();
        if let Some(p) = position {
            h.position = Some(match &h.position {
                Some(old) if old.same_engine(&p) => old.max(&p),
                _ => p,
            });
        }
        if lag.is_some() {
            h.lag = lag;
        }
        if let Some(l) = lag {
            self.m_lag.set(l.as_secs_f64());
        }
        match ok {
            Ok(()) => {
                h.good_checks = h.good_checks.saturating_add(1);
                if h.ejected && h.good_checks >= readmit_after {
                    h.ejected = false;
                    h.reason = None;
                    self.m_ejected.set(0.0);
                }
            }
            Err(reason) => {
                h.good_checks = 0;
                h.reason = Some(reason);
                if !h.ejected {
                    h.ejected = true;
                    self.ejections.fetch_add(1, Ordering::Relaxed);
                    self.m_ejections.increment(1);
                    self.m_ejected.set(1.0);
                }
            }
        }
    }

    /// Raises the known position after a successful wait for a token.
    pub(crate) fn reached(&self, token: &ConsistencyToken) {
        let mut h = self.health.lock();
        h.position = Some(match &h.position {
            Some(old) if old.same_engine(token) => old.max(token),
            _ => token.clone(),
        });
    }

    pub(crate) fn stats(&self, role: Role) -> TargetStats {
        let h = self.health.lock();
        TargetStats {
            name: self.name.clone(),
            role,
            routed: self.routed.load(Ordering::Relaxed),
            outstanding: self.outstanding.load(Ordering::Relaxed),
            ejected: h.ejected,
            ejections: self.ejections.load(Ordering::Relaxed),
            lag: h.lag,
            reason: h.reason,
            breaker: self.breaker.state(),
            position: h.position.clone(),
        }
    }
}

impl Load for Arc<Target> {
    fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }
    fn weight(&self) -> u32 {
        self.weight
    }
}

/// A request in flight on a target; dropping it ends the request.
pub(crate) struct InFlight(Arc<Target>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}
