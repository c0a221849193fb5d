//! `cargo xtask loadtest`: covet loadtest next to `pgbench -R` (PostgreSQL)
//! and `sysbench --rate` (MariaDB) on the seed mix, same SQL, same tables,
//! same connections, same TLS, same durations, and one table of the results.
//!
//! For each backend (COVET_PG_URL, COVET_MYSQL_URL) and each rate: covet
//! (open loop, Poisson arrivals as pgbench and sysbench schedule theirs),
//! then the competitor at the same rate. Then a closed-loop maximum
//! throughput row per tool (`covet --closed-loop N`, pgbench without `-R`,
//! `sysbench --rate=0`), and the highest rate each tool keeps at
//! p95 < 10 ms: `covet loadtest --find-max`, and the same doubling and
//! bisection run here with short pgbench / sysbench runs.
//!
//! The competitor scripts run the seed mix's SQL (crates/covet-loadtest/
//! src/workload.rs) with the same weights (80/15/5) and parameters drawn
//! from the same ranges; write_user's name is digits (pgbench has no string
//! generator) and its timestamp the server's `now`. Latency is from the
//! scheduled start for covet and pgbench (pgbench's per-transaction log with
//! `-R`); sysbench's histogram is what sysbench measures. The warm-up is
//! cut from pgbench's log by completion time and from sysbench's figures by
//! a report checkpoint.
//!
//! Options:
//!   --duration 60s        measured time per run
//!   --warmup 5s           warm-up per run
//!   --rates 1000,5000,10000
//!   --backends pg,mysql
//!   --connections 32      covet's pool, pgbench's clients, sysbench's threads
//!   --parts open,closed,findmax
//!   --step 10s            find-max step duration (after --step-warmup 2s)
//!   --out target/loadtest
//!
//! Never part of CI: it needs quiet cores (run it on a quiet machine).
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{Result, cargo};

/// The latency objective of the find-max rows.
const SLO_P95_MS: f64 = 10.0;

/// Users at scale 1 (covet-loadtest's `users_for_scale(1.0)`): the range of
/// complex_join's first id is 1..=USERS-99.
const USERS: u64 = 10_000;

#[derive(Debug, Clone, PartialEq)]
struct Opts {
    duration: u64,
    warmup: u64,
    rates: Vec<u64>,
    backends: Vec<String>,
    connections: usize,
    parts: Vec<String>,
    step: u64,
    step_warmup: u64,
    out: PathBuf,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            duration: 60,
            warmup: 5,
            rates: vec![1_000, 5_000, 10_000],
            backends: vec!["pg".into(), "mysql".into()],
            connections: 32,
            parts: vec!["open".into(), "closed".into(), "findmax".into()],
            step: 10,
            step_warmup: 2,
            out: PathBuf::from("target/loadtest"),
        }
    }
}

/// `60s`, `2m`, `90` (seconds), whole seconds.
fn secs(s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mul) = if let Some(n) = t.strip_suffix('m') {
        (n, 60)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1)
    } else {
        (t, 1)
    };
    num.parse::<u64>()
        .map(|n| n * mul)
        .map_err(|_| format!("`{s}` is not a duration in whole seconds (e.g. 60s, 2m)"))
}

fn parse_opts(args: &[String]) -> Result<Opts> {
    let mut o = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--duration" => o.duration = secs(&val()?)?,
            "--warmup" => o.warmup = secs(&val()?)?,
            "--step" => o.step = secs(&val()?)?,
            "--step-warmup" => o.step_warmup = secs(&val()?)?,
            "--rates" => {
                o.rates = val()?
                    .split(',')
                    .map(|r| {
                        r.trim()
                            .parse()
                            .ok()
                            .filter(|r| *r > 0)
                            .ok_or(format!("bad rate `{r}`"))
                    })
                    .collect::<Result<Vec<u64>>>()?;
            }
            "--backends" => o.backends = val()?.split(',').map(str::to_string).collect(),
            "--connections" => {
                let v = val()?;
                o.connections = v
                    .parse()
                    .ok()
                    .filter(|c| *c > 0)
                    .ok_or(format!("bad connection count `{v}`"))?;
            }
            "--parts" => {
                o.parts = val()?.split(',').map(str::to_string).collect();
                if let Some(p) = o
                    .parts
                    .iter()
                    .find(|p| !["open", "closed", "findmax"].contains(&p.as_str()))
                {
                    return Err(format!("unknown part `{p}` (open, closed, findmax)"));
                }
            }
            "--out" => o.out = PathBuf::from(val()?),
            other => {
                return Err(format!(
                    "unknown option `{other}` (expected --duration, --warmup, --rates, --backends, --connections, --parts, --step, --step-warmup, --out)"
                ));
            }
        }
    }
    if o.duration == 0 {
        return Err("--duration must be at least 1s".into());
    }
    Ok(o)
}

/// One row of the table.
#[derive(Debug, Clone, Default, PartialEq)]
struct Figures {
    achieved: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    errors: u64,
    count: u64,
}

impl Figures {
    /// The find-max criterion: p95 under the objective, at least 95 % of
    /// the target completed, at most 1 % errors (covet's defaults).
    fn meets(&self, rate: u64) -> bool {
        self.count > 0
            && self.p95 < SLO_P95_MS
            && self.achieved >= rate as f64 * 0.95
            && self.errors as f64 <= self.count as f64 * 0.01
    }
}

struct Row {
    tool: &'static str,
    backend: &'static str,
    target: String,
    fig: Option<Figures>,
    note: String,
}

/// A database URL's parts (the password is only ever put in the
/// environment or a 0600 file, never in argv).
#[derive(Debug, Clone, PartialEq)]
struct Conn {
    user: String,
    password: Option<String>,
    host: String,
    port: u16,
    database: String,
    params: Vec<(String, String)>,
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_url(url: &str, default_port: u16) -> Result<Conn> {
    let bad = || "the database URL is not scheme://user@host:port/database".to_string();
    let rest = url.split_once("://").ok_or_else(bad)?.1;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q),
        None => (rest, ""),
    };
    let (auth, hostpart) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => ("", rest),
    };
    let (user, password) = match auth.split_once(':') {
        Some((u, p)) => (pct_decode(u), Some(pct_decode(p))),
        None => (pct_decode(auth), None),
    };
    let (hostport, database) = hostpart.split_once('/').unwrap_or((hostpart, ""));
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
        None => (hostport.to_string(), default_port),
    };
    let params = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), pct_decode(v))
        })
        .collect();
    Ok(Conn {
        user,
        password,
        host: if host.is_empty() {
            "localhost".into()
        } else {
            host
        },
        port,
        database: database.to_string(),
        params,
    })
}

impl Conn {
    fn param(&self, k: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
}

fn with_pool(url: &str, connections: usize) -> String {
    if url.contains("max_connections=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&max_connections={connections}")
    } else {
        format!("{url}?max_connections={connections}")
    }
}

/// The value at quantile `q` of `sorted` (ascending).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Figures from pgbench's per-transaction log lines
/// (`client txn latency_us script epoch us [lag_us]`): transactions that
/// completed in the first `warmup` seconds are left out.
fn pgbench_figures(lines: &[String], warmup: u64, measured: u64, failed: u64) -> Figures {
    let parsed: Vec<(f64, f64)> = lines
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let lat: f64 = f.get(2)?.parse().ok()?;
            let epoch: f64 = f.get(4)?.parse().ok()?;
            let us: f64 = f.get(5)?.parse().ok()?;
            Some((epoch + us / 1e6, lat / 1e3))
        })
        .collect();
    let start = parsed
        .iter()
        .map(|(t, lat)| t - lat / 1e3)
        .fold(f64::INFINITY, f64::min);
    let from = start + warmup as f64;
    let mut lat: Vec<f64> = parsed
        .iter()
        .filter(|(t, _)| *t >= from)
        .map(|(_, l)| *l)
        .collect();
    lat.sort_by(f64::total_cmp);
    Figures {
        achieved: lat.len() as f64 / measured as f64,
        p50: quantile(&lat, 0.50),
        p95: quantile(&lat, 0.95),
        p99: quantile(&lat, 0.99),
        errors: failed,
        count: lat.len() as u64 + failed,
    }
}

/// Figures from sysbench's final report (after the last checkpoint):
/// the transactions line, ignored errors and the latency histogram.
fn sysbench_figures(out: &str) -> Option<Figures> {
    let last = |key: &str| out.lines().rev().find(|l| l.trim_start().starts_with(key));
    let tx = last("transactions:")?;
    let count: u64 = tx.split_whitespace().nth(1)?.parse().ok()?;
    let achieved: f64 = tx
        .split('(')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let errors: u64 = last("ignored errors:")
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let hist_at = out.rfind("Latency histogram")?;
    let mut buckets: Vec<(f64, u64)> = Vec::new();
    for l in out[hist_at..].lines().skip(2) {
        let Some((v, rest)) = l.split_once('|') else {
            break;
        };
        let (Ok(v), Some(Ok(n))) = (
            v.trim().parse::<f64>(),
            rest.split_whitespace().last().map(str::parse::<u64>),
        ) else {
            break;
        };
        buckets.push((v, n));
    }
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    let q = |q: f64| {
        let want = (q * total as f64).ceil() as u64;
        let mut acc = 0;
        for (v, n) in &buckets {
            acc += n;
            if acc >= want.max(1) {
                return *v;
            }
        }
        0.0
    };
    Some(Figures {
        achieved,
        p50: q(0.50),
        p95: q(0.95),
        p99: q(0.99),
        errors,
        count: count + errors,
    })
}

/// The `Aggregated` row of a covet loadtest CSV.
fn covet_csv(csv: &str) -> Option<Figures> {
    let header: Vec<&str> = csv.lines().next()?.split(',').collect();
    let row: Vec<&str> = csv
        .lines()
        .find(|l| l.split(',').nth(1) == Some("Aggregated"))?
        .split(',')
        .collect();
    let col = |name: &str| -> Option<f64> {
        let i = header.iter().position(|h| *h == name)?;
        row.get(i)?.parse().ok()
    };
    Some(Figures {
        achieved: col("Requests/s")?,
        p50: col("50%")?,
        p95: col("95%")?,
        p99: col("99%")?,
        errors: col("Failure Count")? as u64,
        count: col("Request Count")? as u64,
    })
}

/// `"max_rate": 1234.0` in covet's find-max JSON (`null` when none).
fn covet_max_rate(json: &str) -> Option<f64> {
    let at = json.find("\"max_rate\":")?;
    json[at + 11..]
        .trim_start()
        .split([',', '\n'])
        .next()?
        .trim()
        .parse()
        .ok()
}

/// One step of a search: rate, figures, whether it met the objective.
type Step = (u64, Figures, bool);

/// The find-max search: double from `start` while `step` meets the
/// objective, halve while it misses from the start, then bisect to within
/// 5 %, whole rates, at most 30 steps (covet's `find_max` defaults).
fn search(
    start: u64,
    max: u64,
    mut step: impl FnMut(u64) -> Result<Figures>,
) -> Result<(Option<u64>, Vec<Step>)> {
    let (mut lo, mut hi): (Option<u64>, Option<u64>) = (None, None);
    let mut steps = Vec::new();
    let mut rate = start;
    while steps.len() < 30 {
        let f = step(rate)?;
        let ok = f.meets(rate);
        steps.push((rate, f, ok));
        if ok {
            lo = Some(rate);
        } else {
            hi = Some(rate);
        }
        let next = match (lo, hi) {
            (Some(l), None) if l >= max => break,
            (Some(l), None) => (l * 2).min(max),
            (None, Some(h)) if h <= 1 => break,
            (None, Some(h)) => (h / 2).max(1),
            (Some(l), Some(h)) if (h - l) as f64 <= 0.05 * l as f64 => break,
            (Some(l), Some(h)) => (l + h) / 2,
            (None, None) => break,
        };
        if Some(next) == lo || Some(next) == hi {
            break;
        }
        rate = next;
    }
    Ok((lo, steps))
}

const PG_READ: &str = "\\set age 18\n\
SELECT id, name, email, age FROM users WHERE age > :age LIMIT 100;\n";
const PG_WRITE: &str = "\\set seq :seq + 1\n\
\\set name random(10000, 99999999999999999)\n\
\\set email :run * 1000000000 + :client_id * 10000000 + :seq\n\
\\set age random(10, 80)\n\
INSERT INTO users (name, email, age, created_at) VALUES (:name, :email, :age, :ts);\n";

fn pg_join() -> String {
    format!(
        "\\set lo random(1, {})\n\
SELECT u.id, u.name, COUNT(p.id) AS post_count FROM users u \
LEFT JOIN posts p ON p.user_id = u.id WHERE u.id BETWEEN :lo AND :lo + 99 \
GROUP BY u.id, u.name HAVING COUNT(p.id) > 10;\n",
        USERS - 99
    )
}

fn sysbench_lua(run: u64) -> String {
    format!(
        r#"-- The covet loadtest seed mix for sysbench: the same SQL, weights
-- (80/15/5) and parameter ranges. Written by cargo xtask loadtest.
local con, read, write, join, rp, wp, jp
local n = 0

function thread_init()
  local drv = sysbench.sql.driver()
  con = drv:connect()
  read = con:prepare("SELECT id, name, email, age FROM users WHERE age > ? LIMIT 100")
  rp = read:bind_create(sysbench.sql.type.INT)
  read:bind_param(rp)
  rp:set(18)
  write = con:prepare("INSERT INTO users (name, email, age, created_at) VALUES (?, ?, ?, ?)")
  wp = {{ write:bind_create(sysbench.sql.type.VARCHAR, 100),
         write:bind_create(sysbench.sql.type.VARCHAR, 255),
         write:bind_create(sysbench.sql.type.INT),
         write:bind_create(sysbench.sql.type.VARCHAR, 32) }}
  write:bind_param(unpack(wp))
  join = con:prepare("SELECT u.id, u.name, COUNT(p.id) AS post_count FROM users u LEFT JOIN posts p ON p.user_id = u.id WHERE u.id BETWEEN ? AND ? + 99 GROUP BY u.id, u.name HAVING COUNT(p.id) > 10")
  jp = {{ join:bind_create(sysbench.sql.type.BIGINT), join:bind_create(sysbench.sql.type.BIGINT) }}
  join:bind_param(unpack(jp))
end

function thread_done()
  read:close()
  write:close()
  join:close()
  con:disconnect()
end

function event()
  local r = sysbench.rand.uniform(1, 100)
  if r <= 80 then
    read:execute()
  elseif r <= 95 then
    n = n + 1
    wp[1]:set(sysbench.rand.string(string.rep("@", sysbench.rand.uniform(5, 20))))
    wp[2]:set(string.format("sb{run}-%d-%d@loadtest.example", sysbench.tid, n))
    wp[3]:set(sysbench.rand.uniform(10, 80))
    wp[4]:set(os.date("!%Y-%m-%d %H:%M:%S"))
    write:execute()
  else
    local lo = sysbench.rand.uniform(1, {last})
    jp[1]:set(lo)
    jp[2]:set(lo)
    join:execute()
  end
end
"#,
        last = USERS - 99
    )
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// One pgbench run of `warmup + measured` seconds; `rate` None is closed
/// loop.
fn pgbench(
    c: &Conn,
    dir: &Path,
    rate: Option<u64>,
    warmup: u64,
    measured: u64,
    conns: usize,
) -> Result<Figures> {
    write(&dir.join("read_users.sql"), PG_READ)?;
    write(&dir.join("write_user.sql"), PG_WRITE)?;
    write(&dir.join("complex_join.sql"), &pg_join())?;
    let tag = format!("log_{}", now_secs());
    let mut cmd = Command::new("pgbench");
    cmd.args(["-n", "-M", "prepared", "-c", &conns.to_string(), "-j", "2"])
        .args(["-T", &(warmup + measured).to_string()])
        .arg("-l")
        .arg(format!("--log-prefix={}", dir.join(&tag).display()))
        .args([
            "-D",
            &format!("run={}", now_secs()),
            "-D",
            "seq=0",
            "-D",
            "ts=now",
        ])
        .arg("-f")
        .arg(format!("{}@80", dir.join("read_users.sql").display()))
        .arg("-f")
        .arg(format!("{}@15", dir.join("write_user.sql").display()))
        .arg("-f")
        .arg(format!("{}@5", dir.join("complex_join.sql").display()))
        .env("PGHOST", &c.host)
        .env("PGPORT", c.port.to_string())
        .env("PGUSER", &c.user)
        .env("PGDATABASE", &c.database)
        // covet's default is prefer, as libpq's; the URL's sslmode wins.
        .env("PGSSLMODE", c.param("sslmode").unwrap_or("prefer"));
    if let Some(r) = rate {
        cmd.args(["-R", &r.to_string()]);
    }
    if let Some(p) = &c.password {
        cmd.env("PGPASSWORD", p);
    }
    eprintln!(
        "$ pgbench -M prepared -c {conns} -j 2 -T {} {}",
        warmup + measured,
        rate.map_or("(closed loop)".into(), |r| format!("-R {r}"))
    );
    let out = cmd.output().map_err(|e| format!("running pgbench: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed = stdout
        .lines()
        .find(|l| l.starts_with("number of failed transactions"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if !out.status.success() {
        return Err(format!(
            "pgbench failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))? {
        let Ok(e) = e else { continue };
        if e.file_name().to_string_lossy().starts_with(&tag) {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            lines.extend(text.lines().map(str::to_string));
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(pgbench_figures(&lines, warmup, measured, failed))
}

/// One sysbench run; `rate` 0 is closed loop. Connection options go in a
/// 0600 config file so the password never reaches argv.
fn sysbench(
    c: &Conn,
    dir: &Path,
    rate: u64,
    warmup: u64,
    measured: u64,
    conns: usize,
) -> Result<Figures> {
    let script = dir.join("seed_mix.lua");
    write(&script, &sysbench_lua(now_secs()))?;
    let ssl = match c.param("sslmode").or(c.param("ssl-mode")) {
        Some(m) if m.eq_ignore_ascii_case("disable") || m.eq_ignore_ascii_case("disabled") => "off",
        // covet's default is preferred: TLS when the server offers it.
        _ => "on",
    };
    let mut cfg = format!(
        "db-driver=mysql\nmysql-host={}\nmysql-port={}\nmysql-user={}\nmysql-db={}\nmysql-ssl={ssl}\n",
        c.host, c.port, c.user, c.database
    );
    if let Some(p) = &c.password {
        let _ = writeln!(cfg, "mysql-password={p}");
    }
    let cfg_path = dir.join("sysbench.cfg");
    {
        use std::io::Write as _;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let mut f = o
            .open(&cfg_path)
            .map_err(|e| format!("writing {}: {e}", cfg_path.display()))?;
        f.write_all(cfg.as_bytes())
            .map_err(|e| format!("writing {}: {e}", cfg_path.display()))?;
    }
    let mut cmd = Command::new("sysbench");
    cmd.arg(format!("--config-file={}", cfg_path.display()))
        .arg(&script)
        .arg(format!("--threads={conns}"))
        .arg(format!("--rate={rate}"))
        .arg(format!("--time={}", warmup + measured))
        .arg("--histogram=on")
        .arg("--report-interval=0");
    if warmup > 0 {
        // Counters are reset at the checkpoint: the final report covers the
        // measured part only.
        cmd.arg(format!("--report-checkpoints={warmup}"));
    }
    cmd.arg("run");
    eprintln!(
        "$ sysbench seed_mix.lua --threads={conns} --rate={rate} --time={}",
        warmup + measured
    );
    let out = cmd.output().map_err(|e| format!("running sysbench: {e}"))?;
    let _ = std::fs::remove_file(&cfg_path);
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "sysbench failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    sysbench_figures(&stdout).ok_or_else(|| "sysbench printed no report".to_string())
}

/// One covet loadtest run; returns its figures (from the CSV).
fn covet(url: &str, dir: &Path, name: &str, args: &[String]) -> Result<Figures> {
    let csv = dir.join(format!("{name}.csv"));
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
    .args(["--db", url, "--progress", "plain"])
    .args(args)
    .arg("--csv")
    .arg(&csv)
    .arg("--json")
    .arg(dir.join(format!("{name}.json")))
    .arg("--html")
    .arg(dir.join(format!("{name}.html")));
    eprintln!("\n== covet loadtest {}", args.join(" "));
    let status = c
        .status()
        .map_err(|e| format!("running covet loadtest: {e}"))?;
    let fig = std::fs::read_to_string(&csv)
        .ok()
        .and_then(|t| covet_csv(&t));
    match (status.code(), fig) {
        // 4: an objective missed (find-max found nothing), 5: too many
        // errors; the figures still stand.
        (Some(0 | 4 | 5), Some(f)) => Ok(f),
        (code, _) => Err(format!("covet loadtest failed (exit {code:?})")),
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "-".into()
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| tool | backend | target/s | achieved/s | p50 ms | p95 ms | p99 ms | errors | covet/competitor: achieved, p50, p95, p99 | note |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let cmp = rows
            .iter()
            .find(|o| o.tool != "covet" && o.backend == r.backend && o.target == r.target);
        let ratios = match (r.tool, &r.fig, cmp.and_then(|c| c.fig.as_ref())) {
            ("covet", Some(a), Some(b)) => format!(
                "{}, {}, {}, {}",
                ratio(a.achieved, b.achieved),
                ratio(a.p50, b.p50),
                ratio(a.p95, b.p95),
                ratio(a.p99, b.p99)
            ),
            _ => String::new(),
        };
        match &r.fig {
            Some(f) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.1} | {:.3} | {:.3} | {:.3} | {} | {} | {} |",
                    r.tool,
                    r.backend,
                    r.target,
                    f.achieved,
                    f.p50,
                    f.p95,
                    f.p99,
                    f.errors,
                    ratios,
                    r.note
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | - | - | - | - | - | | {} |",
                    r.tool, r.backend, r.target, r.note
                );
            }
        }
    }
    out
}

pub(crate) fn run(args: &[String]) -> Result {
    let o = parse_opts(args)?;
    let mut build = cargo();
    build.args(["build", "--release", "-q", "-p", "covet-cli"]);
    crate::util::run(build)?;
    let part = |p: &str| o.parts.iter().any(|x| x == p);
    let (dur, warm) = (o.duration.to_string() + "s", o.warmup.to_string() + "s");
    let mut rows: Vec<Row> = Vec::new();
    let push = |rows: &mut Vec<Row>, tool, backend, target: String, r: Result<Figures>| {
        let (fig, note) = match r {
            Ok(f) => (Some(f), String::new()),
            Err(e) => {
                eprintln!("{tool} {backend} {target}: {e}");
                (
                    None,
                    e.lines().next().unwrap_or("").chars().take(120).collect(),
                )
            }
        };
        rows.push(Row {
            tool,
            backend,
            target,
            fig,
            note,
        });
    };
    for backend in &o.backends {
        let (var, name, tool, port): (_, &'static str, &'static str, u16) = match backend.as_str() {
            "pg" | "postgres" => ("COVET_PG_URL", "postgresql", "pgbench", 5432),
            "mysql" | "mariadb" => ("COVET_MYSQL_URL", "mariadb", "sysbench", 3306),
            other => return Err(format!("unknown backend `{other}` (pg or mysql)")),
        };
        let Ok(url) = std::env::var(var) else {
            eprintln!("skipping {name}: {var} is not set");
            continue;
        };
        let conn = parse_url(&url, port)?;
        let covet_url = with_pool(&url, o.connections);
        let dir = o.out.join(name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let competitor = |rate: Option<u64>, warmup: u64, measured: u64| {
            if tool == "pgbench" {
                pgbench(&conn, &dir, rate, warmup, measured, o.connections)
            } else {
                sysbench(
                    &conn,
                    &dir,
                    rate.unwrap_or(0),
                    warmup,
                    measured,
                    o.connections,
                )
            }
        };
        if part("open") {
            for &rate in &o.rates {
                let args: Vec<String> = [
                    "--rate",
                    &rate.to_string(),
                    "--duration",
                    &dur,
                    "--warmup",
                    &warm,
                    "--arrival",
                    "poisson",
                ]
                .map(String::from)
                .to_vec();
                let r = covet(&covet_url, &dir, &format!("open_{rate}"), &args);
                push(&mut rows, "covet", name, rate.to_string(), r);
                let r = competitor(Some(rate), o.warmup, o.duration);
                push(&mut rows, tool, name, rate.to_string(), r);
            }
        }
        if part("closed") {
            let n = o.connections.to_string();
            let args: Vec<String> = ["--closed-loop", &n, "--duration", &dur, "--warmup", &warm]
                .map(String::from)
                .to_vec();
            let r = covet(&covet_url, &dir, "closed", &args);
            push(&mut rows, "covet", name, "closed loop".into(), r);
            let r = competitor(None, o.warmup, o.duration);
            push(&mut rows, tool, name, "closed loop".into(), r);
        }
        if part("findmax") {
            let target = format!("max at p95<{SLO_P95_MS}ms");
            let (step, sw) = (o.step.to_string() + "s", o.step_warmup.to_string() + "s");
            let args: Vec<String> = [
                "--find-max",
                "--slo",
                "p95<10ms",
                "--rate",
                "500",
                "--step-duration",
                &step,
                "--warmup",
                &sw,
            ]
            .map(String::from)
            .to_vec();
            let r = covet(&covet_url, &dir, "findmax", &args).and_then(|best| {
                let json = std::fs::read_to_string(dir.join("findmax.json"))
                    .map_err(|e| format!("reading covet's find-max JSON: {e}"))?;
                let max = covet_max_rate(&json).ok_or("covet found no rate meeting p95<10ms")?;
                Ok(Figures {
                    achieved: max,
                    ..best
                })
            });
            push(&mut rows, "covet", name, target.clone(), r);
            let r = search(500, 1_000_000, |rate| {
                let f = competitor(Some(rate), o.step_warmup, o.step)?;
                eprintln!(
                    "  {tool} {rate}/s: done {:.1}/s p95 {:.3} ms errors {}: {}",
                    f.achieved,
                    f.p95,
                    f.errors,
                    if f.meets(rate) { "met" } else { "missed" }
                );
                Ok(f)
            })
            .and_then(|(max, steps)| {
                let max = max.ok_or(format!("{tool} met p95<10ms at no rate tried"))?;
                let (_, f, _) = steps
                    .into_iter()
                    .find(|(r, _, ok)| *r == max && *ok)
                    .ok_or("lost the best step")?;
                Ok(Figures {
                    achieved: max as f64,
                    ..f
                })
            });
            push(&mut rows, tool, name, target, r);
        }
    }
    let t = table(&rows);
    println!(
        "\n{} s measured after {} s warm-up per run, {} connections; find-max steps {} s after {} s; achieved of a find-max row is the highest rate that met p95 < 10 ms\n\n{t}",
        o.duration, o.warmup, o.connections, o.step, o.step_warmup
    );
    std::fs::create_dir_all(&o.out).map_err(|e| format!("creating {}: {e}", o.out.display()))?;
    write(&o.out.join("comparison.md"), &t)?;
    eprintln!(
        "files: {}/<backend>/ and {}/comparison.md",
        o.out.display(),
        o.out.display()
    );
    if rows.iter().any(|r| r.fig.is_none()) {
        return Err("some runs failed (see the note column)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_reject_mistakes() {
        let a: Vec<String> = [
            "--duration",
            "3s",
            "--rates",
            "1000,5000",
            "--connections",
            "8",
            "--parts",
            "open,findmax",
            "--step",
            "2s",
        ]
        .map(String::from)
        .to_vec();
        let o = parse_opts(&a).unwrap();
        assert_eq!(
            (o.duration, o.rates.clone(), o.connections),
            (3, vec![1000, 5000], 8)
        );
        assert_eq!(o.parts, ["open", "findmax"]);
        assert_eq!(o.step, 2);
        assert_eq!(
            parse_opts(&["--duration".into(), "2m".into()])
                .unwrap()
                .duration,
            120
        );
        for bad in [
            &["--rates", "0"][..],
            &["--rates", "fast"],
            &["--connections", "0"],
            &["--parts", "everything"],
            &["--duration", "0s"],
            &["--frobnicate"],
            &["--duration"],
        ] {
            let a: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            assert!(parse_opts(&a).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls_split_without_losing_the_password() {
        let c = parse_url(
            "postgres://app:p%40ss@db.local:6543/shop?sslmode=require",
            5432,
        )
        .unwrap();
        assert_eq!(c.user, "app");
        assert_eq!(c.password.as_deref(), Some("p@ss"));
        assert_eq!((c.host.as_str(), c.port), ("db.local", 6543));
        assert_eq!(c.database, "shop");
        assert_eq!(c.param("sslmode"), Some("require"));
        let c = parse_url("mysql://root@127.0.0.1/test", 3306).unwrap();
        assert_eq!((c.port, c.password.clone()), (3306, None));
    }

    #[test]
    fn pgbench_logs_drop_the_warm_up_and_give_percentiles() {
        // 100 transactions a second for 3 s; latency 1..=100 ms in each
        // second, except the first (warm-up) second at 500 ms.
        let mut lines = Vec::new();
        for s in 0..3u64 {
            for i in 0..100u64 {
                let lat_us = if s == 0 { 500_000 } else { (i + 1) * 1000 };
                let us = 600_000 + i * 1000;
                lines.push(format!("0 {i} {lat_us} 0 {} {us} 12", 1_700_000_000 + s));
            }
        }
        let f = pgbench_figures(&lines, 1, 2, 0);
        assert_eq!(f.count, 200);
        assert_eq!(f.achieved, 100.0);
        assert_eq!((f.p50, f.p95, f.p99), (50.0, 95.0, 99.0));
    }

    #[test]
    fn sysbench_reports_give_the_last_block() {
        let out = "\
SQL statistics:
    transactions:                        100    (10.00 per sec.)
Latency histogram (values are in milliseconds)
       value  ------------- distribution ------------- count
       9.000 |****                                     100

SQL statistics:
    transactions:                        1000   (500.50 per sec.)
    ignored errors:                      2      (0.00 per sec.)
Latency histogram (values are in milliseconds)
       value  ------------- distribution ------------- count
       1.000 |****                                     500
       2.000 |****                                     450
       5.000 |*                                        40
      20.000 |*                                        10

General statistics:
";
        let f = sysbench_figures(out).unwrap();
        assert_eq!(f.achieved, 500.5);
        assert_eq!(f.errors, 2);
        assert_eq!((f.p50, f.p95, f.p99), (1.0, 2.0, 5.0));
    }

    #[test]
    fn covet_outputs_parse() {
        let csv = "Type,Name,Request Count,Failure Count,Requests/s,50%,95%,99%\n\
                   postgresql,read_users,10,0,1.0,1,2,3\n\
                   ,Aggregated,1000,3,999.5,0.5,1.5,2.5\n";
        let f = covet_csv(csv).unwrap();
        assert_eq!((f.count, f.errors, f.achieved), (1000, 3, 999.5));
        assert_eq!((f.p50, f.p95, f.p99), (0.5, 1.5, 2.5));
        assert_eq!(
            covet_max_rate("{\n  \"objectives\": [],\n  \"max_rate\": 4000.0,\n"),
            Some(4000.0)
        );
        assert_eq!(covet_max_rate("{\"max_rate\": null,"), None);
    }

    #[test]
    fn the_search_finds_a_known_capacity() {
        // A tool that keeps p95 under 10 ms up to 3,300/s.
        let capacity = |rate: u64| {
            Ok(Figures {
                achieved: rate as f64,
                p95: if rate <= 3_300 { 2.0 } else { 50.0 },
                count: 1000,
                ..Figures::default()
            })
        };
        let (max, steps) = search(500, 1_000_000, capacity).unwrap();
        let max = max.unwrap();
        assert!((3_100..=3_300).contains(&max), "{max} {steps:?}");
        let rates: Vec<u64> = steps.iter().map(|s| s.0).collect();
        assert_eq!(&rates[..4], &[500, 1000, 2000, 4000]);
        // Starting above capacity halves down first.
        let (max, steps) = search(20_000, 1_000_000, capacity).unwrap();
        assert!((3_100..=3_300).contains(&max.unwrap()), "{steps:?}");
        assert_eq!(steps[1].0, 10_000);
    }
}
