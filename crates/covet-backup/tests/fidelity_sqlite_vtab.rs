//! SQLite virtual tables: FTS5 (own and external content), FTS4 and R*Tree
//! tables (SQLite's own modules, which keep their content in ordinary
//! "shadow" tables) restore exactly, with the sqlite3 shell's `.dump` as
//! the oracle (it prints a virtual table's statement and its shadow
//! tables' rows), and the indexes answer queries and pass FTS5's integrity
//! check on the restore. Before, a restore failed on the first shadow
//! table ("table 'docs_data' already exists") and a dbstat table's rows
//! were copied as data.
//! Virtual tables of other modules (their content lives outside the file,
//! or in a form SQLite does not expose) are refused at create time.

mod support;

use std::path::Path;

use covet_backup::*;
use support::db::Adapters;
use support::sqlite_shell::{shell_present, sqlite3, url};
use support::suite::connect;

const SOURCE: &str = r#"
CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT, body TEXT);
CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize = 'porter unicode61');
CREATE VIRTUAL TABLE ext USING fts5(title, body, content = 'notes', content_rowid = 'id');
CREATE VIRTUAL TABLE boxes USING rtree(id, min_x, max_x, min_y, max_y);
CREATE VIRTUAL TABLE "old ""fts""" USING fts4(body, tokenize=porter);
INSERT INTO "old ""fts""" VALUES ('older text indexed'), ('more texts');
INSERT INTO notes (title, body) VALUES ('one', 'the quick brown fox'), ('two', 'jumps over ünïcode ☃');
INSERT INTO ext (rowid, title, body) SELECT id, title, body FROM notes;
INSERT INTO docs VALUES ('first', 'hello world'), ('second', 'running runners ran'), ('third', NULL);
INSERT INTO docs (docs, rank) VALUES ('automerge', 4);
DELETE FROM docs WHERE title = 'third';
INSERT INTO boxes VALUES (1, 0, 5, 0, 5), (2, -1.5, 1.5, 2, 3);
"#;

async fn backup(src: &Path, sink: &LocalDirSink) -> Result<BackupEntry> {
    let a = connect(&url(src)).await;
    let r = create_backup(
        a.clone(),
        "src",
        sink,
        CreateOptions::new(WriteOptions::new(Encryption::None)),
    )
    .await;
    a.close().await;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fts5_and_rtree_tables_restore_exactly() {
    if !shell_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    sqlite3(&src, SOURCE);
    let sink = LocalDirSink::new(dir.path().join("backups"));
    let entry = backup(&src, &sink).await.unwrap();

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
    for q in [
        "SELECT title FROM docs WHERE docs MATCH 'run' ORDER BY rank;",
        "SELECT rowid FROM ext WHERE ext MATCH 'fox';",
        r#"SELECT body FROM "old ""fts""" WHERE body MATCH 'text' ORDER BY rowid;"#,
        "SELECT id FROM boxes WHERE min_x <= 1 AND max_x >= 1 ORDER BY id;",
        "INSERT INTO docs (docs) VALUES ('integrity-check'); INSERT INTO ext (ext) VALUES ('integrity-check');",
    ] {
        assert_eq!(sqlite3(&src, q), sqlite3(&dst, q), "{q}");
    }
    assert_eq!(
        sqlite3(&dst, "SELECT title FROM docs WHERE docs MATCH 'run';"),
        "second\n"
    );
    // Still an index that follows writes.
    sqlite3(&dst, "INSERT INTO docs VALUES ('fourth', 'runs');");
    assert_eq!(
        sqlite3(&dst, "SELECT count(*) FROM docs WHERE docs MATCH 'run';"),
        "2\n"
    );

    let d = drill(&sink, &entry.name, &url(&src), &Adapters, None)
        .await
        .unwrap();
    assert!(d.passed, "{:?} {:?}", d.tables, d.schema_differences);

    // `export --format sql` loads with the sqlite3 shell into the same file.
    let sql = dir.path().join("export.sql");
    export_sql_to_file(&sink, &entry.name, None, &sql)
        .await
        .unwrap();
    let via_sql = dir.path().join("via_sql.db");
    sqlite3(&via_sql, &std::fs::read_to_string(&sql).unwrap());
    assert_eq!(dump(&src), dump(&via_sql));
}

/// A virtual table of a module whose content is not in shadow tables is
/// refused at create time, by kind and name, unless excluded by that name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_virtual_tables_are_refused_by_name() {
    if !shell_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    // dbstat is compiled into the shell and into rusqlite's bundled SQLite:
    // a virtual table over the file's pages, with no content of its own.
    sqlite3(
        &src,
        "CREATE TABLE t (a); INSERT INTO t VALUES (1); CREATE VIRTUAL TABLE pages USING dbstat;",
    );
    let sink = LocalDirSink::new(dir.path().join("backups"));
    let e = backup(&src, &sink).await.unwrap_err();
    let BackupError::Refused { count, objects } = &e else {
        panic!("{e}");
    };
    assert_eq!((*count, objects.as_str()), (1, "virtual table pages"));
    assert!(sink.list().await.unwrap().is_empty());

    let a = connect(&url(&src)).await;
    let mut o = CreateOptions::new(WriteOptions::new(Encryption::None));
    o.exclude = vec!["virtual table pages".into()];
    let entry = create_backup(a.clone(), "src", &sink, o).await.unwrap();
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
    assert_eq!(
        sqlite3(&dst, "SELECT name FROM sqlite_master ORDER BY name;"),
        "t\n"
    );
}
