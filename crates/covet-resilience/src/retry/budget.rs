//! A token bucket that caps retries across all callers.

use std::sync::Mutex;

use tokio::time::Instant;

/// A retry budget: a token bucket shared by every caller of a stack, so an
/// outage cannot turn each failing call into several more.
///
/// Each retry takes one token; tokens come back at a fixed rate up to the
/// capacity. First attempts never need a token. The bucket reads tokio's
/// clock, so tests with paused time control it.
#[derive(Debug)]
pub struct RetryBudget {
    capacity: f64,
    refill_per_sec: f64,
    state: Mutex<(f64, Instant)>,
}

impl RetryBudget {
    /// A full bucket of `capacity` tokens refilled at `refill_per_sec`.
    pub fn new(capacity: u32, refill_per_sec: f64) -> Self {
        RetryBudget {
            capacity: f64::from(capacity),
            refill_per_sec: refill_per_sec.max(0.0),
            state: Mutex::new((f64::from(capacity), Instant::now())),
        }
    }

    /// A budget that never runs out.
    pub fn unlimited() -> Self {
        RetryBudget::new(u32::MAX, f64::from(u32::MAX))
    }

    /// Takes one token; `false` when the budget is spent.
    pub fn try_withdraw(&self) -> bool {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let refill = now.duration_since(s.1).as_secs_f64() * self.refill_per_sec;
        s.0 = (s.0 + refill).min(self.capacity);
        s.1 = now;
        if s.0 >= 1.0 {
            s.0 -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whole tokens available now.
    pub fn available(&self) -> u32 {
        let s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let refill = Instant::now().duration_since(s.1).as_secs_f64() * self.refill_per_sec;
        (s.0 + refill).min(self.capacity) as u32
    }
}

impl Default for RetryBudget {
    /// 100 tokens, refilled at 10 per second.
    fn default() -> Self {
        RetryBudget::new(100, 10.0)
    }
}
