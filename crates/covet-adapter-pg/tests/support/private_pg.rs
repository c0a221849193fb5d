//! One private PostgreSQL 15 server per test binary, for what the shared
//! server must not be changed for: password (scram-sha-256) logins and no
//! TLS. Started on first use in a temporary directory on a free port; a
//! watcher process stops it by PID and removes the directory when the test
//! process ends, however it ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Where the PostgreSQL binaries are (`COVET_PG_BIN` overrides).
fn bin_dir() -> PathBuf {
    std::env::var_os("COVET_PG_BIN").map_or_else(
        || PathBuf::from("/usr/lib/postgresql/15/bin"),
        PathBuf::from,
    )
}

/// The running private server.
pub(crate) struct PrivatePg {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
}

impl PrivatePg {
    /// The superuser's URL (trusted from 127.0.0.1; every other role must
    /// give its password).
    pub(crate) fn admin_url(&self) -> covet_core::DatabaseUrl {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable&max_connections=1",
            self.port
        )
        .parse()
        .expect("private server URL")
    }
}

static SERVER: OnceLock<Result<PrivatePg, String>> = OnceLock::new();

/// The binary's private server, started on first call.
pub(crate) fn private_pg() -> Result<&'static PrivatePg, String> {
    SERVER.get_or_init(start).as_ref().map_err(Clone::clone)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL binary as the postgres user (initdb refuses root).
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn start() -> Result<PrivatePg, String> {
    let bin = bin_dir();
    if !bin.join("initdb").is_file() {
        return Err(format!(
            "no PostgreSQL binaries in {} (set COVET_PG_BIN)",
            bin.display()
        ));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("covet-private-pg-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let result = init_and_start(&bin, &dir);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn init_and_start(bin: &Path, dir: &Path) -> Result<PrivatePg, String> {
    if is_root() {
        let mut chown = Command::new("chown");
        chown.arg("postgres").arg(dir);
        run(chown, "chown")?;
    }
    let data = dir.join("data");
    let mut initdb = as_postgres(&bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "--no-sync"]);
    run(initdb, "initdb")?;
    // The superuser is trusted over TCP so fixtures can administer the
    // server; every other role logs in with a scram-sha-256 password.
    std::fs::write(
        data.join("pg_hba.conf"),
        "local all all trust\n\
         host all postgres 127.0.0.1/32 trust\n\
         host all all 127.0.0.1/32 scram-sha-256\n",
    )
    .map_err(|e| format!("writing pg_hba.conf: {e}"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    let conf = format!(
        "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
         ssl = off\nfsync = off\nmax_connections = 60\nshared_buffers = 16MB\n\
         password_encryption = 'scram-sha-256'\n",
        dir.display()
    );
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .map_err(|e| format!("opening postgresql.conf: {e}"))?;
    std::io::Write::write_all(&mut file, conf.as_bytes())
        .map_err(|e| format!("writing postgresql.conf: {e}"))?;
    let mut pg_ctl = as_postgres(&bin.join("pg_ctl"));
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-w", "-t", "60", "start"]);
    run(pg_ctl, "pg_ctl start")?;
    let pid_file = std::fs::read_to_string(data.join("postmaster.pid"))
        .map_err(|e| format!("reading postmaster.pid: {e}"))?;
    let pid: u32 = pid_file
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or("postmaster.pid has no PID")?;
    // The watcher outlives this process: once it is gone, a fast shutdown
    // by PID (then a kill if that hangs), and the directory goes.
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; \
         kill -INT {pid} 2>/dev/null; \
         for i in $(seq 100); do kill -0 {pid} 2>/dev/null || break; sleep 0.1; done; \
         kill -KILL {pid} 2>/dev/null; rm -rf '{dir}'",
        me = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the watcher: {e}"))?;
    Ok(PrivatePg { port })
}
