//! `restore --replace` replaces exactly the tables the backup holds: a
//! target holding more is refused (its data intact) unless dropping the
//! rest is asked for, and what is dropped is announced first. Before the
//! fix PostgreSQL ran `DROP TABLE ... CASCADE` on every table of the target
//! and MySQL moved every table out, silently.

mod support;

use std::sync::{Arc, Mutex};

use covet_backup::*;
use covet_core::{DatabaseUrl, Engine, Statement};
use support::db::{Adapters, unique};
use support::suite::{Place, connect};

async fn exec(url: &DatabaseUrl, sqls: &[&str]) {
    let a = connect(url).await;
    for s in sqls {
        a.execute(&Statement::new(*s)).await.unwrap();
    }
    a.close().await;
}

async fn count(url: &DatabaseUrl, table: &str) -> Option<i64> {
    let a = connect(url).await;
    let r = a
        .query(&Statement::new(format!("SELECT count(*) FROM {table}")))
        .await;
    a.close().await;
    r.ok().map(|r| r.rows[0].get::<i64>(0).unwrap())
}

async fn tables(url: &DatabaseUrl) -> Vec<String> {
    let a = connect(url).await;
    let mut t: Vec<String> = a
        .schema()
        .await
        .unwrap()
        .tables
        .into_iter()
        .map(|t| t.name)
        .collect();
    a.close().await;
    t.sort();
    t
}

/// A backup of tables `a` (3 rows) and `b` (2 rows).
async fn backup_of_a_and_b(place: &Place, tag: &str, sink: &LocalDirSink) -> String {
    let src_name = format!("{tag}_src");
    let src = place.create(&src_name).await;
    exec(
        &src,
        &[
            "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO a VALUES (1, 'x'), (2, 'y'), (3, 'z')",
            "CREATE TABLE b (id INT PRIMARY KEY)",
            "INSERT INTO b VALUES (1), (2)",
        ],
    )
    .await;
    let adapter = connect(&src).await;
    let e = create_backup(
        adapter.clone(),
        &src_name,
        sink,
        CreateOptions::new(WriteOptions::new(Encryption::None)),
    )
    .await
    .unwrap();
    adapter.close().await;
    place.drop(&src_name).await;
    e.name
}

fn recorder() -> (Arc<Mutex<Vec<DropPlan>>>, RestoreOptions) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let opts = RestoreOptions {
        replace: true,
        on_drop: Some(Arc::new(move |p: &DropPlan| {
            s.lock().unwrap().push(p.clone());
        })),
        ..Default::default()
    };
    (seen, opts)
}

async fn extra_table_is_refused_then_dropped_on_request(place: Place) {
    let tag = unique("covet_rep");
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let name = backup_of_a_and_b(&place, &tag, &sink).await;
    let dst_name = format!("{tag}_dst");
    let dst = place.create(&dst_name).await;
    exec(
        &dst,
        &[
            "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO a VALUES (10, 'old')",
            "CREATE TABLE extra (id INT PRIMARY KEY)",
            "INSERT INTO extra VALUES (1), (2), (3), (4)",
        ],
    )
    .await;

    // Refused: one line naming the extra table; nothing touched.
    let (seen, mut opts) = recorder();
    let e = restore(&sink, &name, &dst, &Adapters, &opts)
        .await
        .unwrap_err();
    match &e {
        BackupError::ReplaceWouldDrop { objects, count } => {
            assert_eq!(*count, 1, "{e}");
            assert!(objects.contains("extra"), "{e}");
        }
        other => panic!("expected ReplaceWouldDrop, got {other}"),
    }
    assert!(!e.to_string().contains('\n'));
    assert!(seen.lock().unwrap().is_empty(), "announced a refused drop");
    assert_eq!(count(&dst, "extra").await, Some(4));
    assert_eq!(count(&dst, "a").await, Some(1));
    assert_eq!(tables(&dst).await, vec!["a", "extra"]);

    // Asked for: the plan is announced first, then carried out.
    opts.drop_others = true;
    let r = restore(&sink, &name, &dst, &Adapters, &opts).await.unwrap();
    let plans = seen.lock().unwrap().clone();
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].replaced, vec!["a".to_string()]);
    assert_eq!(plans[0].others, vec!["table extra".to_string()]);
    assert_eq!(r.dropped, plans[0]);
    assert_eq!(tables(&dst).await, vec!["a", "b"]);
    assert_eq!(count(&dst, "a").await, Some(3));

    // Only the backup's own tables in the target: replaced without a flag.
    let (seen, opts) = recorder();
    restore(&sink, &name, &dst, &Adapters, &opts).await.unwrap();
    assert_eq!(seen.lock().unwrap()[0].others, Vec::<String>::new());
    place.drop(&dst_name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_replace_keeps_other_tables_unless_asked() {
    let place = Place::Sqlite(tempfile::tempdir().unwrap());
    extra_table_is_refused_then_dropped_on_request(place).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_replace_keeps_other_tables_unless_asked() {
    let Some(server) = support::db::server_url("COVET_MYSQL_URL") else {
        return;
    };
    extra_table_is_refused_then_dropped_on_request(Place::Server(server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replace_keeps_other_tables_unless_asked() {
    let Some(server) = support::db::server_url("COVET_PG_URL") else {
        return;
    };
    extra_table_is_refused_then_dropped_on_request(Place::Server(server)).await;
}

/// A view on a replaced table, and a foreign key from another schema, are
/// refused rather than silently dropped (CASCADE took both).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_view_and_foreign_key_from_another_schema_are_refused() {
    let Some(server) = support::db::server_url("COVET_PG_URL") else {
        return;
    };
    assert_eq!(server.engine(), Engine::Postgres);
    let place = Place::Server(server);
    let tag = unique("covet_rep");
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let name = backup_of_a_and_b(&place, &tag, &sink).await;
    let dst_name = format!("{tag}_dst");
    let dst = place.create(&dst_name).await;
    exec(
        &dst,
        &[
            "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))",
            "INSERT INTO a VALUES (10, 'old')",
            "CREATE VIEW a_view AS SELECT id FROM a",
            "CREATE SCHEMA other",
            "CREATE TABLE other.refs (a_id INT REFERENCES public.a(id))",
            "INSERT INTO other.refs VALUES (10)",
        ],
    )
    .await;
    let (seen, mut opts) = recorder();
    let e = restore(&sink, &name, &dst, &Adapters, &opts)
        .await
        .unwrap_err();
    let BackupError::ReplaceWouldDrop { objects, count: n } = &e else {
        panic!("expected ReplaceWouldDrop, got {e}");
    };
    assert_eq!(*n, 2, "{e}");
    assert!(objects.contains("view a_view"), "{e}");
    assert!(objects.contains("other.refs"), "{e}");
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(count(&dst, "a_view").await, Some(1));
    assert_eq!(count(&dst, "other.refs").await, Some(1));

    // With the flag: both are listed, then dropped; the other schema's
    // table and rows stay, only its foreign key goes.
    opts.drop_others = true;
    restore(&sink, &name, &dst, &Adapters, &opts).await.unwrap();
    let plan = seen.lock().unwrap()[0].clone();
    assert_eq!(plan.others.len(), 2, "{plan:?}");
    assert_eq!(count(&dst, "a_view").await, None);
    assert_eq!(count(&dst, "other.refs").await, Some(1));
    assert_eq!(count(&dst, "a").await, Some(3));
    place.drop(&dst_name).await;
}

/// A restored SQLite file holds the data: a new one is private (it was
/// 0644), and one replacing a target keeps the target's mode.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restored_files_are_private_or_keep_the_target_mode() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let place = Place::Sqlite(tempfile::tempdir().unwrap());
    let sink = LocalDirSink::new(tmp.path());
    let name = backup_of_a_and_b(&place, "modes", &sink).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let fresh = place.url("fresh");
    restore(&sink, &name, &fresh, &Adapters, &RestoreOptions::default())
        .await
        .unwrap();
    assert_eq!(mode(fresh.sqlite_path().unwrap()), 0o600);
    let shared = place.url("shared");
    exec(
        &shared,
        &["CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20))"],
    )
    .await;
    let p = shared.sqlite_path().unwrap().to_owned();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    let opts = RestoreOptions {
        replace: true,
        ..Default::default()
    };
    restore(&sink, &name, &shared, &Adapters, &opts)
        .await
        .unwrap();
    assert_eq!(mode(&p), 0o640);
    assert_eq!(count(&shared, "a").await, Some(3));
}

/// MySQL: a trigger on a replaced table (which cannot move to the staging
/// swap's database) and a foreign key into it from another database are
/// listed and refused, then dropped on request; the other database's table
/// and rows stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_trigger_and_foreign_key_from_another_database_are_refused() {
    let Some(server) = support::db::server_url("COVET_MYSQL_URL") else {
        return;
    };
    let place = Place::Server(server.clone());
    let tag = unique("covet_rep");
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let name = backup_of_a_and_b(&place, &tag, &sink).await;
    let dst_name = format!("{tag}_dst");
    let other_name = format!("{tag}_oth");
    let dst = place.create(&dst_name).await;
    let other = place.create(&other_name).await;
    exec(
        &dst,
        &[
            "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB",
            "INSERT INTO a VALUES (10, 'old')",
            "CREATE TRIGGER a_upper BEFORE INSERT ON a FOR EACH ROW SET NEW.v = UPPER(NEW.v)",
        ],
    )
    .await;
    exec(
        &other,
        &[&format!(
            "CREATE TABLE refs (a_id INT, FOREIGN KEY (a_id) REFERENCES `{dst_name}`.a (id)) ENGINE=InnoDB"
        ) as &str, "INSERT INTO refs VALUES (10)"],
    )
    .await;
    let (seen, mut opts) = recorder();
    let e = restore(&sink, &name, &dst, &Adapters, &opts)
        .await
        .unwrap_err();
    let BackupError::ReplaceWouldDrop { objects, count: n } = &e else {
        panic!("expected ReplaceWouldDrop, got {e}");
    };
    assert_eq!(*n, 2, "{e}");
    assert!(objects.contains("trigger a_upper"), "{e}");
    assert!(objects.contains("refs"), "{e}");
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(count(&dst, "a").await, Some(1));

    opts.drop_others = true;
    restore(&sink, &name, &dst, &Adapters, &opts).await.unwrap();
    assert_eq!(seen.lock().unwrap()[0].others.len(), 2);
    assert_eq!(count(&dst, "a").await, Some(3));
    assert_eq!(count(&other, "refs").await, Some(1));
    place.drop(&other_name).await;
    place.drop(&dst_name).await;
}
