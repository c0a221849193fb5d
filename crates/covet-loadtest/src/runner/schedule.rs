//! The intended start times of a run: constant or Poisson spacing, at one
//! rate or along ramping stages.

use std::time::Duration;

use super::config::Arrival;
use crate::error::{LoadtestError, Result};
use crate::rng::Rng;

/// One stage of a ramping arrival rate, as k6's ramping-arrival-rate
/// executor has them: over `duration`, the rate moves linearly from the
/// previous stage's target (or the start rate) to `target`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the ramp takes.
    pub duration: Duration,
    /// The rate, in statements per second, reached at the stage's end.
    pub target: f64,
}

impl Stage {
    /// Parses `30s:1000,60s:5000,30s:0` (duration `ms`, `s`, `m` or `h`,
    /// then the target rate per second).
    pub fn parse_list(text: &str) -> Result<Vec<Stage>> {
        let bad = |why: String| {
            LoadtestError::config(format!(
                "invalid stages `{text}`: {why} (expected e.g. `30s:1000,60s:5000,30s:0`)"
            ))
        };
        let mut out = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            let (d, r) = part
                .split_once(':')
                .ok_or_else(|| bad(format!("`{part}` has no `:` between duration and rate")))?;
            let duration = parse_duration(d.trim())
                .ok_or_else(|| bad(format!("`{d}` is not a duration such as 30s or 500ms")))?;
            let target: f64 = r
                .trim()
                .trim_end_matches("/s")
                .parse()
                .map_err(|_| bad(format!("`{r}` is not a rate")))?;
            out.push(Stage { duration, target });
        }
        validate_stages(&out)?;
        Ok(out)
    }
}

/// Checks a list of stages: at least one, each with a duration above zero
/// and a target between 0 and 10,000,000/s.
pub(crate) fn validate_stages(stages: &[Stage]) -> Result<()> {
    if stages.is_empty() {
        return Err(LoadtestError::config("at least one stage is needed"));
    }
    for (i, s) in stages.iter().enumerate() {
        if s.duration.is_zero() {
            return Err(LoadtestError::config(format!(
                "stage {} lasts zero seconds",
                i + 1
            )));
        }
        if !(s.target.is_finite() && (0.0..=10_000_000.0).contains(&s.target)) {
            return Err(LoadtestError::config(format!(
                "stage {}: the target rate must be between 0 and 10,000,000/s",
                i + 1
            )));
        }
    }
    Ok(())
}

/// `500ms`, `30s`, `2m`, `1h`, `1.5s`.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// A stretch of time over which the rate moves linearly from `r0` to `r1`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    /// Start, in seconds from the start of the run.
    t0: f64,
    /// Length in seconds (infinite for a constant rate without end).
    len: f64,
    r0: f64,
    r1: f64,
    /// Statements due before this segment (the integral of the rate).
    n0: f64,
}

impl Segment {
    /// Statements due over the whole segment.
    fn count(&self) -> f64 {
        if self.len.is_infinite() {
            if self.r0 > 0.0 { f64::INFINITY } else { 0.0 }
        } else {
            (self.r0 + self.r1) / 2.0 * self.len
        }
    }

    /// Seconds into the segment at which `x` statements of it are due:
    /// the root of `a s^2 + b s = x` with `a = (r1 - r0) / 2 len`, `b = r0`.
    fn offset_of(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        let b = self.r0;
        let a = if self.len.is_infinite() {
            0.0
        } else {
            (self.r1 - self.r0) / (2.0 * self.len)
        };
        // This form of the root has no cancellation when `a` is tiny, and
        // reduces to x / b for a constant rate.
        let disc = (b * b + 4.0 * a * x).max(0.0);
        2.0 * x / (b + disc.sqrt())
    }

    /// Statements due in the first `s` seconds of the segment.
    fn due(&self, s: f64) -> f64 {
        let s = s.clamp(0.0, self.len);
        if self.len.is_infinite() {
            return self.r0 * s;
        }
        self.r0 * s + (self.r1 - self.r0) / (2.0 * self.len) * s * s
    }
}

/// The intended start offsets of a run, in order.
#[derive(Debug, Clone)]
pub struct Schedule {
    arrival: Arrival,
    segments: Vec<Segment>,
    current: usize,
    i: u64,
    /// The Poisson process's running sum of unit exponential gaps.
    e: f64,
    rng: Rng,
}

impl Schedule {
    /// Offsets for a constant `rate` statements per second, without end.
    pub fn new(arrival: Arrival, rate: f64, seed: u64) -> Self {
        Self::from_segments(
            arrival,
            vec![Segment {
                t0: 0.0,
                len: f64::INFINITY,
                r0: rate,
                r1: rate,
                n0: 0.0,
            }],
            seed,
        )
    }

    /// Offsets for a ramping rate: `lead_in` at `start_rate` (the warm-up),
    /// then each stage in turn, the rate moving linearly from the previous
    /// target to the stage's over its duration (k6's ramping arrival
    /// rate). The offsets end with the last stage.
    pub fn ramping(
        arrival: Arrival,
        start_rate: f64,
        lead_in: Duration,
        stages: &[Stage],
        seed: u64,
    ) -> Self {
        let mut segments = Vec::with_capacity(stages.len() + 1);
        let (mut t, mut n, mut prev) = (0.0, 0.0, start_rate);
        let mut push = |len: f64, r0: f64, r1: f64| {
            let seg = Segment {
                t0: t,
                len,
                r0,
                r1,
                n0: n,
            };
            t += len;
            n += seg.count();
            segments.push(seg);
        };
        if !lead_in.is_zero() {
            push(lead_in.as_secs_f64(), start_rate, start_rate);
        }
        for s in stages {
            push(s.duration.as_secs_f64(), prev, s.target);
            prev = s.target;
        }
        Self::from_segments(arrival, segments, seed)
    }

    fn from_segments(arrival: Arrival, segments: Vec<Segment>, seed: u64) -> Self {
        Schedule {
            arrival,
            segments,
            current: 0,
            i: 0,
            e: 0.0,
            rng: Rng::new(seed ^ 0x5EED_0FA1),
        }
    }

    /// The next offset from the start of the run; `None` once the schedule
    /// has ended (after the last stage of a ramping one).
    pub fn next_offset(&mut self) -> Option<Duration> {
        let x = match self.arrival {
            Arrival::Constant => self.i as f64,
            Arrival::Poisson => {
                // A Poisson process of varying rate is a unit-rate one read
                // through the integral of the rate (time rescaling).
                let x = self.e;
                let u = 1.0 - self.rng.next_f64();
                self.e += -u.ln();
                x
            }
        };
        self.i += 1;
        loop {
            let seg = self.segments.get(self.current)?;
            let within = x - seg.n0;
            if within < seg.count() {
                let t = seg.t0 + seg.offset_of(within);
                return Some(Duration::from_secs_f64(t));
            }
            self.current += 1;
        }
    }

    /// Statements the schedule plans between offsets `from` and `to` (the
    /// integral of the rate: the target of that period).
    pub fn planned_between(&self, from: Duration, to: Duration) -> f64 {
        let due = |at: f64| {
            self.segments
                .iter()
                .map(|s| if at <= s.t0 { 0.0 } else { s.due(at - s.t0) })
                .sum::<f64>()
        };
        due(to.as_secs_f64()) - due(from.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_and_reject_mistakes() {
        let s = Stage::parse_list("30s:1000, 1m:5000,500ms:0").unwrap();
        assert_eq!(
            s,
            [
                Stage {
                    duration: Duration::from_secs(30),
                    target: 1000.0
                },
                Stage {
                    duration: Duration::from_secs(60),
                    target: 5000.0
                },
                Stage {
                    duration: Duration::from_millis(500),
                    target: 0.0
                },
            ]
        );
        for bad in ["", "30s", "30:100", "0s:100", "10s:-1", "10s:fast", "10x:5"] {
            let e = Stage::parse_list(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("invalid stages") || e.contains("stage"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_constant_schedule_is_evenly_spaced() {
        let mut s = Schedule::new(Arrival::Constant, 1000.0, 1);
        let offs: Vec<Duration> = (0..4).map(|_| s.next_offset().unwrap()).collect();
        assert_eq!(offs, [0, 1, 2, 3].map(Duration::from_millis).to_vec());
    }
}
