//! `make` on models shaped like the ORM's standard workload (users, posts
//! with a foreign key and an index, tags, a composite-key join table): the
//! migration it writes, applied to an empty database, gives the schema the
//! ORM's own CREATE TABLE gives; a model change (a new column with an
//! index) becomes an ALTER migration whose down `verify` proves.

#![allow(missing_docs)]

use covet::orm::Model;
use covet_core::{Adapter, DatabaseUrl, Engine, PasswordSources, Statement};
use covet_migrate::{
    MigrateOptions, Migrations, Migrator, ModelEntry, make, schema_diff, verify, write_made,
};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(crate = "covet::orm", table = "users")]
pub struct User {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(max_length = 100)]
    pub name: String,
    #[covet(max_length = 255, unique)]
    pub email: String,
    #[covet(index)]
    pub age: i32,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(crate = "covet::orm", table = "users")]
pub struct UserV2 {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(max_length = 100)]
    pub name: String,
    #[covet(max_length = 255, unique)]
    pub email: String,
    #[covet(index)]
    pub age: i32,
    #[covet(max_length = 40, index)]
    pub nickname: Option<String>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(crate = "covet::orm", table = "posts")]
pub struct Post {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(belongs_to = User, column = "user_id", index)]
    pub author_id: i64,
    #[covet(max_length = 200)]
    pub title: String,
    pub body: Option<String>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(crate = "covet::orm", table = "tags")]
pub struct Tag {
    #[covet(primary_key, auto_increment)]
    pub id: i64,
    #[covet(max_length = 50, unique)]
    pub name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(crate = "covet::orm", table = "post_tags")]
pub struct PostTag {
    #[covet(primary_key, belongs_to = Post)]
    pub post_id: i64,
    #[covet(primary_key, belongs_to = Tag)]
    pub tag_id: i64,
}

mod support;
use support::server_url;

/// Two fresh databases beside `base` (files for SQLite), dropped by `Dbs::drop`.
struct Dbs {
    admin: Option<std::sync::Arc<dyn Adapter>>,
    names: Vec<String>,
    urls: Vec<DatabaseUrl>,
    _dir: tempfile::TempDir,
}

impl Dbs {
    async fn new(base: &DatabaseUrl) -> Dbs {
        let dir = tempfile::tempdir().unwrap();
        if base.engine() == Engine::Sqlite {
            let urls = (0..2)
                .map(|i| {
                    DatabaseUrl::parse(&format!(
                        "sqlite://{}",
                        dir.path().join(format!("{i}.db")).display()
                    ))
                    .unwrap()
                })
                .collect();
            return Dbs {
                admin: None,
                names: vec![],
                urls,
                _dir: dir,
            };
        }
        let admin = covet::connect(base).await.unwrap();
        let q = if base.engine() == Engine::MySql {
            '`'
        } else {
            '"'
        };
        let mut names = vec![];
        let mut urls = vec![];
        for i in 0..2 {
            let name = format!("covet_make_t{i}_{}", std::process::id());
            let _ = admin
                .execute(&Statement::new(format!(
                    "DROP DATABASE IF EXISTS {q}{name}{q}"
                )))
                .await;
            admin
                .execute(&Statement::new(format!("CREATE DATABASE {q}{name}{q}")))
                .await
                .unwrap();
            urls.push(base.with_database(&name));
            names.push(name);
        }
        Dbs {
            admin: Some(admin),
            names,
            urls,
            _dir: dir,
        }
    }

    async fn drop(self) {
        if let Some(admin) = self.admin {
            let mysql = self.urls[0].engine() == Engine::MySql;
            for n in &self.names {
                let sql = if mysql {
                    format!("DROP DATABASE `{n}`")
                } else {
                    format!("DROP DATABASE \"{n}\" WITH (FORCE)")
                };
                admin.execute(&Statement::new(sql)).await.unwrap();
            }
            admin.close().await;
        }
    }
}

async fn schema(url: &DatabaseUrl) -> covet_core::Schema {
    let db = covet::connect(url).await.unwrap();
    let s = db.schema().await.unwrap();
    db.close().await;
    s
}

async fn orm_schema(url: &DatabaseUrl) -> covet_core::Schema {
    // `make` against no migrations writes exactly the ORM's statements, so
    // the reference schema is built by the ORM directly, not through make.
    let db = covet::connect(url).await.unwrap();
    let d = db.dialect();
    for stmts in [
        covet::orm::ddl::create_table_sql::<User>(d),
        covet::orm::ddl::create_table_sql::<Post>(d),
        covet::orm::ddl::create_table_sql::<Tag>(d),
        covet::orm::ddl::create_table_sql::<PostTag>(d),
    ] {
        for s in stmts {
            db.execute(&s).await.unwrap();
        }
    }
    let s = db.schema().await.unwrap();
    db.close().await;
    s
}

async fn scenario(base: DatabaseUrl) {
    let dbs = Dbs::new(&base).await;
    let sources = PasswordSources::from_env();
    let dir = tempfile::tempdir().unwrap();
    let mut o = MigrateOptions::default();
    o.lint = false;
    // Given in an order that is not the reference order: make sorts them.
    let v1 = [
        ModelEntry::of::<PostTag>(),
        ModelEntry::of::<Post>(),
        ModelEntry::of::<User>(),
        ModelEntry::of::<Tag>(),
    ];
    let made = make(&base, &sources, &Migrations::default(), &v1, o.clone())
        .await
        .unwrap();
    assert!(made.up.contains("CREATE TABLE"), "{}", made.up);
    write_made(dir.path(), "initial", &made).unwrap().unwrap();
    let set = Migrations::from_dir(dir.path()).unwrap();
    Migrator::new(dbs.urls[0].clone(), set.clone())
        .options(o.clone())
        .up()
        .await
        .unwrap();
    let migrated = schema(&dbs.urls[0]).await;
    let reference = orm_schema(&dbs.urls[1]).await;
    let d = schema_diff(&reference, &migrated, &["covet_migrations"]);
    assert!(d.is_empty(), "{d:?}");
    assert!(
        make(&base, &sources, &set, &v1, o.clone())
            .await
            .unwrap()
            .is_empty(),
        "nothing left to migrate"
    );

    let v2 = [
        ModelEntry::of::<UserV2>(),
        ModelEntry::of::<Post>(),
        ModelEntry::of::<Tag>(),
        ModelEntry::of::<PostTag>(),
    ];
    let made = make(&base, &sources, &set, &v2, o.clone()).await.unwrap();
    assert!(
        made.up.contains("ADD COLUMN") && made.up.contains("nickname"),
        "{}",
        made.up
    );
    assert!(made.up.contains("CREATE INDEX"), "{}", made.up);
    assert!(made.down.contains("DROP COLUMN"), "{}", made.down);
    write_made(dir.path(), "nickname", &made).unwrap().unwrap();
    let set = Migrations::from_dir(dir.path()).unwrap();
    let r = verify(&base, &sources, &set, o.clone()).await.unwrap();
    assert_eq!(r.reversible, [1, 2]);
    assert!(
        make(&base, &sources, &set, &v2, o)
            .await
            .unwrap()
            .is_empty()
    );
    dbs.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let base = DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("base.db").display()
    ))
    .unwrap();
    Box::pin(scenario(base)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(base) = server_url("COVET_PG_URL") else {
        return;
    };
    Box::pin(scenario(base)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb() {
    let Some(base) = server_url("COVET_MYSQL_URL") else {
        return;
    };
    Box::pin(scenario(base)).await;
}
