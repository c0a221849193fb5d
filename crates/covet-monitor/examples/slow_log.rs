//! Writes a JSON-lines slow log from real slow statements on PostgreSQL,
//! for `covet slow-queries` to read.
//!
//! ```text
//! COVET_PG_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run -p covet-monitor --example slow_log -- /tmp/slow.jsonl
//! covet slow-queries --log /tmp/slow.jsonl --top 10 --by total
//! ```

use std::sync::Arc;
use std::time::Duration;

use covet_adapter_pg::PgAdapter;
use covet_core::{Adapter, DatabaseUrl, Statement};
use covet_monitor::{JsonLinesSink, MetricsLayer, SlowQueryLogger};
use covet_resilience::{CircuitBreaker, RetryPolicy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "slow.jsonl".into());
    let url: DatabaseUrl = std::env::var("COVET_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
        .parse()?;
    let sink = Arc::new(JsonLinesSink::open(&path)?);
    let slow = Arc::new(
        SlowQueryLogger::builder()
            .threshold(Duration::from_millis(50))
            .sink(sink.clone())
            .build(),
    );
    let db = covet::stack(Arc::new(PgAdapter::connect(&url).await?))
        .timeout(Duration::from_secs(10))
        .retry(RetryPolicy::default())
        .breaker(Arc::new(CircuitBreaker::builder().build()?))
        .metrics(MetricsLayer::new())
        .slow_log(slow.clone())
        .build();

    db.execute(&Statement::new(
        "CREATE TEMP TABLE IF NOT EXISTS demo_counters (id BIGINT PRIMARY KEY, n INT NOT NULL)",
    ))
    .await?;
    for i in 0..5_i64 {
        let s = Statement::new("SELECT pg_sleep($1)::text, $2::bigint AS id")
            .bind(0.05 + 0.02 * i as f64)
            .bind(i)
            .idempotent(true);
        db.query(&s).await?;
    }
    for _ in 0..2 {
        db.query(
            &Statement::new(
                "SELECT count(*) FROM generate_series(1, 3000000) AS g(i) WHERE i % 7 = 0",
            )
            .idempotent(true),
        )
        .await?;
    }
    db.query(&Statement::new("SELECT 1")).await?;
    // Plans are captured in the background: give them a moment, then flush.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while slow
        .snapshot()
        .fingerprints
        .iter()
        .any(|f| f.plan.is_none())
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sink.flush();
    for f in slow.snapshot().fingerprints {
        eprintln!(
            "{} x{} max {:?}: {}",
            f.fingerprint,
            f.calls,
            f.max,
            f.text.unwrap_or_default()
        );
    }
    eprintln!("wrote {path}");
    Ok(())
}
