//! `covet ping` and `covet sql` against SQLite, PostgreSQL and MariaDB.

mod support;

use support::{covet, run, server};

fn ping_and_sql(url: &str, version_hint: &str) {
    let (code, out, err) = run(covet().args(["ping", "--db", url, "-n", "3"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("server version: "), "{out}");
    assert!(out.contains(version_hint), "{out}");
    assert!(out.contains("round trip: min "), "{out}");
    assert!(out.contains("(3 pings)"), "{out}");

    let (code, out, err) = run(covet().args([
        "sql",
        "--db",
        url,
        "SELECT 42 AS answer, 'covet' AS name, NULL AS empty",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].contains("answer") && lines[0].contains("name") && lines[0].contains("empty"));
    assert!(
        lines[2].contains("42") && lines[2].contains("covet") && lines[2].contains("NULL"),
        "{out}"
    );
    assert_eq!(lines[3], "(1 row)");
}

#[test]
fn sqlite_default_database_file_is_created_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(covet().current_dir(dir.path()).args(["ping"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("sqlite://covet.db"), "{out}");
    assert!(dir.path().join("covet.db").exists());
    ping_and_sql("sqlite::memory:", "3.");
    // COVET_DATABASE_URL is the default for --db.
    let (code, out, err) = run(covet()
        .env("COVET_DATABASE_URL", "sqlite::memory:")
        .args(["sql", "SELECT 1 AS x"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(!dir.path().join("other.db").exists());
}

#[test]
fn sqlite_statements_report_rows_affected() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    for (sql, want) in [
        (
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)",
            "0 rows affected",
        ),
        ("INSERT INTO t (v) VALUES ('a'), ('b')", "2 rows affected"),
    ] {
        let (code, out, err) = run(covet().args(["sql", "--db", &db, sql]));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.starts_with(want), "{out}");
    }
    let (code, out, _) = run(covet().args(["sql", "--db", &db, "SELECT id, v FROM t ORDER BY id"]));
    assert_eq!(code, 0);
    assert!(out.ends_with("(2 rows)\n"), "{out}");
}

#[test]
fn postgres_ping_and_sql() {
    if let Some(url) = server("COVET_PG_URL") {
        ping_and_sql(&url, ".");
    }
}

#[test]
fn mariadb_ping_and_sql() {
    if let Some(url) = server("COVET_MYSQL_URL") {
        ping_and_sql(&url, "");
    }
}
