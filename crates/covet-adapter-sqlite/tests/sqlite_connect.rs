//! Opening databases: URLs, parameters, memory databases, bad paths.

use covet_adapter_sqlite::SqliteAdapter;
use covet_core::{Adapter, DatabaseUrl, ErrorKind, Statement};

fn url(s: &str) -> DatabaseUrl {
    s.parse().expect("valid URL")
}

async fn count(db: &SqliteAdapter, table: &str) -> i64 {
    db.query(&Statement::new(format!("SELECT COUNT(*) FROM {table}")))
        .await
        .expect("count")
        .rows[0]
        .get::<i64>(0)
        .expect("integer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_database_is_shared_by_every_pooled_connection() {
    let db = SqliteAdapter::connect(&url("sqlite::memory:?max_connections=4"))
        .await
        .unwrap();
    db.execute(&"CREATE TABLE t (x INTEGER)".into())
        .await
        .unwrap();
    // Hold three connections in (not yet reading) transactions so the
    // insert needs a fourth, then check each of them sees the row. Without
    // WAL a reading transaction would block the writer, so read after.
    let mut txs = Vec::new();
    for _ in 0..3 {
        let ro = covet_core::TxOptions {
            read_only: true,
            ..Default::default()
        };
        txs.push(db.begin_with(ro).await.unwrap());
    }
    db.execute(&"INSERT INTO t VALUES (1)".into())
        .await
        .unwrap();
    assert_eq!(db.pool_state().unwrap().size, 4, "{:?}", db.pool_state());
    for tx in &mut txs {
        let n = tx.query(&"SELECT COUNT(*) FROM t".into()).await.unwrap();
        assert_eq!(n.rows[0].get::<i64>(0).unwrap(), 1);
    }
    drop(txs);
    assert_eq!(count(&db, "t").await, 1);

    let other = SqliteAdapter::connect(&url("sqlite::memory:"))
        .await
        .unwrap();
    let e = other.query(&"SELECT * FROM t".into()).await.unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Syntax,
        "separate memory databases: {e}"
    );
}

#[tokio::test]
async fn memory_database_survives_the_pool_closing_idle_connections() {
    let db = SqliteAdapter::connect(&url("sqlite::memory:?max_lifetime=1s&max_connections=1"))
        .await
        .unwrap();
    db.execute(&"CREATE TABLE kept (x INTEGER)".into())
        .await
        .unwrap();
    db.execute(&"INSERT INTO kept VALUES (7)".into())
        .await
        .unwrap();
    let before = db.pool().stats();
    // Poll until the pool has replaced its connection (max_lifetime 1s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        assert_eq!(count(&db, "kept").await, 1);
        if db.pool().stats().closed > before.closed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pool never recycled its connection"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        count(&db, "kept").await,
        1,
        "data kept across connection replacement"
    );
}

#[tokio::test]
async fn file_database_uses_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let db = SqliteAdapter::connect(&url(&format!("sqlite://{}", path.display())))
        .await
        .unwrap();
    let rows = db.query(&"PRAGMA journal_mode".into()).await.unwrap();
    assert_eq!(rows.rows[0].get::<String>(0).unwrap(), "wal");
    let rows = db.query(&"PRAGMA foreign_keys".into()).await.unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 1);
    let rows = db.query(&"PRAGMA busy_timeout".into()).await.unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 5000);
    assert!(path.exists());
    let v = db.server_version().await.unwrap();
    assert!(v.starts_with('3'), "{v}");
    db.ping().await.unwrap();
    // Leaving WAL needs the database to itself.
    db.close().await;

    let db = SqliteAdapter::connect(&url(&format!(
        "sqlite://{}?journal_mode=delete&busy_timeout=250ms&foreign_keys=off",
        path.display()
    )))
    .await
    .unwrap();
    let rows = db.query(&"PRAGMA journal_mode".into()).await.unwrap();
    assert_eq!(rows.rows[0].get::<String>(0).unwrap(), "delete");
    let rows = db.query(&"PRAGMA busy_timeout".into()).await.unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 250);
    let rows = db.query(&"PRAGMA foreign_keys".into()).await.unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 0);
}

#[tokio::test]
async fn bad_paths_fail_at_connect_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing_dir = dir.path().join("no/such/dir/app.db");
    let e = SqliteAdapter::connect(&url(&format!("sqlite://{}", missing_dir.display())))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e:?}");
    assert!(
        e.to_string().contains(&missing_dir.display().to_string()),
        "{e}"
    );

    let absent = dir.path().join("absent.db");
    let e = SqliteAdapter::connect(&url(&format!("sqlite://{}?mode=rw", absent.display())))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "mode=rw does not create: {e:?}");
    assert!(!absent.exists());

    let not_db = dir.path().join("notes.txt");
    std::fs::write(
        &not_db,
        "this is not a database, just some text that is long enough to have a header page",
    )
    .unwrap();
    let e = SqliteAdapter::connect(&url(&format!("sqlite://{}", not_db.display())))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::Io | ErrorKind::Database),
        "{e:?}"
    );
    assert!(e.to_string().contains("notes.txt"), "{e}");
}

#[tokio::test]
async fn unknown_and_bad_parameters_are_config_errors() {
    let e = SqliteAdapter::connect(&url("sqlite::memory:?cache_size=10&pragma=x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("cache_size, pragma"), "{e}");
    for bad in [
        "sqlite::memory:?mode=sideways",
        "sqlite::memory:?busy_timeout=forever",
        "sqlite::memory:?max_connections=0",
        "sqlite::memory:?statement_timeout=0s",
    ] {
        let e = SqliteAdapter::connect(&url(bad)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{bad}: {e}");
    }
    let e = SqliteAdapter::connect(&url("postgres://u:pw@h/db"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(!e.to_string().contains("pw"), "{e}");
}

#[tokio::test]
async fn read_only_mode_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    {
        let rw = SqliteAdapter::connect(&url(&format!("sqlite://{}", path.display())))
            .await
            .unwrap();
        rw.execute(&"CREATE TABLE t (x INTEGER)".into())
            .await
            .unwrap();
        rw.execute(&"INSERT INTO t VALUES (1)".into())
            .await
            .unwrap();
        rw.close().await;
    }
    let ro = SqliteAdapter::connect(&url(&format!("sqlite://{}?mode=ro", path.display())))
        .await
        .unwrap();
    assert_eq!(count(&ro, "t").await, 1);
    let e = ro
        .execute(&"INSERT INTO t VALUES (2)".into())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("readonly")
            || e.to_string().contains("read-only")
            || e.to_string().contains("read only"),
        "{e}"
    );
    assert_eq!(count(&ro, "t").await, 1);
}

#[tokio::test]
async fn closed_adapter_refuses_calls() {
    let db = SqliteAdapter::connect(&url("sqlite::memory:"))
        .await
        .unwrap();
    db.ping().await.unwrap();
    db.close().await;
    let e = db.ping().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
}

/// Opening a connection fails for good while a caller waits (the file is
/// gone and `mode=rw` may not create it): the wait ends with that error's
/// kind, never retried, not a pool timeout, as on the server engines
/// (`covet_core::Error::from_pool`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definite_open_failure_while_waiting_keeps_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone.db");
    let create = SqliteAdapter::connect(&url(&format!("sqlite://{}", path.display())))
        .await
        .unwrap();
    create
        .execute(&"CREATE TABLE t (x INTEGER)".into())
        .await
        .unwrap();
    create.close().await;
    let db = SqliteAdapter::connect(&url(&format!(
        "sqlite://{}?mode=rw&max_connections=1&acquire_timeout=500ms",
        path.display()
    )))
    .await
    .unwrap();
    // The pool keeps no connection open after connect, so the next call
    // has to open one.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let e = db.query(&"SELECT 1".into()).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e:?}");
    assert_eq!(e.retry_class(), covet_core::RetryClass::Never, "{e:?}");
    assert!(!e.is_outage(), "{e:?}");
    assert!(e.message().contains("gone.db"), "{e}");
}

/// A config built in code opens the same way a URL does, and every option
/// reaches the connection.
#[tokio::test]
async fn connect_with_a_config_built_in_code() {
    use covet_adapter_sqlite::{JournalMode, OpenMode, SqliteConfig};
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("built.db");
    let cfg = SqliteConfig::default()
        .path(&path)
        .open_mode(OpenMode::ReadWriteCreate)
        .journal_mode(JournalMode::Truncate)
        .busy_timeout(Duration::from_millis(750))
        .foreign_keys(false)
        .statement_cache_capacity(4)
        .max_connections(2)
        .statement_timeout(Some(Duration::from_secs(3)));
    assert_eq!(cfg.target(), path.display().to_string());
    let db = SqliteAdapter::connect_with(cfg).await.unwrap();
    let rows = db.query(&"PRAGMA journal_mode".into()).await.unwrap();
    assert_eq!(rows.rows[0].get::<String>(0).unwrap(), "truncate");
    let rows = db.query(&"PRAGMA busy_timeout".into()).await.unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 750);
    let rows = db.query(&"PRAGMA foreign_keys".into()).await.unwrap();
    assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), 0);
    assert_eq!(db.default_timeout(), Some(Duration::from_secs(3)));
    assert_eq!(db.pool().config().max_size, 2);
    assert!(path.exists());
    db.close().await;

    let e = SqliteAdapter::connect_with(
        SqliteConfig::default()
            .path(dir.path().join("absent.db"))
            .open_mode(OpenMode::ReadWrite),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e:?}");
    let e = SqliteAdapter::connect_with(SqliteConfig::default().open_mode(OpenMode::ReadOnly))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
}

/// One in-memory config connected twice gives two databases, as two
/// `connect` calls on `sqlite::memory:` do: the memdb name is chosen per
/// adapter, not per config.
#[tokio::test]
async fn one_memory_config_connected_twice_gives_two_databases() {
    use covet_adapter_sqlite::SqliteConfig;
    let cfg = SqliteConfig::default().in_memory();
    assert_eq!(cfg.target(), ":memory:");
    let a = SqliteAdapter::connect_with(cfg.clone()).await.unwrap();
    let b = SqliteAdapter::connect_with(cfg).await.unwrap();
    a.execute(&"CREATE TABLE only_in_a (x INTEGER)".into())
        .await
        .unwrap();
    let e = b
        .query(&"SELECT * FROM only_in_a".into())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Syntax, "separate databases: {e}");
    assert_eq!(count(&a, "only_in_a").await, 0);
}
