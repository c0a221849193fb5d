//! A real 10 s run at 200 statements per second of the seed mix against
//! PostgreSQL and MariaDB, each in a database of its own.

mod support;

use support::{TempDb, covet, run, server};

fn real_run(admin: &str) {
    let db = TempDb::create(admin, "covet_lt");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("results.csv");
    let (code, out, err) = run(covet()
        .args([
            "loadtest",
            "--db",
            &db.url,
            "--scale",
            "0.1",
            "--rate",
            "200",
            "--duration",
            "10s",
        ])
        .args([
            "--warmup",
            "1s",
            "--progress",
            "plain",
            "--slo",
            "errors<1%",
        ])
        .arg("--csv")
        .arg(&csv));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("sent 2000 of 2000 scheduled"), "{out}");
    assert!(out.contains("errors 0,"), "{out}");
    for name in ["read_users", "write_user", "complex_join", "Aggregated"] {
        assert!(out.contains(name), "{out}");
    }
    // Plain progress lines, one a second, on stderr when not a terminal.
    assert!(
        err.lines().filter(|l| l.contains("measured rate")).count() >= 8,
        "{err}"
    );
    let csv = std::fs::read_to_string(&csv).unwrap();
    let agg = csv.lines().last().unwrap();
    assert!(agg.starts_with(",Aggregated,2000,0,"), "{csv}");
}

#[test]
fn ten_seconds_against_postgres() {
    if let Some(url) = server("COVET_PG_URL") {
        real_run(&url);
    }
}

#[test]
fn ten_seconds_against_mariadb() {
    if let Some(url) = server("COVET_MYSQL_URL") {
        real_run(&url);
    }
}
