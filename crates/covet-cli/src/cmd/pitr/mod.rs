//! `covet pitr`: point-in-time recovery. All logic lives in covet-pitr;
//! PostgreSQL's subcommands are in `pg`, MySQL/MariaDB's in `mysql`.

use std::path::PathBuf;

use covet_backup::KeySource;

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

/// The repository key from `--key-file` / `--passphrase-env`, or none with
/// `--no-encryption`; one of them is required.
fn repo_key(
    key_file: Option<&PathBuf>,
    passphrase_env: Option<&str>,
    no_encryption: bool,
) -> Result<Option<KeySource>, Failure> {
    match super::backup::key_from(key_file, passphrase_env)? {
        Some(k) => Ok(Some(k)),
        None if no_encryption => Ok(None),
        None => Err(Failure::usage(
            "choose --key-file, --passphrase-env, or --no-encryption",
        )),
    }
}
