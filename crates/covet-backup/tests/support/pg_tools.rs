//! PostgreSQL's own tools (psql, pg_dump) as the PostgreSQL fidelity
//! tests' oracle, run against COVET_PG_URL's server.

use std::process::Command;

/// pg_dump of the PostgreSQL 15 this machine runs.
pub(crate) const PG_DUMP: &str = "/usr/lib/postgresql/15/bin/pg_dump";

/// The server URL for command-line tools, pointed at database `name`.
pub(crate) fn tool_url(name: &str) -> String {
    let raw = std::env::var("COVET_PG_URL").unwrap();
    let (base, query) = match raw.split_once('?') {
        Some((b, q)) => (b.to_owned(), format!("?{q}")),
        None => (raw.clone(), String::new()),
    };
    let cut = base.rfind('/').unwrap();
    format!("{}/{name}{query}", &base[..cut])
}

/// Runs a tool, failing the test with its stderr; returns its stdout.
pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the tool runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs an SQL script with psql (ON_ERROR_STOP) in database `db`.
pub(crate) fn psql(db: &str, sql: &str) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("load.sql");
    std::fs::write(&f, sql).unwrap();
    run(Command::new("psql")
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &tool_url(db),
            "-f",
        ])
        .arg(&f));
}
