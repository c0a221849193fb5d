//! The runner: one at a time per database, checksums checked, each
//! migration atomic where the engine allows, a dirty flag where it does not.
//!
//! Connections: the runner opens its own, with a pool of exactly one
//! connection (`max_connections=1`, kept open), so that session state (the
//! PostgreSQL advisory lock, MySQL's `GET_LOCK`, the timeouts) stays on one
//! server session. On PostgreSQL and MySQL a second such pool holds the
//! lock, so the lock survives whatever a migration does to its own session.
//! On SQLite the lock is the write transaction itself (`BEGIN IMMEDIATE`,
//! which admits one writer), each migration a savepoint inside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use covet_core::{
    Adapter, DatabaseUrl, Engine, ErrorKind, ExecResult, PasswordSources, Rows, Statement,
    Transaction,
};

use crate::error::{MigrateError, Result};
use crate::lint::{Finding, LintOptions, lint};
use crate::source::{Migration, Migrations, Script};
use crate::split::split;

/// How the runner behaves. The defaults are written on each field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrateOptions {
    /// The migrations table (letters, digits, `_`). Default
    /// `covet_migrations`.
    pub table: String,
    /// How long to wait for another runner to finish. Default 60 s.
    pub lock_wait: Duration,
    /// `lock_timeout` (PostgreSQL) / `lock_wait_timeout` and
    /// `innodb_lock_wait_timeout` (MySQL/MariaDB, whole seconds, at least 1)
    /// for migration statements: a DDL statement that cannot get its lock
    /// within it fails instead of queueing every other query behind it.
    /// Default 5 s; `None` leaves the server's setting.
    pub lock_timeout: Option<Duration>,
    /// `statement_timeout` (PostgreSQL) / `max_statement_time` (MariaDB;
    /// MySQL has no equivalent for DDL) for migration statements. Default
    /// 10 min; `None` leaves the server's setting.
    pub statement_timeout: Option<Duration>,
    /// How many times a migration (or, outside a transaction, the
    /// statement) that hit the lock timeout is tried again. Default 3.
    pub lock_retries: u32,
    /// The wait before the first retry, doubled before each next one.
    /// Default 500 ms.
    pub retry_backoff: Duration,
    /// Apply a pending migration older than the newest applied one instead
    /// of refusing. Default false.
    pub allow_out_of_order: bool,
    /// Lint pending migrations before `up` and refuse on a finding.
    /// Default true.
    pub lint: bool,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            table: "covet_migrations".into(),
            lock_wait: Duration::from_secs(60),
            lock_timeout: Some(Duration::from_secs(5)),
            statement_timeout: Some(Duration::from_secs(600)),
            lock_retries: 3,
            retry_backoff: Duration::from_millis(500),
            allow_out_of_order: false,
            lint: true,
        }
    }
}

/// Progress, for a CLI or a log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Another runner holds the lock; this one waits.
    Waiting {
        /// Who holds it, as far as the engine tells.
        holder: String,
    },
    /// A migration starts.
    Started {
        /// Its version.
        version: u64,
        /// Its name.
        name: String,
        /// `up` or `down`.
        direction: &'static str,
    },
    /// A migration finished.
    Finished {
        /// Its version.
        version: u64,
        /// `up` or `down`.
        direction: &'static str,
        /// How long it took.
        duration: Duration,
    },
    /// A lock timeout; the migration (or statement) is tried again.
    Retrying {
        /// Its version.
        version: u64,
        /// The attempt about to start (2 for the first retry).
        attempt: u32,
        /// The wait before it.
        after: Duration,
    },
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Versions applied (up), in order.
    pub applied: Vec<u64>,
    /// Versions reverted (down), in order.
    pub reverted: Vec<u64>,
    /// How long the runner waited for the lock.
    pub lock_waited: Duration,
}

/// One row of `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRow {
    /// The version.
    pub version: u64,
    /// The name (the file's, else the recorded one).
    pub name: String,
    /// Where it stands.
    pub state: State,
    /// When it was applied (RFC 3339, UTC), if it was.
    pub applied_at: Option<String>,
    /// How long it took, if applied.
    pub duration: Option<Duration>,
}

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    /// Applied, file unchanged.
    Applied,
    /// Not applied.
    Pending,
    /// Applied, but the file changed since.
    Changed,
    /// Applied, but the file is gone.
    Missing,
    /// Started outside a transaction and did not finish.
    Dirty,
}

impl State {
    /// Lowercase name (`applied`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Changed => "CHANGED",
            State::Missing => "MISSING",
            State::Dirty => "DIRTY",
        }
    }
}

/// A recorded row of the migrations table.
#[derive(Debug, Clone)]
struct Applied {
    version: u64,
    name: String,
    checksum: String,
    applied_at: String,
    duration_ms: i64,
    dirty: bool,
}

type Hook = Arc<dyn Fn(&Event) + Send + Sync>;

/// Runs migrations against one database.
///
/// ```no_run
/// # async fn demo() -> Result<(), covet_migrate::MigrateError> {
/// use covet_migrate::{Migrations, Migrator};
/// let migrations = Migrations::from_dir("migrations")?;
/// let url = "postgres://app@db/shop".parse()?;
/// let report = Migrator::new(url, migrations).up().await?;
/// println!("applied {:?}", report.applied);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Migrator {
    url: DatabaseUrl,
    sources: PasswordSources,
    migrations: Migrations,
    options: MigrateOptions,
    hook: Option<Hook>,
}

impl std::fmt::Debug for Migrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // DatabaseUrl's Debug hides the password.
        f.debug_struct("Migrator")
            .field("url", &self.url)
            .field("migrations", &self.migrations.len())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

impl Dir {
    fn as_str(self) -> &'static str {
        match self {
            Dir::Up => "up",
            Dir::Down => "down",
        }
    }
}

enum Op {
    Up(Option<u64>),
    Down(Option<u64>),
    Resolve(u64, bool),
}

impl Migrator {
    /// A runner for `url` (its password, if left out, found as
    /// `covet::connect` finds it) and these migrations, with default options.
    pub fn new(url: DatabaseUrl, migrations: Migrations) -> Self {
        Migrator {
            url,
            sources: PasswordSources::from_env(),
            migrations,
            options: MigrateOptions::default(),
            hook: None,
        }
    }

    /// Replaces the options.
    pub fn options(mut self, options: MigrateOptions) -> Self {
        self.options = options;
        self
    }

    /// Where a password the URL leaves out comes from.
    pub fn password_sources(mut self, sources: PasswordSources) -> Self {
        self.sources = sources;
        self
    }

    /// Calls `f` with each [`Event`].
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(f));
        self
    }

    /// The migrations this runner knows.
    pub fn migrations(&self) -> &Migrations {
        &self.migrations
    }

    /// Lints the up scripts for this URL's engine.
    pub fn lint(&self) -> Vec<Finding> {
        lint(self.url.engine(), &self.migrations, self.lint_options())
    }

    fn lint_options(&self) -> LintOptions {
        LintOptions {
            runner_sets_lock_timeout: self.options.lock_timeout.is_some(),
        }
    }

    /// Applies every pending migration.
    pub async fn up(&self) -> Result<Report> {
        self.run(Op::Up(None)).await
    }

    /// Applies pending migrations up to and including `version`.
    pub async fn up_to(&self, version: u64) -> Result<Report> {
        self.known(version)?;
        self.run(Op::Up(Some(version))).await
    }

    /// Reverts applied migrations newer than `to` (`Some(0)`: all of
    /// them), or only the newest when `to` is `None`. Refuses before
    /// touching anything if an irreversible migration is in the way.
    pub async fn down(&self, to: Option<u64>) -> Result<Report> {
        if let Some(v) = to.filter(|v| *v != 0) {
            self.known(v)?;
        }
        self.run(Op::Down(to)).await
    }

    /// Clears the dirty flag of `version` after a person finished
    /// (`applied = true`) or undid (`false`) its statements by hand.
    pub async fn resolve(&self, version: u64, applied: bool) -> Result<()> {
        self.run(Op::Resolve(version, applied)).await.map(|_| ())
    }

    /// Every migration (known or recorded) and where it stands. Takes no
    /// lock, creates nothing.
    pub async fn status(&self) -> Result<Vec<StatusRow>> {
        let db = self.connect(false).await?;
        let applied = read_applied(&mut Ex::Db(db.as_ref()), &self.options.table, true).await;
        db.close().await;
        Ok(status_rows(&self.migrations, &applied?))
    }

    fn known(&self, version: u64) -> Result<()> {
        self.migrations
            .get(version)
            .map(|_| ())
            .ok_or(MigrateError::UnknownVersion(version))
    }

    fn emit(&self, e: &Event) {
        if let Some(h) = &self.hook {
            h(e);
        }
    }

    async fn connect(&self, lock_pool: bool) -> Result<Arc<dyn Adapter>> {
        let t = &self.options.table;
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(MigrateError::Db(covet_core::Error::config(
                "the migrations table name must be letters, digits and `_`",
            )));
        }
        let mut url = self
            .url
            .with_param("max_connections", "1")
            .with_param("min_connections", "1")
            // The lock lives on this session: the pool must not recycle it.
            .with_param("max_lifetime", "876000h");
        // SQLite: the runner polls for the write lock itself (to report the
        // wait and bound it by `lock_wait`), so each try waits briefly. In
        // WAL mode (the adapter's default) nothing blocks a connection that
        // holds the write lock, so the short timeout cannot fail a
        // migration; with another journal mode, or a busy_timeout the URL
        // sets, the URL's setting stays.
        if url.engine() == Engine::Sqlite
            && url.param("busy_timeout").is_none()
            && url
                .param("journal_mode")
                .is_none_or(|j| j.eq_ignore_ascii_case("wal"))
        {
            url = url.with_param("busy_timeout", "100ms");
        }
        if url.engine() != Engine::Sqlite && url.param("application_name").is_none() {
            let name = if lock_pool {
                "covet-migrate lock"
            } else {
                "covet-migrate"
            };
            url = url.with_param("application_name", name);
        }
        Ok(covet::connect_with(url, &self.sources).await?)
    }

    async fn run(&self, op: Op) -> Result<Report> {
        let engine = self.url.engine();
        let db = self.connect(false).await?;
        let result = match engine {
            Engine::Sqlite => self.run_sqlite(&db, &op).await,
            _ => self.run_locked(engine, &db, &op).await,
        };
        db.close().await;
        result
    }

    async fn run_locked(&self, engine: Engine, db: &Arc<dyn Adapter>, op: &Op) -> Result<Report> {
        let lock_db = self.connect(true).await?;
        let database = self.url.database().unwrap_or("").to_owned();
        let lock = ServerLock::new(engine, &self.options.table, &database);
        let result = async {
            let waited = lock.acquire(lock_db.as_ref(), self).await?;
            let mut s = Session {
                m: self,
                engine,
                db: db.as_ref(),
                outer: None,
                lock: Some((&lock, lock_db.as_ref())),
                mariadb: false,
            };
            if engine == Engine::MySql {
                s.mariadb = db
                    .server_version()
                    .await?
                    .to_ascii_lowercase()
                    .contains("mariadb");
            }
            let r = s.op(op).await;
            let released = lock.release(lock_db.as_ref()).await;
            let mut report = r?;
            released?;
            report.lock_waited = waited;
            Ok(report)
        }
        .await;
        lock_db.close().await;
        result
    }

    async fn run_sqlite(&self, db: &Arc<dyn Adapter>, op: &Op) -> Result<Report> {
        let started = Instant::now();
        let deadline = started + self.options.lock_wait;
        let mut told = false;
        let outer = loop {
            match db.begin().await {
                Ok(tx) => break tx,
                Err(e) if e.kind() == ErrorKind::LockTimeout && Instant::now() < deadline => {
                    if !told {
                        told = true;
                        self.emit(&Event::Waiting {
                            holder: SQLITE_HOLDER.into(),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) if e.kind() == ErrorKind::LockTimeout => {
                    return Err(MigrateError::Locked {
                        holder: SQLITE_HOLDER.into(),
                        waited: started.elapsed(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        };
        let waited = started.elapsed();
        let mut s = Session {
            m: self,
            engine: Engine::Sqlite,
            db: db.as_ref(),
            outer: Some(outer),
            lock: None,
            mariadb: false,
        };
        let r = s.op(op).await;
        // What applied before a failure stays applied: each migration was
        // its own savepoint.
        if let Some(outer) = s.outer.take() {
            let committed = outer.commit().await;
            let mut report = r?;
            committed?;
            report.lock_waited = waited;
            Ok(report)
        } else {
            r.map(|mut rep| {
                rep.lock_waited = waited;
                rep
            })
        }
    }
}

const SQLITE_HOLDER: &str =
    "another connection holds SQLite's write lock; SQLite does not say which";

/// Where statements run: the pool, or a transaction (or savepoint).
enum Ex<'a, 'b> {
    Db(&'a dyn Adapter),
    Tx(&'a mut (dyn Transaction + 'b)),
}

impl Ex<'_, '_> {
    async fn execute(&mut self, s: &Statement) -> covet_core::Result<ExecResult> {
        match self {
            Ex::Db(d) => d.execute(s).await,
            Ex::Tx(t) => t.execute(s).await,
        }
    }
    async fn query(&mut self, s: &Statement) -> covet_core::Result<Rows> {
        match self {
            Ex::Db(d) => d.query(s).await,
            Ex::Tx(t) => t.query(s).await,
        }
    }
}

fn create_table_sql(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (version BIGINT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, checksum CHAR(64) NOT NULL, applied_at VARCHAR(40) NOT NULL, duration_ms BIGINT NOT NULL, dirty SMALLINT NOT NULL DEFAULT 0)"
    )
}

async fn read_applied(
    ex: &mut Ex<'_, '_>,
    table: &str,
    may_be_absent: bool,
) -> Result<Vec<Applied>> {
    let sql = format!(
        "SELECT version, name, checksum, applied_at, duration_ms, dirty FROM {table} ORDER BY version"
    );
    let rows = match ex.query(&Statement::new(sql)).await {
        Ok(r) => r,
        // `status` on a database never migrated: nothing applied.
        Err(e) if may_be_absent && e.kind() == ErrorKind::Syntax => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        out.push(Applied {
            version: r.get::<i64>(0)? as u64,
            name: r.get(1)?,
            checksum: r.get::<String>(2)?.trim().to_owned(),
            applied_at: r.get(3)?,
            duration_ms: r.get(4)?,
            dirty: r.get::<i64>(5)? != 0,
        });
    }
    Ok(out)
}

fn status_rows(migrations: &Migrations, applied: &[Applied]) -> Vec<StatusRow> {
    let mut rows = Vec::new();
    for m in migrations {
        let a = applied.iter().find(|a| a.version == m.version);
        rows.push(StatusRow {
            version: m.version,
            name: m.name.clone(),
            state: match a {
                None => State::Pending,
                Some(a) if a.dirty => State::Dirty,
                Some(a) if a.checksum != m.up.checksum => State::Changed,
                Some(_) => State::Applied,
            },
            applied_at: a.map(|a| a.applied_at.clone()),
            duration: a.map(|a| Duration::from_millis(a.duration_ms.max(0) as u64)),
        });
    }
    for a in applied {
        if migrations.get(a.version).is_none() {
            rows.push(StatusRow {
                version: a.version,
                name: a.name.clone(),
                state: if a.dirty {
                    State::Dirty
                } else {
                    State::Missing
                },
                applied_at: Some(a.applied_at.clone()),
                duration: Some(Duration::from_millis(a.duration_ms.max(0) as u64)),
            });
        }
    }
    rows.sort_by_key(|r| r.version);
    rows
}

/// The PostgreSQL advisory lock or MySQL named lock.
struct ServerLock {
    engine: Engine,
    key: i64,
    name: String,
}

impl ServerLock {
    fn new(engine: Engine, table: &str, database: &str) -> Self {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(format!("covet-migrate/{table}").as_bytes());
        let key = i64::from_be_bytes(d[..8].try_into().unwrap_or([0; 8]));
        // MySQL lock names are server-wide and at most 64 characters.
        let mut name = format!("covet_migrate.{database}.{table}");
        name.truncate(64);
        ServerLock { engine, key, name }
    }

    fn key_parts(&self) -> (i64, i64) {
        (
            (self.key as u64 >> 32) as i64,
            (self.key as u64 & 0xffff_ffff) as i64,
        )
    }

    async fn acquire(&self, lock: &dyn Adapter, m: &Migrator) -> Result<Duration> {
        let started = Instant::now();
        let deadline = started + m.options.lock_wait;
        let mut told = false;
        loop {
            // MySQL: GET_LOCK waits on the server, in whole seconds; at most
            // one per try, so the deadline is checked between tries.
            let left = deadline.saturating_duration_since(Instant::now());
            let server_wait = if told { left.as_secs().min(1) } else { 0 };
            let got = if self.engine == Engine::Postgres {
                let rows = lock
                    .query(&Statement::new("SELECT pg_try_advisory_lock($1)").bind(self.key))
                    .await?;
                rows.iter().next().map(|r| r.get::<bool>(0)).transpose()? == Some(true)
            } else {
                let rows = lock
                    .query(
                        &Statement::new("SELECT GET_LOCK($1, $2)")
                            .bind(self.name.as_str())
                            .bind(server_wait as i64),
                    )
                    .await?;
                rows.iter()
                    .next()
                    .map(|r| r.get::<Option<i64>>(0))
                    .transpose()?
                    .flatten()
                    == Some(1)
            };
            if got {
                return Ok(started.elapsed());
            }
            if Instant::now() >= deadline {
                return Err(MigrateError::Locked {
                    holder: self.holder(lock).await,
                    waited: started.elapsed(),
                });
            }
            if !told {
                told = true;
                m.emit(&Event::Waiting {
                    holder: self.holder(lock).await,
                });
            }
            if self.engine == Engine::Postgres || server_wait == 0 {
                let left = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(left.min(Duration::from_millis(100))).await;
            }
        }
    }

    /// Who holds the lock, as the server tells it; never fails.
    async fn holder(&self, lock: &dyn Adapter) -> String {
        let r = if self.engine == Engine::Postgres {
            let (hi, lo) = self.key_parts();
            lock.query(
                &Statement::new(
                    "SELECT a.pid::bigint, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), \
                     coalesce(host(a.client_addr), 'local socket'), \
                     coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '') \
                     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 \
                     AND l.objid::bigint = $2 AND l.objsubid = 1 \
                     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                )
                .bind(hi)
                .bind(lo),
            )
            .await
            .and_then(|rows| {
                let Some(r) = rows.iter().next() else {
                    return Ok("released meanwhile".to_owned());
                };
                Ok(format!(
                    "held by pid {} application_name '{}' user {} from {} connected since {} UTC",
                    r.get::<i64>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<String>(3)?,
                    r.get::<String>(4)?
                ))
            })
        } else {
            async {
                let rows = lock
                    .query(&Statement::new("SELECT IS_USED_LOCK($1)").bind(self.name.as_str()))
                    .await?;
                let Some(id) = rows.iter().next().map(|r| r.get::<Option<i64>>(0)).transpose()?.flatten()
                else {
                    return Ok("released meanwhile".to_owned());
                };
                let rows = lock
                    .query(
                        &Statement::new(
                            "SELECT USER, HOST, COALESCE(DB, ''), COALESCE(COMMAND, ''), COALESCE(TIME, 0) \
                             FROM information_schema.PROCESSLIST WHERE ID = $1",
                        )
                        .bind(id),
                    )
                    .await?;
                Ok(match rows.iter().next() {
                    Some(r) => format!(
                        "held by connection {id} user {}@{} database '{}' ({} for {} s)",
                        r.get::<String>(0)?,
                        r.get::<String>(1)?,
                        r.get::<String>(2)?,
                        r.get::<String>(3)?,
                        r.get::<i64>(4)?
                    ),
                    None => format!("held by connection {id}"),
                })
            }
            .await
        };
        r.unwrap_or_else(|e: covet_core::Error| format!("holder unknown ({e})"))
    }

    async fn still_held(&self, lock: &dyn Adapter) -> Result<()> {
        let stmt = if self.engine == Engine::Postgres {
            let (hi, lo) = self.key_parts();
            Statement::new(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND pid = pg_backend_pid() AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1",
            )
            .bind(hi)
            .bind(lo)
        } else {
            Statement::new("SELECT COALESCE(IS_USED_LOCK($1) = CONNECTION_ID(), 0)")
                .bind(self.name.as_str())
        };
        // Any failure here means the session that held the lock is gone.
        let held = match lock.query(&stmt).await {
            Ok(rows) => rows
                .iter()
                .next()
                .and_then(|r| r.get::<i64>(0).ok())
                .unwrap_or(0),
            Err(_) => 0,
        };
        if held > 0 {
            Ok(())
        } else {
            Err(MigrateError::LockLost)
        }
    }

    async fn release(&self, lock: &dyn Adapter) -> Result<()> {
        let stmt = if self.engine == Engine::Postgres {
            Statement::new("SELECT pg_advisory_unlock($1)").bind(self.key)
        } else {
            Statement::new("SELECT RELEASE_LOCK($1)").bind(self.name.as_str())
        };
        lock.query(&stmt).await?;
        Ok(())
    }
}

struct Session<'a> {
    m: &'a Migrator,
    engine: Engine,
    db: &'a dyn Adapter,
    /// SQLite: the write transaction that is the lock.
    outer: Option<Box<dyn Transaction>>,
    lock: Option<(&'a ServerLock, &'a dyn Adapter)>,
    mariadb: bool,
}

impl Session<'_> {
    fn table(&self) -> &str {
        &self.m.options.table
    }

    fn ex(&mut self) -> Ex<'_, 'static> {
        match &mut self.outer {
            Some(tx) => Ex::Tx(tx.as_mut()),
            None => Ex::Db(self.db),
        }
    }

    async fn op(&mut self, op: &Op) -> Result<Report> {
        let create = Statement::new(create_table_sql(self.table()));
        self.ex().execute(&create).await?;
        let table = self.table().to_owned();
        let applied = read_applied(&mut self.ex(), &table, false).await?;
        if let Op::Resolve(version, done) = op {
            return self.resolve(&applied, *version, *done).await;
        }
        if let Some(d) = applied.iter().find(|a| a.dirty) {
            return Err(MigrateError::Dirty {
                version: d.version,
                name: d.name.clone(),
                direction: "up or down",
            });
        }
        self.check_applied(&applied)?;
        match op {
            Op::Up(to) => self.up(&applied, *to).await,
            Op::Down(to) => self.down(&applied, *to).await,
            Op::Resolve(..) => Ok(Report::default()),
        }
    }

    async fn resolve(&mut self, applied: &[Applied], version: u64, done: bool) -> Result<Report> {
        let Some(a) = applied.iter().find(|a| a.version == version && a.dirty) else {
            return Err(MigrateError::Db(covet_core::Error::config(format!(
                "migration {version} is not dirty: nothing to resolve"
            ))));
        };
        let table = self.table().to_owned();
        let stmt = if done {
            // A dirty row written by `down` records a migration that was
            // being undone: done means it is gone.
            let m = self.m.migrations.get(version);
            let checksum = m.map_or(a.checksum.clone(), |m| m.up.checksum.clone());
            Statement::new(format!(
                "UPDATE {table} SET dirty = 0, checksum = $1 WHERE version = $2"
            ))
            .bind(checksum)
            .bind(version as i64)
        } else {
            Statement::new(format!("DELETE FROM {table} WHERE version = $1")).bind(version as i64)
        };
        self.ex().execute(&stmt).await?;
        Ok(Report::default())
    }

    fn check_applied(&self, applied: &[Applied]) -> Result<()> {
        for a in applied {
            match self.m.migrations.get(a.version) {
                None => {
                    return Err(MigrateError::Missing {
                        version: a.version,
                        name: a.name.clone(),
                        applied: a.checksum.clone(),
                    });
                }
                Some(m) if m.up.checksum != a.checksum => {
                    return Err(MigrateError::Changed {
                        version: a.version,
                        name: a.name.clone(),
                        applied: a.checksum.clone(),
                        file: m.up.checksum.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    async fn up(&mut self, applied: &[Applied], to: Option<u64>) -> Result<Report> {
        let latest = applied.iter().map(|a| a.version).max().unwrap_or(0);
        let pending: Vec<&Migration> = self
            .m
            .migrations
            .iter()
            .filter(|m| !applied.iter().any(|a| a.version == m.version))
            .filter(|m| to.is_none_or(|t| m.version <= t))
            .collect();
        if !self.m.options.allow_out_of_order
            && let Some(m) = pending.iter().find(|m| m.version < latest)
        {
            {
                return Err(MigrateError::OutOfOrder {
                    version: m.version,
                    name: m.name.clone(),
                    latest,
                });
            }
        }
        if self.m.options.lint {
            let findings = lint(self.engine, pending.iter().copied(), self.m.lint_options());
            if !findings.is_empty() {
                return Err(MigrateError::Lint(findings));
            }
        }
        let mut report = Report::default();
        for m in pending {
            self.apply(m, Dir::Up).await?;
            report.applied.push(m.version);
        }
        Ok(report)
    }

    async fn down(&mut self, applied: &[Applied], to: Option<u64>) -> Result<Report> {
        let mut targets: Vec<&Migration> = applied
            .iter()
            .rev()
            .filter_map(|a| self.m.migrations.get(a.version))
            .filter(|m| to.is_none_or(|t| m.version > t))
            .collect();
        if to.is_none() {
            targets.truncate(1);
        }
        if let Some(m) = targets.iter().find(|m| m.is_irreversible()) {
            return Err(MigrateError::Irreversible {
                version: m.version,
                name: m.name.clone(),
            });
        }
        let mut report = Report::default();
        for m in targets {
            self.apply(m, Dir::Down).await?;
            report.reverted.push(m.version);
        }
        Ok(report)
    }

    /// Session settings for migration statements; `local` inside a
    /// transaction (PostgreSQL's SET LOCAL ends with it).
    fn settings(&self, local: bool) -> Vec<String> {
        let o = &self.m.options;
        let mut out = Vec::new();
        match self.engine {
            Engine::Postgres => {
                let scope = if local { "SET LOCAL" } else { "SET" };
                let ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis().max(1));
                if o.lock_timeout.is_some() {
                    out.push(format!("{scope} lock_timeout = {}", ms(o.lock_timeout)));
                }
                if o.statement_timeout.is_some() {
                    out.push(format!(
                        "{scope} statement_timeout = {}",
                        ms(o.statement_timeout)
                    ));
                }
            }
            Engine::MySql => {
                if let Some(d) = o.lock_timeout {
                    let s = d.as_secs_f64().ceil().max(1.0) as u64;
                    out.push(format!("SET SESSION lock_wait_timeout = {s}"));
                    out.push(format!("SET SESSION innodb_lock_wait_timeout = {s}"));
                }
                if let (Some(d), true) = (o.statement_timeout, self.mariadb) {
                    out.push(format!(
                        "SET SESSION max_statement_time = {:.3}",
                        d.as_secs_f64()
                    ));
                }
            }
            _ => {}
        }
        out
    }

    async fn apply(&mut self, m: &Migration, dir: Dir) -> Result<()> {
        if let Some((lock, conn)) = self.lock {
            lock.still_held(conn).await?;
        }
        let script = match dir {
            Dir::Up => &m.up,
            // Checked by `down` before anything ran.
            Dir::Down => m.down.as_ref().ok_or_else(|| MigrateError::Irreversible {
                version: m.version,
                name: m.name.clone(),
            })?,
        };
        self.m.emit(&Event::Started {
            version: m.version,
            name: m.name.clone(),
            direction: dir.as_str(),
        });
        let started = Instant::now();
        let transactional =
            script.code.is_some() || (self.engine != Engine::MySql && !script.no_transaction);
        if transactional {
            self.apply_in_tx(m, script, dir, started).await?;
        } else {
            self.apply_dirty(m, script, dir, started).await?;
        }
        self.m.emit(&Event::Finished {
            version: m.version,
            direction: dir.as_str(),
            duration: started.elapsed(),
        });
        Ok(())
    }

    async fn apply_in_tx(
        &mut self,
        m: &Migration,
        script: &Script,
        dir: Dir,
        started: Instant,
    ) -> Result<()> {
        let mig = self.m;
        let table = self.table().to_owned();
        let stmts = split(&script.sql, self.engine);
        let settings = self.settings(true);
        let mut attempt = 1;
        loop {
            let db = self.db;
            let mut tx: Box<dyn Transaction + '_> = match &mut self.outer {
                Some(outer) => outer.savepoint().await?,
                None => db.begin().await?,
            };
            let mut failed = None;
            for s in &settings {
                tx.execute(&Statement::new(s.as_str())).await?;
            }
            if let Some(code) = &script.code
                && let Err(e) = (code.run)(tx.as_mut()).await
            {
                failed = Some((1, e));
            }
            for (i, sql) in stmts.iter().enumerate() {
                if let Err(e) = tx.execute(&Statement::new(sql.as_str())).await {
                    failed = Some((i + 1, e));
                    break;
                }
            }
            let Some((statement, e)) = failed else {
                let rec = record(&table, m, dir, started, false);
                tx.execute(&rec).await?;
                tx.commit().await?;
                return Ok(());
            };
            let _ = tx.rollback().await;
            if e.kind() == ErrorKind::LockTimeout && attempt <= mig.options.lock_retries {
                attempt += 1;
                let after = backoff(&mig.options, attempt);
                mig.emit(&Event::Retrying {
                    version: m.version,
                    attempt,
                    after,
                });
                tokio::time::sleep(after).await;
                continue;
            }
            return Err(MigrateError::Failed {
                version: m.version,
                name: m.name.clone(),
                direction: dir.as_str(),
                statement,
                rolled_back: true,
                source: e,
            });
        }
    }

    /// Outside a transaction: the row is written dirty first and cleared
    /// last, so a run that dies in between leaves a mark that blocks the
    /// next one until a person looks.
    async fn apply_dirty(
        &mut self,
        m: &Migration,
        script: &Script,
        dir: Dir,
        started: Instant,
    ) -> Result<()> {
        // SQLite: the write lock is released while the statements run (they
        // cannot run inside it); the dirty row keeps other runners out.
        let mig = self.m;
        let table = self.table().to_owned();
        let mark = record(&table, m, dir, started, true);
        if let Some(outer) = self.outer.take() {
            let mut outer = outer;
            outer.execute(&mark).await?;
            outer.commit().await?;
        } else {
            self.db.execute(&mark).await?;
        }
        for s in self.settings(false) {
            self.db.execute(&Statement::new(s)).await?;
        }
        let stmts = split(&script.sql, self.engine);
        for (i, sql) in stmts.iter().enumerate() {
            let mut attempt = 1;
            loop {
                match self.db.execute(&Statement::new(sql.as_str())).await {
                    Ok(_) => break,
                    Err(e)
                        if e.kind() == ErrorKind::LockTimeout
                            && attempt <= mig.options.lock_retries =>
                    {
                        // A statement that timed out waiting for its lock
                        // did nothing: trying it again is safe.
                        attempt += 1;
                        let after = backoff(&mig.options, attempt);
                        mig.emit(&Event::Retrying {
                            version: m.version,
                            attempt,
                            after,
                        });
                        tokio::time::sleep(after).await;
                    }
                    Err(e) => {
                        return Err(MigrateError::Failed {
                            version: m.version,
                            name: m.name.clone(),
                            direction: dir.as_str(),
                            statement: i + 1,
                            rolled_back: false,
                            source: e,
                        });
                    }
                }
            }
        }
        let done = match dir {
            Dir::Up => Statement::new(format!(
                "UPDATE {table} SET dirty = 0, duration_ms = $1 WHERE version = $2"
            ))
            .bind(started.elapsed().as_millis() as i64)
            .bind(m.version as i64),
            Dir::Down => record(&table, m, dir, started, false),
        };
        self.db.execute(&done).await?;
        if self.engine == Engine::Sqlite {
            self.outer = Some(self.db.begin().await?);
        }
        Ok(())
    }
}

fn record(table: &str, m: &Migration, dir: Dir, started: Instant, dirty: bool) -> Statement {
    match (dir, dirty) {
        (Dir::Up, _) => Statement::new(format!(
            "INSERT INTO {table} (version, name, checksum, applied_at, duration_ms, dirty) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(m.version as i64)
        .bind(m.name.as_str())
        .bind(m.up.checksum.as_str())
        .bind(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .bind(started.elapsed().as_millis() as i64)
        .bind(i16::from(dirty)),
        (Dir::Down, true) => {
            Statement::new(format!("UPDATE {table} SET dirty = 1 WHERE version = $1"))
                .bind(m.version as i64)
        }
        (Dir::Down, false) => {
            Statement::new(format!("DELETE FROM {table} WHERE version = $1"))
                .bind(m.version as i64)
        }
    }
}

/// The wait before `attempt` (2 for the first retry): the backoff, doubled
/// for each retry after the first.
fn backoff(options: &MigrateOptions, attempt: u32) -> Duration {
    options
        .retry_backoff
        .saturating_mul(1u32 << attempt.saturating_sub(2).min(16))
}
