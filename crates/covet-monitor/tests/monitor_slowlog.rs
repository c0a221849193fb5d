//! The slow-query logger, its layer, the JSON-lines sink and the report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use covet_core::{Adapter, Engine, Statement};
use covet_monitor::report::{RankBy, load, render_json, render_table, summarize};
use covet_monitor::{
    JsonLinesSink, MemorySink, PlanCapture, QueryEvent, Redaction, SlowLog, SlowQueryLogger,
    SlowRecord,
};
use covet_resilience::testing::MockAdapter;

fn event(stmt: &Statement, ms: u64) -> QueryEvent<'_> {
    QueryEvent {
        engine: Engine::Postgres,
        stmt,
        elapsed: Duration::from_millis(ms),
        error: None,
        rows: Some(1),
    }
}

#[test]
fn per_fingerprint_statistics() {
    let log = SlowQueryLogger::builder()
        .threshold(Duration::from_millis(100))
        .plan_capture(PlanCapture::disabled())
        .build();
    for (i, ms) in (1..=100u64).map(|i| (i, 100 + i)).collect::<Vec<_>>() {
        let s = Statement::new(format!("SELECT * FROM users WHERE id = {i}"));
        log.observe(&event(&s, ms));
    }
    let fast = Statement::new("SELECT 1");
    for _ in 0..1000 {
        assert_eq!(log.observe(&event(&fast, 99)), None);
    }
    let snap = log.snapshot();
    assert_eq!(snap.fingerprints.len(), 1, "fast statements were recorded");
    let f = &snap.fingerprints[0];
    assert_eq!(f.calls, 100);
    assert_eq!(f.max, Duration::from_millis(200));
    assert_eq!(f.total, Duration::from_millis((101..=200).sum()));
    assert_eq!(f.mean, Duration::from_micros(150_500));
    // One significant digit: within 1/16 of the true value.
    let near = |got: Duration, want: u64| {
        let want = Duration::from_millis(want);
        got.abs_diff(want) <= want / 16
    };
    assert!(near(f.p50, 150), "{:?}", f.p50);
    assert!(near(f.p95, 195), "{:?}", f.p95);
    assert!(near(f.p99, 199), "{:?}", f.p99);
    assert_eq!(snap.slowest.len(), 20);
    assert_eq!(snap.slowest[0].elapsed, Duration::from_millis(200));
    assert!(
        snap.slowest
            .windows(2)
            .all(|w| w[0].elapsed >= w[1].elapsed)
    );
}

#[test]
fn most_frequent_fingerprints() {
    let log = SlowQueryLogger::builder()
        .threshold(Duration::ZERO)
        .plan_capture(PlanCapture::disabled())
        .build();
    for (sql, n) in [
        ("SELECT a FROM t", 5),
        ("SELECT b FROM t", 9),
        ("SELECT c FROM t", 1),
    ] {
        let s = Statement::new(sql);
        for _ in 0..n {
            log.observe(&event(&s, 1));
        }
    }
    let snap = log.snapshot();
    let top: Vec<_> = snap.most_frequent(2).iter().map(|f| f.calls).collect();
    assert_eq!(top, vec![9, 5]);
}

#[test]
fn a_million_distinct_statements_stay_within_capacity() {
    let capacity = 500;
    let log = SlowQueryLogger::builder()
        .threshold(Duration::ZERO)
        .capacity(capacity)
        .top_n(10)
        .metrics_top_k(0)
        .plan_capture(PlanCapture::disabled())
        .build();
    let bound = log.memory_bound();
    let n = 1_000_000u64;
    for i in 0..n {
        let s = Statement::new(format!("SELECT c FROM t{i} WHERE id = {i}"));
        log.observe(&event(&s, 1 + i % 7));
        if i % 100_000 == 0 {
            assert!(log.len() <= capacity);
            assert!(log.memory_used() <= bound);
        }
    }
    assert_eq!(log.len(), capacity);
    assert_eq!(log.evictions(), n - capacity as u64);
    assert!(
        log.memory_used() <= bound,
        "{} > {}",
        log.memory_used(),
        bound
    );
    assert_eq!(log.snapshot().slowest.len(), 10);
}

#[test]
fn redaction_none_keeps_no_text() {
    let sink = Arc::new(MemorySink::default());
    let log = SlowQueryLogger::builder()
        .threshold(Duration::ZERO)
        .redaction(Redaction::None)
        .sink(sink.clone())
        .plan_capture(PlanCapture::disabled())
        .build();
    let s = Statement::new("SELECT * FROM users WHERE email = 'bob@example.com'");
    log.observe(&event(&s, 5));
    assert_eq!(log.snapshot().fingerprints[0].text, None);
    let recs = sink.records();
    let line = serde_json::to_string(&recs).unwrap();
    assert!(!line.contains("bob@"), "{line}");
    assert!(!line.contains("users"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_update_through_the_stack_is_logged_with_a_plan_and_runs_once() {
    let mock = MockAdapter::new();
    mock.set_delay(Duration::from_millis(30));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.jsonl");
    let sink = Arc::new(JsonLinesSink::open(&path).unwrap());
    let log = Arc::new(
        SlowQueryLogger::builder()
            .threshold(Duration::from_millis(20))
            .sink(sink.clone())
            .build(),
    );
    let db = covet::stack(Arc::new(mock.clone()))
        .timeout(Duration::from_secs(5))
        .retry(covet_resilience::RetryPolicy::default())
        .slow_log(log.clone())
        .build();
    let update = Statement::new("UPDATE accounts SET n = n + 1 WHERE id = $1").bind(7_i64);
    db.execute(&update).await.unwrap();
    db.execute(&update).await.unwrap();
    // The plan arrives from a spawned task: poll with a deadline.
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.snapshot().fingerprints[0].plan.is_none() {
        assert!(Instant::now() < deadline, "no plan captured");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ran = mock.executed();
    let updates = ran.iter().filter(|s| s.starts_with("UPDATE")).count();
    let explains: Vec<_> = ran.iter().filter(|s| s.starts_with("EXPLAIN")).collect();
    assert_eq!(updates, 2, "{ran:?}");
    // Once per fingerprint per interval, and never ANALYZE for a write.
    assert_eq!(
        explains,
        vec!["EXPLAIN (FORMAT TEXT) UPDATE accounts SET n = n + 1 WHERE id = $1"]
    );

    sink.flush();
    let records = load(&path).unwrap();
    assert!(records.iter().any(|r| matches!(r, SlowRecord::Plan { .. })));
    let rows = summarize(&records, RankBy::Total, 10);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].calls, 2);
    assert_eq!(
        rows[0].text.as_deref(),
        Some("update accounts set n = n + ? where id = ?")
    );
    assert!(rows[0].plan.is_some());
    let table = render_table(&rows);
    assert!(table.contains("update accounts"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&render_json(&rows)).unwrap();
    assert_eq!(json[0]["calls"], 2);
}

#[test]
fn report_ranks_by_each_key() {
    let q = |fp: &str, ms: f64| SlowRecord::Query {
        ts_ms: 0,
        engine: "postgresql".into(),
        fingerprint: fp.into(),
        operation: "select".into(),
        elapsed_ms: ms,
        text: Some(format!("select {fp}")),
        params: None,
        label: None,
        rows: None,
        error: None,
    };
    let recs = vec![
        q("a", 500.0),
        q("b", 150.0),
        q("b", 150.0),
        q("b", 150.0),
        q("c", 300.0),
        q("c", 300.0),
    ];
    let first = |by| summarize(&recs, by, 10)[0].fingerprint.clone();
    assert_eq!(first(RankBy::Total), "c");
    assert_eq!(first(RankBy::Count), "b");
    assert_eq!(first(RankBy::Max), "a");
    assert_eq!(first(RankBy::Mean), "a");
    assert_eq!(summarize(&recs, RankBy::Total, 2).len(), 2);
    assert!("median".parse::<RankBy>().is_err());
}

#[test]
fn report_names_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, "\n{\"type\":\"plan\",\"ts_ms\":1,\"fingerprint\":\"a\",\"plan\":\"x\",\"analyzed\":false}\nnot json\n").unwrap();
    let e = load(&path).unwrap_err().to_string();
    assert!(e.contains(":3:"), "{e}");
}

#[tokio::test]
async fn stack_keeps_engine_and_works_over_any_adapter() {
    for engine in [Engine::Postgres, Engine::MySql, Engine::Sqlite] {
        let mock = MockAdapter::with_engine(engine);
        let db: Arc<dyn Adapter> = covet::stack(Arc::new(mock.clone()))
            .timeout(Duration::from_secs(1))
            .retry(covet_resilience::RetryPolicy::default())
            .breaker(Arc::new(
                covet_resilience::CircuitBreaker::builder().build().unwrap(),
            ))
            .slow_log(Arc::new(SlowQueryLogger::default()))
            .metrics(covet_monitor::MetricsLayer::new())
            .build();
        assert_eq!(db.engine(), engine);
        db.query(&Statement::new("SELECT 1")).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute(&Statement::new("INSERT INTO t VALUES (1)"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(
            mock.executed()
                .contains(&"INSERT INTO t VALUES (1)".to_owned())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_only_for_read_only_selects() {
    let mock = MockAdapter::new();
    mock.set_delay(Duration::from_millis(25));
    let log = Arc::new(
        SlowQueryLogger::builder()
            .threshold(Duration::from_millis(20))
            .plan_capture(PlanCapture {
                analyze: true,
                ..PlanCapture::default()
            })
            .build(),
    );
    let db = covet::stack(Arc::new(mock.clone()))
        .slow_log(log.clone())
        .build();
    db.query(&Statement::new("SELECT * FROM t WHERE a = 1"))
        .await
        .unwrap();
    db.execute(&Statement::new("DELETE FROM t WHERE a = 1"))
        .await
        .unwrap();
    db.query(&Statement::new("SELECT * FROM t WHERE a = 2 FOR UPDATE"))
        .await
        .unwrap();
    db.execute(&Statement::new("CREATE USER bob PASSWORD 'pw'"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let explains = loop {
        let e: Vec<String> = mock
            .executed()
            .into_iter()
            .filter(|s| s.starts_with("EXPLAIN"))
            .collect();
        if e.len() >= 3 {
            break e;
        }
        assert!(Instant::now() < deadline, "plans missing: {e:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(
        explains.contains(&"EXPLAIN (ANALYZE, FORMAT TEXT) SELECT * FROM t WHERE a = 1".to_owned())
    );
    assert!(explains.contains(&"EXPLAIN (FORMAT TEXT) DELETE FROM t WHERE a = 1".to_owned()));
    assert!(
        explains
            .contains(&"EXPLAIN (FORMAT TEXT) SELECT * FROM t WHERE a = 2 FOR UPDATE".to_owned())
    );
    // DDL (and anything carrying a password) gets no EXPLAIN at all.
    assert_eq!(explains.len(), 3, "{explains:?}");
}

/// The slow log can hold statement text and (under `Redaction::Raw`)
/// parameter values: a new file is readable by its owner only.
#[cfg(unix)]
#[test]
fn slow_log_file_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.jsonl");
    let sink = JsonLinesSink::open(&path).unwrap();
    sink.flush();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "slow log created with mode {mode:o}");
}

/// `Adapter::run` goes through every layer of the stack to SQLite: a
/// result set comes back with its columns (even when empty), a write with
/// its rows affected, and the slow log sees both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_passes_through_every_layer() {
    use covet_core::{DatabaseUrl, Outcome};
    use futures_util::StreamExt;
    let url = DatabaseUrl::parse("sqlite::memory:").unwrap();
    let sqlite = covet_adapter_sqlite::SqliteAdapter::connect(&url)
        .await
        .unwrap();
    let log = Arc::new(
        SlowQueryLogger::builder()
            .threshold(Duration::ZERO)
            .plan_capture(PlanCapture::disabled())
            .build(),
    );
    let db: Arc<dyn Adapter> = covet::stack(Arc::new(sqlite))
        .timeout(Duration::from_secs(5))
        .retry(covet_resilience::RetryPolicy::default())
        .breaker(Arc::new(
            covet_resilience::CircuitBreaker::builder().build().unwrap(),
        ))
        .metrics(covet_monitor::MetricsLayer::new())
        .slow_log(log.clone())
        .build();
    let run = |sql: &'static str| {
        let db = db.clone();
        async move { db.run(&Statement::new(sql)).await.unwrap() }
    };
    match run("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)").await {
        Outcome::Done(r) => assert_eq!(r.rows_affected, 0),
        other => panic!("CREATE TABLE returned {other:?}"),
    }
    match run("INSERT INTO t (name) VALUES ('a'), ('b')").await {
        Outcome::Done(r) => assert_eq!(r.rows_affected, 2),
        other => panic!("INSERT returned {other:?}"),
    }
    match run("-- first a comment\nSELECT id, name FROM t WHERE id < 0").await {
        Outcome::Rows(rs) => {
            let names: Vec<&str> = rs.columns.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, ["id", "name"]);
            assert_eq!(rs.rows.count().await, 0);
        }
        other => panic!("SELECT returned {other:?}"),
    }
    match run("INSERT INTO t (name) VALUES ('c') RETURNING id").await {
        Outcome::Rows(rs) => {
            let rows: Vec<_> = rs.rows.collect().await;
            assert_eq!(rows.len(), 1);
            assert_eq!(rows[0].as_ref().unwrap().get::<i64>("id").unwrap(), 3);
        }
        other => panic!("INSERT ... RETURNING returned {other:?}"),
    }
    assert_eq!(log.snapshot().fingerprints.len(), 4);
}
