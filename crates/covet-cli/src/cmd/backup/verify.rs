//! `covet backup verify`: check a backup without a database (every tag,
//! checksum and count).

use serde_json::json;

use super::{KeyArgs, fail, key_source, locate, secs};
use crate::cmd::Failure;

/// Arguments of `covet backup verify`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The backup: a file path or s3://bucket/prefix/name.
    #[arg(long)]
    file: String,
    #[command(flatten)]
    key: KeyArgs,
}

/// Runs `covet backup verify`.
pub(super) async fn run(args: Args, json_out: bool) -> Result<(), Failure> {
    let Args { file, key } = args;
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
    Ok(())
}
