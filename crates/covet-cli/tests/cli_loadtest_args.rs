//! Load-test arguments are checked before connecting, and a run whose
//! statements fail says so in its verdicts and its exit code.

mod support;

use support::{covet, run};

/// A URL to a port on which nothing listens.
fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("postgres://postgres@127.0.0.1:{port}/covet_nowhere?connect_timeout=2")
}

#[test]
fn bad_arguments_are_usage_errors_before_any_connection() {
    let url = dead_url();
    // The connection itself fails with exit code 3 ...
    let (code, out, err) = run(covet().args(["loadtest", "--db", &url, "--duration", "1s"]));
    assert_eq!(code, 3, "{out}{err}");
    // ... so each of these, exiting 2, was caught before connecting.
    for args in [
        &["--rate", "0"][..],
        &["--rate", "-5"],
        &["--duration", "0s"],
        &["--max-in-flight", "0"],
        &["--closed-loop", "0"],
        &["--scale", "0"],
        &["--breaker-failures", "0"],
        &["--breaker-open", "0s"],
        &["--max-error-rate", "150%"],
        &["--max-error-rate", "lots"],
        &["--stages", "10s:-1"],
        &["--stages", "10s"],
        &["--stages", "5s:0"],
        &["--stages", "5s:100", "--closed-loop", "4"],
        &["--find-max"],
        &["--find-max", "--slo", "p95<10ms", "--resolution", "0%"],
        &[
            "--find-max",
            "--slo",
            "p95<10ms",
            "--rate",
            "1000",
            "--max-rate",
            "10",
        ],
    ] {
        let (code, out, err) = run(covet().args(["loadtest", "--db", &url]).args(args));
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(!err.contains("cannot connect"), "{args:?}: {err}");
        assert!(!err.contains("setup"), "{args:?}: {err}");
    }
}

/// A scenario whose only statement fails on every call.
fn failing_scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let p = dir.join("failing.toml");
    std::fs::write(
        &p,
        r#"
name = "always fails"
setup = false

[[statement]]
name = "missing"
sql = "SELECT id FROM covet_no_such_table WHERE id = $1"
params = [{ int = [1, 10] }]
"#,
    )
    .unwrap();
    p
}

#[test]
fn a_run_where_every_statement_fails_meets_no_slo_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("t.db").display());
    let scenario = failing_scenario(dir.path());
    let json = dir.path().join("r.json");
    let base = |extra: &[&str]| {
        let mut c = covet();
        c.args(["loadtest", "--db", &db, "--rate", "50", "--duration", "1s"])
            .args(["--warmup", "0s", "--progress", "none", "--slo", "p95<1s"])
            .arg("--scenario")
            .arg(&scenario)
            .arg("--json")
            .arg(&json)
            .args(extra);
        c
    };

    // Without any error-rate objective, the default bound fails the run.
    let (code, out, err) = run(&mut base(&[]));
    assert_eq!(code, 5, "{out}{err}");
    assert!(out.contains("errors 50,"), "{out}");
    assert!(
        out.contains("SLO p95<1s: MISSED (actual n/a (no successful statement) over 0 successful; error rate 100.000%)"),
        "{out}"
    );
    assert!(
        out.contains("error rate 100.000% (50 of 50 completed; at most 1%: EXCEEDED)"),
        "{out}"
    );
    assert!(err.contains("too many errors"), "{err}");
    let j = std::fs::read_to_string(&json).unwrap();
    assert!(j.contains("\"error_rate_pct\": 100.0"), "{j}");

    // With the bound off, the latency objective still is not met.
    let (code, out, err) = run(&mut base(&["--max-error-rate", "off"]));
    assert_eq!(code, 4, "{out}{err}");
    assert!(out.contains("no bound"), "{out}");
}
