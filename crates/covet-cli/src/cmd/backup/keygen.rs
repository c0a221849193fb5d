//! `covet backup keygen`: write a new random key file, readable by its
//! owner only and never overwriting one.

use std::path::PathBuf;

use serde_json::json;

use super::fail;
use crate::cmd::Failure;

/// Arguments of `covet backup keygen`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The file to create (never overwritten).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `covet backup keygen`.
pub(super) fn run(args: Args, json_out: bool) -> Result<(), Failure> {
    let out = args.out;
    let id = covet_backup::generate_key_file(&out).map_err(fail)?;
    if json_out {
        println!("{}", json!({ "key_file": out, "key_id": id }));
    } else {
        println!(
            "wrote key {id} to {} (keep a copy: backups cannot be read without it)",
            out.display()
        );
    }
    Ok(())
}
