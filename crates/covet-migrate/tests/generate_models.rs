//! `generate_models` from a database the ORM created (workload-shaped
//! models): on SQLite the output is exactly `fixtures/generated_sqlite.rs.in`,
//! which this test also compiles (`include!`) and whose create-table gives
//! back the same schema; on PostgreSQL and MariaDB the relations, keys and
//! lengths come out.
#![allow(missing_docs)]

use covet::orm::Model;
use covet_core::{DatabaseUrl, Engine, Statement};
use covet_migrate::{generate_models, schema_diff};

mod support;
use support::{create_db, drop_db, server_url};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(crate = "covet::orm", table = "users")]
pub struct SrcUser {
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
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(crate = "covet::orm", table = "posts")]
pub struct SrcPost {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(belongs_to = SrcUser, column = "user_id", index)]
    pub author_id: i64,
    #[covet(max_length = 200)]
    pub title: String,
    pub body: Option<String>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(crate = "covet::orm", table = "tags")]
pub struct SrcTag {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(max_length = 50, unique)]
    pub name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(crate = "covet::orm", table = "post_tags")]
pub struct SrcPostTag {
    #[covet(primary_key, belongs_to = SrcPost)]
    pub post_id: i64,
    #[covet(primary_key, belongs_to = SrcTag)]
    pub tag_id: i64,
}

pub mod generated {
    include!("fixtures/generated_sqlite.rs.in");
}

async fn create(url: &DatabaseUrl, stmts: Vec<Vec<Statement>>) -> covet_core::Schema {
    let db = covet::connect(url).await.unwrap();
    for s in stmts.into_iter().flatten() {
        db.execute(&s).await.unwrap();
    }
    let schema = db.schema().await.unwrap();
    db.close().await;
    schema
}

fn source_models(d: covet_core::Dialect) -> Vec<Vec<Statement>> {
    use covet::orm::ddl::create_table_sql as c;
    vec![
        c::<SrcUser>(d),
        c::<SrcPost>(d),
        c::<SrcTag>(d),
        c::<SrcPostTag>(d),
    ]
}

#[tokio::test]
async fn sqlite_golden_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let url = |n: &str| {
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join(n).display())).unwrap()
    };
    let schema = create(&url("src.db"), source_models(Engine::Sqlite.dialect())).await;
    let code = generate_models(&schema, Engine::Sqlite, &["covet_migrations"]);
    let golden = include_str!("fixtures/generated_sqlite.rs.in");
    assert_eq!(
        code, golden,
        "regenerate fixtures/generated_sqlite.rs.in if the change is intended:\n{code}"
    );
    let d = Engine::Sqlite.dialect();
    use covet::orm::ddl::create_table_sql as c;
    let again = create(
        &url("again.db"),
        vec![
            c::<generated::User>(d),
            c::<generated::Post>(d),
            c::<generated::Tag>(d),
            c::<generated::PostTag>(d),
        ],
    )
    .await;
    let diff = schema_diff(&schema, &again, &[]);
    assert!(diff.is_empty(), "{diff:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_keys_relations_and_lengths() {
    for var in ["COVET_PG_URL", "COVET_MYSQL_URL"] {
        let Some(base) = server_url(var) else {
            continue;
        };
        let engine = base.engine();
        let (url, admin, name) = create_db(&base, "covet_generate_t").await;
        let schema = create(&url, source_models(engine.dialect())).await;
        drop_db(&*admin, engine, &name).await;
        let code = generate_models(&schema, engine, &[]);
        for want in [
            "pub struct User {",
            "#[covet(primary_key, auto_increment)]\n    pub id: i64,",
            "#[covet(unique, max_length = 255)]\n    pub email: String,",
            "#[covet(max_length = 50)]\n    pub hair_color: Option<String>,",
            "#[covet(belongs_to = User, index)]\n    pub user_id: i64,",
            "#[covet(primary_key, belongs_to = Post)]\n    pub post_id: i64,",
            "pub age: i32,",
        ] {
            assert!(code.contains(want), "{var}: missing {want:?} in\n{code}");
        }
    }
}
