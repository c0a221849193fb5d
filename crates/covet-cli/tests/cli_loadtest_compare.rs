//! `covet loadtest compare`: 0 within the thresholds, 6 when one is
//! crossed, 2 with a one-line message for a file that is not a report.

mod support;

use std::path::Path;

use support::{covet, run};

/// A real report: one second of `SELECT` on a scratch SQLite database.
fn real_report(dir: &Path) -> std::path::PathBuf {
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        "setup = false\n[[statement]]\nname = \"one\"\nsql = \"SELECT $1\"\nparams = [{ int = [1, 10] }]\n",
    )
    .unwrap();
    let db = format!("sqlite://{}", dir.join("t.db").display());
    let json = dir.join("base.json");
    let (code, out, err) = run(covet()
        .args(["loadtest", "--db", &db, "--rate", "100", "--duration", "1s"])
        .args(["--warmup", "0s", "--progress", "none", "--scenario"])
        .arg(&scenario)
        .arg("--json")
        .arg(&json));
    assert_eq!(code, 0, "{out}{err}");
    json
}

#[test]
fn exit_codes_follow_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let base = real_report(dir.path());

    // A run compared with itself is within any threshold.
    let (code, out, err) = run(covet()
        .args(["loadtest", "compare"])
        .arg(&base)
        .arg(&base)
        .args(["--max-p95-increase", "0%", "--max-rate-decrease", "0%"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("within every threshold"), "{out}");
    assert!(out.contains("one "), "{out}");
    assert!(out.contains("Aggregated"), "{out}");

    // The same run with every p95 tripled crosses a 10 % bound.
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let bump = |v: &mut serde_json::Value| {
        let p = v["latency"]["p95_ms"].as_f64().unwrap();
        v["latency"]["p95_ms"] = serde_json::json!(p * 3.0 + 1.0);
    };
    bump(&mut j["overall"]);
    for s in j["statements"].as_array_mut().unwrap() {
        bump(s);
    }
    let slower = dir.path().join("slower.json");
    std::fs::write(&slower, j.to_string()).unwrap();
    let verdict = dir.path().join("verdict.json");
    let (code, out, err) = run(covet()
        .args(["loadtest", "compare"])
        .arg(&base)
        .arg(&slower)
        .args(["--max-p95-increase", "10%", "--json"])
        .arg(&verdict));
    assert_eq!(code, 6, "{out}{err}");
    assert!(out.contains("REGRESSION: 2 threshold(s) crossed"), "{out}");
    assert!(err.contains("regression: one p95"), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&verdict).unwrap()).unwrap();
    assert_eq!(v["breaches"].as_array().unwrap().len(), 2);

    // Without a threshold nothing fails.
    let (code, out, err) = run(covet()
        .args(["loadtest", "compare"])
        .arg(&base)
        .arg(&slower));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn a_file_that_is_not_a_report_is_a_usage_error_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    let (code, out, err) = run(covet().args(["loadtest", "compare"]).arg(&junk).arg(&junk));
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("junk.json: not a covet loadtest JSON report"),
        "{err}"
    );
    let (code, _, err) = run(covet()
        .args(["loadtest", "compare", "/nonexistent/a.json"])
        .arg(&junk));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/a.json: cannot read it"), "{err}");
    let (code, _, err) = run(covet()
        .args(["loadtest", "compare"])
        .arg(&junk)
        .arg(&junk)
        .args(["--max-p95-increase", "lots"]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid limit `lots`"), "{err}");
}
