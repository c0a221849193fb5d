//! Ramping stages (k6's ramping-arrival-rate): the schedule follows the
//! stages' linear ramps second by second, and a run's per-second series
//! and stage table show each stage.

mod support;

use std::time::Duration;

use covet_core::Dialect;
use covet_loadtest::{Arrival, Pacer, RunConfig, Schedule, Stage, Workload, point_select, run};
use support::MockAdapter;

/// Intended starts per whole second of `schedule`, for `secs` seconds.
fn per_second(mut schedule: Schedule, secs: usize) -> Vec<u64> {
    let mut counts = vec![0u64; secs];
    while let Some(t) = schedule.next_offset() {
        let i = t.as_secs() as usize;
        assert!(i < secs, "an offset past the last stage: {t:?}");
        counts[i] += 1;
    }
    counts
}

#[test]
fn constant_arrivals_follow_the_linear_ramps() {
    // 0 -> 1000 over 3 s, 1000 for 2 s, 1000 -> 0 over 2 s.
    let stages = Stage::parse_list("3s:1000,2s:1000,2s:0").unwrap();
    let s = Schedule::ramping(Arrival::Constant, 0.0, Duration::ZERO, &stages, 1);
    let got = per_second(s.clone(), 7);
    // The integral of the rate over each second.
    let want = [166.7, 500.0, 833.3, 1000.0, 1000.0, 750.0, 250.0];
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((*g as f64 - w).abs() <= 1.0, "second {}: {got:?}", i + 1);
        let planned = s.planned_between(
            Duration::from_secs(i as u64),
            Duration::from_secs(i as u64 + 1),
        );
        assert!(
            (planned - w).abs() < 0.1,
            "second {}: planned {planned}",
            i + 1
        );
    }
    assert_eq!(got.iter().sum::<u64>(), 4_500);
}

#[test]
fn a_lead_in_runs_at_the_start_rate_before_the_stages() {
    let stages = Stage::parse_list("2s:400").unwrap();
    let s = Schedule::ramping(Arrival::Constant, 200.0, Duration::from_secs(1), &stages, 1);
    let got = per_second(s, 3);
    // 1 s at 200, then 200 -> 400 over 2 s: 250 and 350.
    for (g, w) in got.iter().zip([200.0, 250.0, 350.0]) {
        assert!((*g as f64 - w).abs() <= 1.0, "{got:?}");
    }
}

#[test]
fn poisson_arrivals_follow_the_ramps_within_their_noise() {
    let stages = Stage::parse_list("4s:4000,4s:0").unwrap();
    let s = Schedule::ramping(Arrival::Poisson, 0.0, Duration::ZERO, &stages, 7);
    let got = per_second(s, 8);
    let want: [f64; 8] = [500.0, 1500.0, 2500.0, 3500.0, 3500.0, 2500.0, 1500.0, 500.0];
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        // Poisson noise is sqrt(n): 5 standard deviations.
        let tol = 5.0 * w.sqrt();
        assert!((*g as f64 - w).abs() <= tol, "second {}: {got:?}", i + 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_run_reports_each_stage_and_each_seconds_target() {
    let adapter = MockAdapter::new(Duration::from_millis(1), None);
    let w = Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1).unwrap();
    let cfg = RunConfig {
        rate: 100.0,
        stages: Stage::parse_list("2s:500,2s:500,1s:0").unwrap(),
        warmup: Duration::from_secs(1),
        pacer: Pacer::Tokio,
        sample_memory: false,
        ..RunConfig::default()
    };
    let r = run(adapter, w, cfg).await.unwrap();
    assert_eq!(r.meta.planned_duration_s, 5.0);
    assert_eq!(r.meta.target_rate, 500.0);
    assert_eq!(
        r.meta.stages.as_deref(),
        Some("2s:500,2s:500,1s:0 from 100/s")
    );
    assert_eq!(r.summary.warmup_statements, 100);
    assert_eq!(r.series.len(), 5);
    let stages: Vec<Option<u32>> = r.series.iter().map(|p| p.stage).collect();
    assert_eq!(stages, [Some(1), Some(1), Some(2), Some(2), Some(3)]);
    // 100 -> 500 over 2 s: 200 then 400; 500, 500; 500 -> 0 over 1 s: 250.
    for (p, want) in r.series.iter().zip([200.0, 400.0, 500.0, 500.0, 250.0]) {
        assert!((p.target.unwrap() - want).abs() < 0.5, "{p:?}");
        assert!((p.sent as f64 - want).abs() <= 1.0, "{p:?}");
    }
    assert_eq!(r.stages.len(), 3);
    assert_eq!(r.stages[0].planned, 600);
    assert_eq!(r.stages[1].planned, 1000);
    assert_eq!(r.stages[2].planned, 250);
    assert_eq!((r.stages[0].from_rate, r.stages[0].to_rate), (100.0, 500.0));
    assert_eq!(r.summary.scheduled, 1850);
    let text = r.to_text();
    assert!(
        text.contains("stages (seconds of the measured period"),
        "{text}"
    );
    assert!(text.contains("100 -> 500"), "{text}");
}

#[test]
fn stages_are_checked_before_running() {
    let bad = RunConfig {
        rate: 0.0,
        stages: Stage::parse_list("2s:0").unwrap(),
        ..RunConfig::default()
    };
    let e = bad.validate().unwrap_err().to_string();
    assert!(e.contains("send nothing"), "{e}");
    let closed = RunConfig {
        stages: Stage::parse_list("2s:10").unwrap(),
        mode: covet_loadtest::Mode::ClosedLoop { concurrency: 2 },
        ..RunConfig::default()
    };
    assert!(closed.validate().is_err());
}
