//! The monitoring layers see every statement: inside a transaction and
//! inside a savepoint as well as outside, on SQLite.
//!
//! Before covet-core's `Layered` wrapper, `MetricsAdapter` returned the
//! inner transaction unwrapped (nothing in it was timed or counted) and
//! the slow log passed savepoints through unwrapped.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use covet_core::{Adapter, DatabaseUrl, Layer, Statement};
use covet_monitor::{MetricsLayer, PlanRequest, QueryEvent, SlowLog, SlowLogLayer};
use futures_util::StreamExt;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// One recorder for the whole test binary (a global can be set once).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        PrometheusBuilder::new()
            .install_recorder()
            .expect("install the prometheus recorder")
    })
}

async fn sqlite(dir: &tempfile::TempDir) -> Arc<dyn Adapter> {
    let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("t.db").display()))
        .expect("sqlite url");
    let a = covet_adapter_sqlite::SqliteAdapter::connect(&url)
        .await
        .expect("open sqlite");
    a.execute(&Statement::new(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)",
    ))
    .await
    .expect("create table");
    Arc::new(a)
}

/// Runs one statement of each interesting kind inside a transaction and
/// inside a savepoint of it, then commits both.
async fn statements_in_tx_and_savepoint(db: &dyn Adapter) {
    let mut tx = db.begin().await.expect("begin");
    tx.execute(&Statement::new("INSERT INTO t (id, v) VALUES (1, 10)"))
        .await
        .expect("insert in tx");
    {
        let mut sp = tx.savepoint().await.expect("savepoint");
        sp.execute(&Statement::new("UPDATE t SET v = 11 WHERE id = 1"))
            .await
            .expect("update in savepoint");
        let rows: Vec<_> = sp
            .query_stream(&Statement::new("SELECT v FROM t WHERE id = 1"))
            .await
            .expect("stream in savepoint")
            .collect()
            .await;
        assert_eq!(rows.len(), 1);
        assert!(
            sp.query(&Statement::new("SELECT * FROM no_such_table"))
                .await
                .is_err()
        );
        sp.commit().await.expect("release savepoint");
    }
    tx.commit().await.expect("commit");
}

/// The value of a Prometheus sample whose name and labels all match.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_and_time_statements_in_transactions_and_savepoints() {
    let handle = recorder();
    let dir = tempfile::tempdir().unwrap();
    let db = MetricsLayer::new().layer(sqlite(&dir).await);
    statements_in_tx_and_savepoint(&*db).await;

    let text = handle.render();
    let count = |op: &str| {
        sample(
            &text,
            "covet_query_duration_seconds_count",
            &["engine=\"sqlite\"", &format!("operation=\"{op}\"")],
        )
    };
    assert_eq!(count("insert"), 1.0, "insert in the transaction:\n{text}");
    assert_eq!(count("update"), 1.0, "update in the savepoint:\n{text}");
    assert_eq!(
        count("select"),
        2.0,
        "stream and query in the savepoint:\n{text}"
    );
    assert_eq!(count("begin"), 1.0, "{text}");
    assert_eq!(
        count("commit"),
        2.0,
        "savepoint release and commit:\n{text}"
    );
    let errors = sample(
        &text,
        "covet_query_errors_total",
        &["engine=\"sqlite\"", "operation=\"select\""],
    );
    assert_eq!(errors, 1.0, "the failed select in the savepoint:\n{text}");
}

/// A slow log that records every statement it is shown.
#[derive(Default)]
struct Everything(Mutex<Vec<String>>);

impl SlowLog for Everything {
    fn threshold(&self) -> Duration {
        Duration::ZERO
    }
    fn observe(&self, event: &QueryEvent<'_>) -> Option<PlanRequest> {
        self.0.lock().unwrap().push(event.stmt.sql().to_owned());
        None
    }
    fn record_plan(&self, _: u64, _: &str, _: bool) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_log_sees_statements_in_transactions_and_savepoints() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(Everything::default());
    let db = SlowLogLayer::new(log.clone()).layer(sqlite(&dir).await);
    statements_in_tx_and_savepoint(&*db).await;
    let seen = log.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "INSERT INTO t (id, v) VALUES (1, 10)",
            "UPDATE t SET v = 11 WHERE id = 1",
            "SELECT v FROM t WHERE id = 1",
            "SELECT * FROM no_such_table",
        ],
    );
}
