//! `verify`: every migration up, down and up again on a scratch database
//! that the command creates and drops, comparing introspected schemas.

use std::time::{SystemTime, UNIX_EPOCH};

use covet_core::{Adapter, DatabaseUrl, Engine, PasswordSources, Schema, Statement};

use crate::diff::schema_diff;
use crate::error::{MigrateError, Result};
use crate::runner::{MigrateOptions, Migrator};
use crate::source::Migrations;

/// What `verify` checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Versions whose down was shown to undo their up.
    pub reversible: Vec<u64>,
    /// Versions declared irreversible: applied, not reverted.
    pub irreversible: Vec<u64>,
    /// The scratch database that was used (and dropped).
    pub scratch: String,
}

/// Runs every migration up, down and up again on a scratch database next
/// to `url` (same server: PostgreSQL and MySQL create and drop a database
/// named `covet_verify_<pid>_<time>`, which needs the CREATE DATABASE
/// privilege; SQLite uses a temporary file). After each down the schema must
/// equal the schema before its up, and after the second up the schema
/// after the first. Fails with the first difference.
pub async fn verify(
    url: &DatabaseUrl,
    sources: &PasswordSources,
    migrations: &Migrations,
    options: MigrateOptions,
) -> Result<VerifyReport> {
    let scratch = Scratch::create(url, sources, "verify").await?;
    let result = run(&scratch.url, sources, migrations, options).await;
    let name = scratch.name.clone();
    scratch.drop().await?;
    result.map(|mut r| {
        r.scratch = name;
        r
    })
}

/// A database created beside another for one command and dropped after.
pub(crate) struct Scratch {
    pub(crate) url: DatabaseUrl,
    pub(crate) name: String,
    admin: Option<std::sync::Arc<dyn Adapter>>,
}

impl Scratch {
    /// PostgreSQL and MySQL: `covet_<what>_<pid>_<time>` on the same server
    /// (needs the CREATE DATABASE privilege); SQLite: a temporary file.
    pub(crate) async fn create(
        url: &DatabaseUrl,
        sources: &PasswordSources,
        what: &str,
    ) -> Result<Scratch> {
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        let name = format!("covet_{what}_{}_{stamp}", std::process::id());
        let engine = url.engine();
        if engine == Engine::Sqlite {
            let path = std::env::temp_dir().join(format!("{name}.db"));
            let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display()))?;
            return Ok(Scratch {
                url,
                name,
                admin: None,
            });
        }
        let admin = covet::connect_with(url.with_param("max_connections", "1"), sources).await?;
        let q = if engine == Engine::MySql { '`' } else { '"' };
        if let Err(e) = admin
            .execute(&Statement::new(format!("CREATE DATABASE {q}{name}{q}")))
            .await
        {
            admin.close().await;
            return Err(e.into());
        }
        Ok(Scratch {
            url: url.with_database(&name),
            name,
            admin: Some(admin),
        })
    }

    /// Drops the database (or removes the file).
    pub(crate) async fn drop(self) -> Result<()> {
        let engine = self.url.engine();
        if let Some(admin) = self.admin {
            let q = if engine == Engine::MySql { '`' } else { '"' };
            let force = if engine == Engine::Postgres {
                " WITH (FORCE)"
            } else {
                ""
            };
            let dropped = admin
                .execute(&Statement::new(format!(
                    "DROP DATABASE {q}{}{q}{force}",
                    self.name
                )))
                .await;
            admin.close().await;
            dropped?;
        } else if let Some(p) = self.url.sqlite_path() {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut s = p.as_os_str().to_owned();
                s.push(suffix);
                let _ = std::fs::remove_file(s);
            }
        }
        Ok(())
    }
}

async fn run(
    url: &DatabaseUrl,
    sources: &PasswordSources,
    migrations: &Migrations,
    mut options: MigrateOptions,
) -> Result<VerifyReport> {
    // Lint is its own command; verify checks behaviour.
    options.lint = false;
    let table = options.table.clone();
    let migrator = Migrator::new(url.clone(), migrations.clone())
        .options(options)
        .password_sources(sources.clone());
    let db = covet::connect_with(url.clone(), sources).await?;
    let r = steps(&migrator, db.as_ref(), migrations, &table).await;
    db.close().await;
    r
}

async fn schema(db: &dyn Adapter) -> Result<Schema> {
    Ok(db.schema().await?)
}

async fn steps(
    migrator: &Migrator,
    db: &dyn Adapter,
    migrations: &Migrations,
    table: &str,
) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut prev = 0;
    for m in migrations {
        let s0 = schema(db).await?;
        migrator.up_to(m.version).await?;
        let s1 = schema(db).await?;
        if m.is_irreversible() {
            report.irreversible.push(m.version);
        } else {
            migrator.down(Some(prev)).await?;
            let s2 = schema(db).await?;
            let d = schema_diff(&s0, &s2, &[table]);
            if !d.is_empty() {
                return Err(MigrateError::Verify {
                    version: m.version,
                    name: m.name.clone(),
                    problem: "its down did not undo its up",
                    diff: d.join("; "),
                });
            }
            migrator.up_to(m.version).await?;
            let s3 = schema(db).await?;
            let d = schema_diff(&s1, &s3, &[table]);
            if !d.is_empty() {
                return Err(MigrateError::Verify {
                    version: m.version,
                    name: m.name.clone(),
                    problem: "up after down gave a different schema",
                    diff: d.join("; "),
                });
            }
            report.reversible.push(m.version);
        }
        prev = m.version;
    }
    Ok(report)
}
