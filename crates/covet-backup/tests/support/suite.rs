//! The round-trip suite, written once and run against each engine.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use covet_backup::*;
use covet_core::{Adapter, DatabaseUrl, Engine, Statement};

use super::db::*;

/// Where the suite's databases live.
pub(crate) enum Place {
    /// Databases on a PostgreSQL or MySQL server.
    Server(DatabaseUrl),
    /// SQLite files in a temporary directory.
    Sqlite(tempfile::TempDir),
}

impl Place {
    pub(crate) fn url(&self, name: &str) -> DatabaseUrl {
        match self {
            Place::Server(s) => s.with_database(name),
            Place::Sqlite(dir) => format!(
                "sqlite://{}",
                dir.path().join(format!("{name}.db")).display()
            )
            .parse()
            .unwrap(),
        }
    }

    pub(crate) async fn create(&self, name: &str) -> DatabaseUrl {
        match self {
            Place::Server(s) => create_db(s, name).await,
            Place::Sqlite(_) => self.url(name),
        }
    }

    pub(crate) async fn drop(&self, name: &str) {
        match self {
            Place::Server(s) => drop_db(s, name).await,
            Place::Sqlite(dir) => {
                let _ = std::fs::remove_file(dir.path().join(format!("{name}.db")));
            }
        }
    }

    pub(crate) async fn exists(&self, name: &str) -> bool {
        match self {
            Place::Server(s) => db_exists(s, name).await,
            Place::Sqlite(dir) => dir.path().join(format!("{name}.db")).exists(),
        }
    }

    pub(crate) fn server(&self) -> DatabaseUrl {
        match self {
            Place::Server(s) => s.clone(),
            Place::Sqlite(_) => self.url("drill_base"),
        }
    }
}

pub(crate) async fn connect(url: &DatabaseUrl) -> Arc<dyn Adapter> {
    Adapters.connect(url).await.unwrap()
}

async fn sums_of(url: &DatabaseUrl) -> Vec<(String, u64, String)> {
    let a = connect(url).await;
    let s = checksums(a.as_ref()).await;
    a.close().await;
    s
}

/// Backs up the workload and every mapped type, restores under another
/// name, and checks contents, sequences, refusals, damage and the drill.
pub(crate) async fn round_trip(place: Place) {
    let tag = unique("covet_bk");
    let src_name = format!("{tag}_src");
    let dst_name = format!("{tag}_dst");
    let src_url = place.create(&src_name).await;
    let src = connect(&src_url).await;
    load_workload(src.as_ref(), 300).await;
    load_types(src.as_ref(), 2 << 20).await;
    let engine = src.engine();

    let dir = tempfile::tempdir().unwrap();
    let key_path: PathBuf = dir.path().join("backup.key");
    generate_key_file(&key_path).unwrap();
    let key = KeySource::File(key_path.clone());
    let sink = LocalDirSink::new(dir.path().join("backups"));
    let mut opts = CreateOptions::new(WriteOptions {
        compression: Compression::Zstd3,
        encryption: Encryption::Key(key.clone()),
        chunk_size: 64 << 10,
    });
    opts.parallelism = 2;
    let entry = create_backup(src.clone(), &src_name, &sink, opts)
        .await
        .unwrap();
    let listed = sink.list().await.unwrap();
    assert_eq!(listed, vec![entry.clone()]);
    let report = verify(&sink, &entry.name, Some(&key)).await.unwrap();
    assert_eq!(report.manifest.engine, engine.as_str());
    assert!(
        report
            .manifest
            .tables
            .iter()
            .any(|t| t.name == "posts" && t.rows > 1000)
    );
    let src_sums = checksums(src.as_ref()).await;
    for (name, rows, sum) in &src_sums {
        let t = report.manifest.table(name).unwrap();
        assert_eq!(
            (t.rows, &t.content_checksum),
            (*rows, sum),
            "manifest vs source, {name}"
        );
    }
    match engine {
        Engine::Postgres => assert!(matches!(
            report.manifest.snapshot,
            SnapshotPosition::PgLsn { .. }
        )),
        _ => assert!(matches!(
            report.manifest.snapshot,
            SnapshotPosition::Unavailable { .. } | SnapshotPosition::MysqlBinlog { .. }
        )),
    }

    // Restore under another name (created by the restore).
    let dst_url = place.url(&dst_name);
    let ropts = RestoreOptions {
        key: Some(key.clone()),
        ..Default::default()
    };
    let r = restore(&sink, &entry.name, &dst_url, &Adapters, &ropts)
        .await
        .unwrap();
    assert_eq!(r.rows, report.manifest.totals.rows);
    let dst_sums = sums_of(&dst_url).await;
    assert_eq!(src_sums, dst_sums, "source and restored tables differ");

    // Indexes, keys and the sequence position came back.
    let dst = connect(&dst_url).await;
    let schema = dst.schema().await.unwrap();
    let users = schema.table("users").unwrap();
    assert_eq!(users.primary_key, vec!["id".to_string()]);
    assert!(
        users.indexes.iter().any(|i| i.columns == ["age"]),
        "{:?}",
        users.indexes
    );
    assert!(
        users
            .indexes
            .iter()
            .any(|i| i.unique && i.columns == ["email"]),
        "{:?}",
        users.indexes
    );
    assert_eq!(schema.table("posts").unwrap().foreign_keys.len(), 1);
    let insert = dst.dialect().rewrite_placeholders(
        "INSERT INTO users (name, email, age, created_at) VALUES ($1, $2, $3, $4)",
    );
    dst.execute(
        &Statement::new(insert.into_owned())
            .bind("new")
            .bind("new@example.com")
            .bind(30_i32)
            .bind(
                chrono::NaiveDate::from_ymd_opt(2025, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap(),
            ),
    )
    .await
    .expect("the restored sequence does not collide with restored ids");
    let max = dst
        .query(&Statement::new("SELECT max(id) FROM users"))
        .await
        .unwrap();
    assert!(max.rows[0].get::<i64>(0).unwrap() > 300);
    dst.close().await;
    let changed = sums_of(&dst_url).await;

    // A non-empty target is refused, and left as it was.
    let e = restore(&sink, &entry.name, &dst_url, &Adapters, &ropts)
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::TargetNotEmpty { .. }), "{e}");
    assert_eq!(sums_of(&dst_url).await, changed);

    // A damaged backup or a wrong key fails before the target is touched,
    // even with --replace.
    let bytes = std::fs::read(sink.dir().join(&entry.name)).unwrap();
    let damaged_dir = dir.path().join("damaged");
    std::fs::create_dir_all(&damaged_dir).unwrap();
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x10;
    std::fs::write(damaged_dir.join(&entry.name), &bad).unwrap();
    let damaged = LocalDirSink::new(&damaged_dir);
    let replace = RestoreOptions {
        key: Some(key.clone()),
        replace: true,
        ..Default::default()
    };
    let e = restore(&damaged, &entry.name, &dst_url, &Adapters, &replace)
        .await
        .unwrap_err();
    assert!(e.is_damage(), "{e}");
    assert_eq!(
        sums_of(&dst_url).await,
        changed,
        "damaged restore touched the target"
    );
    let wrong = RestoreOptions {
        key: Some(KeySource::Raw([0; 32])),
        replace: true,
        ..Default::default()
    };
    let e = restore(&sink, &entry.name, &dst_url, &Adapters, &wrong)
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::WrongKey { .. }), "{e}");
    assert_eq!(
        sums_of(&dst_url).await,
        changed,
        "wrong-key restore touched the target"
    );

    // With --replace a good backup replaces the target.
    restore(&sink, &entry.name, &dst_url, &Adapters, &replace)
        .await
        .unwrap();
    assert_eq!(sums_of(&dst_url).await, src_sums);

    // The drill restores into a scratch database, compares and drops it.
    let d = drill(&sink, &entry.name, &place.server(), &Adapters, Some(&key))
        .await
        .unwrap();
    assert!(d.passed, "{:?}", d.tables);
    assert_eq!(d.tables.len(), src_sums.len());
    assert!(
        !place.exists(&d.scratch).await,
        "scratch database {} left behind",
        d.scratch
    );

    // Plain SQL export.
    let mut sql = Vec::new();
    let n = export_sql(&sink, &entry.name, Some(&key), &mut sql)
        .await
        .unwrap();
    assert_eq!(n, report.manifest.totals.rows);
    let sql = String::from_utf8(sql).unwrap();
    // PostgreSQL's rows are COPY text (psql's `COPY ... FROM STDIN` form).
    let data = if engine == Engine::Postgres {
        "FROM STDIN;"
    } else {
        "INSERT INTO"
    };
    assert!(sql.contains("CREATE TABLE") && sql.contains(data));

    src.close().await;
    place.drop(&src_name).await;
    place.drop(&dst_name).await;
}
