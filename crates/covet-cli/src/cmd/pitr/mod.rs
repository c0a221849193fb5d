//! `covet pitr`: point-in-time recovery. All logic lives in covet-pitr;
//! PostgreSQL's subcommands are in `pg`, MySQL/MariaDB's in `mysql`.

use super::Failure;

mod mysql;
mod pg;

/// Arguments of `covet pitr`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    #[command(flatten)]
    Pg(pg::Sub),
    #[command(flatten)]
    Mysql(mysql::Sub),
}

/// Runs `covet pitr`.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        Sub::Pg(s) => pg::run(s).await,
        Sub::Mysql(s) => mysql::run(s).await,
    }
}
