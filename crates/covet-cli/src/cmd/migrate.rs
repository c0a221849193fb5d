//! `covet migrate`: new, up, down, status, lint, verify and resolve. The
//! logic lives in covet-migrate; this module parses arguments, prints
//! progress on stderr and results on stdout.

use std::path::PathBuf;
use std::time::Duration;

use covet::{DatabaseUrl, Engine, PasswordSources};
use covet_migrate::{
    Event, LintOptions, MigrateError, MigrateOptions, Migrations, Migrator, RULES,
};

use super::out::outln;
use super::{DbArgs, Failure, ms};

/// Arguments of `covet migrate`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Write NNNN_NAME.up.sql and NNNN_NAME.down.sql, numbered after the newest.
    New(NewArgs),
    /// Apply pending migrations (linted first unless --no-lint).
    Up(RunArgs),
    /// Revert the newest applied migration, or every one after --to.
    Down(RunArgs),
    /// List migrations: applied, pending, changed, missing or dirty.
    Status(RunArgs),
    /// Check migrations for dangerous DDL (exit code 1 on a finding).
    Lint(LintArgs),
    /// Run every migration up, down and up on a scratch database beside
    /// --db (created and dropped) and compare schemas.
    Verify(RunArgs),
    /// Clear a dirty migration after finishing or undoing it by hand.
    Resolve(ResolveArgs),
    /// Write the next migration: the difference between the schema the
    /// migrations produce (on a scratch database beside --db) and the schema
    /// of --target-db (e.g. a development database the ORM created).
    /// Applications with covet-orm models call covet_migrate::make instead.
    Make(MakeArgs),
}

#[derive(Debug, clap::Args)]
struct MakeArgs {
    #[command(flatten)]
    run: RunArgs,
    /// The database whose schema the migrations should reach (read only).
    #[arg(long, value_name = "URL")]
    target_db: String,
    /// The migration's name (letters, digits, `_`).
    name: String,
}

#[derive(Debug, clap::Args)]
struct DirArg {
    /// The migrations directory.
    #[arg(long, default_value = "migrations", env = "COVET_MIGRATIONS_DIR")]
    dir: PathBuf,
}

#[derive(Debug, clap::Args)]
struct NewArgs {
    #[command(flatten)]
    dir: DirArg,
    /// The migration's name (letters, digits, `_`).
    name: String,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    dir: DirArg,
    /// up: apply up to and including version V; down: revert every
    /// applied migration newer than V (0: all).
    #[arg(long, value_name = "V")]
    to: Option<u64>,
    /// The migrations table.
    #[arg(long, default_value = "covet_migrations")]
    table: String,
    /// How long to wait for another runner.
    #[arg(long, default_value = "60s", value_parser = duration)]
    lock_wait: Duration,
    /// lock_timeout (PostgreSQL) / lock_wait_timeout (MySQL, MariaDB) for
    /// migration statements; 0 leaves the server's.
    #[arg(long, default_value = "5s", value_parser = duration_or_zero)]
    lock_timeout: Duration,
    /// statement_timeout (PostgreSQL) / max_statement_time (MariaDB) for
    /// migration statements; 0 leaves the server's.
    #[arg(long, default_value = "10m", value_parser = duration_or_zero)]
    statement_timeout: Duration,
    /// Retries of a migration (or statement) that hit the lock timeout.
    #[arg(long, default_value_t = 3)]
    lock_retries: u32,
    /// Apply a pending migration older than the newest applied one.
    #[arg(long)]
    allow_out_of_order: bool,
    /// Do not lint pending migrations before `up`.
    #[arg(long)]
    no_lint: bool,
}

#[derive(Debug, clap::Args)]
struct LintArgs {
    #[command(flatten)]
    dir: DirArg,
    /// The engine whose rules apply: postgres, mysql or sqlite (else the
    /// engine of --db, which is not connected to).
    #[arg(long)]
    engine: Option<String>,
    /// Database URL, only to pick the engine.
    #[arg(long, env = "COVET_DATABASE_URL", hide_env_values = true)]
    db: Option<String>,
    /// Assume the runner's lock_timeout is off (fires missing-lock-timeout).
    #[arg(long)]
    no_runner_lock_timeout: bool,
    /// List the rules instead.
    #[arg(long)]
    rules: bool,
}

#[derive(Debug, clap::Args)]
struct ResolveArgs {
    #[command(flatten)]
    run: RunArgs,
    /// The dirty migration's version.
    version: u64,
    /// Its statements all took effect (finished by hand).
    #[arg(
        long,
        conflicts_with = "rolled_back",
        required_unless_present = "rolled_back"
    )]
    applied: bool,
    /// None of its statements is left (undone by hand).
    #[arg(long)]
    rolled_back: bool,
}

fn duration(v: &str) -> Result<Duration, String> {
    covet::parse_duration(v)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("expected a duration such as 500ms, 5s or 2m, not `{v}`"))
}

fn duration_or_zero(v: &str) -> Result<Duration, String> {
    covet::parse_duration(v)
        .ok_or_else(|| format!("expected a duration such as 500ms, 5s or 2m (0: off), not `{v}`"))
}

/// Keeps a message on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn fail(e: MigrateError) -> Failure {
    match e {
        MigrateError::Db(db) => db.into(),
        MigrateError::Lint(findings) => {
            for f in &findings {
                eprintln!("covet: lint: {f}");
            }
            Failure::failed(format!(
                "{} lint finding(s) in pending migrations; fix them, allow one with `-- covet:allow(rule) reason`, or pass --no-lint",
                findings.len()
            ))
        }
        other => Failure::failed(one_line(&other.to_string())),
    }
}

fn load(dir: &DirArg) -> Result<Migrations, Failure> {
    Migrations::from_dir(&dir.dir).map_err(|e| Failure::usage(one_line(&e.to_string())))
}

impl RunArgs {
    fn options(&self) -> MigrateOptions {
        let mut o = MigrateOptions::default();
        o.table.clone_from(&self.table);
        o.lock_wait = self.lock_wait;
        o.lock_timeout = Some(self.lock_timeout).filter(|d| !d.is_zero());
        o.statement_timeout = Some(self.statement_timeout).filter(|d| !d.is_zero());
        o.lock_retries = self.lock_retries;
        o.allow_out_of_order = self.allow_out_of_order;
        o.lint = !self.no_lint;
        o
    }

    fn migrator(&self) -> Result<(Migrator, DatabaseUrl), Failure> {
        let url = self.db.resolve()?;
        let m = Migrator::new(url.clone(), load(&self.dir)?)
            .options(self.options())
            // resolve() already found the password.
            .password_sources(PasswordSources::default())
            .on_event(progress);
        Ok((m, url))
    }
}

/// Progress on stderr, so stdout holds only results.
fn progress(e: &Event) {
    match e {
        Event::Waiting { holder } => eprintln!("covet: waiting for the migration lock: {holder}"),
        Event::Started {
            version,
            name,
            direction,
        } => eprintln!("covet: {direction} {version:04}_{name} ..."),
        Event::Finished {
            version,
            direction,
            duration,
        } => eprintln!("covet: {direction} {version:04} done in {}", ms(*duration)),
        Event::Retrying {
            version,
            attempt,
            after,
        } => eprintln!(
            "covet: {version:04} hit the lock timeout; attempt {attempt} in {}",
            ms(*after)
        ),
        _ => {}
    }
}

/// Runs `covet migrate`.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    match args.command {
        Sub::New(a) => {
            let (up, down) = covet_migrate::new_migration(&a.dir.dir, &a.name)
                .map_err(|e| Failure::usage(one_line(&e.to_string())))?;
            outln!("created {}\ncreated {}", up.display(), down.display())
        }
        Sub::Up(a) => {
            let (m, url) = a.migrator()?;
            let r = match a.to {
                Some(v) => m.up_to(v).await,
                None => m.up().await,
            }
            .map_err(fail)?;
            outln!(
                "{url}: applied {} migration(s){}",
                r.applied.len(),
                list(&r.applied)
            )
        }
        Sub::Down(a) => {
            let (m, url) = a.migrator()?;
            let r = m.down(a.to).await.map_err(fail)?;
            outln!(
                "{url}: reverted {} migration(s){}",
                r.reverted.len(),
                list(&r.reverted)
            )
        }
        Sub::Status(a) => {
            let (m, _) = a.migrator()?;
            let rows = m.status().await.map_err(fail)?;
            let mut text =
                String::from("version  state    applied at                 took        name\n");
            for r in rows {
                use std::fmt::Write as _;
                let _ = writeln!(
                    text,
                    "{:07}  {:<7}  {:<25}  {:>10}  {}",
                    r.version,
                    r.state.as_str(),
                    r.applied_at.as_deref().unwrap_or("-"),
                    r.duration.map_or_else(|| "-".to_owned(), ms),
                    r.name
                );
            }
            super::out::print(text)
        }
        Sub::Lint(a) => lint(&a),
        Sub::Verify(a) => {
            let url = a.db.resolve()?;
            let set = load(&a.dir)?;
            let r = covet_migrate::verify(&url, &PasswordSources::default(), &set, a.options())
                .await
                .map_err(fail)?;
            outln!(
                "verified on scratch database {} (dropped): {} migration(s) undone by their down and reapplied{}{}",
                r.scratch,
                r.reversible.len(),
                if r.irreversible.is_empty() {
                    ""
                } else {
                    "; irreversible, applied only:"
                },
                list(&r.irreversible)
            )
        }
        Sub::Make(a) => {
            let url = a.run.db.resolve()?;
            let target = super::resolve_url(&a.target_db, &a.run.db.password)?;
            // The first make starts the directory.
            let set = if a.run.dir.dir.exists() {
                load(&a.run.dir)?
            } else {
                Migrations::default()
            };
            let made = covet_migrate::make_from_database(
                &url,
                &target,
                &PasswordSources::default(),
                &set,
                a.run.options(),
            )
            .await
            .map_err(fail)?;
            for w in &made.warnings {
                eprintln!("covet: make: {w}");
            }
            match covet_migrate::write_made(&a.run.dir.dir, &a.name, &made)
                .map_err(|e| Failure::failed(one_line(&e.to_string())))?
            {
                Some(up) => outln!("created {} and its down", up.display()),
                None => outln!("nothing to migrate: the migrations already give {target}'s schema"),
            }
        }
        Sub::Resolve(a) => {
            let (m, _) = a.run.migrator()?;
            m.resolve(a.version, a.applied).await.map_err(fail)?;
            outln!(
                "migration {} marked {}",
                a.version,
                if a.applied { "applied" } else { "not applied" }
            )
        }
    }
}

fn list(v: &[u64]) -> String {
    if v.is_empty() {
        String::new()
    } else {
        let s: Vec<String> = v.iter().map(u64::to_string).collect();
        format!(" {}", s.join(", "))
    }
}

fn lint(a: &LintArgs) -> Result<(), Failure> {
    if a.rules {
        let mut text = String::new();
        for r in RULES {
            use std::fmt::Write as _;
            let engines: Vec<String> = r.engines.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                text,
                "{} ({}): {}\n    safe: {}",
                r.name,
                engines.join(", "),
                r.summary,
                r.fix
            );
        }
        return super::out::print(text);
    }
    let engine = match (&a.engine, &a.db) {
        (Some(e), _) => match e.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => Engine::Postgres,
            "mysql" | "mariadb" => Engine::MySql,
            "sqlite" => Engine::Sqlite,
            other => {
                return Err(Failure::usage(format!(
                    "unknown engine `{other}` (postgres, mysql or sqlite)"
                )));
            }
        },
        (None, Some(db)) => super::parse_url(db)?.engine(),
        (None, None) => {
            return Err(Failure::usage(
                "lint needs --engine postgres|mysql|sqlite or --db URL (to pick the rules)",
            ));
        }
    };
    let set = load(&a.dir)?;
    let options = LintOptions {
        runner_sets_lock_timeout: !a.no_runner_lock_timeout,
    };
    let findings = covet_migrate::lint(engine, &set, options);
    let mut text = String::new();
    for f in &findings {
        text.push_str(&f.to_string());
        text.push('\n');
    }
    text.push_str(&format!(
        "{} migration(s), {} finding(s) ({engine} rules)\n",
        set.len(),
        findings.len()
    ));
    super::out::print(text)?;
    if findings.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{} lint finding(s)",
            findings.len()
        )))
    }
}
