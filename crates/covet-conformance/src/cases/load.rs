//! Concurrency, streaming, bulk load and losing the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use covet_core::{ErrorKind, Result, Statement, Value};
use futures_util::StreamExt;

use super::{adapter_of, count, create_users, created_at, exec, insert_user, query};
use crate::Backend;
use crate::util::{HEAVY, RssProbe, ensure, fail, portable};

/// 200 tasks share a pool of 10: every one's writes and reads succeed,
/// and the pool never has more than 10 connections checked out.
pub async fn concurrent_200_tasks_over_pool_of_10<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    create_users(&*b, &*a).await?;
    let done = Arc::new(AtomicBool::new(false));
    let max_in_use = Arc::new(AtomicU32::new(0));
    let watcher = {
        let (a, done, max_in_use) = (a.clone(), done.clone(), max_in_use.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if let Some(s) = a.pool_state() {
                    max_in_use.fetch_max(s.in_use.max(s.size), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let tasks: Vec<_> = (1..=200i64)
        .map(|id| {
            let a = a.clone();
            tokio::spawn(async move {
                insert_user(&*a, id, "worker", (id % 70) as i32 + 10).await?;
                let rows = query(
                    &*a,
                    "SELECT name, age FROM users WHERE id = $1",
                    vec![Value::I64(id)],
                )
                .await?;
                ensure!(rows.len() == 1, "task {id} read {} rows", rows.len());
                ensure!(
                    rows.rows[0].get::<i64>("age")? == id % 70 + 10,
                    "task {id} age"
                );
                let mut tx = a.begin().await?;
                tx.execute(&portable(
                    a.dialect(),
                    "UPDATE users SET age = age + 1 WHERE id = $1",
                    vec![Value::I64(id)],
                ))
                .await?;
                tx.commit().await?;
                Ok::<_, covet_core::Error>(())
            })
        })
        .collect();
    let mut failures = Vec::new();
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{e:?}")),
            Err(e) => failures.push(format!("task panicked: {e}")),
        }
    }
    done.store(true, Ordering::Relaxed);
    watcher.await.map_err(|e| fail(format!("watcher: {e}")))?;
    ensure!(
        failures.is_empty(),
        "{} of 200 tasks failed, first: {}",
        failures.len(),
        failures[0]
    );
    ensure!(count(&*a, "users").await? == 200, "200 rows");
    let rows = query(&*a, "SELECT SUM(age) FROM users", vec![]).await?;
    let want: i64 = (1..=200i64).map(|id| id % 70 + 11).sum();
    let got = match rows.rows[0].value(0)? {
        Value::Decimal(d) => d
            .as_str()
            .parse::<i64>()
            .map_err(|e| fail(format!("{e}")))?,
        _ => rows.rows[0].get::<i64>(0)?,
    };
    ensure!(got == want, "sum of ages {got}, want {want}");
    if a.pool_state().is_some() {
        let peak = max_in_use.load(Ordering::Relaxed);
        ensure!(peak <= 10, "pool went to {peak} connections, limit 10");
        ensure!(
            peak >= 2,
            "the pool was never used concurrently (peak {peak})"
        );
    }
    Ok(())
}

/// Streams 1,000,000 rows of ~110 bytes (about 200 MB if buffered) while
/// this process's resident memory grows by less than 64 MB, pausing 1.5 s
/// after the first row as a slow reader would, so that an adapter without
/// back-pressure shows up.
pub async fn stream_million_rows_bounded_memory<B: Backend>(b: Arc<B>) -> Result<()> {
    const ROWS: u64 = 1_000_000;
    const BOUND: u64 = 64 * 1024 * 1024;
    let _heavy = HEAVY.lock().await;
    let a = adapter_of(&b);
    let mut probe = RssProbe::start();
    let mut stream = a
        .query_stream(&Statement::new(b.series_query(ROWS)).timeout(Duration::from_secs(120)))
        .await?;
    let (mut n, mut sum) = (0u64, 0u64);
    while let Some(row) = stream.next().await {
        let row = row?;
        let i = row.get::<i64>(0)?;
        ensure!(row.get::<String>(1)?.len() == 100, "pad length");
        n += 1;
        sum += i as u64;
        if n == 1 {
            // A slow reader: a producer without back-pressure would buffer
            // hundreds of thousands of rows during this pause.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            if let Some(p) = probe.as_mut() {
                p.sample();
            }
        }
        if n % 10_000 == 0
            && let Some(p) = probe.as_mut()
        {
            p.sample();
        }
    }
    drop(stream);
    ensure!(n == ROWS, "streamed {n} rows");
    ensure!(sum == ROWS * (ROWS + 1) / 2, "sum of i {sum}");
    match probe {
        Some(p) => {
            eprintln!(
                "{}: streaming {ROWS} rows grew RSS by {} KiB",
                B::NAME,
                p.growth() / 1024
            );
            ensure!(
                p.growth() < BOUND,
                "RSS grew by {} MiB while streaming (bound {} MiB)",
                p.growth() / (1024 * 1024),
                BOUND / (1024 * 1024)
            );
        }
        None => eprintln!(
            "{}: no /proc/self/status here; memory bound not measured",
            B::NAME
        ),
    }
    // The connection is usable again after the stream.
    let rows = query(&*a, "SELECT 1", vec![]).await?;
    ensure!(rows.len() == 1, "SELECT 1 after the stream");
    Ok(())
}

/// `bulk_insert` writes 10,000 rows (reported exactly, readable after),
/// and inside a rolled-back transaction writes nothing.
pub async fn bulk_insert_10k_rows<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    create_users(&*b, &*a).await?;
    let columns: Vec<String> = ["id", "name", "email", "age", "hair_color", "created_at"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let rows_for = |range: std::ops::RangeInclusive<i64>| -> Vec<Vec<Value>> {
        range
            .map(|i| {
                vec![
                    Value::I64(i),
                    Value::Text(format!("user {i} ✓")),
                    Value::Text(format!("u{i}@example.com")),
                    Value::I32((i % 71 + 10) as i32),
                    if i % 5 == 0 {
                        Value::Null
                    } else {
                        Value::from("brown")
                    },
                    created_at(),
                ]
            })
            .collect()
    };
    let n = a
        .bulk_insert("users", &columns, rows_for(1..=10_000).into())
        .await?;
    ensure!(n == 10_000, "bulk_insert reported {n}");
    ensure!(count(&*a, "users").await? == 10_000, "10,000 rows readable");
    let rows = query(
        &*a,
        "SELECT name, age, hair_color FROM users WHERE id = $1",
        vec![Value::I64(9_995)],
    )
    .await?;
    ensure!(rows.rows[0].get::<String>(0)? == "user 9995 ✓", "name");
    ensure!(rows.rows[0].get::<i64>(1)? == 9_995 % 71 + 10, "age");
    ensure!(
        rows.rows[0].get::<Option<String>>(2)?.is_none(),
        "NULL kept"
    );

    let mut tx = a.begin().await?;
    let n = tx
        .bulk_insert("users", &columns, rows_for(10_001..=10_500).into())
        .await?;
    ensure!(n == 500, "bulk_insert in tx reported {n}");
    tx.rollback().await?;
    ensure!(
        count(&*a, "users").await? == 10_000,
        "rolled-back bulk insert kept"
    );

    let dup = a
        .bulk_insert("users", &columns, rows_for(9_999..=10_100).into())
        .await;
    ensure!(
        dup.as_ref().err().map(covet_core::Error::kind) == Some(ErrorKind::UniqueViolation),
        "bulk insert over existing ids: {dup:?}"
    );
    ensure!(
        count(&*a, "users").await? == 10_000,
        "a failed bulk insert writes nothing"
    );
    let none = a.bulk_insert("users", &columns, Vec::new().into()).await?;
    ensure!(none == 0, "empty bulk insert reported {none}");
    Ok(())
}

/// The server kills the pool's sessions mid-use: a transaction holding one
/// gets a `Connection` error (retry class Reconnect), and the pool replaces
/// dead connections so later statements succeed. Embedded engines have no
/// server to lose; there the case checks the pool recovers from a
/// connection being dropped mid-transaction instead.
pub async fn server_gone_connection_replaced<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    create_users(&*b, &*a).await?;
    insert_user(&*a, 1, "before", 30).await?;
    if !b.capabilities().server {
        let mut tx = a.begin().await?;
        tx.execute(&"DELETE FROM users".into()).await?;
        drop(tx);
        ensure!(count(&*a, "users").await? == 1, "dropped tx rolled back");
        return Ok(());
    }
    // Open both pooled connections: one in a transaction, one idle.
    let mut tx = a.begin().await?;
    tx.query(&"SELECT 1".into()).await?;
    query(&*a, "SELECT 1", vec![]).await?;

    b.kill_connections().await?;

    let in_tx = tx.query(&"SELECT 1".into()).await;
    let e = in_tx
        .err()
        .ok_or_else(|| fail("a query on a killed session succeeded"))?;
    ensure!(
        e.kind() == ErrorKind::Connection,
        "expected a connection error, got {e:?}"
    );
    ensure!(
        e.retry_class() == covet_core::RetryClass::Reconnect,
        "retry class {:?}",
        e.retry_class()
    );
    drop(tx);

    // Each dead connection may fail at most one statement before the pool
    // discards it; after that every statement succeeds on new ones.
    let mut failures = 0;
    let mut ok_in_a_row = 0;
    for _ in 0..40 {
        match query(&*a, "SELECT COUNT(*) FROM users", vec![]).await {
            Ok(rows) => {
                ensure!(rows.rows[0].get::<i64>(0)? == 1, "data survives");
                ok_in_a_row += 1;
                if ok_in_a_row == 10 {
                    break;
                }
            }
            Err(e) => {
                ensure!(
                    e.kind() == ErrorKind::Connection,
                    "after the kill: expected a connection error, got {e:?}"
                );
                failures += 1;
                ok_in_a_row = 0;
            }
        }
    }
    ensure!(
        failures <= 2,
        "{failures} statements failed on dead connections (pool of 2)"
    );
    ensure!(ok_in_a_row == 10, "the pool did not recover");
    let mut tx = a.begin().await?;
    tx.execute(&portable(
        a.dialect(),
        "UPDATE users SET age = $1 WHERE id = $2",
        vec![Value::I32(31), Value::I64(1)],
    ))
    .await?;
    tx.commit().await?;
    exec(&*a, "DELETE FROM users", vec![]).await?;
    Ok(())
}
