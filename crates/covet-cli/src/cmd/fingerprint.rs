//! `covet fingerprint`: print the fingerprint of each statement read from
//! a file or stdin, so users can check a grouping and scripts can use it.

use std::io::Read;
use std::path::PathBuf;

use covet::Engine;
use covet_monitor::fingerprint::{Fingerprinter, PgGrouping};

use super::Failure;
use super::out::Lines;

/// Arguments of `covet fingerprint`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Statements end at each `;` outside literals, quoted names and comments
(read as the dialect reads them); with --per-line, each non-empty line is
one statement instead. Compound bodies (BEGIN .. END with inner `;`) need
--per-line. One fingerprint is printed per statement, in input order.
Input need not be valid UTF-8.

Dialects: mysql (also MariaDB) groups as pt-query-digest does; postgres
groups by statement shape, or as pg_stat_statements does with
--pg-grouping query-id; sqlite; any (the default) reads a statement so
that no literal survives whichever engine it was written for.")]
pub(crate) struct Args {
    /// The SQL to read; stdin when absent or `-`.
    file: Option<PathBuf>,
    /// Whose SQL it is.
    #[arg(long, default_value = "any", value_parser = ["any", "mysql", "mariadb", "postgres", "sqlite"])]
    dialect: String,
    /// PostgreSQL grouping: `shape` (lists of any length are one query) or
    /// `query-id` (as pg_stat_statements groups).
    #[arg(long, default_value = "shape", value_parser = ["shape", "query-id"])]
    pg_grouping: String,
    /// One statement per line instead of `;`-separated statements.
    #[arg(long)]
    per_line: bool,
    /// Print the 16-hex-digit fingerprint id and a tab before each text.
    #[arg(long)]
    id: bool,
}

/// Runs `covet fingerprint`.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let engine = match args.dialect.as_str() {
        "mysql" | "mariadb" => Some(Engine::MySql),
        "postgres" => Some(Engine::Postgres),
        "sqlite" => Some(Engine::Sqlite),
        _ => None,
    };
    let grouping = if args.pg_grouping == "query-id" {
        PgGrouping::QueryId
    } else {
        PgGrouping::Shape
    };
    let fp = Fingerprinter::new(engine).pg_grouping(grouping);
    let input = match &args.file {
        Some(path) if path.as_os_str() != "-" => std::fs::read(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?,
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Failure::failed(format!("cannot read standard input: {e}")))?;
            buf
        }
    };
    let statements: Vec<&[u8]> = if args.per_line {
        input
            .split(|&b| b == b'\n')
            .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
            .collect()
    } else {
        fp.split(&input)
    };
    let mut out = Lines::default();
    for stmt in statements {
        let f = fp.fingerprint_bytes(stmt);
        if args.id {
            out.line(&format!("{}\t{}", f.hex(), f.text))?;
        } else {
            out.line(&f.text)?;
        }
    }
    out.flush()
}
