//! Creating the standard schema and loading its deterministic data.
//!
//! The data set of ../shared/workload.md is loaded by `Adapter::bulk_insert`
//! in batches. A marker table, `covet_loadtest_meta`, records the generator
//! version, the scale and the row counts; it says `complete = 0` while
//! loading and `1` once everything (indexes included) is in place. A later
//! run reuses a complete data set of the same scale whose counts still
//! match, and rebuilds anything else it created itself. Tables it did not
//! create are never dropped without `recreate`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use covet_core::{Adapter, Engine, ErrorKind, Statement, Value};

use crate::error::{LoadtestError, Result};
use crate::rng::Rng;

/// Bump when the generated data changes, so old data sets are rebuilt.
const GENERATOR_VERSION: i64 = 1;
const DATA_SEED: u64 = 0xC0DE_5EED;
const BATCH: usize = 2_000;
const HAIR: [&str; 4] = ["black", "brown", "blond", "red"];
const WORDS: [&str; 24] = [
    "alpha", "bravo", "covet", "delta", "echo", "forty", "gamma", "hotel", "index", "joule",
    "kilo", "lima", "metric", "nova", "omega", "pool", "query", "relay", "sierra", "table",
    "union", "vector", "whisky", "yield",
];

/// Row counts of the data set at a scale factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DatasetCounts {
    /// users rows (the seeded ones; write_user adds more).
    pub users: i64,
    /// posts rows.
    pub posts: i64,
    /// comments rows.
    pub comments: i64,
    /// tags rows.
    pub tags: i64,
    /// post_tags rows.
    pub post_tags: i64,
}

impl DatasetCounts {
    /// The counts ../shared/workload.md prescribes for `scale`.
    pub fn for_scale(scale: f64) -> Self {
        let users = users_for_scale(scale);
        let posts: i64 = (1..=users).map(|i| i % 21).sum();
        DatasetCounts {
            users,
            posts,
            comments: posts * 2,
            tags: 50,
            post_tags: posts * 3,
        }
    }
}

/// Users at scale `scale` (10,000 per unit, at least 100).
pub(crate) fn users_for_scale(scale: f64) -> i64 {
    ((10_000.0 * scale).round() as i64).max(100)
}

/// Receives setup's progress messages.
pub type SetupProgressFn = Arc<dyn Fn(&str) + Send + Sync>;

/// How to set the data set up.
#[derive(Clone)]
pub struct SetupOptions {
    /// Scale factor (1 = 10,000 users, about 100,000 posts).
    pub scale: f64,
    /// Drop and rebuild even a complete data set, and drop tables of the
    /// same names that covet loadtest did not create.
    pub recreate: bool,
    /// Told what is happening (`creating tables`, `posts 40,000/100,000`).
    pub progress: Option<SetupProgressFn>,
}

impl std::fmt::Debug for SetupOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupOptions")
            .field("scale", &self.scale)
            .field("recreate", &self.recreate)
            .finish_non_exhaustive()
    }
}

impl Default for SetupOptions {
    fn default() -> Self {
        SetupOptions {
            scale: 1.0,
            recreate: false,
            progress: None,
        }
    }
}

/// What setup did.
#[derive(Debug, Clone, PartialEq)]
pub enum SetupOutcome {
    /// A complete data set of this scale was found and reused.
    Reused(DatasetCounts),
    /// Nothing was there; the data set was created.
    Created(DatasetCounts, Duration),
    /// A partial, outdated or other-scale data set was dropped and rebuilt.
    Rebuilt {
        /// Why the old one was not reused.
        reason: String,
        /// The new counts.
        counts: DatasetCounts,
        /// How long loading took.
        took: Duration,
    },
}

impl std::fmt::Display for SetupOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetupOutcome::Reused(c) => write!(
                f,
                "reusing the data set ({} users, {} posts)",
                c.users, c.posts
            ),
            SetupOutcome::Created(c, t) => write!(
                f,
                "created the data set ({} users, {} posts, {} comments) in {:.1} s",
                c.users,
                c.posts,
                c.comments,
                t.as_secs_f64()
            ),
            SetupOutcome::Rebuilt {
                reason,
                counts,
                took,
            } => write!(
                f,
                "rebuilt the data set ({reason}): {} users, {} posts in {:.1} s",
                counts.users,
                counts.posts,
                took.as_secs_f64()
            ),
        }
    }
}

fn is_unreachable(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Connection
            | ErrorKind::Auth
            | ErrorKind::Timeout
            | ErrorKind::PoolTimeout
            | ErrorKind::Closed
            | ErrorKind::TooManyConnections
    )
}

/// Runs a probe; an error that says the object is missing becomes `None`,
/// an error that says the server is unwell is returned.
async fn probe(adapter: &dyn Adapter, sql: &str) -> Result<Option<covet_core::Rows>> {
    match adapter.query(&Statement::new(sql)).await {
        Ok(rows) => Ok(Some(rows)),
        Err(e) if is_unreachable(e.kind()) => Err(e.into()),
        Err(_) => Ok(None),
    }
}

async fn count(adapter: &dyn Adapter, table: &str) -> Result<i64> {
    let rows = adapter
        .query(&Statement::new(format!("SELECT COUNT(*) FROM {table}")))
        .await?;
    let row = rows.rows.first().ok_or_else(|| {
        LoadtestError::config(format!("SELECT COUNT(*) FROM {table} returned no row"))
    })?;
    Ok(row.get::<i64>(0)?)
}

/// Why the existing data set cannot be reused, or `None` when it can.
async fn check_existing(
    adapter: &dyn Adapter,
    want: &DatasetCounts,
    scale_milli: i64,
) -> Result<Option<String>> {
    let marker = probe(
        adapter,
        "SELECT version, scale_milli, users, posts, comments, tags, post_tags, complete \
         FROM covet_loadtest_meta WHERE name = 'dataset'",
    )
    .await?;
    let Some(rows) = marker else {
        return Ok(Some("no marker".into()));
    };
    let Some(row) = rows.rows.first() else {
        return Ok(Some("the marker table is empty".into()));
    };
    let g = |i: usize| row.get::<i64>(i).unwrap_or(-1);
    if g(7) != 1 {
        return Ok(Some("an earlier load did not finish".into()));
    }
    if g(0) != GENERATOR_VERSION {
        return Ok(Some(
            "it was made by another version of the generator".into(),
        ));
    }
    if g(1) != scale_milli {
        return Ok(Some(format!(
            "it has scale {} and {} was asked for",
            g(1) as f64 / 1000.0,
            scale_milli as f64 / 1000.0
        )));
    }
    for (i, table, expected) in [
        (3, "posts", want.posts),
        (4, "comments", want.comments),
        (5, "tags", want.tags),
        (6, "post_tags", want.post_tags),
    ] {
        if g(i) != expected {
            return Ok(Some(format!("the marker's {table} count is wrong")));
        }
        match count(adapter, table).await {
            Ok(n) if n == expected => {}
            Ok(n) => {
                return Ok(Some(format!("{table} has {n} rows, {expected} expected")));
            }
            Err(LoadtestError::Db(e)) if is_unreachable(e.kind()) => return Err(e.into()),
            Err(_) => return Ok(Some(format!("table {table} is missing or unreadable"))),
        }
    }
    match count(adapter, "users").await {
        // write_user adds users; fewer than seeded means rows were deleted.
        Ok(n) if n >= want.users => Ok(None),
        Ok(n) => Ok(Some(format!(
            "users has {n} rows, at least {} expected",
            want.users
        ))),
        Err(LoadtestError::Db(e)) if is_unreachable(e.kind()) => Err(e.into()),
        Err(_) => Ok(Some("table users is missing or unreadable".into())),
    }
}

impl SetupOptions {
    /// Checks the options without touching a database, so a caller can
    /// reject a bad scale before connecting. [`ensure_dataset`] calls it too.
    pub fn validate(&self) -> Result<()> {
        if !(self.scale.is_finite() && self.scale > 0.0 && self.scale <= 1000.0) {
            return Err(LoadtestError::config(
                "the scale factor must be above 0 and at most 1000",
            ));
        }
        Ok(())
    }
}

/// Makes sure the standard data set exists at `opts.scale`, creating or
/// rebuilding it when needed.
pub async fn ensure_dataset(adapter: &dyn Adapter, opts: &SetupOptions) -> Result<SetupOutcome> {
    opts.validate()?;
    let want = DatasetCounts::for_scale(opts.scale);
    let scale_milli = (opts.scale * 1000.0).round() as i64;
    let say = |m: &str| {
        if let Some(p) = &opts.progress {
            p(m);
        }
    };
    let reason = if opts.recreate {
        Some("--recreate was given".to_string())
    } else {
        check_existing(adapter, &want, scale_milli).await?
    };
    let Some(reason) = reason else {
        return Ok(SetupOutcome::Reused(want));
    };
    let fresh = reason == "no marker";
    if fresh
        && !opts.recreate
        && probe(adapter, "SELECT 1 FROM users WHERE 1 = 0")
            .await?
            .is_some()
    {
        return Err(LoadtestError::config(
            "the database already has a `users` table that covet loadtest did not create; \
             point --db at an empty database, or pass --recreate to replace the tables \
             users, posts, comments, tags and post_tags",
        ));
    }
    let t0 = Instant::now();
    say("creating tables");
    create_schema(adapter, scale_milli).await?;
    load(adapter, opts.scale, &want, &say).await?;
    say("creating indexes");
    finish(adapter, &want).await?;
    let took = t0.elapsed();
    Ok(if fresh {
        SetupOutcome::Created(want, took)
    } else {
        SetupOutcome::Rebuilt {
            reason,
            counts: want,
            took,
        }
    })
}

async fn exec(adapter: &dyn Adapter, sql: &str) -> Result<()> {
    adapter.execute(&Statement::new(sql)).await.map_err(|e| {
        e.context(format!(
            "setup statement `{}`",
            sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ")
        ))
    })?;
    Ok(())
}

fn ddl(engine: Engine) -> Vec<String> {
    let (id, ts) = match engine {
        Engine::Postgres => (
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            "TIMESTAMP",
        ),
        Engine::MySql => ("BIGINT AUTO_INCREMENT PRIMARY KEY", "DATETIME(6)"),
        // INTEGER PRIMARY KEY is SQLite's rowid alias: 64-bit and auto-assigned.
        _ => ("INTEGER PRIMARY KEY", "TIMESTAMP"),
    };
    vec![
        format!(
            "CREATE TABLE users (id {id}, name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL UNIQUE, \
             age INT NOT NULL, hair_color VARCHAR(50) NULL, created_at {ts} NOT NULL)"
        ),
        format!(
            "CREATE TABLE posts (id {id}, user_id BIGINT NOT NULL REFERENCES users(id), \
             title VARCHAR(200) NOT NULL, body TEXT NULL, created_at {ts} NOT NULL)"
        ),
        format!(
            "CREATE TABLE comments (id {id}, post_id BIGINT NOT NULL REFERENCES posts(id), text TEXT NOT NULL)"
        ),
        format!("CREATE TABLE tags (id {id}, name VARCHAR(50) NOT NULL UNIQUE)"),
        "CREATE TABLE post_tags (post_id BIGINT NOT NULL REFERENCES posts(id), \
         tag_id BIGINT NOT NULL REFERENCES tags(id), PRIMARY KEY (post_id, tag_id))"
            .to_string(),
    ]
}

async fn create_schema(adapter: &dyn Adapter, scale_milli: i64) -> Result<()> {
    for t in [
        "post_tags",
        "comments",
        "posts",
        "tags",
        "users",
        "covet_loadtest_meta",
    ] {
        exec(adapter, &format!("DROP TABLE IF EXISTS {t}")).await?;
    }
    exec(
        adapter,
        "CREATE TABLE covet_loadtest_meta (name VARCHAR(50) NOT NULL PRIMARY KEY, version BIGINT NOT NULL, \
         scale_milli BIGINT NOT NULL, users BIGINT NOT NULL, posts BIGINT NOT NULL, comments BIGINT NOT NULL, \
         tags BIGINT NOT NULL, post_tags BIGINT NOT NULL, complete INT NOT NULL)",
    )
    .await?;
    exec(
        adapter,
        &format!(
            "INSERT INTO covet_loadtest_meta VALUES ('dataset', {GENERATOR_VERSION}, {scale_milli}, 0, 0, 0, 0, 0, 0)"
        ),
    )
    .await?;
    for stmt in ddl(adapter.engine()) {
        exec(adapter, &stmt).await?;
    }
    Ok(())
}

fn text(rng: &mut Rng, min: usize, max: usize) -> String {
    let target = min + rng.below(max - min + 1);
    let mut s = String::with_capacity(target + 8);
    while s.len() < target {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(WORDS[rng.below(WORDS.len())]);
    }
    s.truncate(target);
    s
}

fn timestamp(rng: &mut Rng) -> Value {
    let base: NaiveDateTime = NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    Value::Timestamp(base + chrono::Duration::seconds(rng.range_i64(0, 365 * 86_400)))
}

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_string()).collect()
}

async fn flush(
    adapter: &dyn Adapter,
    table: &str,
    columns: &[String],
    rows: &mut Vec<Vec<Value>>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(rows);
    adapter
        .bulk_insert(table, columns, batch.into())
        .await
        .map_err(|e| e.context(format!("loading {table}")))?;
    Ok(())
}

async fn load(
    adapter: &dyn Adapter,
    scale: f64,
    want: &DatasetCounts,
    say: &dyn Fn(&str),
) -> Result<()> {
    let mut rng = Rng::new(DATA_SEED);
    let users = users_for_scale(scale);

    say(&format!("loading {users} users"));
    let ucols = cols(&["id", "name", "email", "age", "hair_color", "created_at"]);
    let mut rows = Vec::with_capacity(BATCH);
    for i in 1..=users {
        let hair = if i % 5 == 0 {
            Value::Null
        } else {
            Value::Text(HAIR[rng.below(4)].to_string())
        };
        rows.push(vec![
            Value::I64(i),
            Value::Text(format!("{} {i}", text(&mut rng, 4, 12))),
            Value::Text(format!("user{i}@example.com")),
            Value::I32(rng.range_i64(10, 80) as i32),
            hair,
            timestamp(&mut rng),
        ]);
        if rows.len() == BATCH {
            flush(adapter, "users", &ucols, &mut rows).await?;
        }
    }
    flush(adapter, "users", &ucols, &mut rows).await?;

    say("loading 50 tags");
    let tcols = cols(&["id", "name"]);
    let mut tags: Vec<Vec<Value>> = (1..=50)
        .map(|i| vec![Value::I64(i), Value::Text(format!("tag{i:02}"))])
        .collect();
    flush(adapter, "tags", &tcols, &mut tags).await?;

    say(&format!(
        "loading {} posts, {} comments, {} post_tags",
        want.posts, want.comments, want.post_tags
    ));
    let pcols = cols(&["id", "user_id", "title", "body", "created_at"]);
    let ccols = cols(&["id", "post_id", "text"]);
    let ptcols = cols(&["post_id", "tag_id"]);
    let (mut posts, mut comments, mut post_tags) = (Vec::new(), Vec::new(), Vec::new());
    let (mut post_id, mut comment_id) = (0_i64, 0_i64);
    for user in 1..=users {
        for _ in 0..(user % 21) {
            post_id += 1;
            posts.push(vec![
                Value::I64(post_id),
                Value::I64(user),
                Value::Text(text(&mut rng, 20, 80)),
                Value::Text(text(&mut rng, 200, 2000)),
                timestamp(&mut rng),
            ]);
            for _ in 0..2 {
                comment_id += 1;
                comments.push(vec![
                    Value::I64(comment_id),
                    Value::I64(post_id),
                    Value::Text(text(&mut rng, 20, 200)),
                ]);
            }
            let first = rng.range_i64(1, 50);
            for k in 0..3 {
                // first, first+17, first+34 (mod 50): three distinct tags.
                let tag = (first - 1 + 17 * k) % 50 + 1;
                post_tags.push(vec![Value::I64(post_id), Value::I64(tag)]);
            }
        }
        if posts.len() >= BATCH {
            flush(adapter, "posts", &pcols, &mut posts).await?;
            flush(adapter, "comments", &ccols, &mut comments).await?;
            flush(adapter, "post_tags", &ptcols, &mut post_tags).await?;
            if post_id % (BATCH as i64 * 10) < BATCH as i64 {
                say(&format!("posts {post_id}/{}", want.posts));
            }
        }
    }
    flush(adapter, "posts", &pcols, &mut posts).await?;
    flush(adapter, "comments", &ccols, &mut comments).await?;
    flush(adapter, "post_tags", &ptcols, &mut post_tags).await?;
    Ok(())
}

async fn finish(adapter: &dyn Adapter, want: &DatasetCounts) -> Result<()> {
    for idx in [
        "CREATE INDEX users_age_idx ON users (age)",
        "CREATE INDEX posts_user_id_idx ON posts (user_id)",
        "CREATE INDEX comments_post_id_idx ON comments (post_id)",
    ] {
        exec(adapter, idx).await?;
    }
    if adapter.engine() == Engine::Postgres {
        // Rows were loaded with explicit ids; move the identity sequences
        // past them so write_user's inserts get fresh ids.
        for t in ["users", "posts", "comments", "tags"] {
            adapter
                .query(&Statement::new(format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT MAX(id) FROM {t}))"
                )))
                .await?;
        }
        exec(adapter, "ANALYZE").await?;
    } else if adapter.engine() == Engine::Sqlite {
        exec(adapter, "ANALYZE").await?;
    } else {
        exec(
            adapter,
            "ANALYZE TABLE users, posts, comments, tags, post_tags",
        )
        .await
        .ok();
    }
    exec(
        adapter,
        &format!(
            "UPDATE covet_loadtest_meta SET users = {}, posts = {}, comments = {}, tags = {}, \
             post_tags = {}, complete = 1 WHERE name = 'dataset'",
            want.users, want.posts, want.comments, want.tags, want.post_tags
        ),
    )
    .await
}
