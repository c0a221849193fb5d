//! Client-side instructions per query, counted with `valgrind
//! --tool=callgrind`: the raw driver against the Covet adapter, bare and
//! under the full layer stack, on point_select (../shared/workload.md).
//!
//! `cargo xtask bench callgrind [--only pg,mysql,sqlite] [--queries N (2000)]`
//!
//! Wall-clock ratios on a 2-core machine shared with the server swing by
//! more than the gap being measured; instruction counts repeat exactly. Each
//! system runs in a child process of this binary under callgrind, twice:
//! once with a short warm-up only and once with N more queries, on a
//! current-thread runtime with one connection and no TLS. The difference of
//! the two totals divided by N is the client's instructions per query, with
//! connection set-up, data checks and process start cancelled out. The
//! server is another process and is not counted.
//!
//! Every system reads the four columns of its row into owned Rust values,
//! as the adapters bench does. PostgreSQL uses `COVET_PG_URL` (default
//! postgres://postgres@127.0.0.1:5432/test), MariaDB `COVET_MYSQL_URL`
//! (default mysql://root@127.0.0.1:3306/test), SQLite a file in the temp
//! directory; the data is the adapters bench's (`covet_bench` schema /
//! database), created when missing. A backend that cannot be reached, or a
//! machine without valgrind, is skipped with a note.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use covet_core::{Adapter, DatabaseUrl, Statement};
use covet_monitor::{MetricsLayer, SlowQueryLogger};
use covet_resilience::{CircuitBreaker, RetryPolicy};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const USERS: u64 = 10_000;
const WARMUP: u64 = 200;
const CHILD_ENV: &str = "COVET_CALLGRIND_CHILD";
const PG_SQL: &str = "SELECT id, name, email, age FROM covet_bench.users WHERE id = $1";
const QM_SQL: &str = "SELECT id, name, email, age FROM users WHERE id = ?";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Engine {
    Pg,
    My,
    Lite,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Raw,
    Covet,
    Stack,
}

const SIDES: [Side; 3] = [Side::Raw, Side::Covet, Side::Stack];

impl Engine {
    fn key(self) -> &'static str {
        match self {
            Engine::Pg => "pg",
            Engine::My => "mysql",
            Engine::Lite => "sqlite",
        }
    }

    fn from_key(k: &str) -> Option<Engine> {
        [Engine::Pg, Engine::My, Engine::Lite]
            .into_iter()
            .find(|e| e.key() == k)
    }
}

impl Side {
    fn key(self) -> &'static str {
        match self {
            Side::Raw => "raw",
            Side::Covet => "covet",
            Side::Stack => "stack",
        }
    }

    fn from_key(k: &str) -> Option<Side> {
        SIDES.into_iter().find(|s| s.key() == k)
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn pg_url() -> Res<DatabaseUrl> {
    Ok(std::env::var("COVET_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
        .parse::<DatabaseUrl>()?
        .with_param("sslmode", "disable"))
}

fn my_url() -> Res<DatabaseUrl> {
    Ok(std::env::var("COVET_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
        .parse::<DatabaseUrl>()?
        .with_param("sslmode", "disable"))
}

fn lite_path() -> std::path::PathBuf {
    std::env::temp_dir().join("covet_bench_callgrind.db")
}

/// The covet adapter for an engine: one connection, so the pool never has to
/// create one inside the measured loop.
async fn covet(engine: Engine) -> Res<Arc<dyn Adapter>> {
    let one = |u: DatabaseUrl| {
        u.with_param("max_connections", "1")
            .with_param("min_connections", "1")
    };
    let url = match engine {
        Engine::Pg => one(pg_url()?),
        Engine::My => one(my_url()?.with_database("covet_bench")),
        Engine::Lite => one(format!("sqlite://{}", lite_path().display()).parse()?),
    };
    Ok(covet::connect(&url).await?)
}

fn stack(bare: Arc<dyn Adapter>) -> Res<Arc<dyn Adapter>> {
    Ok(covet::stack(bare)
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::default())
        .breaker(Arc::new(
            CircuitBreaker::builder().name("bench-callgrind").build()?,
        ))
        .metrics(MetricsLayer::new())
        .slow_log(Arc::new(SlowQueryLogger::default()))
        .build())
}

/// Creates the data when missing (outside any measurement).
async fn setup(engine: Engine) -> Res<()> {
    match engine {
        Engine::Pg => {
            let db = covet::connect(&pg_url()?).await?;
            for sql in [
                "CREATE SCHEMA IF NOT EXISTS covet_bench".to_owned(),
                "CREATE TABLE IF NOT EXISTS covet_bench.users (id BIGSERIAL PRIMARY KEY, \
                 name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL, \
                 hair_color VARCHAR(50) NULL, created_at TIMESTAMP NOT NULL)"
                    .to_owned(),
            ] {
                db.execute(&Statement::new(sql)).await?;
            }
            let n: i64 = db
                .query(&Statement::new("SELECT count(*) FROM covet_bench.users"))
                .await?
                .rows[0]
                .get(0)?;
            if n != USERS as i64 {
                db.execute(&Statement::new("TRUNCATE covet_bench.users"))
                    .await?;
                db.execute(&Statement::new(format!(
                    "INSERT INTO covet_bench.users (id, name, email, age, hair_color, created_at) \
                     SELECT i, 'user ' || i, 'user' || i || '@example.com', 10 + (i * 7919) % 71, \
                     NULL, timestamp '2024-01-01' + i * interval '1 minute' \
                     FROM generate_series(1, {USERS}) AS s(i)"
                )))
                .await?;
            }
            db.close().await;
        }
        Engine::My => {
            let db = covet::connect(&my_url()?).await?;
            db.execute(&Statement::new("CREATE DATABASE IF NOT EXISTS covet_bench"))
                .await?;
            db.execute(&Statement::new(
                "CREATE TABLE IF NOT EXISTS covet_bench.users (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
                 name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL, \
                 hair_color VARCHAR(50) NULL, created_at TIMESTAMP NOT NULL)",
            ))
            .await?;
            let n: i64 = db
                .query(&Statement::new("SELECT COUNT(*) FROM covet_bench.users"))
                .await?
                .rows[0]
                .get(0)?;
            if n != USERS as i64 {
                db.execute(&Statement::new("TRUNCATE covet_bench.users"))
                    .await?;
                let mut tx = db.begin().await?;
                tx.execute(&Statement::new(
                    "SET SESSION max_recursive_iterations = 1000000",
                ))
                .await?;
                tx.execute(&Statement::new(format!(
                    "INSERT INTO covet_bench.users (id, name, email, age, hair_color, created_at) \
                     WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {USERS}) \
                     SELECT i, CONCAT('user ', i), CONCAT('user', i, '@example.com'), \
                     10 + (i * 7919) % 71, NULL, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL i MINUTE FROM s"
                )))
                .await?;
                tx.commit().await?;
            }
            db.close().await;
        }
        Engine::Lite => {
            let c = rusqlite::Connection::open(lite_path())?;
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, \
                 name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL, \
                 hair_color VARCHAR(50) NULL, created_at TIMESTAMP NOT NULL)",
            )?;
            let n: i64 = c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
            if n != USERS as i64 {
                c.execute_batch(&format!(
                    "DELETE FROM users;
                     WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {USERS})
                     INSERT INTO users (id, name, email, age, hair_color, created_at)
                     SELECT i, 'user ' || i, 'user' || i || '@example.com', 10 + (i * 7919) % 71,
                            NULL, '2024-01-01 00:00:00' FROM s;"
                ))?;
            }
        }
    }
    Ok(())
}

/// The child: `queries` point selects after the warm-up, then exit.
async fn child(engine: Engine, side: Side, queries: u64) -> Res<()> {
    let total = WARMUP + queries;
    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next_id = move || (xorshift(&mut rng) % USERS + 1) as i64;
    match (engine, side) {
        (Engine::Pg, Side::Raw) => {
            let url = pg_url()?;
            let mut c = tokio_postgres::Config::new();
            c.host(url.host())
                .port(url.port())
                .user(url.user().unwrap_or("postgres"))
                .dbname(url.database().unwrap_or("postgres"));
            if let Some(pw) = url.password() {
                c.password(pw.expose());
            }
            let (client, conn) = c.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let stmt = client.prepare(PG_SQL).await?;
            for _ in 0..total {
                let id = next_id();
                let row = client.query_one(&stmt, &[&id]).await?;
                std::hint::black_box((
                    row.try_get::<_, i64>(0)?,
                    row.try_get::<_, String>(1)?,
                    row.try_get::<_, String>(2)?,
                    row.try_get::<_, i32>(3)?,
                ));
            }
        }
        (Engine::My, Side::Raw) => {
            use mysql_async::prelude::Queryable;
            let url = my_url()?;
            let opts = mysql_async::OptsBuilder::default()
                .ip_or_hostname(url.host().to_owned())
                .tcp_port(url.port())
                .user(url.user().map(str::to_owned))
                .pass(url.password().map(|p| p.expose().to_owned()))
                .db_name(Some("covet_bench"))
                .prefer_socket(false);
            let mut conn = mysql_async::Conn::new(opts).await?;
            let stmt = conn.prep(QM_SQL).await?;
            for _ in 0..total {
                let id = next_id();
                let row: Option<(i64, String, String, i32)> = conn.exec_first(&stmt, (id,)).await?;
                std::hint::black_box(row.ok_or("no row")?);
            }
            conn.disconnect().await?;
        }
        (Engine::Lite, Side::Raw) => {
            // The raw side also crosses to a blocking thread per query, as
            // an async service using rusqlite must.
            let conn = Arc::new(std::sync::Mutex::new(rusqlite::Connection::open(
                lite_path(),
            )?));
            for _ in 0..total {
                let id = next_id();
                let conn = conn.clone();
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
            }
        }
        (engine, side) => {
            let bare = covet(engine).await?;
            let db = if side == Side::Stack {
                stack(bare)?
            } else {
                bare
            };
            let sql: Arc<str> = Arc::from(if engine == Engine::Pg { PG_SQL } else { QM_SQL });
            for _ in 0..total {
                let id = next_id();
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
            }
            db.close().await;
        }
    }
    Ok(())
}

/// Total instructions of one child run under callgrind.
fn count(engine: Engine, side: Side, queries: u64) -> Res<u64> {
    let exe = std::env::current_exe()?;
    let out = tempfile::NamedTempFile::new()?;
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.path().display()))
        .arg(exe)
        .env(
            CHILD_ENV,
            format!("{}:{}:{queries}", engine.key(), side.key()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()?;
    if !status.status.success() {
        let err = String::from_utf8_lossy(&status.stderr);
        let last = err
            .lines()
            .rfind(|l| !l.starts_with("=="))
            .unwrap_or("no message");
        return Err(format!("{}/{} child failed: {last}", engine.key(), side.key()).into());
    }
    let text = std::fs::read_to_string(out.path())?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary: ")
                .or_else(|| l.strip_prefix("totals: "))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "no totals in the callgrind output".into())
}

fn main() -> Res<()> {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let mut parts = spec.split(':');
        let engine = parts
            .next()
            .and_then(Engine::from_key)
            .ok_or("bad engine")?;
        let side = parts.next().and_then(Side::from_key).ok_or("bad side")?;
        let queries: u64 = parts
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or("bad count")?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return rt.block_on(child(engine, side, queries));
    }

    let mut only = vec![Engine::Pg, Engine::My, Engine::Lite];
    let mut queries = 2_000_u64;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--only" => {
                only = it
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(Engine::from_key)
                    .collect();
            }
            "--queries" => queries = it.next().and_then(|v| v.parse().ok()).unwrap_or(queries),
            // cargo bench passes --bench.
            _ => {}
        }
    }
    if !Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("valgrind is not installed: nothing to count (apt-get install valgrind)");
        return Ok(());
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "client instructions per point_select query (callgrind, {queries} queries after {WARMUP} warm-up, \
         one connection, current-thread runtime, no TLS)"
    );
    println!(
        "{:<8} {:>12} {:>12} {:>12} {:>13} {:>13} {:>13}",
        "engine", "raw", "covet", "stack", "covet/raw", "stack/covet", "stack/raw"
    );
    for engine in only {
        if let Err(e) = rt.block_on(setup(engine)) {
            println!("{:<8} skipped: {e}", engine.key());
            continue;
        }
        let mut per = Vec::new();
        for side in SIDES {
            let short = count(engine, side, 0);
            let long = count(engine, side, queries);
            match (short, long) {
                (Ok(a), Ok(b)) => per.push(b.saturating_sub(a) as f64 / queries as f64),
                (Err(e), _) | (_, Err(e)) => {
                    println!("{:<8} {} skipped: {e}", engine.key(), side.key());
                    per.push(f64::NAN);
                }
            }
        }
        println!(
            "{:<8} {:>12.0} {:>12.0} {:>12.0} {:>13.3} {:>13.3} {:>13.3}",
            engine.key(),
            per[0],
            per[1],
            per[2],
            per[1] / per[0],
            per[2] / per[1],
            per[2] / per[0],
        );
    }
    Ok(())
}
