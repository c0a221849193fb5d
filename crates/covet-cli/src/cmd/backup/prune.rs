//! `covet backup prune`: delete backups outside the retention policy and
//! partial files that interrupted backups left.

use chrono::Utc;
use covet_backup::retention::{self, RetentionPolicy};
use serde_json::json;

use super::{KeyArgs, fail, key_source};
use crate::cmd::Failure;

/// Arguments of `covet backup prune`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
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
}

/// Runs `covet backup prune`.
pub(super) async fn run(args: Args, json_out: bool) -> Result<(), Failure> {
    let Args {
        to,
        keep,
        dry_run,
        key,
    } = args;
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
    Ok(())
}
