//! The documented metric names are exported with exact values.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use covet_pool::{Pool, metric_names};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use support::TestManager;
use tokio::time::sleep;

#[tokio::test(start_paused = true)]
async fn metrics_are_exported_under_their_documented_names() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let (m, _) = TestManager::new();
    // Handles are registered with the recorder current at build time.
    let pool = metrics::with_local_recorder(&recorder, || {
        Pool::builder(m)
            .name("orders")
            .max_size(1)
            .housekeeping_interval(Duration::from_millis(100))
            .build()
            .unwrap()
    });
    let held = pool.get().await.unwrap();
    let p = pool.clone();
    let waiter = tokio::spawn(async move { drop(p.get().await.unwrap()) });
    sleep(Duration::from_millis(10)).await;
    drop(held);
    waiter.await.unwrap();
    pool.get().await.unwrap().discard();
    sleep(Duration::from_millis(250)).await; // a housekeeping pass publishes

    let mut values: HashMap<(String, Vec<(String, String)>), DebugValue> = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        values.insert((key.name().to_owned(), labels), value);
    }
    let pool_label = || vec![("pool".to_owned(), "orders".to_owned())];
    let counter = |name: &str| match values.get(&(name.to_owned(), pool_label())) {
        Some(DebugValue::Counter(v)) => *v,
        other => panic!("{name}: {other:?}"),
    };
    let gauge = |name: &str| match values.get(&(name.to_owned(), pool_label())) {
        Some(DebugValue::Gauge(v)) => v.into_inner(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(counter(metric_names::CREATED), 1);
    assert_eq!(counter(metric_names::ACQUIRED), 3);
    assert_eq!(counter(metric_names::RELEASED), 3);
    assert_eq!(
        counter(metric_names::WAITS),
        2,
        "the first create and the queued get"
    );
    assert_eq!(counter(metric_names::TIMEOUTS), 0);
    let discarded = values.get(&(
        metric_names::CLOSED.to_owned(),
        vec![
            ("pool".to_owned(), "orders".to_owned()),
            ("reason".to_owned(), "discarded".to_owned()),
        ],
    ));
    assert!(
        matches!(discarded, Some(DebugValue::Counter(1))),
        "{discarded:?}"
    );
    assert_eq!(gauge(metric_names::SIZE), 0.0);
    assert_eq!(gauge(metric_names::MAX_SIZE), 1.0);
    match values.get(&(metric_names::WAIT_SECONDS.to_owned(), pool_label())) {
        Some(DebugValue::Histogram(h)) => assert_eq!(h.len(), 2, "one sample per wait"),
        other => panic!("wait histogram: {other:?}"),
    }
}
