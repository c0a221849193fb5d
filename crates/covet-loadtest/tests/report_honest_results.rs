//! Honest results: latency objectives judge successful statements only,
//! the error rate is bounded by default, and a stopped run still reports
//! what it measured. tokio's paused clock makes the runs exact and fast.

mod support;

use std::time::Duration;

use covet_core::Dialect;
use covet_loadtest::{MaxErrorRate, Pacer, RunConfig, Slo, Stop, Workload, point_select, run};
use support::MockAdapter;

fn cfg() -> RunConfig {
    RunConfig {
        rate: 100.0,
        duration: Duration::from_secs(5),
        warmup: Duration::ZERO,
        pacer: Pacer::Tokio,
        sample_memory: false,
        ..RunConfig::default()
    }
}

fn workload() -> Workload {
    Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_run_where_every_statement_fails_meets_no_latency_objective() {
    let mut r = run(
        MockAdapter::failing(Duration::from_millis(1), 1),
        workload(),
        cfg(),
    )
    .await
    .unwrap();
    assert_eq!(r.summary.completed, 500);
    assert_eq!(r.summary.errors, 500);
    assert_eq!(r.summary.error_rate_pct, 100.0);
    // No successful statement: no latency figure at all.
    assert_eq!(r.overall.latency.count, 0);
    assert_eq!(r.overall.latency.p95_ms, 0.0);

    for spec in ["p95<1s", "max<=10s", "p50<1ms"] {
        let o = spec.parse::<Slo>().unwrap().check(&r);
        assert!(!o.passed, "{spec} passed on a run of failures: {o}");
        assert!(o.actual.starts_with("n/a"), "{o}");
        assert_eq!(o.over, 0);
        assert_eq!(o.error_rate_pct, 100.0);
        r.slo.push(o);
    }
    assert!(!r.slo_passed());

    // Without any --slo the default bound fails the run.
    r.error_rate = Some(MaxErrorRate::default().check(&r));
    assert!(!r.error_rate_passed());
    let text = r.to_text();
    assert!(
        text.contains("error rate 100.000% (500 of 500 completed; at most 1%: EXCEEDED)"),
        "{text}"
    );
    assert!(text.contains("SLO p95<1s: MISSED (actual n/a (no successful statement) over 0 successful; error rate 100.000%)"), "{text}");
    assert!(r.to_json().contains("\"error_rate_pct\": 100.0"));
    let agg = r.to_csv().lines().last().unwrap().to_string();
    assert!(
        agg.starts_with(",Aggregated,500,500,") && agg.ends_with(",100.000,5.000,false"),
        "{agg}"
    );
    let html = r.to_html();
    assert!(html.contains("EXCEEDED") && html.contains("n/a (no successful statement)"));

    // Turned off, the bound passes whatever the errors.
    assert!(MaxErrorRate::OFF.check(&r).passed);
}

#[tokio::test(start_paused = true)]
async fn latency_is_that_of_successes_and_the_bound_is_settable() {
    // One statement in ten fails: 10 % errors.
    let r = run(
        MockAdapter::failing(Duration::from_millis(2), 10),
        workload(),
        cfg(),
    )
    .await
    .unwrap();
    assert_eq!(r.summary.errors, 50);
    assert!((r.summary.error_rate_pct - 10.0).abs() < 1e-9);
    assert_eq!(r.overall.ok, 450);
    assert_eq!(
        r.overall.latency.count, 450,
        "failures were recorded as latency"
    );
    let o = "p95<10ms".parse::<Slo>().unwrap().check(&r);
    assert!(o.passed, "{o}");
    assert_eq!(o.over, 450);
    assert!(o.to_string().contains("error rate 10.000%"), "{o}");

    assert!(!MaxErrorRate::default().check(&r).passed);
    assert!(!"5%".parse::<MaxErrorRate>().unwrap().check(&r).passed);
    assert!("10%".parse::<MaxErrorRate>().unwrap().check(&r).passed);
    assert!("off".parse::<MaxErrorRate>().unwrap().check(&r).passed);
    for bad in ["5", "101%", "-1%", "x%", ""] {
        assert!(bad.parse::<MaxErrorRate>().is_err(), "{bad}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_stopped_run_reports_what_it_measured() {
    let stop = Stop::default();
    let trigger = stop.clone();
    let cfg = RunConfig {
        duration: Duration::from_secs(60),
        warmup: Duration::from_secs(1),
        stop: Some(stop),
        ..cfg()
    };
    tokio::spawn(async move {
        // 1 s of warm-up, then 3 s measured.
        tokio::time::sleep(Duration::from_millis(4_005)).await;
        trigger.stop();
    });
    let r = run(
        MockAdapter::new(Duration::from_millis(1), None),
        workload(),
        cfg,
    )
    .await
    .unwrap();
    assert_eq!(r.meta.interrupted.as_deref(), Some("stopped"));
    assert!(
        (r.meta.duration_s - 3.0).abs() < 0.01,
        "{}",
        r.meta.duration_s
    );
    assert_eq!(r.meta.planned_duration_s, 60.0);
    assert!((299..=301).contains(&r.summary.sent), "{}", r.summary.sent);
    assert_eq!(r.summary.completed, r.summary.sent);
    assert!(
        (r.summary.sent_rate - 100.0).abs() < 1.0,
        "{}",
        r.summary.sent_rate
    );
    assert_eq!(r.series.len(), 3);
    assert!(r.summary.elapsed_s < 5.0, "{}", r.summary.elapsed_s);
    assert!(
        r.to_text()
            .contains("INTERRUPTED (stopped) after 3.0 s of the 60 s planned")
    );
    let agg = r.to_csv().lines().last().unwrap().to_string();
    assert!(agg.ends_with(",3.000,true"), "{agg}");
    assert!(
        r.to_html()
            .contains("Interrupted (stopped) after 3.0 s of the 60 s planned")
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_stopped_during_its_warm_up_reports_nothing_measured() {
    let stop = Stop::default();
    stop.stop();
    let cfg = RunConfig {
        warmup: Duration::from_secs(2),
        stop: Some(stop),
        ..cfg()
    };
    let r = run(
        MockAdapter::new(Duration::from_millis(1), None),
        workload(),
        cfg,
    )
    .await
    .unwrap();
    assert!(r.meta.interrupted.is_some());
    assert_eq!(r.meta.duration_s, 0.0);
    assert_eq!(r.summary.sent, 0);
    assert_eq!(r.summary.sent_rate, 0.0);
    assert!(r.series.is_empty());
    assert!(r.to_json().contains("\"interrupted\": \"stopped\""));
}

#[test]
fn bad_arguments_are_caught_without_running() {
    for (cfg, why) in [
        (
            RunConfig {
                rate: 0.0,
                ..RunConfig::default()
            },
            "rate",
        ),
        (
            RunConfig {
                duration: Duration::ZERO,
                ..RunConfig::default()
            },
            "duration",
        ),
        (
            RunConfig {
                max_in_flight: 0,
                ..RunConfig::default()
            },
            "cap",
        ),
    ] {
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains(why), "{e}");
    }
    RunConfig::default().validate().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_precise_dispatcher_sees_a_stop_between_slow_ticks() {
    // At 2/s the dispatcher thread sleeps 500 ms between statements; a stop
    // must not wait for the run's 60 s, nor for the next tick.
    let stop = Stop::default();
    let trigger = stop.clone();
    let cfg = RunConfig {
        rate: 2.0,
        duration: Duration::from_secs(60),
        warmup: Duration::ZERO,
        pacer: Pacer::Precise,
        sample_memory: false,
        stop: Some(stop),
        ..RunConfig::default()
    };
    let t0 = std::time::Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        trigger.stop();
    });
    let r = run(
        MockAdapter::new(Duration::from_millis(1), None),
        workload(),
        cfg,
    )
    .await
    .unwrap();
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(1_500), "{took:?}");
    assert!(r.meta.interrupted.is_some());
    assert_eq!(r.summary.sent, 3, "{:?}", r.summary);
}
