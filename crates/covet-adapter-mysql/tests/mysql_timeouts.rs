//! Statement timeouts cancel the statement on the server (KILL QUERY), and
//! the connection never goes back to the pool mid-query.

mod support;

use std::time::{Duration, Instant};

use covet_core::{Adapter, ErrorKind, Statement};
use support::{TestDb, eventually, running, server_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_timeout_kills_the_query_on_the_server() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "1")]).await;
    let marker = format!("covet_timeout_{}", rand::random::<u32>());
    let sql = format!("SELECT SLEEP(30) AS `{marker}`");
    let started = Instant::now();
    let e = a
        .query(&Statement::new(sql).timeout(Duration::from_millis(300)))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(took < Duration::from_secs(5), "the timeout took {took:?}");
    assert!(e.message().contains("KILL QUERY"), "{e}");
    // KILL QUERY has returned: the statement is gone from the processlist.
    assert!(
        eventually(Duration::from_secs(5), || async {
            running(&server, &marker).await == 0
        })
        .await,
        "the statement still runs on the server"
    );
    // The pool's only connection was discarded, not reused mid-query: the
    // next statement works at once on a fresh one.
    let rows = a.query(&Statement::new("SELECT 1")).await.unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_timeout_applies_and_statement_timeout_overrides_it() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db
        .adapter(&[("statement_timeout", "250ms"), ("max_connections", "2")])
        .await;
    assert_eq!(a.default_timeout(), Some(Duration::from_millis(250)));
    let e = a
        .execute(&Statement::new("DO SLEEP(10)"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    // The statement's own longer timeout wins over the default.
    a.execute(&Statement::new("DO SLEEP(0.5)").timeout(Duration::from_secs(5)))
        .await
        .unwrap();
    // Inside a transaction too; after a timeout the transaction is unusable.
    let mut tx = a.begin().await.unwrap();
    let e = tx
        .execute(&Statement::new("DO SLEEP(10)"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    let e = tx.execute(&Statement::new("SELECT 1")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
    drop(tx);
    a.execute(&Statement::new("DO 1")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_call_is_killed_on_the_server() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "1")]).await;
    let marker = format!("covet_dropped_{}", rand::random::<u32>());
    let sql = format!("SELECT SLEEP(30) AS `{marker}`");
    // The caller gives up on its own (an outer timeout drops the future).
    let r = tokio::time::timeout(Duration::from_millis(300), a.query(&Statement::new(sql))).await;
    assert!(r.is_err());
    assert!(
        eventually(Duration::from_secs(5), || async {
            running(&server, &marker).await == 0
        })
        .await,
        "the abandoned statement still runs on the server"
    );
    a.execute(&Statement::new("DO 1")).await.unwrap();
}
