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

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use covet_core::{Adapter, Error};
use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::error::{LoadtestError, Result};
use crate::histogram::LatencyHistogram;
use crate::mem;
use crate::report::{
    ErrorCount, MemoryReport, Report, RunMeta, SecondPoint, StatementReport, Summary,
};
use crate::rng::Rng;
use crate::workload::{StatementKind, Workload};

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

/// What the live progress callback receives once a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Time since the run started (warm-up included).
    pub elapsed: Duration,
    /// Whether the run is still warming up.
    pub warming_up: bool,
    /// Statements completed in the last second.
    pub rate: f64,
    /// The target rate.
    pub target_rate: f64,
    /// p95 latency of the measured statements so far.
    pub p95: Duration,
    /// Errors so far (measured period).
    pub errors: u64,
    /// Statements started late so far.
    pub late: u64,
    /// Statements dropped so far.
    pub dropped: u64,
    /// Statements in flight now.
    pub in_flight: u64,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Ends a run early, keeping what was measured: [`run`] stops scheduling,
/// gives statements in flight [`RunConfig::interrupt_drain`] to finish and
/// returns a report marked [`RunMeta::interrupted`] over the measured time
/// so far. Clone it into a signal handler.
#[derive(Debug, Clone)]
pub struct Stop {
    tx: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            tx: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }
}

impl Stop {
    /// Asks the run to stop; later calls do nothing more.
    pub fn stop(&self) {
        self.tx.send_replace(true);
    }

    /// Whether [`Stop::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once [`Stop::stop`] is called.
    pub async fn stopped(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        let _ = rx.wait_for(|s| *s).await;
    }
}

async fn stopped(stop: Option<&Stop>) {
    match stop {
        Some(s) => s.stopped().await,
        None => std::future::pending().await,
    }
}

/// Everything that shapes one run.
#[derive(Clone)]
pub struct RunConfig {
    /// Target statements per second.
    pub rate: f64,
    /// Measured duration (after the warm-up).
    pub duration: Duration,
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
    /// After a stop, how long statements in flight may take to finish
    /// before they are counted unfinished.
    pub interrupt_drain: Duration,
}

impl std::fmt::Debug for RunConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunConfig")
            .field("rate", &self.rate)
            .field("duration", &self.duration)
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
            interrupt_drain: Duration::from_secs(2),
        }
    }
}

impl RunConfig {
    /// Checks the settings without running anything, so a caller can
    /// reject bad arguments before connecting or seeding. [`run`] calls it
    /// too.
    pub fn validate(&self) -> Result<()> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(LoadtestError::config("the rate must be a positive number"));
        }
        if self.rate > 10_000_000.0 {
            return Err(LoadtestError::config(
                "the rate must be at most 10,000,000/s",
            ));
        }
        if self.duration.is_zero() {
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

#[derive(Default)]
struct StmtRec {
    latency: LatencyHistogram,
    service: LatencyHistogram,
    ok: u64,
    errors: u64,
    late: u64,
    dropped: u64,
    by_kind: BTreeMap<&'static str, u64>,
}

impl StmtRec {
    fn report(&self, name: &str, share: f64, secs: f64) -> StatementReport {
        let count = self.ok + self.errors;
        StatementReport {
            name: name.to_string(),
            share,
            count,
            ok: self.ok,
            errors: self.errors,
            late: self.late,
            dropped: self.dropped,
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

struct SecondRec {
    sent: u64,
    completed: u64,
    errors: u64,
    late: u64,
    dropped: u64,
    latency: LatencyHistogram,
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

struct Recorder {
    measure_from: Instant,
    measure_until: Instant,
    late_threshold: Duration,
    stmts: Vec<StmtRec>,
    overall: StmtRec,
    lag: LatencyHistogram,
    series: Vec<SecondRec>,
    sent: u64,
    warmup: u64,
    examples: BTreeMap<&'static str, String>,
    completed_last: u64,
    /// When the last measured statement finished: statements that were
    /// still queued at the end of the window finish during the drain, and
    /// rates are per second of the time they actually took.
    last_end: Option<Instant>,
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

    fn dispatched(&mut self, intended: Instant, lag: Duration) {
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

    fn dropped(&mut self, idx: usize, intended: Instant) {
        if intended < self.measure_from {
            return;
        }
        self.stmts[idx].dropped += 1;
        self.overall.dropped += 1;
        if let Some(s) = self.second(intended) {
            s.dropped += 1;
        }
    }

    fn completed(
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
struct DispatchLog {
    measure_from: Instant,
    lag: LatencyHistogram,
    sent: u64,
    warmup: u64,
    seconds: Vec<u64>,
    dropped: Vec<(usize, Instant)>,
}

impl DispatchLog {
    fn new(measure_from: Instant) -> Self {
        DispatchLog {
            measure_from,
            lag: LatencyHistogram::default(),
            sent: 0,
            warmup: 0,
            seconds: Vec::new(),
            dropped: Vec::new(),
        }
    }

    fn dispatched(&mut self, intended: Instant, lag: Duration) {
        if intended < self.measure_from {
            self.warmup += 1;
            return;
        }
        self.sent += 1;
        self.lag.record(lag);
        let i = (intended - self.measure_from).as_secs() as usize;
        if i >= self.seconds.len() {
            self.seconds.resize(i + 1, 0);
        }
        self.seconds[i] += 1;
    }
}

impl Recorder {
    fn absorb(&mut self, log: DispatchLog) {
        self.sent += log.sent;
        self.warmup += log.warmup;
        self.lag.add(&log.lag);
        for (i, n) in log.seconds.iter().enumerate() {
            let at = self.measure_from + Duration::from_secs(i as u64);
            if let Some(s) = self.second(at) {
                s.sent += n;
            }
        }
        for (idx, intended) in log.dropped {
            self.dropped(idx, intended);
        }
    }
}

struct Shared {
    adapter: Arc<dyn Adapter>,
    recorder: Mutex<Recorder>,
    in_flight: AtomicU64,
}

async fn run_one(
    shared: Arc<Shared>,
    idx: usize,
    stmt: covet_core::Statement,
    kind: StatementKind,
    intended: Instant,
    permit: Option<OwnedSemaphorePermit>,
) {
    let start = Instant::now();
    let result = match kind {
        StatementKind::Query => shared.adapter.query(&stmt).await.map(drop),
        StatementKind::Execute => shared.adapter.execute(&stmt).await.map(drop),
    };
    let end = Instant::now();
    shared
        .recorder
        .lock()
        .completed(idx, intended, start, end, result.as_ref().err());
    shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
}

/// The intended start offsets of a run, in order.
#[derive(Debug, Clone)]
pub struct Schedule {
    arrival: Arrival,
    interval: f64,
    i: u64,
    t: f64,
    rng: Rng,
}

impl Schedule {
    /// Offsets for `rate` statements per second.
    pub fn new(arrival: Arrival, rate: f64, seed: u64) -> Self {
        Schedule {
            arrival,
            interval: 1.0 / rate,
            i: 0,
            t: 0.0,
            rng: Rng::new(seed ^ 0x5EED_0FA1),
        }
    }

    /// The next offset from the start of the run.
    pub fn next_offset(&mut self) -> Duration {
        let t = match self.arrival {
            // Multiplying instead of summing keeps a long run free of drift.
            Arrival::Constant => self.i as f64 * self.interval,
            Arrival::Poisson => {
                let t = self.t;
                let u = 1.0 - self.rng.next_f64();
                self.t += -u.ln() * self.interval;
                t
            }
        };
        self.i += 1;
        Duration::from_secs_f64(t)
    }
}

/// Blocks the calling thread until `deadline`: sleep while far, spin close.
/// Returns false, early, when `stop` is triggered.
fn precise_wait(deadline: std::time::Instant, stop: Option<&Stop>) -> bool {
    const SPIN: Duration = Duration::from_micros(120);
    // Sleeps are cut into slices so a stop at a low rate is seen promptly.
    const SLICE: Duration = Duration::from_millis(20);
    loop {
        let now = std::time::Instant::now();
        if now >= deadline {
            return true;
        }
        let left = deadline - now;
        if left > SPIN {
            if stop.is_some_and(Stop::is_stopped) {
                return false;
            }
            std::thread::sleep((left - SPIN).min(SLICE));
        } else {
            std::hint::spin_loop();
        }
    }
}

struct Dispatch {
    shared: Arc<Shared>,
    sem: Arc<Semaphore>,
    handle: Handle,
    start: Instant,
    end: Instant,
    cfg: RunConfig,
}

async fn dispatch_open(d: Dispatch, mut workload: Workload) -> DispatchLog {
    let mut log = DispatchLog::new(d.start + d.cfg.warmup);
    let mut schedule = Schedule::new(d.cfg.arrival, d.cfg.rate, d.cfg.seed);
    let stop = d.cfg.stop.clone();
    loop {
        let intended = d.start + schedule.next_offset();
        if intended >= d.end || stop.as_ref().is_some_and(Stop::is_stopped) {
            break;
        }
        // Build the statement before waiting, so waking up is all that
        // stands between the intended time and the send.
        let idx = workload.pick();
        let stmt = workload.build(idx);
        let kind = workload.kind(idx);
        let on_time = match d.cfg.pacer {
            Pacer::Precise => precise_wait(intended.into_std(), stop.as_ref()),
            Pacer::Tokio => tokio::select! {
                () = tokio::time::sleep_until(intended) => true,
                () = stopped(stop.as_ref()) => false,
            },
        };
        if !on_time {
            break;
        }
        let permit = match Arc::clone(&d.sem).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => match d.cfg.overload {
                Overload::Drop => {
                    log.dispatched(intended, Instant::now().saturating_duration_since(intended));
                    log.dropped.push((idx, intended));
                    continue;
                }
                Overload::Late => {
                    let acquired = tokio::select! {
                        p = Arc::clone(&d.sem).acquire_owned() => p.ok(),
                        () = stopped(stop.as_ref()) => None,
                    };
                    match acquired {
                        Some(p) => p,
                        None => break,
                    }
                }
            },
        };
        let lag = Instant::now().saturating_duration_since(intended);
        log.dispatched(intended, lag);
        d.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        d.handle.spawn(run_one(
            Arc::clone(&d.shared),
            idx,
            stmt,
            kind,
            intended,
            Some(permit),
        ));
    }
    log
}

async fn closed_worker(
    shared: Arc<Shared>,
    workload: Arc<Mutex<Workload>>,
    end: Instant,
    stop: Option<Stop>,
) {
    loop {
        let now = Instant::now();
        if now >= end || stop.as_ref().is_some_and(Stop::is_stopped) {
            break;
        }
        let (idx, stmt, kind) = {
            let mut w = workload.lock();
            let idx = w.pick();
            (idx, w.build(idx), w.kind(idx))
        };
        shared.recorder.lock().dispatched(now, Duration::ZERO);
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        run_one(Arc::clone(&shared), idx, stmt, kind, now, None).await;
    }
}

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
    let end = measure_from + cfg.duration;
    let shared = Arc::new(Shared {
        adapter,
        in_flight: AtomicU64::new(0),
        recorder: Mutex::new(Recorder {
            measure_from,
            measure_until: end,
            late_threshold: cfg.late_threshold,
            stmts: names.iter().map(|_| StmtRec::default()).collect(),
            overall: StmtRec::default(),
            lag: LatencyHistogram::default(),
            series: Vec::new(),
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

    let sem = Arc::new(Semaphore::new(cfg.max_in_flight));
    match cfg.mode {
        Mode::OpenLoop => {
            let d = Dispatch {
                shared: Arc::clone(&shared),
                sem: Arc::clone(&sem),
                handle: Handle::current(),
                start,
                end,
                cfg: cfg.clone(),
            };
            match cfg.pacer {
                Pacer::Tokio => {
                    let log = dispatch_open(d, workload).await;
                    shared.recorder.lock().absorb(log);
                }
                Pacer::Precise => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    std::thread::Builder::new()
                        .name("covet-loadtest-dispatch".into())
                        .spawn(move || {
                            let rt = tokio::runtime::Builder::new_current_thread()
                                .enable_time()
                                .build();
                            if let Ok(rt) = rt {
                                let _ = tx.send(rt.block_on(dispatch_open(d, workload)));
                            }
                        })
                        .map_err(|e| LoadtestError::io("starting the dispatcher thread", e))?;
                    match rx.await {
                        Ok(log) => shared.recorder.lock().absorb(log),
                        Err(_) => {
                            return Err(LoadtestError::config(
                                "the dispatcher thread could not start its timer",
                            ));
                        }
                    }
                }
            }
        }
        Mode::ClosedLoop { concurrency } => {
            let workload = Arc::new(Mutex::new(workload));
            let workers: Vec<_> = (0..concurrency)
                .map(|_| {
                    tokio::spawn(closed_worker(
                        Arc::clone(&shared),
                        Arc::clone(&workload),
                        end,
                        cfg.stop.clone(),
                    ))
                })
                .collect();
            for w in workers {
                let _ = w.await;
            }
        }
    }
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
        None => cfg.duration,
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
        None => cfg.duration.as_secs().max(1) as usize,
    };
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
            }
        })
        .collect();
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
            target_rate: cfg.rate,
            duration_s: secs,
            planned_duration_s: cfg.duration.as_secs_f64(),
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
            target_rate: cfg.rate,
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
        memory,
        layers: None,
        slo: Vec::new(),
        error_rate: None,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `n` per second over `secs`; zero over an empty period (a run stopped
/// during its warm-up measured nothing).
fn per_second(n: u64, secs: f64) -> f64 {
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

fn memory_report(start: Option<u64>, samples: &[u64], warm: usize) -> Option<MemoryReport> {
    let start_kb = start?;
    let end_kb = *samples.last()?;
    // Growth is measured from the end of the warm-up, once pools, caches
    // and histograms have reached their working size.
    let base = samples
        .get(warm.saturating_sub(1))
        .copied()
        .unwrap_or(start_kb);
    let peak_kb = samples.iter().copied().max().unwrap_or(end_kb);
    Some(MemoryReport {
        start_kb,
        after_warmup_kb: base,
        end_kb,
        peak_kb,
        growth_kb: end_kb as i64 - base as i64,
        growth_pct: if base > 0 {
            (end_kb as f64 - base as f64) / base as f64 * 100.0
        } else {
            0.0
        },
    })
}

async fn sample_memory(done: Arc<AtomicBool>) -> Vec<u64> {
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    while !done.load(Ordering::Relaxed) {
        tick.tick().await;
        match mem::rss_kb() {
            Some(kb) => out.push(kb),
            None => break,
        }
    }
    out
}

async fn progress_loop(
    shared: Arc<Shared>,
    done: Arc<AtomicBool>,
    f: ProgressFn,
    cfg: RunConfig,
    start: Instant,
) {
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    while !done.load(Ordering::Relaxed) {
        tick.tick().await;
        let now = Instant::now();
        let p = {
            let mut r = shared.recorder.lock();
            let rate = r.completed_last as f64;
            r.completed_last = 0;
            Progress {
                elapsed: now.saturating_duration_since(start),
                warming_up: now < r.measure_from,
                rate,
                target_rate: cfg.rate,
                p95: r.overall.latency.quantile(0.95),
                errors: r.overall.errors,
                late: r.overall.late,
                dropped: r.overall.dropped,
                in_flight: shared.in_flight.load(Ordering::Relaxed),
            }
        };
        f(&p);
    }
}
