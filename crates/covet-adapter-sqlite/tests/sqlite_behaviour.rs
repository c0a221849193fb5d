//! SQLite-specific behaviour the conformance suite cannot express:
//! locking, cancellation by dropping a future, placeholders, scripts.

use std::time::{Duration, Instant};

use covet_adapter_sqlite::SqliteAdapter;
use covet_core::{Adapter, ErrorKind, RetryClass, Statement, Value};

async fn file_db(dir: &tempfile::TempDir, params: &str) -> SqliteAdapter {
    let path = dir.path().join("b.db");
    let url = format!("sqlite://{}{params}", path.display());
    SqliteAdapter::connect(&url.parse().unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_write_lock_gives_lock_timeout_after_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let a = file_db(&dir, "").await;
    a.execute(&"CREATE TABLE t (x INTEGER)".into())
        .await
        .unwrap();
    let b = file_db(&dir, "?busy_timeout=200ms").await;
    let mut holder = a.begin().await.unwrap();
    holder
        .execute(&"INSERT INTO t VALUES (1)".into())
        .await
        .unwrap();

    let started = Instant::now();
    let e = b
        .execute(&"INSERT INTO t VALUES (2)".into())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LockTimeout, "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::RetryStatement);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    // Readers are not blocked by the writer in WAL mode.
    let rows = b.query(&"SELECT COUNT(*) FROM t".into()).await.unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 0);
    holder.commit().await.unwrap();
    b.execute(&"INSERT INTO t VALUES (2)".into()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_future_interrupts_the_statement() {
    let db = SqliteAdapter::connect(&"sqlite::memory:?max_connections=1".parse().unwrap())
        .await
        .unwrap();
    let slow = Statement::new(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000000) \
         SELECT count(*) FROM c",
    );
    // A caller-side timeout (the future is dropped, not the adapter's own).
    let r = tokio::time::timeout(Duration::from_millis(200), db.query(&slow)).await;
    assert!(r.is_err(), "the slow query finished?");
    // With a pool of one, this only runs once the slow statement stopped.
    let started = Instant::now();
    let rows = db
        .query(&Statement::new("SELECT 1").timeout(Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn placeholders_scripts_and_row_counts() {
    let db = SqliteAdapter::connect(&"sqlite::memory:".parse().unwrap())
        .await
        .unwrap();
    let r = db
        .execute(
            &"CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INT); CREATE INDEX t_b ON t (b);"
                .into(),
        )
        .await
        .unwrap();
    assert_eq!(r.rows_affected, 0);
    // $n out of order and repeated.
    let r = db
        .execute(
            &Statement::new("INSERT INTO t (a, b) VALUES ($2, $1), ($2 || '!', $1 + 1)")
                .bind(10_i32)
                .bind("x"),
        )
        .await
        .unwrap();
    assert_eq!(r.rows_affected, 2);
    assert_eq!(r.last_insert_id, Some(2));
    // Native ? and ?NNN work as well.
    let rows = db
        .query(
            &Statement::new("SELECT a FROM t WHERE b = ?1 OR b = ?1 + 100 ORDER BY id")
                .bind(11_i64),
        )
        .await
        .unwrap();
    assert_eq!(rows.rows[0].get::<String>("a").unwrap(), "x!");
    let r = db.execute(&"UPDATE t SET b = b * 2".into()).await.unwrap();
    assert_eq!(r.rows_affected, 2);
    assert_eq!(r.last_insert_id, None);
    let r = db
        .execute(&"CREATE TABLE u (x INTEGER)".into())
        .await
        .unwrap();
    assert_eq!(r.rows_affected, 0, "DDL reports no rows");

    let e = db
        .execute(&Statement::new("INSERT INTO t (a, b) VALUES ($1, $2)").bind("only one"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Encode, "{e}");
    assert!(!e.to_string().contains("only one"));
    let e = db
        .execute(&Statement::new("SELECT 1; SELECT 2").bind(1_i64))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
}

#[tokio::test]
async fn reads_follow_declared_types() {
    let db = SqliteAdapter::connect(&"sqlite::memory:".parse().unwrap())
        .await
        .unwrap();
    db.execute(&"CREATE TABLE v (flag BOOLEAN, d DATE, ts DATETIME, n NUMERIC, j JSON)".into())
        .await
        .unwrap();
    // Values written by SQL rather than through the adapter.
    db.execute(
        &"INSERT INTO v VALUES (1, '2024-02-29', CURRENT_TIMESTAMP, 12.5, '{\"a\": 1}')".into(),
    )
    .await
    .unwrap();
    let rows = db.query(&"SELECT * FROM v".into()).await.unwrap();
    let row = &rows.rows[0];
    assert_eq!(row.value("flag").unwrap(), &Value::Bool(true));
    assert_eq!(
        row.get::<chrono::NaiveDate>("d").unwrap().to_string(),
        "2024-02-29"
    );
    assert!(row.get::<chrono::NaiveDateTime>("ts").is_ok());
    assert_eq!(
        row.get::<covet_core::Decimal>("n").unwrap().as_str(),
        "12.5"
    );
    assert_eq!(row.get::<covet_core::Json>("j").unwrap().0, "{\"a\": 1}");

    db.execute(&"INSERT INTO v (flag, d) VALUES (2, 'not a date')".into())
        .await
        .unwrap();
    let e = db
        .query(&"SELECT flag FROM v WHERE flag = 2".into())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(
        e.to_string().contains("BOOLEAN") && e.to_string().contains("bool"),
        "{e}"
    );
    let e = db
        .query(&"SELECT d FROM v WHERE flag = 2".into())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("DATE") && !e.to_string().contains("not a date"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_transactions_refuse_writes_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let db = file_db(&dir, "?max_connections=1").await;
    db.execute(&"CREATE TABLE t (x INTEGER)".into())
        .await
        .unwrap();
    let mut tx = db
        .begin_with(covet_core::TxOptions {
            read_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    tx.query(&"SELECT * FROM t".into()).await.unwrap();
    let e = tx
        .execute(&"INSERT INTO t VALUES (1)".into())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("readonly") || e.to_string().contains("read"),
        "{e}"
    );
    drop(tx);
    // The only connection was reset: query_only is off again.
    db.execute(&"INSERT INTO t VALUES (1)".into())
        .await
        .unwrap();
}

#[tokio::test]
async fn cached_column_metadata_follows_a_recreated_table() {
    let db = SqliteAdapter::connect(&"sqlite::memory:?max_connections=1".parse().unwrap())
        .await
        .unwrap();
    let select = Statement::new("SELECT x FROM t WHERE $1 = $1").bind(1_i64);
    db.execute(&"CREATE TABLE t (x INT); INSERT INTO t VALUES (5)".into())
        .await
        .unwrap();
    let rows = db.query(&select).await.unwrap();
    assert_eq!(rows.rows[0].value(0).unwrap(), &Value::I32(5));
    assert_eq!(rows.columns.get(0).unwrap().type_name, "INT");
    db.execute(
        &"DROP TABLE t; CREATE TABLE t (x DATE); INSERT INTO t VALUES ('2024-01-02')".into(),
    )
    .await
    .unwrap();
    let rows = db.query(&select).await.unwrap();
    assert_eq!(rows.columns.get(0).unwrap().type_name, "DATE");
    assert_eq!(
        rows.rows[0]
            .get::<chrono::NaiveDate>(0)
            .unwrap()
            .to_string(),
        "2024-01-02"
    );
}
