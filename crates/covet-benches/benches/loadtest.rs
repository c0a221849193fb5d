//! `cargo xtask bench loadtest [-- options]`: is the load generator honest
//! and fast enough never to be the bottleneck?
//!
//! 1. Generator capacity: open-loop runs against a no-op adapter with one
//!    tokio worker thread (plus the dispatcher thread): statements per
//!    second sent, and the schedule lag (how late the generator itself
//!    started them). Target: >= 100,000/s with lag p99 < 1 ms.
//! 2. Honesty check: point_select at 1,000 and 5,000/s with Poisson arrivals
//!    through covet-loadtest and through `pgbench -R` (same SQL, 8
//!    connections, prepared), interleaved against the same server; p50, p95,
//!    p99 of latency from the scheduled start for both. Target: within 15%.
//! 3. The seed's targets: the seed mix at 1K, 5K and 10K/s on PostgreSQL
//!    and MariaDB, p95 < 10 ms, with where the time goes.
//!
//! Options: --secs N (measured seconds per database run, default 10),
//! --capacity-secs N (default 3), --rounds N (honesty rounds, default 1),
//! --only capacity|honesty|seed, --wire (honesty: also capture each run on
//! the loopback port with dumpcap and report the latency seen on the wire,
//! an independent measure of which tool's figures are right). Needs COVET_PG_URL / COVET_MYSQL_URL for
//! parts 2 and 3 (skipped with a message otherwise) and pgbench for part 2.
#![allow(missing_docs)]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use covet::{
    Adapter, BulkRows, Engine, Error, ExecResult, Result, RowStream, Rows, Schema, Statement,
    Transaction, TxOptions,
};
use covet_loadtest::{
    Arrival, Pacer, Report, RunConfig, SetupOptions, Workload, ensure_dataset, point_select,
    seed_mix,
};

struct Noop;

#[async_trait]
impl Adapter for Noop {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }
    async fn execute(&self, _: &Statement) -> Result<ExecResult> {
        Ok(ExecResult::default())
    }
    async fn query(&self, _: &Statement) -> Result<Rows> {
        Ok(Rows::default())
    }
    async fn query_stream(&self, _: &Statement) -> Result<RowStream> {
        Err(Error::unsupported("no-op"))
    }
    async fn run(&self, _: &Statement) -> Result<covet::Outcome> {
        Err(Error::unsupported("no-op"))
    }
    async fn begin_with(&self, _: TxOptions) -> Result<Box<dyn Transaction>> {
        Err(Error::unsupported("no-op"))
    }
    async fn bulk_insert(&self, _: &str, _: &[String], rows: BulkRows) -> Result<u64> {
        Ok(rows.len() as u64)
    }
    async fn schema(&self) -> Result<Schema> {
        Err(Error::unsupported("no-op"))
    }
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
    async fn server_version(&self) -> Result<String> {
        Ok("no-op".into())
    }
}

struct Opts {
    secs: u64,
    capacity_secs: u64,
    rounds: usize,
    only: Option<String>,
    wire: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        secs: 10,
        capacity_secs: 3,
        rounds: 1,
        only: None,
        wire: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--secs" => o.secs = v.parse().expect("--secs takes a number"),
            "--capacity-secs" => {
                o.capacity_secs = v.parse().expect("--capacity-secs takes a number");
            }
            "--rounds" => o.rounds = v.parse().expect("--rounds takes a number"),
            "--only" => o.only = Some(v),
            "--wire" => {
                o.wire = true;
                i += 1;
                continue;
            }
            // cargo bench passes --bench; nothing else is expected.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

fn wanted(o: &Opts, part: &str) -> bool {
    o.only.as_deref().is_none_or(|p| p == part)
}

fn capacity(o: &Opts) {
    println!("\n## 1. generator capacity (no-op adapter, 1 tokio worker + dispatcher thread)\n");
    println!(
        "| target/s | sent/s | completed/s | lag p50 ms | lag p99 ms | lag max ms | late (>1 ms) | verdict |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut best = 0.0;
    for rate in [25_000.0, 50_000.0, 100_000.0, 150_000.0, 200_000.0] {
        let w =
            Workload::new("ps", point_select(1.0), covet::Dialect::POSTGRES, 1).expect("workload");
        let cfg = RunConfig {
            rate,
            duration: Duration::from_secs(o.capacity_secs),
            warmup: Duration::from_millis(500),
            max_in_flight: 1_000_000,
            sample_memory: false,
            pacer: Pacer::Precise,
            ..RunConfig::default()
        };
        let r = rt
            .block_on(covet_loadtest::run(Arc::new(Noop), w, cfg))
            .expect("run");
        let ok = r.schedule_lag.p99_ms < 1.0 && r.summary.sent_rate >= rate * 0.99;
        if ok && rate > best {
            best = rate;
        }
        println!(
            "| {:.0} | {:.0} | {:.0} | {:.3} | {:.3} | {:.3} | {:.2}% | {} |",
            rate,
            r.summary.sent_rate,
            r.summary.achieved_rate,
            r.schedule_lag.p50_ms,
            r.schedule_lag.p99_ms,
            r.schedule_lag.max_ms,
            r.summary.late as f64 / r.summary.sent.max(1) as f64 * 100.0,
            if ok { "ok" } else { "over capacity" }
        );
    }
    println!(
        "\ncapacity (highest rate sent in full with lag p99 < 1 ms): {:.0}/s (target >= 100,000/s: {})",
        best,
        if best >= 100_000.0 { "met" } else { "MISSED" }
    );
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// Creates (once) and returns a database for the benches on `admin`'s server.
async fn bench_db(admin: &str, pool: u32) -> Result<String> {
    let url = covet::DatabaseUrl::parse(admin)?;
    let db = covet::connect(&url).await?;
    let name = "covet_bench_loadtest";
    match url.engine() {
        Engine::Postgres => {
            let exists = db
                .query(&Statement::new("SELECT 1 FROM pg_database WHERE datname = $1").bind(name))
                .await?;
            if exists.is_empty() {
                db.execute(&Statement::new(format!("CREATE DATABASE {name}")))
                    .await?;
            }
        }
        _ => {
            db.execute(&Statement::new(format!(
                "CREATE DATABASE IF NOT EXISTS {name}"
            )))
            .await?;
        }
    }
    db.close().await;
    Ok(url
        .with_database(name)
        .with_param("max_connections", &pool.to_string())
        .expose())
}

async fn covet_run(
    url: &str,
    specs: Vec<covet_loadtest::StatementSpec>,
    rate: f64,
    secs: u64,
    arrival: Arrival,
) -> Result<Report> {
    let db = covet::connect(url).await?;
    let w =
        Workload::new("bench", specs, db.dialect(), 7).map_err(|e| Error::config(e.to_string()))?;
    let cfg = RunConfig {
        rate,
        duration: Duration::from_secs(secs),
        warmup: Duration::from_secs(2),
        arrival,
        max_in_flight: 4096,
        sample_memory: false,
        ..RunConfig::default()
    };
    let r = covet_loadtest::run(Arc::clone(&db), w, cfg)
        .await
        .map_err(|e| Error::config(e.to_string()))?;
    db.close().await;
    Ok(r)
}

/// Runs pgbench -R and returns (p50, p95, p99, transactions/s) of latency
/// from the scheduled start, in ms, dropping the first 2 s as warm-up.
fn pgbench(url: &str, rate: f64, secs: u64, dir: &Path) -> Option<(f64, f64, f64, f64)> {
    let script = dir.join("point_select.sql");
    std::fs::write(
        &script,
        "\\set id random(1, 10000)\nSELECT id, name, email, age FROM users WHERE id = :id;\n",
    )
    .ok()?;
    for f in std::fs::read_dir(dir).ok()?.flatten() {
        if f.file_name().to_string_lossy().starts_with("pgb.") {
            let _ = std::fs::remove_file(f.path());
        }
    }
    let conn = url.split('?').next().unwrap_or(url);
    let status = Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-c", "8", "-j", "2"])
        .args(["-R", &format!("{rate:.0}"), "-T", &(secs + 2).to_string()])
        .arg("-f")
        .arg(&script)
        .arg("-l")
        .arg(format!("--log-prefix={}", dir.join("pgb").display()))
        .arg(conn)
        .output()
        .ok()?;
    if !status.status.success() {
        eprintln!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
        return None;
    }
    let mut rows: Vec<(f64, f64)> = Vec::new();
    for f in std::fs::read_dir(dir).ok()?.flatten() {
        if !f.file_name().to_string_lossy().starts_with("pgb.") {
            continue;
        }
        for line in std::fs::read_to_string(f.path()).ok()?.lines() {
            let p: Vec<&str> = line.split_whitespace().collect();
            if p.len() >= 6 {
                let t: f64 = p[2].parse().unwrap_or(f64::NAN);
                let at =
                    p[4].parse::<f64>().unwrap_or(0.0) + p[5].parse::<f64>().unwrap_or(0.0) / 1e6;
                rows.push((at, t / 1e3));
            }
        }
    }
    let start = rows.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
    let mut lat: Vec<f64> = rows
        .iter()
        .filter(|r| r.0 >= start + 2.0)
        .map(|r| r.1)
        .collect();
    lat.sort_by(f64::total_cmp);
    Some((
        pct(&lat, 0.5),
        pct(&lat, 0.95),
        pct(&lat, 0.99),
        lat.len() as f64 / secs as f64,
    ))
}

/// A packet capture of one run on the loopback interface.
struct Capture {
    child: std::process::Child,
    file: std::path::PathBuf,
    port: u16,
}

/// Starts dumpcap on `lo` for TCP `port`, writing to `dir/tag.pcap`.
fn capture_start(dir: &Path, tag: &str, port: u16) -> Option<Capture> {
    let file = dir.join(format!("{tag}.pcap"));
    let _ = std::fs::remove_file(&file);
    let child = Command::new("dumpcap")
        .args(["-q", "-i", "lo", "-f", &format!("tcp port {port}"), "-w"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    // dumpcap needs a moment to open the interface; packets before that
    // are lost, and the warm-up is dropped anyway.
    std::thread::sleep(Duration::from_millis(500));
    Some(Capture { child, file, port })
}

/// Stops the capture and returns the latencies seen on the wire, in ms:
/// per connection, from the first client-to-server segment carrying data
/// to the first server-to-client segment carrying data after it. With one
/// statement in flight per connection (both tools here) that is the
/// server's time plus loopback transit, excluding everything either
/// client does before sending or after receiving. The first 2 s after the
/// first packet are dropped, as both tools drop their warm-up.
fn capture_stop(mut c: Capture) -> Option<Vec<f64>> {
    let _ = Command::new("kill")
        .args(["-INT", &c.child.id().to_string()])
        .status();
    let _ = c.child.wait();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&c.file)
        .args(["-T", "fields", "-E", "separator=,"])
        .args(["-e", "frame.time_epoch", "-e", "tcp.stream"])
        .args(["-e", "tcp.dstport", "-e", "tcp.len"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut pending: std::collections::HashMap<u64, f64> = std::collections::HashMap::new();
    let mut lat = Vec::new();
    let mut first = None;
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 4 {
            continue;
        }
        let (Ok(t), Ok(stream), Ok(dst), Ok(len)) = (
            f[0].parse::<f64>(),
            f[1].parse::<u64>(),
            f[2].parse::<u16>(),
            f[3].parse::<u64>(),
        ) else {
            continue;
        };
        let t0 = *first.get_or_insert(t);
        if len == 0 {
            continue;
        }
        if dst == c.port {
            pending.entry(stream).or_insert(t);
        } else if let Some(sent) = pending.remove(&stream)
            && sent >= t0 + 2.0
        {
            lat.push((t - sent) * 1e3);
        }
    }
    let _ = std::fs::remove_file(&c.file);
    lat.sort_by(f64::total_cmp);
    (!lat.is_empty()).then_some(lat)
}

async fn honesty(o: &Opts) {
    println!(
        "\n## 2. honesty check: covet loadtest vs pgbench -R (point_select, Poisson arrivals, 8 connections, prepared)\n"
    );
    let Ok(admin) = std::env::var("COVET_PG_URL") else {
        println!("skipped: COVET_PG_URL is not set");
        return;
    };
    if Command::new("pgbench").arg("--version").output().is_err() {
        println!("skipped: pgbench is not installed");
        return;
    }
    let url = match bench_db(&admin, 8).await {
        Ok(u) => u,
        Err(e) => return println!("skipped: {e}"),
    };
    let db = covet::connect(&url).await.expect("connect");
    let setup = ensure_dataset(&*db, &SetupOptions::default())
        .await
        .expect("setup");
    eprintln!("setup: {setup}");
    db.close().await;
    let dir = tempfile::tempdir().expect("tempdir");
    println!("| rate/s | tool | achieved/s | p50 ms | p95 ms | p99 ms |");
    println!("|---|---|---|---|---|---|");
    let port: u16 = covet::DatabaseUrl::parse(&url)
        .map(|u| u.port())
        .unwrap_or(5432);
    let wire = o.wire && Command::new("dumpcap").arg("--version").output().is_ok();
    if o.wire && !wire {
        println!("(--wire ignored: dumpcap is not installed; Debian package tshark)");
    }
    let mut ratios = Vec::new();
    let mut wire_rows = Vec::new();
    for rate in [1_000.0, 5_000.0] {
        let (mut c, mut p) = (Vec::new(), Vec::new());
        let (mut cw, mut pw) = (Vec::new(), Vec::new());
        let quartet = |v: &[f64], n: f64| (pct(v, 0.5), pct(v, 0.95), pct(v, 0.99), n);
        for _ in 0..o.rounds {
            let cap = wire
                .then(|| capture_start(dir.path(), "covet", port))
                .flatten();
            let r = covet_run(&url, point_select(1.0), rate, o.secs, Arrival::Poisson)
                .await
                .expect("covet run");
            if let Some(w) = cap.and_then(capture_stop) {
                cw.push(quartet(&w, w.len() as f64 / o.secs as f64));
            }
            let l = r.overall.latency;
            c.push((l.p50_ms, l.p95_ms, l.p99_ms, r.summary.achieved_rate));
            let cap = wire
                .then(|| capture_start(dir.path(), "pgbench", port))
                .flatten();
            let x = pgbench(&url, rate, o.secs, dir.path());
            if let Some(w) = cap.and_then(capture_stop) {
                pw.push(quartet(&w, w.len() as f64 / o.secs as f64));
            }
            if let Some(x) = x {
                p.push(x);
            }
        }
        if !cw.is_empty() && !pw.is_empty() {
            wire_rows.push((rate, cw, pw));
        }
        let m = |v: &Vec<(f64, f64, f64, f64)>, k: usize| {
            median(v.iter().map(|t| [t.0, t.1, t.2, t.3][k]).collect())
        };
        println!(
            "| {rate:.0} | covet | {:.0} | {:.3} | {:.3} | {:.3} |",
            m(&c, 3),
            m(&c, 0),
            m(&c, 1),
            m(&c, 2)
        );
        if p.is_empty() {
            println!("| {rate:.0} | pgbench | failed | | | |");
            continue;
        }
        println!(
            "| {rate:.0} | pgbench -R | {:.0} | {:.3} | {:.3} | {:.3} |",
            m(&p, 3),
            m(&p, 0),
            m(&p, 1),
            m(&p, 2)
        );
        let r: Vec<f64> = (0..3).map(|k| m(&c, k) / m(&p, k)).collect();
        println!(
            "| {rate:.0} | covet / pgbench | | {:.2} | {:.2} | {:.2} |",
            r[0], r[1], r[2]
        );
        ratios.extend(r);
    }
    if !wire_rows.is_empty() {
        println!(
            "\n### on the wire (dumpcap on lo: request segment to first response segment, per connection)\n"
        );
        println!("| rate/s | run of | statements/s seen | p50 ms | p95 ms | p99 ms |");
        println!("|---|---|---|---|---|---|");
        for (rate, cw, pw) in &wire_rows {
            let m = |v: &Vec<(f64, f64, f64, f64)>, k: usize| {
                median(v.iter().map(|t| [t.0, t.1, t.2, t.3][k]).collect())
            };
            for (tool, v) in [("covet", cw), ("pgbench -R", pw)] {
                println!(
                    "| {rate:.0} | {tool} | {:.0} | {:.3} | {:.3} | {:.3} |",
                    m(v, 3),
                    m(v, 0),
                    m(v, 1),
                    m(v, 2)
                );
            }
        }
    }
    let worst = ratios.iter().map(|r| (r - 1.0).abs()).fold(0.0, f64::max);
    println!(
        "\nlargest difference from pgbench: {:.0}% (target within 15%: {}); medians of {} round(s) of {} s",
        worst * 100.0,
        if worst <= 0.15 { "met" } else { "MISSED" },
        o.rounds,
        o.secs
    );
}

async fn seed(o: &Opts) {
    println!(
        "\n## 3. seed targets: the seed mix, p95 < 10 ms (open loop, constant rate, 32 connections)\n"
    );
    println!(
        "| backend | target/s | completed/s | errors | late | p50 ms | p95 ms | p99 ms | max ms | service p95 ms | slowest statement p95 | p95 < 10 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (name, var) in [
        ("postgresql", "COVET_PG_URL"),
        ("mariadb", "COVET_MYSQL_URL"),
    ] {
        let Ok(admin) = std::env::var(var) else {
            println!("| {name} | skipped: {var} not set | | | | | | | | | | |");
            continue;
        };
        let url = match bench_db(&admin, 32).await {
            Ok(u) => u,
            Err(e) => {
                println!("| {name} | skipped: {e} | | | | | | | | | | |");
                continue;
            }
        };
        let db = covet::connect(&url).await.expect("connect");
        let setup = ensure_dataset(&*db, &SetupOptions::default())
            .await
            .expect("setup");
        eprintln!("{name} setup: {setup}");
        db.close().await;
        for rate in [1_000.0, 5_000.0, 10_000.0] {
            let r = match covet_run(&url, seed_mix(1.0), rate, o.secs, Arrival::Constant).await {
                Ok(r) => r,
                Err(e) => {
                    println!("| {name} | {rate:.0} | failed: {e} | | | | | | | | | |");
                    continue;
                }
            };
            let l = r.overall.latency;
            let slowest = r
                .statements
                .iter()
                .max_by(|a, b| a.latency.p95_ms.total_cmp(&b.latency.p95_ms))
                .map(|s| format!("{} {:.2}", s.name, s.latency.p95_ms))
                .unwrap_or_default();
            println!(
                "| {name} | {rate:.0} | {:.0} | {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2} | {} | {} |",
                r.summary.achieved_rate,
                r.summary.errors,
                r.summary.late,
                l.p50_ms,
                l.p95_ms,
                l.p99_ms,
                l.max_ms,
                r.overall.service.p95_ms,
                slowest,
                if l.p95_ms < 10.0 { "met" } else { "MISSED" }
            );
            if !r.errors.is_empty() {
                for e in &r.errors {
                    eprintln!(
                        "  {name} {rate:.0}/s errors: {} x{} e.g. {}",
                        e.kind, e.count, e.example
                    );
                }
            }
        }
    }
}

fn main() {
    let o = opts();
    println!(
        "# covet loadtest benchmark ({} s database runs, {} s capacity runs)",
        o.secs, o.capacity_secs
    );
    if wanted(&o, "capacity") {
        capacity(&o);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if wanted(&o, "honesty") {
        rt.block_on(honesty(&o));
    }
    if wanted(&o, "seed") {
        rt.block_on(seed(&o));
    }
}
