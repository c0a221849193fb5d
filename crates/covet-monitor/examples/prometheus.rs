//! Serves Covet's metrics to Prometheus on `/metrics`, from the full layer
//! stack over the embedded SQLite adapter running a small workload.
//!
//! ```text
//! cargo run -p covet-monitor --example prometheus            # serve on 127.0.0.1:9898
//! cargo run -p covet-monitor --example prometheus -- --once  # print one scrape and exit
//! cargo run -p covet-monitor --example prometheus -- --port 0 # any free port (printed)
//! curl -s 127.0.0.1:9898/metrics | grep covet_
//! ```

use std::sync::Arc;
use std::time::Duration;

use covet_adapter_sqlite::SqliteAdapter;
use covet_core::{Adapter, DatabaseUrl, Statement};
use covet_monitor::{MetricsLayer, SlowQueryLogger};
use covet_resilience::{CircuitBreaker, RetryPolicy};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let once = args.iter().any(|a| a == "--once");
    let port: u16 = match args.iter().position(|a| a == "--port") {
        Some(i) => args.get(i + 1).ok_or("--port needs a number")?.parse()?,
        None => 9898,
    };
    // The recorder first: layers register their handles when built.
    // Histograms (not the default summaries), so the dashboard can
    // aggregate quantiles and the latency SLO rule can count statements
    // under 250 ms.
    let prometheus = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[
                0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ],
        )?
        .install_recorder()?;

    let url: DatabaseUrl = "sqlite::memory:".parse()?;
    let backend: Arc<dyn Adapter> = Arc::new(SqliteAdapter::connect(&url).await?);
    let slow = Arc::new(
        SlowQueryLogger::builder()
            .threshold(Duration::from_millis(20))
            .build(),
    );
    let db = covet::stack(backend)
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::default())
        .breaker(Arc::new(CircuitBreaker::builder().name("sqlite").build()?))
        .metrics(MetricsLayer::new().pool_gauges_every(16))
        .slow_log(slow.clone())
        .build();

    db.execute(&Statement::new(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INT NOT NULL)",
    ))
    .await?;
    for i in 0..200_i64 {
        db.execute(
            &Statement::new("INSERT INTO users (name, age) VALUES (?, ?)")
                .bind(format!("user{i}"))
                .bind(18 + i % 60),
        )
        .await?;
    }
    let workload = {
        let db = db.clone();
        async move {
            let mut i = 0_i64;
            loop {
                let point = Statement::new("SELECT id, name, age FROM users WHERE id = ?")
                    .bind(1 + i % 200)
                    .idempotent(true);
                let _ = db.query(&point).await;
                let _ = db
                    .query(&Statement::new("SELECT * FROM missing_table"))
                    .await;
                if i % 100 == 0 {
                    // Slow on purpose: a million-row recursive count.
                    let slow = "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 1000000) SELECT count(*) FROM c";
                    if let Err(e) = db.query(&Statement::new(slow).idempotent(true)).await {
                        eprintln!("slow query failed: {e}");
                    }
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };

    if once {
        tokio::select! {
            () = workload => {}
            () = tokio::time::sleep(Duration::from_millis(1500)) => {}
        }
        print!("{}", prometheus.render());
        for f in slow.snapshot().fingerprints {
            eprintln!(
                "slow: {} calls, max {:?}: {}",
                f.calls,
                f.max,
                f.text.unwrap_or_default()
            );
        }
        return Ok(());
    }

    tokio::spawn(workload);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("serving http://{}/metrics", listener.local_addr()?);
    loop {
        let (mut sock, _) = listener.accept().await?;
        let handle = prometheus.clone();
        tokio::spawn(async move {
            // One request per connection is all a scraper needs.
            let mut buf = [0u8; 1024];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if req.starts_with("GET /metrics") {
                ("200 OK", handle.render())
            } else {
                ("404 Not Found", "try /metrics\n".to_owned())
            };
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(body.as_bytes()).await;
        });
    }
}
