//! The slow-query log: which statements are slow, how often, how slow.
//!
//! [`SlowQueryLogger`] keeps per-fingerprint statistics in a table of fixed
//! capacity (evicting the entry with the least total time among a few
//! sampled when full, and counting evictions), the N slowest statements
//! seen, and writes each slow statement to an optional [`SlowLogSink`]
//! (for example [`crate::JsonLinesSink`]). [`SlowLogLayer`] puts it in front
//! of an adapter.
//!
//! The below-threshold path is one comparison: no fingerprint, no lock, no
//! allocation.

mod layer;
mod logger;
mod table;

pub use layer::{SlowLogAdapter, SlowLogLayer};
pub use logger::{PlanCapture, SlowQueryLogger, SlowQueryLoggerBuilder};
pub use table::{FingerprintStats, SlowLogSnapshot, SlowSample};

use std::time::Duration;

use covet_core::{Engine, ErrorKind, Statement};

/// One finished call, as the slow log sees it.
#[derive(Debug, Clone, Copy)]
pub struct QueryEvent<'a> {
    /// The engine that ran it.
    pub engine: Engine,
    /// The statement.
    pub stmt: &'a Statement,
    /// How long it took.
    pub elapsed: Duration,
    /// The error kind, if it failed.
    pub error: Option<ErrorKind>,
    /// Rows returned or affected, when known.
    pub rows: Option<u64>,
}

/// A request, returned by [`SlowLog::observe`], to capture a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRequest {
    /// The fingerprint the plan belongs to.
    pub fingerprint: u64,
    /// Whether to use EXPLAIN ANALYZE (only ever for a read-only SELECT).
    pub analyze: bool,
    /// How long the EXPLAIN may take.
    pub timeout: Duration,
}

/// A slow-query log as the layer sees it.
pub trait SlowLog: Send + Sync + 'static {
    /// Statements at or above this are slow.
    fn threshold(&self) -> Duration;

    /// Records `event` if it is slow; returns a plan request when a plan
    /// should be captured for its fingerprint now.
    fn observe(&self, event: &QueryEvent<'_>) -> Option<PlanRequest>;

    /// Stores a captured plan (or why capture failed) for a fingerprint.
    fn record_plan(&self, fingerprint: u64, plan: &str, analyzed: bool);
}

/// Where slow statements are written.
pub trait SlowLogSink: Send + Sync + 'static {
    /// Writes one record. Must not block for long: it runs on the request
    /// path of slow statements.
    fn write(&self, record: &crate::sink::SlowRecord);
}
