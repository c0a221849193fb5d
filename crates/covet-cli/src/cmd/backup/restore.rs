//! `covet backup restore`: restore a backup into a database, verified
//! first, stopped cleanly on Ctrl-C or SIGTERM.

use std::sync::Arc;

use covet_backup::RestoreOptions;
use serde_json::json;

use super::{
    Facade, KeyArgs, cancel_on_signal, fail, key_source, locate, progress, report_leftovers, secs,
};
use crate::cmd::{Failure, PasswordArgs, resolve_url};

/// Arguments of `covet backup restore`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
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
    /// MySQL/MariaDB: create views, triggers, routines and events with the
    /// DEFINER they had (by default the restoring user becomes their
    /// definer).
    #[arg(long)]
    keep_definers: bool,
    /// PostgreSQL: give each object the owner it had in the source (every
    /// owner must exist on the target server, or nothing is restored). By
    /// default the restoring user owns everything.
    #[arg(long)]
    owners: bool,
    /// PostgreSQL: rebuild each object's privileges (GRANTs, grant
    /// options, column privileges, revoked defaults) as the source had
    /// them (every role named must exist on the target server, or nothing
    /// is restored).
    #[arg(long)]
    grants: bool,
    /// Tables loaded at once, each over a connection of its own (MySQL;
    /// PostgreSQL into a database the restore creates, where keys and
    /// indexes are built as many at once too). The target URL's
    /// max_connections must allow one more.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    parallel: u16,
    #[command(flatten)]
    key: KeyArgs,
}

/// Runs `covet backup restore`.
pub(super) async fn run(args: Args, json_out: bool) -> Result<(), Failure> {
    let Args {
        file,
        db,
        password,
        replace,
        drop_others,
        keep_definers,
        owners,
        grants,
        parallel,
        key,
    } = args;
    let url = resolve_url(&db, &password)?;
    let (sink, name) = locate(&file)?;
    let cancel = cancel_on_signal();
    let mut opts = RestoreOptions {
        key: key_source(&key)?,
        replace,
        drop_others,
        keep_definers,
        owners,
        grants,
        parallelism: usize::from(parallel),
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
    Ok(())
}
