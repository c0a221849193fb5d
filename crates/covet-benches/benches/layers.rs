//! The full layer stack (timeout, retry, circuit breaker, metrics, slow
//! log) against the bare adapter on point_select (../shared/workload.md),
//! interleaved in one run.
//!
//! `cargo xtask bench layers [--rounds N] [--secs S] [--only pg,sqlite]`
//!
//! `SELECT id, name, email, age FROM users WHERE id = $1`, id uniform over
//! 10,000 users, 8 tasks. The bare and the stacked system each have their
//! own adapter (own pool of 8 connections) to the same server, so neither
//! warms the other's cache. The stack is
//! `covet::stack(adapter).timeout(5s).retry(default).breaker(default)
//! .metrics(..).slow_log(100 ms).build()`, with a Prometheus recorder
//! installed so the metrics really record. Rounds alternate which system
//! goes first; the table shows medians over rounds and the ratio
//! stack / bare. PostgreSQL uses `COVET_PG_URL` (default
//! postgres://postgres@127.0.0.1:5432/test, data in schema `covet_bench`,
//! the same table the adapters bench uses); SQLite a file in the temp
//! directory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use covet_core::{Adapter, DatabaseUrl, Statement};
use covet_monitor::{MetricsLayer, SlowQueryLogger};
use covet_resilience::{CircuitBreaker, RetryPolicy};
use hdrhistogram::Histogram;

const TASKS: usize = 8;
const USERS: u64 = 10_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

#[derive(Clone, Copy)]
struct Sample {
    qps: f64,
    p99_us: f64,
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

async fn measure(db: &Arc<dyn Adapter>, sql: &Arc<str>, secs: f64) -> Res<Sample> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let (db, sql, stop, count) = (db.clone(), sql.clone(), stop.clone(), count.clone());
            tokio::spawn(async move {
                let mut hist = Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3)?;
                let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ ((i as u64 + 1) * 0x2545_F491);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = (xorshift(&mut rng) % USERS + 1) as i64;
                    let t0 = Instant::now();
                    let rows = db
                        .query(&Statement::new(sql.clone()).bind(id).idempotent(true))
                        .await?;
                    let row = rows.rows.first().ok_or("no row")?;
                    std::hint::black_box((
                        row.get::<i64>(0)?,
                        row.get::<String>(1)?,
                        row.get::<String>(2)?,
                        row.get::<i32>(3)?,
                    ));
                    hist.saturating_record(t0.elapsed().as_nanos() as u64);
                    n += 1;
                }
                count.fetch_add(n, Ordering::Relaxed);
                Ok::<_, BoxError>(hist)
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut merged = Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3)?;
    for t in tasks {
        merged.add(&t.await??)?;
    }
    Ok(Sample {
        qps: count.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64(),
        p99_us: merged.value_at_quantile(0.99) as f64 / 1000.0,
    })
}

fn stack(bare: Arc<dyn Adapter>, name: &'static str) -> Res<Arc<dyn Adapter>> {
    Ok(covet::stack(bare)
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::default())
        .breaker(Arc::new(CircuitBreaker::builder().name(name).build()?))
        .metrics(MetricsLayer::new())
        .slow_log(Arc::new(SlowQueryLogger::default()))
        .build())
}

async fn pg_pair() -> Res<(Arc<dyn Adapter>, Arc<dyn Adapter>, &'static str)> {
    let url: DatabaseUrl = std::env::var("COVET_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
        .parse()?;
    let url = url
        .with_param("sslmode", "disable")
        .with_param("max_connections", &TASKS.to_string())
        .with_param("min_connections", &TASKS.to_string());
    let setup = covet_adapter_pg::PgAdapter::connect(&url).await?;
    for sql in [
        "CREATE SCHEMA IF NOT EXISTS covet_bench".to_owned(),
        "CREATE TABLE IF NOT EXISTS covet_bench.users (id BIGSERIAL PRIMARY KEY, \
         name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL, \
         hair_color VARCHAR(50) NULL, created_at TIMESTAMP NOT NULL)"
            .to_owned(),
        "CREATE INDEX IF NOT EXISTS users_age_idx ON covet_bench.users (age)".to_owned(),
    ] {
        setup.execute(&Statement::new(sql)).await?;
    }
    let n: i64 = setup
        .query(&Statement::new("SELECT count(*) FROM covet_bench.users"))
        .await?
        .rows[0]
        .get(0)?;
    if n != USERS as i64 {
        setup
            .execute(&Statement::new("TRUNCATE covet_bench.users"))
            .await?;
        setup
            .execute(&Statement::new(format!(
                "INSERT INTO covet_bench.users (id, name, email, age, hair_color, created_at) \
                 SELECT i, 'user ' || i, 'user' || i || '@example.com', 10 + (i * 7919) % 71, \
                 CASE WHEN i % 5 = 0 THEN NULL ELSE (ARRAY['black','brown','blond','red'])[1 + i % 4] END, \
                 timestamp '2024-01-01' + i * interval '1 minute' FROM generate_series(1, {USERS}) AS s(i)"
            )))
            .await?;
        setup
            .execute(&Statement::new("ANALYZE covet_bench.users"))
            .await?;
    }
    setup.close().await;
    let bare: Arc<dyn Adapter> = Arc::new(covet_adapter_pg::PgAdapter::connect(&url).await?);
    let other: Arc<dyn Adapter> = Arc::new(covet_adapter_pg::PgAdapter::connect(&url).await?);
    Ok((
        bare,
        stack(other, "bench-pg")?,
        "SELECT id, name, email, age FROM covet_bench.users WHERE id = $1",
    ))
}

async fn sqlite_pair() -> Res<(Arc<dyn Adapter>, Arc<dyn Adapter>, &'static str)> {
    let path = std::env::temp_dir().join("covet_layers_bench.db");
    let _ = std::fs::remove_file(&path);
    let url: DatabaseUrl =
        format!("sqlite://{}?max_connections={TASKS}", path.display()).parse()?;
    let setup = covet_adapter_sqlite::SqliteAdapter::connect(&url).await?;
    setup
        .execute(&Statement::new(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, \
             email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL, hair_color VARCHAR(50) NULL, \
             created_at TIMESTAMP NOT NULL)",
        ))
        .await?;
    setup
        .execute(&Statement::new(format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {USERS}) \
             INSERT INTO users (id, name, email, age, hair_color, created_at) \
             SELECT i, 'user ' || i, 'user' || i || '@example.com', 10 + (i * 7919) % 71, \
             CASE WHEN i % 5 = 0 THEN NULL ELSE 'brown' END, '2024-01-01 00:00:00' FROM s"
        )))
        .await?;
    setup.close().await;
    let bare: Arc<dyn Adapter> =
        Arc::new(covet_adapter_sqlite::SqliteAdapter::connect(&url).await?);
    let other: Arc<dyn Adapter> =
        Arc::new(covet_adapter_sqlite::SqliteAdapter::connect(&url).await?);
    Ok((
        bare,
        stack(other, "bench-sqlite")?,
        "SELECT id, name, email, age FROM users WHERE id = ?",
    ))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() -> Res<()> {
    let mut rounds = 5;
    let mut secs = 3.0;
    let mut only = vec!["pg".to_owned(), "sqlite".to_owned()];
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rounds" => rounds = it.next().and_then(|v| v.parse().ok()).unwrap_or(rounds),
            "--secs" => secs = it.next().and_then(|v| v.parse().ok()).unwrap_or(secs),
            "--only" => {
                if let Some(v) = it.next() {
                    only = v.split(',').map(str::to_owned).collect();
                }
            }
            _ => {}
        }
    }
    // Installed before the stacks are built: their handles then record.
    let _prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut backends = Vec::new();
        let mut notes = Vec::new();
        if only.iter().any(|o| o == "pg") {
            match pg_pair().await {
                Ok(p) => backends.push(("postgresql", p)),
                Err(e) => notes.push(format!("PostgreSQL skipped: {e}")),
            }
        }
        if only.iter().any(|o| o == "sqlite") {
            match sqlite_pair().await {
                Ok(p) => backends.push(("sqlite", p)),
                Err(e) => notes.push(format!("SQLite skipped: {e}")),
            }
        }
        println!(
            "layers bench: point_select, {USERS} users, {TASKS} tasks, {rounds} rounds x {secs}s \
             per system, order alternating (plus a 1 s warm-up round)"
        );
        println!();
        println!("| backend | system | median qps | median p99 (µs) | stack / bare | rounds (stack / bare) |");
        println!("|---|---|---:|---:|---:|---|");
        for (name, (bare, full, sql)) in &backends {
            let sql: Arc<str> = Arc::from(*sql);
            let mut b = Vec::new();
            let mut s = Vec::new();
            for round in 0..=rounds {
                let d = if round == 0 { 1.0 } else { secs };
                let (x, y) = if round % 2 == 0 {
                    let x = measure(bare, &sql, d).await?;
                    (x, measure(full, &sql, d).await?)
                } else {
                    let y = measure(full, &sql, d).await?;
                    (measure(bare, &sql, d).await?, y)
                };
                if round > 0 {
                    b.push(x);
                    s.push(y);
                }
            }
            let (bq, sq) = (median(b.iter().map(|x| x.qps).collect()), median(s.iter().map(|x| x.qps).collect()));
            let per_round: Vec<String> = s.iter().zip(&b).map(|(s, b)| format!("{:.3}", s.qps / b.qps)).collect();
            println!("| {name} | bare adapter | {bq:.0} | {:.0} | 1.000 | |", median(b.iter().map(|x| x.p99_us).collect()));
            println!(
                "| {name} | full stack | {sq:.0} | {:.0} | {:.3} | {} |",
                median(s.iter().map(|x| x.p99_us).collect()),
                sq / bq,
                per_round.join(" ")
            );
        }
        for n in notes {
            println!("note: {n}");
        }
        Ok(())
    })
}
