//! A restore that fails leaves the target as it was: a target database the
//! restore created is dropped again, and an existing one keeps what it
//! held. Before the fix every engine left the new database behind, empty.

mod support;

use covet_backup::*;
use covet_core::{ColumnInfo, DatabaseUrl, Statement, Table, Value};
use support::db::{Adapters, create_db, db_exists, drop_db, server_url, unique};
use support::suite::connect;

/// A backup of one table whose restore fails after the target database
/// exists: on PostgreSQL a catalog statement fails after the table was
/// created, on MySQL the table's column type does not exist.
async fn failing_backup(sink: &MemorySink, engine: &str) -> String {
    let (columns, postgres) = match engine {
        "postgresql" => (
            vec![ColumnInfo {
                name: "id".into(),
                ..Default::default()
            }],
            Some(PgCatalog {
                pre_data: vec![PgObject {
                    kind: "table".into(),
                    name: "public.t".into(),
                    sql: "CREATE TABLE public.t (id integer)".into(),
                }],
                post_data: vec![PgObject {
                    kind: "function".into(),
                    name: "boom".into(),
                    sql: "SELECT 1 / 0".into(),
                }],
                tables: vec![PgCopyTable {
                    schema: "public".into(),
                    name: "t".into(),
                    columns: vec!["id".into()],
                }],
                access: Vec::new(),
            }),
        ),
        _ => (
            vec![ColumnInfo {
                name: "id".into(),
                data_type: "NO_SUCH_TYPE".into(),
                nullable: true,
                ..Default::default()
            }],
            None,
        ),
    };
    let schema = BackupSchema {
        engine: engine.into(),
        tables: vec![TableSchema {
            table: Table {
                name: "t".into(),
                columns,
                ..Default::default()
            },
            next_auto_value: None,
        }],
        postgres,
        sqlite: None,
        mysql: None,
    };
    let mut w = BackupWriter::create(
        sink,
        "fails.covet",
        schema,
        SourceInfo::now(engine, "src"),
        WriteOptions::new(Encryption::None),
    )
    .await
    .unwrap();
    if engine != "postgresql" {
        w.write_rows(0, &[vec![Value::I64(1)]]).await.unwrap();
    }
    w.finish().await.unwrap().name
}

async fn failed_restore_leaves_no_database(server: DatabaseUrl, engine: &str) {
    let sink = MemorySink::new();
    let name = failing_backup(&sink, engine).await;

    // A database the restore creates is gone after the failure.
    let fresh = unique("covet_created");
    let e = restore(
        &sink,
        &name,
        &server.with_database(&fresh),
        &Adapters,
        &RestoreOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, BackupError::Database(_)), "{e}");
    assert!(
        !db_exists(&server, &fresh).await,
        "the failed restore left database {fresh} behind"
    );

    // An existing (empty) target stays, and stays empty.
    let existing = unique("covet_existing");
    let url = create_db(&server, &existing).await;
    restore(&sink, &name, &url, &Adapters, &RestoreOptions::default())
        .await
        .unwrap_err();
    assert!(db_exists(&server, &existing).await);
    let a = connect(&url).await;
    assert!(a.schema().await.unwrap().tables.is_empty());
    a.close().await;
    drop_db(&server, &existing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_failed_restore_drops_the_database_it_created() {
    let Some(server) = server_url("COVET_PG_URL") else {
        return;
    };
    failed_restore_leaves_no_database(server, "postgresql").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_failed_restore_drops_the_database_it_created() {
    let Some(server) = server_url("COVET_MYSQL_URL") else {
        return;
    };
    failed_restore_leaves_no_database(server, "mysql").await;
}

/// An interrupted restore (Ctrl-C) drops the database it created, too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_interrupted_restore_drops_the_database_it_created() {
    let Some(server) = server_url("COVET_PG_URL") else {
        return;
    };
    let src = unique("covet_created_src");
    let url = create_db(&server, &src).await;
    let a = connect(&url).await;
    a.execute(&Statement::new(
        "CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 5000) g",
    ))
    .await
    .unwrap();
    let sink = MemorySink::new();
    let mut opts = CreateOptions::new(WriteOptions {
        chunk_size: 4 << 10,
        ..WriteOptions::new(Encryption::None)
    });
    opts.name = Some("t.covet".into());
    create_backup(a.clone(), &src, &sink, opts).await.unwrap();
    a.close().await;

    let fresh = unique("covet_created");
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    let ropts = RestoreOptions {
        cancel: Some(cancel),
        progress: Some(std::sync::Arc::new(move |_: &Progress| c.cancel())),
        ..Default::default()
    };
    let e = restore(
        &sink,
        "t.covet",
        &server.with_database(&fresh),
        &Adapters,
        &ropts,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, BackupError::Cancelled(_)), "{e}");
    assert!(
        !db_exists(&server, &fresh).await,
        "the interrupted restore left database {fresh} behind"
    );
    drop_db(&server, &src).await;
}
