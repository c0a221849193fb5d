//! A SQLite restore gives back the same file content, with the sqlite3
//! shell as the oracle: `.dump` of source and restore identical (every
//! value with its storage class and bytes, every statement as SQLite
//! stored it), the same `user_version` and `application_id`, the
//! AUTOINCREMENT position kept, and the drill passes. Before format 2 a
//! DATETIME column's text `1962-02-18 00:00:00` came back as
//! `1962-02-18 00:00:00.000000`, `INTEGER NOT NULL PRIMARY KEY` lost its
//! NOT NULL and expression indexes were skipped.

mod support;

use std::path::Path;

use covet_backup::*;
use support::db::Adapters;
use support::sqlite_shell::{shell_present, sqlite3, url};
use support::suite::connect;

const SOURCE: &str = r#"
PRAGMA user_version = 7;
PRAGMA application_id = 1234;
CREATE TABLE people (id INTEGER NOT NULL PRIMARY KEY, born DATETIME, note TEXT, anything, score REAL, raw BLOB,
  at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, flag BOOLEAN, price DECIMAL(10,2), u UUID);
CREATE TABLE tags (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE COLLATE NOCASE);
CREATE TABLE kv (k TEXT PRIMARY KEY, v) WITHOUT ROWID;
CREATE INDEX people_lower ON people (lower(note));
CREATE INDEX people_partial ON people (score) WHERE score > 0;
CREATE VIEW adults AS SELECT id, note FROM people WHERE born < '2000-01-01';
CREATE TRIGGER tags_ai AFTER INSERT ON tags BEGIN UPDATE people SET score = score + 1 WHERE id = 1; END;
INSERT INTO people VALUES
  (1, '1962-02-18 00:00:00', 'ünïcode ☃', 42, 1.5, X'00FF', '2024-01-01 10:00:00', 1, '10.50', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
  (2, '1962-02-18T00:00:00.5Z', NULL, 'text', -0.0, NULL, 'not a time', 'yes', 10.5, X'0102'),
  (3, 12345, '', 1.0e308, NULL, X'', 1700000000, 2, 'NaN', 7),
  (4, NULL, 'x', X'DEAD', 3, 'blob as text', NULL, NULL, NULL, NULL);
INSERT INTO tags (name) VALUES ('a'), ('b'), ('c');
DELETE FROM tags WHERE id = 3;
INSERT INTO kv VALUES ('a', 1), ('b', 'two'), ('c', 2.5), ('d', NULL), ('e', X'01'), ('f', '0010');
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restores_exactly() {
    if !shell_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    sqlite3(&src, SOURCE);
    let sink = LocalDirSink::new(dir.path().join("backups"));
    let a = connect(&url(&src)).await;
    let entry = create_backup(
        a.clone(),
        "src",
        &sink,
        CreateOptions::new(WriteOptions::new(Encryption::None)),
    )
    .await
    .unwrap();
    a.close().await;

    let dst = dir.path().join("dst.db");
    restore(
        &sink,
        &entry.name,
        &url(&dst),
        &Adapters,
        &RestoreOptions::default(),
    )
    .await
    .unwrap();

    let dump = |p: &Path| sqlite3(p, ".dump");
    assert_eq!(dump(&src), dump(&dst));
    let header = "PRAGMA user_version; PRAGMA application_id;";
    assert_eq!(sqlite3(&dst, header), "7\n1234\n");
    let types = "SELECT typeof(born), quote(born), typeof(anything), typeof(at), quote(price) \
                 FROM people ORDER BY id";
    assert_eq!(sqlite3(&src, types), sqlite3(&dst, types));
    assert_eq!(
        sqlite3(&dst, "SELECT born FROM people WHERE id = 1"),
        "1962-02-18 00:00:00\n"
    );
    // The AUTOINCREMENT position (3, though row 3 was deleted) is kept.
    assert_eq!(
        sqlite3(
            &dst,
            "INSERT INTO tags (name) VALUES ('d'); SELECT max(id) FROM tags;"
        ),
        "4\n"
    );

    // `export --format sql` loads with the sqlite3 shell into the same file
    // content again.
    let sql = dir.path().join("export.sql");
    export_sql_to_file(&sink, &entry.name, None, &sql)
        .await
        .unwrap();
    let via_sql = dir.path().join("via_sql.db");
    sqlite3(&via_sql, &std::fs::read_to_string(&sql).unwrap());
    assert_eq!(dump(&src), dump(&via_sql));
    assert_eq!(sqlite3(&via_sql, header), "7\n1234\n");

    let d = drill(&sink, &entry.name, &url(&src), &Adapters, None)
        .await
        .unwrap();
    assert!(d.passed, "{:?} {:?}", d.tables, d.schema_differences);
    assert!(d.schema_differences.is_empty());
    assert_eq!(d.tables.len(), 3);
}

/// Chinook for SQLite, made from the vendored PostgreSQL script (the same
/// data; tests/data holds no SQLite script): SERIAL becomes INTEGER (the
/// table's single-column PRIMARY KEY makes it the rowid), each `ALTER
/// TABLE ... ADD CONSTRAINT ... FOREIGN KEY` moves into its table's CREATE
/// (SQLite has no ADD CONSTRAINT), and `N'...'` literals lose their N.
fn chinook_sqlite() -> String {
    let script = include_str!("data/Chinook_PostgreSql_SerialPKs.sql");
    let body = &script[script.find("\\c chinook_serial;").unwrap()..];
    let body = &body[body.find('\n').unwrap()..];
    // The script's banners are block comments: out, as SQLite's shell
    // would keep none of them anyway.
    let mut body = body.to_owned();
    while let Some(i) = body.find("/*") {
        let j = body[i..].find("*/").unwrap() + i + 2;
        body.replace_range(i..j, "");
    }
    let mut fks: Vec<(String, String)> = Vec::new();
    let mut stmts: Vec<String> = Vec::new();
    for stmt in body.split(";\n") {
        let t = stmt.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(rest) = t.strip_prefix("ALTER TABLE ") {
            let (table, rest) = rest.split_once(' ').unwrap();
            let clause = rest.strip_prefix("ADD ").unwrap();
            fks.push((table.to_owned(), clause.to_owned()));
            continue;
        }
        stmts.push(
            t.replace("SERIAL NOT NULL", "INTEGER NOT NULL")
                .replace("(N'", "('")
                .replace(", N'", ", '"),
        );
    }
    let mut out = String::from("PRAGMA foreign_keys = ON;\nBEGIN;\n");
    for s in stmts {
        let s = match s.strip_prefix("CREATE TABLE ") {
            Some(rest) => {
                let table = rest.split_whitespace().next().unwrap();
                let cut = s.rfind(')').unwrap();
                let mut s2 = s[..cut].trim_end().to_owned();
                for (_, c) in fks.iter().filter(|(t, _)| t == table) {
                    s2.push_str(&format!(",\n    {c}"));
                }
                s2.push_str("\n)");
                s2
            }
            None => s,
        };
        out.push_str(&s);
        out.push_str(";\n");
    }
    out.push_str("COMMIT;\n");
    out
}

/// Chinook (the vendored data, see [`chinook_sqlite`]) restores into the
/// same `.dump`, the rowids continue where they stopped, and the drill
/// passes with the schema equal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinook_restores_exactly() {
    if !shell_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("chinook.db");
    sqlite3(&src, &chinook_sqlite());
    assert_eq!(sqlite3(&src, "SELECT count(*) FROM track"), "3503\n");
    let sink = LocalDirSink::new(dir.path().join("backups"));
    let a = connect(&url(&src)).await;
    let entry = create_backup(
        a.clone(),
        "chinook",
        &sink,
        CreateOptions::new(WriteOptions::new(Encryption::None)),
    )
    .await
    .unwrap();
    a.close().await;
    let dst = dir.path().join("dst.db");
    restore(
        &sink,
        &entry.name,
        &url(&dst),
        &Adapters,
        &RestoreOptions::default(),
    )
    .await
    .unwrap();
    let dump = |p: &Path| sqlite3(p, ".dump");
    assert_eq!(dump(&src), dump(&dst));
    let r = connect(&url(&dst)).await;
    let schema = verify(&sink, &entry.name, None).await.unwrap().schema;
    let diffs = schema_differences(r.as_ref(), &schema).await.unwrap();
    assert!(diffs.is_empty(), "{diffs:?}");
    r.close().await;
    let next =
        "INSERT INTO artist (name) VALUES ('after restore'); SELECT max(artist_id) FROM artist;";
    assert_eq!(sqlite3(&src, next), sqlite3(&dst, next));

    let d = drill(&sink, &entry.name, &url(&dst), &Adapters, None)
        .await
        .unwrap();
    assert!(d.passed, "{:?} {:?}", d.tables, d.schema_differences);
    assert!(d.schema_differences.is_empty());
    assert_eq!(d.tables.len(), 11);
}

/// A drill whose restore does not give back the backup's schema fails,
/// naming the objects: the backup here says an index is `t_a` while its
/// statement makes `t_other` (before the drill compared the schema, only
/// the tables' rows were checked and this drill passed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_fails_on_a_changed_schema() {
    if !shell_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    sqlite3(
        &src,
        "CREATE TABLE t (a INTEGER); CREATE INDEX t_a ON t (a); PRAGMA user_version = 3;",
    );
    let sink = LocalDirSink::new(dir.path().join("backups"));
    let a = connect(&url(&src)).await;
    let entry = create_backup(
        a.clone(),
        "src",
        &sink,
        CreateOptions::new(WriteOptions::new(Encryption::None)),
    )
    .await
    .unwrap();
    a.close().await;
    let good = drill(&sink, &entry.name, &url(&src), &Adapters, None)
        .await
        .unwrap();
    assert!(good.passed, "{:?}", good.schema_differences);

    let mut schema = (*verify(&sink, &entry.name, None).await.unwrap().schema).clone();
    let cat = schema.sqlite.as_mut().unwrap();
    let index = cat.objects.iter_mut().find(|o| o.kind == "index").unwrap();
    assert_eq!(index.name, "t_a");
    index.sql = index.sql.replace("INDEX t_a", "INDEX t_other");
    let w = BackupWriter::create(
        &sink,
        "changed",
        schema,
        SourceInfo::now("sqlite", "src"),
        WriteOptions::new(Encryption::None),
    )
    .await
    .unwrap();
    let changed = w.finish().await.unwrap();
    let d = drill(&sink, &changed.name, &url(&src), &Adapters, None)
        .await
        .unwrap();
    assert!(!d.passed);
    assert!(d.tables.iter().all(|t| t.checksum_equal));
    assert_eq!(
        d.schema_differences,
        ["index t_a missing", "index t_other not in the backup"]
    );
}
