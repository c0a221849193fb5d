//! Streaming a million rows with bounded memory, and streams that end
//! early.

mod support;

use std::time::Duration;

use covet_core::{Adapter, Statement};
use futures_util::StreamExt;
use support::{TestDb, eventually, running, server_url};

fn rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn million_rows_stream_in_bounded_memory() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "1")]).await;
    let pad = "x".repeat(100);
    // MariaDB's sequence engine; about 110 MB of rows in all.
    let sql = format!("SELECT seq AS i, '{pad}' AS pad FROM seq_1_to_1000000");
    let mut s = a.query_stream(&Statement::new(sql)).await.unwrap();
    let base = rss();
    let mut peak = base.unwrap_or(0);
    let mut n = 0u64;
    let mut sum = 0i64;
    while let Some(row) = s.next().await {
        let row = row.unwrap();
        sum += row.get::<i64>(0).unwrap();
        n += 1;
        if n.is_multiple_of(50_000) {
            peak = peak.max(rss().unwrap_or(0));
        }
    }
    assert_eq!(n, 1_000_000);
    assert_eq!(sum, 500_000_500_000);
    if let Some(base) = base {
        let growth = peak.saturating_sub(base);
        assert!(
            growth < 32 * 1024 * 1024,
            "RSS grew by {growth} bytes while streaming"
        );
    }
    drop(s);
    // The connection went back clean and is reused.
    a.execute(&Statement::new("DO 1")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_early_frees_its_connection() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db
        .adapter(&[("max_connections", "1"), ("acquire_timeout", "5s")])
        .await;
    let marker = format!("covet_stream_{}", rand::random::<u32>());
    let sql = format!("SELECT seq AS `{marker}` FROM seq_1_to_5000000");
    let mut s = a.query_stream(&Statement::new(sql)).await.unwrap();
    for _ in 0..10 {
        s.next().await.unwrap().unwrap();
    }
    drop(s);
    // The only pooled connection is usable again at once (the unfinished
    // one was discarded, not drained)...
    let rows = tokio::time::timeout(Duration::from_secs(3), a.query(&Statement::new("SELECT 2")))
        .await
        .expect("the pool slot was not freed")
        .unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 2);
    // ...and the abandoned query stops on the server.
    assert!(
        eventually(Duration::from_secs(10), || async {
            running(&server, &marker).await == 0
        })
        .await,
        "the abandoned stream's query still runs"
    );
}
