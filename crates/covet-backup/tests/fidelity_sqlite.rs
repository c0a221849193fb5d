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
use std::process::Command;

use covet_backup::*;
use covet_core::DatabaseUrl;
use support::db::Adapters;
use support::suite::connect;

/// Runs `sql` in the sqlite3 shell on `db`, fed on stdin (a script may
/// start with `--`, which as an argument would read as an option).
fn sqlite3(db: &Path, sql: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("sqlite3")
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sqlite3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sqlite3 {}: {}",
        sql.lines().next().unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

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
    if !Command::new("sqlite3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(
            std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
            "the sqlite3 shell is needed and COVET_REQUIRE_DB=1"
        );
        eprintln!("skipping: the sqlite3 shell is missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    sqlite3(&src, SOURCE);
    let url = |p: &Path| -> DatabaseUrl { format!("sqlite://{}", p.display()).parse().unwrap() };

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
    assert!(d.passed, "{:?}", d.tables);
    assert_eq!(d.tables.len(), 3);
}
