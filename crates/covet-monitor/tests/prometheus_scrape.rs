//! The dashboard and the alerting rules against a real Prometheus:
//! `promtool check rules` / `promtool test rules`, then the `prometheus`
//! example exporter under its workload, scraped by a private `prometheus`,
//! and every expression of the dashboard and the rules queried there. A
//! renamed metric fails here, not on the pager.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// Metrics that appear only after their event (a retry, a breaker
/// transition, an N+1 pattern, a backup), which the example's workload
/// does not cause. Each must still be a name some crate of the workspace
/// exports (checked below), so a rename is still caught.
const EVENT_ONLY: &[&str] = &[
    "covet_retries_total",
    "covet_retry_budget_exhausted_total",
    "covet_breaker_transitions_total",
    "covet_n_plus_one_total",
    "covet_backup_last_success_timestamp_seconds",
    "covet_backup_last_duration_seconds",
    "covet_backup_last_size_bytes",
    "covet_backup_failures_total",
];

/// Named by the rules and the dashboard ahead of the code that will
/// export it: the WAL/binlog archiving (PITR) work.
const PLANNED: &[&str] = &["covet_archive_last_success_timestamp_seconds"];

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn require(name: &str) -> Option<PathBuf> {
    let found = tool(name);
    if found.is_none() {
        assert!(
            std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
            "{name} is not installed and COVET_REQUIRE_DB=1 (Debian package prometheus)"
        );
        eprintln!("skipping: {name} is not installed (Debian package prometheus)");
    }
    found
}

/// Kills the child by its pid when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// GET `path` on 127.0.0.1:`port`; the body, or `None` if unreachable.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
}

/// Runs an instant query: (status, number of result series).
fn query(port: u16, expr: &str) -> (String, usize, String) {
    let body = get(port, &format!("/api/v1/query?query={}", encode(expr))).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let status = v["status"].as_str().unwrap_or("unreachable").to_owned();
    let n = v["data"]["result"].as_array().map_or(0, Vec::len);
    (status, n, body)
}

/// Metric names an expression mentions (words starting `covet_`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(off) = expr[i..].find("covet_") {
        let start = i + off;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        let before_ok =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        if before_ok {
            out.push(expr[start..end].to_owned());
        }
        i = end;
    }
    out.sort();
    out.dedup();
    out
}

/// The base name of a histogram series (`_bucket`, `_sum`, `_count`
/// stripped when the base is a `_seconds` histogram).
fn base(name: &str) -> &str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(b) = name.strip_suffix(suffix)
            && b.ends_with("_seconds")
        {
            return b;
        }
    }
    name
}

fn dashboard_exprs() -> Vec<String> {
    let text =
        std::fs::read_to_string(format!("{CRATE}/dashboards/covet.json")).expect("dashboard");
    let v: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut out = Vec::new();
    for p in v["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push(
                t["expr"]
                    .as_str()
                    .expect("expr")
                    .replace("$__rate_interval", "1m"),
            );
        }
    }
    out
}

/// The `expr:` of every rule (inline or a `|` block).
fn rule_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(format!("{CRATE}/alerts/covet.rules.yml")).expect("rules");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if let Some(rest) = l.trim_start().strip_prefix("expr:") {
            let indent = l.len() - l.trim_start().len();
            if rest.trim() == "|" {
                let mut block = String::new();
                i += 1;
                while i < lines.len()
                    && (lines[i].trim().is_empty()
                        || lines[i].len() - lines[i].trim_start().len() > indent)
                {
                    block.push_str(lines[i].trim());
                    block.push('\n');
                    i += 1;
                }
                out.push(block);
                continue;
            }
            out.push(rest.trim().to_owned());
        }
        i += 1;
    }
    out
}

fn workspace_sources_mention(name: &str) -> bool {
    let root = Path::new(CRATE).join("../..");
    let out = Command::new("grep")
        .args(["-rlF", "--include=*.rs", &format!("\"{name}\""), "crates"])
        .current_dir(root)
        .output()
        .expect("grep runs");
    !out.stdout.is_empty()
}

#[test]
fn promtool_checks_and_unit_tests_the_rules() {
    let Some(promtool) = require("promtool") else {
        return;
    };
    let dir = format!("{CRATE}/alerts");
    let check = Command::new(&promtool)
        .args(["check", "rules", "covet.rules.yml"])
        .current_dir(&dir)
        .output()
        .expect("promtool runs");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let test = Command::new(&promtool)
        .args(["test", "rules", "covet.rules.test.yml"])
        .current_dir(&dir)
        .output()
        .expect("promtool runs");
    assert!(
        test.status.success(),
        "{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    assert_eq!(rule_exprs().len(), 7, "one expression per alert");
}

#[test]
fn every_dashboard_and_rule_expression_has_series_in_a_real_prometheus() {
    let Some(prometheus) = require("prometheus") else {
        return;
    };
    // Examples are built with the package's tests, next to the deps dir.
    let exe = std::env::current_exe().expect("test exe");
    let example = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("examples/prometheus"))
        .expect("target dir");
    // `cargo test -p covet-monitor` (and `cargo xtask ci`) build examples,
    // `cargo test --test prometheus_scrape` does not: build it then, when
    // it is missing or older than this crate's sources. (Always building
    // would resolve features apart from the workspace's and rebuild much.)
    if is_stale(&example) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "covet-monitor",
                "--example",
                "prometheus",
            ])
            .current_dir(CRATE)
            .status()
            .expect("cargo runs");
        assert!(built.success(), "building the example failed");
    }
    assert!(example.is_file(), "{} is not built", example.display());

    let mut exporter = Killed(
        Command::new(&example)
            .args(["--port", "0"])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the example runs"),
    );
    let mut line = String::new();
    let stderr = exporter.0.stderr.take().expect("stderr");
    let mut reader = BufReader::new(stderr);
    while !line.contains("serving http://") {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("stderr") > 0,
            "exporter exited"
        );
    }
    // Keep draining its stderr so it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let target = line
        .trim()
        .trim_start_matches("serving http://")
        .trim_end_matches("/metrics")
        .to_owned();

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {CRATE}/alerts/covet.rules.yml\n\
             scrape_configs:\n  - job_name: covet\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("config");
    let port = free_port();
    let _prom = Killed(
        Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus runs"),
    );

    let dash = dashboard_exprs();
    let rules = rule_exprs();
    assert!(dash.len() >= 20, "{} dashboard expressions", dash.len());
    // Every name must be scraped, or be one the workload cannot cause
    // (and still exported somewhere), or be explicitly planned.
    for name in dash.iter().chain(&rules).flat_map(|e| metric_names(e)) {
        let b = base(&name).to_owned();
        if EVENT_ONLY.contains(&b.as_str()) {
            assert!(workspace_sources_mention(&b), "{b} is exported by no crate");
        }
    }
    let is_exempt = |e: &str| {
        metric_names(e)
            .iter()
            .any(|n| EVENT_ONLY.contains(&base(n)) || PLANNED.contains(&base(n)))
    };

    // Wait until every dashboard expression over scraped metrics has
    // series (rates need a few scrapes).
    let deadline = Instant::now() + Duration::from_secs(60);
    let empty = loop {
        let empty: Vec<(String, String)> = dash
            .iter()
            .filter(|e| !is_exempt(e))
            .filter_map(|e| {
                let (status, n, body) = query(port, e);
                (status != "success" || n == 0).then(|| (e.clone(), body))
            })
            .collect();
        if empty.is_empty() || Instant::now() > deadline {
            break empty;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(
        empty.is_empty(),
        "dashboard expressions without series: {empty:#?}"
    );

    let scraped: Vec<String> = {
        let body = get(port, "/api/v1/label/__name__/values").expect("names");
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        v["data"]
            .as_array()
            .expect("names")
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect()
    };
    for e in dash.iter().chain(&rules) {
        let (status, _, body) = query(port, e);
        assert_eq!(status, "success", "{e}: {body}");
        for n in metric_names(e) {
            let b = base(&n);
            assert!(
                scraped.contains(&n) || EVENT_ONLY.contains(&b) || PLANNED.contains(&b),
                "{n} (in `{e}`) is not exported by the example"
            );
        }
    }
    // Each rule's expression without its threshold has series: the part
    // that names metrics is right, whatever the load.
    for e in &rules {
        if is_exempt(e) {
            continue;
        }
        let selector = rule_series_part(e);
        let (status, n, body) = query(port, &selector);
        assert!(
            status == "success" && n > 0,
            "`{selector}` has no series: {body}"
        );
    }
}

/// A rule's expression cut before its first comparison: the
/// left-hand side that selects the series.
fn rule_series_part(e: &str) -> String {
    let first = e.split(" and").next().unwrap_or(e);
    let cut = [">=", "==", " > "]
        .iter()
        .filter_map(|op| first.find(op))
        .min()
        .unwrap_or(first.len());
    let mut s = first[..cut].trim().to_owned();
    // Balance what the cut left open.
    let open = s
        .matches('(')
        .count()
        .saturating_sub(s.matches(')').count());
    s.push_str(&")".repeat(open));
    s
}

/// Whether `exe` is missing or older than a source file of this crate.
fn is_stale(exe: &Path) -> bool {
    fn newest(dir: &Path) -> std::time::SystemTime {
        let mut t = std::time::SystemTime::UNIX_EPOCH;
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            let m = if p.is_dir() {
                newest(&p)
            } else {
                e.metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
            };
            t = t.max(m);
        }
        t
    }
    let Ok(built) = exe.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    let src = newest(&Path::new(CRATE).join("src")).max(newest(&Path::new(CRATE).join("examples")));
    built < src
}
