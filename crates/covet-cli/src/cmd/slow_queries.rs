//! `covet slow-queries`: rank the fingerprints of a JSON-lines slow log
//! (written by covet-monitor's `JsonLinesSink`), of the server's own
//! statement statistics (`--server`), or of both joined per fingerprint.

use std::path::PathBuf;

use covet_monitor::report::{RankBy, load, render_json, render_table, summarize};
use covet_monitor::server::{self, ServerStatsError};

use super::out::{self, outln};
use super::{DbArgs, Failure, connect};

/// Arguments of `covet slow-queries`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The slow log (JSON lines). With --server, joined with the server's
    /// statistics per fingerprint.
    #[arg(long, required_unless_present = "server")]
    log: Option<PathBuf>,
    /// Read the server's statement statistics (pg_stat_statements on
    /// PostgreSQL, performance_schema digests on MySQL/MariaDB) from --db.
    #[arg(long)]
    server: bool,
    #[command(flatten)]
    db: DbArgs,
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
    let records = match &args.log {
        Some(log) => Some(load(log).map_err(|e| match e {
            covet_monitor::report::ReportError::Parse { .. } => Failure::usage(e),
            other => Failure::failed(other),
        })?),
        None => None,
    };
    if !args.server {
        let (Some(records), Some(log)) = (records, &args.log) else {
            return Err(Failure::usage("--log or --server is required"));
        };
        let rows = summarize(&records, by, args.top);
        return if args.json {
            outln!("{}", render_json(&rows))
        } else if rows.is_empty() {
            outln!("no slow statements in {}", log.display())
        } else {
            out::print(render_table(&rows))
        };
    }
    let url = args.db.resolve()?;
    let (db, _) = connect(&url).await?;
    let stats = server::read(db.as_ref()).await;
    db.close().await;
    let stats = stats.map_err(|e| match e {
        ServerStatsError::Unavailable(_) => Failure::failed(e),
        other => Failure::failed(other).context(format!("on {url}")),
    })?;
    match records {
        None => {
            let rows = server::rank(stats.rows, by, args.top);
            if args.json {
                outln!("{}", server::render_json(&rows))
            } else if rows.is_empty() {
                outln!("no statements in {} for {url}", stats.source.as_str())
            } else {
                outln!("from {} on {url}", stats.source.as_str())?;
                out::print(server::render_server_table(&rows))
            }
        }
        Some(records) => {
            let client = summarize(&records, by, usize::MAX);
            let rows = server::join(&client, &stats.rows, by, args.top);
            if args.json {
                outln!("{}", server::render_json(&rows))
            } else if rows.is_empty() {
                outln!("no statements in the slow log or {}", stats.source.as_str())
            } else {
                outln!(
                    "c.* = client (slow log: slow calls only, incl. pool wait and network); s.* = server ({}: every call, execution only)",
                    stats.source.as_str()
                )?;
                out::print(server::render_joined_table(&rows))
            }
        }
    }
}
