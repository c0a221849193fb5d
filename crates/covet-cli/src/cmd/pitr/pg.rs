//! `covet pitr` for PostgreSQL: base-backup, wal-push, wal-fetch, restore, verify, drill, prune.

use crate::cmd::Failure;

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Sub {
    /// Placeholder until the PostgreSQL subcommands land.
    #[command(hide = true)]
    PgPending,
}

/// Runs one subcommand.
pub(crate) async fn run(sub: Sub) -> Result<(), Failure> {
    match sub {
        Sub::PgPending => Ok(()),
    }
}
