//! Schema introspection of the workload schema.

use std::sync::Arc;

use covet_core::{Result, Table};

use super::{adapter_of, create_users, exec};
use crate::util::{ensure, fail};
use crate::{Backend, MappedType};

fn table<'a>(s: &'a covet_core::Schema, name: &str) -> Result<&'a Table> {
    s.table(name)
        .ok_or_else(|| fail(format!("table {name} missing from {:?}", names(s))))
}

fn names(s: &covet_core::Schema) -> Vec<&str> {
    s.tables.iter().map(|t| t.name.as_str()).collect()
}

/// `schema()` reports the workload schema's tables, columns (order, types,
/// nullability, auto-increment), primary keys, indexes and foreign keys.
pub async fn schema_introspection<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    let i64t = b.column_type(MappedType::I64);
    let text = b.column_type(MappedType::Text);
    let ts = b.column_type(MappedType::Timestamp);
    create_users(&*b, a).await?;
    for ddl in [
        format!(
            "CREATE TABLE posts (id {}, user_id {i64t} NOT NULL REFERENCES users (id), \
             title VARCHAR(200) NOT NULL, body {text} NULL, created_at {ts} NOT NULL)",
            b.auto_id()
        ),
        "CREATE INDEX posts_user_id_idx ON posts (user_id)".to_owned(),
        format!(
            "CREATE TABLE comments (id {}, post_id {i64t} NOT NULL REFERENCES posts (id), \
             text {text} NOT NULL)",
            b.auto_id()
        ),
        "CREATE INDEX comments_post_id_idx ON comments (post_id)".to_owned(),
        format!(
            "CREATE TABLE tags (id {}, name VARCHAR(50) NOT NULL UNIQUE)",
            b.auto_id()
        ),
        format!(
            "CREATE TABLE post_tags (post_id {i64t} NOT NULL REFERENCES posts (id), \
             tag_id {i64t} NOT NULL REFERENCES tags (id), PRIMARY KEY (post_id, tag_id))"
        ),
    ] {
        exec(a, &ddl, vec![]).await?;
    }
    let s = a.schema().await?;
    for name in ["users", "posts", "comments", "tags", "post_tags"] {
        table(&s, name)?;
    }
    let mut sorted = names(&s);
    sorted.sort_unstable();
    ensure!(
        names(&s) == sorted,
        "tables not ordered by name: {:?}",
        names(&s)
    );

    let users = table(&s, "users")?;
    let cols: Vec<&str> = users.columns.iter().map(|c| c.name.as_str()).collect();
    ensure!(
        cols == ["id", "name", "email", "age", "hair_color", "created_at"],
        "users columns {cols:?}"
    );
    for c in &users.columns {
        let want_nullable = c.name == "hair_color";
        ensure!(
            c.nullable == want_nullable,
            "users.{} nullable = {}",
            c.name,
            c.nullable
        );
        ensure!(!c.data_type.is_empty(), "users.{} has no type", c.name);
    }
    let name = users.column("name").ok_or_else(|| fail("users.name"))?;
    ensure!(
        name.data_type.to_ascii_lowercase().contains("char"),
        "users.name type {:?}",
        name.data_type
    );
    ensure!(
        users.column("id").is_some_and(|c| c.auto_increment),
        "users.id should be auto-increment: {:?}",
        users.column("id")
    );
    ensure!(
        users.column("age").is_some_and(|c| !c.auto_increment),
        "users.age is not auto-increment"
    );
    ensure!(
        users.primary_key == ["id"],
        "users PK {:?}",
        users.primary_key
    );
    ensure!(
        users
            .indexes
            .iter()
            .any(|i| i.name == "users_age_idx" && i.columns == ["age"] && !i.unique),
        "users_age_idx missing: {:?}",
        users.indexes
    );
    ensure!(
        users
            .indexes
            .iter()
            .any(|i| i.columns == ["email"] && i.unique),
        "unique index on email missing: {:?}",
        users.indexes
    );
    ensure!(
        !users.indexes.iter().any(|i| i.columns == ["id"]),
        "the primary key's own index is not listed: {:?}",
        users.indexes
    );
    ensure!(users.foreign_keys.is_empty(), "users has no FKs");

    let posts = table(&s, "posts")?;
    ensure!(
        posts.primary_key == ["id"],
        "posts PK {:?}",
        posts.primary_key
    );
    ensure!(
        posts.column("body").is_some_and(|c| c.nullable),
        "posts.body nullable"
    );
    ensure!(
        posts.foreign_keys.len() == 1
            && posts.foreign_keys[0].columns == ["user_id"]
            && posts.foreign_keys[0].referenced_table == "users"
            && posts.foreign_keys[0].referenced_columns == ["id"],
        "posts FKs {:?}",
        posts.foreign_keys
    );
    ensure!(
        posts
            .indexes
            .iter()
            .any(|i| i.name == "posts_user_id_idx" && i.columns == ["user_id"]),
        "posts_user_id_idx missing: {:?}",
        posts.indexes
    );

    let post_tags = table(&s, "post_tags")?;
    ensure!(
        post_tags.primary_key == ["post_id", "tag_id"],
        "post_tags PK {:?}",
        post_tags.primary_key
    );
    let mut fks: Vec<(String, String)> = post_tags
        .foreign_keys
        .iter()
        .map(|f| (f.columns.join(","), f.referenced_table.clone()))
        .collect();
    fks.sort();
    ensure!(
        fks == [
            ("post_id".to_owned(), "posts".to_owned()),
            ("tag_id".to_owned(), "tags".to_owned())
        ],
        "post_tags FKs {:?}",
        post_tags.foreign_keys
    );
    let tags = table(&s, "tags")?;
    ensure!(
        tags.indexes
            .iter()
            .any(|i| i.columns == ["name"] && i.unique),
        "tags.name unique: {:?}",
        tags.indexes
    );
    Ok(())
}
