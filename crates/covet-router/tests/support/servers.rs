//! Private replicated servers for one test binary: a PostgreSQL primary
//! with two streaming replicas, a MariaDB primary with a GTID replica.
//!
//! Started once per binary (the first test to ask), on free ports, in a
//! fresh temporary directory, never touching the shared servers. A
//! watchdog process started with them stops them by PID and removes the
//! directory as soon as the test binary exits, however it exits.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn required() -> bool {
    std::env::var("COVET_REQUIRE_DB").is_ok_and(|v| v == "1")
}

/// `None` (with the reason printed) when the test must be skipped; panics
/// instead when COVET_REQUIRE_DB=1.
fn skip(reason: &str) -> Option<()> {
    assert!(!required(), "COVET_REQUIRE_DB=1 but {reason}");
    eprintln!("skipping: {reason}");
    None
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "covet-router-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Starts a detached shell that waits for this process to exit, then runs
/// `cleanup`.
fn watchdog(cleanup: &str) {
    let me = std::process::id();
    let script = format!("while kill -0 {me} 2>/dev/null; do sleep 0.3; done; {cleanup}");
    background(Command::new("setsid").args(["sh", "-c", &script]));
}

/// Starts `cmd` detached (through a shell that exits at once, so no child
/// of this process is left to reap).
fn background(cmd: &Command) {
    let mut sh = Command::new("sh");
    sh.args(["-c", "\"$@\" </dev/null >/dev/null 2>&1 &", "sh"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    run(&mut sh, "start a background process");
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A PostgreSQL primary and two streaming replicas.
pub struct PgCluster {
    pub dir: PathBuf,
    pub primary: u16,
    pub replicas: Vec<u16>,
    as_pg: bool,
}

impl PgCluster {
    fn cmd(&self, bin: &str) -> Command {
        pg_cmd(self.as_pg, bin)
    }

    pub fn url(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/postgres")
    }

    /// `postgres://postgres@127.0.0.1:P,127.0.0.1:R0,.../postgres?params`.
    pub fn router_url(&self, params: &str) -> String {
        let hosts: Vec<String> = std::iter::once(self.primary)
            .chain(self.replicas.iter().copied())
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("postgres://postgres@{}/postgres?{params}", hosts.join(","))
    }

    /// Stops the primary (fast shutdown).
    pub fn stop_primary(&self) {
        run(
            self.cmd("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("p"))
                .args(["-m", "fast", "-w", "stop"]),
            "pg_ctl stop primary",
        );
    }

    /// Promotes replica `i` to a primary.
    pub fn promote(&self, i: usize) {
        run(
            self.cmd("pg_ctl")
                .arg("-D")
                .arg(self.dir.join(format!("r{i}")))
                .args(["-w", "promote"]),
            "pg_ctl promote",
        );
    }

    /// Stops replica `i` at once (as a crash would).
    pub fn kill_replica(&self, i: usize) {
        run(
            self.cmd("pg_ctl")
                .args(["-D"])
                .arg(self.dir.join(format!("r{i}")))
                .args(["-m", "immediate", "-w", "stop"]),
            "pg_ctl stop",
        );
    }

    /// Starts replica `i` again.
    pub fn start_replica(&self, i: usize) {
        let d = self.dir.join(format!("r{i}"));
        run(
            self.cmd("pg_ctl")
                .arg("-D")
                .arg(&d)
                .arg("-l")
                .arg(self.dir.join(format!("r{i}.log")))
                .args(["-w", "start"]),
            "pg_ctl start",
        );
    }
}

fn pg_cmd(as_pg: bool, bin: &str) -> Command {
    let path = Path::new(PG_BIN).join(bin);
    if as_pg {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

/// The shared PostgreSQL cluster, or `None` (skip) when PostgreSQL 15's
/// binaries are not installed.
pub fn pg() -> Option<&'static PgCluster> {
    static CLUSTER: OnceLock<Option<PgCluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            if !Path::new(PG_BIN).join("initdb").exists() {
                skip(&format!("{PG_BIN}/initdb is not installed"))?;
            }
            Some(start_pg("pg", 2))
        })
        .as_ref()
}

/// A fresh primary with one replica, for a test that breaks it (promotion);
/// `None` (skip) as [`pg`].
pub fn pg_pair() -> Option<PgCluster> {
    if !Path::new(PG_BIN).join("initdb").exists() {
        skip(&format!("{PG_BIN}/initdb is not installed"))?;
    }
    Some(start_pg("pgpair", 1))
}

fn start_pg(tag: &str, replicas: usize) -> PgCluster {
    let as_pg = is_root();
    let dir = temp_dir(tag);
    if as_pg {
        run(Command::new("chown").arg("postgres").arg(&dir), "chown");
    }
    let c = PgCluster {
        primary: free_port(),
        replicas: (0..replicas).map(|_| free_port()).collect(),
        dir: dir.clone(),
        as_pg,
    };
    let names: Vec<String> = std::iter::once("p".to_owned())
        .chain((0..replicas).map(|i| format!("r{i}")))
        .collect();
    let stop: Vec<String> = names
        .iter()
        .map(|n| {
            format!(
                "{} {PG_BIN}/pg_ctl -D {} -m immediate stop;",
                if as_pg { "runuser -u postgres --" } else { "" },
                dir.join(n).display()
            )
        })
        .collect();
    watchdog(&format!("{} rm -rf {}", stop.join(" "), dir.display()));

    let p = dir.join("p");
    run(
        c.cmd("initdb")
            .arg("-D")
            .arg(&p)
            .args(["-A", "trust", "-U", "postgres", "--no-sync"]),
        "initdb",
    );
    let conf = format!(
        "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
         wal_level = replica\nmax_wal_senders = 10\nfsync = off\nmax_connections = 60\n\
         shared_buffers = 16MB\n",
        c.primary,
        dir.display()
    );
    append(&p.join("postgresql.conf"), &conf);
    run(
        c.cmd("pg_ctl")
            .arg("-D")
            .arg(&p)
            .arg("-l")
            .arg(dir.join("p.log"))
            .args(["-w", "start"]),
        "pg_ctl start primary",
    );
    for (i, port) in c.replicas.iter().enumerate() {
        let r = dir.join(format!("r{i}"));
        run(
            c.cmd("pg_basebackup")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &c.primary.to_string(),
                    "-U",
                    "postgres",
                    "-D",
                ])
                .arg(&r)
                .args(["-R", "-X", "stream"]),
            "pg_basebackup",
        );
        append(&r.join("postgresql.auto.conf"), &format!("port = {port}\n"));
        c.start_replica(i);
    }
    c
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open config");
    f.write_all(text.as_bytes()).expect("write config");
}

/// A MariaDB primary and one GTID replica.
pub struct MariaCluster {
    pub dir: PathBuf,
    pub primary: u16,
    pub replica: u16,
}

impl MariaCluster {
    pub fn url(&self, port: u16) -> String {
        format!("mysql://root@127.0.0.1:{port}/app")
    }

    pub fn router_url(&self, params: &str) -> String {
        format!(
            "mysql://root@127.0.0.1:{},127.0.0.1:{}/app?{params}",
            self.primary, self.replica
        )
    }
}

fn which(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The shared MariaDB pair, or `None` (skip) when MariaDB is not installed.
pub fn maria() -> Option<&'static MariaCluster> {
    static CLUSTER: OnceLock<Option<MariaCluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            for bin in ["mariadbd", "mariadb-install-db", "mariadb"] {
                if !which(bin) {
                    skip(&format!("{bin} is not installed"))?;
                }
            }
            Some(start_maria())
        })
        .as_ref()
}

fn start_maria() -> MariaCluster {
    let dir = temp_dir("maria");
    let c = MariaCluster {
        dir: dir.clone(),
        primary: free_port(),
        replica: free_port(),
    };
    watchdog(&format!(
        "kill $(cat {d}/primary.pid {d}/replica.pid 2>/dev/null) 2>/dev/null; sleep 2; \
         kill -9 $(cat {d}/primary.pid {d}/replica.pid 2>/dev/null) 2>/dev/null; rm -rf {d}",
        d = dir.display()
    ));
    let start = |name: &str, port: u16, id: u32, extra: &[&str]| {
        let data = dir.join(name);
        background(
            Command::new("mariadbd")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--port={port}"))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--socket={}/{name}.sock", dir.display()))
                .arg("--user=root")
                .arg(format!("--pid-file={}/{name}.pid", dir.display()))
                .arg(format!("--server-id={id}"))
                .arg(format!("--log-bin={}/{name}-bin", dir.display()))
                .arg("--binlog-format=ROW")
                .arg(format!("--log-error={}/{name}.err", dir.display()))
                .args(["--innodb-buffer-pool-size=32M", "--skip-name-resolve"])
                .args(extra),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = Command::new("mariadb")
                .arg(format!("--socket={}/{name}.sock", dir.display()))
                .args(["-uroot", "-e", "select 1"])
                .output()
                .is_ok_and(|o| o.status.success());
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "{name} did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    // One install at a time (two bootstraps at once failed here once, under
    // load), then both servers start together.
    for name in ["primary", "replica"] {
        run(
            Command::new("mariadb-install-db")
                .arg("--no-defaults")
                .arg(format!("--datadir={}", dir.join(name).display()))
                .args(["--user=root", "--auth-root-authentication-method=normal"]),
            "mariadb-install-db",
        );
    }
    std::thread::scope(|s| {
        s.spawn(|| start("primary", c.primary, 1, &[]));
        s.spawn(|| start("replica", c.replica, 2, &["--read-only=1"]));
    });
    let sql = |name: &str, sql: &str| {
        run(
            Command::new("mariadb")
                .arg(format!("--socket={}/{name}.sock", dir.display()))
                .args(["-uroot", "-e", sql]),
            "mariadb",
        );
    };
    sql(
        "primary",
        "CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'replpw'; \
         GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1'; CREATE DATABASE app;",
    );
    sql(
        "replica",
        &format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='repl', \
             MASTER_PASSWORD='replpw', MASTER_USE_GTID=slave_pos; START SLAVE;",
            c.primary
        ),
    );
    // Wait for the database to reach the replica.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = Command::new("mariadb")
            .arg(format!("--socket={}/replica.sock", dir.display()))
            .args(["-uroot", "-e", "use app"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "replication did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    c
}
