//! `covet slow-queries`: rank the fingerprints of a JSON-lines slow log
//! (written by covet-monitor's `JsonLinesSink`).

use std::path::PathBuf;

use covet_monitor::report::{RankBy, load, render_json, render_table, summarize};

use super::Failure;
use super::out::{self, outln};

/// Arguments of `covet slow-queries`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The slow log (JSON lines).
    #[arg(long)]
    log: PathBuf,
    /// How many fingerprints to show.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Rank by total time, mean time, number of calls, or the longest call.
    #[arg(long, default_value = "total", value_parser = ["total", "mean", "count", "max"])]
    by: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `covet slow-queries`.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let by: RankBy = args.by.parse().map_err(Failure::usage)?;
    let records = load(&args.log).map_err(|e| match e {
        covet_monitor::report::ReportError::Parse { .. } => Failure::usage(e),
        other => Failure::failed(other),
    })?;
    let rows = summarize(&records, by, args.top);
    if args.json {
        outln!("{}", render_json(&rows))
    } else if rows.is_empty() {
        outln!("no slow statements in {}", args.log.display())
    } else {
        out::print(render_table(&rows))
    }
}
