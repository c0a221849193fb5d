//! `covet slow-queries --server`: the server's own statistics on a private
//! PostgreSQL 15 with pg_stat_statements preloaded, alone and joined with a
//! client slow log per fingerprint.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use support::{covet, run, server};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn as_postgres(cmd: &str, args: &[&str]) -> Command {
    // initdb refuses to run as root: run the server's tools as postgres.
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let exe = format!("{PG_BIN}/{cmd}");
    let mut c = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &exe]);
        c
    } else {
        Command::new(exe)
    };
    c.args(args);
    c
}

/// A private PostgreSQL with pg_stat_statements, stopped when dropped.
struct PrivatePg {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePg {
    fn start() -> Result<PrivatePg, String> {
        if !Path::new(PG_BIN).join("initdb").exists() {
            return Err(format!("{PG_BIN}/initdb is missing"));
        }
        let dir = tempfile::Builder::new()
            .prefix("covet-cli-pgss-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path().to_str().ok_or("temp path")?.to_owned();
        let _ = Command::new("chown").args(["postgres", &d]).status();
        let data = format!("{d}/data");
        let out = as_postgres("initdb", &["-D", &data, "-A", "trust", "-U", "postgres"])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("initdb: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{d}'\n\
             shared_preload_libraries = 'pg_stat_statements'\nfsync = off\n"
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
                "pg_ctl start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ));
        }
        Ok(pg)
    }

    fn psql(&self, sql: &str) {
        let st = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args([
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .stdout(Stdio::null())
            .status()
            .expect("psql runs");
        assert!(st.success(), "psql failed: {sql}");
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
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

fn fingerprint_id(sql: &str) -> String {
    let mut child = covet()
        .args(["fingerprint", "--dialect", "postgres", "--id"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("covet runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(sql.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("covet exits");
    String::from_utf8_lossy(&out.stdout)
        .split('\t')
        .next()
        .expect("an id")
        .to_owned()
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// One private server for every check (starting one takes seconds).
#[test]
fn server_statistics_alone_and_joined_with_the_slow_log() {
    let pg = match PrivatePg::start() {
        Ok(pg) => pg,
        Err(why) => {
            assert!(
                std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
                "no private PostgreSQL with pg_stat_statements: {why}"
            );
            eprintln!("skipping: no private PostgreSQL with pg_stat_statements: {why}");
            return;
        }
    };
    pg.psql("CREATE TABLE items (id int PRIMARY KEY, name text)");
    pg.psql("INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 1000) g");

    // Created in another database than the one asked about: unavailable.
    let (code, _, err) = run(covet().args(["slow-queries", "--server", "--db", &pg.url()]));
    assert_ne!(code, 0);
    assert!(err.contains("pg_stat_statements is not created"), "{err}");

    pg.psql("CREATE EXTENSION pg_stat_statements");
    pg.psql("SELECT pg_stat_statements_reset()");
    for i in 1..=7 {
        pg.psql(&format!("SELECT name FROM items WHERE id = {i}"));
    }
    pg.psql("SELECT count(*) FROM items a, items b WHERE a.id < b.id");

    let (code, out, err) = run(covet().args([
        "slow-queries",
        "--server",
        "--db",
        &pg.url(),
        "--json",
        "--by",
        "count",
    ]));
    assert_eq!(code, 0, "{err}");
    let rows = json(&out);
    let point = fingerprint_id("SELECT name FROM items WHERE id = 42");
    let row = rows
        .as_array()
        .expect("an array")
        .iter()
        .find(|r| r["fingerprint"] == point.as_str())
        .unwrap_or_else(|| panic!("no row for {point}: {out}"));
    assert_eq!(row["calls"], 7, "{row}");
    assert_eq!(row["text"], "select name from items where id = ?");
    assert!(!out.contains("pg_stat_statements_reset"), "{out}");

    let (code, table, err) =
        run(covet().args(["slow-queries", "--server", "--db", &pg.url(), "--top", "2"]));
    assert_eq!(code, 0, "{err}");
    assert!(table.starts_with("from pg_stat_statements on "), "{table}");
    assert!(
        table.contains("select count(*) from items a, items b"),
        "{table}"
    );

    // The client saw the point query slow (pool wait): joined, the time
    // outside the server shows.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("slow.jsonl");
    let mut f = std::fs::File::create(&log).expect("log");
    for ms in [120.0, 180.0] {
        writeln!(
            f,
            r#"{{"type":"query","ts_ms":1,"engine":"postgresql","fingerprint":"{point}","operation":"select","elapsed_ms":{ms},"text":"select name from items where id = ?"}}"#
        )
        .expect("write");
    }
    drop(f);
    let log = log.to_str().expect("utf-8 path");
    let (code, out, err) = run(covet().args([
        "slow-queries",
        "--server",
        "--db",
        &pg.url(),
        "--log",
        log,
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let rows = json(&out);
    let joined = rows
        .as_array()
        .expect("an array")
        .iter()
        .find(|r| r["fingerprint"] == point.as_str())
        .unwrap_or_else(|| panic!("no joined row: {out}"));
    assert_eq!(joined["client"]["calls"], 2, "{joined}");
    assert_eq!(joined["server"]["calls"], 7, "{joined}");
    let outside = joined["outside_server_ms"]
        .as_f64()
        .expect("outside_server_ms");
    assert!(outside > 100.0 && outside < 150.0, "{joined}");
    let (code, table, err) =
        run(covet().args(["slow-queries", "--server", "--db", &pg.url(), "--log", log]));
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("outside ms"), "{table}");
}

/// On the shared server the extension is not created in the test's
/// database: a plain message, not a crash, and no password printed.
#[test]
fn shared_server_without_the_extension_says_what_to_do() {
    let Some(url) = server("COVET_PG_URL") else {
        return;
    };
    let (code, _, err) = run(covet().args(["slow-queries", "--server", "--db", &url]));
    if code == 0 {
        return; // someone created it there; nothing to check
    }
    assert!(err.contains("pg_stat_statements"), "{err}");
}

#[test]
fn log_or_server_is_required() {
    let (code, _, err) = run(covet().args(["slow-queries"]));
    assert_eq!(code, 2, "{err}");
}

/// A private mariadbd with performance_schema on, killed by its pid when
/// dropped.
struct PrivateMariaDb {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivateMariaDb {
    fn start(performance_schema: bool) -> Result<PrivateMariaDb, String> {
        let dir = tempfile::Builder::new()
            .prefix("covet-cli-myps-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path().to_str().ok_or("temp path")?.to_owned();
        let st = Command::new("mariadb-install-db")
            .args([
                "--no-defaults",
                &format!("--datadir={d}/data"),
                "--user=root",
            ])
            .arg("--auth-root-authentication-method=normal")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("mariadb-install-db: {e}"))?;
        if !st.success() {
            return Err("mariadb-install-db failed".into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let ps = if performance_schema { "ON" } else { "OFF" };
        Command::new("mariadbd")
            .args([
                "--no-defaults",
                &format!("--datadir={d}/data"),
                &format!("--port={port}"),
            ])
            .args([
                "--bind-address=127.0.0.1",
                &format!("--socket={d}/s.sock"),
                "--user=root",
            ])
            .args([
                &format!("--pid-file={d}/pid"),
                &format!("--log-error={d}/err"),
            ])
            .arg(format!("--performance-schema={ps}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("mariadbd: {e}"))?;
        let db = PrivateMariaDb { dir, port };
        for _ in 0..100 {
            if db.try_sql("SELECT 1") {
                return Ok(db);
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        Err(format!(
            "mariadbd did not start: {}",
            std::fs::read_to_string(format!("{d}/err")).unwrap_or_default()
        ))
    }

    fn try_sql(&self, sql: &str) -> bool {
        let sock = format!("{}/s.sock", self.dir.path().display());
        Command::new("mariadb")
            .args(["-S", &sock, "-uroot", "-e", sql])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/app", self.port)
    }
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir.path().join("pid")).unwrap_or_default();
        if let Ok(pid) = pid.trim().parse::<u32>() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            for _ in 0..50 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// performance_schema digests on MariaDB: backticks and upper case fold
/// into the client's fingerprint; with performance_schema off, a message.
#[test]
fn mariadb_performance_schema_digests() {
    let db = match PrivateMariaDb::start(true) {
        Ok(db) => db,
        Err(why) => {
            assert!(
                std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
                "no private MariaDB with performance_schema: {why}"
            );
            eprintln!("skipping: no private MariaDB with performance_schema: {why}");
            return;
        }
    };
    assert!(db.try_sql(
        "CREATE DATABASE app; CREATE TABLE app.items (id INT PRIMARY KEY, name TEXT); \
         INSERT INTO app.items VALUES (1, 'a'), (2, 'b'), (3, 'c')"
    ));
    for i in 1..=5 {
        assert!(db.try_sql(&format!("SELECT name FROM app.items WHERE id = {i}")));
    }
    // Digests are per schema: run them with `app` as the default database.
    for i in 1..=4 {
        let sock = format!("{}/s.sock", db.dir.path().display());
        let ok = Command::new("mariadb")
            .args([
                "-S",
                &sock,
                "-uroot",
                "app",
                "-e",
                &format!("SELECT name FROM items WHERE id = {i}"),
            ])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok);
    }
    let (code, out, err) =
        run(covet().args(["slow-queries", "--server", "--db", &db.url(), "--json"]));
    assert_eq!(code, 0, "{err}");
    let mut child = covet()
        .args(["fingerprint", "--dialect", "mariadb", "--id"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("covet runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"SELECT name FROM items WHERE id = 9")
        .expect("write");
    let fp = String::from_utf8_lossy(&child.wait_with_output().expect("exit").stdout)
        .split('\t')
        .next()
        .expect("id")
        .to_owned();
    let rows = json(&out);
    let row = rows
        .as_array()
        .expect("an array")
        .iter()
        .find(|r| r["fingerprint"] == fp.as_str())
        .unwrap_or_else(|| panic!("no row for {fp}: {out}"));
    assert_eq!(row["calls"], 4, "{row}");
    assert!(row["total_ms"].as_f64().expect("total_ms") > 0.0, "{row}");
    drop(db);

    let off = PrivateMariaDb::start(false).expect("a second private MariaDB");
    assert!(off.try_sql("CREATE DATABASE app"));
    let (code, _, err) = run(covet().args(["slow-queries", "--server", "--db", &off.url()]));
    assert_ne!(code, 0);
    assert!(err.contains("performance_schema is OFF"), "{err}");
}
