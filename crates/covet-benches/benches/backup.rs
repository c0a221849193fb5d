//! `cargo xtask bench backup`: covet backup create / restore against
//! pg_dump -Fc / pg_restore -j 2 / pg_dump | gzip on PostgreSQL and against
//! mysqldump --single-transaction | gzip and its reload on MariaDB, side by
//! side and interleaved, on the standard workload.
//!
//! Settings (environment): COVET_BENCH_BACKUP_SCALE (workload scale factor,
//! default 0.5: 5,000 users, about 50,000 posts), COVET_BENCH_ROUNDS
//! (default 3), COVET_PG_URL, COVET_MYSQL_URL (the standard test URLs by
//! default). Throughput is the source's encoded row bytes (the backup
//! manifest's raw_bytes, the same numerator for every tool) per second.
//! Peak RSS: covet's own process (VmHWM, reset before each operation); the
//! external tools' largest process, from GNU time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use covet::{Adapter, DatabaseUrl, Engine, Statement, Value};
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

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn text(rng: &mut Rng, len: usize) -> String {
    const WORDS: &[&str] = &[
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
        "incididunt",
        "labore",
        "magna",
        "aliqua",
    ];
    let mut s = String::with_capacity(len + 12);
    while s.len() < len {
        s.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
        s.push(' ');
    }
    s.truncate(len);
    s
}

fn cols(c: &[&str]) -> Vec<String> {
    c.iter().map(|s| (*s).to_owned()).collect()
}

/// The standard workload (shared/workload.md) at `users` users.
async fn load(a: &dyn Adapter, users: u64) {
    let my = a.engine() == Engine::MySql;
    let id = if my {
        "BIGINT AUTO_INCREMENT PRIMARY KEY"
    } else {
        "BIGSERIAL PRIMARY KEY"
    };
    let ts = if my { "DATETIME" } else { "TIMESTAMP" };
    for s in [
        format!(
            "CREATE TABLE users (id {id}, name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, age INT NOT NULL, hair_color VARCHAR(50) NULL, created_at {ts} NOT NULL)"
        ),
        "CREATE INDEX users_age ON users (age)".into(),
        format!(
            "CREATE TABLE posts (id {id}, user_id BIGINT NOT NULL REFERENCES users(id), title VARCHAR(200) NOT NULL, body TEXT NULL, created_at {ts} NOT NULL)"
        ),
        "CREATE INDEX posts_user ON posts (user_id)".into(),
        format!("CREATE TABLE comments (id {id}, post_id BIGINT NOT NULL REFERENCES posts(id), text TEXT NOT NULL)"),
        "CREATE INDEX comments_post ON comments (post_id)".into(),
        format!("CREATE TABLE tags (id {id}, name VARCHAR(50) NOT NULL UNIQUE)"),
        "CREATE TABLE post_tags (post_id BIGINT NOT NULL REFERENCES posts(id), tag_id BIGINT NOT NULL REFERENCES tags(id), PRIMARY KEY (post_id, tag_id))".into(),
    ] {
        a.execute(&Statement::new(s)).await.unwrap();
    }
    let mut rng = Rng(0x5eed);
    let t0 = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let at = |i: u64| t0 + chrono::Duration::seconds(i as i64 * 37);
    let hair = ["black", "brown", "blond", "red"];
    let mut batch = Vec::new();
    for i in 1..=users {
        batch.push(vec![
            Value::I64(i as i64),
            Value::Text(format!("user {i}")),
            Value::Text(format!("user{i}@example.com")),
            Value::I32(rng.range(10, 80) as i32),
            if i % 5 == 0 {
                Value::Null
            } else {
                Value::Text(hair[(i % 4) as usize].into())
            },
            Value::Timestamp(at(i)),
        ]);
        if batch.len() == 2000 {
            a.bulk_insert(
                "users",
                &cols(&["id", "name", "email", "age", "hair_color", "created_at"]),
                std::mem::take(&mut batch).into(),
            )
            .await
            .unwrap();
        }
    }
    a.bulk_insert(
        "users",
        &cols(&["id", "name", "email", "age", "hair_color", "created_at"]),
        batch.into(),
    )
    .await
    .unwrap();
    let tags: Vec<_> = (1..=50)
        .map(|i| vec![Value::I64(i), Value::Text(format!("tag{i}"))])
        .collect();
    a.bulk_insert("tags", &cols(&["id", "name"]), tags.into())
        .await
        .unwrap();
    let (mut posts, mut comments, mut pt) = (Vec::new(), Vec::new(), Vec::new());
    let mut post = 0i64;
    for u in 1..=users {
        for _ in 0..(u % 21) {
            post += 1;
            let len = rng.range(200, 2000) as usize;
            posts.push(vec![
                Value::I64(post),
                Value::I64(u as i64),
                Value::Text(format!("post {post}")),
                Value::Text(text(&mut rng, len)),
                Value::Timestamp(at(post as u64)),
            ]);
            for c in 0..2 {
                comments.push(vec![
                    Value::I64(post * 2 - 1 + c),
                    Value::I64(post),
                    Value::Text(text(&mut rng, 60)),
                ]);
            }
            let first = rng.range(1, 48) as i64;
            for t in 0..3 {
                pt.push(vec![Value::I64(post), Value::I64(first + t)]);
            }
            if posts.len() >= 2000 {
                a.bulk_insert(
                    "posts",
                    &cols(&["id", "user_id", "title", "body", "created_at"]),
                    std::mem::take(&mut posts).into(),
                )
                .await
                .unwrap();
                a.bulk_insert(
                    "comments",
                    &cols(&["id", "post_id", "text"]),
                    std::mem::take(&mut comments).into(),
                )
                .await
                .unwrap();
                a.bulk_insert(
                    "post_tags",
                    &cols(&["post_id", "tag_id"]),
                    std::mem::take(&mut pt).into(),
                )
                .await
                .unwrap();
            }
        }
    }
    a.bulk_insert(
        "posts",
        &cols(&["id", "user_id", "title", "body", "created_at"]),
        posts.into(),
    )
    .await
    .unwrap();
    a.bulk_insert(
        "comments",
        &cols(&["id", "post_id", "text"]),
        comments.into(),
    )
    .await
    .unwrap();
    a.bulk_insert("post_tags", &cols(&["post_id", "tag_id"]), pt.into())
        .await
        .unwrap();
    if !my {
        for t in ["users", "posts", "comments", "tags"] {
            a.execute(&Statement::new(format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"
            )))
            .await
            .unwrap();
        }
        a.execute(&Statement::new("VACUUM ANALYZE")).await.ok();
    }
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

/// Resets the peak to the current RSS and returns that baseline: heap the
/// allocator kept from loading the data counts in the peak, so the table
/// shows it beside the peak.
fn reset_hwm() -> f64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_mb("VmRSS:")
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

fn size_mb(p: &Path) -> f64 {
    std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / 1e6)
}

fn dir_size_mb(p: &Path) -> f64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".json"))
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .sum::<u64>() as f64
                / 1e6
        })
        .unwrap_or(0.0)
}

#[derive(Default)]
struct Series {
    secs: Vec<f64>,
    out_mb: f64,
    rss_mb: Vec<f64>,
    base_mb: Vec<f64>,
}

impl Series {
    fn median(&self) -> f64 {
        let mut v = self.secs.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
    fn rss(&self) -> f64 {
        self.rss_mb.iter().copied().fold(0.0, f64::max)
    }
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
    let mut s = format!(
        "-h {} -P {} -u {}",
        url.host(),
        url.port(),
        url.user().unwrap_or("root")
    );
    if let Some(p) = url.password() {
        s.push_str(&format!(" -p'{}'", p.expose()));
    }
    s
}

async fn covet_create(
    src: &Arc<dyn Adapter>,
    db: &str,
    dir: &Path,
    compression: Compression,
    key: &KeySource,
) -> (f64, f64, String, u64, f64) {
    let _ = std::fs::remove_dir_all(dir);
    let sink = LocalDirSink::new(dir);
    let mut opts = CreateOptions::new(WriteOptions {
        compression,
        encryption: Encryption::Key(key.clone()),
        chunk_size: 1 << 20,
    });
    opts.parallelism = 2;
    let base = reset_hwm();
    let t = Instant::now();
    let e = covet_backup::create_backup(src.clone(), db, &sink, opts)
        .await
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let r = covet_backup::verify(&sink, &e.name, Some(key))
        .await
        .unwrap();
    (secs, vm_hwm_mb(), e.name, r.manifest.totals.raw_bytes, base)
}

async fn covet_restore(
    dir: &Path,
    name: &str,
    target: &DatabaseUrl,
    key: &KeySource,
) -> (f64, f64, f64) {
    let sink = LocalDirSink::new(dir);
    let base = reset_hwm();
    let t = Instant::now();
    covet_backup::restore(
        &sink,
        name,
        target,
        &Facade,
        &RestoreOptions {
            key: Some(key.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    (t.elapsed().as_secs_f64(), vm_hwm_mb(), base)
}

struct Row {
    engine: &'static str,
    tool: &'static str,
    s: Series,
}

fn print_table(rows: &[Row], raw_mb: f64) {
    println!(
        "\n{:<8} {:<40} {:>9} {:>9} {:>10} {:>12} {:>12}",
        "engine", "tool", "median s", "MB/s", "output MB", "peak RSS MB", "baseline MB"
    );
    for r in rows {
        let m = r.s.median();
        println!(
            "{:<8} {:<40} {:>9.2} {:>9.1} {:>10} {:>12.1} {:>12}",
            r.engine,
            r.tool,
            m,
            raw_mb / m,
            if r.s.out_mb > 0.0 {
                format!("{:.1}", r.s.out_mb)
            } else {
                "-".into()
            },
            r.s.rss(),
            if r.s.base_mb.is_empty() {
                "-".to_string()
            } else {
                format!("{:.1}", r.s.base_mb.iter().copied().fold(0.0, f64::max))
            }
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let scale: f64 = std::env::var("COVET_BENCH_BACKUP_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5);
    let rounds: usize = std::env::var("COVET_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let users = ((10_000.0 * scale) as u64).max(100);
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
        "backup bench: scale {scale} ({users} users), {rounds} rounds, interleaved; covet encrypts (AES-256-GCM), the others do not"
    );

    // PostgreSQL.
    let src_name = "covet_bench_backup_src";
    drop_db(&pg, src_name).await;
    admin_exec(&pg, &format!("CREATE DATABASE {src_name}")).await;
    let src_url = pg.with_database(src_name);
    let src = covet::connect(src_url.clone()).await.unwrap();
    let t = Instant::now();
    load(src.as_ref(), users).await;
    let size = src
        .query(&Statement::new(
            "SELECT pg_database_size(current_database())",
        ))
        .await
        .unwrap();
    let db_mb = size.rows[0].get::<i64>(0).unwrap() as f64 / 1e6;
    println!(
        "PostgreSQL source loaded in {:.1} s: {db_mb:.0} MB on disk",
        t.elapsed().as_secs_f64()
    );
    let env = pg_env(&src_url);
    let mut rows = vec![
        Row {
            engine: "pg",
            tool: "covet create (zstd, encrypted)",
            s: Series::default(),
        },
        Row {
            engine: "pg",
            tool: "covet create (gzip, encrypted)",
            s: Series::default(),
        },
        Row {
            engine: "pg",
            tool: "pg_dump -Fc",
            s: Series::default(),
        },
        Row {
            engine: "pg",
            tool: "pg_dump | gzip",
            s: Series::default(),
        },
        Row {
            engine: "pg",
            tool: "covet restore (verify + load, zstd)",
            s: Series::default(),
        },
        Row {
            engine: "pg",
            tool: "pg_restore -j 2",
            s: Series::default(),
        },
    ];
    let mut raw_bytes = 0;
    let zdir: PathBuf = work.path().join("covet-zstd");
    let gdir: PathBuf = work.path().join("covet-gzip");
    let dump = work.path().join("pg.dump");
    let sqlgz = work.path().join("pg.sql.gz");
    for round in 0..rounds {
        let (s, rss, zname, raw, base) =
            covet_create(&src, src_name, &zdir, Compression::Zstd3, &key).await;
        rows[0].s.base_mb.push(base);
        raw_bytes = raw;
        rows[0].s.secs.push(s);
        rows[0].s.rss_mb.push(rss);
        rows[0].s.out_mb = dir_size_mb(&zdir);
        let (s, rss) = timed_shell(
            &format!("pg_dump -d {src_name} -Fc -f {}", dump.display()),
            &env,
        );
        rows[2].s.secs.push(s);
        rows[2].s.rss_mb.push(rss);
        rows[2].s.out_mb = size_mb(&dump);
        let (s, rss, _, _, base) =
            covet_create(&src, src_name, &gdir, Compression::Gzip(6), &key).await;
        rows[1].s.base_mb.push(base);
        rows[1].s.secs.push(s);
        rows[1].s.rss_mb.push(rss);
        rows[1].s.out_mb = dir_size_mb(&gdir);
        let (s, rss) = timed_shell(
            &format!("pg_dump -d {src_name} | gzip > {}", sqlgz.display()),
            &env,
        );
        rows[3].s.secs.push(s);
        rows[3].s.rss_mb.push(rss);
        rows[3].s.out_mb = size_mb(&sqlgz);
        // Restores into fresh databases.
        let tgt = format!("covet_bench_backup_r{round}");
        drop_db(&pg, &tgt).await;
        let (s, rss, base) = covet_restore(&zdir, &zname, &pg.with_database(&tgt), &key).await;
        rows[4].s.base_mb.push(base);
        rows[4].s.secs.push(s);
        rows[4].s.rss_mb.push(rss);
        drop_db(&pg, &tgt).await;
        admin_exec(&pg, &format!("CREATE DATABASE {tgt}")).await;
        let (s, rss) = timed_shell(
            &format!("pg_restore -j 2 -d {tgt} {}", dump.display()),
            &env,
        );
        rows[5].s.secs.push(s);
        rows[5].s.rss_mb.push(rss);
        drop_db(&pg, &tgt).await;
        eprintln!("pg round {} done", round + 1);
    }
    src.close().await;
    let raw_mb = raw_bytes as f64 / 1e6;
    println!("row data (manifest raw_bytes): {raw_mb:.1} MB");
    print_table(&rows, raw_mb);
    let m = |i: usize| rows[i].s.median();
    println!(
        "\npg create throughput: covet zstd / pg_dump -Fc = {:.2}x (target >= 2x); covet gzip / pg_dump -Fc = {:.2}x",
        m(2) / m(0),
        m(2) / m(1)
    );
    println!(
        "pg restore time: covet / pg_restore -j 2 = {:.2} (target <= 1.0; covet's includes a full verification pass)",
        m(4) / m(5)
    );
    println!(
        "covet peak RSS: create {:.1} MB, restore {:.1} MB (target < 100 MB)",
        rows[0].s.rss().max(rows[1].s.rss()),
        rows[4].s.rss()
    );
    drop_db(&pg, src_name).await;

    // MariaDB.
    let msrc = "covet_bench_backup_src";
    drop_db(&my, msrc).await;
    admin_exec(&my, &format!("CREATE DATABASE {msrc}")).await;
    let msrc_url = my.with_database(msrc);
    let src = covet::connect(msrc_url.clone()).await.unwrap();
    let t = Instant::now();
    load(src.as_ref(), users).await;
    println!(
        "\nMariaDB source loaded in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let margs = my_args(&my);
    let mut mrows = vec![
        Row {
            engine: "mariadb",
            tool: "covet create (zstd, encrypted)",
            s: Series::default(),
        },
        Row {
            engine: "mariadb",
            tool: "mysqldump --single-transaction | gzip",
            s: Series::default(),
        },
        Row {
            engine: "mariadb",
            tool: "covet restore (verify + load)",
            s: Series::default(),
        },
        Row {
            engine: "mariadb",
            tool: "gunzip | mysql (reload)",
            s: Series::default(),
        },
    ];
    let mdir = work.path().join("covet-my");
    let mgz = work.path().join("my.sql.gz");
    let mut mraw = 0;
    for round in 0..rounds {
        let (s, rss, name, raw, base) =
            covet_create(&src, msrc, &mdir, Compression::Zstd3, &key).await;
        mrows[0].s.base_mb.push(base);
        mraw = raw;
        mrows[0].s.secs.push(s);
        mrows[0].s.rss_mb.push(rss);
        mrows[0].s.out_mb = dir_size_mb(&mdir);
        let (s, rss) = timed_shell(
            &format!(
                "mysqldump {margs} --single-transaction {msrc} | gzip > {}",
                mgz.display()
            ),
            &[],
        );
        mrows[1].s.secs.push(s);
        mrows[1].s.rss_mb.push(rss);
        mrows[1].s.out_mb = size_mb(&mgz);
        let tgt = format!("covet_bench_backup_r{round}");
        drop_db(&my, &tgt).await;
        let (s, rss, base) = covet_restore(&mdir, &name, &my.with_database(&tgt), &key).await;
        mrows[2].s.base_mb.push(base);
        mrows[2].s.secs.push(s);
        mrows[2].s.rss_mb.push(rss);
        drop_db(&my, &tgt).await;
        admin_exec(&my, &format!("CREATE DATABASE {tgt}")).await;
        let (s, rss) = timed_shell(
            &format!("gunzip -c {} | mysql {margs} {tgt}", mgz.display()),
            &[],
        );
        mrows[3].s.secs.push(s);
        mrows[3].s.rss_mb.push(rss);
        drop_db(&my, &tgt).await;
        eprintln!("mariadb round {} done", round + 1);
    }
    src.close().await;
    drop_db(&my, msrc).await;
    let mraw_mb = mraw as f64 / 1e6;
    println!("row data (manifest raw_bytes): {mraw_mb:.1} MB");
    print_table(&mrows, mraw_mb);
    let mm = |i: usize| mrows[i].s.median();
    println!(
        "\nmariadb: create covet / mysqldump|gzip throughput = {:.2}x; restore time covet / reload = {:.2}",
        mm(1) / mm(0),
        mm(2) / mm(3)
    );
}
