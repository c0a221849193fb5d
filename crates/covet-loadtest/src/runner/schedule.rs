//! The intended start times of a run: constant or Poisson spacing.

use std::time::Duration;

use super::config::Arrival;
use crate::rng::Rng;

/// The intended start offsets of a run, in order.
#[derive(Debug, Clone)]
pub struct Schedule {
    arrival: Arrival,
    interval: f64,
    i: u64,
    t: f64,
    rng: Rng,
}

impl Schedule {
    /// Offsets for `rate` statements per second.
    pub fn new(arrival: Arrival, rate: f64, seed: u64) -> Self {
        Schedule {
            arrival,
            interval: 1.0 / rate,
            i: 0,
            t: 0.0,
            rng: Rng::new(seed ^ 0x5EED_0FA1),
        }
    }

    /// The next offset from the start of the run.
    pub fn next_offset(&mut self) -> Duration {
        let t = match self.arrival {
            // Multiplying instead of summing keeps a long run free of drift.
            Arrival::Constant => self.i as f64 * self.interval,
            Arrival::Poisson => {
                let t = self.t;
                let u = 1.0 - self.rng.next_f64();
                self.t += -u.ln() * self.interval;
                t
            }
        };
        self.i += 1;
        Duration::from_secs_f64(t)
    }
}
