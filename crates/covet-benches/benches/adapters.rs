//! point_select (../shared/workload.md): each Covet adapter against its raw
//! driver, interleaved in one run, plus pgbench as the PostgreSQL ceiling.
//!
//! `cargo xtask bench adapters [--rounds N (7)] [--secs S (2)] [--only pg,mysql,sqlite] [--diag]`
//!
//! `SELECT id, name, email, age FROM users WHERE id = $1`, id uniform over
//! 10,000 users, 8 concurrent tasks, 8 connections on each side, prepared
//! statements on each side, no TLS on either side. Every task reads the four
//! columns into owned Rust values. Each round runs every system for S
//! seconds, in an order that rotates per round; the table shows the median
//! over rounds of queries per second and of p99 latency, and the ratio of
//! the medians (covet / raw). PostgreSQL uses `COVET_PG_URL`
//! (default postgres://postgres@127.0.0.1:5432/test), MariaDB
//! `COVET_MYSQL_URL` (default mysql://root@127.0.0.1:3306/test), SQLite a
//! file in the temp directory. A backend that cannot be reached is skipped
//! with a note. The data lives in the `covet_bench` schema / database.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use covet_core::{Adapter, DatabaseUrl, Statement};
use hdrhistogram::Histogram;

const TASKS: usize = 8;
const USERS: u64 = 10_000;
const PG_SQL: &str = "SELECT id, name, email, age FROM covet_bench.users WHERE id = $1";
const QM_SQL: &str = "SELECT id, name, email, age FROM users WHERE id = ?";

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

/// One task's connection and prepared statement.
trait Worker: Send + 'static {
    fn one(&mut self, id: i64) -> impl Future<Output = Res<()>> + Send;
}

#[derive(Clone, Copy)]
struct Sample {
    qps: f64,
    p99_us: Option<f64>,
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Runs every worker in its own task for `secs`; returns the workers for
/// the next round.
async fn measure<W: Worker>(workers: Vec<W>, secs: f64) -> Res<(Vec<W>, Sample)> {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = workers
        .into_iter()
        .enumerate()
        .map(|(i, mut w)| {
            let (stop, count) = (stop.clone(), count.clone());
            tokio::spawn(async move {
                let mut hist =
                    Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3).expect("histogram");
                let mut rng = 0x9E37_79B9_7F4A_7C15_u64 ^ ((i as u64 + 1) * 0x1234_5678);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = (xorshift(&mut rng) % USERS + 1) as i64;
                    let t0 = Instant::now();
                    w.one(id).await?;
                    hist.saturating_record(t0.elapsed().as_nanos() as u64);
                    n += 1;
                }
                count.fetch_add(n, Ordering::Relaxed);
                Ok::<_, BoxError>((w, hist))
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut merged =
        Histogram::<u64>::new_with_bounds(1_000, 60_000_000_000, 3).expect("histogram");
    let mut workers = Vec::with_capacity(TASKS);
    for h in handles {
        let (w, hist) = h.await??;
        merged.add(&hist).expect("histogram add");
        workers.push(w);
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok((
        workers,
        Sample {
            qps: count.load(Ordering::Relaxed) as f64 / elapsed,
            p99_us: Some(merged.value_at_quantile(0.99) as f64 / 1000.0),
        },
    ))
}

// ---------------------------------------------------------------- covet

struct CovetWorker {
    adapter: Arc<dyn Adapter>,
    sql: Arc<str>,
}

impl Worker for CovetWorker {
    async fn one(&mut self, id: i64) -> Res<()> {
        let rows = self
            .adapter
            .query(&Statement::new(self.sql.clone()).bind(id))
            .await?;
        let row = rows.rows.first().ok_or("no row")?;
        let v = (
            row.get::<i64>(0)?,
            row.get::<String>(1)?,
            row.get::<String>(2)?,
            row.get::<i32>(3)?,
        );
        std::hint::black_box(v);
        Ok(())
    }
}

fn covet_workers(adapter: &Arc<dyn Adapter>, sql: &str) -> Vec<CovetWorker> {
    let sql: Arc<str> = Arc::from(sql);
    (0..TASKS)
        .map(|_| CovetWorker {
            adapter: adapter.clone(),
            sql: sql.clone(),
        })
        .collect()
}

/// A task that holds one connection for the whole run (through an open
/// read-only transaction), so the pool is out of the path: separates the
/// adapter's own cost from the pool's (`--diag`).
struct CovetTxWorker {
    tx: Box<dyn covet_core::Transaction>,
    sql: Arc<str>,
}

impl Worker for CovetTxWorker {
    async fn one(&mut self, id: i64) -> Res<()> {
        let rows = self
            .tx
            .query(&Statement::new(self.sql.clone()).bind(id))
            .await?;
        let row = rows.rows.first().ok_or("no row")?;
        let v = (
            row.get::<i64>(0)?,
            row.get::<String>(1)?,
            row.get::<String>(2)?,
            row.get::<i32>(3)?,
        );
        std::hint::black_box(v);
        Ok(())
    }
}

async fn covet_tx_workers(adapter: &Arc<dyn Adapter>, sql: &str) -> Res<Vec<CovetTxWorker>> {
    let sql: Arc<str> = Arc::from(sql);
    let mut v = Vec::new();
    for _ in 0..TASKS {
        let tx = adapter
            .begin_with(covet_core::TxOptions {
                isolation: None,
                read_only: true,
            })
            .await?;
        v.push(CovetTxWorker {
            tx,
            sql: sql.clone(),
        });
    }
    Ok(v)
}

// ---------------------------------------------------------------- PostgreSQL

struct RawPg {
    client: tokio_postgres::Client,
    stmt: tokio_postgres::Statement,
}

impl Worker for RawPg {
    async fn one(&mut self, id: i64) -> Res<()> {
        let row = self.client.query_one(&self.stmt, &[&id]).await?;
        let v = (
            row.try_get::<_, i64>(0)?,
            row.try_get::<_, String>(1)?,
            row.try_get::<_, String>(2)?,
            row.try_get::<_, i32>(3)?,
        );
        std::hint::black_box(v);
        Ok(())
    }
}

fn pg_driver_config(url: &DatabaseUrl) -> tokio_postgres::Config {
    let mut c = tokio_postgres::Config::new();
    c.host(url.host())
        .port(url.port())
        .user(url.user().unwrap_or("postgres"))
        .dbname(url.database().unwrap_or("postgres"));
    if let Some(pw) = url.password() {
        c.password(pw.expose());
    }
    c
}

async fn pg_client(url: &DatabaseUrl) -> Res<tokio_postgres::Client> {
    let (client, conn) = pg_driver_config(url).connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

async fn pg_setup(url: &DatabaseUrl) -> Res<()> {
    let c = pg_client(url).await?;
    c.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS covet_bench;
         CREATE TABLE IF NOT EXISTS covet_bench.users (
             id BIGSERIAL PRIMARY KEY, name VARCHAR(100) NOT NULL,
             email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL,
             hair_color VARCHAR(50) NULL, created_at TIMESTAMP NOT NULL);
         CREATE INDEX IF NOT EXISTS users_age_idx ON covet_bench.users (age);",
    )
    .await?;
    let n: i64 = c
        .query_one("SELECT count(*) FROM covet_bench.users", &[])
        .await?
        .get(0);
    if n != USERS as i64 {
        c.batch_execute(&format!(
            "TRUNCATE covet_bench.users;
             INSERT INTO covet_bench.users (id, name, email, age, hair_color, created_at)
             SELECT i, 'user ' || i, 'user' || i || '@example.com', 10 + (i * 7919) % 71,
                    CASE WHEN i % 5 = 0 THEN NULL
                         ELSE (ARRAY['black', 'brown', 'blond', 'red'])[1 + i % 4] END,
                    timestamp '2024-01-01' + i * interval '1 minute'
             FROM generate_series(1, {USERS}) AS s(i);
             ANALYZE covet_bench.users;"
        ))
        .await?;
    }
    Ok(())
}

async fn raw_pg_workers(url: &DatabaseUrl) -> Res<Vec<RawPg>> {
    let mut v = Vec::new();
    for _ in 0..TASKS {
        let client = pg_client(url).await?;
        let stmt = client.prepare(PG_SQL).await?;
        v.push(RawPg { client, stmt });
    }
    Ok(v)
}

async fn covet_pg(url: &DatabaseUrl) -> Res<Arc<dyn Adapter>> {
    let url = url
        .with_param("sslmode", "disable")
        .with_param("max_connections", &TASKS.to_string())
        .with_param("min_connections", &TASKS.to_string());
    Ok(Arc::new(covet_adapter_pg::PgAdapter::connect(&url).await?))
}

/// pgbench running the same statement as a custom script (`-M prepared`,
/// `-c 8`), as the ceiling of what a client can get from this server.
fn pgbench(url: &DatabaseUrl, secs: f64, script: &std::path::Path) -> Res<Sample> {
    let mut cmd = std::process::Command::new("pgbench");
    cmd.args(["-n", "-M", "prepared", "-c", "8", "-j", "2"])
        .args(["-T", &format!("{}", secs.ceil() as u64)])
        .arg("-f")
        .arg(script)
        .args(["-h", url.host(), "-p", &url.port().to_string()])
        .args(["-U", url.user().unwrap_or("postgres")])
        .arg(url.database().unwrap_or("postgres"))
        .env("PGSSLMODE", "disable");
    if let Some(pw) = url.password() {
        cmd.env("PGPASSWORD", pw.expose());
    }
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l["tps = ".len()..].split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or("no tps line in pgbench output")?;
    Ok(Sample {
        qps: tps,
        p99_us: None,
    })
}

fn have(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

// ---------------------------------------------------------------- MariaDB

struct RawMy {
    conn: mysql_async::Conn,
    stmt: mysql_async::Statement,
}

impl Worker for RawMy {
    async fn one(&mut self, id: i64) -> Res<()> {
        use mysql_async::prelude::Queryable;
        let row: Option<(i64, String, String, i32)> =
            self.conn.exec_first(&self.stmt, (id,)).await?;
        std::hint::black_box(row.ok_or("no row")?);
        Ok(())
    }
}

fn my_opts(url: &DatabaseUrl, db: Option<&str>) -> mysql_async::Opts {
    let mut b = mysql_async::OptsBuilder::default()
        .ip_or_hostname(url.host().to_owned())
        .tcp_port(url.port())
        .user(url.user().map(str::to_owned))
        .pass(url.password().map(|p| p.expose().to_owned()))
        .db_name(db.map(str::to_owned));
    b = b.prefer_socket(false);
    b.into()
}

async fn my_setup(url: &DatabaseUrl) -> Res<()> {
    use mysql_async::prelude::Queryable;
    let mut c = mysql_async::Conn::new(my_opts(url, None)).await?;
    c.query_drop("CREATE DATABASE IF NOT EXISTS covet_bench")
        .await?;
    c.query_drop(
        "CREATE TABLE IF NOT EXISTS covet_bench.users (
             id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL,
             email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL,
             hair_color VARCHAR(50) NULL, created_at TIMESTAMP NOT NULL, INDEX users_age_idx (age))",
    )
    .await?;
    let n: Option<i64> = c
        .query_first("SELECT COUNT(*) FROM covet_bench.users")
        .await?;
    if n != Some(USERS as i64) {
        c.query_drop("TRUNCATE covet_bench.users").await?;
        c.query_drop("SET SESSION max_recursive_iterations = 1000000")
            .await?;
        c.query_drop(format!(
            "INSERT INTO covet_bench.users (id, name, email, age, hair_color, created_at)
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {USERS})
             SELECT i, CONCAT('user ', i), CONCAT('user', i, '@example.com'), 10 + (i * 7919) % 71,
                    CASE WHEN i % 5 = 0 THEN NULL ELSE ELT(1 + i % 4, 'black', 'brown', 'blond', 'red') END,
                    TIMESTAMP '2024-01-01 00:00:00' + INTERVAL i MINUTE
             FROM s"
        ))
        .await?;
        c.query_drop("ANALYZE TABLE covet_bench.users").await?;
    }
    c.disconnect().await?;
    Ok(())
}

async fn raw_my_workers(url: &DatabaseUrl) -> Res<Vec<RawMy>> {
    use mysql_async::prelude::Queryable;
    let mut v = Vec::new();
    for _ in 0..TASKS {
        let mut conn = mysql_async::Conn::new(my_opts(url, Some("covet_bench"))).await?;
        let stmt = conn.prep(QM_SQL).await?;
        v.push(RawMy { conn, stmt });
    }
    Ok(v)
}

async fn covet_my(url: &DatabaseUrl) -> Res<Arc<dyn Adapter>> {
    let url = url
        .with_database("covet_bench")
        .with_param("sslmode", "disable")
        .with_param("max_connections", &TASKS.to_string())
        .with_param("min_connections", &TASKS.to_string());
    Ok(Arc::new(
        covet_adapter_mysql::MySqlAdapter::connect(&url).await?,
    ))
}

// ---------------------------------------------------------------- SQLite

struct RawLite {
    conn: Arc<std::sync::Mutex<rusqlite::Connection>>,
}

impl Worker for RawLite {
    async fn one(&mut self, id: i64) -> Res<()> {
        let conn = self.conn.clone();
        let v = tokio::task::spawn_blocking(move || -> rusqlite::Result<_> {
            let c = conn.lock().expect("sqlite connection lock");
            let mut st = c.prepare_cached(QM_SQL)?;
            st.query_row([id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i32>(3)?,
                ))
            })
        })
        .await??;
        std::hint::black_box(v);
        Ok(())
    }
}

fn lite_path() -> std::path::PathBuf {
    std::env::temp_dir().join("covet_bench_adapters.db")
}

fn lite_setup() -> Res<()> {
    let c = rusqlite::Connection::open(lite_path())?;
    c.execute_batch(
        "PRAGMA journal_mode = wal;
         CREATE TABLE IF NOT EXISTS users (
             id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(100) NOT NULL,
             email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL,
             hair_color VARCHAR(50) NULL, created_at TIMESTAMP NOT NULL);
         CREATE INDEX IF NOT EXISTS users_age_idx ON users (age);",
    )?;
    let n: i64 = c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
    if n != USERS as i64 {
        c.execute_batch(&format!(
            "DELETE FROM users;
             INSERT INTO users (id, name, email, age, hair_color, created_at)
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {USERS})
             SELECT i, 'user ' || i, 'user' || i || '@example.com', 10 + (i * 7919) % 71,
                    CASE WHEN i % 5 = 0 THEN NULL ELSE
                      CASE i % 4 WHEN 0 THEN 'black' WHEN 1 THEN 'brown' WHEN 2 THEN 'blond' ELSE 'red' END END,
                    datetime('2024-01-01', '+' || i || ' minutes')
             FROM s;
             ANALYZE;"
        ))?;
    }
    Ok(())
}

fn raw_lite_workers() -> Res<Vec<RawLite>> {
    (0..TASKS)
        .map(|_| {
            let c = rusqlite::Connection::open(lite_path())?;
            c.busy_timeout(Duration::from_secs(5))?;
            Ok(RawLite {
                conn: Arc::new(std::sync::Mutex::new(c)),
            })
        })
        .collect()
}

async fn covet_lite() -> Res<Arc<dyn Adapter>> {
    let url: DatabaseUrl = format!(
        "sqlite://{}?max_connections={TASKS}&min_connections={TASKS}",
        lite_path().display()
    )
    .parse()?;
    Ok(Arc::new(
        covet_adapter_sqlite::SqliteAdapter::connect(&url).await?,
    ))
}

// ---------------------------------------------------------------- driver

/// The systems of one backend, measured in rotating order each round.
enum System {
    Covet(Vec<CovetWorker>),
    CovetTx(Vec<CovetTxWorker>),
    RawPg(Vec<RawPg>),
    RawMy(Vec<RawMy>),
    RawLite(Vec<RawLite>),
    PgBench(DatabaseUrl, std::path::PathBuf),
}

impl System {
    async fn run(self, secs: f64) -> Res<(System, Sample)> {
        Ok(match self {
            System::Covet(w) => {
                let (w, s) = measure(w, secs).await?;
                (System::Covet(w), s)
            }
            System::RawPg(w) => {
                let (w, s) = measure(w, secs).await?;
                (System::RawPg(w), s)
            }
            System::CovetTx(w) => {
                let (w, s) = measure(w, secs).await?;
                (System::CovetTx(w), s)
            }
            System::RawMy(w) => {
                let (w, s) = measure(w, secs).await?;
                (System::RawMy(w), s)
            }
            System::RawLite(w) => {
                let (w, s) = measure(w, secs).await?;
                (System::RawLite(w), s)
            }
            System::PgBench(url, script) => {
                let s = tokio::task::block_in_place(|| pgbench(&url, secs, &script))?;
                (System::PgBench(url, script), s)
            }
        })
    }
}

struct Backend {
    name: &'static str,
    /// (label, system, samples); index 0 is raw, 1 is covet, the rest ceilings.
    systems: Vec<(String, Option<System>, Vec<Sample>)>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn args() -> (usize, f64, Vec<String>, bool) {
    let mut diag = false;
    let mut rounds = 7;
    let mut secs = 2.0;
    let mut only = vec!["pg".to_owned(), "mysql".to_owned(), "sqlite".to_owned()];
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rounds" => rounds = it.next().and_then(|v| v.parse().ok()).unwrap_or(rounds),
            "--secs" => secs = it.next().and_then(|v| v.parse().ok()).unwrap_or(secs),
            "--only" => {
                only = it
                    .next()
                    .map(|v| v.split(',').map(str::to_owned).collect())
                    .unwrap_or(only);
            }
            "--diag" => diag = true,
            // cargo bench passes --bench.
            _ => {}
        }
    }
    (rounds, secs, only, diag)
}

async fn build(only: &[String], diag: bool, notes: &mut Vec<String>) -> Vec<Backend> {
    let mut backends = Vec::new();
    let want = |b: &str| only.iter().any(|o| o == b);
    if want("pg") {
        let url: DatabaseUrl = std::env::var("COVET_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
            .parse()
            .expect("COVET_PG_URL");
        let r: Res<Backend> = async {
            pg_setup(&url).await?;
            let covet = covet_pg(&url).await?;
            let mut systems = vec![
                (
                    "tokio-postgres (raw)".to_owned(),
                    Some(System::RawPg(raw_pg_workers(&url).await?)),
                    Vec::new(),
                ),
                (
                    "covet PgAdapter".to_owned(),
                    Some(System::Covet(covet_workers(&covet, PG_SQL))),
                    Vec::new(),
                ),
            ];
            if diag {
                let diag_adapter = covet_pg(&url).await?;
                systems.push((
                    "covet, connection held (no pool)".to_owned(),
                    Some(System::CovetTx(
                        covet_tx_workers(&diag_adapter, PG_SQL).await?,
                    )),
                    Vec::new(),
                ));
                systems.push((
                    "tokio-postgres (raw, 2nd copy)".to_owned(),
                    Some(System::RawPg(raw_pg_workers(&url).await?)),
                    Vec::new(),
                ));
            }
            if have("pgbench") {
                let script = std::env::temp_dir().join("covet_bench_point_select.sql");
                std::fs::write(
                    &script,
                    format!(
                        "\\set id random(1, {USERS})\n\
                         SELECT id, name, email, age FROM covet_bench.users WHERE id = :id;\n"
                    ),
                )?;
                systems.push((
                    "pgbench -M prepared -c 8 -j 2".to_owned(),
                    Some(System::PgBench(url.clone(), script)),
                    Vec::new(),
                ));
            } else {
                notes.push("pgbench is not installed: PostgreSQL ceiling skipped".into());
            }
            Ok(Backend {
                name: "PostgreSQL",
                systems,
            })
        }
        .await;
        match r {
            Ok(b) => backends.push(b),
            Err(e) => notes.push(format!("PostgreSQL skipped: {e}")),
        }
    }
    if want("mysql") {
        let url: DatabaseUrl = std::env::var("COVET_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
            .parse()
            .expect("COVET_MYSQL_URL");
        let r: Res<Backend> = async {
            my_setup(&url).await?;
            Ok(Backend {
                name: "MariaDB",
                systems: vec![
                    (
                        "mysql_async (raw)".to_owned(),
                        Some(System::RawMy(raw_my_workers(&url).await?)),
                        Vec::new(),
                    ),
                    (
                        "covet MySqlAdapter".to_owned(),
                        Some(System::Covet(covet_workers(&covet_my(&url).await?, QM_SQL))),
                        Vec::new(),
                    ),
                ],
            })
        }
        .await;
        match r {
            Ok(b) => backends.push(b),
            Err(e) => notes.push(format!("MariaDB skipped: {e}")),
        }
        if !have("sysbench") {
            notes.push("sysbench is not installed: MariaDB ceiling skipped".into());
        }
    }
    if want("sqlite") {
        let r: Res<Backend> = async {
            tokio::task::block_in_place(lite_setup)?;
            Ok(Backend {
                name: "SQLite",
                systems: vec![
                    (
                        "rusqlite (raw, spawn_blocking)".to_owned(),
                        Some(System::RawLite(raw_lite_workers()?)),
                        Vec::new(),
                    ),
                    (
                        "covet SqliteAdapter".to_owned(),
                        Some(System::Covet(covet_workers(&covet_lite().await?, QM_SQL))),
                        Vec::new(),
                    ),
                ],
            })
        }
        .await;
        match r {
            Ok(b) => backends.push(b),
            Err(e) => notes.push(format!("SQLite skipped: {e}")),
        }
    }
    backends
}

fn main() -> Res<()> {
    let (rounds, secs, only, diag) = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut notes = Vec::new();
        let mut backends = build(&only, diag, &mut notes).await;
        println!(
            "adapters bench: point_select, {USERS} users, {TASKS} tasks / {TASKS} connections, \
             {rounds} rounds x {secs}s per system (plus one warm-up round of 1s)"
        );
        for round in 0..=rounds {
            let d = if round == 0 { 1.0 } else { secs };
            for b in &mut backends {
                let n = b.systems.len();
                for k in 0..n {
                    let idx = (k + round) % n;
                    let (label, sys, samples) = &mut b.systems[idx];
                    let Some(s) = sys.take() else { continue };
                    match s.run(d).await {
                        Ok((s, sample)) => {
                            *sys = Some(s);
                            if round > 0 {
                                samples.push(sample);
                            }
                        }
                        Err(e) => notes.push(format!("{} / {label} failed: {e}", b.name)),
                    }
                }
            }
            if round > 0 {
                eprintln!("round {round}/{rounds} done");
            }
        }
        println!();
        println!(
            "| backend | system | median qps | median p99 (µs) | qps / raw | rounds (qps / raw) |"
        );
        println!("|---|---|---:|---:|---:|---|");
        for b in &backends {
            let raw = &b.systems[0].2;
            let raw_qps = median(raw.iter().map(|s| s.qps).collect());
            for (label, _, samples) in &b.systems {
                let qps = median(samples.iter().map(|s| s.qps).collect());
                let p99 = median(samples.iter().filter_map(|s| s.p99_us).collect());
                let ratio = match (qps, raw_qps) {
                    (Some(q), Some(r)) if r > 0.0 => format!("{:.3}", q / r),
                    _ => "-".into(),
                };
                let per_round: Vec<String> = samples
                    .iter()
                    .zip(raw)
                    .map(|(s, r)| format!("{:.2}", s.qps / r.qps))
                    .collect();
                println!(
                    "| {} | {label} | {} | {} | {ratio} | {} |",
                    b.name,
                    qps.map_or("-".into(), |q| format!("{q:.0}")),
                    p99.map_or("n/a".into(), |p| format!("{p:.0}")),
                    per_round.join(" "),
                );
            }
        }
        for n in &notes {
            println!("note: {n}");
        }
        for b in &backends {
            for (_, sys, _) in &b.systems {
                if let Some(System::Covet(w)) = sys
                    && let Some(first) = w.first()
                {
                    first.adapter.close().await;
                }
            }
        }
        Ok(())
    })
}
