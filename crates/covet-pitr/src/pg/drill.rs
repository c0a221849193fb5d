//! A recovery drill: restore to a target into a scratch directory, start a
//! private server on it, wait until it has replayed to the target and
//! promoted, report the time it took, remove it all.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::Repo;
use super::restore::{RecoveryTarget, RestoreOptions, restore};
use crate::error::{PitrError, Result};

/// How to run a drill.
#[derive(Debug, Clone)]
pub struct DrillOptions {
    /// Where recovery stops.
    pub target: RecoveryTarget,
    /// The `restore_command` the drill server runs.
    pub restore_command: String,
    /// PostgreSQL's binaries (`postgres`, `psql`); default: `pg_config
    /// --bindir`, else `/usr/lib/postgresql/<newest>/bin`.
    pub pg_bin: Option<PathBuf>,
    /// The system user the server runs as when the drill runs as root
    /// (PostgreSQL refuses root).
    pub os_user: String,
    /// The database user the readiness checks connect as (over the
    /// scratch directory's socket, trusted).
    pub db_user: String,
    /// The directory the scratch directory is made in (default: the
    /// system's temporary directory).
    pub scratch_parent: Option<PathBuf>,
    /// How long recovery may take before the drill fails.
    pub timeout: Duration,
    /// The timeline to recover along (`None`: the newest).
    pub timeline: Option<u32>,
}

/// What a drill measured.
#[derive(Debug, Clone)]
pub struct DrillReport {
    /// The base backup restored.
    pub base: String,
    /// The target.
    pub target: String,
    /// Unpacking the base backup.
    pub restore: Duration,
    /// From starting the server until it had promoted.
    pub recovery: Duration,
    /// The recovery time objective measured: both together.
    pub rto: Duration,
}

fn find_bin(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_owned());
    }
    if let Ok(out) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        && out.status.success()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if p.join("postgres").exists() {
            return Ok(p);
        }
    }
    let mut versions: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    versions.sort_unstable();
    versions
        .last()
        .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin")))
        .ok_or_else(|| {
            PitrError::Config("PostgreSQL's binaries were not found: give --pg-bin".into())
        })
}

/// The scratch directory and server, removed on drop whatever happened.
struct Scratch {
    dir: PathBuf,
    pid: Option<u32>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            // Immediate shutdown: a drill's server holds nothing to keep.
            let _ = std::process::Command::new("kill")
                .args(["-QUIT", &pid.to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && Path::new(&format!("/proc/{pid}")).exists() {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn id_of(user: &str, flag: &str) -> Result<u32> {
    let out = std::process::Command::new("id")
        .args([flag, user])
        .output()
        .map_err(|e| PitrError::io("running id", e))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| PitrError::Config(format!("system user {user:?} not found")))
}

/// Runs a drill (see the module docs). The server listens on a Unix
/// socket in the scratch directory only, with `archive_mode` off, so it
/// neither accepts outside connections nor archives into the repository.
pub async fn drill(repo: &Repo, opts: &DrillOptions) -> Result<DrillReport> {
    let bin = find_bin(opts.pg_bin.as_deref())?;
    let parent = opts
        .scratch_parent
        .clone()
        .unwrap_or_else(std::env::temp_dir);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = parent.join(format!("covet-pitr-drill-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir)
        .map_err(|e| PitrError::io(format!("creating {}", dir.display()), e))?;
    let mut scratch = Scratch {
        dir: dir.clone(),
        pid: None,
    };
    let data = dir.join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| PitrError::io("finding a spare port", e))?
        .port();
    let socket_dir = dir.to_string_lossy().into_owned();
    let hba = data.join("pg_hba.conf").to_string_lossy().into_owned();
    let started = Instant::now();
    let report = restore(
        repo,
        &RestoreOptions {
            target_dir: data.clone(),
            target: opts.target.clone(),
            restore_command: opts.restore_command.clone(),
            timeline: opts.timeline,
            extra_settings: vec![
                ("port".into(), port.to_string()),
                ("listen_addresses".into(), String::new()),
                ("unix_socket_directories".into(), socket_dir.clone()),
                ("archive_mode".into(), "off".into()),
                ("hba_file".into(), hba.clone()),
                ("logging_collector".into(), "off".into()),
            ],
        },
    )
    .await?;
    // The drill's own trust rules: only the scratch directory's socket,
    // which only the server's user can reach.
    std::fs::write(&hba, "local all all trust\n")
        .map_err(|e| PitrError::io(format!("writing {hba}"), e))?;
    let conf = data.join("postgresql.conf");
    if !conf.exists() {
        // Debian keeps the configuration outside the data directory.
        std::fs::write(&conf, "")
            .map_err(|e| PitrError::io(format!("writing {}", conf.display()), e))?;
    }
    let restored = started.elapsed();

    let as_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    let log_path = dir.join("server.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| PitrError::io("creating the server log", e))?;
    let mut cmd = tokio::process::Command::new(bin.join("postgres"));
    cmd.arg("-D").arg(&data).stdin(Stdio::null()).stdout(
        log.try_clone()
            .map_err(|e| PitrError::io("opening the server log", e))?,
    );
    cmd.stderr(log);
    if as_root {
        let uid = id_of(&opts.os_user, "-u")?;
        let gid = id_of(&opts.os_user, "-g")?;
        let st = std::process::Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(&dir)
            .status()
            .map_err(|e| PitrError::io("running chown", e))?;
        if !st.success() {
            return Err(PitrError::Config(format!(
                "chown of {} failed",
                dir.display()
            )));
        }
        cmd.uid(uid).gid(gid);
    }
    let server_start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| PitrError::io("starting postgres", e))?;
    scratch.pid = child.id();
    let deadline = Instant::now() + opts.timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            scratch.pid = None;
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            return Err(PitrError::Config(format!(
                "the drill server exited ({status}) before promoting: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )));
        }
        let out = tokio::process::Command::new(bin.join("psql"))
            .args([
                "-X",
                "-h",
                &socket_dir,
                "-p",
                &port.to_string(),
                "-U",
                &opts.db_user,
                "-d",
                "postgres",
            ])
            .args(["-tAc", "SELECT pg_is_in_recovery()"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await
            .map_err(|e| PitrError::io("running psql", e))?;
        if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "f" {
            break;
        }
        if Instant::now() > deadline {
            return Err(PitrError::Config(format!(
                "the drill server did not promote within {:?}",
                opts.timeout
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovery = server_start.elapsed();
    let rto = started.elapsed();
    drop(scratch);
    let _ = child.wait().await;
    Ok(DrillReport {
        base: report.base.name,
        target: opts.target.to_string(),
        restore: restored,
        recovery,
        rto,
    })
}
