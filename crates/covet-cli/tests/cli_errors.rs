//! Each bad input gives one clear line and the documented exit code:
//! 1 failed, 2 usage, 3 unreachable, 4 SLO missed.

mod support;

use std::io::Write as _;

use support::{assert_one_clean_line, covet, run};

#[test]
fn a_bad_scenario_file_names_the_line_and_exits_2() {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    writeln!(
        f,
        "[[statement]]\nname = \"a\"\nsql = \"SELECT $1\"\nparams = [{{ int = [5, 1] }}]"
    )
    .unwrap();
    let path = f.path().display().to_string();
    let (code, _, err) =
        run(covet().args(["loadtest", "--db", "sqlite::memory:", "--scenario", &path]));
    assert_eq!(code, 2, "{err}");
    assert_one_clean_line(&err, None);
    assert!(err.contains(&format!("{path}:4:")), "{err}");
    assert!(err.contains("min <= max"), "{err}");
}

#[test]
fn an_unknown_statement_name_is_listed_against_the_known_ones() {
    let (code, _, err) = run(covet().args([
        "loadtest",
        "--db",
        "sqlite::memory:",
        "--only",
        "read_users,nope",
    ]));
    assert_eq!(code, 2, "{err}");
    assert_one_clean_line(&err, None);
    assert!(
        err.contains(
            "unknown statement `nope`; this workload has: read_users, write_user, complex_join"
        ),
        "{err}"
    );
    let (code, _, err) =
        run(covet().args(["loadtest", "--db", "sqlite::memory:", "--workload", "tpcc"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown workload `tpcc`"), "{err}");
}

#[test]
fn an_unreachable_server_exits_3_without_the_password() {
    for url in [
        "postgres://app:s3cr3t-pw@127.0.0.1:1/db",
        "mysql://app:s3cr3t-pw@127.0.0.1:1/db",
    ] {
        for cmd in [
            vec!["ping", "--db", url],
            vec!["sql", "--db", url, "SELECT 1"],
            vec!["loadtest", "--db", url],
        ] {
            let (code, out, err) = run(covet().args(&cmd));
            assert_eq!(code, 3, "{cmd:?}: {out}{err}");
            assert_one_clean_line(&err, Some("s3cr3t-pw"));
            assert!(err.contains("cannot connect to"), "{err}");
            assert!(err.contains("app:***@127.0.0.1:1"), "{err}");
        }
    }
}

#[test]
fn a_bad_url_or_slo_is_a_usage_error() {
    let (code, _, err) = run(covet().args(["ping", "--db", "postgress://u:pw-123@h/db"]));
    assert_eq!(code, 2, "{err}");
    assert_one_clean_line(&err, Some("pw-123"));
    assert!(err.contains("unknown scheme `postgress`"), "{err}");
    let (code, _, err) =
        run(covet().args(["loadtest", "--db", "sqlite::memory:", "--slo", "p95>10ms"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid SLO `p95>10ms`"), "{err}");
    let (code, _, err) = run(covet().args(["loadtest", "--rate", "fast"]));
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_failing_statement_exits_1_with_one_line() {
    let (code, out, err) = run(covet().args(["sql", "--db", "sqlite::memory:", "SELEC 1"]));
    assert_eq!(code, 1, "{out}{err}");
    assert_one_clean_line(&err, None);
    assert!(err.to_lowercase().contains("syntax"), "{err}");
}

#[test]
fn a_missed_slo_exits_4_and_a_met_one_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("lt.db").display());
    let csv = dir.path().join("r.csv");
    let html = dir.path().join("r.html");
    let json = dir.path().join("r.json");
    let base = [
        "loadtest",
        "--db",
        &db,
        "--scale",
        "0.01",
        "--rate",
        "100",
        "--duration",
        "1s",
        "--warmup",
        "0s",
        "--progress",
        "none",
    ];
    let (code, out, err) = run(covet().args(base).args(["--slo", "p50<1us"]));
    assert_eq!(code, 4, "{out}{err}");
    assert_one_clean_line(&err, None);
    assert!(err.contains("SLO missed: p50<1us (actual "), "{err}");
    assert!(out.contains("SLO p50<1us: MISSED"), "{out}");
    assert!(
        err.contains("setup: created the data set (100 users"),
        "{err}"
    );

    let (code, out, err) = run(covet()
        .args(base)
        .args(["--slo", "max<60s", "--slo", "errors<1%"])
        .arg("--csv")
        .arg(&csv)
        .arg("--html")
        .arg(&html)
        .arg("--json")
        .arg(&json));
    assert_eq!(code, 0, "{out}{err}");
    // The second run reused the data set.
    assert!(err.contains("setup: reusing the data set"), "{err}");
    assert!(out.contains("sent 100 of 100 scheduled"), "{out}");
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(
        csv.starts_with("Type,Name,Request Count,Failure Count,Median Response Time"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(
        csv.lines()
            .last()
            .unwrap()
            .starts_with(",Aggregated,100,0,"),
        "{csv}"
    );
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(
        html.contains("<svg") && html.contains("Latency over time") && !html.contains("<script")
    );
    let json = std::fs::read_to_string(&json).unwrap();
    assert!(json.contains("\"statements\"") && json.contains("\"series\""));
}
