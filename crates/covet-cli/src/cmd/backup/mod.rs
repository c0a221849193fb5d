//! `covet backup`: create, list, verify, restore, drill, prune, schedule and
//! export backups. All logic lives in covet-backup; this module parses
//! arguments, dispatches to one module per subcommand, and holds what they
//! share: key options, the backup location from `--file`, progress on
//! stderr and interrupt handling.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use covet::{Adapter, DatabaseUrl, Secret};
use covet_backup::{
    BackupError, BackupSink, CancellationToken, Connector, Encryption, KeySource, Progress,
    ProgressFn,
};

use super::exit::INTERRUPTED;
use super::{Failure, code_for, exit};

mod create;
mod drill;
mod export;
mod keygen;
mod list;
mod prune;
mod restore;
mod schedule;
mod verify;

/// Arguments of `covet backup`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print results as JSON on stdout (progress goes to stderr).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Args)]
struct KeyArgs {
    /// Key file: 32 raw bytes or 64 hex digits (see `covet backup keygen`).
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_env")]
    key_file: Option<PathBuf>,
    /// Read the passphrase from this environment variable (stretched with
    /// Argon2id).
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Back up every table from one consistent snapshot.
    Create(create::Args),
    /// List the complete backups in a location, newest first.
    List(list::Args),
    /// Check a backup without a database: every tag, checksum and count.
    Verify(verify::Args),
    /// Restore a backup into a database (verified first; created if missing).
    ///
    /// Staging databases that crashed restores left (covet_stage_*) are
    /// dropped first, once 15 minutes old and unused by any session. Ctrl-C
    /// or SIGTERM stops the restore, removes what it made and leaves the
    /// target as it was (exit code 130).
    Restore(restore::Args),
    /// Restore into a scratch database beside --db, compare with the
    /// manifest, report the RTO, drop the scratch database.
    Drill(drill::Args),
    /// Delete backups outside the retention policy (never the newest
    /// verified one), and partial files that interrupted backups left.
    Prune(prune::Args),
    /// Run backups on a schedule (UTC), pruning after each.
    Schedule(schedule::Args),
    /// Write a backup as plain SQL.
    Export(export::Args),
    /// Write a new random key file (readable by its owner only).
    Keygen(keygen::Args),
}

/// Runs `covet backup`.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let json_out = args.json;
    match args.command {
        Sub::Create(a) => create::run(a, json_out).await,
        Sub::List(a) => list::run(a, json_out).await,
        Sub::Verify(a) => verify::run(a, json_out).await,
        Sub::Restore(a) => restore::run(a, json_out).await,
        Sub::Drill(a) => drill::run(a, json_out).await,
        Sub::Prune(a) => prune::run(a, json_out).await,
        Sub::Schedule(a) => schedule::run(a, json_out).await,
        Sub::Export(a) => export::run(a).await,
        Sub::Keygen(a) => keygen::run(a, json_out),
    }
}

// By value so it reads `.map_err(fail)`.
#[allow(clippy::needless_pass_by_value)]
fn fail(e: BackupError) -> Failure {
    let message = e
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let code = match &e {
        BackupError::Database(db) => code_for(db.kind()),
        BackupError::Config(_) | BackupError::BadSchedule { .. } => exit::USAGE,
        BackupError::Cancelled(_) => INTERRUPTED,
        _ => exit::FAILURE,
    };
    Failure { code, message }
}

fn key_source(k: &KeyArgs) -> Result<Option<KeySource>, Failure> {
    key_from(k.key_file.as_ref(), k.passphrase_env.as_deref())
}

/// The key a `--key-file` or `--passphrase-env VAR` option names, if any
/// (`covet pitr` takes the same options).
pub(crate) fn key_from(
    key_file: Option<&PathBuf>,
    passphrase_env: Option<&str>,
) -> Result<Option<KeySource>, Failure> {
    if let Some(f) = key_file {
        return Ok(Some(KeySource::File(f.clone())));
    }
    if let Some(var) = passphrase_env {
        return match std::env::var(var) {
            Ok(p) if !p.is_empty() => Ok(Some(KeySource::Passphrase(Secret::new(p)))),
            _ => Err(Failure::usage(format!(
                "--passphrase-env {var}: the variable is unset or empty"
            ))),
        };
    }
    Ok(None)
}

fn encryption(k: &KeyArgs, none: bool) -> Result<Encryption, Failure> {
    match (key_source(k)?, none) {
        (Some(src), _) => Ok(Encryption::Key(src)),
        (None, true) => Ok(Encryption::None),
        (None, false) => Err(Failure::usage(
            "choose --key-file, --passphrase-env, or --no-encryption for an unencrypted backup",
        )),
    }
}

/// A backup location and name from `--file`.
fn locate(file: &str) -> Result<(Arc<dyn BackupSink>, String), Failure> {
    if file.starts_with("s3://") {
        let (prefix, name) = file
            .rsplit_once('/')
            .filter(|(p, n)| !n.is_empty() && p.len() > "s3:/".len())
            .ok_or_else(|| Failure::usage(format!("{file}: expected s3://bucket/prefix/name")))?;
        return Ok((
            covet_backup::sink_for(prefix).map_err(fail)?,
            name.to_owned(),
        ));
    }
    covet_backup::sink_for_file(std::path::Path::new(file)).map_err(fail)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupt() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A token cancelled on Ctrl-C or SIGTERM, for the library's own clean-up.
fn cancel_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        interrupt().await;
        t.cancel();
    });
    token
}

/// Runs `fut` unless Ctrl-C or SIGTERM comes first; then `fut` is dropped,
/// and the guards of what it made remove it.
async fn until_interrupted<T>(fut: impl std::future::Future<Output = T>) -> Result<T, Failure> {
    tokio::select! {
        r = fut => Ok(r),
        () = interrupt() => Err(Failure {
            code: INTERRUPTED,
            message: "interrupted; the partial output was removed".into(),
        }),
    }
}

fn report_leftovers(l: &covet_backup::Leftovers) {
    for d in &l.dropped {
        eprintln!("covet: dropped {d}, left by an interrupted restore or drill");
    }
    for k in &l.kept {
        eprintln!("covet: found {k}");
    }
}

struct Facade;

#[async_trait]
impl Connector for Facade {
    async fn connect(&self, url: &DatabaseUrl) -> covet::Result<Arc<dyn Adapter>> {
        covet::connect(url.clone()).await
    }
}

fn database_label(url: &DatabaseUrl) -> String {
    url.database()
        .map(str::to_owned)
        .or_else(|| {
            url.sqlite_path()
                .and_then(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "db".into())
}

/// Progress on stderr: a bar on a terminal, a plain line every few seconds
/// otherwise.
fn progress(label: &'static str) -> (ProgressFn, Box<dyn Fn() + Send + Sync>) {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {human_pos}/{human_len} rows, {msg} ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(label);
        let b = bar.clone();
        let f: ProgressFn = Arc::new(move |p: &Progress| {
            if let Some(t) = p.rows_total {
                b.set_length(t.max(p.rows));
            } else {
                b.set_length(p.rows);
            }
            b.set_position(p.rows);
            b.set_message(format!(
                "{}, {}/{} tables",
                indicatif::HumanBytes(p.bytes),
                p.tables_done,
                p.tables
            ));
        });
        (f, Box::new(move || bar.finish_and_clear()))
    } else {
        let last = Mutex::new(Instant::now());
        let start = Instant::now();
        let f: ProgressFn = Arc::new(move |p: &Progress| {
            let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
            if l.elapsed() >= Duration::from_secs(2) {
                *l = Instant::now();
                let secs = start.elapsed().as_secs_f64().max(0.001);
                eprintln!(
                    "{label}: {} rows, {} bytes, {:.0} rows/s, {}/{} tables",
                    p.rows,
                    p.bytes,
                    p.rows as f64 / secs,
                    p.tables_done,
                    p.tables
                );
            }
        });
        (f, Box::new(|| {}))
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
