//! `covet orm generate`: covet-orm model source for an existing database
//! (covet-migrate's `generate_models` over the adapter's introspection).

use std::path::PathBuf;

use super::{DbArgs, Failure, connect};

/// Arguments of `covet orm`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Write one #[derive(Model)] struct per table, foreign keys as belongs_to.
    Generate(GenerateArgs),
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Write the source here instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// A table to leave out (repeatable); the migrations table always is.
    #[arg(long, value_name = "TABLE")]
    skip: Vec<String>,
}

/// Runs `covet orm`.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let Sub::Generate(a) = args.command;
    let url = a.db.resolve()?;
    let (db, _) = connect(&url).await?;
    let schema = db.schema().await;
    db.close().await;
    let schema = schema?;
    let mut skip: Vec<&str> = a.skip.iter().map(String::as_str).collect();
    skip.push("covet_migrations");
    let code = covet_migrate::generate_models(&schema, url.engine(), &skip);
    match &a.out {
        Some(path) => {
            std::fs::write(path, code)
                .map_err(|e| Failure::failed(format!("cannot write {}: {e}", path.display())))?;
            eprintln!(
                "covet: wrote {} model(s) to {}",
                schema.tables.len(),
                path.display()
            );
            Ok(())
        }
        None => super::out::print(code),
    }
}
