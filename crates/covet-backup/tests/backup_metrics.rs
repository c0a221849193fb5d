//! `create_backup` exports what the backup alert and dashboard read: the
//! last success time, duration and size per database, and failures.

use std::sync::Arc;

use covet_backup::*;
use covet_core::{Adapter, Statement};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_sets_the_gauges_and_a_failure_counts() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("src.db").display())
        .parse()
        .unwrap();
    let db: Arc<dyn Adapter> = Arc::new(
        covet_adapter_sqlite::SqliteAdapter::connect(&url)
            .await
            .unwrap(),
    );
    db.execute(&Statement::new(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
    ))
    .await
    .unwrap();
    db.execute(&Statement::new("INSERT INTO t (v) VALUES ('a'), ('b')"))
        .await
        .unwrap();
    let sink = LocalDirSink::new(dir.path().join("backups"));
    let before = chrono::Utc::now().timestamp() as f64 - 1.0;
    let opts = || {
        CreateOptions::new(WriteOptions {
            compression: Compression::None,
            encryption: Encryption::None,
            chunk_size: 1024,
        })
    };
    let entry = create_backup(db.clone(), "src", &sink, opts())
        .await
        .unwrap();
    // The same name again is refused: a failure.
    let mut again = opts();
    again.name = Some(entry.name.clone());
    assert!(create_backup(db, "src", &sink, again).await.is_err());

    let mut seen = std::collections::HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let k = key.key();
        if !k.name().starts_with("covet_backup_") {
            continue; // the adapter's pool metrics
        }
        assert!(
            k.labels()
                .any(|l| l.key() == "database" && l.value() == "src"),
            "{k:?}"
        );
        let v = match value {
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Counter(c) => c as f64,
            DebugValue::Histogram(_) => continue,
        };
        seen.insert(k.name().to_owned(), v);
    }
    assert!(seen["covet_backup_last_success_timestamp_seconds"] >= before);
    assert!(seen["covet_backup_last_duration_seconds"] > 0.0);
    assert_eq!(seen["covet_backup_last_size_bytes"], entry.size as f64);
    assert_eq!(seen["covet_backup_failures_total"], 1.0);
}
