//! A private MariaDB with the binary log on, one per test binary, and the
//! small helpers the MySQL PITR tests share.
//!
//! The server is started once (the first test to ask starts it) and a
//! detached watchdog shell kills it by PID and removes its directory when
//! the test process exits, however it exits (a static is never dropped,
//! and a panic in one test must not leave a server behind).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use covet_adapter_mysql::MySqlAdapter;
use covet_core::{Adapter, DatabaseUrl, Statement, Value};

/// The private server.
pub(crate) struct Maria {
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
}

impl Maria {
    /// A URL for `db` as root (no password).
    pub(crate) fn url(&self, db: &str) -> DatabaseUrl {
        format!("mysql://root@127.0.0.1:{}/{db}", self.port)
            .parse()
            .unwrap()
    }

    /// The binlog files' directory.
    pub(crate) fn binlog_dir(&self) -> PathBuf {
        self.dir.clone()
    }
}

fn required() -> bool {
    std::env::var("COVET_REQUIRE_DB").as_deref() == Ok("1")
}

fn present(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The server, started on first use; `None` (with the reason printed) when
/// MariaDB is not installed and `COVET_REQUIRE_DB` is not 1.
pub(crate) fn maria() -> Option<&'static Maria> {
    static SERVER: OnceLock<Option<Maria>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            for bin in [
                "mariadbd",
                "mariadb-install-db",
                "mariadb",
                "mariadb-binlog",
            ] {
                if !present(bin) {
                    assert!(!required(), "{bin} is needed and COVET_REQUIRE_DB=1");
                    eprintln!("skipping: {bin} is not installed");
                    return None;
                }
            }
            Some(start())
        })
        .as_ref()
}

fn start() -> Maria {
    let dir = std::env::temp_dir().join(format!(
        "covet-pitr-mysql-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| dir.join(name).display().to_string();
    let out = Command::new("mariadb-install-db")
        .args([
            "--no-defaults",
            "--user=root",
            "--auth-root-authentication-method=normal",
        ])
        .arg(format!("--datadir={}", p("data")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("mariadbd")
        .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
        .arg(format!("--datadir={}", p("data")))
        .arg(format!("--port={port}"))
        .arg(format!("--socket={}", p("s.sock")))
        .arg(format!("--pid-file={}", p("s.pid")))
        .arg(format!("--log-error={}", p("s.err")))
        .arg(format!("--log-bin={}", p("bin")))
        .args([
            "--server-id=1",
            "--binlog-format=ROW",
            "--innodb-flush-log-at-trx-commit=0",
            "--sync-binlog=0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Forgotten on purpose: the watchdog below stops it once this process
    // has exited (init reaps it then).
    std::mem::forget(child);
    let me = std::process::id();
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.3; done; kill {pid} 2>/dev/null; \
         for i in $(seq 50); do kill -0 {pid} 2>/dev/null || break; sleep 0.2; done; \
         kill -9 {pid} 2>/dev/null; rm -rf '{}'",
        dir.display()
    );
    // Detached through a shell that exits at once: nothing to reap here.
    let started = Command::new("sh")
        .args([
            "-c",
            "setsid sh -c \"$1\" </dev/null >/dev/null 2>&1 &",
            "sh",
            &script,
        ])
        .status()
        .expect("the watchdog");
    assert!(started.success());
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Maria { port, dir };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "the private MariaDB did not start: {}",
        std::fs::read_to_string(dir.join("s.err")).unwrap_or_default()
    );
}

/// Opens covet's MySQL adapter.
pub(crate) async fn connect(url: &DatabaseUrl) -> Arc<dyn Adapter> {
    Arc::new(MySqlAdapter::connect(url).await.unwrap())
}

/// Runs statements in order.
pub(crate) async fn exec(a: &dyn Adapter, sqls: &[&str]) {
    for sql in sqls {
        a.execute(&Statement::new(*sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// The first column of the first row, as text.
pub(crate) async fn one(a: &dyn Adapter, sql: &str) -> String {
    let rows = a
        .query(&Statement::new(sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    text(rows.rows[0].value(0).unwrap())
}

/// A value as text (`NULL` for null).
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Text(s) => s.clone(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::I16(i) => i.to_string(),
        Value::I32(i) => i.to_string(),
        Value::I64(i) => i.to_string(),
        Value::Decimal(d) => d.to_string(),
        v => format!("{v:?}"),
    }
}

/// A query's rows, each column as text joined by `|`.
pub(crate) async fn rows(a: &dyn Adapter, sql: &str) -> Vec<String> {
    let rows = a
        .query(&Statement::new(sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows.rows
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| text(r.value(i).unwrap()))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// The server's current binlog position.
pub(crate) async fn master_position(a: &dyn Adapter) -> covet_pitr::mysql::BinlogPosition {
    let r = rows(a, "SHOW MASTER STATUS").await;
    let mut it = r[0].split('|');
    let file = it.next().unwrap().to_owned();
    let pos = it.next().unwrap().parse().unwrap();
    covet_pitr::mysql::BinlogPosition::new(file, pos)
}

/// Opens adapters for covet_backup::restore.
pub(crate) struct Connector;

#[async_trait]
impl covet_backup::Connector for Connector {
    async fn connect(&self, url: &DatabaseUrl) -> covet_core::Result<Arc<dyn Adapter>> {
        Ok(Arc::new(MySqlAdapter::connect(url).await?))
    }
}

/// Polls `cond` every 50 ms until it holds or `secs` pass.
pub(crate) async fn wait_for<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
