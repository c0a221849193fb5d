//! The open-loop scheduler and the recorder behind every report.
//!
//! Each statement has an intended start time fixed in advance by the rate
//! (and, for Poisson arrivals, the seed). The dispatcher starts it at that
//! time whatever happened to earlier statements, and its latency is measured
//! from the intended time, so a stalled server shows up as latency instead
//! of as a quietly lower rate (coordinated omission). When the cap on
//! statements in flight is reached a statement is either started late (and
//! counted late; its latency still runs from the intended time) or dropped
//! (and counted dropped): never delayed without a trace.
//!
//! The roles live in submodules: `config` (what shapes a run), `schedule`
//! (intended times), `dispatch` (sending), `recorder` (counting),
//! `progress` (live figures), `memory` (RSS sampling) and `stop`; this
//! module runs them in order and assembles the report.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use covet_core::Adapter;
use parking_lot::Mutex;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::error::Result;
use crate::histogram::LatencyHistogram;
use crate::mem;
use crate::report::{
    ErrorCount, Report, RunMeta, SecondPoint, StageReport, StatementReport, Summary,
};
use crate::workload::Workload;

mod config;
mod dispatch;
mod memory;
mod progress;
mod recorder;
mod schedule;
mod stop;

pub use config::{Arrival, MeasureStartFn, Mode, Overload, Pacer, RunConfig};
pub use progress::{Progress, ProgressFn};
pub use schedule::{Schedule, Stage};
pub use stop::Stop;

use dispatch::Shared;
use memory::{memory_report, sample_memory};
use progress::progress_loop;
use recorder::{Recorder, StmtRec, ms, per_second};

/// Runs `workload` against `adapter` as `cfg` says and returns the report
/// (its `meta.database` left empty for the caller to fill).
///
/// Must be called inside a tokio runtime; statements run on it. With
/// [`Pacer::Precise`] the dispatcher has a thread of its own.
pub async fn run(adapter: Arc<dyn Adapter>, workload: Workload, cfg: RunConfig) -> Result<Report> {
    cfg.validate()?;
    let names = workload.names();
    let shares = workload.shares();
    let workload_name = workload.name().to_string();
    let engine = adapter.engine();
    let started_at = chrono::Utc::now();
    let start = Instant::now() + Duration::from_millis(5);
    let measure_from = start + cfg.warmup;
    let duration = cfg.measured_duration();
    let end = measure_from + duration;
    let planned_seconds = (duration.as_secs_f64().ceil() as usize).max(1);
    let shared = Arc::new(Shared {
        adapter,
        in_flight: AtomicU64::new(0),
        recorder: Mutex::new(Recorder {
            measure_from,
            measure_until: end,
            late_threshold: cfg.late_threshold,
            slow_threshold: cfg.slow_threshold,
            stmts: names.iter().map(|_| StmtRec::default()).collect(),
            overall: StmtRec::default(),
            lag: LatencyHistogram::default(),
            // Sized for the whole run (and a second of drain) up front, so
            // recording a statement never grows it.
            series: (0..=planned_seconds)
                .map(|_| recorder::SecondRec::default())
                .collect(),
            sent: 0,
            warmup: 0,
            examples: BTreeMap::new(),
            completed_last: 0,
            last_end: None,
        }),
    });
    let done = Arc::new(AtomicBool::new(false));
    let rss_start = mem::rss_kb();
    let sampler = cfg
        .sample_memory
        .then(|| tokio::spawn(sample_memory(Arc::clone(&done))));
    let ticker = cfg.progress.clone().map(|f| {
        tokio::spawn(progress_loop(
            Arc::clone(&shared),
            Arc::clone(&done),
            f,
            cfg.clone(),
            start,
        ))
    });

    let marker = cfg.on_measure_start.clone().map(|f| {
        tokio::spawn(async move {
            tokio::time::sleep_until(measure_from).await;
            f();
        })
    });
    let sem = Arc::new(Semaphore::new(cfg.max_in_flight));
    dispatch::drive(&shared, &sem, workload, &cfg, start, end).await?;
    // When a stop ended scheduling, the measured period ends there and the
    // statements in flight get only a short drain.
    let stopped_at = cfg
        .stop
        .as_ref()
        .filter(|s| s.is_stopped())
        .map(|_| Instant::now().min(end));
    let drain = match stopped_at {
        Some(_) => cfg.interrupt_drain.min(cfg.drain_timeout),
        None => cfg.drain_timeout,
    };
    let all = u32::try_from(cfg.max_in_flight).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(drain, sem.acquire_many(all))
        .await
        .is_ok();
    let finished = Instant::now();
    done.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        t.abort();
    }
    // A run stopped during its warm-up never reached its measured period.
    if let Some(m) = marker {
        m.abort();
    }
    let samples = match sampler {
        Some(s) => s.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let unfinished = if drained {
        0
    } else {
        shared.in_flight.load(Ordering::Relaxed)
    };

    let r = shared.recorder.lock();
    let measured = match stopped_at {
        Some(at) => at.saturating_duration_since(measure_from),
        None => duration,
    };
    let secs = measured.as_secs_f64();
    let window = r.last_end.map_or(secs, |e| {
        e.saturating_duration_since(measure_from)
            .as_secs_f64()
            .max(secs)
    });
    let statements: Vec<StatementReport> = names
        .iter()
        .zip(&shares)
        .zip(&r.stmts)
        .map(|((n, s), rec)| rec.report(n, *s, window))
        .collect();
    let overall = r.overall.report("Aggregated", 1.0, window);
    let seconds = match stopped_at {
        Some(_) => secs.ceil() as usize,
        None => planned_seconds,
    };
    let schedule = (!cfg.stages.is_empty()).then(|| cfg.schedule());
    let stage_bounds = stage_bounds(&cfg);
    let mut series: Vec<SecondPoint> = (0..seconds)
        .map(|i| {
            let s = r.series.get(i);
            SecondPoint {
                second: i as u32 + 1,
                sent: s.map_or(0, |s| s.sent),
                completed: s.map_or(0, |s| s.completed),
                errors: s.map_or(0, |s| s.errors),
                late: s.map_or(0, |s| s.late),
                dropped: s.map_or(0, |s| s.dropped),
                p50_ms: s.map_or(0.0, |s| ms(s.latency.quantile(0.5))),
                p95_ms: s.map_or(0.0, |s| ms(s.latency.quantile(0.95))),
                p99_ms: s.map_or(0.0, |s| ms(s.latency.quantile(0.99))),
                max_ms: s.map_or(0.0, |s| ms(s.latency.max())),
                rss_kb: None,
                target: schedule.as_ref().map(|sch| {
                    let from = cfg.warmup + Duration::from_secs(i as u64);
                    sch.planned_between(from, from + Duration::from_secs(1))
                }),
                stage: stage_of(&stage_bounds, i as f64),
            }
        })
        .collect();
    let stages = stage_reports(&cfg, schedule.as_ref(), &stage_bounds, &r.series, &series);
    let warm_samples = (cfg.warmup.as_secs_f64()).round() as usize;
    for (i, kb) in samples.iter().enumerate() {
        if let Some(sec) = i.checked_sub(warm_samples)
            && let Some(p) = series.get_mut(sec)
        {
            p.rss_kb = Some(*kb);
        }
    }
    let completed = overall.count;
    let completed_in_window: u64 = series.iter().map(|s| s.completed).sum();
    let memory = memory_report(rss_start, &samples, warm_samples);
    let mut errors: Vec<ErrorCount> = r
        .overall
        .by_kind
        .iter()
        .map(|(k, v)| ErrorCount {
            kind: (*k).to_string(),
            count: *v,
            example: r.examples.get(k).cloned().unwrap_or_default(),
        })
        .collect();
    errors.sort_by_key(|e| std::cmp::Reverse(e.count));
    Ok(Report {
        meta: RunMeta {
            tool: format!("covet-loadtest {}", env!("CARGO_PKG_VERSION")),
            started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            engine: engine.as_str().to_string(),
            database: String::new(),
            workload: workload_name,
            mode: match cfg.mode {
                Mode::OpenLoop => "open loop".into(),
                Mode::ClosedLoop { concurrency } => format!("closed loop, {concurrency} workers"),
            },
            arrival: match cfg.arrival {
                Arrival::Constant => "constant".into(),
                Arrival::Poisson => "poisson".into(),
            },
            target_rate: cfg.peak_rate(),
            stages: (!cfg.stages.is_empty()).then(|| describe_stages(&cfg)),
            duration_s: secs,
            planned_duration_s: duration.as_secs_f64(),
            interrupted: stopped_at.map(|_| "stopped".to_string()),
            warmup_s: cfg.warmup.as_secs_f64(),
            max_in_flight: cfg.max_in_flight as u64,
            on_overload: match cfg.overload {
                Overload::Late => "late".into(),
                Overload::Drop => "drop".into(),
            },
            seed: cfg.seed,
            scale: None,
        },
        summary: Summary {
            scheduled: r.sent,
            sent: r.sent - r.overall.dropped,
            completed,
            ok: r.overall.ok,
            errors: r.overall.errors,
            late: r.overall.late,
            dropped: r.overall.dropped,
            unfinished,
            warmup_statements: r.warmup,
            target_rate: match &schedule {
                Some(sch) => per_second(
                    sch.planned_between(cfg.warmup, cfg.warmup + duration)
                        .round() as u64,
                    duration.as_secs_f64(),
                ),
                None => cfg.rate,
            },
            sent_rate: per_second(r.sent - r.overall.dropped, secs),
            achieved_rate: per_second(completed_in_window, secs),
            error_rate_pct: if completed > 0 {
                r.overall.errors as f64 / completed as f64 * 100.0
            } else {
                0.0
            },
            elapsed_s: finished.saturating_duration_since(start).as_secs_f64(),
        },
        overall,
        statements,
        errors,
        schedule_lag: r.lag.percentiles(),
        series,
        stages,
        memory,
        layers: None,
        targets: Vec::new(),
        slo: Vec::new(),
        error_rate: None,
    })
}

/// Each stage's start and end, in seconds of the measured period.
fn stage_bounds(cfg: &RunConfig) -> Vec<(f64, f64)> {
    let mut t = 0.0;
    cfg.stages
        .iter()
        .map(|s| {
            let b = (t, t + s.duration.as_secs_f64());
            t = b.1;
            b
        })
        .collect()
}

/// The 1-based stage that measured second `i` starts in.
fn stage_of(bounds: &[(f64, f64)], i: f64) -> Option<u32> {
    bounds
        .iter()
        .position(|(a, b)| i >= *a && i < *b)
        .map(|k| k as u32 + 1)
}

/// `30s:1000,60s:5000,30s:0 from 0/s`.
fn describe_stages(cfg: &RunConfig) -> String {
    let list: Vec<String> = cfg
        .stages
        .iter()
        .map(|s| format!("{}s:{}", s.duration.as_secs_f64(), s.target))
        .collect();
    format!("{} from {}/s", list.join(","), cfg.rate)
}

/// One summary per stage, over the seconds that start in it.
fn stage_reports(
    cfg: &RunConfig,
    schedule: Option<&Schedule>,
    bounds: &[(f64, f64)],
    recs: &[recorder::SecondRec],
    series: &[SecondPoint],
) -> Vec<StageReport> {
    let Some(schedule) = schedule else {
        return Vec::new();
    };
    let mut from_rate = cfg.rate;
    bounds
        .iter()
        .zip(&cfg.stages)
        .enumerate()
        .map(|(k, ((a, b), stage))| {
            let mut latency = LatencyHistogram::with_precision(2);
            let (mut sent, mut completed, mut errors) = (0, 0, 0);
            let mut n = 0.0;
            for (i, p) in series.iter().enumerate() {
                if stage_of(bounds, i as f64) == Some(k as u32 + 1) {
                    sent += p.sent;
                    completed += p.completed;
                    errors += p.errors;
                    n += 1.0;
                    if let Some(rec) = recs.get(i) {
                        latency.add(&rec.latency);
                    }
                }
            }
            let planned = schedule.planned_between(
                cfg.warmup + Duration::from_secs_f64(*a),
                cfg.warmup + Duration::from_secs_f64(*b),
            );
            let report = StageReport {
                stage: k as u32 + 1,
                from_s: *a,
                to_s: *b,
                from_rate,
                to_rate: stage.target,
                planned: planned.round() as u64,
                sent,
                completed,
                errors,
                sent_rate: if n > 0.0 { sent as f64 / n } else { 0.0 },
                achieved_rate: if n > 0.0 { completed as f64 / n } else { 0.0 },
                latency: latency.percentiles(),
            };
            from_rate = stage.target;
            report
        })
        .collect()
}
