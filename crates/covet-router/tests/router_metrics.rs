//! The documented metrics, with exact values, over mock targets.

mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use covet_core::{Adapter, Statement};
use covet_router::Router;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use support::mock::Mock;

#[tokio::test]
async fn routed_reads_ejections_lag_and_failovers_are_exported_per_target() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let p = Mock::new("p", false);
    let (a, b) = (Mock::new("a", true), Mock::new("b", true));
    // Handles are registered with the recorder current at build time.
    let r = metrics::with_local_recorder(&recorder, || {
        Router::builder()
            .primary("p", p.clone())
            .replica("a", a.clone(), 1)
            .replica("b", b.clone(), 1)
            .check_interval(Duration::from_secs(3600))
            .failover(true)
            .build()
            .unwrap()
    });
    r.check_now().await;
    b.paused.store(true, Ordering::Relaxed);
    r.check_now().await;
    for _ in 0..7 {
        r.reader()
            .query(&Statement::new("SELECT 1").idempotent(true))
            .await
            .unwrap();
    }
    r.execute(&Statement::new("INSERT")).await.unwrap();
    p.in_recovery.store(true, Ordering::Relaxed);
    a.in_recovery.store(false, Ordering::Relaxed);
    r.check_now().await;

    let mut values: HashMap<(String, String), DebugValue> = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let target = key
            .labels()
            .find(|l| l.key() == "target")
            .map(|l| l.value().to_owned())
            .unwrap_or_default();
        values.insert((key.name().to_owned(), target), value);
    }
    let get = |name: &str, target: &str| values.get(&(name.to_owned(), target.to_owned()));
    assert_eq!(
        get("covet_router_routed_total", "a"),
        Some(&DebugValue::Counter(7))
    );
    assert_eq!(
        get("covet_router_routed_total", "p"),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        get("covet_router_ejections_total", "b"),
        Some(&DebugValue::Counter(1))
    );
    assert!(matches!(
        get("covet_router_replica_ejected", "b"),
        Some(DebugValue::Gauge(v)) if v.into_inner() == 1.0
    ));
    assert!(matches!(
        get("covet_router_replica_lag_seconds", "a"),
        Some(DebugValue::Gauge(_))
    ));
    assert_eq!(
        get("covet_router_failovers_total", ""),
        Some(&DebugValue::Counter(1))
    );
}
