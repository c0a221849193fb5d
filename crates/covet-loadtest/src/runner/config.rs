//! What shapes one run: arrival spacing, overload policy, pacer, mode and
//! the [`RunConfig`] that holds them, with its validation.

use std::sync::Arc;
use std::time::Duration;

use super::progress::ProgressFn;
use super::schedule::{Schedule, Stage, validate_stages};
use super::stop::Stop;
use crate::error::{LoadtestError, Result};

/// How intended start times are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrival {
    /// Exactly `1 / rate` apart.
    #[default]
    Constant,
    /// Exponentially distributed gaps with mean `1 / rate` (a Poisson
    /// process), like independent users arriving.
    Poisson,
}

/// What happens to a statement whose time has come while the cap on
/// statements in flight is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overload {
    /// Start it as soon as a slot frees, count it late, and measure its
    /// latency from its intended time.
    #[default]
    Late,
    /// Do not send it; count it dropped.
    Drop,
}

/// How the dispatcher waits for the next intended time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pacer {
    /// A dedicated thread that sleeps and then spins for the last tens of
    /// microseconds, so statements leave within microseconds of their time
    /// (tokio's timer wheel has a 1 ms grain, which would add up to 1 ms of
    /// schedule lag to every latency).
    #[default]
    Precise,
    /// tokio's timer on the caller's runtime. Needed with tokio's paused
    /// test clock; 1 ms grain otherwise.
    Tokio,
}

/// Open loop (the point of this tool) or closed loop (for comparison).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Statements start at their intended times.
    #[default]
    OpenLoop,
    /// `concurrency` workers each wait for a reply before sending the next
    /// statement, as locust-style tools do. Latency is then service time and
    /// a stall shows as a lower rate: kept to demonstrate the difference.
    ClosedLoop {
        /// Number of workers.
        concurrency: usize,
    },
}

/// Called once when the measured period starts.
pub type MeasureStartFn = Arc<dyn Fn() + Send + Sync>;

/// Everything that shapes one run.
#[derive(Clone)]
pub struct RunConfig {
    /// Target statements per second; with [`RunConfig::stages`], the rate
    /// the first stage ramps from (zero allowed) and the warm-up's rate.
    pub rate: f64,
    /// Measured duration (after the warm-up); with stages, the sum of
    /// their durations instead.
    pub duration: Duration,
    /// A ramping arrival rate (k6's ramping-arrival-rate executor): after
    /// the warm-up at `rate`, each stage moves the rate linearly from the
    /// previous target to its own. Empty: a constant `rate`. Open loop
    /// only.
    pub stages: Vec<Stage>,
    /// Measured statements whose service time is above this count as slow
    /// in [`StatementReport::slow`](crate::StatementReport::slow) (the
    /// layers line of the report); `None` counts none.
    pub slow_threshold: Option<Duration>,
    /// Warm-up, run at the same rate and excluded from the figures.
    pub warmup: Duration,
    /// Spacing of intended start times.
    pub arrival: Arrival,
    /// Most statements in flight at once.
    pub max_in_flight: usize,
    /// What to do at the cap.
    pub overload: Overload,
    /// Seed for the statement mix, parameters and Poisson gaps.
    pub seed: u64,
    /// How the dispatcher waits.
    pub pacer: Pacer,
    /// Open or closed loop.
    pub mode: Mode,
    /// A statement starting more than this after its intended time counts
    /// as late.
    pub late_threshold: Duration,
    /// How long to wait for statements still in flight at the end.
    pub drain_timeout: Duration,
    /// Sample the process's resident memory once a second.
    pub sample_memory: bool,
    /// Called once a second with live figures.
    pub progress: Option<ProgressFn>,
    /// Ends the run early when triggered (Ctrl-C), keeping the figures.
    pub stop: Option<Stop>,
    /// Called once at the end of the warm-up (at the start when there is
    /// none), so counters kept outside the runner (a layer's retries, a
    /// breaker's openings) can be read over the measured period only.
    pub on_measure_start: Option<MeasureStartFn>,
    /// After a stop, how long statements in flight may take to finish
    /// before they are counted unfinished.
    pub interrupt_drain: Duration,
}

impl std::fmt::Debug for RunConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunConfig")
            .field("rate", &self.rate)
            .field("duration", &self.duration)
            .field("stages", &self.stages)
            .field("warmup", &self.warmup)
            .field("arrival", &self.arrival)
            .field("max_in_flight", &self.max_in_flight)
            .field("overload", &self.overload)
            .field("seed", &self.seed)
            .field("pacer", &self.pacer)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Default for RunConfig {
    /// 10 s at 200 statements per second after a 2 s warm-up, constant
    /// arrivals, at most 1,024 in flight, late statements queued.
    fn default() -> Self {
        RunConfig {
            rate: 200.0,
            duration: Duration::from_secs(10),
            stages: Vec::new(),
            slow_threshold: None,
            warmup: Duration::from_secs(2),
            arrival: Arrival::Constant,
            max_in_flight: 1024,
            overload: Overload::Late,
            seed: 42,
            pacer: Pacer::Precise,
            mode: Mode::OpenLoop,
            late_threshold: Duration::from_millis(1),
            drain_timeout: Duration::from_secs(30),
            sample_memory: true,
            progress: None,
            stop: None,
            on_measure_start: None,
            interrupt_drain: Duration::from_secs(2),
        }
    }
}

impl RunConfig {
    /// Checks the settings without running anything, so a caller can
    /// reject bad arguments before connecting or seeding. [`run`](super::run) calls it
    /// too.
    pub fn validate(&self) -> Result<()> {
        if !self.stages.is_empty() {
            validate_stages(&self.stages)?;
            if !(self.rate.is_finite() && self.rate >= 0.0) {
                return Err(LoadtestError::config(
                    "the start rate of the stages must be zero or more",
                ));
            }
            if self.rate == 0.0 && self.stages.iter().all(|s| s.target == 0.0) {
                return Err(LoadtestError::config(
                    "every stage's target is zero: the run would send nothing",
                ));
            }
            if matches!(self.mode, Mode::ClosedLoop { .. }) {
                return Err(LoadtestError::config(
                    "stages set an arrival rate: they need the open loop, not --closed-loop",
                ));
            }
        } else if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(LoadtestError::config("the rate must be a positive number"));
        }
        if self.rate > 10_000_000.0 {
            return Err(LoadtestError::config(
                "the rate must be at most 10,000,000/s",
            ));
        }
        if self.stages.is_empty() && self.duration.is_zero() {
            return Err(LoadtestError::config("the duration must be above zero"));
        }
        if self.max_in_flight == 0 || self.max_in_flight > 1_000_000 {
            return Err(LoadtestError::config(
                "the cap on statements in flight must be between 1 and 1,000,000",
            ));
        }
        if let Mode::ClosedLoop { concurrency: 0 } = self.mode {
            return Err(LoadtestError::config(
                "closed-loop concurrency must be at least 1",
            ));
        }
        Ok(())
    }
}

impl RunConfig {
    /// The measured duration: the sum of the stages when there are any,
    /// else [`RunConfig::duration`].
    pub fn measured_duration(&self) -> Duration {
        if self.stages.is_empty() {
            self.duration
        } else {
            self.stages.iter().map(|s| s.duration).sum()
        }
    }

    /// The highest target rate of the run.
    pub fn peak_rate(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.target)
            .fold(self.rate, f64::max)
    }

    /// The intended start times of this run, warm-up included.
    pub fn schedule(&self) -> Schedule {
        if self.stages.is_empty() {
            Schedule::new(self.arrival, self.rate, self.seed)
        } else {
            Schedule::ramping(
                self.arrival,
                self.rate,
                self.warmup,
                &self.stages,
                self.seed,
            )
        }
    }
}
