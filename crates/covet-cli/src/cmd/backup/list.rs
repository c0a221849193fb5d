//! `covet backup list`: the complete backups in a location, newest first.

use serde_json::json;

use super::fail;
use crate::cmd::Failure;
use crate::cmd::out::outln;

/// Arguments of `covet backup list`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// A directory, or s3://bucket/prefix.
    #[arg(long)]
    to: String,
}

/// Runs `covet backup list`.
pub(super) async fn run(args: Args, json_out: bool) -> Result<(), Failure> {
    let sink = covet_backup::sink_for(&args.to).map_err(fail)?;
    let mut entries = sink.list().await.map_err(fail)?;
    // PITR's sealed objects share the location; `covet pitr` lists them.
    entries.retain(|e| !covet_backup::object::is_object_entry(e));
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
    Ok(())
}
