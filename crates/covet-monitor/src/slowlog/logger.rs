//! The slow-query logger.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::table::{SlowLogSnapshot, Table};
use super::{PlanRequest, QueryEvent, SlowLog, SlowLogSink};
use crate::fingerprint::{
    Fingerprint, is_explainable, is_read_only_select, may_carry_secret, operation,
};
use crate::redact::{Redaction, recorded};
use crate::sink::SlowRecord;

/// When and how plans are captured for slow statements.
///
/// EXPLAIN runs off the request path (a spawned task) on the adapter below
/// the slow log, with its own timeout, at most once per fingerprint per
/// `interval`. Plain EXPLAIN does not execute the statement, so a slow
/// write is never run twice. `analyze` (off by default) uses EXPLAIN
/// ANALYZE, which does execute it, and so only ever for a read-only SELECT
/// on PostgreSQL; other statements still get a plain plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanCapture {
    /// Capture plans at all (default: yes).
    pub enabled: bool,
    /// Use EXPLAIN ANALYZE for read-only SELECTs (default: no).
    pub analyze: bool,
    /// The EXPLAIN's own timeout (default: 2 s).
    pub timeout: Duration,
    /// At most one capture per fingerprint per this interval (default: 5 min).
    pub interval: Duration,
}

impl Default for PlanCapture {
    fn default() -> Self {
        PlanCapture {
            enabled: true,
            analyze: false,
            timeout: Duration::from_secs(2),
            interval: Duration::from_secs(300),
        }
    }
}

impl PlanCapture {
    /// No plan capture.
    pub fn disabled() -> Self {
        PlanCapture {
            enabled: false,
            ..Self::default()
        }
    }
}

/// Builds a [`SlowQueryLogger`].
pub struct SlowQueryLoggerBuilder {
    threshold: Duration,
    capacity: usize,
    top_n: usize,
    redaction: Redaction,
    plan: PlanCapture,
    sink: Option<Arc<dyn SlowLogSink>>,
    metrics_top_k: usize,
}

impl Default for SlowQueryLoggerBuilder {
    fn default() -> Self {
        SlowQueryLoggerBuilder {
            threshold: Duration::from_millis(100),
            capacity: 1000,
            top_n: 20,
            redaction: Redaction::default(),
            plan: PlanCapture::default(),
            sink: None,
            metrics_top_k: 20,
        }
    }
}

impl SlowQueryLoggerBuilder {
    /// Statements at or above this are slow (default 100 ms).
    #[must_use]
    pub fn threshold(mut self, d: Duration) -> Self {
        self.threshold = d;
        self
    }
    /// Fingerprints held at most (default 1,000; at least 1).
    #[must_use]
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n.max(1);
        self
    }
    /// Slowest statements kept (default 20).
    #[must_use]
    pub fn top_n(mut self, n: usize) -> Self {
        self.top_n = n;
        self
    }
    /// What is recorded of each statement (default fingerprint only).
    #[must_use]
    pub fn redaction(mut self, r: Redaction) -> Self {
        self.redaction = r;
        self
    }
    /// Plan capture settings.
    #[must_use]
    pub fn plan_capture(mut self, p: PlanCapture) -> Self {
        self.plan = p;
        self
    }
    /// Where each slow statement is written.
    #[must_use]
    pub fn sink(mut self, sink: Arc<dyn SlowLogSink>) -> Self {
        self.sink = Some(sink);
        self
    }
    /// Fingerprints given their own label on
    /// `covet_slow_query_duration_seconds` (the rest are `other`; default 20).
    #[must_use]
    pub fn metrics_top_k(mut self, k: usize) -> Self {
        self.metrics_top_k = k;
        self
    }
    /// Builds the logger.
    pub fn build(self) -> SlowQueryLogger {
        SlowQueryLogger {
            threshold_ns: AtomicU64::new(nanos(self.threshold)),
            table: Mutex::new(Table::new(self.capacity, self.top_n)),
            redaction: self.redaction,
            plan: self.plan,
            sink: self.sink,
            metrics_top_k: self.metrics_top_k,
            top_k: Mutex::new(Vec::new()),
            slow_seen: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The slow-query log (see the [module docs](super)).
///
/// ```
/// use std::time::Duration;
/// use covet_core::{Engine, Statement};
/// use covet_monitor::{QueryEvent, SlowLog, SlowQueryLogger};
/// let log = SlowQueryLogger::builder().threshold(Duration::from_millis(100)).build();
/// let stmt = Statement::new("SELECT * FROM users WHERE id = 42");
/// for ms in [5, 150, 300] {
///     log.observe(&QueryEvent { engine: Engine::Postgres, stmt: &stmt,
///         elapsed: Duration::from_millis(ms), error: None, rows: Some(1) });
/// }
/// let snap = log.snapshot();
/// assert_eq!(snap.fingerprints[0].calls, 2);
/// assert_eq!(snap.fingerprints[0].text.as_deref(), Some("select * from users where id = ?"));
/// ```
pub struct SlowQueryLogger {
    threshold_ns: AtomicU64,
    table: Mutex<Table>,
    redaction: Redaction,
    plan: PlanCapture,
    sink: Option<Arc<dyn SlowLogSink>>,
    metrics_top_k: usize,
    top_k: Mutex<Vec<u64>>,
    slow_seen: AtomicU64,
    origin: Instant,
}

impl std::fmt::Debug for SlowQueryLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlowQueryLogger")
            .field("threshold", &self.threshold())
            .field("redaction", &self.redaction)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl Default for SlowQueryLogger {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl SlowQueryLogger {
    /// A builder with the defaults.
    pub fn builder() -> SlowQueryLoggerBuilder {
        SlowQueryLoggerBuilder::default()
    }

    /// Changes the threshold at run time.
    pub fn set_threshold(&self, d: Duration) {
        self.threshold_ns.store(nanos(d), Ordering::Relaxed);
    }

    /// The plan capture settings.
    pub fn plan_capture(&self) -> PlanCapture {
        self.plan
    }

    /// The redaction mode.
    pub fn redaction(&self) -> Redaction {
        self.redaction
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the statistics.
    pub fn snapshot(&self) -> SlowLogSnapshot {
        self.lock().snapshot()
    }

    /// Fingerprints currently held (never above the capacity).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing slow has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fingerprints evicted so far.
    pub fn evictions(&self) -> u64 {
        self.lock().evictions
    }

    /// An upper bound on the bytes the table holds: capacity times the
    /// largest entry (fixed histogram, text capped at
    /// [`crate::fingerprint::MAX_TEXT`]), plus the slowest-statements heap.
    pub fn memory_bound(&self) -> usize {
        let t = self.lock();
        let per_entry = std::mem::size_of::<super::table::Entry>()
            + 2 * 1024 // histogram counts
            + crate::fingerprint::MAX_TEXT + 3
            + crate::plan::MAX_PLAN
            + 2 * std::mem::size_of::<(u64, usize)>();
        t.entries.capacity().max(t.len()) * per_entry
    }

    /// The bytes the table holds now (same accounting as
    /// [`SlowQueryLogger::memory_bound`]).
    pub fn memory_used(&self) -> usize {
        let t = self.lock();
        let base = std::mem::size_of::<super::table::Entry>()
            + 2 * 1024
            + 2 * std::mem::size_of::<(u64, usize)>();
        t.entries
            .iter()
            .map(|e| {
                base + e.text.as_ref().map_or(0, |s| s.len())
                    + e.plan.as_ref().map_or(0, |s| s.len())
            })
            .sum()
    }

    #[cold]
    #[inline(never)]
    fn record_slow(&self, ev: &QueryEvent<'_>) -> Option<PlanRequest> {
        let sql = ev.stmt.sql();
        let fp = Fingerprint::for_engine(ev.engine, sql);
        let op = operation(sql);
        let (text, params) = recorded(ev.stmt, &fp, self.redaction);
        let at_ms = now_ms();
        let now_ns = nanos(self.origin.elapsed());
        let elapsed_ns = nanos(ev.elapsed);
        let want_plan = self.plan.enabled && is_explainable(sql) && !may_carry_secret(sql);
        let plan_due = {
            let mut t = self.lock();
            let stored_text = match self.redaction {
                Redaction::None => None,
                _ => Some(fp.text.clone().into_boxed_str()),
            };
            let e = t.entry(fp.id, || (stored_text, op));
            e.calls += 1;
            e.errors += u64::from(ev.error.is_some());
            e.total_ns = e.total_ns.saturating_add(elapsed_ns);
            e.max_ns = e.max_ns.max(elapsed_ns);
            let micros = (elapsed_ns / 1000).clamp(1, 3_600_000_000);
            let _ = e.hist.record(micros);
            let due = want_plan
                && e.plan_tried_ns
                    .is_none_or(|at| now_ns.saturating_sub(at) >= nanos(self.plan.interval));
            if due {
                e.plan_tried_ns = Some(now_ns);
            }
            let sample_text = match self.redaction {
                Redaction::None => None,
                _ => text.as_deref(),
            };
            t.offer_slowest(ev.elapsed, fp.id, sample_text, at_ms);
            due
        };
        self.metrics(fp.id, ev.elapsed);
        tracing::info!(
            target: "covet::slow_query",
            fingerprint = %fp.hex(),
            operation = op,
            elapsed_ms = ev.elapsed.as_secs_f64() * 1e3,
            "slow query"
        );
        if let Some(sink) = &self.sink {
            sink.write(&SlowRecord::Query {
                ts_ms: at_ms,
                engine: ev.engine.as_str().to_owned(),
                fingerprint: fp.hex(),
                operation: op.to_owned(),
                elapsed_ms: ev.elapsed.as_secs_f64() * 1e3,
                text,
                params,
                label: ev.stmt.label_str().map(str::to_owned),
                rows: ev.rows,
                error: ev.error.map(|k| k.as_str().to_owned()),
            });
        }
        plan_due.then(|| PlanRequest {
            fingerprint: fp.id,
            analyze: self.plan.analyze && is_read_only_select(sql),
            timeout: self.plan.timeout,
        })
    }

    fn metrics(&self, id: u64, elapsed: Duration) {
        let n = self.slow_seen.fetch_add(1, Ordering::Relaxed);
        if self.metrics_top_k == 0 {
            return;
        }
        if n.is_multiple_of(64) {
            let top = self.lock().top_k(self.metrics_top_k);
            if let Ok(mut k) = self.top_k.lock() {
                *k = top;
            }
        }
        let in_top = self.top_k.lock().is_ok_and(|k| k.contains(&id));
        let label = if in_top {
            format!("{id:016x}")
        } else {
            "other".to_owned()
        };
        metrics::histogram!(crate::metrics::SLOW_QUERY_DURATION, "fingerprint" => label)
            .record(elapsed.as_secs_f64());
    }
}

impl SlowLog for SlowQueryLogger {
    fn threshold(&self) -> Duration {
        Duration::from_nanos(self.threshold_ns.load(Ordering::Relaxed))
    }

    #[inline]
    fn observe(&self, event: &QueryEvent<'_>) -> Option<PlanRequest> {
        if nanos(event.elapsed) < self.threshold_ns.load(Ordering::Relaxed) {
            return None;
        }
        self.record_slow(event)
    }

    fn record_plan(&self, fingerprint: u64, plan: &str, analyzed: bool) {
        let plan = crate::plan::cap(&crate::redact::plan_text(plan, self.redaction));
        if let Some(e) = self.lock().get_mut(fingerprint) {
            e.plan = Some(plan.clone().into_boxed_str());
        }
        if let Some(sink) = &self.sink {
            sink.write(&SlowRecord::Plan {
                ts_ms: now_ms(),
                fingerprint: format!("{fingerprint:016x}"),
                plan,
                analyzed,
            });
        }
    }
}

impl<L: SlowLog + ?Sized> SlowLog for Arc<L> {
    fn threshold(&self) -> Duration {
        (**self).threshold()
    }
    fn observe(&self, event: &QueryEvent<'_>) -> Option<PlanRequest> {
        (**self).observe(event)
    }
    fn record_plan(&self, fingerprint: u64, plan: &str, analyzed: bool) {
        (**self).record_plan(fingerprint, plan, analyzed);
    }
}
