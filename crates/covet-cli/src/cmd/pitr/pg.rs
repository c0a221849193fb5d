//! `covet pitr` for PostgreSQL: base-backup, wal-push, wal-fetch, restore, verify, drill, prune.

use std::path::{Path, PathBuf};
use std::time::Duration;

use covet::Engine;
use covet_backup::object::PutOutcome;
use covet_backup::{BackupError, Compression, KeySource};
use covet_pitr::PitrError;
use covet_pitr::pg::{
    self, BaseBackupOptions, DrillOptions, FetchOutcome, RecoveryTarget, Repo, RestoreOptions,
    VerifyOptions, wal::Lsn,
};

use crate::cmd::out::outln;
use crate::cmd::{DbArgs, Failure, code_for, connect, exit};

/// The subcommands (boxed: their arguments differ much in size).
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Sub {
    /// Archive one WAL file (PostgreSQL's archive_command: `covet pitr
    /// wal-push %p --repo ... --key-file ...`). The same file again is
    /// fine; different bytes under an archived name are refused.
    WalPush(Box<WalPushArgs>),
    /// Fetch one WAL file (PostgreSQL's restore_command: `covet pitr
    /// wal-fetch %f %p --repo ... --key-file ...`). A file that is not
    /// archived exits 1; one that cannot be read (damaged, wrong key,
    /// storage error) exits 126, which stops PostgreSQL's recovery instead
    /// of ending it early. Neither leaves anything at the destination.
    WalFetch(Box<WalFetchArgs>),
    /// Take a base backup (pg_backup_start/pg_backup_stop over --db, the
    /// data directory read from --pgdata on this host).
    BaseBackup(Box<BaseBackupArgs>),
    /// Restore into an empty directory to a time, LSN, restore point or
    /// the latest WAL; start PostgreSQL on it to recover and promote.
    Restore(Box<RestoreArgs>),
    /// Check the WAL chain from every base backup, the timeline history
    /// files, and that every object opens (--deep: reads all in full).
    Verify(Box<VerifyArgs>),
    /// Restore to a target into a scratch directory, start a private
    /// server, wait until it promotes, report the RTO, remove it all.
    Drill(Box<DrillArgs>),
    /// Keep the newest --keep base backups and delete older ones with the
    /// WAL only they needed.
    Prune(Box<PruneArgs>),
}

#[derive(Debug, clap::Args)]
pub(crate) struct RepoArgs {
    /// The repository: a directory or s3://bucket/prefix.
    #[arg(long, value_name = "DIR|URL")]
    repo: String,
    /// Key file: 32 raw bytes or 64 hex digits (`covet backup keygen`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["passphrase_env", "no_encryption"])]
    key_file: Option<PathBuf>,
    /// Read a passphrase from this environment variable. Slow for WAL:
    /// every file costs an Argon2id derivation; prefer --key-file.
    #[arg(long, value_name = "VAR", conflicts_with = "no_encryption")]
    passphrase_env: Option<String>,
    /// Store without encryption (integrity checksums only).
    #[arg(long)]
    no_encryption: bool,
}

impl RepoArgs {
    fn key(&self) -> Result<Option<KeySource>, Failure> {
        super::repo_key(
            self.key_file.as_ref(),
            self.passphrase_env.as_deref(),
            self.no_encryption,
        )
    }

    fn open(&self) -> Result<Repo, Failure> {
        Repo::open(&self.repo, self.key()?).map_err(fail_pitr)
    }

    /// The same options as arguments for a command PostgreSQL runs (from
    /// its data directory, so paths are made absolute), shell-quoted.
    fn as_command_args(&self) -> Result<String, Failure> {
        let mut s = String::from(" --repo ");
        if self.repo.contains("://") {
            s.push_str(&sh_quote(&self.repo));
        } else {
            s.push_str(&sh_quote(&absolute(Path::new(&self.repo))?));
        }
        if let Some(f) = &self.key_file {
            s.push_str(" --key-file ");
            s.push_str(&sh_quote(&absolute(f)?));
        } else if let Some(v) = &self.passphrase_env {
            s.push_str(" --passphrase-env ");
            s.push_str(&sh_quote(v));
        } else {
            s.push_str(" --no-encryption");
        }
        Ok(s)
    }
}

fn absolute(p: &Path) -> Result<String, Failure> {
    std::path::absolute(p)
        .map(|p| p.to_string_lossy().into_owned())
        .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))
}

/// Single-quotes for /bin/sh, which runs PostgreSQL's restore_command.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The restore_command for a restore from this repository: this same
/// covet binary's wal-fetch. `%` is doubled where PostgreSQL would read
/// it as a placeholder.
fn restore_command(repo: &RepoArgs) -> Result<String, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::failed(format!("cannot find the covet binary: {e}")))?;
    let exe = sh_quote(&exe.to_string_lossy()).replace('%', "%%");
    let args = repo.as_command_args()?.replace('%', "%%");
    Ok(format!("{exe} pitr wal-fetch %f %p{args}"))
}

#[derive(Debug, clap::Args)]
pub(crate) struct WalPushArgs {
    /// The WAL file (PostgreSQL's %p).
    path: PathBuf,
    #[command(flatten)]
    repo: RepoArgs,
    /// Also write the covet_archive_last_success_timestamp_seconds gauge
    /// to this file (Prometheus text format, replaced atomically) for
    /// node exporter's textfile collector.
    #[arg(long, value_name = "PATH")]
    metrics_textfile: Option<PathBuf>,
    /// Compression: zstd (default, level 3), gzip or none, optionally
    /// `:level` (zstd:1 costs less CPU per segment).
    #[arg(long, default_value = "zstd")]
    compression: String,
}

#[derive(Debug, clap::Args)]
pub(crate) struct WalFetchArgs {
    /// The WAL file name (PostgreSQL's %f).
    file: String,
    /// Where to write it (PostgreSQL's %p).
    dest: PathBuf,
    #[command(flatten)]
    repo: RepoArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BaseBackupArgs {
    #[command(flatten)]
    db: DbArgs,
    /// The server's data directory, read directly (run on its host).
    #[arg(long, value_name = "DIR")]
    pgdata: PathBuf,
    #[command(flatten)]
    repo: RepoArgs,
    /// The label given to pg_backup_start.
    #[arg(long)]
    label: Option<String>,
    /// Compression: zstd (default, level 3), gzip or none, optionally
    /// `:level`.
    #[arg(long, default_value = "zstd")]
    compression: String,
}

#[derive(Debug, clap::Args)]
#[group(id = "recovery_target", required = true, multiple = false)]
pub(crate) struct TargetArgs {
    /// Recover to this time (RFC 3339, or PostgreSQL's form with a zone;
    /// no zone means UTC).
    #[arg(long, group = "recovery_target", value_name = "TIME")]
    to_time: Option<String>,
    /// Recover to this LSN (X/Y).
    #[arg(long, group = "recovery_target", value_name = "LSN")]
    to_lsn: Option<String>,
    /// Recover to this restore point (pg_create_restore_point).
    #[arg(long, group = "recovery_target", value_name = "NAME")]
    to_name: Option<String>,
    /// Recover to the end of the archived WAL.
    #[arg(long, group = "recovery_target")]
    latest: bool,
}

impl TargetArgs {
    fn target(&self) -> Result<RecoveryTarget, Failure> {
        if let Some(t) = &self.to_time {
            return RecoveryTarget::parse_time(t).map_err(fail_pitr);
        }
        if let Some(l) = &self.to_lsn {
            return Lsn::parse(l).map(RecoveryTarget::Lsn).map_err(fail_pitr);
        }
        if let Some(n) = &self.to_name {
            return Ok(RecoveryTarget::Name(n.clone()));
        }
        Ok(RecoveryTarget::Latest)
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct RestoreArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// An empty or new directory to restore into.
    #[arg(long, value_name = "DIR")]
    target: PathBuf,
    #[command(flatten)]
    to: TargetArgs,
    /// Recover along this timeline (default: the newest the repository
    /// holds, `recovery_target_timeline = 'latest'`).
    #[arg(long, value_name = "TLI")]
    timeline: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Read and authenticate every object in full.
    #[arg(long)]
    deep: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DrillArgs {
    #[command(flatten)]
    repo: RepoArgs,
    #[command(flatten)]
    to: TargetArgs,
    /// Recover along this timeline (default: the newest).
    #[arg(long, value_name = "TLI")]
    timeline: Option<u32>,
    /// PostgreSQL's binaries (default: pg_config --bindir, else the newest
    /// /usr/lib/postgresql/*/bin).
    #[arg(long, value_name = "DIR")]
    pg_bin: Option<PathBuf>,
    /// The system user the drill server runs as when covet runs as root.
    #[arg(long, default_value = "postgres")]
    os_user: String,
    /// The database user the readiness check connects as.
    #[arg(long, default_value = "postgres")]
    db_user: String,
    /// How long recovery may take.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    timeout: Duration,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PruneArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// How many base backups to keep (the newest).
    #[arg(long)]
    keep: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    covet::parse_duration(s)
        .ok_or_else(|| format!("invalid duration {s:?}: expected e.g. 90s, 30m, 2h"))
}

#[allow(clippy::needless_pass_by_value)]
fn fail_pitr(e: PitrError) -> Failure {
    let message = e
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let code = match &e {
        PitrError::Database(db) => code_for(db.kind()),
        PitrError::Config(_) => exit::USAGE,
        PitrError::Backup(BackupError::Config(_)) => exit::USAGE,
        _ => exit::FAILURE,
    };
    Failure { code, message }
}

/// Runs one subcommand.
pub(crate) async fn run(sub: Sub) -> Result<(), Failure> {
    match sub {
        Sub::WalPush(a) => wal_push(*a).await,
        Sub::WalFetch(a) => wal_fetch(*a).await,
        Sub::BaseBackup(a) => base_backup(*a).await,
        Sub::Restore(a) => restore(*a).await,
        Sub::Verify(a) => verify(*a).await,
        Sub::Drill(a) => drill(*a).await,
        Sub::Prune(a) => prune(*a).await,
    }
}

fn compression(s: &str) -> Result<Compression, Failure> {
    s.parse()
        .map_err(|e: BackupError| fail_pitr(PitrError::Backup(e)))
}

async fn wal_push(a: WalPushArgs) -> Result<(), Failure> {
    let repo = a
        .repo
        .open()?
        .with_compression(compression(&a.compression)?);
    let out = pg::wal_push(&repo, &a.path).await.map_err(fail_pitr)?;
    if let Some(p) = &a.metrics_textfile {
        let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        pg::write_metrics_textfile(p, now).map_err(fail_pitr)?;
    }
    if let PutOutcome::AlreadyPresent(i) = out {
        // PostgreSQL retries a push whose success it did not see: worth a
        // line in its log, not an error.
        eprintln!(
            "covet: {} was already archived with the same content",
            i.name
        );
    }
    Ok(())
}

/// wal-fetch's exit code when an archived file cannot be fetched (damaged,
/// wrong key, storage error). PostgreSQL reads any code up to 125 as "not
/// archived" and would end recovery there, promoting early under
/// `--latest`; above 125 it stops recovery with a FATAL error instead.
const FETCH_FAILED: u8 = crate::cmd::exit::ARCHIVE_UNREADABLE;

async fn wal_fetch(a: WalFetchArgs) -> Result<(), Failure> {
    let repo = a.repo.open()?;
    match pg::wal_fetch(&repo, &a.file, &a.dest).await {
        Ok(FetchOutcome::Restored(_)) => Ok(()),
        // PostgreSQL probes for files that may not exist (the next
        // timeline's history file, the segment after the last): one short
        // line, exit 1, which it reads as "not archived".
        Ok(FetchOutcome::NotArchived) => {
            Err(Failure::failed(format!("{} is not archived", a.file)))
        }
        Err(e @ PitrError::Config(_)) => Err(fail_pitr(e)),
        Err(e) => Err(Failure {
            code: FETCH_FAILED,
            ..fail_pitr(e)
        }),
    }
}

async fn base_backup(a: BaseBackupArgs) -> Result<(), Failure> {
    let repo = a
        .repo
        .open()?
        .with_compression(compression(&a.compression)?);
    let url = a.db.resolve()?;
    let (db, _) = connect(&url).await?;
    if db.engine() != Engine::Postgres {
        return Err(Failure::usage("base-backup needs a postgres:// --db"));
    }
    let m = pg::base_backup(
        &repo,
        &*db,
        &BaseBackupOptions {
            pgdata: a.pgdata,
            label: a.label,
        },
    )
    .await
    .map_err(fail_pitr);
    db.close().await;
    let m = m?;
    outln!(
        "base backup {}: {} files, {} bytes, WAL {} ({}) to {} ({}), timeline {}",
        m.name,
        m.files.len(),
        m.total_bytes,
        m.start_lsn,
        m.start_wal,
        m.stop_lsn,
        m.stop_wal,
        m.timeline
    )
}

async fn restore(a: RestoreArgs) -> Result<(), Failure> {
    let repo = a.repo.open()?;
    let target = a.to.target()?;
    let rep = pg::restore(
        &repo,
        &RestoreOptions {
            target_dir: a.target.clone(),
            target: target.clone(),
            restore_command: restore_command(&a.repo)?,
            extra_settings: vec![],
            timeline: a.timeline,
        },
    )
    .await
    .map_err(fail_pitr)?;
    outln!(
        "restored base backup {} ({} files, {} bytes) into {}; start PostgreSQL on it to recover to {} and promote",
        rep.base.name,
        rep.files,
        rep.bytes,
        a.target.display(),
        target
    )
}

async fn verify(a: VerifyArgs) -> Result<(), Failure> {
    let repo = a.repo.open()?;
    let rep = pg::verify(&repo, VerifyOptions { deep: a.deep })
        .await
        .map_err(fail_pitr)?;
    for c in &rep.coverage {
        outln!("{c}")?;
    }
    outln!("{} objects checked", rep.objects_checked)?;
    if rep.ok() {
        return Ok(());
    }
    for p in &rep.problems {
        outln!("problem: {p}")?;
    }
    Err(Failure::failed(format!(
        "{} problem(s), the first: {}",
        rep.problems.len(),
        rep.problems[0]
    )))
}

async fn drill(a: DrillArgs) -> Result<(), Failure> {
    let repo = a.repo.open()?;
    let rep = pg::drill(
        &repo,
        &DrillOptions {
            target: a.to.target()?,
            restore_command: restore_command(&a.repo)?,
            pg_bin: a.pg_bin,
            os_user: a.os_user,
            db_user: a.db_user,
            scratch_parent: None,
            timeout: a.timeout,
            timeline: a.timeline,
        },
    )
    .await
    .map_err(fail_pitr)?;
    outln!(
        "drill: base backup {} recovered to {} and promoted; RTO {:.1} s (restore {:.1} s, recovery {:.1} s)",
        rep.base,
        rep.target,
        rep.rto.as_secs_f64(),
        rep.restore.as_secs_f64(),
        rep.recovery.as_secs_f64()
    )
}

async fn prune(a: PruneArgs) -> Result<(), Failure> {
    let repo = a.repo.open()?;
    let rep = pg::prune(&repo, a.keep).await.map_err(fail_pitr)?;
    outln!(
        "pruned {} base backup(s){}{}, {} WAL file(s) and {} unfinished base backup archive(s)",
        rep.bases.len(),
        if rep.bases.is_empty() { "" } else { ": " },
        rep.bases.join(", "),
        rep.wal,
        rep.orphans.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap's own consistency checks over the whole command line (an
    /// argument group named like an argument failed only at run time).
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        crate::cmd::Cli::command().debug_assert();
    }

    #[test]
    fn restore_command_arguments_are_quoted_for_sh_and_percent() {
        assert_eq!(sh_quote("a b'c"), r"'a b'\''c'");
        let repo = RepoArgs {
            repo: "/srv/pg 100%".into(),
            key_file: Some(PathBuf::from("/etc/k'ey")),
            passphrase_env: None,
            no_encryption: false,
        };
        let cmd = restore_command(&repo).unwrap();
        assert!(
            cmd.ends_with(
                r" pitr wal-fetch %f %p --repo '/srv/pg 100%%' --key-file '/etc/k'\''ey'"
            ),
            "{cmd}"
        );
    }
}
