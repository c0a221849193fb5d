//! Models of the standard workload (users, posts, comments, tags,
//! post_tags), a model with every mapped type, and connections to the
//! three engines for the integration tests.
#![allow(dead_code)]
#![allow(unreachable_pub)] // to be narrowed with the ORM work

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use covet_core::{Adapter, DatabaseUrl, Decimal, Json, Statement};
use covet_orm::Model;
use uuid::Uuid;

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "users")]
pub struct User {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(max_length = 100)]
    pub name: String,
    #[covet(max_length = 255, unique)]
    pub email: String,
    #[covet(index)]
    pub age: i32,
    #[covet(max_length = 50)]
    pub hair_color: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "posts")]
pub struct Post {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(belongs_to = User, index, column = "user_id")]
    pub author_id: i64,
    #[covet(max_length = 200)]
    pub title: String,
    pub body: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "comments")]
pub struct Comment {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(belongs_to = Post, index)]
    pub post_id: i64,
    pub text: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "tags")]
pub struct Tag {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(max_length = 50, unique)]
    pub name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "post_tags")]
pub struct PostTag {
    #[covet(primary_key, belongs_to = Post)]
    pub post_id: i64,
    #[covet(primary_key, belongs_to = Tag)]
    pub tag_id: i64,
}

/// One field of every mapped type, and a nullable twin of each.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "all_types")]
pub struct AllTypes {
    #[covet(primary_key)]
    pub id: i64,
    pub b: bool,
    pub i16: i16,
    pub i32: i32,
    pub i64: i64,
    pub f32: f32,
    pub f64: f64,
    pub decimal: Decimal,
    pub text: String,
    pub bytes: Vec<u8>,
    pub date: NaiveDate,
    pub time: NaiveTime,
    pub ts: NaiveDateTime,
    pub tstz: DateTime<Utc>,
    pub uuid: Uuid,
    pub json: Json,
    pub n_b: Option<bool>,
    pub n_i16: Option<i16>,
    pub n_i32: Option<i32>,
    pub n_i64: Option<i64>,
    pub n_f32: Option<f32>,
    pub n_f64: Option<f64>,
    pub n_decimal: Option<Decimal>,
    pub n_text: Option<String>,
    pub n_bytes: Option<Vec<u8>>,
    pub n_date: Option<NaiveDate>,
    pub n_time: Option<NaiveTime>,
    pub n_ts: Option<NaiveDateTime>,
    pub n_tstz: Option<DateTime<Utc>>,
    pub n_uuid: Option<Uuid>,
    pub n_json: Option<Json>,
}

/// One engine to run a test on, in a scratch schema (PostgreSQL) or
/// database (MariaDB) of its own, or a temp-dir file (SQLite).
pub struct Engine {
    pub name: &'static str,
    pub adapter: Arc<dyn Adapter>,
    admin: Option<(Arc<dyn Adapter>, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Engine {
    /// Drops the scratch schema or database.
    pub async fn teardown(mut self) {
        self.adapter.close().await;
        if let Some((admin, drop)) = self.admin.take() {
            if let Err(e) = admin.execute(&Statement::new(drop)).await {
                eprintln!("{}: cleanup failed: {e}", self.name);
            }
            admin.close().await;
        }
    }
}

/// A server engine dropped without `teardown` leaves its scratch schema or
/// database on the shared server: fail the test that forgot, rather than
/// let them pile up run after run.
impl Drop for Engine {
    fn drop(&mut self) {
        if self.admin.is_some() && !std::thread::panicking() {
            panic!(
                "{}: dropped without teardown; its scratch schema or database stays on the server",
                self.name
            );
        }
    }
}

/// The SQLite engine alone, for tests whose point does not depend on the
/// server (nothing to tear down on a server).
pub async fn sqlite_only() -> Engine {
    sqlite().await
}

fn required() -> bool {
    std::env::var("COVET_REQUIRE_DB").is_ok_and(|v| v == "1")
}

/// A name no other test (or test process) uses at the same time.
pub fn unique_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "covet_orm_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn sqlite() -> Engine {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("orm.db").display());
    let a = covet_adapter_sqlite::SqliteAdapter::connect(&url.parse().expect("url"))
        .await
        .expect("sqlite");
    Engine {
        name: "sqlite",
        adapter: Arc::new(a),
        admin: None,
        _dir: Some(dir),
    }
}

async fn postgres(base: &DatabaseUrl) -> Engine {
    let name = unique_name();
    let admin = covet_adapter_pg::PgAdapter::connect(&base.with_param("max_connections", "1"))
        .await
        .expect("connect to COVET_PG_URL");
    admin
        .execute(&Statement::new(format!("CREATE SCHEMA {name}")))
        .await
        .expect("CREATE SCHEMA");
    let url = base.with_param("options", &format!("-c search_path={name}"));
    let a = covet_adapter_pg::PgAdapter::connect(&url)
        .await
        .expect("connect to the scratch schema");
    Engine {
        name: "postgres",
        adapter: Arc::new(a),
        admin: Some((
            Arc::new(admin),
            format!("DROP SCHEMA IF EXISTS {name} CASCADE"),
        )),
        _dir: None,
    }
}

async fn mysql(base: &DatabaseUrl) -> Engine {
    let name = unique_name();
    let admin =
        covet_adapter_mysql::MySqlAdapter::connect(&base.with_param("max_connections", "1"))
            .await
            .expect("connect to COVET_MYSQL_URL");
    // The server's default collation (case-insensitive), so the ORM's
    // case-sensitive matches are tested where they differ from LIKE.
    admin
        .execute(&Statement::new(format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4"
        )))
        .await
        .expect("CREATE DATABASE");
    let a = covet_adapter_mysql::MySqlAdapter::connect(&base.with_database(&name))
        .await
        .expect("connect to the scratch database");
    Engine {
        name: "mysql",
        adapter: Arc::new(a),
        admin: Some((Arc::new(admin), format!("DROP DATABASE IF EXISTS `{name}`"))),
        _dir: None,
    }
}

fn server_url(var: &str) -> Option<DatabaseUrl> {
    match std::env::var(var) {
        Ok(u) => Some(u.parse().expect("a valid database URL")),
        Err(_) => {
            assert!(!required(), "COVET_REQUIRE_DB=1 but {var} is not set");
            eprintln!("skipping this engine: {var} is not set");
            None
        }
    }
}

/// SQLite always, PostgreSQL and MariaDB when COVET_PG_URL /
/// COVET_MYSQL_URL are set (skipped with a printed reason otherwise, a
/// failure when COVET_REQUIRE_DB=1).
pub async fn engines() -> Vec<Engine> {
    let mut out = vec![sqlite().await];
    if let Some(u) = server_url("COVET_PG_URL") {
        out.push(postgres(&u).await);
    }
    if let Some(u) = server_url("COVET_MYSQL_URL") {
        out.push(mysql(&u).await);
    }
    out
}
