//! The rule behind honest verdicts, over generated runs: whatever mix of
//! successes and failures (and whatever their latencies), latency figures
//! and latency objectives reflect the successful statements only, a latency
//! objective is never met without one, and the error rate and its bound
//! are exact.

mod support;

use std::time::Duration;

use covet_core::Dialect;
use covet_loadtest::{MaxErrorRate, Pacer, RunConfig, Slo, Workload, point_select, run};
use proptest::prelude::*;
use support::MockAdapter;

const CALLS: usize = 200;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn latency_verdicts_ignore_failures_and_the_error_bound_is_exact(
        script in prop::collection::vec((1u64..=80, any::<bool>()), 1..12),
        bound in 0.0f64..=100.0,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let adapter = rt.block_on(async {
            MockAdapter::scripted(
                script.iter().map(|(ms, f)| (Duration::from_millis(*ms), *f)).collect(),
            )
        });
        let cfg = RunConfig {
            rate: CALLS as f64,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            pacer: Pacer::Tokio,
            sample_memory: false,
            ..RunConfig::default()
        };
        let w = Workload::new("ps", point_select(1.0), Dialect::SQLITE, 1).unwrap();
        let r = rt.block_on(run(adapter, w, cfg)).unwrap();

        let expected_errors = (0..CALLS).filter(|i| script[i % script.len()].1).count() as u64;
        let ok = CALLS as u64 - expected_errors;
        prop_assert_eq!(r.summary.completed, CALLS as u64);
        prop_assert_eq!(r.summary.errors, expected_errors);
        prop_assert_eq!(r.overall.ok, ok);
        // Only successes are in the latency figures.
        prop_assert_eq!(r.overall.latency.count, ok);
        let pct = expected_errors as f64 / CALLS as f64 * 100.0;
        prop_assert!((r.summary.error_rate_pct - pct).abs() < 1e-9);

        let slowest_ok = script.iter().filter(|(_, f)| !f).map(|(ms, _)| *ms).max();
        for spec in ["p50<1s", "max<=100ms", "p99<10s"] {
            let o = spec.parse::<Slo>().unwrap().check(&r);
            prop_assert!((o.error_rate_pct - pct).abs() < 1e-9);
            match slowest_ok {
                // Every success took at most 80 ms: met, whatever the
                // failures did.
                Some(_) => prop_assert!(o.passed, "{}", o),
                None => {
                    prop_assert!(!o.passed, "{}", o);
                    prop_assert_eq!(o.over, 0);
                }
            }
        }
        if let Some(slowest) = slowest_ok {
            // The largest latency is that of the slowest success (the
            // clock is paused, so latency is exactly the scripted time).
            let max = r.overall.latency.max_ms;
            prop_assert!((max - slowest as f64).abs() <= slowest as f64 * 0.01 + 0.5,
                "max {} but slowest success {}", max, slowest);
            let tight: Slo = format!("max<{}ms", slowest).parse().unwrap();
            prop_assert!(!tight.check(&r).passed);
        }

        let check = MaxErrorRate::percent(bound).unwrap().check(&r);
        prop_assert_eq!(check.passed, pct <= bound);
        prop_assert!(MaxErrorRate::OFF.check(&r).passed);
    }
}
