//! `find_max` against a server of known capacity: four workers of 1 ms
//! each serve 4,000 statements per second and queue the rest. On tokio's
//! paused clock the search is exact and fast.

mod support;

use std::sync::Arc;
use std::time::Duration;

use covet_core::{Adapter, Dialect};
use covet_loadtest::{FindMaxConfig, Pacer, RunConfig, Slo, Workload, find_max, point_select};
use support::CapacityAdapter;

fn cfg(slo: &str) -> FindMaxConfig {
    FindMaxConfig {
        start_rate: 500.0,
        max_rate: 100_000.0,
        step_duration: Duration::from_secs(2),
        step_warmup: Duration::from_millis(500),
        slos: vec![slo.parse::<Slo>().unwrap()],
        run: RunConfig {
            pacer: Pacer::Tokio,
            sample_memory: false,
            max_in_flight: 100_000,
            ..RunConfig::default()
        },
        ..FindMaxConfig::default()
    }
}

fn workload() -> covet_loadtest::Result<Workload> {
    Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1)
}

#[tokio::test(start_paused = true)]
async fn finds_the_capacity_of_a_server_that_queues_above_it() {
    let adapter: Arc<dyn Adapter> = CapacityAdapter::new(4, Duration::from_millis(1));
    let r = find_max(adapter, workload, cfg("p95<10ms")).await.unwrap();
    let text = r.to_text();
    let max = r.max_rate.expect(&text);
    // Capacity is 4,000/s; within the 5 % resolution below it.
    assert!((3_800.0..=4_000.0).contains(&max), "{text}");
    let failed = r.first_failing_rate.expect(&text);
    assert!(failed > max && failed <= max * 1.05 + 1.0, "{text}");
    // Doubling from 500 first, then bisecting.
    let rates: Vec<f64> = r.steps.iter().map(|s| s.rate).collect();
    assert_eq!(
        &rates[..5],
        &[500.0, 1_000.0, 2_000.0, 4_000.0, 8_000.0],
        "{text}"
    );
    assert!(r.steps[5..].iter().all(|s| s.phase == "bisect"), "{text}");
    assert!(r.steps[4].p95_ms > 10.0 && !r.steps[4].passed, "{text}");
    assert!(
        r.steps[..4].iter().all(|s| s.passed && s.p95_ms < 10.0),
        "{text}"
    );
    assert!(
        text.contains(&format!("highest rate meeting p95<10ms: {max:.0}/s")),
        "{text}"
    );
    let best = r.best.as_ref().unwrap();
    assert_eq!(best.meta.target_rate, max);
    let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(json["max_rate"].as_f64(), Some(max));
    assert_eq!(json["steps"].as_array().unwrap().len(), r.steps.len());
}

#[tokio::test(start_paused = true)]
async fn a_start_rate_above_capacity_halves_down_first() {
    let adapter: Arc<dyn Adapter> = CapacityAdapter::new(1, Duration::from_millis(2));
    let mut c = cfg("p99<20ms");
    c.start_rate = 2_000.0;
    let r = find_max(adapter, workload, c).await.unwrap();
    let text = r.to_text();
    // 500/s capacity: 2000 and 1000 miss, 500 meets, then bisect.
    assert_eq!(r.steps[0].rate, 2_000.0, "{text}");
    assert_eq!(r.steps[1].rate, 1_000.0, "{text}");
    let max = r.max_rate.expect(&text);
    assert!((470.0..=500.0).contains(&max), "{text}");
}

#[test]
fn an_objective_is_required() {
    let mut c = cfg("p95<10ms");
    c.slos.clear();
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("needs an objective"), "{e}");
}
