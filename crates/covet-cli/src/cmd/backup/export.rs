//! `covet backup export`: write a backup as plain SQL, to stdout or to a
//! file that appears only when complete.

use std::path::PathBuf;

use super::{KeyArgs, fail, key_source, locate, until_interrupted};
use crate::cmd::Failure;

/// Arguments of `covet backup export`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
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
}

/// Runs `covet backup export`. The SQL is the output, so `--json` changes
/// nothing here.
pub(super) async fn run(args: Args) -> Result<(), Failure> {
    let Args {
        file,
        format,
        out,
        key,
    } = args;
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
    Ok(())
}
