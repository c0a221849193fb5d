//! Statement timeouts: prompt `Timeout`, really cancelled on the server,
//! and the pool's connections clean afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use covet_core::{Adapter, ErrorKind, Result, Statement};
use futures_util::future::try_join_all;

use super::adapter_of;
use crate::Backend;
use crate::util::{ensure, expect_kind, fail, poll_until};

/// How late after its timeout a cancelled statement may still return.
const PROMPT: Duration = Duration::from_millis(1500);

fn marker(tag: &str) -> String {
    format!(
        "covet_{tag}_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}

/// After a timeout, every connection of the pool answers promptly: none was
/// returned still running the cancelled statement.
async fn all_connections_clean(a: &dyn Adapter, pool_size: usize) -> Result<()> {
    let quick = Statement::new("SELECT 1").timeout(Duration::from_secs(5));
    let rows = try_join_all((0..pool_size).map(|_| a.query(&quick))).await?;
    for r in rows {
        ensure!(r.rows[0].get::<i64>(0)? == 1, "SELECT 1");
    }
    Ok(())
}

async fn server_side_gone<B: Backend>(b: &B, marker: &str) -> Result<()> {
    match b.running_queries(marker).await? {
        None => Ok(()),
        Some(_) => {
            let gone = poll_until(Duration::from_secs(5), || async {
                Ok(b.running_queries(marker).await? == Some(0))
            })
            .await?;
            ensure!(
                gone,
                "the statement still runs on the server 5s after its timeout: {:?}",
                b.running_queries(marker).await?
            );
            Ok(())
        }
    }
}

/// A statement with its own timeout fails with `Timeout` promptly, is
/// cancelled on the server (it no longer shows among the running queries),
/// and every pooled connection is clean afterwards. Through `query`,
/// `execute` and inside a transaction.
pub async fn statement_timeout_cancels_on_server<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    if b.capabilities().server {
        ensure!(
            b.running_queries("covet_no_such_marker").await? == Some(0),
            "running_queries must count only matching statements"
        );
    }
    let timeout = Duration::from_millis(300);

    let m = marker("query");
    let slow = Statement::new(b.slow_statement(30.0, &m)).timeout(timeout);
    let started = Instant::now();
    let r = a.query(&slow).await;
    let took = started.elapsed();
    let e = expect_kind("slow query", r, ErrorKind::Timeout)?;
    ensure!(took < timeout + PROMPT, "Timeout came after {took:?}");
    ensure!(
        e.retry_class() == covet_core::RetryClass::Ambiguous,
        "a timed-out statement's outcome is unknown: {:?}",
        e.retry_class()
    );
    server_side_gone(&*b, &m).await?;
    all_connections_clean(a, 2).await?;

    let m = marker("execute");
    let slow = Statement::new(b.slow_statement(30.0, &m)).timeout(timeout);
    let started = Instant::now();
    let r = a.execute(&slow).await;
    let took = started.elapsed();
    expect_kind("slow execute", r, ErrorKind::Timeout)?;
    ensure!(took < timeout + PROMPT, "Timeout came after {took:?}");
    server_side_gone(&*b, &m).await?;
    all_connections_clean(a, 2).await?;

    let m = marker("tx");
    let mut tx = a.begin().await?;
    let slow = Statement::new(b.slow_statement(30.0, &m)).timeout(timeout);
    let started = Instant::now();
    let r = tx.query(&slow).await;
    let took = started.elapsed();
    expect_kind("slow query in a transaction", r, ErrorKind::Timeout)?;
    ensure!(took < timeout + PROMPT, "Timeout came after {took:?}");
    drop(tx);
    server_side_gone(&*b, &m).await?;
    all_connections_clean(a, 2).await?;
    if let Some(state) = a.pool_state() {
        ensure!(state.size <= 2, "pool grew past its limit: {state:?}");
    }
    Ok(())
}

/// The adapter's default statement timeout (`statement_timeout=300ms` in the
/// URL) applies to statements without their own, and a statement's own
/// longer timeout overrides it.
pub async fn default_statement_timeout_applies<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    ensure!(
        a.default_timeout() == Some(Duration::from_millis(300)),
        "default_timeout() = {:?}",
        a.default_timeout()
    );
    let m = marker("default");
    let started = Instant::now();
    let r = a.query(&Statement::new(b.slow_statement(30.0, &m))).await;
    let took = started.elapsed();
    expect_kind(
        "slow query under the default timeout",
        r,
        ErrorKind::Timeout,
    )?;
    ensure!(
        took < Duration::from_millis(300) + PROMPT,
        "Timeout came after {took:?}"
    );
    server_side_gone(&*b, &m).await?;

    // Its own timeout wins over the default: this one is still running
    // after the default would have fired, then times out at ~1.2s.
    let m = marker("override");
    let started = Instant::now();
    let r = a
        .query(&Statement::new(b.slow_statement(30.0, &m)).timeout(Duration::from_millis(1200)))
        .await;
    let took = started.elapsed();
    expect_kind("slow query with its own timeout", r, ErrorKind::Timeout)?;
    ensure!(
        took >= Duration::from_millis(1100),
        "its own 1.2s timeout was cut short at {took:?}"
    );
    ensure!(
        took < Duration::from_millis(1200) + PROMPT,
        "Timeout came after {took:?}"
    );
    server_side_gone(&*b, &m).await?;
    all_connections_clean(a, 2)
        .await
        .map_err(|e| fail(format!("after timeouts: {e}")))?;
    Ok(())
}
