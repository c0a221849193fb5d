//! `covet backup`: create, list, verify, restore, drill, prune, schedule and
//! export backups. All logic lives in covet-backup; this module parses
//! arguments, shows progress and prints results.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use covet::{Adapter, DatabaseUrl, Secret};
use covet_backup::retention::{self, RetentionPolicy};
use covet_backup::schedule::{self, Schedule, ScheduleEvent};
use covet_backup::{
    BackupError, BackupSink, CancellationToken, Compression, Connector, CreateOptions, Encryption,
    KeySource, Progress, ProgressFn, RestoreOptions, WriteOptions,
};
use serde_json::json;

use super::out::outln;
use super::{Failure, PasswordArgs, code_for, exit, resolve_url};

/// Arguments of `covet backup`.
#[derive(Debug, clap::Args)]
pub struct Args {
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
    Create {
        /// The database to back up.
        #[arg(long, env = "COVET_DATABASE_URL", hide_env_values = true)]
        db: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// A directory, or s3://bucket/prefix.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        key: KeyArgs,
        /// Compression: zstd (default), gzip or none, optionally `:level`.
        #[arg(long, default_value = "zstd")]
        compression: String,
        /// Write an unencrypted backup (integrity checksums only).
        #[arg(long, conflicts_with_all = ["key_file", "passphrase_env"])]
        no_encryption: bool,
        /// The backup's name (default `<database>-<UTC time>.covet`).
        #[arg(long)]
        name: Option<String>,
        /// Tables exported at once (PostgreSQL).
        #[arg(long, default_value_t = 2)]
        parallel: usize,
    },
    /// List the complete backups in a location, newest first.
    List {
        /// A directory, or s3://bucket/prefix.
        #[arg(long)]
        to: String,
    },
    /// Check a backup without a database: every tag, checksum and count.
    Verify {
        /// The backup: a file path or s3://bucket/prefix/name.
        #[arg(long)]
        file: String,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Restore a backup into a database (verified first; created if missing).
    ///
    /// Staging databases that crashed restores left (covet_stage_*) are
    /// dropped first, once 15 minutes old and unused by any session. Ctrl-C
    /// or SIGTERM stops the restore, removes what it made and leaves the
    /// target as it was (exit code 130).
    Restore {
        /// The backup: a file path or s3://bucket/prefix/name.
        #[arg(long)]
        file: String,
        /// The target database.
        #[arg(long, env = "COVET_DATABASE_URL", hide_env_values = true)]
        db: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// Replace the tables of the target that the backup holds (dropped
        /// and recreated, without CASCADE). A target holding anything else
        /// the restore would drop (other tables; on PostgreSQL views,
        /// triggers or foreign keys on the replaced tables) is refused.
        #[arg(long)]
        replace: bool,
        /// With --replace, also drop what the target holds beyond the
        /// backup (listed on stderr, or under "dropped" with --json, before
        /// anything is dropped).
        #[arg(long, requires = "replace")]
        drop_others: bool,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Restore into a scratch database beside --db, compare with the
    /// manifest, report the RTO, drop the scratch database.
    Drill {
        /// The backup: a file path or s3://bucket/prefix/name.
        #[arg(long)]
        file: String,
        /// A database on the server to drill on (its name is not touched).
        #[arg(long, env = "COVET_DATABASE_URL", hide_env_values = true)]
        db: String,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Delete backups outside the retention policy (never the newest
    /// verified one), and partial files that interrupted backups left.
    Prune {
        /// A directory, or s3://bucket/prefix.
        #[arg(long)]
        to: String,
        /// `30d`, or `daily=7,weekly=4,monthly=12`.
        #[arg(long, default_value = "30d")]
        keep: String,
        /// Show what would be deleted without deleting.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Run backups on a schedule (UTC), pruning after each.
    Schedule {
        /// The database to back up.
        #[arg(long, env = "COVET_DATABASE_URL", hide_env_values = true)]
        db: String,
        #[command(flatten)]
        password: PasswordArgs,
        /// A directory, or s3://bucket/prefix.
        #[arg(long)]
        to: String,
        /// `daily@02:30`, `every@6h`, or a cron expression (`0 3 * * *`).
        #[arg(long)]
        at: String,
        /// Retention applied after each backup (`30d`, `daily=7,...`);
        /// none when absent.
        #[arg(long)]
        keep: Option<String>,
        #[command(flatten)]
        key: KeyArgs,
        /// Compression: zstd (default), gzip or none.
        #[arg(long, default_value = "zstd")]
        compression: String,
        /// Write unencrypted backups.
        #[arg(long, conflicts_with_all = ["key_file", "passphrase_env"])]
        no_encryption: bool,
        /// Stop after this many runs (default: run until stopped).
        #[arg(long)]
        runs: Option<u64>,
    },
    /// Write a backup as plain SQL.
    Export {
        /// The backup: a file path or s3://bucket/prefix/name.
        #[arg(long)]
        file: String,
        /// The output format (only `sql`).
        #[arg(long, default_value = "sql")]
        format: String,
        /// Where to write (default stdout). The file is created readable by
        /// its owner only (it holds the data), written beside the path and
        /// renamed to it only when complete.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Write a new random key file (readable by its owner only).
    Keygen {
        /// The file to create (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
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
    if let Some(f) = &k.key_file {
        return Ok(Some(KeySource::File(f.clone())));
    }
    if let Some(var) = &k.passphrase_env {
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

use super::exit::INTERRUPTED;

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

async fn create_once(
    url: &DatabaseUrl,
    to: &str,
    write: WriteOptions,
    name: Option<String>,
    parallel: usize,
    show: bool,
) -> Result<covet_backup::BackupEntry, Failure> {
    let sink = covet_backup::sink_for(to).map_err(fail)?;
    let (adapter, _) = super::connect(url).await?;
    let mut opts = CreateOptions::new(write);
    opts.name = name;
    opts.parallelism = parallel.max(1);
    let done = if show {
        let (f, done) = progress("backup");
        opts.progress = Some(f);
        Some(done)
    } else {
        None
    };
    let r = covet_backup::create_backup(adapter.clone(), &database_label(url), sink.as_ref(), opts)
        .await;
    if let Some(d) = done {
        d();
    }
    adapter.close().await;
    r.map_err(fail)
}

/// Runs `covet backup`.
pub async fn run(args: Args) -> Result<(), Failure> {
    let json_out = args.json;
    match args.command {
        Sub::Create {
            db,
            password,
            to,
            key,
            compression,
            no_encryption,
            name,
            parallel,
        } => {
            let url = resolve_url(&db, &password)?;
            let compression: Compression = compression.parse().map_err(fail)?;
            let mut write = WriteOptions::new(encryption(&key, no_encryption)?);
            write.compression = compression;
            let t = Instant::now();
            // An interrupt drops the export: the sink's writer removes its
            // partial file as it goes.
            let e = until_interrupted(Box::pin(create_once(
                &url, &to, write, name, parallel, !json_out,
            )))
            .await??;
            let el = t.elapsed();
            if json_out {
                println!("{}", json!({ "backup": e, "seconds": el.as_secs_f64() }));
            } else {
                println!(
                    "created {} in {}: {} tables, {} rows, {} bytes ({:.1} MB/s), {}{}",
                    e.name,
                    secs(el),
                    e.tables,
                    e.rows,
                    e.size,
                    e.size as f64 / 1e6 / el.as_secs_f64().max(1e-9),
                    e.compression,
                    e.key_id
                        .as_deref()
                        .map(|k| format!(", encrypted with key {k}"))
                        .unwrap_or_else(|| ", NOT encrypted".into())
                );
            }
        }
        Sub::List { to } => {
            let sink = covet_backup::sink_for(&to).map_err(fail)?;
            let entries = sink.list().await.map_err(fail)?;
            if json_out {
                outln!("{}", json!(entries))?;
            } else if entries.is_empty() {
                outln!("no backups in {}", sink.describe())?;
            } else {
                for e in entries {
                    outln!(
                        "{}  {}  {} {}  {} tables  {} rows  {} bytes  {}",
                        e.name,
                        e.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        e.engine,
                        e.database,
                        e.tables,
                        e.rows,
                        e.size,
                        if e.encrypted {
                            "encrypted"
                        } else {
                            "unencrypted"
                        }
                    )?;
                }
            }
        }
        Sub::Verify { file, key } => {
            let (sink, name) = locate(&file)?;
            let k = key_source(&key)?;
            let r = covet_backup::verify(sink.as_ref(), &name, k.as_ref())
                .await
                .map_err(fail)?;
            if json_out {
                println!(
                    "{}",
                    json!({ "ok": true, "manifest": r.manifest, "chunks": r.chunks, "bytes": r.bytes, "sha256": r.sha256, "seconds": r.elapsed.as_secs_f64() })
                );
            } else {
                println!(
                    "ok: {name} verified in {} ({} chunks, {} tables, {} rows, sha256 {})",
                    secs(r.elapsed),
                    r.chunks,
                    r.manifest.totals.tables,
                    r.manifest.totals.rows,
                    r.sha256
                );
                for w in &r.manifest.warnings {
                    println!("warning recorded at backup time: {w}");
                }
            }
        }
        Sub::Restore {
            file,
            db,
            password,
            replace,
            drop_others,
            key,
        } => {
            let url = resolve_url(&db, &password)?;
            let (sink, name) = locate(&file)?;
            let cancel = cancel_on_signal();
            let mut opts = RestoreOptions {
                key: key_source(&key)?,
                replace,
                drop_others,
                cancel: Some(cancel),
                ..Default::default()
            };
            if !json_out {
                opts.on_drop = Some(Arc::new(|p: &covet_backup::DropPlan| {
                    let mut line = format!(
                        "covet: dropping from the target: {} replaced table(s)",
                        p.replaced.len()
                    );
                    if !p.others.is_empty() {
                        line.push_str(&format!(
                            ", and {} other object(s): {}",
                            p.others.len(),
                            p.others.join(", ")
                        ));
                    }
                    eprintln!("{line}");
                }));
            }
            let done = (!json_out).then(|| {
                let (f, done) = progress("restore");
                opts.progress = Some(f);
                done
            });
            let r = Box::pin(covet_backup::restore(
                sink.as_ref(),
                &name,
                &url,
                &Facade,
                &opts,
            ))
            .await;
            if let Some(d) = done {
                d();
            }
            let r = r.map_err(fail)?;
            if json_out {
                println!(
                    "{}",
                    json!({ "restored": name, "target": url.to_string(), "rows": r.rows, "verify_seconds": r.verify_time.as_secs_f64(), "load_seconds": r.load_time.as_secs_f64(), "dropped": r.dropped, "leftovers": r.leftovers })
                );
            } else {
                report_leftovers(&r.leftovers);
                println!(
                    "restored {name} into {url}: {} rows (verify {}, load {})",
                    r.rows,
                    secs(r.verify_time),
                    secs(r.load_time)
                );
            }
        }
        Sub::Drill {
            file,
            db,
            password,
            key,
        } => {
            let url = resolve_url(&db, &password)?;
            let (sink, name) = locate(&file)?;
            let k = key_source(&key)?;
            let cancel = cancel_on_signal();
            let r = Box::pin(covet_backup::drill_cancellable(
                sink.as_ref(),
                &name,
                &url,
                &Facade,
                k.as_ref(),
                Some(&cancel),
            ))
            .await
            .map_err(fail)?;
            if json_out {
                let tables: Vec<_> = r
                    .tables
                    .iter()
                    .map(|t| json!({ "table": t.name, "expected_rows": t.expected_rows, "restored_rows": t.restored_rows, "checksum_equal": t.checksum_equal }))
                    .collect();
                println!(
                    "{}",
                    json!({ "passed": r.passed, "rto_seconds": r.rto.as_secs_f64(), "scratch": r.scratch, "tables": tables, "leftovers": r.leftovers })
                );
            } else {
                report_leftovers(&r.leftovers);
                for t in &r.tables {
                    println!(
                        "{:<30} rows {:>10} / {:<10} checksum {}",
                        t.name,
                        t.restored_rows,
                        t.expected_rows,
                        if t.checksum_equal { "equal" } else { "DIFFERS" }
                    );
                }
                println!(
                    "drill {}: RTO {} (verify + restore into {}, dropped)",
                    if r.passed { "passed" } else { "FAILED" },
                    secs(r.rto),
                    r.scratch
                );
            }
            if !r.passed {
                return Err(Failure::failed(
                    "drill failed: restored tables differ from the manifest",
                ));
            }
        }
        Sub::Prune {
            to,
            keep,
            dry_run,
            key,
        } => {
            let sink = covet_backup::sink_for(&to).map_err(fail)?;
            let policy: RetentionPolicy = keep.parse().map_err(fail)?;
            let k = key_source(&key)?;
            let r = retention::prune(sink.as_ref(), policy, k.as_ref(), Utc::now(), dry_run)
                .await
                .map_err(fail)?;
            if json_out {
                println!(
                    "{}",
                    json!({ "newest_verified": r.newest_verified, "fully_verified": r.fully_verified, "kept": r.plan.keep, "deleted": r.plan.delete, "dry_run": dry_run, "stale_partials_removed": r.stale_partials })
                );
            } else {
                println!(
                    "newest verified backup: {}{}",
                    r.newest_verified,
                    if r.fully_verified {
                        ""
                    } else {
                        " (checked against its index entry; give the key to verify fully)"
                    }
                );
                for (n, why) in &r.plan.keep {
                    println!("keep   {n} ({why})");
                }
                for n in &r.plan.delete {
                    println!("{} {n}", if dry_run { "would delete" } else { "deleted" });
                }
                for f in &r.stale_partials {
                    println!("removed {f} (partial file of an interrupted backup)");
                }
            }
        }
        Sub::Schedule {
            db,
            password,
            to,
            at,
            keep,
            key,
            compression,
            no_encryption,
            runs,
        } => {
            let url = resolve_url(&db, &password)?;
            let sched: Schedule = at.parse().map_err(fail)?;
            let policy: Option<RetentionPolicy> =
                keep.map(|k| k.parse()).transpose().map_err(fail)?;
            let mut write = WriteOptions::new(encryption(&key, no_encryption)?);
            write.compression = compression.parse().map_err(fail)?;
            let prune_key = key_source(&key)?;
            // Fail now on a bad location rather than at the first run.
            covet_backup::sink_for(&to).map_err(fail)?;
            if !json_out {
                println!("scheduling backups of {url} to {to}: {sched}");
            }
            let job = move |_planned| {
                let (url, to, write, prune_key) =
                    (url.clone(), to.clone(), write.clone(), prune_key.clone());
                async move {
                    let e = create_once(&url, &to, write, None, 2, false)
                        .await
                        .map_err(|f| BackupError::Unsupported(f.message))?;
                    let mut msg = format!("{} ({} rows, {} bytes)", e.name, e.rows, e.size);
                    if let Some(p) = policy {
                        let sink = covet_backup::sink_for(&to)?;
                        let r = retention::prune(
                            sink.as_ref(),
                            p,
                            prune_key.as_ref(),
                            Utc::now(),
                            false,
                        )
                        .await?;
                        msg.push_str(&format!(", pruned {}", r.plan.delete.len()));
                    }
                    Ok(msg)
                }
            };
            let on_event = Arc::new(move |e: &ScheduleEvent| {
                let line = match e {
                    ScheduleEvent::Waiting(t) => json!({ "event": "waiting", "next": t }),
                    ScheduleEvent::Started(t) => json!({ "event": "started", "planned": t }),
                    ScheduleEvent::Finished { planned, message } => {
                        json!({ "event": "finished", "planned": planned, "backup": message })
                    }
                    ScheduleEvent::Failed { planned, error } => {
                        json!({ "event": "failed", "planned": planned, "error": error })
                    }
                    ScheduleEvent::Missed { planned, reason } => {
                        json!({ "event": "missed", "planned": planned, "reason": format!("{reason:?}") })
                    }
                };
                if json_out {
                    println!("{line}");
                } else {
                    match e {
                        ScheduleEvent::Waiting(t) => println!("next run at {t}"),
                        ScheduleEvent::Started(t) => println!("run planned for {t} started"),
                        ScheduleEvent::Finished { message, .. } => {
                            println!("backup done: {message}");
                        }
                        ScheduleEvent::Failed { planned, error } => {
                            eprintln!("covet: backup planned for {planned} failed: {error}");
                        }
                        ScheduleEvent::Missed { planned, reason } => {
                            eprintln!("covet: missed the run planned for {planned} ({reason:?})");
                        }
                    }
                }
            });
            schedule::run_schedule(&sched, job, on_event, runs).await;
        }
        Sub::Export {
            file,
            format,
            out,
            key,
        } => {
            if format != "sql" {
                return Err(Failure::usage(format!(
                    "--format {format}: only `sql` is supported"
                )));
            }
            let (sink, name) = locate(&file)?;
            let k = key_source(&key)?;
            let rows = match &out {
                // Written beside the path and renamed when complete; an
                // interrupt drops the future, whose guard removes the file.
                Some(path) => until_interrupted(Box::pin(covet_backup::export_sql_to_file(
                    sink.as_ref(),
                    &name,
                    k.as_ref(),
                    path,
                )))
                .await?
                .map_err(fail)?,
                None => {
                    let mut w = std::io::BufWriter::new(std::io::stdout());
                    let n = covet_backup::export_sql(sink.as_ref(), &name, k.as_ref(), &mut w)
                        .await
                        .map_err(fail)?;
                    std::io::Write::flush(&mut w)
                        .map_err(|e| Failure::failed(format!("cannot write stdout: {e}")))?;
                    n
                }
            };
            if out.is_some() {
                eprintln!("exported {rows} rows as SQL");
            }
        }
        Sub::Keygen { out } => {
            let id = covet_backup::generate_key_file(&out).map_err(fail)?;
            if json_out {
                println!("{}", json!({ "key_file": out, "key_id": id }));
            } else {
                println!(
                    "wrote key {id} to {} (keep a copy: backups cannot be read without it)",
                    out.display()
                );
            }
        }
    }
    Ok(())
}
