//! Fingerprint grouping against the tools operators already use:
//! pt-fingerprint (percona-toolkit) for MySQL and MariaDB, and
//! pg_stat_statements' query ids on a private PostgreSQL 15.
//!
//! For every pair of corpus statements, "same group" under Covet's
//! fingerprints must equal "same group" under the oracle for at least 99%
//! of the pairs. The corpus is under `tests/corpus/` (see its README).
//! Without the oracle the test prints why and passes, unless
//! `COVET_REQUIRE_DB=1`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use covet_core::Engine;
use covet_monitor::fingerprint::{Fingerprinter, PgGrouping};

const TARGET: f64 = 0.99;

fn corpus(dialect: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dialect);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "sql")
                && p.file_name().is_some_and(|n| n != "schema.sql")
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read corpus");
        out.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with("-- "))
                .map(str::to_owned),
        );
    }
    out
}

fn require() -> bool {
    std::env::var("COVET_REQUIRE_DB").as_deref() == Ok("1")
}

fn skip(why: &str) {
    assert!(!require(), "{why}, and COVET_REQUIRE_DB=1");
    eprintln!("skipping: {why}");
}

/// Pair counts: (pairs, agreeing, grouped by both, grouped only by Covet,
/// grouped only by the oracle).
#[derive(Debug, Default)]
struct Agreement {
    pairs: u64,
    agree: u64,
    both: u64,
    ours_only: u64,
    oracle_only: u64,
}

impl Agreement {
    fn ratio(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let r = self.agree as f64 / self.pairs.max(1) as f64;
        r
    }
}

fn agreement(stmts: &[String], ours: &[String], oracle: &[String], label: &str) -> Agreement {
    let mut a = Agreement::default();
    let mut shown = 0;
    for i in 0..stmts.len() {
        for j in i + 1..stmts.len() {
            let o = ours[i] == ours[j];
            let t = oracle[i] == oracle[j];
            a.pairs += 1;
            if o == t {
                a.agree += 1;
                if o {
                    a.both += 1;
                }
            } else if o {
                a.ours_only += 1;
            } else {
                a.oracle_only += 1;
            }
            if o != t && shown < 12 {
                shown += 1;
                eprintln!(
                    "  {label} disagreement ({}):\n    {}\n    {}\n    ours: {} | {}\n    oracle: {} | {}",
                    if o {
                        "covet groups, oracle does not"
                    } else {
                        "oracle groups, covet does not"
                    },
                    stmts[i],
                    stmts[j],
                    ours[i],
                    ours[j],
                    oracle[i],
                    oracle[j]
                );
            }
        }
    }
    let groups = |v: &[String]| v.iter().collect::<std::collections::HashSet<_>>().len();
    println!(
        "{label}: {} statements, {} pairs, {} agree ({:.2}%); same group in both {}, only in covet {}, only in oracle {}; groups covet {}, oracle {}",
        stmts.len(),
        a.pairs,
        a.agree,
        100.0 * a.ratio(),
        a.both,
        a.ours_only,
        a.oracle_only,
        groups(ours),
        groups(oracle)
    );
    a
}

/// pt-fingerprint's own fingerprinting code, run over one statement per
/// line (the tool's file mode splits at `;` and drops statements that
/// start with a comment, so it is loaded as a library instead).
fn pt_fingerprints(stmts: &[String]) -> Option<Vec<String>> {
    let tool = Path::new("/usr/bin/pt-fingerprint");
    if !tool.exists() {
        return None;
    }
    let script = "require '/usr/bin/pt-fingerprint'; \
        my $qr = QueryRewriter->new(QueryParser => QueryParser->new()); \
        while (my $q = <STDIN>) { chomp $q; print $qr->fingerprint($q), \"\\n\"; }";
    let mut child = Command::new("perl")
        .args(["-e", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut input = String::new();
    for s in stmts {
        input.push_str(s);
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("pt-fingerprint");
    writer.join().expect("writer").expect("write");
    assert!(out.status.success(), "pt-fingerprint failed");
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lines.len(), stmts.len(), "one fingerprint per statement");
    Some(lines)
}

#[test]
fn mysql_grouping_agrees_with_pt_fingerprint() {
    let stmts = corpus("mysql");
    assert!(stmts.len() >= 300, "corpus has {} statements", stmts.len());
    let Some(oracle) = pt_fingerprints(&stmts) else {
        skip("pt-fingerprint is not installed (Debian package percona-toolkit)");
        return;
    };
    let fp = Fingerprinter::new(Some(Engine::MySql));
    let ours: Vec<String> = stmts.iter().map(|s| fp.fingerprint(s).text).collect();
    let a = agreement(&stmts, &ours, &oracle, "mysql vs pt-fingerprint");
    assert!(a.ratio() >= TARGET, "agreement {:.4} < {TARGET}", a.ratio());
}

/// A private PostgreSQL 15 with pg_stat_statements preloaded, stopped
/// (by its pid, through pg_ctl) when dropped.
struct PrivatePg {
    dir: tempfile::TempDir,
    port: u16,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn as_postgres(cmd: &str, args: &[&str]) -> Command {
    // initdb refuses to run as root: run the server's tools as postgres.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let exe = format!("{PG_BIN}/{cmd}");
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &exe]).args(args);
        c
    } else {
        let mut c = Command::new(exe);
        c.args(args);
        c
    }
}

impl PrivatePg {
    fn start() -> Result<PrivatePg, String> {
        if !Path::new(PG_BIN).join("initdb").exists() {
            return Err(format!("{PG_BIN}/initdb is missing"));
        }
        let dir = tempfile::Builder::new()
            .prefix("covet-pgss-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path().to_str().ok_or("temp path")?.to_owned();
        let _ = Command::new("chown").args(["postgres", &d]).status();
        let data = format!("{d}/data");
        let out = as_postgres("initdb", &["-D", &data, "-A", "trust", "-U", "postgres"])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{d}'\n\
             shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.max = 10000\n\
             fsync = off\n"
        );
        std::fs::OpenOptions::new()
            .append(true)
            .open(format!("{data}/postgresql.conf"))
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .map_err(|e| e.to_string())?;
        let pg = PrivatePg { dir, port };
        let log = format!("{d}/server.log");
        let st = as_postgres("pg_ctl", &["-D", &data, "-l", &log, "-w", "start"])
            .stdout(Stdio::null())
            .status()
            .map_err(|e| e.to_string())?;
        if !st.success() {
            return Err(format!(
                "pg_ctl start failed: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        Ok(pg)
    }

    /// Runs `script` through psql; its stdout.
    fn psql(&self, script: &str) -> String {
        let mut child = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-X", "-q", "-A", "-t"])
            .args(["-v", "ON_ERROR_STOP=0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psql");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = script.to_owned();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().expect("psql");
        writer.join().expect("writer").expect("write");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let data = format!("{}/data", self.dir.path().display());
        let _ = as_postgres("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Each statement's pg_stat_statements query id: run alone in a rolled
/// back transaction right after a reset; `None` when the server rejected
/// it before computing one.
fn pgss_query_ids(pg: &PrivatePg, stmts: &[String]) -> Vec<Option<String>> {
    let schema = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/postgres/schema.sql"),
    )
    .expect("schema");
    let mut script = String::from("CREATE EXTENSION pg_stat_statements;\n");
    script.push_str(&schema);
    for (k, s) in stmts.iter().enumerate() {
        script.push_str(&format!(
            "SELECT pg_stat_statements_reset() \\g /dev/null\nBEGIN;\n\\o /dev/null\n{s}\n;\n\\o\nROLLBACK;\n\\echo @@ {k}\n\
             SELECT queryid FROM pg_stat_statements WHERE query !~ 'pg_stat_statements' \
             AND query NOT IN ('BEGIN', 'ROLLBACK') ORDER BY queryid;\n"
        ));
    }
    let out = pg.psql(&script);
    let mut ids: Vec<Vec<String>> = vec![Vec::new(); stmts.len()];
    let mut cur: Option<usize> = None;
    for line in out.lines() {
        if let Some(k) = line.strip_prefix("@@ ") {
            cur = k.trim().parse().ok();
        } else if let Some(k) = cur
            && !line.trim().is_empty()
        {
            ids[k].push(line.trim().to_owned());
        }
    }
    ids.into_iter()
        .map(|v| (!v.is_empty()).then(|| v.join(",")))
        .collect()
}

#[test]
fn postgres_grouping_agrees_with_pg_stat_statements() {
    let all = corpus("postgres");
    assert!(all.len() >= 300, "corpus has {} statements", all.len());
    let pg = match PrivatePg::start() {
        Ok(pg) => pg,
        Err(why) => {
            skip(&format!(
                "no private PostgreSQL 15 with pg_stat_statements: {why}"
            ));
            return;
        }
    };
    let ids = pgss_query_ids(&pg, &all);
    drop(pg);
    let mut stmts = Vec::new();
    let mut oracle = Vec::new();
    let mut rejected = Vec::new();
    for (s, id) in all.iter().zip(ids) {
        match id {
            Some(id) => {
                stmts.push(s.clone());
                oracle.push(id);
            }
            None => rejected.push(s),
        }
    }
    println!(
        "postgres: {} of {} statements got a query id ({} rejected by the server)",
        stmts.len(),
        all.len(),
        rejected.len()
    );
    for r in &rejected {
        eprintln!("  rejected: {r}");
    }
    assert!(
        stmts.len() >= 300,
        "only {} statements measured",
        stmts.len()
    );
    let mut results = HashMap::new();
    for (name, grouping) in [
        ("query-id", PgGrouping::QueryId),
        ("shape (default)", PgGrouping::Shape),
    ] {
        let fp = Fingerprinter::new(Some(Engine::Postgres)).pg_grouping(grouping);
        let ours: Vec<String> = stmts.iter().map(|s| fp.fingerprint(s).text).collect();
        let a = agreement(
            &stmts,
            &ours,
            &oracle,
            &format!("postgres {name} vs pg_stat_statements"),
        );
        results.insert(name, a.ratio());
    }
    let q = results["query-id"];
    assert!(q >= TARGET, "query-id agreement {q:.4} < {TARGET}");
}
