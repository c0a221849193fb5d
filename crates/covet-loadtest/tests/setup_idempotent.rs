//! Setup creates the data set once, reuses a complete one, rebuilds a
//! partial one, and leaves tables it did not create alone.

use std::sync::Arc;

use covet_adapter_sqlite::SqliteAdapter;
use covet_core::{Adapter, DatabaseUrl, Statement};
use covet_loadtest::{DatasetCounts, LoadtestError, SetupOptions, SetupOutcome, ensure_dataset};

async fn open(dir: &std::path::Path) -> Arc<dyn Adapter> {
    let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.join("lt.db").display())).unwrap();
    Arc::new(SqliteAdapter::connect(&url).await.unwrap())
}

fn opts(scale: f64) -> SetupOptions {
    SetupOptions {
        scale,
        ..SetupOptions::default()
    }
}

async fn count(db: &dyn Adapter, table: &str) -> i64 {
    let rows = db
        .query(&Statement::new(format!("SELECT COUNT(*) FROM {table}")))
        .await
        .unwrap();
    rows.rows[0].get::<i64>(0).unwrap()
}

#[tokio::test]
async fn create_reuse_and_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    let want = DatasetCounts::for_scale(0.02);
    assert_eq!(want.users, 200);
    assert_eq!(want.posts, (1..=200).map(|i| i % 21).sum::<i64>());

    let first = ensure_dataset(&*db, &opts(0.02)).await.unwrap();
    assert!(
        matches!(first, SetupOutcome::Created(c, _) if c == want),
        "{first:?}"
    );
    for (t, n) in [
        ("users", want.users),
        ("posts", want.posts),
        ("comments", want.comments),
        ("tags", 50),
        ("post_tags", want.post_tags),
    ] {
        assert_eq!(count(&*db, t).await, n, "{t}");
    }
    // Deterministic: the same seed gives the same rows.
    let rows = db
        .query(&Statement::new("SELECT email, age FROM users WHERE id = 7"))
        .await
        .unwrap();
    assert_eq!(rows.rows[0].get::<String>(0).unwrap(), "user7@example.com");
    let age7 = rows.rows[0].get::<i64>(1).unwrap();

    // Extra users (write_user's inserts) do not make the data set stale.
    db.execute(&Statement::new(
        "INSERT INTO users (name, email, age, created_at) VALUES ('x', 'x@y', 30, '2024-01-01 00:00:00')",
    ))
    .await
    .unwrap();
    let again = ensure_dataset(&*db, &opts(0.02)).await.unwrap();
    assert_eq!(again, SetupOutcome::Reused(want));

    // A partial data set is detected by its counts and rebuilt.
    db.execute(&Statement::new("DELETE FROM post_tags WHERE post_id < 3"))
        .await
        .unwrap();
    match ensure_dataset(&*db, &opts(0.02)).await.unwrap() {
        SetupOutcome::Rebuilt { reason, counts, .. } => {
            assert!(reason.contains("post_tags has"), "{reason}");
            assert_eq!(counts, want);
        }
        other => panic!("expected a rebuild, got {other:?}"),
    }
    assert_eq!(count(&*db, "post_tags").await, want.post_tags);
    let rows = db
        .query(&Statement::new("SELECT age FROM users WHERE id = 7"))
        .await
        .unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), age7);

    // An interrupted load (marker not complete) is rebuilt too.
    db.execute(&Statement::new(
        "UPDATE covet_loadtest_meta SET complete = 0",
    ))
    .await
    .unwrap();
    match ensure_dataset(&*db, &opts(0.02)).await.unwrap() {
        SetupOutcome::Rebuilt { reason, .. } => {
            assert!(reason.contains("did not finish"), "{reason}");
        }
        other => panic!("expected a rebuild, got {other:?}"),
    }

    // Another scale is another data set.
    match ensure_dataset(&*db, &opts(0.03)).await.unwrap() {
        SetupOutcome::Rebuilt { reason, counts, .. } => {
            assert!(reason.contains("scale 0.02"), "{reason}");
            assert_eq!(counts.users, 300);
        }
        other => panic!("expected a rebuild, got {other:?}"),
    }
}

#[tokio::test]
async fn foreign_tables_are_not_dropped_without_recreate() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path()).await;
    db.execute(&Statement::new(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, precious TEXT)",
    ))
    .await
    .unwrap();
    let e = ensure_dataset(&*db, &opts(0.01)).await.unwrap_err();
    assert!(matches!(e, LoadtestError::Config(_)), "{e:?}");
    assert!(e.to_string().contains("did not create"), "{e}");
    assert_eq!(count(&*db, "users").await, 0);
    let done = ensure_dataset(
        &*db,
        &SetupOptions {
            scale: 0.01,
            recreate: true,
            progress: None,
        },
    )
    .await
    .unwrap();
    assert!(matches!(done, SetupOutcome::Rebuilt { .. }), "{done:?}");
    assert_eq!(count(&*db, "users").await, 100);
}
