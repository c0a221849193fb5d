//! Constraint violations and syntax errors, each classified.

use std::sync::Arc;

use covet_core::{Adapter, Error, ErrorKind, Result, RetryClass, Value};

use super::{adapter_of, count, create_users, created_at, exec, insert_user, query};
use crate::util::{ensure, expect_kind};
use crate::{Backend, MappedType};

/// Common checks on a classified server error: never retried, the server's
/// code kept, and no bound value in the message.
fn check_classified(e: &Error, secret: &str) -> Result<()> {
    ensure!(
        e.retry_class() == RetryClass::Never,
        "retry class {:?}",
        e.retry_class()
    );
    ensure!(e.code().is_some(), "the server's code was not kept: {e:?}");
    ensure!(!e.to_string().contains(secret), "a bound value leaked: {e}");
    ensure!(
        !format!("{e:?}").contains(secret),
        "a bound value leaked into Debug"
    );
    Ok(())
}

async fn create_posts(b: &impl Backend, a: &dyn Adapter) -> Result<()> {
    exec(
        a,
        &format!(
            "CREATE TABLE posts (id {}, user_id {} NOT NULL REFERENCES users (id), \
             title VARCHAR(200) NOT NULL, body {} NULL, created_at {} NOT NULL)",
            b.auto_id(),
            b.column_type(MappedType::I64),
            b.column_type(MappedType::Text),
            b.column_type(MappedType::Timestamp),
        ),
        vec![],
    )
    .await?;
    Ok(())
}

/// A duplicate UNIQUE value and a duplicate primary key are
/// `UniqueViolation`, and the connection stays usable.
pub async fn unique_violation_is_classified<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    create_users(&*b, a).await?;
    insert_user(a, 1, "first", 30).await?;
    let dup_email = exec(
        a,
        "INSERT INTO users (id, name, email, age, created_at) VALUES ($1, $2, $3, $4, $5)",
        vec![
            Value::I64(2),
            "second".into(),
            "user1@example.com".into(),
            Value::I32(31),
            created_at(),
        ],
    )
    .await;
    let e = expect_kind("duplicate email", dup_email, ErrorKind::UniqueViolation)?;
    check_classified(&e, "user1@example.com")?;
    let dup_pk = insert_user(a, 1, "again", 30).await;
    let e = expect_kind("duplicate primary key", dup_pk, ErrorKind::UniqueViolation)?;
    check_classified(&e, "again")?;
    ensure!(count(a, "users").await? == 1, "nothing inserted");
    Ok(())
}

/// A row pointing at a missing parent, and deleting a referenced parent,
/// are `ForeignKeyViolation`.
pub async fn foreign_key_violation_is_classified<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    create_users(&*b, a).await?;
    create_posts(&*b, a).await?;
    insert_user(a, 1, "author", 30).await?;
    let sql = "INSERT INTO posts (user_id, title, created_at) VALUES ($1, $2, $3)";
    exec(a, sql, vec![Value::I64(1), "ok".into(), created_at()]).await?;
    let orphan = exec(
        a,
        sql,
        vec![Value::I64(424_242), "orphan-title".into(), created_at()],
    )
    .await;
    let e = expect_kind("orphan post", orphan, ErrorKind::ForeignKeyViolation)?;
    check_classified(&e, "orphan-title")?;
    let parent = exec(a, "DELETE FROM users WHERE id = $1", vec![Value::I64(1)]).await;
    let e = expect_kind(
        "deleting a referenced user",
        parent,
        ErrorKind::ForeignKeyViolation,
    )?;
    check_classified(&e, "424242")?;
    ensure!(count(a, "posts").await? == 1, "one post");
    Ok(())
}

/// NULL into a NOT NULL column is `NotNullViolation`.
pub async fn not_null_violation_is_classified<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    create_users(&*b, a).await?;
    let r = exec(
        a,
        "INSERT INTO users (id, name, email, age, created_at) VALUES ($1, $2, $3, $4, $5)",
        vec![
            Value::I64(1),
            Value::Null,
            "nameless-secret@example.com".into(),
            Value::I32(30),
            created_at(),
        ],
    )
    .await;
    let e = expect_kind("NULL name", r, ErrorKind::NotNullViolation)?;
    check_classified(&e, "nameless-secret")?;
    ensure!(count(a, "users").await? == 0, "nothing inserted");
    Ok(())
}

/// A row failing a CHECK constraint is `CheckViolation` where the engine
/// enforces CHECK; where it does not, the row is accepted (asserted, so a
/// server upgrade shows up).
pub async fn check_violation_is_classified<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    exec(
        a,
        &format!(
            "CREATE TABLE accounts (id {} NOT NULL PRIMARY KEY, balance {} NOT NULL, \
             CONSTRAINT balance_non_negative CHECK (balance >= 0))",
            b.column_type(MappedType::I64),
            b.column_type(MappedType::I64),
        ),
        vec![],
    )
    .await?;
    let sql = "INSERT INTO accounts (id, balance) VALUES ($1, $2)";
    exec(a, sql, vec![Value::I64(1), Value::I64(10)]).await?;
    let bad = exec(a, sql, vec![Value::I64(2), Value::I64(-987_654)]).await;
    if b.capabilities().check_constraints {
        let e = expect_kind("negative balance", bad, ErrorKind::CheckViolation)?;
        check_classified(&e, "987654")?;
        let upd = exec(a, "UPDATE accounts SET balance = balance - 100", vec![]).await;
        expect_kind("update below zero", upd, ErrorKind::CheckViolation)?;
        ensure!(count(a, "accounts").await? == 1, "nothing inserted");
    } else {
        bad?;
        ensure!(count(a, "accounts").await? == 2, "CHECK not enforced here");
    }
    Ok(())
}

/// Malformed SQL and unknown tables are `Syntax` errors, never retried, and
/// the pool keeps working.
pub async fn syntax_error_is_classified<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    let r = query(a, "SELEC 1", vec![]).await;
    let e = expect_kind("SELEC 1", r, ErrorKind::Syntax)?;
    check_classified(&e, "\u{0}")?;
    let r = exec(a, "INSERT INTO users VALUES (", vec![]).await;
    expect_kind("unterminated INSERT", r, ErrorKind::Syntax)?;
    let r = query(a, "SELECT * FROM no_such_table_anywhere", vec![]).await;
    let e = expect_kind("unknown table", r, ErrorKind::Syntax)?;
    ensure!(e.retry_class() == RetryClass::Never, "{e:?}");
    let rows = query(a, "SELECT 1", vec![]).await?;
    ensure!(rows.rows[0].get::<i64>(0)? == 1, "pool still works");
    Ok(())
}
