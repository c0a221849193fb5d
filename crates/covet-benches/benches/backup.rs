//! `cargo xtask bench backup [--size-mb 1024] [--rounds 3] [--only pg|mariadb]`:
//! covet backup create / restore against the engines' own tools at about
//! `--size-mb` MB of row data (1 GB by default), interleaved in one run.
//!
//! PostgreSQL: create against `pg_dump -Fc` and `pg_dump -Fd -j 2`, restore
//! against `pg_restore -j 2` (from the -Fd dump). MariaDB: create against
//! `mysqldump --single-transaction` and `mydumper -t 2`, restore against
//! `myloader -t 2`. The source is generated on the server (PostgreSQL:
//! `INSERT ... SELECT FROM generate_series`; MariaDB: its Sequence engine's
//! `seq_1_to_N` tables), into three tables with text, numeric, timestamp
//! and bytea / blob columns, primary keys and two secondary indexes.
//!
//! Throughput is the source's row bytes (the covet backup manifest's
//! raw_bytes, the same numerator for every tool) per second. Peak RSS:
//! covet's own process (VmHWM, reset before each operation; the data is
//! generated server-side, so the process holds no copy of it); the
//! external tools' largest process, from GNU time. Settings: COVET_PG_URL
//! and COVET_MYSQL_URL (the standard test URLs by default),
//! COVET_BENCH_ROUNDS (default 3, `--rounds` wins), TMPDIR for the dumps
//! (several times the row data).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use covet::{Adapter, DatabaseUrl, Engine, Statement};
use covet_backup::{
    Compression, Connector, CreateOptions, Encryption, KeySource, LocalDirSink, RestoreOptions,
    WriteOptions,
};

struct Facade;

#[async_trait::async_trait]
impl Connector for Facade {
    async fn connect(&self, url: &DatabaseUrl) -> covet::Result<Arc<dyn Adapter>> {
        covet::connect(url.clone()).await
    }
}

/// Rows per generating statement: one statement per batch keeps each
/// transaction (and MariaDB's undo log) a bounded size.
const BATCH: u64 = 500_000;

/// Rough row bytes of each table, to size the source: `items` about
/// 150 bytes a row, `events` about 110, `blobs` about 1 KiB.
fn row_counts(size_mb: u64) -> (u64, u64, u64) {
    let bytes = size_mb * 1_000_000;
    (
        (bytes * 45 / 100 / 150).max(1000),
        (bytes * 45 / 100 / 110).max(1000),
        (bytes / 10 / 1024).max(100),
    )
}

/// Creates and fills the source on the server; returns seconds taken.
async fn generate(a: &dyn Adapter, size_mb: u64) -> f64 {
    let t = Instant::now();
    let (items, events, blobs) = row_counts(size_mb);
    let my = a.engine() == Engine::MySql;
    let (bytes, ts) = if my {
        ("LONGBLOB", "DATETIME(6)")
    } else {
        ("bytea", "timestamptz")
    };
    for s in [
        format!(
            "CREATE TABLE items (id BIGINT PRIMARY KEY, name VARCHAR(200) NOT NULL, price NUMERIC(12,2) NOT NULL, created {ts} NOT NULL, payload {bytes})"
        ),
        "CREATE INDEX items_created ON items (created)".to_owned(),
        format!(
            "CREATE TABLE events (id BIGINT PRIMARY KEY, item_id BIGINT NOT NULL, kind VARCHAR(20) NOT NULL, amount NUMERIC(18,6), at {ts} NOT NULL, note TEXT)"
        ),
        "CREATE INDEX events_item ON events (item_id)".to_owned(),
        format!("CREATE TABLE blobs (id BIGINT PRIMARY KEY, data {bytes} NOT NULL)"),
    ] {
        a.execute(&Statement::new(s)).await.unwrap();
    }
    // Each statement fills rows lo..=hi of one table; `{n}` is the row
    // number (generate_series's or the Sequence engine's column).
    let fill = |table: &str, lo: u64, hi: u64| -> String {
        let (select, from) = match (table, my) {
            ("items", false) => (
                "g, 'item ' || g || ' ' || md5(g::text), (g % 100000) / 100.0,                  timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',                  decode(md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text), 'hex')",
                format!("generate_series({lo}, {hi}) g"),
            ),
            ("events", false) => (
                "g, g % 100000 + 1, (ARRAY['view', 'click', 'buy', 'refund'])[g % 4 + 1],                  (g % 1000003) / 1000.0, timestamp '2024-01-01' + g * interval '7 seconds',                  'note ' || md5((g * 7)::text) || ' ' || md5((g * 11)::text)",
                format!("generate_series({lo}, {hi}) g"),
            ),
            ("blobs", false) => (
                "g, decode(repeat(md5(g::text), 64), 'hex')",
                format!("generate_series({lo}, {hi}) g"),
            ),
            ("items", true) => (
                "seq, CONCAT('item ', seq, ' ', MD5(seq)), (seq % 100000) / 100.0,                  TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND,                  UNHEX(CONCAT(MD5(seq), MD5(seq + 1), MD5(seq + 2)))",
                format!("seq_{lo}_to_{hi}"),
            ),
            ("events", true) => (
                "seq, seq % 100000 + 1, ELT(seq % 4 + 1, 'view', 'click', 'buy', 'refund'),                  (seq % 1000003) / 1000.0, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL (seq * 7) SECOND,                  CONCAT('note ', MD5(seq * 7), ' ', MD5(seq * 11))",
                format!("seq_{lo}_to_{hi}"),
            ),
            (_, true) => (
                "seq, UNHEX(REPEAT(MD5(seq), 64))",
                format!("seq_{lo}_to_{hi}"),
            ),
            _ => unreachable!(),
        };
        format!("INSERT INTO {table} SELECT {select} FROM {from}")
    };
    for (table, rows) in [("items", items), ("events", events), ("blobs", blobs)] {
        let mut lo = 1;
        while lo <= rows {
            let hi = (lo + BATCH - 1).min(rows);
            a.execute(&Statement::new(fill(table, lo, hi)))
                .await
                .unwrap_or_else(|e| {
                    panic!("generating {table} (MariaDB needs its Sequence engine): {e}")
                });
            lo = hi + 1;
        }
    }
    if !my {
        a.execute(&Statement::new("VACUUM ANALYZE")).await.ok();
    }
    t.elapsed().as_secs_f64()
}

async fn admin_exec(server: &DatabaseUrl, sql: &str) {
    let admin = match server.engine() {
        Engine::Postgres => server.with_database("postgres"),
        _ => server.with_database("information_schema"),
    };
    let a = covet::connect(admin).await.unwrap();
    a.execute(&Statement::new(sql)).await.unwrap();
    a.close().await;
}

async fn drop_db(server: &DatabaseUrl, name: &str) {
    let sql = match server.engine() {
        Engine::Postgres => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        _ => format!("DROP DATABASE IF EXISTS `{name}`"),
    };
    admin_exec(server, &sql).await;
}

fn vm_hwm_mb() -> f64 {
    status_mb("VmHWM:")
}

fn status_mb(field: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak (VmHWM) to the current RSS.
fn reset_hwm() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Runs a shell pipeline under GNU time: (seconds, peak RSS MB).
fn timed_shell(script: &str, env: &[(&str, String)]) -> (f64, f64) {
    let rss_file = std::env::temp_dir().join(format!("covet-bench-time-{}", std::process::id()));
    let t = Instant::now();
    let mut c = Command::new("/usr/bin/time");
    c.arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg("bash")
        .arg("-o")
        .arg("pipefail")
        .arg("-c")
        .arg(script);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("GNU time (/usr/bin/time) and bash");
    let secs = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kb: f64 = std::fs::read_to_string(&rss_file)
        .unwrap_or_default()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0.0);
    (secs, kb / 1024.0)
}

fn pg_env(url: &DatabaseUrl) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("PGHOST", url.host().to_owned()),
        ("PGPORT", url.port().to_string()),
        ("PGUSER", url.user().unwrap_or("postgres").to_owned()),
    ];
    if let Some(p) = url.password() {
        env.push(("PGPASSWORD", p.expose().to_owned()));
    }
    env
}

fn my_args(url: &DatabaseUrl) -> String {
    format!(
        "-h {} -P {} -u {}",
        url.host(),
        url.port(),
        url.user().unwrap_or("root")
    )
}

/// The password for mysqldump, mydumper and myloader, through the
/// environment: every local user can read a process's argv.
fn my_env(url: &DatabaseUrl) -> Vec<(&'static str, String)> {
    url.password()
        .map(|p| vec![("MYSQL_PWD", p.expose().to_owned())])
        .unwrap_or_default()
}

async fn covet_create(
    src: &Arc<dyn Adapter>,
    db: &str,
    dir: &Path,
    key: &KeySource,
) -> (f64, f64, String, u64) {
    let _ = std::fs::remove_dir_all(dir);
    let sink = LocalDirSink::new(dir);
    let mut opts = CreateOptions::new(WriteOptions {
        compression: Compression::Zstd3,
        encryption: Encryption::Key(key.clone()),
        chunk_size: 1 << 20,
    });
    opts.parallelism = 2;
    reset_hwm();
    let t = Instant::now();
    let e = covet_backup::create_backup(src.clone(), db, &sink, opts)
        .await
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let rss = vm_hwm_mb();
    let r = covet_backup::verify(&sink, &e.name, Some(key))
        .await
        .unwrap();
    (secs, rss, e.name, r.manifest.totals.raw_bytes)
}

async fn covet_restore(
    dir: &Path,
    name: &str,
    target: &DatabaseUrl,
    key: &KeySource,
) -> (f64, f64) {
    let sink = LocalDirSink::new(dir);
    reset_hwm();
    let t = Instant::now();
    covet_backup::restore(
        &sink,
        name,
        target,
        &Facade,
        &RestoreOptions {
            key: Some(key.clone()),
            parallelism: 2,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (t.elapsed().as_secs_f64(), vm_hwm_mb())
}

/// One measured tool and operation.
struct Row {
    engine: &'static str,
    tool: &'static str,
    op: &'static str,
    secs: Vec<f64>,
    rss_mb: Vec<f64>,
}

impl Row {
    fn new(engine: &'static str, tool: &'static str, op: &'static str) -> Self {
        Row {
            engine,
            tool,
            op,
            secs: Vec::new(),
            rss_mb: Vec::new(),
        }
    }
    fn push(&mut self, (secs, rss): (f64, f64)) {
        self.secs.push(secs);
        self.rss_mb.push(rss);
    }
    fn median(&self) -> f64 {
        let mut v = self.secs.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    }
    fn rss(&self) -> f64 {
        self.rss_mb.iter().copied().fold(0.0, f64::max)
    }
}

/// The markdown table; the ratio is the tool's median time over covet's
/// for the same operation and engine (above 1: covet is faster).
fn print_table(rows: &[Row], raw_mb: f64) {
    println!();
    println!("| tool | operation | engine | seconds | MB/s | peak RSS MB | ratio to covet |");
    println!("|---|---|---|---:|---:|---:|---:|");
    for r in rows {
        let m = r.median();
        let covet = rows
            .iter()
            .find(|c| c.engine == r.engine && c.op == r.op && c.tool.starts_with("covet"))
            .map_or(f64::NAN, Row::median);
        println!(
            "| {} | {} | {} | {:.2} | {:.1} | {:.1} | {:.2} |",
            r.tool,
            r.op,
            r.engine,
            m,
            raw_mb / m,
            r.rss(),
            m / covet
        );
    }
}

struct Args {
    size_mb: u64,
    rounds: usize,
    pg: bool,
    mariadb: bool,
}

fn args() -> Args {
    let mut a = Args {
        size_mb: 1024,
        rounds: std::env::var("COVET_BENCH_ROUNDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3),
        pg: true,
        mariadb: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--size-mb" => {
                a.size_mb = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .expect("--size-mb takes a positive number of megabytes");
            }
            "--rounds" => {
                a.rounds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--rounds takes a number");
            }
            "--only" => match it.next().as_deref() {
                Some("pg" | "postgres") => a.mariadb = false,
                Some("mariadb" | "mysql") => a.pg = false,
                other => panic!("--only takes pg or mariadb, not {other:?}"),
            },
            // cargo bench passes --bench.
            _ => {}
        }
    }
    a.rounds = a.rounds.max(1);
    a
}

async fn bench_pg(pg: &DatabaseUrl, a: &Args, work: &Path, key: &KeySource) {
    let src_name = "covet_bench_backup_src";
    drop_db(pg, src_name).await;
    admin_exec(pg, &format!("CREATE DATABASE {src_name}")).await;
    let src_url = pg.with_database(src_name);
    let src = covet::connect(src_url.clone()).await.unwrap();
    let secs = generate(src.as_ref(), a.size_mb).await;
    println!("PostgreSQL source generated in {secs:.1} s");
    let env = pg_env(&src_url);
    let mut rows = vec![
        Row::new(
            "postgresql",
            "covet (zstd, encrypted, 2 connections)",
            "create",
        ),
        Row::new("postgresql", "pg_dump -Fc", "create"),
        Row::new("postgresql", "pg_dump -Fd -j 2", "create"),
        Row::new(
            "postgresql",
            "covet (verify + load, 2 connections)",
            "restore",
        ),
        Row::new("postgresql", "pg_restore -j 2 (from -Fd)", "restore"),
    ];
    let cdir = work.join("covet-pg");
    let fc = work.join("pg.dump");
    let fd = work.join("pg.dir");
    let mut raw = 0;
    for round in 0..a.rounds {
        let (s, rss, name, r) = covet_create(&src, src_name, &cdir, key).await;
        raw = r;
        rows[0].push((s, rss));
        rows[1].push(timed_shell(
            &format!("pg_dump -d {src_name} -Fc -f {}", fc.display()),
            &env,
        ));
        let _ = std::fs::remove_dir_all(&fd);
        rows[2].push(timed_shell(
            &format!("pg_dump -d {src_name} -Fd -j 2 -f {}", fd.display()),
            &env,
        ));
        let tgt = format!("covet_bench_backup_r{round}");
        drop_db(pg, &tgt).await;
        rows[3].push(covet_restore(&cdir, &name, &pg.with_database(&tgt), key).await);
        drop_db(pg, &tgt).await;
        admin_exec(pg, &format!("CREATE DATABASE {tgt}")).await;
        rows[4].push(timed_shell(
            &format!("pg_restore -j 2 -d {tgt} {}", fd.display()),
            &env,
        ));
        drop_db(pg, &tgt).await;
        eprintln!("postgresql round {} done", round + 1);
    }
    src.close().await;
    drop_db(pg, src_name).await;
    let raw_mb = raw as f64 / 1e6;
    println!("PostgreSQL row data (manifest raw_bytes): {raw_mb:.1} MB");
    print_table(&rows, raw_mb);
}

async fn bench_mariadb(my: &DatabaseUrl, a: &Args, work: &Path, key: &KeySource) {
    let src_name = "covet_bench_backup_src";
    drop_db(my, src_name).await;
    admin_exec(my, &format!("CREATE DATABASE {src_name}")).await;
    let src = covet::connect(my.with_database(src_name)).await.unwrap();
    let secs = generate(src.as_ref(), a.size_mb).await;
    println!("MariaDB source generated in {secs:.1} s");
    let margs = my_args(my);
    let (host, port, user) = (
        my.host().to_owned(),
        my.port(),
        my.user().unwrap_or("root").to_owned(),
    );
    let menv = my_env(my);
    let mut rows = vec![
        Row::new(
            "mariadb",
            "covet (zstd, encrypted, 2 connections)",
            "create",
        ),
        Row::new("mariadb", "mysqldump --single-transaction", "create"),
        Row::new("mariadb", "mydumper -t 2", "create"),
        Row::new("mariadb", "covet (verify + load, 2 connections)", "restore"),
        Row::new("mariadb", "myloader -t 2", "restore"),
    ];
    let cdir = work.join("covet-my");
    let sql = work.join("my.sql");
    let mdir = work.join("my.mydumper");
    let mut raw = 0;
    for round in 0..a.rounds {
        let (s, rss, name, r) = covet_create(&src, src_name, &cdir, key).await;
        raw = r;
        rows[0].push((s, rss));
        rows[1].push(timed_shell(
            &format!(
                "mysqldump {margs} --single-transaction {src_name} > {}",
                sql.display()
            ),
            &menv,
        ));
        let _ = std::fs::remove_dir_all(&mdir);
        rows[2].push(timed_shell(
            &format!(
                "mydumper -h {host} -P {port} -u {user} -B {src_name} -t 2 -o {}",
                mdir.display()
            ),
            &menv,
        ));
        let tgt = format!("covet_bench_backup_r{round}");
        drop_db(my, &tgt).await;
        rows[3].push(covet_restore(&cdir, &name, &my.with_database(&tgt), key).await);
        drop_db(my, &tgt).await;
        admin_exec(my, &format!("CREATE DATABASE {tgt}")).await;
        rows[4].push(timed_shell(
            &format!(
                "myloader -h {host} -P {port} -u {user} -B {tgt} -t 2 -d {}",
                mdir.display()
            ),
            &menv,
        ));
        drop_db(my, &tgt).await;
        eprintln!("mariadb round {} done", round + 1);
    }
    src.close().await;
    drop_db(my, src_name).await;
    let raw_mb = raw as f64 / 1e6;
    println!("MariaDB row data (manifest raw_bytes): {raw_mb:.1} MB");
    print_table(&rows, raw_mb);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let pg: DatabaseUrl = std::env::var("COVET_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
        .parse()
        .unwrap();
    let my: DatabaseUrl = std::env::var("COVET_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
        .parse()
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let key_path = work.path().join("bench.key");
    covet_backup::generate_key_file(&key_path).unwrap();
    let key = KeySource::File(key_path);
    println!(
        "backup bench: about {} MB of row data per engine, {} rounds, interleaved; covet compresses (zstd 3) and encrypts (AES-256-GCM), pg_dump -Fc/-Fd compress (gzip), mysqldump and mydumper do neither",
        a.size_mb, a.rounds
    );
    if a.pg {
        bench_pg(&pg, &a, work.path(), &key).await;
    }
    if a.mariadb {
        bench_mariadb(&my, &a, work.path(), &key).await;
    }
}
