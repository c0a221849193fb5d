//! Latency histograms (HdrHistogram) and the percentiles reports show.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram holds exactly; longer ones are clamped.
const HIGHEST_NS: u64 = 3_600_000_000_000;

/// A latency histogram in nanoseconds, three significant digits
/// (every figure within 0.1% of the recorded value), 1 ns to 1 hour.
#[derive(Clone)]
pub struct LatencyHistogram {
    h: Histogram<u64>,
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.h.len())
            .finish()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::with_precision(3)
    }
}

impl LatencyHistogram {
    /// An empty histogram with `sigfig` significant digits (1 to 5).
    pub fn with_precision(sigfig: u8) -> Self {
        LatencyHistogram {
            // Bounds and precision are constants inside the library's range.
            h: Histogram::new_with_bounds(1, HIGHEST_NS, sigfig.clamp(1, 5))
                .unwrap_or_else(|_| Histogram::new(3).expect("3 significant digits is valid")),
        }
    }

    /// Records one latency (clamped to 1 hour).
    pub fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.h.saturating_record(ns.min(HIGHEST_NS));
    }

    /// Adds another histogram's counts.
    pub fn add(&mut self, other: &LatencyHistogram) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.h.add(&other.h);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.h.len()
    }

    /// The value at quantile `q` (0.0 to 1.0): the smallest recorded value
    /// such that a fraction `q` of all values are at or below it.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.h.is_empty() {
            return Duration::ZERO;
        }
        // The top of the value's bucket, never above the true maximum.
        Duration::from_nanos(self.h.value_at_quantile(q).min(self.h.max()))
    }

    /// The largest recorded value.
    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.h.max())
    }

    /// The smallest recorded value.
    pub fn min(&self) -> Duration {
        if self.h.is_empty() {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.h.min())
        }
    }

    /// The mean.
    pub fn mean(&self) -> Duration {
        if self.h.is_empty() {
            Duration::ZERO
        } else {
            Duration::from_nanos(self.h.mean() as u64)
        }
    }

    /// The report's figures, in milliseconds.
    pub fn percentiles(&self) -> Percentiles {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        Percentiles {
            count: self.count(),
            min_ms: ms(self.min()),
            mean_ms: ms(self.mean()),
            p50_ms: ms(self.quantile(0.50)),
            p66_ms: ms(self.quantile(0.66)),
            p75_ms: ms(self.quantile(0.75)),
            p80_ms: ms(self.quantile(0.80)),
            p90_ms: ms(self.quantile(0.90)),
            p95_ms: ms(self.quantile(0.95)),
            p98_ms: ms(self.quantile(0.98)),
            p99_ms: ms(self.quantile(0.99)),
            p999_ms: ms(self.quantile(0.999)),
            p9999_ms: ms(self.quantile(0.9999)),
            max_ms: ms(self.max()),
        }
    }
}

/// Summary figures of a histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Number of values.
    pub count: u64,
    /// Smallest.
    pub min_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 66th percentile.
    pub p66_ms: f64,
    /// 75th percentile.
    pub p75_ms: f64,
    /// 80th percentile.
    pub p80_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 98th percentile.
    pub p98_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// 99.99th percentile.
    pub p9999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Percentiles {
    /// The figure named `p50`, `p90`, `p95`, `p99`, `p99.9`, `max`, `min`,
    /// `mean` (and the other CSV percentiles).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "min" => self.min_ms,
            "mean" | "avg" => self.mean_ms,
            "p50" | "median" => self.p50_ms,
            "p66" => self.p66_ms,
            "p75" => self.p75_ms,
            "p80" => self.p80_ms,
            "p90" => self.p90_ms,
            "p95" => self.p95_ms,
            "p98" => self.p98_ms,
            "p99" => self.p99_ms,
            "p99.9" | "p999" => self.p999_ms,
            "p99.99" | "p9999" => self.p9999_ms,
            "max" | "p100" => self.max_ms,
            _ => return None,
        })
    }
}
