//! `compare`: per statement and overall changes, thresholds that fail a
//! regression, and one-line errors for files that are not reports.

use covet_loadtest::{Limit, LoadtestError, RunFigures, Thresholds, compare};

fn stmt(name: &str, count: u64, errors: u64, rate: f64, p: [f64; 3]) -> String {
    format!(
        r#"{{"name":"{name}","count":{count},"errors":{errors},"rate":{rate},"latency":{{"p50_ms":{},"p95_ms":{},"p99_ms":{},"max_ms":99.0}}}}"#,
        p[0], p[1], p[2]
    )
}

/// A report as `covet loadtest --json` writes it (with the fields compare
/// reads, and one it does not).
fn report(workload: &str, stmts: &[String], overall: &str) -> String {
    format!(
        r#"{{"meta":{{"workload":"{workload}","engine":"postgresql","mode":"open loop","target_rate":1000.0,"seed":42}},
            "overall":{overall},"statements":[{}]}}"#,
        stmts.join(",")
    )
}

fn base() -> RunFigures {
    let text = report(
        "seed mix",
        &[
            stmt("read_users", 8000, 0, 800.0, [1.0, 2.0, 4.0]),
            stmt("write_user", 2000, 10, 200.0, [2.0, 4.0, 8.0]),
        ],
        &stmt("Aggregated", 10000, 10, 1000.0, [1.2, 2.5, 5.0]),
    );
    RunFigures::from_json("base.json", &text).unwrap()
}

fn new(read_p95: f64, read_rate: f64, write_errors: u64) -> RunFigures {
    let text = report(
        "seed mix",
        &[
            stmt("read_users", 8000, 0, read_rate, [1.0, read_p95, 4.0]),
            stmt("write_user", 2000, write_errors, 200.0, [2.0, 4.0, 8.0]),
        ],
        &stmt("Aggregated", 10000, write_errors, 1000.0, [1.2, 2.5, 5.0]),
    );
    RunFigures::from_json("new.json", &text).unwrap()
}

fn limits() -> Thresholds {
    Thresholds {
        p95_increase: Some("10%".parse().unwrap()),
        p99_increase: Some("2ms".parse().unwrap()),
        rate_decrease: Some("5%".parse().unwrap()),
        error_rate_increase_pp: Some(0.5),
        ..Thresholds::default()
    }
}

#[test]
fn a_run_within_every_threshold_passes() {
    let c = compare(&base(), &new(2.19, 780.0, 15), &limits()).unwrap();
    assert!(c.passed(), "{}", c.to_text());
    let text = c.to_text();
    assert!(text.contains("within every threshold"), "{text}");
    assert!(text.contains("2.000 -> 2.190   +9.5%"), "{text}");
    assert_eq!(c.rows.len(), 3);
    assert_eq!(c.rows[2].name, "Aggregated");
}

#[test]
fn each_threshold_crossed_is_named() {
    let c = compare(&base(), &new(2.5, 700.0, 40), &limits()).unwrap();
    assert!(!c.passed());
    let crossed: Vec<(String, String)> = c
        .breaches
        .iter()
        .map(|b| (b.statement.clone(), b.figure.clone()))
        .collect();
    assert_eq!(
        crossed,
        [
            ("read_users".into(), "p95".into()),
            ("read_users".into(), "rate".into()),
            ("write_user".into(), "error rate %".into()),
        ],
        "{}",
        c.to_text()
    );
    let text = c.to_text();
    assert!(
        text.contains("REGRESSION: 3 threshold(s) crossed"),
        "{text}"
    );
    assert!(
        text.contains("read_users p95: 2.000 -> 2.500 (+25.0%; allowed 10%)"),
        "{text}"
    );
}

#[test]
fn without_thresholds_nothing_fails() {
    let c = compare(&base(), &new(50.0, 10.0, 2000), &Thresholds::default()).unwrap();
    assert!(c.passed());
}

#[test]
fn files_that_are_not_reports_are_one_line_errors() {
    let e = RunFigures::from_json("x.json", r#"{"meta":{}}"#).unwrap_err();
    assert!(matches!(e, LoadtestError::Report { .. }));
    let msg = e.to_string();
    assert!(
        msg.starts_with("x.json: not a covet loadtest JSON report"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    let e = RunFigures::from_file(std::path::Path::new("/nonexistent/base.json")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("/nonexistent/base.json: cannot read it"),
        "{e}"
    );
}

#[test]
fn reports_with_no_statement_in_common_do_not_compare() {
    let other = RunFigures::from_json(
        "ps.json",
        &report(
            "point_select",
            &[stmt("point_select", 10, 0, 1.0, [1.0, 1.0, 1.0])],
            &stmt("Aggregated", 10, 0, 1.0, [1.0, 1.0, 1.0]),
        ),
    )
    .unwrap();
    let e = compare(&base(), &other, &limits()).unwrap_err();
    assert!(matches!(e, LoadtestError::Compare(_)));
    assert_eq!(
        e.to_string(),
        "cannot compare: base.json (seed mix) and ps.json (point_select) have no statement in common"
    );
}

#[test]
fn limits_parse_percentages_latencies_and_rates() {
    assert_eq!("10%".parse::<Limit>().unwrap(), Limit::Percent(10.0));
    assert_eq!("2ms".parse::<Limit>().unwrap(), Limit::Absolute(2.0));
    assert_eq!("0.5s".parse::<Limit>().unwrap(), Limit::Absolute(500.0));
    assert_eq!("100/s".parse::<Limit>().unwrap(), Limit::Absolute(100.0));
    for bad in ["10", "ten%", "-5%", "5h"] {
        let e = bad.parse::<Limit>().unwrap_err().to_string();
        assert!(e.starts_with(&format!("invalid limit `{bad}`")), "{e}");
    }
}
