//! The highest open-loop rate that meets the objectives: short runs at a
//! rising rate (doubling from a start), then a bisection between the last
//! rate that met them and the first that did not.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use covet_core::Adapter;
use serde::Serialize;

use crate::error::{LoadtestError, Result};
use crate::report::Report;
use crate::runner::{Mode, RunConfig, run};
use crate::slo::{MaxErrorRate, Slo};
use crate::workload::Workload;

/// Called after each step with its figures.
pub type StepFn = Arc<dyn Fn(&FindMaxStep) + Send + Sync>;

/// How the search runs.
#[derive(Clone)]
pub struct FindMaxConfig {
    /// The first rate tried, per second.
    pub start_rate: f64,
    /// The search never goes above this rate.
    pub max_rate: f64,
    /// Measured time of each step.
    pub step_duration: Duration,
    /// Warm-up of each step (excluded from its figures).
    pub step_warmup: Duration,
    /// The bisection stops once the gap between the last rate that met
    /// the objectives and the first that missed them is at most this
    /// fraction of the former (0.05: within 5 %).
    pub resolution: f64,
    /// Most steps in all.
    pub max_steps: usize,
    /// The objectives each step must meet (at least one).
    pub slos: Vec<Slo>,
    /// The error bound each step must keep.
    pub max_error_rate: MaxErrorRate,
    /// A step must complete at least this fraction of its target rate: a
    /// rate the database cannot keep up with is not met even when the
    /// short step ends before the queue shows in its latency.
    pub min_achieved: f64,
    /// Everything else about each run (arrivals, cap, pacer, seed, stop).
    /// Its rate, duration, warm-up and stages are set by each step.
    pub run: RunConfig,
    /// Called after each step.
    pub on_step: Option<StepFn>,
}

impl std::fmt::Debug for FindMaxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FindMaxConfig")
            .field("start_rate", &self.start_rate)
            .field("max_rate", &self.max_rate)
            .field("step_duration", &self.step_duration)
            .field("step_warmup", &self.step_warmup)
            .field("resolution", &self.resolution)
            .field("max_steps", &self.max_steps)
            .field("slos", &self.slos)
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl Default for FindMaxConfig {
    /// From 500/s up to 1,000,000/s, 10 s steps after 2 s of warm-up, to
    /// within 5 %, at most 30 steps, 95 % of the target completed, no
    /// objective (one must be added).
    fn default() -> Self {
        FindMaxConfig {
            start_rate: 500.0,
            max_rate: 1_000_000.0,
            step_duration: Duration::from_secs(10),
            step_warmup: Duration::from_secs(2),
            resolution: 0.05,
            max_steps: 30,
            slos: Vec::new(),
            max_error_rate: MaxErrorRate::default(),
            min_achieved: 0.95,
            run: RunConfig {
                sample_memory: false,
                ..RunConfig::default()
            },
            on_step: None,
        }
    }
}

impl FindMaxConfig {
    /// Checks the settings without running anything.
    pub fn validate(&self) -> Result<()> {
        if self.slos.is_empty() {
            return Err(LoadtestError::config(
                "finding the maximum rate needs an objective such as --slo \"p95<10ms\"",
            ));
        }
        if !(self.start_rate.is_finite() && self.start_rate >= 1.0) {
            return Err(LoadtestError::config("the start rate must be at least 1/s"));
        }
        if !(self.max_rate.is_finite() && self.max_rate >= self.start_rate) {
            return Err(LoadtestError::config(
                "the maximum rate must be at least the start rate",
            ));
        }
        if !(self.resolution > 0.0 && self.resolution < 1.0) {
            return Err(LoadtestError::config(
                "the resolution must be between 0% and 100%",
            ));
        }
        if !(0.0..=1.0).contains(&self.min_achieved) {
            return Err(LoadtestError::config(
                "the least achieved fraction must be between 0 and 1",
            ));
        }
        if self.max_steps == 0 {
            return Err(LoadtestError::config("at least one step is needed"));
        }
        if matches!(self.run.mode, Mode::ClosedLoop { .. }) {
            return Err(LoadtestError::config(
                "finding the maximum rate steps an open-loop rate: it cannot run closed loop",
            ));
        }
        if !self.run.stages.is_empty() {
            return Err(LoadtestError::config(
                "finding the maximum rate sets its own rates: it takes no stages",
            ));
        }
        self.step_config(self.start_rate).validate()
    }

    fn step_config(&self, rate: f64) -> RunConfig {
        RunConfig {
            rate,
            duration: self.step_duration,
            warmup: self.step_warmup,
            stages: Vec::new(),
            progress: None,
            ..self.run.clone()
        }
    }
}

/// One step of the search.
#[derive(Debug, Clone, Serialize)]
pub struct FindMaxStep {
    /// 1-based.
    pub step: u32,
    /// `ramp` (doubling) or `bisect`.
    pub phase: String,
    /// The target rate.
    pub rate: f64,
    /// Completed per second.
    pub achieved: f64,
    /// Latency of successful statements, ms.
    pub p50_ms: f64,
    /// p95 latency, ms.
    pub p95_ms: f64,
    /// p99 latency, ms.
    pub p99_ms: f64,
    /// Errors.
    pub errors: u64,
    /// Whether every objective and bound was met.
    pub passed: bool,
    /// What was missed, empty when passed.
    pub missed: String,
}

/// The result of a search.
#[derive(Debug, Clone, Serialize)]
pub struct FindMaxReport {
    /// The objectives, as written.
    pub objectives: Vec<String>,
    /// The highest rate that met them; `None` when even the lowest tried
    /// did not.
    pub max_rate: Option<f64>,
    /// The lowest rate that missed them, when one did.
    pub first_failing_rate: Option<f64>,
    /// Whether the search reached the configured maximum rate without a
    /// miss (the real maximum is higher).
    pub hit_ceiling: bool,
    /// Whether the search was stopped before it finished.
    pub interrupted: bool,
    /// Every step, in order.
    pub steps: Vec<FindMaxStep>,
    /// The full report of the step at [`FindMaxReport::max_rate`].
    pub best: Option<Report>,
}

/// Runs the search: `make_workload` gives each step a fresh workload (a
/// new run token, so unique values stay unique across steps).
pub async fn find_max(
    adapter: Arc<dyn Adapter>,
    mut make_workload: impl FnMut() -> Result<Workload>,
    cfg: FindMaxConfig,
) -> Result<FindMaxReport> {
    cfg.validate()?;
    let mut steps: Vec<FindMaxStep> = Vec::new();
    let (mut lo, mut hi): (Option<f64>, Option<f64>) = (None, None);
    let mut best: Option<Report> = None;
    let mut rate = cfg.start_rate.round();
    let mut interrupted = false;
    while steps.len() < cfg.max_steps {
        let phase = if lo.is_some() && hi.is_some() {
            "bisect"
        } else {
            "ramp"
        };
        let mut report = run(
            Arc::clone(&adapter),
            make_workload()?,
            cfg.step_config(rate),
        )
        .await?;
        if cfg.run.stop.as_ref().is_some_and(|s| s.is_stopped()) {
            interrupted = true;
            break;
        }
        report.slo = cfg.slos.iter().map(|s| s.check(&report)).collect();
        report.error_rate = Some(cfg.max_error_rate.check(&report));
        let s = &report.summary;
        let mut missed: Vec<String> = report
            .slo
            .iter()
            .filter(|o| !o.passed)
            .map(|o| format!("{} (actual {})", o.spec, o.actual))
            .collect();
        if !report.error_rate_passed() {
            missed.push(format!("error rate {:.3}%", s.error_rate_pct));
        }
        if s.achieved_rate < rate * cfg.min_achieved {
            missed.push(format!(
                "completed {:.0}/s of {:.0}/s",
                s.achieved_rate, rate
            ));
        }
        if s.dropped > 0 || s.unfinished > 0 {
            missed.push(format!(
                "{} dropped, {} unfinished",
                s.dropped, s.unfinished
            ));
        }
        let passed = missed.is_empty();
        let l = &report.overall.latency;
        let step = FindMaxStep {
            step: steps.len() as u32 + 1,
            phase: phase.into(),
            rate,
            achieved: s.achieved_rate,
            p50_ms: l.p50_ms,
            p95_ms: l.p95_ms,
            p99_ms: l.p99_ms,
            errors: s.errors,
            passed,
            missed: missed.join("; "),
        };
        if let Some(f) = &cfg.on_step {
            f(&step);
        }
        steps.push(step);
        if passed {
            lo = Some(rate);
            best = Some(report);
        } else {
            hi = Some(rate);
        }
        let next = match (lo, hi) {
            (Some(l), None) if l >= cfg.max_rate => break,
            (Some(l), None) => (l * 2.0).min(cfg.max_rate),
            // Even the start missed: halve until a rate meets it.
            (None, Some(h)) if h <= 1.0 => break,
            (None, Some(h)) => (h / 2.0).max(1.0),
            (Some(l), Some(h)) if h - l <= cfg.resolution * l => break,
            (Some(l), Some(h)) => (l + h) / 2.0,
            (None, None) => break,
        }
        .round();
        // Rounded to whole rates, a bisection can land on a rate already
        // tried: the search has converged.
        if Some(next) == lo || Some(next) == hi {
            break;
        }
        rate = next;
    }
    Ok(FindMaxReport {
        objectives: cfg.slos.iter().map(|s| s.to_string()).collect(),
        max_rate: lo,
        first_failing_rate: hi,
        hit_ceiling: hi.is_none() && lo.is_some_and(|l| l >= cfg.max_rate),
        interrupted,
        steps,
        best,
    })
}

impl FindMaxReport {
    /// The table of steps and the verdict, for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "covet loadtest --find-max: objective {}",
            self.objectives.join(", ")
        );
        let _ = writeln!(
            out,
            "{:>4} {:<7} {:>10} {:>10} {:>9} {:>9} {:>9} {:>7}  result",
            "step", "phase", "target/s", "done/s", "p50 ms", "p95 ms", "p99 ms", "errors"
        );
        for s in &self.steps {
            let _ = writeln!(
                out,
                "{:>4} {:<7} {:>10.0} {:>10.1} {:>9.3} {:>9.3} {:>9.3} {:>7}  {}",
                s.step,
                s.phase,
                s.rate,
                s.achieved,
                s.p50_ms,
                s.p95_ms,
                s.p99_ms,
                s.errors,
                if s.passed {
                    "met".to_string()
                } else {
                    format!("MISSED: {}", s.missed)
                }
            );
        }
        match self.max_rate {
            Some(r) => {
                let _ = write!(
                    out,
                    "highest rate meeting {}: {r:.0}/s",
                    self.objectives.join(", ")
                );
                if let Some(h) = self.first_failing_rate {
                    let _ = write!(out, " (missed at {h:.0}/s)");
                }
                if self.hit_ceiling {
                    let _ = write!(out, " (the configured maximum: the real one is higher)");
                }
                let _ = writeln!(out);
            }
            None => {
                let _ = writeln!(out, "no rate tried met {}", self.objectives.join(", "));
            }
        }
        if self.interrupted {
            let _ = writeln!(out, "INTERRUPTED: the search stopped before it finished");
        }
        out
    }

    /// The search as pretty-printed JSON (steps, verdict and the best
    /// step's full report).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
