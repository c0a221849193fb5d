//! Server-side behaviour: timeouts cancelled on the server, terminated
//! backends replaced by the pool, streams dropped early, the statement cache.

mod support;

use std::time::{Duration, Instant};

use covet_adapter_pg::PgAdapter;
use covet_core::{Adapter, ErrorKind, Result, RetryClass, Statement};
use futures_util::StreamExt;
use support::{Scratch, pg_url, poll_until, unique_name};

async fn backend_pid(a: &PgAdapter) -> Result<i32> {
    a.query(&Statement::new("SELECT pg_backend_pid()"))
        .await?
        .rows[0]
        .get::<i32>(0)
}

async fn run<F, Fut>(test: &str, params: &[(&str, &str)], f: F)
where
    F: FnOnce(PgAdapter, Scratch) -> Fut,
    Fut: std::future::Future<Output = Result<Scratch>>,
{
    let Some(base) = pg_url(test) else { return };
    let scratch = Scratch::new(&base, "sess").await.expect("scratch schema");
    let mut url = scratch.url.clone();
    for (k, v) in params {
        url = url.with_param(k, v);
    }
    let a = PgAdapter::connect(&url).await.expect("connect");
    let r = f(a.clone(), scratch).await;
    a.close().await;
    match r {
        Ok(scratch) => scratch.drop_schema().await,
        Err(e) => panic!("{test}: {e:?}"),
    }
}

#[tokio::test]
async fn timeout_cancels_the_query_on_the_server() {
    run(
        "timeout_cancels_the_query_on_the_server",
        &[("max_connections", "1")],
        |a, s| async move {
            let marker = unique_name("sleep");
            let started = Instant::now();
            let e = a
                .query(
                    &Statement::new(format!("SELECT pg_sleep(30), '{marker}'"))
                        .timeout(Duration::from_millis(200)),
                )
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "{:?}",
                started.elapsed()
            );
            assert!(e.message().contains("cancelled on the server"), "{e}");
            // The cancel request was acknowledged before the error returned;
            // the backend stops at its next interrupt check.
            let gone = poll_until(Duration::from_secs(5), || async {
                Ok(s.running(&marker).await? == 0)
            })
            .await?;
            assert!(gone, "pg_sleep still active after its timeout");
            // The pool's only connection is clean: a quick query answers at once.
            let started = Instant::now();
            let rows = a
                .query(&Statement::new("SELECT 41 + 1").timeout(Duration::from_secs(2)))
                .await?;
            assert_eq!(rows.rows[0].get::<i64>(0)?, 42);
            assert!(started.elapsed() < Duration::from_secs(2));
            let st = a.pool().state();
            assert_eq!(st.size, 1, "{st:?}");
            Ok(s)
        },
    )
    .await;
}

#[tokio::test]
async fn terminated_backend_is_a_connection_error_and_is_replaced() {
    run(
        "terminated_backend_is_replaced",
        &[("max_connections", "1")],
        |a, s| async move {
            let before = backend_pid(&a).await?;
            let mut tx = a.begin().await?;
            tx.execute(&Statement::new("CREATE TABLE kept (id INT)")).await?;
            assert_eq!(s.kill_sessions().await?, 1);
            let e = tx
                .query(&Statement::new("SELECT 1"))
                .await
                .expect_err("query on a terminated backend");
            assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
            assert_eq!(e.retry_class(), RetryClass::Reconnect);
            drop(tx);
            // The dead connection is discarded, a new one serves the next call.
            let after = backend_pid(&a).await?;
            assert_ne!(before, after);
            let stats = a.pool().stats();
            assert!(stats.state.size <= 1, "{stats:?}");
            // The terminated transaction's table was never committed.
            let rows = a
                .query(&Statement::new(
                    "SELECT count(*) FROM pg_tables WHERE tablename = 'kept' AND schemaname = current_schema()",
                ))
                .await?;
            assert_eq!(rows.rows[0].get::<i64>(0)?, 0);
            Ok(s)
        },
    )
    .await;
}

#[tokio::test]
async fn dropping_a_stream_early_cancels_the_rest() {
    run(
        "dropping_a_stream_early_cancels_the_rest",
        &[("max_connections", "1")],
        |a, s| async move {
            let marker = unique_name("series");
            let mut stream = a
                .query_stream(&Statement::new(format!(
                    "SELECT i, '{marker}' FROM generate_series(1, 50000000) AS s(i)"
                )))
                .await?;
            for _ in 0..10 {
                stream.next().await.expect("a row")?;
            }
            drop(stream);
            let started = Instant::now();
            let rows = a
                .query(&Statement::new("SELECT 1").timeout(Duration::from_secs(10)))
                .await?;
            assert_eq!(rows.len(), 1);
            // Reading 50 million rows to discard them would take far longer.
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(s.running(&marker).await?, 0);
            Ok(s)
        },
    )
    .await;
}

/// A cancel request reaches the server at a moment the client cannot know:
/// if the abandoned statement ended just before it, the cancel would hit the
/// next statement on that connection (seen as a stray 57014 in CI). So a
/// connection that had a cancel sent is never reused, while a stream whose
/// few remaining rows drain at once is finished without any cancel.
#[tokio::test]
async fn a_cancelled_connection_is_never_reused() {
    run(
        "a_cancelled_connection_is_never_reused",
        &[("max_connections", "1")],
        |a, s| async move {
            let first = backend_pid(&a).await?;
            let mut short = a
                .query_stream(&Statement::new(
                    "SELECT i FROM generate_series(1, 20) AS s(i)",
                ))
                .await?;
            short.next().await.expect("a row")?;
            drop(short);
            assert_eq!(
                backend_pid(&a).await?,
                first,
                "a stream that drains at once keeps its connection"
            );

            let mut long = a
                .query_stream(&Statement::new(
                    "SELECT i FROM generate_series(1, 50000000) AS s(i)",
                ))
                .await?;
            long.next().await.expect("a row")?;
            drop(long);
            let after = backend_pid(&a).await?;
            assert_ne!(
                after, first,
                "the connection that carried a cancel was handed out again"
            );
            for _ in 0..20 {
                a.query(&Statement::new("SELECT 1")).await?;
            }
            Ok(s)
        },
    )
    .await;
}

#[tokio::test]
async fn statement_cache_is_bounded_per_connection() {
    run(
        "statement_cache_is_bounded_per_connection",
        &[("max_connections", "1"), ("statement_cache_capacity", "3")],
        |a, s| async move {
            for round in 0..2 {
                for i in 0..6 {
                    let rows = a
                        .query(&Statement::new(format!("SELECT {i} + $1::int")).bind(round))
                        .await?;
                    assert_eq!(rows.rows[0].get::<i32>(0)?, i + round);
                }
            }
            let conn = a.connection().await?;
            assert_eq!(conn.cached_statements(), 3);
            let rows = conn
                .client()
                .query("SELECT count(*) FROM pg_prepared_statements", &[])
                .await
                .map_err(|e| covet_core::Error::new(ErrorKind::Database, e.to_string()))?;
            // The counting query is itself a prepared statement while it runs.
            let prepared: i64 = rows[0].get(0);
            assert_eq!(prepared, 4, "statements kept on the server");
            Ok(s)
        },
    )
    .await;
}
