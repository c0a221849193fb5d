//! A server that stalls for one second in the middle of a fixed-rate run:
//! the open-loop runner keeps sending at the target and reports the stall as
//! latency; a closed-loop run (what locust does) hides it. tokio's paused
//! clock makes this exact and fast.

mod support;

use std::sync::Arc;
use std::time::Duration;

use covet_core::{Adapter, Dialect};
use covet_loadtest::{Mode, Pacer, RunConfig, Workload, point_select, run};
use support::MockAdapter;

const RATE: f64 = 1_000.0;

fn cfg(mode: Mode) -> RunConfig {
    RunConfig {
        rate: RATE,
        duration: Duration::from_secs(10),
        warmup: Duration::ZERO,
        max_in_flight: 5_000,
        pacer: Pacer::Tokio,
        mode,
        sample_memory: false,
        ..RunConfig::default()
    }
}

fn stalled_adapter() -> Arc<dyn Adapter> {
    // The run starts 5 ms after it is called; stall from 5 s to 6 s of it.
    let at = Duration::from_millis(5);
    MockAdapter::new(
        Duration::from_millis(1),
        Some((at + Duration::from_secs(5), at + Duration::from_secs(6))),
    )
}

#[tokio::test(start_paused = true)]
async fn open_loop_reports_the_stall_as_latency_and_keeps_the_rate() {
    let w = Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1).unwrap();
    let r = run(stalled_adapter(), w, cfg(Mode::OpenLoop))
        .await
        .unwrap();

    // Every scheduled statement was sent: the stall did not lower the rate.
    assert_eq!(r.summary.scheduled, 10_000);
    assert_eq!(r.summary.sent, 10_000);
    assert_eq!(r.summary.completed, 10_000);
    assert_eq!(r.summary.dropped, 0);
    assert!(
        (r.summary.sent_rate - RATE).abs() < 1.0,
        "{}",
        r.summary.sent_rate
    );

    // Statements scheduled at the start of the stall waited about 1 s.
    let l = &r.overall.latency;
    assert!(l.max_ms >= 995.0 && l.max_ms <= 1_010.0, "max {}", l.max_ms);
    // 1,000 of 10,000 statements fell in the stall with latencies spread
    // evenly over 0..1 s: p95 is about 0.5 s and p99 about 0.9 s.
    assert!((450.0..=560.0).contains(&l.p95_ms), "p95 {}", l.p95_ms);
    assert!((860.0..=960.0).contains(&l.p99_ms), "p99 {}", l.p99_ms);
    assert!(l.p50_ms < 2.0, "p50 {}", l.p50_ms);
    // Service time stayed short except for those that hit the stall.
    assert!(r.overall.service.p50_ms < 2.0);

    // The per-second series puts the stall in second 6.
    let sixth = &r.series[5];
    assert!(sixth.max_ms >= 995.0, "{sixth:?}");
    assert!(sixth.p50_ms >= 400.0, "{sixth:?}");
    assert!(r.series[2].p99_ms < 2.0, "{:?}", r.series[2]);
    // Nothing completed during the stall; the backlog completed at its end.
    assert!(sixth.completed < 50, "{sixth:?}");
}

#[tokio::test(start_paused = true)]
async fn closed_loop_hides_the_stall() {
    let w = Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1).unwrap();
    let r = run(
        stalled_adapter(),
        w,
        cfg(Mode::ClosedLoop { concurrency: 1 }),
    )
    .await
    .unwrap();
    // One worker waiting for each reply sent about 1,000 fewer statements...
    assert!(r.summary.sent < 9_200, "sent {}", r.summary.sent);
    assert!(r.summary.sent > 8_800, "sent {}", r.summary.sent);
    // ...and only one statement saw the stall, so the percentiles look fine.
    let l = &r.overall.latency;
    assert!(l.p99_ms < 2.0, "p99 {}", l.p99_ms);
    assert!(l.p999_ms < 2.0, "p99.9 {}", l.p999_ms);
    assert!(l.max_ms >= 990.0, "max {}", l.max_ms);
}

#[tokio::test(start_paused = true)]
async fn at_the_cap_statements_are_counted_late_or_dropped() {
    let adapter: Arc<dyn Adapter> = MockAdapter::new(Duration::from_millis(20), None);
    let base = RunConfig {
        rate: 1_000.0,
        duration: Duration::from_secs(2),
        warmup: Duration::ZERO,
        // 20 ms at 1,000/s needs 20 in flight; allow 10.
        max_in_flight: 10,
        pacer: Pacer::Tokio,
        sample_memory: false,
        ..RunConfig::default()
    };
    let w = Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1).unwrap();
    let drop = run(
        Arc::clone(&adapter),
        w,
        RunConfig {
            overload: covet_loadtest::Overload::Drop,
            ..base.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(drop.summary.scheduled, 2_000);
    assert!(drop.summary.dropped >= 900, "{:?}", drop.summary);
    assert_eq!(drop.summary.sent + drop.summary.dropped, 2_000);
    assert_eq!(drop.overall.dropped, drop.summary.dropped);

    let w = Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1).unwrap();
    let late = run(adapter, w, base).await.unwrap();
    assert_eq!(late.summary.sent, 2_000);
    assert_eq!(late.summary.dropped, 0);
    assert!(late.summary.late >= 1_900, "{:?}", late.summary);
    // Queued statements wait ever longer: their latency grows with the run.
    assert!(
        late.overall.latency.max_ms > 900.0,
        "{:?}",
        late.overall.latency
    );
    assert!(late.overall.service.max_ms < 25.0);
}

#[tokio::test(start_paused = true)]
async fn warmup_is_excluded_and_poisson_keeps_the_mean_rate() {
    let adapter: Arc<dyn Adapter> = MockAdapter::new(Duration::from_millis(1), None);
    let w = Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1).unwrap();
    let r = run(
        adapter,
        w,
        RunConfig {
            rate: 2_000.0,
            duration: Duration::from_secs(5),
            warmup: Duration::from_secs(1),
            arrival: covet_loadtest::Arrival::Poisson,
            pacer: Pacer::Tokio,
            sample_memory: false,
            ..RunConfig::default()
        },
    )
    .await
    .unwrap();
    assert!(
        (1_850..=2_150).contains(&r.summary.warmup_statements),
        "{:?}",
        r.summary
    );
    let sent = r.summary.sent as f64;
    assert!((sent - 10_000.0).abs() < 400.0, "{sent}");
    assert_eq!(r.series.len(), 5);
    assert_eq!(r.overall.count, r.summary.completed);
}
