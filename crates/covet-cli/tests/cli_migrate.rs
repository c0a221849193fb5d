//! `covet migrate` end to end on a SQLite file: new, lint (exit 1 on a
//! finding, silenced by an allow with a reason), up (refused by lint),
//! status, verify, orm generate, down --to; and no password in what it prints when the
//! server cannot be reached.

mod support;

use support::{covet, run};

#[test]
fn new_lint_up_status_verify_down() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    let db = format!("sqlite://{}", tmp.path().join("app.db").display());
    let m = |args: &[&str]| {
        let mut c = covet();
        c.arg("migrate")
            .args(args)
            .env("COVET_MIGRATIONS_DIR", &dir)
            .env("COVET_DATABASE_URL", &db);
        run(&mut c)
    };
    let (code, out, _) = m(&["new", "init"]);
    assert_eq!(code, 0);
    assert!(out.contains("0001_init.up.sql"), "{out}");
    std::fs::write(
        dir.join("0001_init.up.sql"),
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);",
    )
    .unwrap();
    std::fs::write(dir.join("0001_init.down.sql"), "DROP TABLE users;").unwrap();
    m(&["new", "rename"]);
    let up = dir.join("0002_rename.up.sql");
    std::fs::write(&up, "ALTER TABLE users RENAME COLUMN name TO full_name;").unwrap();
    std::fs::write(
        dir.join("0002_rename.down.sql"),
        "ALTER TABLE users RENAME COLUMN full_name TO name;",
    )
    .unwrap();

    let (code, out, _) = m(&["lint"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("[renaming-column]") && out.contains("Safe alternative"),
        "{out}"
    );
    let (code, _, err) = m(&["up"]);
    assert_eq!(code, 1, "lint runs before up: {err}");
    assert!(err.contains("[renaming-column]"), "{err}");

    let text = std::fs::read_to_string(&up).unwrap();
    std::fs::write(
        &up,
        format!("-- covet:allow(renaming-column) no reader of users.name is deployed\n{text}"),
    )
    .unwrap();
    let (code, out, _) = m(&["lint"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, err) = m(&["up"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("applied 2 migration(s) 1, 2"), "{out}");
    let (code, out, _) = m(&["status"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("applied  20").count(), 2, "{out}");
    let (code, out, err) = m(&["verify"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 migration(s) undone"), "{out}");
    let (code, out, err) = run(covet().args(["orm", "generate", "--db", &db]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("pub struct User {") && out.contains("pub full_name: Option<String>,"),
        "{out}"
    );
    assert!(!out.contains("covet_migrations"), "{out}");
    let (code, out, _) = m(&["down", "--to", "0"]);
    assert_eq!(code, 0);
    assert!(out.contains("reverted 2 migration(s) 2, 1"), "{out}");
}

#[test]
fn an_unreachable_server_is_named_without_its_password() {
    let tmp = tempfile::tempdir().unwrap();
    for sub in ["status", "up", "verify"] {
        let (code, out, err) = run(covet()
            .args(["migrate", sub, "--dir"])
            .arg(tmp.path())
            .args(["--db", "postgres://app:Sekr1t-pw@127.0.0.1:1/db"]));
        assert_eq!(code, 3, "{sub}: {err}");
        assert!(
            !out.contains("Sekr1t") && !err.contains("Sekr1t"),
            "{sub}: {out}{err}"
        );
    }
}

/// `make --target-db`: the migration it writes brings an empty database to
/// the target's schema, and a second make finds nothing left.
#[test]
fn make_reaches_the_target_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    let target = format!("sqlite://{}", tmp.path().join("target.db").display());
    let fresh = format!("sqlite://{}", tmp.path().join("fresh.db").display());
    let ddl = "CREATE TABLE authors (id INTEGER PRIMARY KEY, name VARCHAR(80) NOT NULL UNIQUE)";
    let ddl2 = "CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors (id), title TEXT DEFAULT 'untitled')";
    for sql in [ddl, ddl2, "CREATE INDEX books_author ON books (author_id)"] {
        let (code, _, err) = run(covet().args(["sql", "--db", &target, sql]));
        assert_eq!(code, 0, "{err}");
    }
    let make = || {
        run(covet().args(["migrate", "make", "--dir"]).arg(&dir).args([
            "--db",
            &fresh,
            "--target-db",
            &target,
            "schema",
        ]))
    };
    let (code, out, err) = make();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0001_schema.up.sql"), "{out}");
    let (code, _, err) = run(covet()
        .args(["migrate", "up", "--dir"])
        .arg(&dir)
        .args(["--db", &fresh]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = make();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("nothing to migrate"), "{out}");
    let (code, _, err) = run(covet()
        .args(["migrate", "verify", "--dir"])
        .arg(&dir)
        .args(["--db", &fresh]));
    assert_eq!(code, 0, "{err}");
}
