//! `covet pitr` for MySQL/MariaDB: binlog-stream, binlog-restore.

use crate::cmd::Failure;

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Sub {
    /// Placeholder until the MySQL subcommands land.
    #[command(hide = true)]
    MysqlPending,
}

/// Runs one subcommand.
pub(crate) async fn run(sub: Sub) -> Result<(), Failure> {
    match sub {
        Sub::MysqlPending => Ok(()),
    }
}
