//! `covet pitr` for MySQL/MariaDB: binlog-stream, binlog-restore.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use covet::{Adapter, DatabaseUrl, Engine};
use covet_backup::{BackupError, BackupSink, CancellationToken, Encryption, KeySource};
use covet_pitr::PitrError;
use covet_pitr::mysql::{
    BinlogPosition, BinlogRestoreOptions, BinlogTarget, StreamOptions, plan_binlog_restore,
    restore_binlog, stream_binlog,
};

use crate::cmd::{Failure, PasswordArgs, code_for, exit, resolve_url};

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Sub {
    /// Stream the binary log of a MySQL/MariaDB server as a replica would,
    /// into encrypted segments of whole transactions in --repo. Runs until
    /// Ctrl-C or SIGTERM, then stores what it holds and exits 130. Started
    /// again, it resumes where the stored segments end.
    BinlogStream(Box<StreamArgs>),
    /// Restore a logical backup (covet backup create) into --db, then
    /// replay the streamed binlog from the backup's position up to a time,
    /// a position or the end (through mariadb-binlog and the mariadb
    /// client). A target the stored binlog does not cover is refused
    /// before the target database is touched.
    BinlogRestore(Box<RestoreArgs>),
}

/// Where segments are and how they are sealed.
#[derive(Debug, clap::Args)]
pub(crate) struct RepoArgs {
    /// The repository: a directory or s3://bucket/prefix.
    #[arg(long)]
    repo: String,
    /// The stream's name in the repository (one per source server).
    #[arg(long, default_value = "main")]
    stream: String,
    /// Key file: 32 raw bytes or 64 hex digits (see `covet backup keygen`).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["passphrase_env", "no_encryption"])]
    key_file: Option<PathBuf>,
    /// Read a passphrase from this environment variable (stretched with
    /// Argon2id for every segment: prefer --key-file).
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

    fn sink(&self) -> Result<Arc<dyn BackupSink>, Failure> {
        covet_backup::sink_for(&self.repo).map_err(|e| fail(e.into()))
    }
}

/// Arguments of `covet pitr binlog-stream`.
#[derive(Debug, clap::Args)]
pub(crate) struct StreamArgs {
    /// The source server: mysql://user@host:port (better without a
    /// password, see --password-file). The user needs REPLICATION SLAVE
    /// and REPLICATION CLIENT.
    #[arg(long, env = "COVET_DATABASE_URL", hide_env_values = true)]
    db: String,
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    repo: RepoArgs,
    /// The server id to register with: unique among the source's replicas
    /// and different from the source's own (a second connection with the
    /// same id makes the server drop the first). By default a random id
    /// from 1879048192 up, printed at start.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    server_id: Option<u32>,
    /// Where to start when the repository holds no segment of this stream
    /// yet, as FILE:POS (a backup's binlog position, shown by `covet
    /// backup verify`); by default the source's current position.
    #[arg(long, value_name = "FILE:POS")]
    from: Option<String>,
    /// Cut a segment once it holds this many MiB (at the next transaction
    /// boundary).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    segment_mb: u32,
    /// Cut a segment once its first event is this old (at the next
    /// transaction boundary): the most a crash of this process loses.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    segment_age: Duration,
}

/// Arguments of `covet pitr binlog-restore`.
#[derive(Debug, clap::Args)]
pub(crate) struct RestoreArgs {
    /// The logical backup: a file path or s3://bucket/prefix/name.
    #[arg(long)]
    backup: String,
    /// The target database: mysql://user@host:port/db (created when
    /// missing; it may be named differently from the source).
    #[arg(long, env = "COVET_DATABASE_URL", hide_env_values = true)]
    db: String,
    #[command(flatten)]
    password: PasswordArgs,
    #[command(flatten)]
    repo: RepoArgs,
    /// Replay every transaction committed at or before this time: RFC 3339
    /// (2026-12-05T14:31:07Z, or with an offset) or `YYYY-MM-DD HH:MM:SS`
    /// in UTC.
    #[arg(long, value_name = "TIME", group = "target")]
    to_time: Option<String>,
    /// Replay every transaction that ends at or before FILE:POS.
    #[arg(long, value_name = "FILE:POS", group = "target")]
    to_position: Option<String>,
    /// Replay everything streamed (refused when a segment is missing).
    #[arg(long, group = "target")]
    latest: bool,
    /// Replace the tables of the target that the backup holds.
    #[arg(long)]
    replace: bool,
    /// Only check: verify the backup and the segments, print what they
    /// cover and what a restore to the target would replay, touch no
    /// database.
    #[arg(long)]
    dry_run: bool,
    /// The binlog decoder (default: mariadb-binlog, else mysqlbinlog).
    #[arg(long, value_name = "PATH")]
    binlog_tool: Option<PathBuf>,
    /// The client that applies it (default: mariadb, else mysql).
    #[arg(long, value_name = "PATH")]
    client: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    covet::parse_duration(s)
        .ok_or_else(|| format!("invalid duration {s:?}: expected e.g. 90s, 30m, 2h"))
}

/// Reads `--to-time`.
fn parse_time(s: &str) -> Result<DateTime<Utc>, Failure> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    Err(Failure::usage(format!(
        "--to-time {s:?}: expected RFC 3339 (2026-12-05T14:31:07Z) or YYYY-MM-DD HH:MM:SS (UTC)"
    )))
}

fn parse_position(flag: &str, s: &str) -> Result<BinlogPosition, Failure> {
    s.parse()
        .map_err(|e: PitrError| Failure::usage(format!("{flag}: {e}")))
}

#[allow(clippy::needless_pass_by_value)]
fn fail(e: PitrError) -> Failure {
    let message = e
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let code = match &e {
        PitrError::Database(db) => code_for(db.kind()),
        PitrError::Config(_) | PitrError::Backup(BackupError::Config(_)) => exit::USAGE,
        PitrError::Backup(BackupError::Database(db)) => code_for(db.kind()),
        PitrError::Backup(BackupError::Cancelled(_)) => exit::INTERRUPTED,
        _ => exit::FAILURE,
    };
    Failure { code, message }
}

/// A MySQL URL with its password found as every command finds it.
fn mysql_url(raw: &str, password: &PasswordArgs) -> Result<DatabaseUrl, Failure> {
    let url = resolve_url(raw, password)?;
    if url.engine() != Engine::MySql {
        return Err(Failure::usage(format!(
            "--db must be a mysql:// URL, not a {} one",
            url.engine()
        )));
    }
    Ok(url)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupt() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs one subcommand.
pub(crate) async fn run(sub: Sub) -> Result<(), Failure> {
    match sub {
        Sub::BinlogStream(a) => stream(*a).await,
        Sub::BinlogRestore(a) => restore(*a).await,
    }
}

async fn stream(a: StreamArgs) -> Result<(), Failure> {
    let url = mysql_url(&a.db, &a.password)?;
    let encryption = match a.repo.key()? {
        Some(k) => Encryption::Key(k),
        None => Encryption::None,
    };
    let mut opts = StreamOptions::new(url.clone(), a.repo.sink()?, encryption);
    opts.stream = a.repo.stream.clone();
    if let Some(id) = a.server_id {
        opts.server_id = id;
    }
    opts.from = a
        .from
        .as_deref()
        .map(|f| parse_position("--from", f))
        .transpose()?;
    opts.segment_bytes = a.segment_mb as usize * (1 << 20);
    opts.segment_age = a.segment_age;
    opts.on_segment = Some(Arc::new(|s| {
        eprintln!("covet: stored {}", s.object_name());
    }));
    eprintln!(
        "covet: streaming the binlog of {url} into {} (stream {}) as replica server id {}",
        a.repo.repo, opts.stream, opts.server_id
    );
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    let signals = tokio::spawn(async move {
        interrupt().await;
        c.cancel();
    });
    let r = stream_binlog(opts, cancel.clone()).await;
    signals.abort();
    let report = r.map_err(fail)?;
    println!(
        "stored {} segment(s), {} bytes of binlog from {} to {}; {} reconnection(s)",
        report.segments, report.bytes, report.started_at, report.stored_to, report.reconnects
    );
    if cancel.is_cancelled() {
        return Err(Failure {
            code: exit::INTERRUPTED,
            message: format!(
                "interrupted; the stored binlog ends at {} and the next run resumes there",
                report.stored_to
            ),
        });
    }
    Ok(())
}

/// Opens adapters through the facade, for the logical restore.
struct Facade;

#[async_trait]
impl covet_backup::Connector for Facade {
    async fn connect(&self, url: &DatabaseUrl) -> covet::Result<Arc<dyn Adapter>> {
        covet::connect(url.clone()).await
    }
}

/// A backup location and name from `--backup`.
fn locate(file: &str) -> Result<(Arc<dyn BackupSink>, String), Failure> {
    if file.starts_with("s3://") {
        let (prefix, name) = file
            .rsplit_once('/')
            .filter(|(p, n)| !n.is_empty() && p.len() > "s3:/".len())
            .ok_or_else(|| Failure::usage(format!("{file}: expected s3://bucket/prefix/name")))?;
        let sink = covet_backup::sink_for(prefix).map_err(|e| fail(e.into()))?;
        return Ok((sink, name.to_owned()));
    }
    covet_backup::sink_for_file(std::path::Path::new(file)).map_err(|e| fail(e.into()))
}

async fn restore(a: RestoreArgs) -> Result<(), Failure> {
    let url = mysql_url(&a.db, &a.password)?;
    let target = match (&a.to_time, &a.to_position, a.latest) {
        (Some(t), None, false) => BinlogTarget::Time(parse_time(t)?),
        (None, Some(p), false) => BinlogTarget::Position(parse_position("--to-position", p)?),
        (None, None, true) => BinlogTarget::Latest,
        _ => {
            return Err(Failure::usage(
                "choose one of --to-time, --to-position or --latest",
            ));
        }
    };
    let (backup_sink, backup_name) = locate(&a.backup)?;
    let cancel = CancellationToken::new();
    let opts = BinlogRestoreOptions {
        backup_sink,
        backup_name,
        repo: a.repo.sink()?,
        stream: a.repo.stream.clone(),
        key: a.repo.key()?,
        target,
        restore: covet_backup::RestoreOptions {
            replace: a.replace,
            cancel: Some(cancel.clone()),
            ..Default::default()
        },
        binlog_tool: a.binlog_tool,
        client: a.client,
    };
    if a.dry_run {
        let p = plan_binlog_restore(&opts).await.map_err(fail)?;
        println!("{}", p.covered());
        println!(
            "a restore to {} replays {} transaction(s) from {} to {}{}",
            opts.target,
            p.transactions,
            p.from,
            p.stop,
            p.stop_time
                .map(|t| format!(" (last written {})", t.to_rfc3339()))
                .unwrap_or_default()
        );
        return Ok(());
    }
    // Ctrl-C or SIGTERM: the logical restore removes what it made; a
    // replay under way stops where it is.
    let c = cancel.clone();
    let signals = tokio::spawn(async move {
        interrupt().await;
        c.cancel();
    });
    let r = Box::pin(restore_binlog(&opts, &url, &Facade)).await;
    signals.abort();
    let r = r.map_err(fail)?;
    let p = &r.plan;
    println!(
        "restored {} ({} rows) into {url} and replayed {} transaction(s) of binlog from {} to {}{}",
        opts.backup_name,
        r.backup.rows,
        p.transactions,
        p.from,
        p.stop,
        p.stop_time
            .map(|t| format!(" (last written {})", t.to_rfc3339()))
            .unwrap_or_default()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn to_time_reads_rfc3339_and_plain_utc() {
        let want = "2026-12-05T14:31:07Z";
        for s in [
            "2026-12-05T14:31:07Z",
            "2026-12-05T15:31:07+01:00",
            "2026-12-05 14:31:07",
            "2026-12-05T14:31:07",
        ] {
            assert_eq!(
                parse_time(s)
                    .unwrap()
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                want,
                "{s}"
            );
        }
        let t = parse_time("2026-12-05 14:31:07.250000").unwrap();
        assert_eq!(t.timestamp_subsec_millis(), 250);
        for bad in ["yesterday", "2026-12-05", "14:31:07"] {
            assert_eq!(
                parse_time(bad).unwrap_err().code,
                crate::cmd::exit::USAGE,
                "{bad}"
            );
        }
    }
}
