//! Create, insert, select, update, delete; ping and version.

use std::sync::Arc;

use covet_core::{Result, Value};

use super::{adapter_of, count, create_users, exec, insert_user, query};
use crate::Backend;
use crate::util::ensure;

/// Create a table, insert, select (by name and index), update, delete; the
/// row counts reported by `execute` are exact, and `last_insert_id` is
/// reported where the engine has it.
pub async fn crud<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    create_users(&*b, a).await?;

    for (id, name, age) in [(1, "Ada", 36), (2, "Grace", 45), (3, "Linus", 21)] {
        let r = insert_user(a, id, name, age).await?;
        ensure!(
            r.rows_affected == 1,
            "insert reported {} rows",
            r.rows_affected
        );
    }
    if b.capabilities().last_insert_id {
        let r = exec(
            a,
            "INSERT INTO users (name, email, age, created_at) VALUES ($1, $2, $3, $4)",
            vec![
                "Auto".into(),
                "auto@example.com".into(),
                Value::I32(50),
                super::created_at(),
            ],
        )
        .await?;
        ensure!(
            r.last_insert_id == Some(4),
            "last_insert_id after ids 1..3: {:?}",
            r.last_insert_id
        );
        exec(a, "DELETE FROM users WHERE id = $1", vec![Value::I64(4)]).await?;
    }

    let rows = query(
        a,
        "SELECT id, name, email, age, hair_color FROM users WHERE age > $1 ORDER BY id",
        vec![Value::I32(30)],
    )
    .await?;
    ensure!(rows.len() == 2, "{} rows over 30", rows.len());
    ensure!(rows.columns.len() == 5, "{} columns", rows.columns.len());
    ensure!(
        rows.columns.get(1).map(|c| c.name.as_str()) == Some("name"),
        "second column is {:?}",
        rows.columns.get(1)
    );
    let first = &rows.rows[0];
    ensure!(first.get::<i64>("id")? == 1, "first id");
    ensure!(first.get::<String>("name")? == "Ada", "first name");
    ensure!(
        first.get::<String>(2)? == "user1@example.com",
        "email by index"
    );
    ensure!(first.get::<i32>("age")? == 36, "age");
    ensure!(
        first.get::<Option<String>>("hair_color")?.is_none(),
        "NULL hair_color"
    );

    let empty = query(
        a,
        "SELECT id FROM users WHERE id = $1",
        vec![Value::I64(99)],
    )
    .await?;
    ensure!(empty.is_empty(), "no row expected, got {}", empty.len());
    ensure!(
        empty.columns.len() == 1,
        "an empty result still has its columns"
    );

    let r = exec(
        a,
        "UPDATE users SET hair_color = $1, age = age + 1 WHERE age < $2",
        vec!["red".into(), Value::I32(30)],
    )
    .await?;
    ensure!(r.rows_affected == 1, "update touched {}", r.rows_affected);
    let rows = query(
        a,
        "SELECT hair_color, age FROM users WHERE id = $1",
        vec![Value::I64(3)],
    )
    .await?;
    ensure!(
        rows.rows[0].get::<String>(0)? == "red",
        "updated hair_color"
    );
    ensure!(rows.rows[0].get::<i64>(1)? == 22, "updated age");

    // $1 used twice: each engine's placeholder style must bind it twice.
    let rows = query(
        a,
        "SELECT COUNT(*) FROM users WHERE id >= $1 AND id <= $1 + 1",
        vec![Value::I64(2)],
    )
    .await?;
    ensure!(rows.rows[0].get::<i64>(0)? == 2, "repeated placeholder");

    let r = exec(a, "DELETE FROM users WHERE id <> $1", vec![Value::I64(2)]).await?;
    ensure!(r.rows_affected == 2, "delete removed {}", r.rows_affected);
    ensure!(count(a, "users").await? == 1, "one row left");
    exec(a, "DROP TABLE users", vec![]).await?;
    Ok(())
}

/// `ping` succeeds and `server_version` is a non-empty version string.
pub async fn ping_and_version<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    a.ping().await?;
    let v = a.server_version().await?;
    ensure!(
        v.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "server_version {v:?} does not start with a digit"
    );
    if let Some(state) = a.pool_state() {
        ensure!(
            state.in_use == 0,
            "nothing should be checked out: {state:?}"
        );
    }
    Ok(())
}
