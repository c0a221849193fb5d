//! The report of one run, and its renderings: text table, CSV, JSON, HTML.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::histogram::Percentiles;
use crate::slo::{ErrorRateOutcome, SloOutcome};

/// What was run, against what.
#[derive(Debug, Clone, Serialize)]
pub struct RunMeta {
    /// Tool name and version.
    pub tool: String,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// `postgresql`, `mysql` or `sqlite`.
    pub engine: String,
    /// The database URL without its password (filled by the caller).
    pub database: String,
    /// The workload's name.
    pub workload: String,
    /// Open or closed loop.
    pub mode: String,
    /// `constant` or `poisson`.
    pub arrival: String,
    /// Target statements per second (the highest stage target, with
    /// stages).
    pub target_rate: f64,
    /// The ramping stages, when the run had them
    /// (`30s:1000,60s:5000,30s:0 from 0/s`).
    pub stages: Option<String>,
    /// Measured seconds: the planned duration, or less when the run was
    /// interrupted.
    pub duration_s: f64,
    /// The measured duration asked for.
    pub planned_duration_s: f64,
    /// Why the run ended before its planned duration (`stopped`, or the
    /// signal the caller names), `None` when it ran to the end. Figures of
    /// an interrupted run cover `duration_s` only.
    pub interrupted: Option<String>,
    /// Warm-up seconds (excluded from every figure).
    pub warmup_s: f64,
    /// The cap on statements in flight.
    pub max_in_flight: u64,
    /// `late` or `drop`.
    pub on_overload: String,
    /// Seed of the mix.
    pub seed: u64,
    /// Scale factor of the data set, when setup ran.
    pub scale: Option<f64>,
}

/// Counts and rates of the measured period.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Statements whose intended time fell in the measured period.
    pub scheduled: u64,
    /// Of those, the ones sent (scheduled minus dropped).
    pub sent: u64,
    /// Completed, with or without error.
    pub completed: u64,
    /// Completed without error.
    pub ok: u64,
    /// Completed with an error.
    pub errors: u64,
    /// Started more than the late threshold after their intended time.
    pub late: u64,
    /// Not sent because the cap on statements in flight was reached.
    pub dropped: u64,
    /// Still in flight when the drain timeout expired.
    pub unfinished: u64,
    /// Statements run during the warm-up (not in any figure).
    pub warmup_statements: u64,
    /// Target statements per second.
    pub target_rate: f64,
    /// Statements sent per second.
    pub sent_rate: f64,
    /// Statements completed per second within the measured period.
    pub achieved_rate: f64,
    /// Errors as a percentage of completed statements (0 when none
    /// completed).
    pub error_rate_pct: f64,
    /// Wall time of the whole run, warm-up and drain included.
    pub elapsed_s: f64,
}

/// Figures for one statement (or all of them).
#[derive(Debug, Clone, Serialize)]
pub struct StatementReport {
    /// The statement's name (`Aggregated` for the total).
    pub name: String,
    /// Its share of the mix.
    pub share: f64,
    /// Completed statements.
    pub count: u64,
    /// Completed without error.
    pub ok: u64,
    /// Completed with an error.
    pub errors: u64,
    /// Started late.
    pub late: u64,
    /// Dropped at the cap.
    pub dropped: u64,
    /// Measured statements whose service time was above the run's slow
    /// threshold ([`RunConfig::slow_threshold`](crate::RunConfig::slow_threshold)).
    pub slow: u64,
    /// Completed per second, over the measured window or, when statements
    /// still queued at its end finished later, until the last of them.
    pub rate: f64,
    /// Latency from the intended start (what a user waits), of the
    /// statements that succeeded: failures are counted in `errors`, not
    /// here, so a run of fast failures cannot look fast.
    pub latency: Percentiles,
    /// Service time from the actual start (what the database took), of the
    /// statements that succeeded.
    pub service: Percentiles,
    /// Errors by `ErrorKind` name.
    pub errors_by_kind: BTreeMap<String, u64>,
}

/// Errors of one kind.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorCount {
    /// The `ErrorKind` name.
    pub kind: String,
    /// How many.
    pub count: u64,
    /// The first such error's message.
    pub example: String,
}

/// One second of the measured period.
#[derive(Debug, Clone, Serialize)]
pub struct SecondPoint {
    /// 1-based second.
    pub second: u32,
    /// Statements whose intended time fell in this second.
    pub sent: u64,
    /// Statements that completed in this second.
    pub completed: u64,
    /// Errors completing in this second.
    pub errors: u64,
    /// Late starts among this second's statements.
    pub late: u64,
    /// Drops among this second's statements.
    pub dropped: u64,
    /// Median latency of this second's statements.
    pub p50_ms: f64,
    /// p95 latency.
    pub p95_ms: f64,
    /// p99 latency.
    pub p99_ms: f64,
    /// Largest latency.
    pub max_ms: f64,
    /// Resident memory sampled near the end of this second.
    pub rss_kb: Option<u64>,
    /// With stages: the statements the schedule planned for this second.
    pub target: Option<f64>,
    /// With stages: the 1-based stage this second starts in.
    pub stage: Option<u32>,
}

/// One stage of a ramping run, over the measured seconds that start in it.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// 1-based.
    pub stage: u32,
    /// Start, in seconds of the measured period.
    pub from_s: f64,
    /// End, in seconds of the measured period.
    pub to_s: f64,
    /// The rate the stage ramps from.
    pub from_rate: f64,
    /// The rate it ramps to.
    pub to_rate: f64,
    /// Statements the schedule planned for the stage.
    pub planned: u64,
    /// Statements sent in its seconds.
    pub sent: u64,
    /// Statements completed in its seconds.
    pub completed: u64,
    /// Errors in its seconds.
    pub errors: u64,
    /// Sent per second.
    pub sent_rate: f64,
    /// Completed per second.
    pub achieved_rate: f64,
    /// Latency of the successful statements scheduled in its seconds (two
    /// significant digits).
    pub latency: Percentiles,
}

/// Resident memory over the run.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    /// Before the run.
    pub start_kb: u64,
    /// At the end of the warm-up: the baseline for growth.
    pub after_warmup_kb: u64,
    /// At the end.
    pub end_kb: u64,
    /// Highest sample.
    pub peak_kb: u64,
    /// End minus the baseline.
    pub growth_kb: i64,
    /// Growth as a percentage of the baseline.
    pub growth_pct: f64,
}

/// Failures of one kind that opened the circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerTrip {
    /// The `ErrorKind` name of the failure that tripped it.
    pub kind: String,
    /// Openings caused by a failure of this kind.
    pub count: u64,
    /// The first such failure's message (one line, no secrets).
    pub example: String,
}

/// A statement of the workload and how many of its measured executions
/// were slow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlowStatement {
    /// The statement's name in the workload.
    pub name: String,
    /// Slow executions in the measured period.
    pub count: u64,
}

/// What the resilience and monitoring layers did during the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LayerReport {
    /// Statements the retry layer repeated.
    pub retries: u64,
    /// Times a circuit breaker opened.
    pub breaker_openings: u64,
    /// What opened the breaker, by error kind, most frequent first.
    pub breaker_opened_by: Vec<BreakerTrip>,
    /// The breaker's settings in words (`opens after 5 consecutive
    /// outage errors, for 1 s`), when the run had one.
    pub breaker: Option<String>,
    /// Measured statements slower (service time) than the slow
    /// threshold: warm-up and setup statements are not counted.
    pub slow_statements: u64,
    /// Which statements were slow, most first.
    pub slow_by_statement: Vec<SlowStatement>,
    /// The slow-query threshold, in milliseconds.
    pub slow_threshold_ms: Option<f64>,
    /// The layer stack, outermost first.
    pub stack: Vec<String>,
}

/// One server of a replicated database (a router URL naming several hosts)
/// and what it was sent during the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    /// The server (`host:port`).
    pub name: String,
    /// `primary` or `replica`.
    pub role: String,
    /// Statements and transactions routed to it from the start of the
    /// measured period to the end of the run (the drain included).
    pub routed: u64,
}

/// Everything one run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was run.
    pub meta: RunMeta,
    /// Counts and rates.
    pub summary: Summary,
    /// All statements together.
    pub overall: StatementReport,
    /// Each statement.
    pub statements: Vec<StatementReport>,
    /// Errors by kind, most frequent first.
    pub errors: Vec<ErrorCount>,
    /// How late the dispatcher started statements (the tool's own lag).
    pub schedule_lag: Percentiles,
    /// One point per measured second.
    pub series: Vec<SecondPoint>,
    /// One summary per stage, when the run had stages.
    pub stages: Vec<StageReport>,
    /// Memory growth, where the platform reports it.
    pub memory: Option<MemoryReport>,
    /// Layer counters, when the run went through layers.
    pub layers: Option<LayerReport>,
    /// Per-server routing, when the database was a primary with replicas
    /// (filled by the caller; empty otherwise).
    pub targets: Vec<TargetReport>,
    /// SLO checks, when asked for.
    pub slo: Vec<SloOutcome>,
    /// The run's error rate against its bound, when one was checked.
    pub error_rate: Option<ErrorRateOutcome>,
}

fn f(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

impl Report {
    /// Whether every SLO passed (true when none was given).
    pub fn slo_passed(&self) -> bool {
        self.slo.iter().all(|s| s.passed)
    }

    /// Whether the error rate was within its bound (true when unchecked).
    pub fn error_rate_passed(&self) -> bool {
        self.error_rate.as_ref().is_none_or(|e| e.passed)
    }

    /// The final table, for a terminal.
    pub fn to_text(&self) -> String {
        let m = &self.meta;
        let s = &self.summary;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "covet loadtest: {} on {} {}, {} {} ({} arrivals) for {:.0} s after {:.0} s warm-up",
            m.workload,
            m.engine,
            m.database,
            m.mode,
            match &m.stages {
                Some(st) => format!("in stages {st}"),
                None => format!("at {:.0}/s", m.target_rate),
            },
            m.arrival,
            // What was asked for; an interruption is stated on the next line.
            m.planned_duration_s,
            m.warmup_s
        );
        if let Some(why) = &m.interrupted {
            let _ = writeln!(
                out,
                "INTERRUPTED ({why}) after {:.1} s of the {:.0} s planned: the figures cover that part only",
                m.duration_s, m.planned_duration_s
            );
        }
        let _ = writeln!(
            out,
            "sent {} of {} scheduled ({:.1}/s), completed {:.1}/s ({}); errors {}, late {}, dropped {}{}",
            s.sent,
            s.scheduled,
            s.sent_rate,
            s.achieved_rate,
            if m.mode.starts_with("closed") {
                "closed loop: no target rate".to_string()
            } else {
                format!("target {:.0}/s", s.target_rate)
            },
            s.errors,
            s.late,
            s.dropped,
            if s.unfinished > 0 {
                format!(", unfinished {}", s.unfinished)
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            out,
            "\nlatency of successful statements from intended start, ms (service time in brackets: p50 / p99)"
        );
        let _ = writeln!(
            out,
            "{:<16} {:>8} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {:>17}",
            "statement",
            "count",
            "err",
            "late",
            "p50",
            "p90",
            "p95",
            "p99",
            "p99.9",
            "max",
            "[svc p50 / p99]"
        );
        for r in self.statements.iter().chain(std::iter::once(&self.overall)) {
            let l = &r.latency;
            let _ = writeln!(
                out,
                "{:<16} {:>8} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {:>17}",
                r.name,
                r.count,
                r.errors,
                r.late,
                f(l.p50_ms),
                f(l.p90_ms),
                f(l.p95_ms),
                f(l.p99_ms),
                f(l.p999_ms),
                f(l.max_ms),
                format!("[{} / {}]", f(r.service.p50_ms), f(r.service.p99_ms))
            );
        }
        if !self.stages.is_empty() {
            let _ = writeln!(
                out,
                "\nstages (seconds of the measured period; latency of successful statements, ms)"
            );
            let _ = writeln!(
                out,
                "{:<6} {:>13} {:>17} {:>9} {:>9} {:>10} {:>6} {:>8} {:>8} {:>8}",
                "stage",
                "seconds",
                "rate/s",
                "planned",
                "sent",
                "done/s",
                "err",
                "p50",
                "p95",
                "p99"
            );
            for st in &self.stages {
                let _ = writeln!(
                    out,
                    "{:<6} {:>13} {:>17} {:>9} {:>9} {:>10.1} {:>6} {:>8} {:>8} {:>8}",
                    st.stage,
                    format!("{:.0}-{:.0}", st.from_s, st.to_s),
                    format!("{:.0} -> {:.0}", st.from_rate, st.to_rate),
                    st.planned,
                    st.sent,
                    st.achieved_rate,
                    st.errors,
                    f(st.latency.p50_ms),
                    f(st.latency.p95_ms),
                    f(st.latency.p99_ms)
                );
            }
        }
        if !self.errors.is_empty() {
            let _ = writeln!(out, "\nerrors by kind:");
            for e in &self.errors {
                let _ = writeln!(out, "  {:<22} {:>8}  e.g. {}", e.kind, e.count, e.example);
            }
        }
        let lag = &self.schedule_lag;
        let _ = writeln!(
            out,
            "\ngenerator schedule lag: p50 {} ms, p99 {} ms, max {} ms",
            f(lag.p50_ms),
            f(lag.p99_ms),
            f(lag.max_ms)
        );
        if let Some(mem) = &self.memory {
            let _ = writeln!(
                out,
                "memory (VmRSS): {} KiB after warm-up, {} KiB at end, peak {} KiB, growth {:+} KiB ({:+.1}%)",
                mem.after_warmup_kb, mem.end_kb, mem.peak_kb, mem.growth_kb, mem.growth_pct
            );
        }
        if !self.targets.is_empty() {
            let width = self
                .targets
                .iter()
                .map(|t| t.name.len())
                .fold("target".len(), usize::max);
            let _ = writeln!(out, "{:<width$}  {:<7}  {:>10}", "target", "role", "routed");
            for t in &self.targets {
                let _ = writeln!(out, "{:<width$}  {:<7}  {:>10}", t.name, t.role, t.routed);
            }
        }
        if let Some(l) = &self.layers {
            let _ = writeln!(
                out,
                "layers ({}): retries {}, breaker openings {}, slow statements {}{}",
                l.stack.join(" -> "),
                l.retries,
                l.breaker_openings,
                l.slow_statements,
                match l.slow_threshold_ms {
                    Some(t) if l.slow_by_statement.is_empty() => format!(" (over {t} ms)"),
                    Some(t) => format!(
                        " (over {t} ms: {})",
                        l.slow_by_statement
                            .iter()
                            .map(|s| format!("{} {}", s.name, s.count))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => String::new(),
                }
            );
            if let Some(b) = &l.breaker {
                let _ = writeln!(out, "circuit breaker: {b}");
            }
            for t in &l.breaker_opened_by {
                let _ = writeln!(
                    out,
                    "  opened {} time{} by {}: {}",
                    t.count,
                    if t.count == 1 { "" } else { "s" },
                    t.kind,
                    t.example
                );
            }
        }
        if let Some(e) = &self.error_rate {
            let _ = writeln!(out, "{e}");
        }
        for slo in &self.slo {
            let _ = writeln!(out, "SLO {slo}");
        }
        out
    }

    /// One row per statement plus an `Aggregated` row, with the columns of
    /// locust's `_stats.csv` (times in milliseconds) followed by Covet's
    /// own: late, dropped, service-time percentiles, schedule figures, the
    /// error rate, the measured seconds and whether the run was
    /// interrupted (its figures then cover the measured seconds only).
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
             Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,\
             50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,\
             Late Count,Dropped Count,Service Median,Service 95%,Service 99%,Target Rate,Share,\
             Error Rate %,Measured Seconds,Interrupted\n",
        );
        for r in self.statements.iter().chain(std::iter::once(&self.overall)) {
            let l = &r.latency;
            let kind = if r.name == "Aggregated" {
                String::new()
            } else {
                self.meta.engine.clone()
            };
            let _ = writeln!(
                out,
                "{},{},{},{},{:.3},{:.3},{:.3},{:.3},0,{:.2},{:.2},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{:.3},{},{},{:.3},{:.3},{:.3},{:.1},{:.4},{:.3},{:.3},{}",
                kind,
                csv_field(&r.name),
                r.count,
                r.errors,
                l.p50_ms,
                l.mean_ms,
                l.min_ms,
                l.max_ms,
                r.rate,
                if r.count > 0 {
                    r.rate * r.errors as f64 / r.count as f64
                } else {
                    0.0
                },
                l.p50_ms,
                l.p66_ms,
                l.p75_ms,
                l.p80_ms,
                l.p90_ms,
                l.p95_ms,
                l.p98_ms,
                l.p99_ms,
                l.p999_ms,
                l.p9999_ms,
                l.max_ms,
                r.late,
                r.dropped,
                r.service.p50_ms,
                r.service.p95_ms,
                r.service.p99_ms,
                self.meta.target_rate * r.share,
                r.share,
                if r.count > 0 {
                    r.errors as f64 / r.count as f64 * 100.0
                } else {
                    0.0
                },
                self.meta.duration_s,
                self.meta.interrupted.is_some()
            );
        }
        out
    }

    /// The whole report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// A self-contained HTML page (inline SVG, no scripts, no external
    /// resources) that opens offline.
    pub fn to_html(&self) -> String {
        crate::html::render(self)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
