//! One module per subcommand. To add one: write `src/cmd/<name>.rs` with
//! an `Args` struct (clap `Args`) and `pub async fn run(args: Args) ->
//! Result<(), Failure>` (or `anyhow::Result<()>`, which converts), then add
//! a `mod` line, a variant to [`Command`] and an arm to [`Command::run`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use covet::{Adapter, DatabaseUrl, ErrorKind};

pub mod backup;
pub mod loadtest;
pub mod out;
pub mod ping;
pub mod slow_queries;
pub mod sql;

const AFTER_HELP: &str = "\
Database URL: --db, else $COVET_DATABASE_URL, else the embedded SQLite
database ./covet.db (created when missing). Examples:
  postgres://user:password@host:5432/db?sslmode=require
  mysql://user:password@host:3306/db      (MariaDB too)
  sqlite://path/to/file.db   sqlite::memory:

Exit codes:
  0  success
  1  the command failed (database error, failed setup, unwritable report)
  2  bad usage (arguments, URL, scenario file, unknown statement, SLO syntax)
  3  the database could not be reached (refused, unreachable, wrong password)
  4  a --slo objective was missed
  5  loadtest: the error rate was above --max-error-rate (default 1%)
  130, 143  interrupted by SIGINT (Ctrl-C) or SIGTERM; loadtest wrote the
     report of what it measured";

/// Covet's command-line tool.
#[derive(Debug, Parser)]
#[command(name = "covet", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Connect, print the server version and the round-trip time.
    Ping(ping::Args),
    /// Run one SQL statement and print its rows as a table.
    Sql(sql::Args),
    /// Open-loop load test (the embedded SQLite database when no --db).
    Loadtest(Box<loadtest::Args>),
    /// Rank the statements of a slow-query log (JSON lines).
    SlowQueries(slow_queries::Args),
    /// Encrypted, verified backups: create, list, verify, restore, drill, prune, schedule, export.
    Backup(backup::Args),
}

impl Command {
    /// Runs the subcommand.
    pub async fn run(self) -> Result<(), Failure> {
        match self {
            Command::Ping(a) => ping::run(a).await,
            Command::Sql(a) => sql::run(a).await,
            Command::Loadtest(a) => loadtest::run(*a).await,
            Command::SlowQueries(a) => slow_queries::run(a).await,
            Command::Backup(a) => backup::run(a).await,
        }
    }
}

/// Exit codes.
pub mod exit {
    /// The command failed.
    pub const FAILURE: u8 = 1;
    /// Bad usage: arguments, URL, scenario file, statement name, SLO.
    pub const USAGE: u8 = 2;
    /// The database could not be reached.
    pub const UNREACHABLE: u8 = 3;
    /// An SLO was missed.
    pub const SLO_MISSED: u8 = 4;
    /// A load test's error rate was above its bound.
    pub const ERROR_RATE: u8 = 5;
    /// Interrupted by SIGINT (128 + 2).
    pub const INTERRUPTED: u8 = 130;
    /// Terminated by SIGTERM (128 + 15).
    pub const TERMINATED: u8 = 143;
}

/// The database option every database command shares.
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Database URL (its password is never printed).
    #[arg(
        long,
        env = "COVET_DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://covet.db"
    )]
    pub db: String,
}

/// A failure to report: a one-line message and an exit code.
#[derive(Debug)]
pub struct Failure {
    /// The process exit code.
    pub code: u8,
    /// One line for people, never containing a password.
    pub message: String,
}

impl Failure {
    /// Bad usage (exit code 2).
    pub fn usage(message: impl fmt::Display) -> Self {
        Failure {
            code: exit::USAGE,
            message: message.to_string(),
        }
    }

    /// A failed command (exit code 1).
    pub fn failed(message: impl fmt::Display) -> Self {
        Failure {
            code: exit::FAILURE,
            message: message.to_string(),
        }
    }

    /// Adds context in front of the message.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

/// The exit code a database error implies.
pub fn code_for(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Config => exit::USAGE,
        ErrorKind::Connection
        | ErrorKind::Auth
        | ErrorKind::PoolTimeout
        | ErrorKind::TooManyConnections
        | ErrorKind::Closed => exit::UNREACHABLE,
        _ => exit::FAILURE,
    }
}

/// Keeps a message on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl From<covet::Error> for Failure {
    fn from(e: covet::Error) -> Self {
        Failure {
            code: code_for(e.kind()),
            message: one_line(&e.to_string()),
        }
    }
}

impl From<covet_loadtest::LoadtestError> for Failure {
    fn from(e: covet_loadtest::LoadtestError) -> Self {
        use covet_loadtest::LoadtestError as L;
        match e {
            L::Db(db) => db.into(),
            L::Io { .. } => Failure::failed(one_line(&e.to_string())),
            other => Failure::usage(one_line(&other.to_string())),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        let code = e
            .chain()
            .find_map(|c| c.downcast_ref::<covet::Error>())
            .map_or(exit::FAILURE, |db| code_for(db.kind()));
        Failure {
            code,
            message: one_line(&format!("{e:#}")),
        }
    }
}

/// Parses `--db` with a clear message (exit code 2 when malformed).
pub fn parse_url(raw: &str) -> Result<DatabaseUrl, Failure> {
    DatabaseUrl::parse(raw).map_err(|e| Failure::usage(one_line(&e.to_string())))
}

/// Connects, timing it. Errors name the URL without its password.
pub async fn connect(url: &DatabaseUrl) -> Result<(Arc<dyn Adapter>, Duration), Failure> {
    let t0 = Instant::now();
    match covet::connect(url).await {
        Ok(a) => Ok((a, t0.elapsed())),
        Err(e) => {
            let f = Failure::from(e);
            let what = if f.code == exit::USAGE {
                "invalid settings for"
            } else {
                "cannot connect to"
            };
            Err(f.context(format!("{what} {url}")))
        }
    }
}

/// Formats a duration as milliseconds with sensible precision.
pub fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e3;
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 1.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.3} ms")
    }
}
