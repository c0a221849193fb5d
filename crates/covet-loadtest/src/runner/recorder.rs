//! The recorder: per-statement and per-second counts and latencies, and the
//! dispatcher's own log of its sends, merged into it at the end.

use std::collections::BTreeMap;
use std::time::Duration;

use covet_core::Error;
use tokio::time::Instant;

use crate::histogram::LatencyHistogram;
use crate::report::StatementReport;

/// Counts and latencies of one statement (or of all of them).
#[derive(Default)]
pub(super) struct StmtRec {
    pub(super) latency: LatencyHistogram,
    pub(super) service: LatencyHistogram,
    pub(super) ok: u64,
    pub(super) errors: u64,
    pub(super) late: u64,
    pub(super) dropped: u64,
    /// Measured statements whose service time was above the slow
    /// threshold.
    pub(super) slow: u64,
    pub(super) by_kind: BTreeMap<&'static str, u64>,
}

impl StmtRec {
    pub(super) fn report(&self, name: &str, share: f64, secs: f64) -> StatementReport {
        let count = self.ok + self.errors;
        StatementReport {
            name: name.to_string(),
            share,
            count,
            ok: self.ok,
            errors: self.errors,
            late: self.late,
            dropped: self.dropped,
            slow: self.slow,
            rate: per_second(count, secs),
            latency: self.latency.percentiles(),
            service: self.service.percentiles(),
            errors_by_kind: self
                .by_kind
                .iter()
                .map(|(k, v)| ((*k).to_string(), *v))
                .collect(),
        }
    }
}

/// What happened in one second of the measured period.
pub(crate) struct SecondRec {
    pub(super) sent: u64,
    pub(super) completed: u64,
    pub(super) errors: u64,
    pub(super) late: u64,
    pub(super) dropped: u64,
    pub(super) latency: LatencyHistogram,
}

impl Default for SecondRec {
    fn default() -> Self {
        SecondRec {
            sent: 0,
            completed: 0,
            errors: 0,
            late: 0,
            dropped: 0,
            // Two digits is plenty for a chart and keeps a long run small.
            latency: LatencyHistogram::with_precision(2),
        }
    }
}

/// Everything measured in a run, shared by the statement tasks.
pub(super) struct Recorder {
    pub(super) measure_from: Instant,
    pub(super) measure_until: Instant,
    pub(super) late_threshold: Duration,
    pub(super) slow_threshold: Option<Duration>,
    pub(super) stmts: Vec<StmtRec>,
    pub(super) overall: StmtRec,
    pub(super) lag: LatencyHistogram,
    pub(super) series: Vec<SecondRec>,
    pub(super) sent: u64,
    pub(super) warmup: u64,
    pub(super) examples: BTreeMap<&'static str, String>,
    pub(super) completed_last: u64,
    /// When the last measured statement finished: statements that were
    /// still queued at the end of the window finish during the drain, and
    /// rates are per second of the time they actually took.
    pub(super) last_end: Option<Instant>,
}

impl Recorder {
    fn second(&mut self, at: Instant) -> Option<&mut SecondRec> {
        if at < self.measure_from || at >= self.measure_until + Duration::from_secs(3600) {
            return None;
        }
        let i = (at - self.measure_from).as_secs() as usize;
        if i >= self.series.len() {
            self.series.resize_with(i + 1, SecondRec::default);
        }
        self.series.get_mut(i)
    }

    pub(super) fn dispatched(&mut self, intended: Instant, lag: Duration) {
        if intended < self.measure_from {
            self.warmup += 1;
            return;
        }
        self.sent += 1;
        self.lag.record(lag);
        if let Some(s) = self.second(intended) {
            s.sent += 1;
        }
    }

    pub(super) fn completed(
        &mut self,
        idx: usize,
        intended: Instant,
        start: Instant,
        end: Instant,
        err: Option<&Error>,
    ) {
        self.completed_last += 1;
        if intended < self.measure_from {
            return;
        }
        self.last_end = Some(self.last_end.map_or(end, |e| e.max(end)));
        let latency = end.saturating_duration_since(intended);
        let service = end.saturating_duration_since(start);
        let late = start.saturating_duration_since(intended) > self.late_threshold;
        let slow = self.slow_threshold.is_some_and(|t| service > t);
        for rec in [&mut self.stmts[idx], &mut self.overall] {
            // Latency figures are those of successful statements: a failure
            // that returns at once would otherwise make a broken run look
            // fast. Errors are counted (and bounded) on their own.
            if err.is_none() {
                rec.latency.record(latency);
                rec.service.record(service);
            }
            if late {
                rec.late += 1;
            }
            if slow {
                rec.slow += 1;
            }
            match err {
                None => rec.ok += 1,
                Some(e) => {
                    rec.errors += 1;
                    *rec.by_kind.entry(e.kind().as_str()).or_default() += 1;
                }
            }
        }
        if let Some(e) = err {
            self.examples
                .entry(e.kind().as_str())
                .or_insert_with(|| e.to_string());
        }
        if let Some(s) = self.second(intended) {
            if err.is_none() {
                s.latency.record(latency);
            }
            if late {
                s.late += 1;
            }
        }
        if let Some(s) = self.second(end) {
            s.completed += 1;
            if err.is_some() {
                s.errors += 1;
            }
        }
    }
}

/// What the dispatcher records about its own sends. It is kept apart from
/// the shared recorder so the dispatcher never waits on a lock held by a
/// statement task (a preempted lock holder would show up as schedule lag).
pub(super) struct DispatchLog {
    pub(super) measure_from: Instant,
    pub(super) lag: LatencyHistogram,
    pub(super) sent: u64,
    pub(super) warmup: u64,
    /// Sends per measured second, sized for the whole run up front.
    pub(super) seconds: Vec<u64>,
    /// Measured drops per statement and per second (counts, not a list:
    /// an overloaded run drops many statements and must not allocate for
    /// each).
    pub(super) dropped_by_stmt: Vec<u64>,
    pub(super) dropped_seconds: Vec<u64>,
}

impl DispatchLog {
    pub(super) fn new(measure_from: Instant, seconds: usize, statements: usize) -> Self {
        DispatchLog {
            measure_from,
            lag: LatencyHistogram::default(),
            sent: 0,
            warmup: 0,
            seconds: vec![0; seconds],
            dropped_by_stmt: vec![0; statements],
            dropped_seconds: vec![0; seconds],
        }
    }

    fn bump(v: &mut Vec<u64>, i: usize) {
        if i >= v.len() {
            // Only when the run outlasts its planned seconds.
            v.resize(i + 1, 0);
        }
        v[i] += 1;
    }

    pub(super) fn dispatched(&mut self, intended: Instant, lag: Duration) {
        if intended < self.measure_from {
            self.warmup += 1;
            return;
        }
        self.sent += 1;
        self.lag.record(lag);
        let i = (intended - self.measure_from).as_secs() as usize;
        Self::bump(&mut self.seconds, i);
    }

    pub(super) fn dropped(&mut self, idx: usize, intended: Instant) {
        if intended < self.measure_from {
            return;
        }
        self.dropped_by_stmt[idx] += 1;
        let i = (intended - self.measure_from).as_secs() as usize;
        Self::bump(&mut self.dropped_seconds, i);
    }
}

impl Recorder {
    pub(super) fn absorb(&mut self, log: &DispatchLog) {
        self.sent += log.sent;
        self.warmup += log.warmup;
        self.lag.add(&log.lag);
        for (i, n) in log.seconds.iter().enumerate() {
            let at = self.measure_from + Duration::from_secs(i as u64);
            if let Some(s) = self.second(at) {
                s.sent += n;
            }
        }
        for (idx, n) in log.dropped_by_stmt.iter().enumerate() {
            self.stmts[idx].dropped += n;
            self.overall.dropped += n;
        }
        for (i, n) in log.dropped_seconds.iter().enumerate() {
            let at = self.measure_from + Duration::from_secs(i as u64);
            if let Some(s) = self.second(at) {
                s.dropped += n;
            }
        }
    }
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `n` per second over `secs`; zero over an empty period (a run stopped
/// during its warm-up measured nothing).
pub(super) fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}
