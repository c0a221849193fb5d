//! Databases for the tests: connecting, scratch databases, the standard
//! workload and a table of every mapped type.
#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use covet_backup::Connector;
use covet_core::{Adapter, DatabaseUrl, Decimal, Engine, Json, Statement, Value};

/// Connects with Covet's three adapters.
pub(crate) struct Adapters;

#[async_trait]
impl Connector for Adapters {
    async fn connect(&self, url: &DatabaseUrl) -> covet_core::Result<Arc<dyn Adapter>> {
        Ok(match url.engine() {
            Engine::Postgres => Arc::new(covet_adapter_pg::PgAdapter::connect(url).await?),
            Engine::MySql => Arc::new(covet_adapter_mysql::MySqlAdapter::connect(url).await?),
            _ => Arc::new(covet_adapter_sqlite::SqliteAdapter::connect(url).await?),
        })
    }
}

/// The server URL from `var`, or `None` (after printing why) when it is
/// unset; a failure when COVET_REQUIRE_DB=1.
pub(crate) fn server_url(var: &str) -> Option<DatabaseUrl> {
    match std::env::var(var) {
        Ok(u) => Some(u.parse().expect("a valid database URL")),
        Err(_) => {
            assert!(
                std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
                "{var} is unset and COVET_REQUIRE_DB=1"
            );
            eprintln!("skipping: {var} is not set");
            None
        }
    }
}

/// A unique database name.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}_{:016x}", rand::random::<u64>())
}

/// Creates a fresh database beside `server` and returns its URL.
pub(crate) async fn create_db(server: &DatabaseUrl, name: &str) -> DatabaseUrl {
    let (admin, q) = match server.engine() {
        Engine::Postgres => (server.with_database("postgres"), '"'),
        _ => (server.with_database("information_schema"), '`'),
    };
    let a = Adapters.connect(&admin).await.unwrap();
    a.execute(&Statement::new(format!("CREATE DATABASE {q}{name}{q}")))
        .await
        .unwrap();
    a.close().await;
    server.with_database(name)
}

/// Drops a database created by [`create_db`] (or by a restore).
pub(crate) async fn drop_db(server: &DatabaseUrl, name: &str) {
    let (admin, sql) = match server.engine() {
        Engine::Postgres => (
            server.with_database("postgres"),
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        ),
        _ => (
            server.with_database("information_schema"),
            format!("DROP DATABASE IF EXISTS `{name}`"),
        ),
    };
    let a = Adapters.connect(&admin).await.unwrap();
    a.execute(&Statement::new(sql)).await.unwrap();
    a.close().await;
}

/// Whether a database exists on the server.
pub(crate) async fn db_exists(server: &DatabaseUrl, name: &str) -> bool {
    let (admin, sql) = match server.engine() {
        Engine::Postgres => (
            server.with_database("postgres"),
            "SELECT 1 FROM pg_database WHERE datname = $1",
        ),
        _ => (
            server.with_database("information_schema"),
            "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
        ),
    };
    let a = Adapters.connect(&admin).await.unwrap();
    let r = a.query(&Statement::new(sql).bind(name)).await.unwrap();
    a.close().await;
    !r.is_empty()
}

fn ddl(engine: Engine) -> Vec<String> {
    let (id, ts, text) = match engine {
        Engine::Postgres => ("BIGSERIAL PRIMARY KEY", "TIMESTAMP", "TEXT"),
        Engine::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "DATETIME(6)", "TEXT"),
        _ => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TIMESTAMP", "TEXT"),
    };
    let big = if engine == Engine::Sqlite {
        "INTEGER"
    } else {
        "BIGINT"
    };
    vec![
        format!(
            "CREATE TABLE users (id {id}, name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, \
             age INT NOT NULL, hair_color VARCHAR(50) NULL, created_at {ts} NOT NULL)"
        ),
        "CREATE INDEX users_age ON users (age)".into(),
        format!(
            "CREATE TABLE posts (id {id}, user_id {big} NOT NULL REFERENCES users(id), \
             title VARCHAR(200) NOT NULL, body {text} NULL, created_at {ts} NOT NULL)"
        ),
        "CREATE INDEX posts_user ON posts (user_id)".into(),
        format!(
            "CREATE TABLE comments (id {id}, post_id {big} NOT NULL REFERENCES posts(id), text {text} NOT NULL)"
        ),
        "CREATE INDEX comments_post ON comments (post_id)".into(),
        format!("CREATE TABLE tags (id {id}, name VARCHAR(50) NOT NULL UNIQUE)"),
        format!(
            "CREATE TABLE post_tags (post_id {big} NOT NULL REFERENCES posts(id), \
             tag_id {big} NOT NULL REFERENCES tags(id), PRIMARY KEY (post_id, tag_id))"
        ),
    ]
}

/// A tiny deterministic generator (xorshift), so runs load identical data.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn text_of(rng: &mut Rng, len: usize) -> String {
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
    ];
    let mut s = String::with_capacity(len + 12);
    while s.len() < len {
        s.push_str(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
        s.push(' ');
    }
    s.truncate(len);
    s
}

fn ts(i: u64) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        + chrono::Duration::seconds(i as i64 * 37)
}

/// Creates the workload schema and loads `users` users (the workload's
/// 10,000 x S, here a small S) with their posts, comments and tags.
pub(crate) async fn load_workload(a: &dyn Adapter, users: u64) {
    for s in ddl(a.engine()) {
        a.execute(&Statement::new(s)).await.unwrap();
    }
    let mut rng = Rng::new(42);
    let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
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
            Value::Timestamp(ts(i)),
        ]);
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
    let mut post_id = 0i64;
    let (mut posts, mut comments, mut pt) = (Vec::new(), Vec::new(), Vec::new());
    for u in 1..=users {
        for _ in 0..(u % 21) {
            post_id += 1;
            let len = rng.range(200, 2000) as usize;
            posts.push(vec![
                Value::I64(post_id),
                Value::I64(u as i64),
                Value::Text(format!("post {post_id}")),
                Value::Text(text_of(&mut rng, len)),
                Value::Timestamp(ts(post_id as u64)),
            ]);
            for c in 0..2 {
                comments.push(vec![
                    Value::I64(post_id * 2 - 1 + c),
                    Value::I64(post_id),
                    Value::Text(text_of(&mut rng, 60)),
                ]);
            }
            let first = rng.range(1, 48) as i64;
            for t in 0..3 {
                pt.push(vec![Value::I64(post_id), Value::I64(first + t)]);
            }
            if posts.len() >= 500 {
                flush(a, &mut posts, &mut comments, &mut pt).await;
            }
        }
    }
    flush(a, &mut posts, &mut comments, &mut pt).await;
    fix_sequences(a, &["users", "posts", "comments", "tags"]).await;
}

async fn flush(
    a: &dyn Adapter,
    posts: &mut Vec<Vec<Value>>,
    comments: &mut Vec<Vec<Value>>,
    pt: &mut Vec<Vec<Value>>,
) {
    let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if !posts.is_empty() {
        a.bulk_insert(
            "posts",
            &cols(&["id", "user_id", "title", "body", "created_at"]),
            std::mem::take(posts).into(),
        )
        .await
        .unwrap();
        a.bulk_insert(
            "comments",
            &cols(&["id", "post_id", "text"]),
            std::mem::take(comments).into(),
        )
        .await
        .unwrap();
        a.bulk_insert(
            "post_tags",
            &cols(&["post_id", "tag_id"]),
            std::mem::take(pt).into(),
        )
        .await
        .unwrap();
    }
}

/// Moves PostgreSQL sequences past the ids inserted explicitly.
pub(crate) async fn fix_sequences(a: &dyn Adapter, tables: &[&str]) {
    if a.engine() != Engine::Postgres {
        return;
    }
    for t in tables {
        a.execute(&Statement::new(format!(
            "SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT coalesce(max(id), 0) + 1 FROM {t}), false)"
        )))
        .await
        .unwrap();
    }
}

/// A table with a column of every mapped type, rows with NULLs, unicode,
/// extreme values and a large blob.
pub(crate) async fn load_types(a: &dyn Adapter, blob_size: usize) {
    let engine = a.engine();
    let (sql, cols): (&str, Vec<&str>) = match engine {
        Engine::Postgres => (
            "CREATE TABLE all_types (id BIGINT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, \
             f4 REAL, f8 DOUBLE PRECISION, num NUMERIC(30,6), t TEXT, vc VARCHAR(40), by BYTEA, d DATE, tm TIME, \
             ts TIMESTAMP, tz TIMESTAMPTZ, u UUID, j JSONB)",
            vec![
                "id", "b", "i2", "i4", "i8", "f4", "f8", "num", "t", "vc", "by", "d", "tm", "ts",
                "tz", "u", "j",
            ],
        ),
        Engine::MySql => (
            "CREATE TABLE all_types (id BIGINT PRIMARY KEY, i2 SMALLINT, i4 INT, i8 BIGINT, \
             f8 DOUBLE, num DECIMAL(30,6), t TEXT, vc VARCHAR(40), by_ LONGBLOB, d DATE, tm TIME(6), \
             ts DATETIME(6))",
            vec![
                "id", "i2", "i4", "i8", "f8", "num", "t", "vc", "by_", "d", "tm", "ts",
            ],
        ),
        _ => (
            "CREATE TABLE all_types (id INTEGER PRIMARY KEY, i8 INTEGER, f8 REAL, t TEXT, by BLOB)",
            vec!["id", "i8", "f8", "t", "by"],
        ),
    };
    a.execute(&Statement::new(sql)).await.unwrap();
    let blob: Vec<u8> = (0..blob_size).map(|i| (i * 7 % 251) as u8).collect();
    let date = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap();
    let time = NaiveTime::from_hms_micro_opt(23, 59, 58, 123_456).unwrap();
    let stamp = date.and_time(time);
    let tz = Utc.with_ymd_and_hms(2030, 6, 1, 12, 0, 0).unwrap();
    let full = |id: i64, s: &str, by: Vec<u8>, big: i64, f: f64| -> Vec<Value> {
        let all: Vec<(&str, Value)> = vec![
            ("id", Value::I64(id)),
            ("b", Value::Bool(id % 2 == 0)),
            ("i2", Value::I16(i16::MIN + id as i16)),
            ("i4", Value::I32(i32::MAX - id as i32)),
            ("i8", Value::I64(big)),
            ("f4", Value::F32(1.5 + id as f32)),
            ("f8", Value::F64(f)),
            (
                "num",
                Value::Decimal("-123456789012345.123456".parse::<Decimal>().unwrap()),
            ),
            ("t", Value::Text(s.into())),
            ("vc", Value::Text(format!("vc {id} ✓"))),
            ("by", Value::Bytes(by.clone())),
            ("by_", Value::Bytes(by)),
            ("d", Value::Date(date)),
            ("tm", Value::Time(time)),
            ("ts", Value::Timestamp(stamp)),
            ("tz", Value::TimestampTz(tz)),
            (
                "u",
                Value::Uuid(uuid::Uuid::from_u128(
                    0x1234_5678_9abc_def0_1234_5678_9abc_def0 + id as u128,
                )),
            ),
            (
                "j",
                Value::Json(Json(format!("{{\"k\": [1, 2, \"ü{id}\"]}}"))),
            ),
        ];
        cols.iter()
            .map(|c| all.iter().find(|(n, _)| n == c).unwrap().1.clone())
            .collect()
    };
    let nulls: Vec<Value> = cols
        .iter()
        .map(|c| {
            if *c == "id" {
                Value::I64(3)
            } else {
                Value::Null
            }
        })
        .collect();
    let rows = vec![
        full(
            1,
            "plain ascii",
            vec![0, 1, 2, 255],
            i64::MAX,
            f64::MIN_POSITIVE,
        ),
        full(
            2,
            "unicode: 日本語 🎉 ÆØÅ ‘quotes’ 'single' \\backslash\\ \"double\"",
            blob,
            i64::MIN + 1,
            -0.0,
        ),
        nulls,
        full(4, "", vec![], 0, 1e300),
    ];
    let cols: Vec<String> = cols.iter().map(|s| s.to_string()).collect();
    a.bulk_insert("all_types", &cols, rows.into())
        .await
        .unwrap();
}

/// Row count and checksum of every table, by name.
pub(crate) async fn checksums(a: &dyn Adapter) -> Vec<(String, u64, String)> {
    let schema = a.schema().await.unwrap();
    let mut out = Vec::new();
    for t in &schema.tables {
        let (n, sum) = covet_backup::table_checksum(a, t).await.unwrap();
        out.push((t.name.clone(), n, sum.to_hex()));
    }
    out
}
