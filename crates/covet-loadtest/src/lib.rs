//! Covet's open-loop load generator.
//!
//! Every statement is scheduled at its intended start time, fixed in advance
//! by the target rate, and its latency is measured from that time, as wrk2,
//! `pgbench -R` and `sysbench --rate` do. A server that stalls therefore
//! shows up as latency rather than as a quietly lower rate (coordinated
//! omission). Service time (from the actual start) is recorded beside it.
//!
//! - [`workload`]: the seed mix, point_select, and statement specs with
//!   parameter generators; [`scenario`]: the same from a TOML file.
//! - [`setup`]: the standard schema and its deterministic data, loaded by
//!   bulk insert, idempotently.
//! - [`run`]: the scheduler (constant or Poisson arrivals, a cap on
//!   statements in flight with late or dropped statements counted).
//! - [`Report`]: HdrHistogram figures per statement and overall, errors by
//!   kind, a per-second series, memory growth; text, CSV, JSON and HTML.
//! - [`Slo`]: objectives such as `p95<10ms`, judged over successful
//!   statements; [`MaxErrorRate`]: the error bound every run is held to.
//! - [`Stop`]: ends a run early (Ctrl-C) and still returns its report.
//! - [`Stage`]: a ramping arrival rate (k6's ramping-arrival-rate).
//! - [`find_max`]: the highest open-loop rate that meets an objective,
//!   by doubling and then bisecting with short runs.
//! - [`compare`]: two runs' JSON reports side by side, with thresholds
//!   that make a regression fail.
//!
//! ```no_run
//! # async fn demo(adapter: std::sync::Arc<dyn covet_core::Adapter>) -> covet_loadtest::Result<()> {
//! use std::time::Duration;
//! use covet_loadtest::{RunConfig, Workload, seed_mix, ensure_dataset, SetupOptions};
//!
//! ensure_dataset(&*adapter, &SetupOptions::default()).await?;
//! let workload = Workload::new("seed mix", seed_mix(1.0), adapter.dialect(), 42)?;
//! let cfg = RunConfig { rate: 500.0, duration: Duration::from_secs(30), ..RunConfig::default() };
//! let report = covet_loadtest::run(adapter, workload, cfg).await?;
//! println!("{}", report.to_text());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod compare;
mod error;
mod find_max;
mod histogram;
mod html;
mod mem;
mod report;
mod rng;
mod runner;
pub mod scenario;
pub mod setup;
mod slo;
pub mod workload;

pub use compare::{
    Breach, CompareRow, Comparison, Figures, Limit, RunFigures, Thresholds, compare,
};
pub use error::{LoadtestError, Result};
pub use find_max::{FindMaxConfig, FindMaxReport, FindMaxStep, StepFn, find_max};
pub use histogram::{LatencyHistogram, Percentiles};
pub use report::{
    BreakerTrip, ErrorCount, LayerReport, MemoryReport, Report, RunMeta, SecondPoint,
    SlowStatement, StageReport, StatementReport, Summary, TargetReport,
};
pub use rng::Rng;
pub use runner::{
    Arrival, MeasureStartFn, Mode, Overload, Pacer, Progress, ProgressFn, RunConfig, Schedule,
    Stage, Stop, run,
};
pub use scenario::Scenario;
pub use setup::{DatasetCounts, SetupOptions, SetupOutcome, SetupProgressFn, ensure_dataset};
pub use slo::{ErrorRateOutcome, MaxErrorRate, Slo, SloOutcome};
pub use workload::{ParamGen, StatementKind, StatementSpec, Workload, point_select, seed_mix};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
