//! `cargo xtask loadtest`: the original plan's run_load_tests.sh, in Rust.
//!
//! 1,000, 5,000 and 10,000 statements per second of the seed mix for 60 s
//! each against PostgreSQL (COVET_PG_URL) and MariaDB (COVET_MYSQL_URL),
//! through `covet loadtest`. Each run writes results_<rate>_qps.csv (locust's
//! stats columns), .json and .html under target/loadtest/<backend>/; a
//! summary table follows. Options:
//!   --duration 60s      measured time per run (e.g. 10s for a quick pass)
//!   --warmup 5s         warm-up per run
//!   --rates 1000,5000,10000
//!   --backends pg,mysql
//!   --out target/loadtest
use std::path::PathBuf;

use crate::util::{Result, cargo};

struct Row {
    backend: String,
    rate: u64,
    outcome: String,
    figures: Option<Vec<String>>,
}

fn label(rate: u64) -> String {
    if rate.is_multiple_of(1000) {
        format!("{}k", rate / 1000)
    } else {
        rate.to_string()
    }
}

fn with_pool(url: &str) -> String {
    // 10 connections (the default) cannot carry 10,000/s of the seed mix
    // at a millisecond each with headroom; the runs use 32 unless told.
    if url.contains("max_connections=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&max_connections=32")
    } else {
        format!("{url}?max_connections=32")
    }
}

/// The `Aggregated` row of a covet loadtest CSV: count, failures, p50,
/// p95, p99, max, completed/s.
fn aggregated(csv: &str) -> Option<Vec<String>> {
    let header: Vec<&str> = csv.lines().next()?.split(',').collect();
    let row: Vec<&str> = csv
        .lines()
        .find(|l| l.split(',').nth(1) == Some("Aggregated"))?
        .split(',')
        .collect();
    let col = |name: &str| -> Option<String> {
        let i = header.iter().position(|h| *h == name)?;
        row.get(i).map(|s| (*s).to_string())
    };
    Some(vec![
        col("Request Count")?,
        col("Failure Count")?,
        col("Requests/s")?,
        col("50%")?,
        col("95%")?,
        col("99%")?,
        col("100%")?,
        col("Late Count")?,
    ])
}

pub(crate) fn run(args: &[String]) -> Result {
    let mut duration = "60s".to_string();
    let mut warmup = "5s".to_string();
    let mut rates: Vec<u64> = vec![1_000, 5_000, 10_000];
    let mut backends: Vec<String> = vec!["pg".into(), "mysql".into()];
    let mut out = PathBuf::from("target/loadtest");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--duration" => duration = val()?,
            "--warmup" => warmup = val()?,
            "--rates" => {
                rates = val()?
                    .split(',')
                    .map(|r| r.trim().parse().map_err(|_| format!("bad rate `{r}`")))
                    .collect::<Result<Vec<u64>>>()?;
            }
            "--backends" => backends = val()?.split(',').map(str::to_string).collect(),
            "--out" => out = PathBuf::from(val()?),
            other => {
                return Err(format!(
                    "unknown option `{other}` (expected --duration, --warmup, --rates, --backends, --out)"
                ));
            }
        }
    }
    let mut build = cargo();
    build.args(["build", "--release", "-q", "-p", "covet-cli"]);
    crate::util::run(build)?;

    let mut rows = Vec::new();
    for backend in &backends {
        let (var, name) = match backend.as_str() {
            "pg" | "postgres" => ("COVET_PG_URL", "postgresql"),
            "mysql" | "mariadb" => ("COVET_MYSQL_URL", "mariadb"),
            other => return Err(format!("unknown backend `{other}` (pg or mysql)")),
        };
        let Ok(url) = std::env::var(var) else {
            eprintln!("skipping {name}: {var} is not set");
            rows.push(Row {
                backend: name.into(),
                rate: 0,
                outcome: format!("skipped: {var} not set"),
                figures: None,
            });
            continue;
        };
        let dir = out.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        for &rate in &rates {
            let stem = dir.join(format!("results_{}_qps", label(rate)));
            let csv = stem.with_extension("csv");
            let mut c = cargo();
            c.args([
                "run",
                "--release",
                "-q",
                "-p",
                "covet-cli",
                "--",
                "loadtest",
            ])
            .args(["--db", &with_pool(&url)])
            .args([
                "--rate",
                &rate.to_string(),
                "--duration",
                &duration,
                "--warmup",
                &warmup,
            ])
            .args(["--slo", "p95<10ms", "--progress", "plain"])
            .arg("--csv")
            .arg(&csv)
            .arg("--json")
            .arg(stem.with_extension("json"))
            .arg("--html")
            .arg(stem.with_extension("html"));
            eprintln!("\n== {name} at {rate}/s for {duration}");
            let status = c
                .status()
                .map_err(|e| format!("running covet loadtest: {e}"))?;
            let outcome = match status.code() {
                Some(0) => "p95<10ms met".to_string(),
                Some(4) => "p95<10ms MISSED".to_string(),
                Some(n) => format!("failed (exit {n})"),
                None => "killed".to_string(),
            };
            let figures = std::fs::read_to_string(&csv)
                .ok()
                .and_then(|t| aggregated(&t));
            rows.push(Row {
                backend: name.into(),
                rate,
                outcome,
                figures,
            });
        }
    }
    println!(
        "\n| backend | target/s | completed/s | statements | errors | late | p50 ms | p95 ms | p99 ms | max ms | p95 < 10 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        match &r.figures {
            Some(f) => println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.backend, r.rate, f[2], f[0], f[1], f[7], f[3], f[4], f[5], f[6], r.outcome
            ),
            None => println!(
                "| {} | {} | - | - | - | - | - | - | - | - | {} |",
                r.backend,
                if r.rate == 0 {
                    "-".into()
                } else {
                    r.rate.to_string()
                },
                r.outcome
            ),
        }
    }
    println!(
        "\nfiles: {}/<backend>/results_<rate>_qps.{{csv,json,html}}",
        out.display()
    );
    if rows
        .iter()
        .any(|r| r.outcome.starts_with("failed") || r.outcome == "killed")
    {
        return Err("some load-test runs failed (see above)".into());
    }
    Ok(())
}
