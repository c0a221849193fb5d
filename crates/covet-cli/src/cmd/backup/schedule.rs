//! `covet backup schedule`: run backups on a schedule (UTC), pruning after
//! each, and report every run as it happens.

use std::sync::Arc;

use chrono::Utc;
use covet_backup::retention::{self, RetentionPolicy};
use covet_backup::schedule::{self, Schedule, ScheduleEvent};
use covet_backup::{BackupError, WriteOptions};
use serde_json::json;

use super::create::{Scope, create_once};
use super::{KeyArgs, encryption, fail, key_source};
use crate::cmd::{Failure, PasswordArgs, resolve_url};

/// Arguments of `covet backup schedule`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
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
    #[command(flatten)]
    scope: Scope,
}

/// Runs `covet backup schedule`.
pub(super) async fn run(args: Args, json_out: bool) -> Result<(), Failure> {
    let Args {
        db,
        password,
        to,
        at,
        keep,
        key,
        compression,
        no_encryption,
        runs,
        scope,
    } = args;
    let url = resolve_url(&db, &password)?;
    let sched: Schedule = at.parse().map_err(fail)?;
    let policy: Option<RetentionPolicy> = keep.map(|k| k.parse()).transpose().map_err(fail)?;
    let mut write = WriteOptions::new(encryption(&key, no_encryption)?);
    write.compression = compression.parse().map_err(fail)?;
    let prune_key = key_source(&key)?;
    // Fail now on a bad location rather than at the first run.
    covet_backup::sink_for(&to).map_err(fail)?;
    if !json_out {
        println!("scheduling backups of {url} to {to}: {sched}");
    }
    let job = move |_planned| {
        let (url, to, write, prune_key, scope) = (
            url.clone(),
            to.clone(),
            write.clone(),
            prune_key.clone(),
            scope.clone(),
        );
        async move {
            let e = create_once(&url, &to, write, None, 2, scope, false)
                .await
                .map_err(|f| BackupError::Unsupported(f.message))?;
            let mut msg = format!("{} ({} rows, {} bytes)", e.name, e.rows, e.size);
            if let Some(p) = policy {
                let sink = covet_backup::sink_for(&to)?;
                let r = retention::prune(sink.as_ref(), p, prune_key.as_ref(), Utc::now(), false)
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
    Ok(())
}
