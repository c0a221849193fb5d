//! What crashed or interrupted restores and drills leave on a server is
//! found and dropped by the next run (never a database a live run uses),
//! and an interrupted restore removes its own staging database and leaves
//! the target as it was.

mod support;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use covet_backup::*;
use covet_core::{DatabaseUrl, Engine, Statement};
use support::db::{Adapters, create_db, db_exists, drop_db};
use support::suite::connect;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn rand_hex() -> String {
    format!("{:010x}", rand::random::<u64>() & 0xff_ffff_ffff)
}

async fn names_like(server: &DatabaseUrl, prefix: &str) -> Vec<String> {
    let (admin, sql) = match server.engine() {
        Engine::Postgres => (
            server.with_database("postgres"),
            "SELECT datname FROM pg_database ORDER BY 1",
        ),
        _ => (
            server.with_database("information_schema"),
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY 1",
        ),
    };
    let a = connect(&admin).await;
    let r = a.query(&Statement::new(sql)).await.unwrap();
    a.close().await;
    r.rows
        .iter()
        .filter_map(|r| r.get::<String>(0).ok())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

async fn leftovers_and_interrupts(server: DatabaseUrl) {
    // Crash leftovers: an hour old and unused (dropped), an hour old but in
    // use by a live session (kept), just made (kept: a run may be between
    // creating it and connecting), and a MySQL swap's old tables (reported).
    let old = now_secs() - 3600;
    let stale = format!("covet_stage_{old}_{}", rand_hex());
    let stale_drill = format!("covet_drill_{old}_{}", rand_hex());
    let busy = format!("covet_stage_{old}_{}", rand_hex());
    let young = format!("covet_drill_{}_{}", now_secs(), rand_hex());
    let swap = format!("covet_old_{old}_{}", rand_hex());
    for n in [&stale, &stale_drill, &busy, &young, &swap] {
        create_db(&server, n).await;
    }
    let session = connect(&server.with_database(&busy)).await;
    session.query(&Statement::new("SELECT 1")).await.unwrap();

    let found = clean_leftovers(&Adapters, &server).await.unwrap();
    assert!(found.dropped.contains(&stale), "{found:?}");
    assert!(found.dropped.contains(&stale_drill), "{found:?}");
    assert!(!found.dropped.contains(&busy), "dropped a database in use");
    assert!(!found.dropped.contains(&young), "dropped a young database");
    assert!(found.kept.iter().any(|k| k.starts_with(&swap)), "{found:?}");
    assert!(!db_exists(&server, &stale).await);
    assert!(db_exists(&server, &busy).await);
    assert!(db_exists(&server, &young).await);
    assert!(db_exists(&server, &swap).await);
    session.close().await;

    // A restore looks first, and reports what it dropped.
    let stale2 = format!("covet_stage_{old}_{}", rand_hex());
    create_db(&server, &stale2).await;
    let tag = support::db::unique("covet_lo");
    let src_name = format!("{tag}_src");
    let src = create_db(&server, &src_name).await;
    let a = connect(&src).await;
    a.execute(&Statement::new(
        "CREATE TABLE t (id INT PRIMARY KEY, v TEXT)",
    ))
    .await
    .unwrap();
    let rows: Vec<_> = (0..3000)
        .map(|i| {
            vec![
                covet_core::Value::I32(i),
                covet_core::Value::Text(format!("value {i} {}", "x".repeat(200))),
            ]
        })
        .collect();
    a.bulk_insert("t", &["id".into(), "v".into()], rows.into())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let mut copts = CreateOptions::new(WriteOptions {
        compression: Compression::None,
        encryption: Encryption::None,
        chunk_size: 4 << 10,
    });
    copts.name = Some("lo.covet".into());
    create_backup(a.clone(), &src_name, &sink, copts)
        .await
        .unwrap();
    a.close().await;
    let dst_name = format!("{tag}_dst");
    let dst = server.with_database(&dst_name);
    let r = restore(
        &sink,
        "lo.covet",
        &dst,
        &Adapters,
        &RestoreOptions::default(),
    )
    .await
    .unwrap();
    assert!(r.leftovers.dropped.contains(&stale2), "{:?}", r.leftovers);

    // Interrupted part-way through the load (as Ctrl-C does through the
    // CLI): a typed error, the target unchanged, no staging database left.
    let stages_before = names_like(&server, "covet_stage_").await;
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    let opts = RestoreOptions {
        replace: true,
        cancel: Some(cancel),
        progress: Some(Arc::new(move |_p: &Progress| c.cancel())),
        ..Default::default()
    };
    let d = connect(&dst).await;
    d.execute(&Statement::new("DELETE FROM t WHERE id >= 10"))
        .await
        .unwrap();
    d.close().await;
    let e = restore(&sink, "lo.covet", &dst, &Adapters, &opts)
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::Cancelled(_)), "{e}");
    let d = connect(&dst).await;
    let n = d
        .query(&Statement::new("SELECT count(*) FROM t"))
        .await
        .unwrap();
    d.close().await;
    assert_eq!(n.rows[0].get::<i64>(0).unwrap(), 10, "target changed");
    let stages_after = names_like(&server, "covet_stage_").await;
    assert!(
        stages_after.iter().all(|s| stages_before.contains(s)),
        "staging database left: {stages_after:?}"
    );

    for n in [&busy, &young, &swap, &src_name, &dst_name] {
        drop_db(&server, n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_leftovers_and_interrupts() {
    let Some(server) = support::db::server_url("COVET_PG_URL") else {
        return;
    };
    leftovers_and_interrupts(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_leftovers_and_interrupts() {
    let Some(server) = support::db::server_url("COVET_MYSQL_URL") else {
        return;
    };
    leftovers_and_interrupts(server).await;
}
