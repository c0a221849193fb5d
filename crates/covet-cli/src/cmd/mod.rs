//! One module per subcommand. To add one: write `src/cmd/<name>.rs` with
//! an `Args` struct (clap `Args`) and `pub async fn run(args: Args) ->
//! Result<(), Failure>` (or `anyhow::Result<()>`, which converts), then add
//! a `mod` line, a variant to [`Command`] and an arm to [`Command::run`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use covet::{Adapter, DatabaseUrl, ErrorKind, PasswordSources};
use covet_router::{Router, RouterError, RouterUrl};

pub(crate) mod backup;
pub(crate) mod fingerprint;
pub(crate) mod loadtest;
pub(crate) mod migrate;
pub(crate) mod orm;
pub(crate) mod out;
pub(crate) mod ping;
pub(crate) mod pitr;
pub(crate) mod slow_queries;
pub(crate) mod sql;

const AFTER_HELP: &str = "\
Database URL: --db, else $COVET_DATABASE_URL, else the embedded SQLite
database ./covet.db (created when missing; `backup` has no default). Examples:
  postgres://user@host:5432/db?sslmode=require
  mysql://user@host:3306/db      (MariaDB too)
  sqlite://path/to/file.db   sqlite::memory:

Password: keep it off the command line (every local user sees argv in `ps`).
A URL without one takes it from --password-file FILE (its first line), else
  PostgreSQL: $PGPASSWORD, else $PGPASSFILE or ~/.pgpass (libpq's format
              host:port:database:user:password; skipped unless chmod 0600)
  MySQL:      $MYSQL_PWD, else password= in the [client] group of ~/.my.cnf
A password written in the URL may hold any character unencoded except `%`
(write %25); an `@` in the database name or a query value must be %40.

Exit codes:
  0  success (also when stdout closes early: `covet ... | head` stops quietly)
  1  the command failed (database error, failed setup, unwritable report)
  2  bad usage (arguments, URL or its settings such as TLS required but not
     offered, scenario file, unknown statement, SLO syntax)
  3  the database could not be reached (refused, unreachable, wrong password)
  4  a --slo objective was missed
  5  loadtest: the error rate was above --max-error-rate (default 1%)
  6  loadtest compare: a --max-* threshold was crossed (a regression)
  126  pitr wal-fetch: an archived file exists but cannot be read (damaged,
       wrong key, storage error); PostgreSQL stops recovery on it instead of
       taking it for the end of the archive
  130  interrupted by Ctrl-C (SIGINT) or SIGTERM (loadtest still wrote the
       report of what it measured)";

/// Covet's command-line tool.
#[derive(Debug, Parser)]
#[command(name = "covet", version, about, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Connect, print the server version and the round-trip time.
    Ping(ping::Args),
    /// Run one SQL statement and print its rows as a table.
    Sql(sql::Args),
    /// Open-loop load test (the embedded SQLite database when no --db).
    Loadtest(Box<loadtest::Args>),
    /// Rank the statements of a slow-query log (JSON lines).
    SlowQueries(slow_queries::Args),
    /// Print the fingerprint of each SQL statement read from a file or stdin.
    Fingerprint(fingerprint::Args),
    /// Encrypted, verified backups: create, list, verify, restore, drill, prune, schedule, export.
    Backup(backup::Args),
    /// Schema migrations: new, up, down, status, lint, verify, resolve.
    Migrate(migrate::Args),
    /// The ORM's tools: generate models from an existing database.
    Orm(orm::Args),
    /// Point-in-time recovery: base backups, WAL archiving, binlog streaming, restore to a time.
    Pitr(pitr::Args),
}

impl Command {
    /// Runs the subcommand.
    pub(crate) async fn run(self) -> Result<(), Failure> {
        match self {
            Command::Ping(a) => ping::run(a).await,
            Command::Sql(a) => sql::run(a).await,
            Command::Loadtest(a) => loadtest::run(*a).await,
            Command::SlowQueries(a) => slow_queries::run(a).await,
            Command::Backup(a) => backup::run(a).await,
            Command::Fingerprint(a) => fingerprint::run(a).await,
            Command::Migrate(a) => migrate::run(a).await,
            Command::Orm(a) => orm::run(a).await,
            Command::Pitr(a) => pitr::run(a).await,
        }
    }
}

/// Exit codes.
pub(crate) mod exit {
    /// Success (also a quiet end when stdout closes early).
    pub(crate) const SUCCESS: u8 = 0;
    /// The command failed.
    pub(crate) const FAILURE: u8 = 1;
    /// Bad usage: arguments, URL, scenario file, statement name, SLO.
    pub(crate) const USAGE: u8 = 2;
    /// The database could not be reached.
    pub(crate) const UNREACHABLE: u8 = 3;
    /// An SLO was missed.
    pub(crate) const SLO_MISSED: u8 = 4;
    /// A load test's error rate was above its bound.
    pub(crate) const ERROR_RATE: u8 = 5;
    /// `loadtest compare`: the new run crossed a threshold.
    pub(crate) const REGRESSION: u8 = 6;
    /// `pitr wal-fetch`: an archived file cannot be read. PostgreSQL takes
    /// a `restore_command` exit up to 125 for "not archived" and ends
    /// recovery there; above 125 it stops with an error.
    pub(crate) const ARCHIVE_UNREADABLE: u8 = 126;
    /// Interrupted by SIGINT or SIGTERM (128 + 2, as shells report Ctrl-C;
    /// one code for both, so a script needs one check).
    pub(crate) const INTERRUPTED: u8 = 130;
}

/// The database options every database command shares.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DbArgs {
    /// Database URL (its password is never printed; better left out of it,
    /// see --password-file).
    #[arg(
        long,
        env = "COVET_DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://covet.db"
    )]
    pub db: String,
    #[command(flatten)]
    pub password: PasswordArgs,
}

impl DbArgs {
    /// The URL, with its password found as [`resolve_url`] does.
    pub(crate) fn resolve(&self) -> Result<DatabaseUrl, Failure> {
        resolve_url(&self.db, &self.password)
    }

    /// The URL, which may name a primary and its replicas (see
    /// [`DbTarget`]); passwords are found per host when connecting.
    pub(crate) fn resolve_target(&self) -> Result<DbTarget, Failure> {
        match router_url(&self.db) {
            Some(url) => Ok(DbTarget::Replicated(url?, self.password.clone())),
            None => self.resolve().map(DbTarget::One),
        }
    }
}

/// What `--db` names: one server, or a primary and its replicas (a host
/// list, `postgres://app@db1,db2:5433,db3/shop`). `Display` never shows a
/// password.
#[derive(Debug)]
pub(crate) enum DbTarget {
    /// One server.
    One(DatabaseUrl),
    /// A primary and its replicas, reached through a [`Router`].
    Replicated(RouterUrl, PasswordArgs),
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbTarget::One(u) => u.fmt(f),
            DbTarget::Replicated(u, _) => u.fmt(f),
        }
    }
}

/// `Some` when `raw` is a router URL naming more than one host, or is
/// malformed in a way only a router URL can be (a bad later host, a bad
/// `router_*` parameter); `None` leaves it to [`DatabaseUrl`]. Router
/// errors are fixed text that never repeats the URL.
pub(crate) fn router_url(raw: &str) -> Option<Result<RouterUrl, Failure>> {
    match RouterUrl::parse(raw) {
        Ok(u) if !u.replicas().is_empty() => Some(Ok(u)),
        Ok(_) => None,
        Err(e @ RouterError::Host { index, .. }) if index >= 2 => {
            Some(Err(Failure::usage(one_line(&e.to_string()))))
        }
        Err(e @ RouterError::Param { .. }) => Some(Err(Failure::usage(one_line(&e.to_string())))),
        Err(_) => None,
    }
}

/// Connects to what `--db` names: one server as [`connect`] does, or every
/// host of a router URL (each password found as [`resolve_url`] finds it)
/// behind a [`Router`], which is returned too for its per-target counts.
pub(crate) async fn connect_target(
    target: &DbTarget,
) -> Result<(Arc<dyn Adapter>, Option<Arc<Router>>), Failure> {
    let (url, password) = match target {
        DbTarget::One(url) => return connect(url).await.map(|(a, _)| (a, None)),
        DbTarget::Replicated(url, password) => (url, password),
    };
    let mut sources = PasswordSources::from_env();
    if let Some(file) = &password.password_file {
        sources = sources.password_file(file);
    }
    let name = |u: &DatabaseUrl| format!("{}:{}", u.host(), u.port());
    let open = |u: &DatabaseUrl| {
        let sources = sources.clone();
        let u = u.clone();
        async move {
            let found = u.resolve_password(&sources).map_err(|e| {
                let f = Failure::from(e);
                if f.code == exit::USAGE {
                    f
                } else {
                    Failure::failed(f.message)
                }
            })?;
            for w in &found.warnings {
                eprintln!("covet: warning: {w}");
            }
            connect(&found.url).await.map(|(a, _)| a)
        }
    };
    let settings = url.settings().clone();
    let mut builder = Router::builder()
        .settings(settings.clone())
        .failover(settings.failover)
        .primary(name(url.primary()), open(url.primary()).await?);
    for (i, r) in url.replicas().iter().enumerate() {
        let weight = settings.weights.get(i).copied().unwrap_or(1);
        builder = builder.replica(name(r), open(r).await?, weight);
    }
    let router = Arc::new(
        builder
            .build()
            .map_err(|e| Failure::usage(one_line(&e.to_string())))?,
    );
    if settings.failover {
        // Find the writable host before the first write, as the router's
        // own connect does.
        router.check_now().await;
    }
    Ok((Arc::clone(&router) as Arc<dyn Adapter>, Some(router)))
}

/// Where a password left out of the URL comes from, besides the
/// environment. Flattened into every command that takes a database.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct PasswordArgs {
    /// Read the database password from the first line of FILE. Without
    /// it, a URL with no password takes it from $PGPASSWORD, else
    /// $PGPASSFILE or ~/.pgpass (PostgreSQL), or from $MYSQL_PWD, else
    /// ~/.my.cnf [client] (MySQL).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// A failure to report: a one-line message and an exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The process exit code.
    pub code: u8,
    /// One line for people, never containing a password.
    pub message: String,
}

impl Failure {
    /// Bad usage (exit code 2).
    pub(crate) fn usage(message: impl fmt::Display) -> Self {
        Failure {
            code: exit::USAGE,
            message: message.to_string(),
        }
    }

    /// A failed command (exit code 1).
    pub(crate) fn failed(message: impl fmt::Display) -> Self {
        Failure {
            code: exit::FAILURE,
            message: message.to_string(),
        }
    }

    /// Adds context in front of the message.
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

/// The exit code a database error implies.
pub(crate) fn code_for(kind: ErrorKind) -> u8 {
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
pub(crate) fn parse_url(raw: &str) -> Result<DatabaseUrl, Failure> {
    DatabaseUrl::parse(raw).map_err(|e| Failure::usage(one_line(&e.to_string())))
}

/// Parses a URL and fills in a password it leaves out: `--password-file`,
/// then the engine's environment variable and password file (see
/// [`DatabaseUrl::resolve_password`]). Files skipped on the way (a pgpass
/// file others can read) are named on stderr, as libpq does. Errors never
/// contain the password: a bad URL or password file exits 2, an unreadable
/// file 1.
pub(crate) fn resolve_url(raw: &str, password: &PasswordArgs) -> Result<DatabaseUrl, Failure> {
    let url = parse_url(raw)?;
    let mut sources = PasswordSources::from_env();
    if let Some(file) = &password.password_file {
        sources = sources.password_file(file);
    }
    let found = url.resolve_password(&sources).map_err(|e| {
        let f = Failure::from(e);
        if f.code == exit::USAGE {
            f
        } else {
            Failure::failed(f.message)
        }
    })?;
    for w in &found.warnings {
        eprintln!("covet: warning: {w}");
    }
    Ok(found.url)
}

/// Connects, timing it. Errors name the URL without its password. The
/// password lookup already happened in [`resolve_url`], so the facade is
/// not asked to repeat it.
pub(crate) async fn connect(url: &DatabaseUrl) -> Result<(Arc<dyn Adapter>, Duration), Failure> {
    let t0 = Instant::now();
    match covet::connect_with(url, &PasswordSources::default()).await {
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
pub(crate) fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e3;
    if v >= 100.0 {
        format!("{v:.0} ms")
    } else if v >= 1.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.3} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::{PasswordArgs, resolve_url};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// What `covet` prints for a URL that does not parse is the same
        /// whatever the password (`%` aside, whose bad escapes are their own
        /// fixed message): no part of it can leak into the Failure.
        #[test]
        fn a_url_failure_does_not_depend_on_the_password(
            pw in prop_oneof!["[ -$&-~]{1,24}", "[^%]{1,16}"],
            scheme in prop::sample::select(vec!["postgres", "mysql", "mariadb"]),
            tail in prop::sample::select(vec![
                "h:99999/db", "h:x/db", "h:0", "[::1/db", "[::1]x/db", "h/db?sslmode", "h/db?=1", "h h/db",
            ]),
        ) {
            let failure = |pw: &str| {
                let url = format!("{scheme}://app:{pw}@{tail}");
                resolve_url(&url, &PasswordArgs::default()).map(|u| u.to_string())
            };
            let got = failure(&pw).map_err(|f| (f.code, f.message));
            let neutral = failure("x").map_err(|f| (f.code, f.message));
            prop_assert!(got.is_err(), "{:?}", got);
            prop_assert_eq!(got, neutral);
        }

        /// A URL naming several hosts goes to the router's parser: when it
        /// fails its message is the same whatever the password, and when it
        /// parses what `covet loadtest` prints of it holds no password.
        #[test]
        fn a_multi_host_url_never_shows_its_password(
            pw in "[!-$&-+--~]{6,20}",
            scheme in prop::sample::select(vec!["postgres", "mysql", "mariadb"]),
            tail in prop::sample::select(vec![
                "db1,db2/shop", "db1:5433,db2,db3:7/shop?router_max_lag=2s",
                "db1,db2:99999/shop", "db1,db2:x/shop", "db1,db2/shop?router_max_lag=soon",
                "db1,db2/shop?router_weights=0", "db1,db2/shop?router_nope=1",
            ]),
        ) {
            let target = |pw: &str| {
                let raw = format!("{scheme}://app:{pw}@{tail}");
                super::router_url(&raw).map(|r| r.map(|u| format!("{u} {u:?}")))
            };
            let got = target(&pw).expect("a host list is a router URL");
            match got {
                Ok(shown) => prop_assert!(!shown.contains(&pw), "{}", shown),
                Err(f) => {
                    prop_assert_eq!(f.code, super::exit::USAGE);
                    let neutral = target("x").unwrap().map(|_| ()).unwrap_err();
                    prop_assert_eq!(f.message, neutral.message);
                }
            }
        }
    }

    /// Every exit code the commands use is listed, with no extra one, in
    /// `covet --help` and in the exit-code tables of the root README and
    /// the crate README, so none of the three can drift from the code.
    #[test]
    fn exit_codes_match_help_and_readmes() {
        use super::exit::*;
        use std::collections::BTreeSet;
        let used: BTreeSet<u8> = [
            SUCCESS,
            FAILURE,
            USAGE,
            UNREACHABLE,
            SLO_MISSED,
            ERROR_RATE,
            REGRESSION,
            ARCHIVE_UNREADABLE,
            INTERRUPTED,
        ]
        .into();
        let help: BTreeSet<u8> = super::AFTER_HELP
            .split_once("Exit codes:")
            .expect("an exit-code section in --help")
            .1
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let n = l.split_whitespace().next()?.trim_end_matches(',');
                n.parse().ok()
            })
            .collect();
        assert_eq!(help, used, "covet --help");
        for (name, text) in [
            ("README.md", include_str!("../../../../README.md")),
            (
                "crates/covet-cli/README.md",
                include_str!("../../README.md"),
            ),
        ] {
            let table: BTreeSet<u8> = text
                .lines()
                .filter_map(|l| l.strip_prefix("| ")?.split(" |").next()?.parse().ok())
                .collect();
            assert_eq!(table, used, "the exit-code table of {name}");
        }
    }
}
