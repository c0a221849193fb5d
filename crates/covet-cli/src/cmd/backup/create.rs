//! `covet backup create`: one backup of every table from one consistent
//! snapshot, and the single run that `schedule` repeats.

use std::time::Instant;

use covet::DatabaseUrl;
use covet_backup::{Compression, CreateOptions, WriteOptions};
use serde_json::json;

use super::{KeyArgs, database_label, encryption, fail, progress, secs, until_interrupted};
use crate::cmd::{Failure, PasswordArgs, resolve_url};

/// Arguments of `covet backup create`.
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
    #[command(flatten)]
    scope: Scope,
}

/// What a backup covers.
#[derive(Debug, Clone, Default, clap::Args)]
pub(super) struct Scope {
    /// PostgreSQL: back up only this schema (repeat for several; default
    /// every non-system schema).
    #[arg(long = "schema", value_name = "NAME")]
    schemas: Vec<String>,
    /// Leave out an object the backup would refuse, named as the refusal
    /// names it, e.g. `operator public.===(integer,integer)` on PostgreSQL,
    /// `sequence s1` on MariaDB or `virtual table stats` (a dbstat, csv or
    /// extension module) on SQLite (repeatable).
    #[arg(long, value_name = "KIND NAME")]
    exclude: Vec<String>,
}

/// Runs `covet backup create`.
pub(super) async fn run(args: Args, json_out: bool) -> Result<(), Failure> {
    let Args {
        db,
        password,
        to,
        key,
        compression,
        no_encryption,
        name,
        parallel,
        scope,
    } = args;
    let url = resolve_url(&db, &password)?;
    let compression: Compression = compression.parse().map_err(fail)?;
    let mut write = WriteOptions::new(encryption(&key, no_encryption)?);
    write.compression = compression;
    let t = Instant::now();
    // An interrupt drops the export: the sink's writer removes its
    // partial file as it goes.
    let e = until_interrupted(Box::pin(create_once(
        &url, &to, write, name, parallel, scope, !json_out,
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
    Ok(())
}

/// Connects, writes one backup to `to` and closes the connection; progress
/// on stderr when `show`.
pub(super) async fn create_once(
    url: &DatabaseUrl,
    to: &str,
    write: WriteOptions,
    name: Option<String>,
    parallel: usize,
    scope: Scope,
    show: bool,
) -> Result<covet_backup::BackupEntry, Failure> {
    let sink = covet_backup::sink_for(to).map_err(fail)?;
    let (adapter, _) = crate::cmd::connect(url).await?;
    let mut opts = CreateOptions::new(write);
    opts.name = name;
    opts.parallelism = parallel.max(1);
    opts.schemas = scope.schemas;
    opts.exclude = scope.exclude;
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
