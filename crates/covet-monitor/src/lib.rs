//! Monitoring layers for any Covet [`Adapter`](covet_core::Adapter): the
//! slow-query log ([`SlowLog`], [`SlowQueryLogger`], [`SlowLogLayer`]),
//! statement [`Fingerprint`]s, plan capture, [`metrics`] instruments and
//! tracing spans ([`MetricsLayer`]), a JSON-lines sink, the [`report`]
//! that `covet slow-queries` prints. The `covet` facade's `covet::stack`
//! composes them with covet-resilience's layers.
#![forbid(unsafe_code)]

pub mod fingerprint;
pub mod metrics;
pub mod nplusone;
pub mod plan;
pub mod redact;
pub mod report;
pub mod server;
pub mod sink;
pub mod slowlog;

pub use fingerprint::Fingerprint;
pub use metrics::{MetricsAdapter, MetricsLayer};
pub use nplusone::{Budget, Mode, NPlusOneLayer, NPlusOneReport, ScopeReport};
pub use redact::Redaction;
pub use sink::{JsonLinesSink, MemorySink, SlowRecord};
pub use slowlog::{
    FingerprintStats, PlanCapture, PlanRequest, QueryEvent, SlowLog, SlowLogAdapter, SlowLogLayer,
    SlowLogSink, SlowLogSnapshot, SlowQueryLogger, SlowSample,
};
