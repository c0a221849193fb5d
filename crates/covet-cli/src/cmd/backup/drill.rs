//! `covet backup drill`: restore into a scratch database, compare with the
//! manifest, report the RTO and drop the scratch database.

use serde_json::json;

use super::{Facade, KeyArgs, cancel_on_signal, fail, key_source, locate, report_leftovers, secs};
use crate::cmd::{Failure, PasswordArgs, resolve_url};

/// Arguments of `covet backup drill`.
#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// The backup: a file path or s3://bucket/prefix/name.
    #[arg(long)]
    file: String,
    /// A database on the server to drill on (its name is not touched).
    #[arg(long, env = "COVET_DATABASE_URL", hide_env_values = true)]
    db: String,
    #[command(flatten)]
    password: PasswordArgs,
    /// PostgreSQL: restore with the source's owners, and check them (as
    /// `covet backup restore --owners`).
    #[arg(long)]
    owners: bool,
    /// PostgreSQL: restore with the source's privileges, and check them (as
    /// `covet backup restore --grants`).
    #[arg(long)]
    grants: bool,
    #[command(flatten)]
    key: KeyArgs,
}

/// Runs `covet backup drill`; a drill whose tables differ from the manifest
/// is a failure.
pub(super) async fn run(args: Args, json_out: bool) -> Result<(), Failure> {
    let Args {
        file,
        db,
        password,
        owners,
        grants,
        key,
    } = args;
    let url = resolve_url(&db, &password)?;
    let (sink, name) = locate(&file)?;
    let opts = covet_backup::RestoreOptions {
        key: key_source(&key)?,
        cancel: Some(cancel_on_signal()),
        owners,
        grants,
        ..Default::default()
    };
    let r = Box::pin(covet_backup::drill_with(
        sink.as_ref(),
        &name,
        &url,
        &Facade,
        &opts,
    ))
    .await
    .map_err(fail)?;
    if json_out {
        let tables: Vec<_> = r
            .tables
            .iter()
            .map(|t| json!({ "table": t.name, "expected_rows": t.expected_rows, "restored_rows": t.restored_rows, "checksum_equal": t.checksum_equal }))
            .collect();
        println!(
            "{}",
            json!({ "passed": r.passed, "rto_seconds": r.rto.as_secs_f64(), "scratch": r.scratch, "tables": tables, "schema_differences": r.schema_differences, "leftovers": r.leftovers })
        );
    } else {
        report_leftovers(&r.leftovers);
        for t in &r.tables {
            println!(
                "{:<30} rows {:>10} / {:<10} checksum {}",
                t.name,
                t.restored_rows,
                t.expected_rows,
                if t.checksum_equal { "equal" } else { "DIFFERS" }
            );
        }
        for d in &r.schema_differences {
            println!("schema: {d}");
        }
        println!(
            "drill {}: RTO {} (verify + restore into {}, dropped)",
            if r.passed { "passed" } else { "FAILED" },
            secs(r.rto),
            r.scratch
        );
    }
    if !r.passed {
        return Err(Failure::failed(
            "drill failed: the restore differs from the backup (tables or schema)",
        ));
    }
    Ok(())
}
