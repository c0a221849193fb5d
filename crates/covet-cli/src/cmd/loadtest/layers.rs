//! The layer stack a load test runs through, and its counters.
//!
//! Retries are counted as the calls that reach the layer below the retry
//! layer minus the calls made to it, so no layer needs a counter of its own.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use covet::{Adapter, Call, Intercept, Layer, Layered, Reply, Result};
use covet_loadtest::{BreakerTrip, LayerReport, Report, SlowStatement};
use covet_monitor::{PlanCapture, SlowQueryLogger};
use covet_resilience::{
    BreakerConfigError, BreakerState, CircuitBreaker, RetryPolicy, StateChange,
};

/// The circuit breaker's timings for a load test.
///
/// The library default (open for 60 s) suits an application that should
/// leave a failed database alone; in a load test it would turn a 3 s outage
/// into the rest of the run refused. Here the breaker opens for about a
/// second, so a short outage costs about that long, and without jitter, so
/// the recovery shows at the same point in every run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BreakerSettings {
    /// Consecutive outage-class errors that open the breaker.
    pub failures: u32,
    /// How long it stays open before probing.
    pub open_for: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failures: 5,
            open_for: Duration::from_secs(1),
        }
    }
}

impl BreakerSettings {
    /// Checks the settings without building a stack, so bad values are
    /// rejected before connecting.
    pub(crate) fn validate(&self) -> std::result::Result<(), BreakerConfigError> {
        self.builder().build().map(drop)
    }

    fn builder(&self) -> covet_resilience::breaker::CircuitBreakerBuilder {
        CircuitBreaker::builder()
            .name("loadtest")
            .failure_threshold(self.failures)
            .open_duration(self.open_for)
            .open_jitter(0.0)
    }

    fn describe(&self) -> String {
        format!(
            "opens after {} consecutive outage errors, for {} s",
            self.failures,
            self.open_for.as_secs_f64()
        )
    }
}

/// Tallies what opened the breaker, by error kind.
#[derive(Default)]
struct Trips(Mutex<Vec<BreakerTrip>>);

impl Trips {
    fn record(&self, change: &StateChange) {
        let Some(cause) = &change.cause else { return };
        let mut trips = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let kind = cause.kind.as_str();
        match trips.iter_mut().find(|t| t.kind == kind) {
            Some(t) => t.count += 1,
            None => trips.push(BreakerTrip {
                kind: kind.to_string(),
                count: 1,
                example: cause.message.clone(),
            }),
        }
    }

    fn snapshot(&self) -> Vec<BreakerTrip> {
        let mut trips = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        trips.sort_by_key(|t| std::cmp::Reverse(t.count));
        trips
    }
}

/// Counts the statements that pass through it (inside transactions and
/// savepoints too): hooks of a [`Layered`] adapter, which supplies every
/// other method.
#[derive(Default)]
pub(crate) struct Counting {
    calls: AtomicU64,
}

impl Counting {
    /// Wraps `inner`.
    pub(crate) fn new(inner: Arc<dyn Adapter>) -> Arc<Layered<Counting>> {
        Arc::new(Layered::new(inner, Counting::default()))
    }

    /// Statements seen so far.
    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl Intercept for Counting {
    fn around<'a, T: Reply + 'a>(
        &'a self,
        call: Call<'a>,
        fut: impl Future<Output = Result<T>> + Send + 'a,
    ) -> impl Future<Output = Result<T>> + Send + 'a {
        if call.kind().has_statement() {
            self.calls.fetch_add(1, Ordering::Relaxed);
        }
        fut
    }
}

/// Puts a [`Counting`] adapter into a stack built by [`covet::stack`] and
/// keeps a handle on it, so the report can read its count.
#[derive(Clone, Default)]
struct CountingLayer(Arc<OnceLock<Arc<Layered<Counting>>>>);

impl Layer for CountingLayer {
    fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter> {
        let counting = Counting::new(inner);
        // Built once per run; a second build would count apart, unreported.
        let _ = self.0.set(Arc::clone(&counting));
        counting
    }
}

impl CountingLayer {
    fn calls(&self) -> u64 {
        self.0.get().map_or(0, |c| c.hooks().calls())
    }
}

/// Counter values at the start of the measured period.
#[derive(Default, Clone)]
struct Baseline {
    outer: u64,
    below_retry: u64,
    openings: u64,
    trips: Vec<BreakerTrip>,
}

/// The adapter a run uses and the counters behind its layer report.
pub(crate) struct Stack {
    top: Arc<dyn Adapter>,
    names: Vec<String>,
    outer: Option<CountingLayer>,
    below_retry: Option<CountingLayer>,
    openings: Arc<AtomicU64>,
    trips: Arc<Trips>,
    breaker: Option<BreakerSettings>,
    /// The counters at the start of the measured period (retries below and
    /// above, openings, trips), subtracted in [`Stack::report`].
    baseline: Arc<Mutex<Baseline>>,
    /// The slow-query log layer (kept alive with the stack) and its
    /// threshold.
    slow: Option<(Arc<SlowQueryLogger>, std::time::Duration)>,
}

impl Stack {
    /// The backend alone.
    pub(crate) fn bare(backend: Arc<dyn Adapter>) -> Self {
        Stack {
            top: backend,
            names: vec!["adapter".into()],
            outer: None,
            below_retry: None,
            openings: Arc::new(AtomicU64::new(0)),
            trips: Arc::default(),
            breaker: None,
            baseline: Arc::default(),
            slow: None,
        }
    }

    /// Retry (covet-resilience's default policy: 3 attempts, only what is
    /// safe to repeat) over a circuit breaker set as `breaker` says over
    /// covet-monitor's slow-query log (statements over `slow`, plans not
    /// captured) over `backend`, composed by [`covet::stack`], with a
    /// counting layer above and below the retry layer.
    pub(crate) fn resilient(
        backend: Arc<dyn Adapter>,
        slow: std::time::Duration,
        breaker: BreakerSettings,
    ) -> Result<Self> {
        let logger = Arc::new(
            SlowQueryLogger::builder()
                .threshold(slow)
                .plan_capture(PlanCapture::disabled())
                .build(),
        );
        let openings = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&openings);
        let trips: Arc<Trips> = Arc::default();
        let tally = Arc::clone(&trips);
        let settings = breaker;
        let breaker = settings
            .builder()
            .on_state_change(move |c: &StateChange| {
                if c.to == BreakerState::Open {
                    counter.fetch_add(1, Ordering::Relaxed);
                    tally.record(c);
                }
            })
            .build()
            .map_err(|e| covet::Error::config(e.to_string()))?;
        let outer = CountingLayer::default();
        let below_retry = CountingLayer::default();
        // Each counting layer sits below the built-in layer set before it:
        // outer -> Retry -> below_retry -> Breaker -> SlowLog -> backend.
        let top = covet::stack(backend)
            .layer(outer.clone())
            .retry(RetryPolicy::default())
            .layer(below_retry.clone())
            .breaker(Arc::new(breaker))
            .slow_log(Arc::clone(&logger) as Arc<dyn covet_monitor::SlowLog>)
            .build();
        Ok(Stack {
            top,
            names: vec![
                "retry".into(),
                "circuit breaker".into(),
                "slow-query log".into(),
                "adapter".into(),
            ],
            outer: Some(outer),
            below_retry: Some(below_retry),
            openings,
            trips,
            breaker: Some(settings),
            baseline: Arc::default(),
            slow: Some((logger, slow)),
        })
    }

    /// The adapter to run statements through.
    pub(crate) fn adapter(&self) -> Arc<dyn Adapter> {
        Arc::clone(&self.top)
    }

    /// The counters, for the report of `run`. Slow statements are those of
    /// `run`'s measured period (its per-statement `slow` counts), not the
    /// slow-query log's, which also saw the warm-up and the drain.
    pub(crate) fn report(&self, run: &Report) -> LayerReport {
        let mut layers = self.counters();
        if self.slow.is_some() {
            layers.slow_statements = run.overall.slow;
            layers.slow_by_statement = run
                .statements
                .iter()
                .filter(|s| s.slow > 0)
                .map(|s| SlowStatement {
                    name: s.name.clone(),
                    count: s.slow,
                })
                .collect();
            layers
                .slow_by_statement
                .sort_by_key(|s| std::cmp::Reverse(s.count));
        }
        layers
    }

    /// For [`RunConfig::on_measure_start`](covet_loadtest::RunConfig):
    /// records the counters when the measured period starts, so the report
    /// leaves out the warm-up's retries and breaker openings.
    pub(crate) fn measure_start_hook(&self) -> covet_loadtest::MeasureStartFn {
        let (outer, below) = (self.outer.clone(), self.below_retry.clone());
        let (openings, trips) = (Arc::clone(&self.openings), Arc::clone(&self.trips));
        let baseline = Arc::clone(&self.baseline);
        Arc::new(move || {
            let now = Baseline {
                outer: outer.as_ref().map_or(0, CountingLayer::calls),
                below_retry: below.as_ref().map_or(0, CountingLayer::calls),
                openings: openings.load(Ordering::Relaxed),
                trips: trips.snapshot(),
            };
            *baseline
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
        })
    }

    /// The layers' own counters (retries, breaker openings) since the
    /// measured period started, with no slow statement counted.
    fn counters(&self) -> LayerReport {
        let base = self
            .baseline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let retries = match (&self.outer, &self.below_retry) {
            (Some(o), Some(b)) => {
                (b.calls() - base.below_retry).saturating_sub(o.calls() - base.outer)
            }
            _ => 0,
        };
        let mut trips = self.trips.snapshot();
        for t in &mut trips {
            if let Some(b) = base.trips.iter().find(|b| b.kind == t.kind) {
                t.count -= b.count.min(t.count);
            }
        }
        trips.retain(|t| t.count > 0);
        LayerReport {
            stack: self.names.clone(),
            retries,
            breaker_openings: self.openings.load(Ordering::Relaxed) - base.openings,
            breaker_opened_by: trips,
            breaker: self.breaker.map(|b| b.describe()),
            slow_statements: 0,
            slow_by_statement: Vec::new(),
            slow_threshold_ms: self.slow.as_ref().map(|(_, t)| t.as_secs_f64() * 1e3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use covet::Statement;
    use covet_loadtest::{RunConfig, Workload, point_select};
    use covet_resilience::testing::MockAdapter;

    /// A 3 s run at 200/s through the stack over a backend that refuses
    /// connections from 0.5 s to 0.8 s.
    async fn outage_run(breaker: BreakerSettings) -> covet_loadtest::Report {
        let mock = MockAdapter::new().without_history();
        let backend: Arc<dyn Adapter> = Arc::new(mock.clone());
        let stack =
            Stack::resilient(Arc::clone(&backend), Duration::from_secs(1), breaker).unwrap();
        let workload = Workload::new("ps", point_select(1.0), backend.dialect(), 1).unwrap();
        let cfg = RunConfig {
            rate: 200.0,
            duration: Duration::from_secs(3),
            warmup: Duration::ZERO,
            sample_memory: false,
            slow_threshold: Some(Duration::from_secs(1)),
            ..RunConfig::default()
        };
        let outage = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(500)).await;
            mock.set_down(true);
            tokio::time::sleep(Duration::from_millis(300)).await;
            mock.set_down(false);
        });
        let mut report = covet_loadtest::run(stack.adapter(), workload, cfg)
            .await
            .unwrap();
        outage.await.unwrap();
        report.layers = Some(stack.report(&report));
        report
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_short_outage_costs_about_the_open_duration_and_the_report_names_its_cause() {
        let r = outage_run(BreakerSettings::default()).await;
        let layers = r.layers.as_ref().unwrap();
        assert!(layers.breaker_openings >= 1, "{layers:?}");
        let first = &layers.breaker_opened_by[0];
        assert_eq!(first.kind, "connection", "{layers:?}");
        assert!(first.example.contains("connection refused"), "{first:?}");
        // Outage 0.5-0.8 s, open for 1 s from about 0.5 s: calls flow again
        // from about 1.5 s, and the last second has no error at all.
        assert_eq!(r.series[2].errors, 0, "{:?}", r.series);
        let text = r.to_text();
        assert!(
            text.contains("circuit breaker: opens after 5 consecutive outage errors, for 1 s"),
            "{text}"
        );
        assert!(
            text.contains("opened 1 time by connection: mock: connection refused")
                || text.contains("times by connection: mock: connection refused"),
            "{text}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_the_library_default_of_60_s_the_outage_would_last_the_whole_run() {
        // What the load tester did before: the same run, the breaker open
        // for 60 s, is refused to its end. This keeps the test above honest.
        let r = outage_run(BreakerSettings {
            failures: 5,
            open_for: Duration::from_secs(60),
        })
        .await;
        assert!(r.series[2].errors > 150, "{:?}", r.series);
        assert!(r.errors.iter().any(|e| e.kind == "circuit_open"));
    }

    /// Slow statements of the warm-up are not in the measured figures:
    /// a run whose warm-up statements took 150 ms and whose measured ones
    /// took 1 ms reports no slow statement (it reported every warm-up one).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_statements_of_the_warm_up_are_not_counted() {
        let mock = MockAdapter::new().without_history();
        mock.set_delay(Duration::from_millis(150));
        let backend: Arc<dyn Adapter> = Arc::new(mock.clone());
        let stack = Stack::resilient(
            Arc::clone(&backend),
            Duration::from_millis(100),
            BreakerSettings::default(),
        )
        .unwrap();
        let workload = Workload::new("ps", point_select(1.0), backend.dialect(), 1).unwrap();
        let cfg = RunConfig {
            rate: 50.0,
            duration: Duration::from_secs(1),
            warmup: Duration::from_secs(1),
            sample_memory: false,
            slow_threshold: Some(Duration::from_millis(100)),
            ..RunConfig::default()
        };
        let fast = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(700)).await;
            mock.set_delay(Duration::from_millis(1));
        });
        let mut report = covet_loadtest::run(stack.adapter(), workload, cfg)
            .await
            .unwrap();
        fast.await.unwrap();
        report.layers = Some(stack.report(&report));
        let layers = report.layers.as_ref().unwrap();
        assert_eq!(layers.slow_statements, 0, "{layers:?}");
        assert!(layers.slow_by_statement.is_empty(), "{layers:?}");
        let text = report.to_text();
        assert!(text.contains("slow statements 0 (over 100 ms)"), "{text}");
    }

    /// The warm-up's breaker openings and retries are not in the report:
    /// an outage during the warm-up only showed as "breaker openings 1".
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outage_during_the_warm_up_is_not_counted() {
        let mock = MockAdapter::new().without_history();
        let backend: Arc<dyn Adapter> = Arc::new(mock.clone());
        let stack = Stack::resilient(
            Arc::clone(&backend),
            Duration::from_secs(1),
            BreakerSettings {
                failures: 5,
                open_for: Duration::from_millis(300),
            },
        )
        .unwrap();
        let workload = Workload::new("ps", point_select(1.0), backend.dialect(), 1).unwrap();
        let cfg = RunConfig {
            rate: 200.0,
            duration: Duration::from_secs(1),
            warmup: Duration::from_secs(1),
            sample_memory: false,
            on_measure_start: Some(stack.measure_start_hook()),
            ..RunConfig::default()
        };
        let outage = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            mock.set_down(true);
            tokio::time::sleep(Duration::from_millis(200)).await;
            mock.set_down(false);
        });
        let mut report = covet_loadtest::run(stack.adapter(), workload, cfg)
            .await
            .unwrap();
        outage.await.unwrap();
        // The breaker did open, in the warm-up.
        assert!(stack.openings.load(Ordering::Relaxed) >= 1);
        report.layers = Some(stack.report(&report));
        let layers = report.layers.as_ref().unwrap();
        assert_eq!(layers.breaker_openings, 0, "{layers:?}");
        assert!(layers.breaker_opened_by.is_empty(), "{layers:?}");
        assert_eq!(layers.retries, 0, "{layers:?}");
        assert_eq!(report.summary.errors, 0);
    }

    /// A slow measured statement is counted and named.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_measured_statements_are_counted_and_named() {
        let mock = MockAdapter::new().without_history();
        mock.set_delay(Duration::from_millis(120));
        let backend: Arc<dyn Adapter> = Arc::new(mock.clone());
        let stack = Stack::resilient(
            Arc::clone(&backend),
            Duration::from_millis(100),
            BreakerSettings::default(),
        )
        .unwrap();
        let workload = Workload::new("ps", point_select(1.0), backend.dialect(), 1).unwrap();
        let cfg = RunConfig {
            rate: 20.0,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            sample_memory: false,
            slow_threshold: Some(Duration::from_millis(100)),
            ..RunConfig::default()
        };
        let mut report = covet_loadtest::run(stack.adapter(), workload, cfg)
            .await
            .unwrap();
        report.layers = Some(stack.report(&report));
        let layers = report.layers.as_ref().unwrap();
        assert_eq!(layers.slow_statements, 20, "{layers:?}");
        assert_eq!(layers.slow_by_statement[0].name, "point_select");
        let text = report.to_text();
        assert!(
            text.contains("slow statements 20 (over 100 ms: point_select 20)"),
            "{text}"
        );
    }

    /// The counting layers sit above and below the retry layer: one failed
    /// attempt retried shows as one retry, and the statement succeeds.
    #[tokio::test]
    async fn a_retried_attempt_is_counted_as_one_retry() {
        let mock = MockAdapter::new().without_history();
        let stack = Stack::resilient(
            Arc::new(mock.clone()),
            Duration::from_secs(1),
            BreakerSettings::default(),
        )
        .unwrap();
        mock.fail_next(covet::Error::new(
            covet::ErrorKind::Connection,
            "refused before sending",
        ));
        let db = stack.adapter();
        db.query(&Statement::new("SELECT 1").idempotent(true))
            .await
            .unwrap();
        db.query(&Statement::new("SELECT 1").idempotent(true))
            .await
            .unwrap();
        let report = stack.counters();
        assert_eq!(report.retries, 1, "{report:?}");
        assert_eq!(mock.calls(), 3);
        assert_eq!(
            report.stack,
            ["retry", "circuit breaker", "slow-query log", "adapter"]
        );
    }

    /// Statements inside a transaction and a savepoint are counted (the
    /// hand-written adapter this replaced returned transactions unwrapped).
    #[tokio::test]
    async fn statements_in_transactions_and_savepoints_are_counted() {
        let counting = Counting::new(Arc::new(MockAdapter::new()));
        let db: Arc<dyn Adapter> = Arc::clone(&counting) as Arc<dyn Adapter>;
        let q = Statement::new("SELECT 1");
        db.query(&q).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute(&q).await.unwrap();
        let mut sp = tx.savepoint().await.unwrap();
        sp.query(&q).await.unwrap();
        drop(sp.query_stream(&q).await.unwrap());
        sp.commit().await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(counting.hooks().calls(), 4);
    }

    #[test]
    fn bad_breaker_settings_are_rejected() {
        assert!(
            BreakerSettings {
                failures: 0,
                ..BreakerSettings::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            BreakerSettings {
                open_for: Duration::ZERO,
                ..BreakerSettings::default()
            }
            .validate()
            .is_err()
        );
        BreakerSettings::default().validate().unwrap();
    }
}
