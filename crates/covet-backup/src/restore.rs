//! Restoring a backup, and the restore drill.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use covet_core::{Adapter, DatabaseUrl, Engine, Statement, Transaction};
use futures_util::StreamExt;

use crate::codec::ContentChecksum;
use crate::crypto::KeySource;
use crate::ddl;
use crate::error::{BackupError, Result};
use crate::export::{Progress, ProgressFn};
use crate::format::{BackupSchema, ChunkKind, StreamReader};
use crate::leftovers::{
    DRILL_PREFIX, Leftovers, OLD_PREFIX, STAGE_PREFIX, clean_leftovers, leftover_suffix,
};
use crate::manifest::Manifest;
use crate::pg::{self, PgCatalog, PgCopyTable, PgObject};
use crate::sink::BackupSink;
use crate::verify::{Checker, VerifyReport, verify};

/// Opens adapters by URL. The CLI implements it with Covet's three
/// adapters; restore and drill use it to reach staging and scratch
/// databases.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Connects to `url`.
    async fn connect(&self, url: &DatabaseUrl) -> covet_core::Result<Arc<dyn Adapter>>;
}

/// A callback told what a restore is about to drop.
pub type DropFn = Arc<dyn Fn(&DropPlan) + Send + Sync>;

/// How to restore.
#[derive(Clone, Default)]
pub struct RestoreOptions {
    /// The key or passphrase, for encrypted backups.
    pub key: Option<KeySource>,
    /// Replace the tables of the target that the backup holds (a target
    /// holding tables is otherwise refused).
    pub replace: bool,
    /// With `replace`, also drop what the target holds beyond the backup's
    /// tables (other tables; on PostgreSQL views, triggers and foreign keys
    /// that depend on the replaced tables; see [`DropPlan`]). Without it
    /// such a target is refused with [`BackupError::ReplaceWouldDrop`].
    pub drop_others: bool,
    /// Called with what is about to be dropped, before anything is.
    pub on_drop: Option<DropFn>,
    /// Tables loaded at once, each over a connection of its own (0 means
    /// two). MySQL: always (into its staging database). PostgreSQL: into a
    /// database the restore creates, where the keys and indexes are then
    /// built over as many connections too (a restore into an existing
    /// database runs in one transaction, so a failure leaves it as it
    /// was). The target's pool must allow this many connections plus one.
    pub parallelism: usize,
    /// MySQL: create views, triggers, routines and events with the
    /// `DEFINER` the source had (the restoring user needs the privilege to
    /// name another user). By default the clause is left out, so the
    /// restoring user becomes their definer.
    pub keep_definers: bool,
    /// PostgreSQL: give each object (schema, type, domain, routine, table,
    /// view, materialized view, sequence) the owner it had in the source.
    /// Every owner must exist on the target server, or the restore fails
    /// with [`BackupError::MissingRoles`] before touching it. By default the
    /// restoring user owns everything.
    pub owners: bool,
    /// PostgreSQL: rebuild each object's privileges (and its columns') as
    /// the source had them, grant options and revoked defaults included.
    /// Every grantee and grantor must exist on the target server, as with
    /// [`owners`](Self::owners). By default privileges are the target's
    /// defaults for objects the restoring user created.
    pub grants: bool,
    /// Called after each chunk.
    pub progress: Option<ProgressFn>,
    /// When cancelled, the restore stops, removes the staging database or
    /// file it made, and fails with [`BackupError::Cancelled`]; the target
    /// is left as it was.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
}

impl std::fmt::Debug for RestoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestoreOptions")
            .field("key", &self.key)
            .field("replace", &self.replace)
            .field("drop_others", &self.drop_others)
            .field("parallelism", &self.parallelism)
            .field("keep_definers", &self.keep_definers)
            .field("owners", &self.owners)
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

/// What a `replace` restore drops in the target before the backup's
/// tables take their place.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DropPlan {
    /// Tables the backup holds too: dropped and recreated from it, with the
    /// indexes and foreign keys the backup records.
    pub replaced: Vec<String>,
    /// What the target holds beyond the backup and would lose: other
    /// tables, and objects on or referencing the dropped tables that the
    /// backup does not recreate (views, triggers, foreign keys from other
    /// tables or schemas). Dropped only with [`RestoreOptions::drop_others`].
    pub others: Vec<String>,
}

impl DropPlan {
    /// Whether nothing is dropped.
    pub fn is_empty(&self) -> bool {
        self.replaced.is_empty() && self.others.is_empty()
    }
}

/// Refuses, announces or allows a plan: the rule shared by the engines.
fn check_plan(plan: &DropPlan, existing_tables: &[String], opts: &RestoreOptions) -> Result<()> {
    if !existing_tables.is_empty() && !opts.replace {
        return Err(not_empty(existing_tables));
    }
    if !plan.others.is_empty() && !opts.drop_others {
        return Err(BackupError::ReplaceWouldDrop {
            objects: summarize(&plan.others),
            count: plan.others.len(),
        });
    }
    if !plan.is_empty()
        && let Some(f) = &opts.on_drop
    {
        f(plan);
    }
    Ok(())
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// The backup's schema.
    pub schema: Arc<BackupSchema>,
    /// Rows loaded.
    pub rows: u64,
    /// Time spent verifying before touching the target.
    pub verify_time: Duration,
    /// Time spent loading.
    pub load_time: Duration,
    /// What was dropped from the target.
    pub dropped: DropPlan,
    /// Staging databases of crashed runs found on the server first.
    pub leftovers: Leftovers,
}

/// Runs `work` unless `cancel` fires first.
async fn cancellable<T>(
    cancel: Option<&tokio_util::sync::CancellationToken>,
    what: &str,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match cancel {
        Some(c) => tokio::select! {
            r = work => r,
            () = c.cancelled() => Err(BackupError::Cancelled(format!("{what} stopped; nothing it made is left"))),
        },
        None => work.await,
    }
}

/// Looks for what crashed runs left on `server`; a failure to look is only
/// logged, never a reason to fail the restore.
async fn leftovers_on(connector: &dyn Connector, server: &DatabaseUrl) -> Leftovers {
    match clean_leftovers(connector, server).await {
        Ok(l) => {
            for k in &l.kept {
                tracing::warn!("leftover of an interrupted run kept: {k}");
            }
            l
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not look for leftover staging databases");
            Leftovers::default()
        }
    }
}

fn db(context: impl std::fmt::Display, e: covet_core::Error) -> BackupError {
    BackupError::Database(e.context(context))
}

async fn exec(tx: &mut dyn Transaction, sql: &str) -> Result<()> {
    tx.execute(&Statement::new(sql))
        .await
        .map(|_| ())
        .map_err(|e| db(first_line(sql), e))
}

/// Runs one of a MySQL object's statements, naming the object on failure.
async fn exec_named(
    tx: &mut dyn Transaction,
    sql: &str,
    o: &crate::mysql::MysqlObject,
) -> Result<()> {
    tx.execute(&Statement::new(sql))
        .await
        .map(|_| ())
        .map_err(|e| db(format!("creating {} {}", o.kind, o.name), e))
}

async fn exec_stmt(tx: &mut dyn Transaction, stmt: &Statement) -> Result<()> {
    tx.execute(stmt)
        .await
        .map(|_| ())
        .map_err(|e| db(first_line(stmt.sql()), e))
}

fn first_line(sql: &str) -> String {
    let l = sql.lines().next().unwrap_or("");
    if l.len() > 120 {
        let mut end = 120;
        while !l.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &l[..end])
    } else {
        l.to_owned()
    }
}

/// Streams the verified backup's rows into `tx`, checking on the way that
/// the stream is the one verified (same SHA-256).
async fn load_rows(
    sink: &dyn BackupSink,
    name: &str,
    opts: &RestoreOptions,
    verified: &VerifyReport,
    tx: &mut dyn Transaction,
) -> Result<u64> {
    let r = sink.open(name).await?;
    let mut reader = StreamReader::open(r, opts.key.as_ref()).await?;
    let mut checker = Checker::new(false);
    let schema = verified.schema.clone();
    let columns: Vec<Vec<String>> = schema
        .tables
        .iter()
        .map(|t| t.table.columns.iter().map(|c| c.name.clone()).collect())
        .collect();
    let mut rows_done = 0u64;
    let mut tables_seen = 0u64;
    while let Some(chunk) = reader.next().await? {
        if chunk.kind == ChunkKind::Manifest {
            break;
        }
        let copy = schema.postgres.as_ref();
        if let Some((t, rows)) = checker.on_chunk(&chunk, copy.is_none())? {
            let table = &schema.tables[t].table.name;
            let n = match (copy, &schema.mysql) {
                (Some(pg), _) => {
                    copy_chunk(tx, &pg.tables[t], table, chunk.payload, chunk.rows).await?
                }
                (None, Some(my)) => {
                    let sql = crate::mysql::insert_sql(&my.tables[t], &rows)?;
                    let n = tx
                        .execute(&Statement::new(sql))
                        .await
                        .map_err(|e| db(format!("loading table {table}"), e))?
                        .rows_affected;
                    if n != rows.len() as u64 {
                        return Err(BackupError::ManifestMismatch(format!(
                            "table {table}: the server inserted {n} rows of a chunk of {}",
                            rows.len()
                        )));
                    }
                    n
                }
                (None, None) => {
                    let n = rows.len() as u64;
                    tx.bulk_insert(table, &columns[t], rows.into())
                        .await
                        .map_err(|e| db(format!("loading table {table}"), e))?;
                    n
                }
            };
            rows_done += n;
            tables_seen = tables_seen.max(t as u64 + 1);
            if let Some(p) = &opts.progress {
                p(&Progress {
                    phase: "restore",
                    rows: rows_done,
                    rows_total: Some(verified.manifest.totals.rows),
                    bytes: reader.stored,
                    tables_done: 0,
                    tables: schema.tables.len() as u64,
                });
            }
        }
    }
    if reader.file_sha256() != verified.sha256 {
        return Err(BackupError::IndexMismatch {
            name: name.to_owned(),
            reason: "the backup changed between verification and loading".into(),
        });
    }
    if rows_done != verified.manifest.totals.rows {
        return Err(BackupError::ManifestMismatch(format!(
            "{rows_done} rows loaded, {} listed",
            verified.manifest.totals.rows
        )));
    }
    Ok(rows_done)
}

/// Loads one chunk of COPY text into its table and checks the server
/// copied as many rows as the chunk holds.
async fn copy_chunk(
    tx: &mut dyn Transaction,
    table: &PgCopyTable,
    label: &str,
    payload: Vec<u8>,
    rows: u32,
) -> Result<u64> {
    let what = || format!("loading table {label}");
    let mut sink = tx
        .copy_in(&table.copy_in_sql())
        .await
        .map_err(|e| db(what(), e))?;
    sink.send(payload).await.map_err(|e| db(what(), e))?;
    let n = sink.finish().await.map_err(|e| db(what(), e))?;
    if n != u64::from(rows) {
        return Err(BackupError::ManifestMismatch(format!(
            "table {label}: the server copied {n} rows from a chunk of {rows}"
        )));
    }
    Ok(n)
}

/// Runs a PostgreSQL catalog's statements, naming the object on failure.
async fn run_objects(tx: &mut dyn Transaction, objects: &[PgObject]) -> Result<()> {
    for o in objects {
        tx.execute(&Statement::new(o.sql.clone()))
            .await
            .map_err(|e| db(format!("creating {} {}", o.kind, o.name), e))?;
    }
    Ok(())
}

/// Creates the backup's tables in `tx`, streams its rows in, and adds the
/// rest of the schema. The order is the engine's: PostgreSQL adds foreign
/// keys after the load (rows arrive in any table order) and builds indexes
/// once over the loaded data; SQLite and MySQL declare foreign keys inline
/// (their callers defer or switch off the checks); MySQL builds indexes
/// before the load because its DDL commits implicitly and a private staging
/// database makes that free. Sequence / auto-increment positions come last.
async fn create_and_load(
    engine: Engine,
    sink: &dyn BackupSink,
    name: &str,
    opts: &RestoreOptions,
    verified: &VerifyReport,
    tx: &mut dyn Transaction,
) -> Result<u64> {
    if let Some(pg) = &verified.schema.postgres {
        // The catalog's own order: everything rows need, the rows, then
        // keys, indexes, foreign keys, triggers, comments, sequence
        // positions and materialized view refreshes over the loaded data.
        pg::pin_session(tx).await?;
        run_objects(tx, &pg.pre_data).await?;
        let rows = load_rows(sink, name, opts, verified, tx).await?;
        run_objects(tx, &pg.post_data).await?;
        run_access(tx, pg, opts).await?;
        return Ok(rows);
    }
    if let Some(cat) = &verified.schema.sqlite {
        // SQLite's own statements: tables, the rows, then indexes, views,
        // triggers, AUTOINCREMENT positions and the header fields.
        let (pre, post) = crate::sqlite::statements(cat);
        for s in &pre {
            exec_stmt(tx, s).await?;
        }
        let rows = load_rows(sink, name, opts, verified, tx).await?;
        for s in &post {
            exec_stmt(tx, s).await?;
        }
        return Ok(rows);
    }
    let tables = &verified.schema.tables;
    let inline_fks = engine != Engine::Postgres;
    let indexes_first = engine == Engine::MySql;
    for t in tables {
        exec(tx, &ddl::create_table(engine, t, inline_fks)).await?;
        if indexes_first {
            for s in ddl::create_indexes(engine, t) {
                exec(tx, &s).await?;
            }
        }
    }
    let rows = load_rows(sink, name, opts, verified, tx).await?;
    for t in tables {
        let indexes = if indexes_first {
            Vec::new()
        } else {
            ddl::create_indexes(engine, t)
        };
        let fks = if inline_fks {
            Vec::new()
        } else {
            ddl::add_foreign_keys(engine, t)
        };
        for s in indexes
            .into_iter()
            .chain(fks)
            .chain(ddl::set_auto_value(engine, t))
        {
            exec(tx, &s).await?;
        }
    }
    Ok(rows)
}

fn check_engine(manifest: &Manifest, target: Engine) -> Result<()> {
    if manifest.engine != target.as_str() {
        return Err(BackupError::Unsupported(format!(
            "restoring a {} backup into {target}: use `covet backup export --format sql` and adapt the SQL",
            manifest.engine
        )));
    }
    Ok(())
}

async fn existing_tables(adapter: &dyn Adapter) -> Result<Vec<String>> {
    Ok(adapter
        .schema()
        .await
        .map_err(|e| db("reading the target's schema", e))?
        .tables
        .into_iter()
        .map(|t| t.name)
        .collect())
}

/// The first few items and how many more.
fn summarize(items: &[String]) -> String {
    let mut s = items.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 5 {
        s.push_str(&format!(" and {} more", items.len() - 5));
    }
    s
}

fn not_empty(tables: &[String]) -> BackupError {
    BackupError::TargetNotEmpty {
        tables: summarize(tables),
    }
}

fn text_of(v: Option<&covet_core::Value>) -> Option<String> {
    match v {
        Some(covet_core::Value::Text(s)) => Some(s.clone()),
        Some(covet_core::Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Splits the target's tables into those the backup holds and the others.
fn split_tables(existing: &[String], backup: &BackupSchema) -> (Vec<String>, Vec<String>) {
    existing
        .iter()
        .cloned()
        .partition(|t| backup.tables.iter().any(|b| &b.table.name == t))
}

fn in_list(engine: Engine, names: &[String]) -> String {
    if names.is_empty() {
        return "NULL".into();
    }
    names
        .iter()
        .map(|n| ddl::literal(engine, &covet_core::Value::Text(n.clone())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// PostgreSQL: the objects outside `set` (tables of the current schema)
/// that dropping `set` would take or break, each with the statement that
/// drops it on its own (none for triggers, which go with their table).
/// Found through the catalogs so that no `CASCADE` is ever needed.
async fn pg_dependents(
    tx: &mut dyn Transaction,
    set: &[String],
) -> Result<Vec<(String, Option<String>)>> {
    let sql = format!(
        "WITH s AS (SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
           WHERE n.nspname = current_schema() AND c.relname IN ({list})) \
         SELECT 1 AS ord, 'foreign key ' || quote_ident(con.conname) || ' on ' || con.conrelid::regclass::text, \
                format('ALTER TABLE %s DROP CONSTRAINT %I', con.conrelid::regclass, con.conname) \
           FROM pg_constraint con WHERE con.contype = 'f' \
            AND con.confrelid IN (SELECT oid FROM s) AND con.conrelid NOT IN (SELECT oid FROM s) \
         UNION \
         SELECT 2, CASE v.relkind WHEN 'm' THEN 'materialized view ' ELSE 'view ' END || v.oid::regclass::text, \
                format('DROP %s %s', CASE v.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, v.oid::regclass) \
           FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class \
          WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass \
            AND d.refobjid IN (SELECT oid FROM s) AND v.oid NOT IN (SELECT oid FROM s) \
         UNION \
         SELECT 3, 'trigger ' || quote_ident(t.tgname) || ' on ' || t.tgrelid::regclass::text, NULL \
           FROM pg_trigger t WHERE NOT t.tgisinternal AND t.tgrelid IN (SELECT oid FROM s) \
         ORDER BY 1, 2",
        list = in_list(Engine::Postgres, set)
    );
    let rows = tx
        .query(&Statement::new(sql))
        .await
        .map_err(|e| db("finding what depends on the replaced tables", e))?;
    Ok(rows
        .rows
        .iter()
        .filter_map(|r| Some((text_of(r.value(1).ok())?, text_of(r.value(2).ok()))))
        .collect())
}

/// Whether the PostgreSQL or MySQL database named in `url` exists (`None`
/// for SQLite, whose restore replaces a file whole).
async fn database_exists(connector: &dyn Connector, url: &DatabaseUrl) -> Result<Option<bool>> {
    let (admin_db, sql) = match url.engine() {
        Engine::Postgres => ("postgres", "SELECT 1 FROM pg_database WHERE datname = $1"),
        Engine::MySql => (
            "information_schema",
            "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
        ),
        _ => return Ok(None),
    };
    let Some(name) = url.database().map(str::to_owned) else {
        return Err(BackupError::Config(format!("{url} names no database")));
    };
    let admin = connector
        .connect(&url.with_database(admin_db))
        .await
        .map_err(|e| db("connecting to look up the target database", e))?;
    let found = admin
        .query(&Statement::new(sql).bind(name))
        .await
        .map_err(|e| db("looking up the target database", e));
    admin.close().await;
    Ok(Some(!found?.is_empty()))
}

/// Creates the PostgreSQL or MySQL database named in `url` if it is missing.
async fn ensure_database(connector: &dyn Connector, url: &DatabaseUrl) -> Result<()> {
    let Some(name) = url.database().map(str::to_owned) else {
        return Err(BackupError::Config(format!("{url} names no database")));
    };
    let (admin_db, exists_sql, quote) = match url.engine() {
        Engine::Postgres => (
            "postgres",
            "SELECT 1 FROM pg_database WHERE datname = $1",
            Engine::Postgres.dialect(),
        ),
        Engine::MySql => (
            "information_schema",
            "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            Engine::MySql.dialect(),
        ),
        _ => return Ok(()),
    };
    let admin = connector
        .connect(&url.with_database(admin_db))
        .await
        .map_err(|e| db("connecting to create the target database", e))?;
    let found = admin
        .query(&Statement::new(exists_sql).bind(name.clone()))
        .await
        .map_err(|e| db("looking up the target database", e))?;
    if found.is_empty() {
        admin
            .execute(&Statement::new(format!(
                "CREATE DATABASE {}",
                quote.quote_ident(&name)
            )))
            .await
            .map_err(|e| db(format!("creating database {name}"), e))?;
    }
    admin.close().await;
    Ok(())
}

async fn drop_database(connector: &dyn Connector, url: &DatabaseUrl, name: &str) -> Result<()> {
    let (admin_db, sql) = match url.engine() {
        Engine::Postgres => (
            "postgres",
            format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                Engine::Postgres.dialect().quote_ident(name)
            ),
        ),
        Engine::MySql => (
            "information_schema",
            format!(
                "DROP DATABASE IF EXISTS {}",
                Engine::MySql.dialect().quote_ident(name)
            ),
        ),
        _ => return Ok(()),
    };
    let admin = connector
        .connect(&url.with_database(admin_db))
        .await
        .map_err(|e| db("connecting to drop a database", e))?;
    let r = admin
        .execute(&Statement::new(sql))
        .await
        .map(|_| ())
        .map_err(|e| db(format!("dropping database {name}"), e));
    admin.close().await;
    r
}

/// Restores the backup `name` from `sink` into the database at `target`.
///
/// The whole backup is verified first. A target holding tables is refused
/// unless [`RestoreOptions::replace`] is set; replace drops exactly the
/// tables the backup holds, and a target that holds more (see
/// [`DropPlan::others`]) is refused unless [`RestoreOptions::drop_others`]
/// is set too. Nothing is dropped with `CASCADE`. A failure part-way leaves the
/// target as it was: PostgreSQL restores in one transaction, SQLite into a
/// new file renamed over the target, MySQL into a staging database whose
/// tables are swapped in with one `RENAME TABLE`. The target database is
/// created when missing, so a backup can be restored under another name.
pub async fn restore(
    sink: &dyn BackupSink,
    name: &str,
    target: &DatabaseUrl,
    connector: &dyn Connector,
    opts: &RestoreOptions,
) -> Result<RestoreReport> {
    let cancel = opts.cancel.as_ref();
    let verified = cancellable(cancel, "restore", verify(sink, name, opts.key.as_ref())).await?;
    check_engine(&verified.manifest, target.engine())?;
    let leftovers = match target.engine() {
        Engine::Postgres | Engine::MySql => leftovers_on(connector, target).await,
        _ => Leftovers::default(),
    };
    let verify_time = verified.elapsed;
    let start = Instant::now();
    let suffix = leftover_suffix();
    // A target database the restore creates is dropped again if the
    // restore fails: "as it was" means absent.
    let existed = database_exists(connector, target).await?;
    let work = async {
        match target.engine() {
            Engine::Postgres => {
                let created = existed == Some(false);
                restore_postgres(sink, name, target, connector, opts, &verified, created).await
            }
            // The temporary file is removed by the future's own guard.
            Engine::Sqlite => restore_sqlite(sink, name, target, connector, opts, &verified).await,
            Engine::MySql => {
                let created = existed == Some(false);
                restore_mysql(
                    sink,
                    name,
                    target,
                    connector,
                    opts,
                    &verified,
                    (&suffix, created),
                )
                .await
            }
            other => Err(BackupError::Unsupported(format!("restore into {other}"))),
        }
    };
    let r = cancellable(cancel, "restore", work).await;
    if matches!(r, Err(BackupError::Cancelled(_))) && target.engine() == Engine::MySql {
        // The load was dropped mid-way: its staging database (and the
        // swap's database, if it got that far) would stay behind.
        for db_name in [
            format!("{STAGE_PREFIX}{suffix}"),
            format!("{OLD_PREFIX}{suffix}"),
        ] {
            if let Err(e) = drop_database(connector, target, &db_name).await {
                tracing::warn!(database = %db_name, error = %e, "could not drop after an interrupt");
            }
        }
    }
    if r.is_err()
        && existed == Some(false)
        && let Some(db_name) = target.database()
        && let Err(e) = drop_database(connector, target, db_name).await
    {
        tracing::warn!(database = %db_name, error = %e, "could not drop the database this failed restore created");
    }
    let (rows, dropped) = r?;
    Ok(RestoreReport {
        manifest: verified.manifest,
        schema: verified.schema,
        rows,
        verify_time,
        load_time: start.elapsed(),
        dropped,
        leftovers,
    })
}

/// Whether a PostgreSQL post-data statement only builds a key or an
/// index on one table (so such statements can run side by side): an index,
/// or a PRIMARY KEY, UNIQUE or EXCLUDE constraint (not a foreign key or a
/// check, which read other tables or must follow the keys they use).
fn pg_builds_key_or_index(o: &PgObject) -> bool {
    if o.kind == "index" {
        return true;
    }
    if o.kind != "constraint" {
        return false;
    }
    // `ALTER TABLE ... ADD CONSTRAINT <ident> <definition>`.
    let Some(i) = o.sql.find(" ADD CONSTRAINT ") else {
        return false;
    };
    let rest = &o.sql[i + " ADD CONSTRAINT ".len()..];
    let def = if let Some(q) = rest.strip_prefix('"') {
        // A quoted name ends at a quote not followed by another.
        let b = q.as_bytes();
        let mut j = 0;
        loop {
            match b.get(j) {
                None => return false,
                Some(b'"') if b.get(j + 1) == Some(&b'"') => j += 2,
                Some(b'"') => break &q[j + 1..],
                Some(_) => j += 1,
            }
        }
    } else {
        match rest.split_once(' ') {
            Some((_, d)) => d,
            None => return false,
        }
    };
    let def = def.trim_start();
    def.starts_with("PRIMARY KEY") || def.starts_with("UNIQUE") || def.starts_with("EXCLUDE")
}

/// Restores a PostgreSQL catalog backup into a new, empty database over
/// `n` connections: the pre-data in one transaction; the rows over `n`
/// connections (the stream read once, in order, each table's chunks to one
/// connection, so tables load side by side and memory stays a few chunks
/// per connection); the keys and indexes over `n` connections, one
/// transaction each (one table's statements wait for each other on its
/// lock); then foreign keys,
/// triggers, policies, comments, sequence positions and materialized view
/// refreshes in one transaction, in the catalog's order. Each phase
/// commits, so the caller drops the database if any fails.
async fn restore_postgres_parallel(
    adapter: &dyn Adapter,
    sink: &dyn BackupSink,
    name: &str,
    opts: &RestoreOptions,
    verified: &VerifyReport,
    pg: &PgCatalog,
    n: usize,
) -> Result<u64> {
    use futures_util::future::try_join_all;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut tx = adapter
        .begin()
        .await
        .map_err(|e| db("beginning the restore transaction", e))?;
    pg::pin_session(tx.as_mut()).await?;
    run_objects(tx.as_mut(), &pg.pre_data).await?;
    tx.commit()
        .await
        .map_err(|e| db("committing the schema", e))?;

    let rows = pg_parallel_load(adapter, sink, name, opts, verified, pg, n).await?;

    let split = pg
        .post_data
        .iter()
        .position(|o| !pg_builds_key_or_index(o))
        .unwrap_or(pg.post_data.len());
    let (build, rest) = pg.post_data.split_at(split);
    let next = AtomicUsize::new(0);
    // One transaction per statement: a worker holding one table's lock
    // while it waits for another's would deadlock with its neighbours.
    let workers = (0..n.min(build.len())).map(|_| async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(o) = build.get(i) else { break };
            let mut tx = adapter
                .begin()
                .await
                .map_err(|e| db("beginning an index build", e))?;
            pg::pin_session(tx.as_mut()).await?;
            run_objects(tx.as_mut(), std::slice::from_ref(o)).await?;
            tx.commit()
                .await
                .map_err(|e| db(format!("committing {} {}", o.kind, o.name), e))?;
        }
        Ok::<_, BackupError>(())
    });
    try_join_all(workers).await?;

    let mut tx = adapter
        .begin()
        .await
        .map_err(|e| db("beginning the restore transaction", e))?;
    pg::pin_session(tx.as_mut()).await?;
    run_objects(tx.as_mut(), rest).await?;
    run_access(tx.as_mut(), pg, opts).await?;
    tx.commit()
        .await
        .map_err(|e| db("committing the restore", e))?;
    Ok(rows)
}

/// Loads a PostgreSQL backup's COPY chunks into its (committed) tables over
/// `n` connections, as [`mysql_parallel_load`] does for MySQL.
async fn pg_parallel_load(
    adapter: &dyn Adapter,
    sink: &dyn BackupSink,
    name: &str,
    opts: &RestoreOptions,
    verified: &VerifyReport,
    pg: &PgCatalog,
    n: usize,
) -> Result<u64> {
    use futures_util::future::{try_join, try_join_all};
    use tokio::sync::mpsc;
    let schema = verified.schema.clone();
    let n = n.clamp(1, pg.tables.len().max(1));
    let mut txs = Vec::with_capacity(n);
    for _ in 0..n {
        let mut tx = adapter
            .begin()
            .await
            .map_err(|e| db("beginning a load connection", e))?;
        pg::pin_session(tx.as_mut()).await?;
        txs.push(tx);
    }
    type Piece = (usize, Vec<u8>, u32);
    let (senders, receivers): (Vec<mpsc::Sender<Piece>>, Vec<mpsc::Receiver<Piece>>) =
        (0..n).map(|_| mpsc::channel::<Piece>(2)).unzip();
    let dispatch = async {
        let senders = senders;
        let r = sink.open(name).await?;
        let mut reader = StreamReader::open(r, opts.key.as_ref()).await?;
        let mut checker = Checker::new(false);
        let mut sent = 0u64;
        while let Some(chunk) = reader.next().await? {
            if chunk.kind == ChunkKind::Manifest {
                break;
            }
            if let Some((t, _)) = checker.on_chunk(&chunk, false)? {
                sent += u64::from(chunk.rows);
                if senders[t % n]
                    .send((t, chunk.payload, chunk.rows))
                    .await
                    .is_err()
                {
                    // Its connection failed; the load's error says why.
                    return Ok(sent);
                }
                if let Some(p) = &opts.progress {
                    p(&Progress {
                        phase: "restore",
                        rows: sent,
                        rows_total: Some(verified.manifest.totals.rows),
                        bytes: reader.stored,
                        tables_done: 0,
                        tables: schema.tables.len() as u64,
                    });
                }
            }
        }
        if reader.file_sha256() != verified.sha256 {
            return Err(BackupError::IndexMismatch {
                name: name.to_owned(),
                reason: "the backup changed between verification and loading".into(),
            });
        }
        Ok(sent)
    };
    let loads = txs.into_iter().zip(receivers).map(|(mut tx, mut rx)| {
        let schema = schema.clone();
        async move {
            let mut done = 0u64;
            while let Some((t, payload, rows)) = rx.recv().await {
                let label = &schema.tables[t].table.name;
                done += copy_chunk(tx.as_mut(), &pg.tables[t], label, payload, rows).await?;
            }
            tx.commit()
                .await
                .map_err(|e| db("committing the load", e))?;
            Ok::<_, BackupError>(done)
        }
    });
    let (sent, loaded) = try_join(dispatch, try_join_all(loads)).await?;
    let loaded: u64 = loaded.iter().sum();
    if loaded != sent || loaded != verified.manifest.totals.rows {
        return Err(BackupError::ManifestMismatch(format!(
            "{loaded} rows loaded, {} listed",
            verified.manifest.totals.rows
        )));
    }
    Ok(loaded)
}

/// Restores into PostgreSQL. Into a database this restore created (which
/// it drops again if it fails, so a failure still leaves the server as it
/// was), a catalog backup loads over [`RestoreOptions::parallelism`]
/// connections (see [`restore_postgres_parallel`]); into an existing
/// database, everything runs in one transaction.
async fn restore_postgres(
    sink: &dyn BackupSink,
    name: &str,
    target: &DatabaseUrl,
    connector: &dyn Connector,
    opts: &RestoreOptions,
    verified: &VerifyReport,
    created: bool,
) -> Result<(u64, DropPlan)> {
    pg_check_roles(connector, target, verified, opts).await?;
    ensure_database(connector, target).await?;
    let adapter = connector
        .connect(target)
        .await
        .map_err(|e| db("connecting to the target", e))?;
    let r = async {
        let existing = existing_tables(adapter.as_ref()).await?;
        if !existing.is_empty() && !opts.replace {
            return Err(not_empty(&existing));
        }
        let n = if opts.parallelism == 0 {
            2
        } else {
            opts.parallelism
        };
        if let Some(pg) = verified.schema.postgres.as_ref()
            && created
            && existing.is_empty()
            && n > 1
        {
            let rows =
                restore_postgres_parallel(adapter.as_ref(), sink, name, opts, verified, pg, n)
                    .await?;
            return Ok((rows, DropPlan::default()));
        }
        let mut tx = adapter
            .begin()
            .await
            .map_err(|e| db("beginning the restore transaction", e))?;
        let (replaced, other_tables) = split_tables(&existing, &verified.schema);
        // What goes if the other tables go too; with only the replaced set,
        // anything else depending on it is an "other" as well.
        let mut set = replaced.clone();
        set.extend(other_tables.iter().cloned());
        let dependents = pg_dependents(tx.as_mut(), &set).await?;
        let plan = DropPlan {
            replaced,
            others: other_tables
                .iter()
                .map(|t| format!("table {t}"))
                .chain(dependents.iter().map(|(label, _)| label.clone()))
                .collect(),
        };
        check_plan(&plan, &existing, opts)?;
        for stmt in dependents.iter().filter_map(|(_, s)| s.as_deref()) {
            exec(tx.as_mut(), stmt).await?;
        }
        if !set.is_empty() {
            let d = Engine::Postgres.dialect();
            let list: Vec<_> = set.iter().map(|t| d.quote_ident(t)).collect();
            // No CASCADE: anything depending on these tables was listed
            // above and dropped on its own; what the catalogs query missed
            // makes this fail and the transaction roll back.
            exec(tx.as_mut(), &format!("DROP TABLE {}", list.join(", "))).await?;
        }
        let rows =
            create_and_load(Engine::Postgres, sink, name, opts, verified, tx.as_mut()).await?;
        tx.commit()
            .await
            .map_err(|e| db("committing the restore", e))?;
        Ok((rows, plan))
    }
    .await;
    adapter.close().await;
    r
}

fn access_options(opts: &RestoreOptions) -> pg::AccessOptions {
    pg::AccessOptions {
        owners: opts.owners,
        grants: opts.grants,
    }
}

/// Gives the restored objects their owners and privileges, as
/// [`RestoreOptions::owners`] and [`RestoreOptions::grants`] ask, last (a
/// restore builds everything as the restoring user).
async fn run_access(tx: &mut dyn Transaction, pg: &PgCatalog, opts: &RestoreOptions) -> Result<()> {
    for s in pg::access_statements(&pg.access, access_options(opts)) {
        tx.execute(&Statement::new(s.clone()))
            .await
            .map_err(|e| db(format!("applying owners and privileges ({s})"), e))?;
    }
    Ok(())
}

/// With [`RestoreOptions::owners`] or [`RestoreOptions::grants`], fails
/// before the target is touched when the backup cannot carry them (no
/// owners recorded) or names roles the target server lacks.
async fn pg_check_roles(
    connector: &dyn Connector,
    target: &DatabaseUrl,
    verified: &VerifyReport,
    opts: &RestoreOptions,
) -> Result<()> {
    let ao = access_options(opts);
    if !ao.any() {
        return Ok(());
    }
    let Some(pg) = verified
        .schema
        .postgres
        .as_ref()
        .filter(|p| !p.access.is_empty())
    else {
        return Err(BackupError::Unsupported(
            "this backup records no owners or privileges (it was written before they were): restore it without --owners/--grants".into(),
        ));
    };
    let roles = pg::roles_needed(&pg.access, ao);
    if roles.is_empty() {
        return Ok(());
    }
    let admin = connector
        .connect(&target.with_database("postgres"))
        .await
        .map_err(|e| db("connecting to look up roles", e))?;
    let found = admin
        .query(&Statement::new(format!(
            "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname IN ({})",
            roles
                .iter()
                .map(|r| format!("'{}'", r.replace('\'', "''")))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .await
        .map_err(|e| db("looking up roles", e));
    admin.close().await;
    let found: Vec<String> = found?
        .rows
        .iter()
        .filter_map(|r| text_of(r.value(0).ok()))
        .collect();
    let missing: Vec<&String> = roles.iter().filter(|r| !found.contains(r)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(BackupError::MissingRoles {
        count: missing.len(),
        roles: missing
            .iter()
            .take(10)
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Removes a SQLite file and its journals when dropped (a no-op once the
/// file was renamed away).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        for s in sidecars(&self.0) {
            let _ = std::fs::remove_file(s);
        }
    }
}

fn sqlite_url(path: &Path) -> Result<DatabaseUrl> {
    DatabaseUrl::parse(&format!("sqlite://{}", path.display())).map_err(BackupError::Database)
}

fn sidecars(path: &Path) -> [PathBuf; 3] {
    let s = path.as_os_str().to_owned();
    let with = |suffix: &str| {
        let mut x = s.clone();
        x.push(suffix);
        PathBuf::from(x)
    };
    [with("-wal"), with("-shm"), with("-journal")]
}

async fn restore_sqlite(
    sink: &dyn BackupSink,
    name: &str,
    target: &DatabaseUrl,
    connector: &dyn Connector,
    opts: &RestoreOptions,
    verified: &VerifyReport,
) -> Result<(u64, DropPlan)> {
    let path = target
        .sqlite_path()
        .ok_or_else(|| BackupError::Config("restore into an in-memory SQLite database".into()))?
        .to_owned();
    let mut plan = DropPlan::default();
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        let existing = connector
            .connect(target)
            .await
            .map_err(|e| db("opening the target", e))?;
        let objects = async {
            let tables = existing_tables(existing.as_ref()).await?;
            // The new file replaces the old one whole: every view and
            // trigger of the target goes, as do tables the backup lacks.
            let rows = existing
                .query(&Statement::new(
                    "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger') \
                     AND name NOT LIKE 'sqlite_%' ORDER BY type, name",
                ))
                .await
                .map_err(|e| db("reading the target's schema", e))?;
            let extra: Vec<String> = rows
                .rows
                .iter()
                .filter_map(|r| {
                    Some(format!(
                        "{} {}",
                        text_of(r.value(0).ok())?,
                        text_of(r.value(1).ok())?
                    ))
                })
                .collect();
            Ok::<_, BackupError>((tables, extra))
        }
        .await;
        existing.close().await;
        let (tables, extra) = objects?;
        let (replaced, others) = split_tables(&tables, &verified.schema);
        plan = DropPlan {
            replaced,
            others: others
                .iter()
                .map(|t| format!("table {t}"))
                .chain(extra)
                .collect(),
        };
        check_plan(&plan, &tables, opts)?;
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let fname = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "db".into());
    let tmp = dir.join(format!(
        ".{fname}.covet-restore-{}",
        crate::crypto::hex(&rand::random::<[u8; 6]>())
    ));
    let cleanup = |tmp: PathBuf| async move {
        let _ = tokio::fs::remove_file(&tmp).await;
        for s in sidecars(&tmp) {
            let _ = tokio::fs::remove_file(s).await;
        }
    };
    // An interrupt drops this future at any await: the new file goes too.
    let _guard = RemoveOnDrop(tmp.clone());
    // The restored file holds the data: it starts private (SQLite gives its
    // journals the same mode) and takes the old target's mode, if there
    // was one, only when it replaces it.
    let old_mode = std::fs::metadata(&path).ok().map(|m| m.permissions());
    crate::sink::create_private(&tmp)
        .map_err(|e| BackupError::io(format!("creating {}", tmp.display()), e))?;
    let r = async {
        let adapter = connector
            .connect(&sqlite_url(&tmp)?)
            .await
            .map_err(|e| db("creating the new database file", e))?;
        let r = async {
            let mut tx = adapter
                .begin()
                .await
                .map_err(|e| db("beginning the restore transaction", e))?;
            // Rows arrive in any table order: check foreign keys at commit.
            exec(tx.as_mut(), "PRAGMA defer_foreign_keys = ON").await?;
            let rows =
                create_and_load(Engine::Sqlite, sink, name, opts, verified, tx.as_mut()).await?;
            tx.commit()
                .await
                .map_err(|e| db("committing the restore", e))?;
            Ok(rows)
        }
        .await;
        adapter.close().await;
        r
    }
    .await;
    match r {
        Ok(rows) => {
            // Sync the new file before it takes the target's name.
            let f = tokio::fs::File::open(&tmp)
                .await
                .map_err(|e| BackupError::io("opening the restored file", e))?;
            f.sync_all()
                .await
                .map_err(|e| BackupError::io("syncing the restored file", e))?;
            drop(f);
            if let Some(perm) = old_mode {
                tokio::fs::set_permissions(&tmp, perm)
                    .await
                    .map_err(|e| BackupError::io("setting the restored file's mode", e))?;
            }
            // Stale journals of the old file must not be applied to the new.
            for s in sidecars(&path) {
                let _ = tokio::fs::remove_file(s).await;
            }
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| BackupError::io(format!("renaming over {}", path.display()), e))?;
            cleanup(tmp).await;
            Ok((rows, plan))
        }
        Err(e) => {
            cleanup(tmp).await;
            Err(e)
        }
    }
}

async fn restore_mysql(
    sink: &dyn BackupSink,
    name: &str,
    target: &DatabaseUrl,
    connector: &dyn Connector,
    opts: &RestoreOptions,
    verified: &VerifyReport,
    (suffix, created): (&str, bool),
) -> Result<(u64, DropPlan)> {
    let target_db = target
        .database()
        .ok_or_else(|| BackupError::Config(format!("{target} names no database")))?
        .to_owned();
    ensure_database(connector, target).await?;
    let d = Engine::MySql.dialect();
    let (plan, drop_set, dependents) = {
        let a = connector
            .connect(target)
            .await
            .map_err(|e| db("connecting to the target", e))?;
        let r = async {
            let existing = existing_tables(a.as_ref()).await?;
            if !existing.is_empty() && !opts.replace {
                return Err(not_empty(&existing));
            }
            let (replaced, other_tables) = split_tables(&existing, &verified.schema);
            let mut set = replaced.clone();
            set.extend(other_tables.iter().cloned());
            let dependents = mysql_dependents(a.as_ref(), &target_db, &set, &other_tables).await?;
            let plan = DropPlan {
                replaced,
                others: other_tables
                    .iter()
                    .map(|t| format!("table {t}"))
                    .chain(dependents.iter().map(|(l, _)| l.clone()))
                    .collect(),
            };
            check_plan(&plan, &existing, opts)?;
            Ok((plan, set, dependents))
        }
        .await;
        a.close().await;
        r?
    };
    let staging = format!("{STAGE_PREFIX}{suffix}");
    let old = format!("{OLD_PREFIX}{suffix}");
    let staging_url = target.with_database(&staging);
    ensure_database(connector, &staging_url).await?;
    let r = async {
        let adapter = connector
            .connect(&staging_url)
            .await
            .map_err(|e| db("connecting to the staging database", e))?;
        let r = async {
            let mut tx = adapter
                .begin()
                .await
                .map_err(|e| db("beginning the staging load", e))?;
            exec(tx.as_mut(), "SET FOREIGN_KEY_CHECKS = 0").await?;
            if let Some(my) = &verified.schema.mysql {
                exec(tx.as_mut(), &database_defaults(&staging, my)).await?;
            }
            let rows = match &verified.schema.mysql {
                Some(my) => {
                    exec(tx.as_mut(), crate::mysql::LOAD_SESSION).await?;
                    let split: Vec<_> = my.tables.iter().map(crate::mysql::split_create).collect();
                    for t in &split {
                        exec(tx.as_mut(), &t.create).await?;
                    }
                    let rows =
                        mysql_parallel_load(adapter.as_ref(), sink, name, opts, verified).await?;
                    let indexes = split.iter().filter_map(|t| t.indexes.clone());
                    mysql_parallel_ddl(adapter.as_ref(), opts, indexes.collect()).await?;
                    // After every index: a foreign key needs one on both sides.
                    for fk in split.iter().filter_map(|t| t.foreign_keys.as_deref()) {
                        exec(tx.as_mut(), fk).await?;
                    }
                    rows
                }
                None => {
                    create_and_load(Engine::MySql, sink, name, opts, verified, tx.as_mut()).await?
                }
            };
            if let Some(my) = &verified.schema.mysql {
                // Tried here first, so a definition the server refuses
                // fails the restore before the target is touched; triggers
                // go again (a table with one cannot move to another
                // database), the rest goes with the staging database.
                for o in my.objects.iter().filter(|o| o.kind != "event") {
                    for s in crate::mysql::object_statements(o, opts.keep_definers) {
                        exec_named(tx.as_mut(), &s, o).await?;
                    }
                    exec(tx.as_mut(), crate::mysql::RESET_SESSION).await?;
                }
                for o in my.objects.iter().filter(|o| o.kind == "trigger") {
                    exec(tx.as_mut(), &crate::mysql::drop_statement(o)).await?;
                }
            }
            exec(tx.as_mut(), "SET FOREIGN_KEY_CHECKS = 1").await?;
            tx.commit()
                .await
                .map_err(|e| db("committing the staging load", e))?;
            // Triggers cannot move to another database and foreign keys
            // from outside would follow the old tables: they go first (the
            // user asked for it: they are in the plan's `others`). MySQL
            // commits each of these at once.
            for stmt in dependents.iter().map(|(_, s)| s) {
                exec_adapter(adapter.as_ref(), stmt).await?;
            }
            // One RENAME TABLE moves the old tables out and the new in,
            // atomically.
            let mut tx = adapter
                .begin()
                .await
                .map_err(|e| db("beginning the swap", e))?;
            if !drop_set.is_empty() {
                exec(
                    tx.as_mut(),
                    &format!("CREATE DATABASE {}", d.quote_ident(&old)),
                )
                .await?;
            }
            let mut pairs = Vec::new();
            for t in &drop_set {
                pairs.push(format!(
                    "{}.{} TO {}.{}",
                    d.quote_ident(&target_db),
                    d.quote_ident(t),
                    d.quote_ident(&old),
                    d.quote_ident(t)
                ));
            }
            for t in &verified.schema.tables {
                let n = &t.table.name;
                pairs.push(format!(
                    "{}.{} TO {}.{}",
                    d.quote_ident(&staging),
                    d.quote_ident(n),
                    d.quote_ident(&target_db),
                    d.quote_ident(n)
                ));
            }
            if !pairs.is_empty() {
                exec(tx.as_mut(), &format!("RENAME TABLE {}", pairs.join(", "))).await?;
            }
            tx.commit()
                .await
                .map_err(|e| db("committing the swap", e))?;
            Ok::<_, BackupError>((rows, plan))
        }
        .await;
        adapter.close().await;
        let (rows, plan) = r?;
        if let Some(my) = &verified.schema.mysql {
            let mut made = Vec::new();
            if let Err(e) = mysql_objects(connector, target, my, opts, created, &mut made).await {
                // The target goes back as it was: what was created in it
                // is dropped and the swap reversed (a target the restore
                // created is dropped whole by the caller).
                let undo = async {
                    let a = connector
                        .connect(target)
                        .await
                        .map_err(|e| db("connecting to the target", e))?;
                    let r = async {
                        let mut tx = a.begin().await.map_err(|e| db("beginning the undo", e))?;
                        for &i in made.iter().rev() {
                            exec(tx.as_mut(), &crate::mysql::drop_statement(&my.objects[i]))
                                .await?;
                        }
                        let mut pairs = Vec::new();
                        for t in &verified.schema.tables {
                            let n = d.quote_ident(&t.table.name);
                            let (tgt, stg) = (d.quote_ident(&target_db), d.quote_ident(&staging));
                            pairs.push(format!("{tgt}.{n} TO {stg}.{n}"));
                        }
                        for t in &drop_set {
                            let n = d.quote_ident(t);
                            let (o, tgt) = (d.quote_ident(&old), d.quote_ident(&target_db));
                            pairs.push(format!("{o}.{n} TO {tgt}.{n}"));
                        }
                        if !pairs.is_empty() {
                            exec(tx.as_mut(), &format!("RENAME TABLE {}", pairs.join(", "))).await?;
                        }
                        tx.commit().await.map_err(|e| db("committing the undo", e))
                    }
                    .await;
                    a.close().await;
                    r
                };
                if !created && let Err(u) = undo.await {
                    tracing::error!(error = %u, "could not put the target back after a failed restore");
                }
                return Err(e);
            }
        }
        Ok((rows, plan))
    }
    .await;
    let _ = drop_database(connector, target, &staging).await;
    if !drop_set.is_empty() {
        let _ = drop_database(connector, target, &old).await;
    }
    r
}

/// Loads a MySQL backup's rows into its (created) tables over several
/// connections of `adapter`: the stream is read once, in order, and each
/// table's chunks go to one connection (table index modulo the count), so
/// tables load side by side while the memory held stays a few chunks per
/// connection.
async fn mysql_parallel_load(
    adapter: &dyn Adapter,
    sink: &dyn BackupSink,
    name: &str,
    opts: &RestoreOptions,
    verified: &VerifyReport,
) -> Result<u64> {
    use futures_util::future::{try_join, try_join_all};
    use tokio::sync::mpsc;
    let schema = verified.schema.clone();
    let Some(my) = schema.mysql.as_ref() else {
        return Err(BackupError::Unsupported(
            "not a MySQL catalog backup".into(),
        ));
    };
    let want = if opts.parallelism == 0 {
        2
    } else {
        opts.parallelism
    };
    let n = want.clamp(1, my.tables.len().max(1));
    let mut txs = Vec::with_capacity(n);
    for _ in 0..n {
        let mut tx = adapter
            .begin()
            .await
            .map_err(|e| db("beginning a load connection", e))?;
        exec(tx.as_mut(), crate::mysql::LOAD_SESSION).await?;
        txs.push(tx);
    }
    type Batch = (usize, Vec<Vec<covet_core::Value>>);
    let (senders, receivers): (Vec<mpsc::Sender<Batch>>, Vec<mpsc::Receiver<Batch>>) =
        (0..n).map(|_| mpsc::channel::<Batch>(2)).unzip();
    let dispatch = async {
        let senders = senders;
        let r = sink.open(name).await?;
        let mut reader = StreamReader::open(r, opts.key.as_ref()).await?;
        let mut checker = Checker::new(false);
        let mut sent = 0u64;
        while let Some(chunk) = reader.next().await? {
            if chunk.kind == ChunkKind::Manifest {
                break;
            }
            if let Some((t, rows)) = checker.on_chunk(&chunk, true)? {
                sent += rows.len() as u64;
                if senders[t % n].send((t, rows)).await.is_err() {
                    // Its connection failed; the load's error says why.
                    return Ok(sent);
                }
                if let Some(p) = &opts.progress {
                    p(&Progress {
                        phase: "restore",
                        rows: sent,
                        rows_total: Some(verified.manifest.totals.rows),
                        bytes: reader.stored,
                        tables_done: 0,
                        tables: schema.tables.len() as u64,
                    });
                }
            }
        }
        if reader.file_sha256() != verified.sha256 {
            return Err(BackupError::IndexMismatch {
                name: name.to_owned(),
                reason: "the backup changed between verification and loading".into(),
            });
        }
        Ok(sent)
    };
    let loads = txs.into_iter().zip(receivers).map(|(mut tx, mut rx)| {
        let schema = schema.clone();
        async move {
            let Some(my) = schema.mysql.as_ref() else {
                return Ok(0);
            };
            let mut done = 0u64;
            while let Some((t, rows)) = rx.recv().await {
                let table = &my.tables[t].name;
                let sql = crate::mysql::insert_sql(&my.tables[t], &rows)?;
                let got = tx
                    .execute(&Statement::new(sql))
                    .await
                    .map_err(|e| db(format!("loading table {table}"), e))?
                    .rows_affected;
                if got != rows.len() as u64 {
                    return Err(BackupError::ManifestMismatch(format!(
                        "table {table}: the server inserted {got} rows of a chunk of {}",
                        rows.len()
                    )));
                }
                done += got;
            }
            tx.commit()
                .await
                .map_err(|e| db("committing the load", e))?;
            Ok::<_, BackupError>(done)
        }
    });
    let (sent, loaded) = try_join(dispatch, try_join_all(loads)).await?;
    let loaded: u64 = loaded.iter().sum();
    if loaded != sent || loaded != verified.manifest.totals.rows {
        return Err(BackupError::ManifestMismatch(format!(
            "{loaded} rows loaded, {} listed",
            verified.manifest.totals.rows
        )));
    }
    Ok(loaded)
}

/// Runs `statements` (one `ALTER TABLE` per table) on up to
/// `opts.parallelism` connections at once, each in the load session so
/// that nothing is checked again that the source already held.
async fn mysql_parallel_ddl(
    adapter: &dyn Adapter,
    opts: &RestoreOptions,
    statements: Vec<String>,
) -> Result<()> {
    use futures_util::future::try_join_all;
    if statements.is_empty() {
        return Ok(());
    }
    let want = if opts.parallelism == 0 {
        2
    } else {
        opts.parallelism
    };
    let n = want.clamp(1, statements.len());
    let queue = std::sync::Mutex::new(statements.into_iter());
    let workers = (0..n).map(|_| async {
        let mut tx = adapter
            .begin()
            .await
            .map_err(|e| db("beginning an index build connection", e))?;
        exec(tx.as_mut(), crate::mysql::LOAD_SESSION).await?;
        loop {
            let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
            let Some(sql) = next else { break };
            exec(tx.as_mut(), &sql).await?;
        }
        tx.commit()
            .await
            .map_err(|e| db("committing the index builds", e))
    });
    try_join_all(workers).await.map(|_| ())
}

/// `ALTER DATABASE` giving `db` the source database's defaults.
fn database_defaults(db: &str, my: &crate::mysql::MysqlCatalog) -> String {
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok(&my.charset) && ok(&my.collation) {
        format!(
            "ALTER DATABASE {} CHARACTER SET {} COLLATE {}",
            Engine::MySql.dialect().quote_ident(db),
            my.charset,
            my.collation
        )
    } else {
        "DO 0".into()
    }
}

/// Creates the backup's routines, views, triggers and events in the
/// target, once its tables are in place, each in the session context it
/// was created in (with `replace`, an object of the same name is dropped
/// first). A target the restore created gets the source's default
/// character set and collation first.
async fn mysql_objects(
    connector: &dyn Connector,
    target: &DatabaseUrl,
    my: &crate::mysql::MysqlCatalog,
    opts: &RestoreOptions,
    created: bool,
    made: &mut Vec<usize>,
) -> Result<()> {
    if my.objects.is_empty() && !created {
        return Ok(());
    }
    let adapter = connector
        .connect(target)
        .await
        .map_err(|e| db("connecting to the target", e))?;
    let r = async {
        let mut tx = adapter
            .begin()
            .await
            .map_err(|e| db("beginning the target's objects", e))?;
        if created && let Some(name) = target.database() {
            exec(tx.as_mut(), &database_defaults(name, my)).await?;
        }
        exec(tx.as_mut(), crate::mysql::LOAD_SESSION).await?;
        for (i, o) in my.objects.iter().enumerate() {
            if opts.replace {
                exec(tx.as_mut(), &crate::mysql::drop_statement(o)).await?;
            }
            for s in crate::mysql::object_statements(o, opts.keep_definers) {
                exec_named(tx.as_mut(), &s, o).await?;
            }
            made.push(i);
            exec(tx.as_mut(), crate::mysql::RESET_SESSION).await?;
        }
        tx.commit()
            .await
            .map_err(|e| db("committing the target's objects", e))
    }
    .await;
    adapter.close().await;
    r
}

async fn exec_adapter(a: &dyn Adapter, sql: &str) -> Result<()> {
    a.execute(&Statement::new(sql))
        .await
        .map(|_| ())
        .map_err(|e| db(first_line(sql), e))
}

/// MySQL: what moving `set` out of `db` would take or break: foreign keys
/// from tables outside the set (any database), triggers on the set, and
/// views of the target that name a table of `dropped` (the other tables;
/// a view over a replaced table finds the new one under the same name).
async fn mysql_dependents(
    a: &dyn Adapter,
    db_name: &str,
    set: &[String],
    dropped: &[String],
) -> Result<Vec<(String, String)>> {
    let d = Engine::MySql.dialect();
    let lit = |s: &str| ddl::literal(Engine::MySql, &covet_core::Value::Text(s.to_owned()));
    let list = in_list(Engine::MySql, set);
    let mut out = Vec::new();
    let fks = a
        .query(&Statement::new(format!(
            "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME \
             FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE UNIQUE_CONSTRAINT_SCHEMA = {} AND REFERENCED_TABLE_NAME IN ({list}) \
             ORDER BY 1, 2, 3",
            lit(db_name)
        )))
        .await
        .map_err(|e| db("finding foreign keys to the replaced tables", e))?;
    for r in &fks.rows {
        let (Some(schema), Some(table), Some(name)) = (
            text_of(r.value(0).ok()),
            text_of(r.value(1).ok()),
            text_of(r.value(2).ok()),
        ) else {
            continue;
        };
        if schema == db_name && set.contains(&table) {
            continue;
        }
        let on = if schema == db_name {
            table.clone()
        } else {
            format!("{schema}.{table}")
        };
        out.push((
            format!("foreign key {name} on {on}"),
            format!(
                "ALTER TABLE {}.{} DROP FOREIGN KEY {}",
                d.quote_ident(&schema),
                d.quote_ident(&table),
                d.quote_ident(&name)
            ),
        ));
    }
    let triggers = a
        .query(&Statement::new(format!(
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS \
             WHERE EVENT_OBJECT_SCHEMA = {} AND EVENT_OBJECT_TABLE IN ({list}) ORDER BY 1",
            lit(db_name)
        )))
        .await
        .map_err(|e| db("finding triggers on the replaced tables", e))?;
    for r in &triggers.rows {
        let (Some(name), Some(table)) = (text_of(r.value(0).ok()), text_of(r.value(1).ok())) else {
            continue;
        };
        out.push((
            format!("trigger {name} on {table}"),
            format!(
                "DROP TRIGGER {}.{}",
                d.quote_ident(db_name),
                d.quote_ident(&name)
            ),
        ));
    }
    if !dropped.is_empty() {
        let views = a
            .query(&Statement::new(format!(
                "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS \
                 WHERE TABLE_SCHEMA = {} ORDER BY 1",
                lit(db_name)
            )))
            .await
            .map_err(|e| db("finding views on the dropped tables", e))?;
        for r in &views.rows {
            let (Some(name), Some(def)) = (text_of(r.value(0).ok()), text_of(r.value(1).ok()))
            else {
                continue;
            };
            // The server stores view definitions with quoted names.
            if dropped.iter().any(|t| def.contains(&d.quote_ident(t))) {
                out.push((
                    format!("view {name}"),
                    format!(
                        "DROP VIEW {}.{}",
                        d.quote_ident(db_name),
                        d.quote_ident(&name)
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// What a drill found.
#[derive(Debug, Clone)]
pub struct DrillReport {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// The scratch database (dropped again).
    pub scratch: String,
    /// Per-table results.
    pub tables: Vec<DrillTable>,
    /// The measured recovery time: verify plus restore.
    pub rto: Duration,
    /// Where the restored schema differs from the backup's (see
    /// [`schema_differences`]); empty when equal.
    pub schema_differences: Vec<String>,
    /// Whether every table matched and the schema was equal.
    pub passed: bool,
    /// Scratch databases of crashed drills found on the server first.
    pub leftovers: Leftovers,
}

/// One table in a drill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillTable {
    /// The table.
    pub name: String,
    /// Rows in the manifest.
    pub expected_rows: u64,
    /// Rows restored.
    pub restored_rows: u64,
    /// Whether the content checksums are equal.
    pub checksum_equal: bool,
}

/// Reads a table's row count and content checksum.
///
/// On PostgreSQL the rows are read as COPY text, as a backup stores them:
/// `table.name` is `schema.name`, or a name in the current schema, and
/// `table.columns` the columns a backup copies (generated ones left out).
/// On MySQL the values are read in the exact forms a backup holds them,
/// generated columns left out.
pub async fn table_checksum(
    adapter: &dyn Adapter,
    table: &covet_core::Table,
) -> Result<(u64, ContentChecksum)> {
    if adapter.engine() == Engine::Postgres {
        let mut tx = adapter
            .begin()
            .await
            .map_err(|e| db("beginning a read transaction", e))?;
        let (schema, name) = match table.name.split_once('.') {
            Some((s, n)) => (s.to_owned(), n.to_owned()),
            None => {
                let r = tx
                    .query(&Statement::new("SELECT current_schema()::text"))
                    .await
                    .map_err(|e| db("reading the current schema", e))?;
                let s = text_of(r.rows.first().and_then(|r| r.value(0).ok()))
                    .unwrap_or_else(|| "public".into());
                (s, table.name.clone())
            }
        };
        let t = PgCopyTable {
            schema,
            name,
            columns: table.columns.iter().map(|c| c.name.clone()).collect(),
        };
        let r = pg_table_checksum(tx.as_mut(), &t, &table.name).await;
        let _ = tx.rollback().await;
        return r;
    }
    if adapter.engine() == Engine::MySql {
        // In the exact forms a backup holds (generated columns left out).
        let mut tx = adapter
            .begin()
            .await
            .map_err(|e| db("beginning a read transaction", e))?;
        let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        let t = crate::mysql::describe_table(tx.as_mut(), &table.name, &names).await;
        let _ = tx.rollback().await;
        return mysql_checksum(adapter, &t?).await;
    }
    // SQLite: by storage class, as a backup reads it.
    let sql = match adapter.engine() {
        Engine::Sqlite => crate::sqlite::select_exact(table),
        e => ddl::select_all(e, table),
    };
    values_checksum(adapter, table, sql).await
}

/// Row count and checksum of the rows `sql` reads, in the row encoding.
async fn values_checksum(
    adapter: &dyn Adapter,
    table: &covet_core::Table,
    sql: String,
) -> Result<(u64, ContentChecksum)> {
    let mut s = adapter
        .query_stream(&Statement::new(sql))
        .await
        .map_err(|e| db(format!("reading table {}", table.name), e))?;
    let mut sum = ContentChecksum::default();
    let mut n = 0;
    let mut scratch = Vec::new();
    while let Some(row) = s.next().await {
        let row = row.map_err(|e| db(format!("reading table {}", table.name), e))?;
        let values = row
            .values()
            .map_err(|e| db(format!("reading table {}", table.name), e))?;
        sum.add_row(values, &mut scratch)
            .map_err(BackupError::Unsupported)?;
        n += 1;
    }
    Ok((n, sum))
}

/// Row count and checksum of a MySQL table's values in the exact forms a
/// backup holds.
async fn mysql_checksum(
    adapter: &dyn Adapter,
    table: &crate::mysql::MysqlTable,
) -> Result<(u64, ContentChecksum)> {
    let what = || format!("reading table {}", table.name);
    let mut s = adapter
        .query_stream(&Statement::new(crate::mysql::select_exact(table)))
        .await
        .map_err(|e| db(what(), e))?;
    let mut sum = ContentChecksum::default();
    let mut n = 0;
    let mut scratch = Vec::new();
    while let Some(row) = s.next().await {
        let row = row.map_err(|e| db(what(), e))?;
        let values = crate::mysql::row_values(table, &row)?;
        sum.add_row(&values, &mut scratch)
            .map_err(BackupError::Unsupported)?;
        n += 1;
    }
    Ok((n, sum))
}

/// Where the schema of the database `adapter` is connected to differs from
/// the one `schema` holds, read the way a backup reads it, one line per
/// object: on PostgreSQL every catalog object's statement (in the backup's
/// schemas: types, tables, constraints, indexes, views, routines, triggers,
/// policies, comments, sequence positions, ...), on SQLite every
/// `sqlite_master` statement, `sqlite_sequence`, `user_version` and
/// `application_id`, on MySQL each table's `SHOW CREATE TABLE` and each
/// view, routine, trigger and event with its context (DEFINERs aside).
/// Empty when equal, and for version 1 backups, which hold no catalog.
/// Run right after a restore (as [`drill`] does): the application's
/// writes move sequence positions.
pub async fn schema_differences(
    adapter: &dyn Adapter,
    schema: &BackupSchema,
) -> Result<Vec<String>> {
    if let Some(my) = &schema.mysql {
        return mysql_schema_differences(adapter, my).await;
    }
    if let Some(pg) = &schema.postgres {
        return pg_schema_differences(adapter, pg).await;
    }
    if let Some(sq) = &schema.sqlite {
        return sqlite_schema_differences(adapter, sq).await;
    }
    Ok(Vec::new())
}

/// Lines naming each `(kind, name)` whose statements differ between
/// `want` (the backup) and `got` (the database). Compared as sets: the
/// order among independent objects is the server's and may differ.
fn object_differences<'a>(
    want: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    got: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
) -> Vec<String> {
    use std::collections::BTreeMap;
    type Objects<'a> = BTreeMap<(&'a str, &'a str), Vec<&'a str>>;
    let collect = |it: &mut dyn Iterator<Item = (&'a str, &'a str, &'a str)>| {
        let mut m: Objects<'a> = BTreeMap::new();
        for (kind, name, sql) in it {
            m.entry((kind, name)).or_default().push(sql);
        }
        for v in m.values_mut() {
            v.sort_unstable();
        }
        m
    };
    let (mut want, mut got) = (want, got);
    let (want, got) = (collect(&mut want), collect(&mut got));
    let mut out = Vec::new();
    for ((kind, name), sql) in &want {
        match got.get(&(kind, name)) {
            None => out.push(format!("{kind} {name} missing")),
            Some(g) if g != sql => out.push(format!("{kind} {name} differs")),
            Some(_) => {}
        }
    }
    for (kind, name) in got.keys().filter(|k| !want.contains_key(*k)) {
        out.push(format!("{kind} {name} not in the backup"));
    }
    out
}

/// The name `quote_ident` gave.
fn unquote_ident(s: &str) -> String {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => s.to_owned(),
    }
}

/// PostgreSQL: the catalog of the database behind `adapter` in the
/// backup's schemas, read the way the backup read it (under the same
/// pinned session settings).
async fn restored_pg_catalog(adapter: &dyn Adapter, pg: &PgCatalog) -> Result<PgCatalog> {
    // A new database has its own public schema: only the backup's count.
    let schemas: Vec<String> = pg
        .pre_data
        .iter()
        .filter(|o| o.kind == "schema")
        .map(|o| unquote_ident(&o.name))
        .collect();
    let mut tx = adapter
        .begin()
        .await
        .map_err(|e| db("beginning a read transaction", e))?;
    let got = async {
        pg::pin_session(tx.as_mut()).await?;
        pg::read_catalog(
            tx.as_mut(),
            &pg::CatalogOptions {
                schemas,
                exclude: Vec::new(),
            },
        )
        .await
    }
    .await;
    let _ = tx.rollback().await;
    let got = got?;
    Ok(got)
}

/// PostgreSQL: the database's catalog in the backup's schemas against the
/// backup's, read the same way (under the same pinned session settings).
async fn pg_schema_differences(adapter: &dyn Adapter, pg: &PgCatalog) -> Result<Vec<String>> {
    let got = restored_pg_catalog(adapter, pg).await?;
    fn items(c: &PgCatalog) -> impl Iterator<Item = (&str, &str, &str)> {
        c.pre_data
            .iter()
            .chain(&c.post_data)
            .map(|o| (o.kind.as_str(), o.name.as_str(), o.sql.as_str()))
    }
    Ok(object_differences(items(pg), items(&got)))
}

/// PostgreSQL: what [`RestoreOptions::owners`] / [`RestoreOptions::grants`]
/// should have given back and did not, one line per object (empty when
/// neither is asked).
async fn pg_access_differences(
    adapter: &dyn Adapter,
    pg: &PgCatalog,
    ao: pg::AccessOptions,
) -> Result<Vec<String>> {
    if !ao.any() {
        return Ok(Vec::new());
    }
    let got = restored_pg_catalog(adapter, pg).await?;
    let mut out = Vec::new();
    for want in &pg.access {
        let Some(have) = got
            .access
            .iter()
            .find(|g| g.kind == want.kind && g.name == want.name)
        else {
            continue;
        };
        if ao.owners && have.owner != want.owner {
            out.push(format!("{} {} owner differs", want.kind, want.name));
        }
        // Without owners, the source owner's place is the restoring
        // user's, and its own entries are not carried.
        let norm = |acl: &[pg::PgGrant], owner: &str| -> Vec<pg::PgGrant> {
            let role = |r: &str| {
                if !ao.owners && r == owner {
                    String::new()
                } else {
                    r.to_owned()
                }
            };
            acl.iter()
                .filter(|g| ao.owners || g.grantee.as_deref() != Some(owner))
                .map(|g| pg::PgGrant {
                    grantee: g.grantee.as_deref().map(role),
                    grantor: role(&g.grantor),
                    ..g.clone()
                })
                .collect()
        };
        let view = |a: &pg::PgAccess| {
            (
                a.acl.as_deref().map(|acl| norm(acl, &a.owner)),
                a.columns
                    .iter()
                    .map(|c| (c.column.clone(), norm(&c.acl, &a.owner)))
                    .collect::<Vec<_>>(),
            )
        };
        if ao.grants && (want.acl.is_some() || !want.columns.is_empty()) && view(have) != view(want)
        {
            out.push(format!("{} {} privileges differ", want.kind, want.name));
        }
    }
    Ok(out)
}

/// SQLite: `sqlite_master`, `sqlite_sequence` and the two header fields
/// against the backup's.
async fn sqlite_schema_differences(
    adapter: &dyn Adapter,
    want: &crate::sqlite::SqliteCatalog,
) -> Result<Vec<String>> {
    let mut tx = adapter
        .begin()
        .await
        .map_err(|e| db("beginning a read transaction", e))?;
    // A restored file holds only virtual tables a backup carries.
    let got = crate::sqlite::read_catalog(tx.as_mut(), &[], &mut Vec::new()).await;
    let _ = tx.rollback().await;
    let got = got?;
    fn items(c: &crate::sqlite::SqliteCatalog) -> impl Iterator<Item = (&str, &str, &str)> {
        c.objects
            .iter()
            .map(|o| (o.kind.as_str(), o.name.as_str(), o.sql.as_str()))
    }
    let mut out = object_differences(items(want), items(&got));
    let sorted = |c: &crate::sqlite::SqliteCatalog| {
        let mut s = c.sequences.clone();
        s.sort();
        s
    };
    if sorted(want) != sorted(&got) {
        out.push(format!(
            "sqlite_sequence {:?} (backup: {:?})",
            sorted(&got),
            sorted(want)
        ));
    }
    if got.user_version != want.user_version {
        out.push(format!(
            "user_version {} (backup: {})",
            got.user_version, want.user_version
        ));
    }
    if got.application_id != want.application_id {
        out.push(format!(
            "application_id {} (backup: {})",
            got.application_id, want.application_id
        ));
    }
    Ok(out)
}

/// MySQL: the restored database's catalog against the backup's, read the
/// same way; DEFINERs are compared without (a restore leaves them out).
async fn mysql_schema_differences(
    adapter: &dyn Adapter,
    my: &crate::mysql::MysqlCatalog,
) -> Result<Vec<String>> {
    let mut tx = adapter
        .begin()
        .await
        .map_err(|e| db("beginning a read transaction", e))?;
    let got = crate::mysql::read_catalog(tx.as_mut(), &Default::default()).await;
    let _ = tx.rollback().await;
    let got = got?;
    let mut out = Vec::new();
    if (&got.charset, &got.collation) != (&my.charset, &my.collation) {
        out.push(format!(
            "database defaults {} {} (backup: {} {})",
            got.charset, got.collation, my.charset, my.collation
        ));
    }
    for t in &my.tables {
        match got.tables.iter().find(|g| g.name == t.name) {
            None => out.push(format!("table {} missing", t.name)),
            Some(g) if g.create != t.create || g.columns != t.columns => {
                out.push(format!("table {}: SHOW CREATE TABLE differs", t.name));
            }
            Some(_) => {}
        }
    }
    for g in got
        .tables
        .iter()
        .filter(|g| !my.tables.iter().any(|t| t.name == g.name))
    {
        out.push(format!("table {} not in the backup", g.name));
    }
    let key = |o: &crate::mysql::MysqlObject| {
        (
            o.kind.clone(),
            o.name.clone(),
            crate::mysql::strip_definer(&o.sql),
            o.sql_mode.clone(),
            o.character_set_client.clone(),
            o.collation_connection.clone(),
            o.time_zone.clone(),
        )
    };
    for o in &my.objects {
        match got
            .objects
            .iter()
            .find(|g| g.kind == o.kind && g.name == o.name)
        {
            None => out.push(format!("{} {} missing", o.kind, o.name)),
            Some(g) if key(g) != key(o) => out.push(format!("{} {} differs", o.kind, o.name)),
            Some(_) => {}
        }
    }
    for g in got.objects.iter().filter(|g| {
        !my.objects
            .iter()
            .any(|o| o.kind == g.kind && o.name == g.name)
    }) {
        out.push(format!("{} {} not in the backup", g.kind, g.name));
    }
    Ok(out)
}

/// Row count and checksum of one table's COPY text, inside `tx`.
async fn pg_table_checksum(
    tx: &mut dyn Transaction,
    table: &PgCopyTable,
    label: &str,
) -> Result<(u64, ContentChecksum)> {
    pg::pin_session(tx).await?;
    let what = || format!("reading table {label}");
    let mut stream = tx
        .copy_out(&table.copy_out_sql())
        .await
        .map_err(|e| db(what(), e))?;
    let mut sum = ContentChecksum::default();
    let mut n = 0u64;
    let mut partial: Vec<u8> = Vec::new();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|e| db(what(), e))?;
        let mut rest = &piece[..];
        while let Some(i) = rest.iter().position(|b| *b == b'\n') {
            if partial.is_empty() {
                sum.add_encoded_row(&rest[..=i]);
            } else {
                partial.extend_from_slice(&rest[..=i]);
                sum.add_encoded_row(&partial);
                partial.clear();
            }
            n += 1;
            rest = &rest[i + 1..];
        }
        partial.extend_from_slice(rest);
    }
    Ok((n, sum))
}

/// Compares a database's tables with a manifest, table by table.
pub(crate) async fn compare_with_manifest(
    adapter: &dyn Adapter,
    schema: &BackupSchema,
    manifest: &Manifest,
) -> Result<Vec<DrillTable>> {
    let mut out = Vec::new();
    for (i, t) in schema.tables.iter().enumerate() {
        let entry = manifest.table(&t.table.name).ok_or_else(|| {
            BackupError::ManifestMismatch(format!("no entry for {}", t.table.name))
        })?;
        let (rows, sum) = match &schema.postgres {
            Some(pg) => {
                let mut tx = adapter
                    .begin()
                    .await
                    .map_err(|e| db("beginning a read transaction", e))?;
                let r = pg_table_checksum(tx.as_mut(), &pg.tables[i], &t.table.name).await;
                let _ = tx.rollback().await;
                r?
            }
            None if schema.mysql.is_some() => {
                let my = schema.mysql.as_ref().map(|m| &m.tables[i]);
                mysql_checksum(adapter, my.expect("checked")).await?
            }
            // A version 1 backup read SQLite by declared type.
            None if schema.sqlite.is_none() && adapter.engine() == Engine::Sqlite => {
                values_checksum(adapter, &t.table, ddl::select_all(Engine::Sqlite, &t.table))
                    .await?
            }
            None => table_checksum(adapter, &t.table).await?,
        };
        out.push(DrillTable {
            name: t.table.name.clone(),
            expected_rows: entry.rows,
            restored_rows: rows,
            checksum_equal: sum.to_hex() == entry.content_checksum,
        });
    }
    Ok(out)
}

/// Restores the backup into a scratch database beside `server` (a new
/// database on the same PostgreSQL / MySQL server, or a temporary SQLite
/// file), compares every table's row count and content checksum with the
/// manifest, reports verify + restore time as the RTO, and drops the scratch
/// database whatever the outcome. Scratch databases that crashed drills
/// left are dropped first (see [`clean_leftovers`](crate::clean_leftovers)).
pub async fn drill(
    sink: &dyn BackupSink,
    name: &str,
    server: &DatabaseUrl,
    connector: &dyn Connector,
    key: Option<&KeySource>,
) -> Result<DrillReport> {
    drill_cancellable(sink, name, server, connector, key, None).await
}

/// [`drill`], stopped by `cancel` (Ctrl-C): the scratch database is dropped
/// and the drill fails with [`BackupError::Cancelled`].
pub async fn drill_cancellable(
    sink: &dyn BackupSink,
    name: &str,
    server: &DatabaseUrl,
    connector: &dyn Connector,
    key: Option<&KeySource>,
    cancel: Option<&tokio_util::sync::CancellationToken>,
) -> Result<DrillReport> {
    let opts = RestoreOptions {
        key: key.cloned(),
        cancel: cancel.cloned(),
        ..Default::default()
    };
    drill_with(sink, name, server, connector, &opts).await
}

/// [`drill`] with restore options: the key, the cancellation token, and on
/// PostgreSQL [`RestoreOptions::owners`] and [`RestoreOptions::grants`],
/// whose result is then compared too (each object's owner and ACL against
/// the backup's, reported among the schema differences). Options that
/// shape a restore into an existing database (`replace`, `drop_others`,
/// `on_drop`) do not apply to the scratch database and are ignored.
pub async fn drill_with(
    sink: &dyn BackupSink,
    name: &str,
    server: &DatabaseUrl,
    connector: &dyn Connector,
    options: &RestoreOptions,
) -> Result<DrillReport> {
    let cancel = options.cancel.as_ref();
    let leftovers = leftovers_on(connector, server).await;
    let scratch = format!("{DRILL_PREFIX}{}", leftover_suffix());
    let tmpdir;
    let url = match server.engine() {
        Engine::Sqlite => {
            tmpdir = std::env::temp_dir();
            sqlite_url(&tmpdir.join(format!("{scratch}.db")))?
        }
        _ => server.with_database(&scratch),
    };
    // The restore handles the interrupt itself (its staging database);
    // the comparison is simply stopped.
    let opts = RestoreOptions {
        replace: false,
        drop_others: false,
        on_drop: None,
        ..options.clone()
    };
    let start = Instant::now();
    let work = async {
        let report = restore(sink, name, &url, connector, &opts).await?;
        let rto = start.elapsed();
        let verified_schema = report.schema.clone();
        let tables = cancellable(cancel, "drill", async {
            let adapter = connector
                .connect(&url)
                .await
                .map_err(|e| db("connecting to the scratch database", e))?;
            let r = async {
                let tables =
                    compare_with_manifest(adapter.as_ref(), &verified_schema, &report.manifest)
                        .await?;
                let mut diffs = schema_differences(adapter.as_ref(), &verified_schema).await?;
                if let Some(pg) = &verified_schema.postgres {
                    diffs.extend(
                        pg_access_differences(adapter.as_ref(), pg, access_options(&opts)).await?,
                    );
                }
                Ok::<_, BackupError>((tables, diffs))
            }
            .await;
            adapter.close().await;
            r
        })
        .await?;
        let (tables, schema_differences) = tables;
        let passed = schema_differences.is_empty()
            && tables
                .iter()
                .all(|t| t.checksum_equal && t.expected_rows == t.restored_rows);
        Ok(DrillReport {
            manifest: report.manifest,
            scratch: scratch.clone(),
            tables,
            schema_differences,
            rto,
            passed,
            leftovers: leftovers.clone(),
        })
    };
    let result = work.await;
    match server.engine() {
        Engine::Sqlite => {
            if let Some(p) = url.sqlite_path() {
                let _ = tokio::fs::remove_file(p).await;
                for s in sidecars(p) {
                    let _ = tokio::fs::remove_file(s).await;
                }
            }
        }
        _ => {
            if let Err(e) = drop_database(connector, server, &scratch).await {
                tracing::warn!(database = %scratch, error = %e, "could not drop the drill's scratch database");
            }
        }
    }
    result
}

/// Writes a verified backup as plain SQL into the file `path` (see
/// [`export_sql`]). The SQL goes to a new private (0600) temporary file
/// beside `path`, which is synced and renamed to `path` only when complete:
/// a full disk, an error or an interrupt never leaves a truncated file
/// under the final name (an existing file there is replaced only by a
/// complete export).
pub async fn export_sql_to_file(
    sink: &dyn BackupSink,
    name: &str,
    key: Option<&KeySource>,
    path: &Path,
) -> Result<u64> {
    export_sql_via(sink, name, key, path, |f| f).await
}

/// [`export_sql_to_file`] with the file wrapped by `wrap` (tests inject a
/// writer that fails part-way).
pub(crate) async fn export_sql_via<W, F>(
    sink: &dyn BackupSink,
    name: &str,
    key: Option<&KeySource>,
    path: &Path,
    wrap: F,
) -> Result<u64>
where
    W: std::io::Write + Send,
    F: FnOnce(std::fs::File) -> W,
{
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let fname = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| BackupError::Config(format!("{} is not a file name", path.display())))?;
    let tmp = dir.join(format!(".{fname}.{}.partial", crate::sink::unique_tag()));
    let file = crate::sink::create_private(&tmp)
        .map_err(|e| BackupError::io(format!("creating {}", tmp.display()), e))?;
    let guard = RemoveOnDrop(tmp.clone());
    let sync = file
        .try_clone()
        .map_err(|e| BackupError::io("opening the export file", e))?;
    let mut w = std::io::BufWriter::with_capacity(256 << 10, wrap(file));
    let rows = export_sql(sink, name, key, &mut w).await?;
    let io = |e| BackupError::io(format!("writing {}", path.display()), e);
    std::io::Write::flush(&mut w).map_err(io)?;
    drop(w);
    sync.sync_all().map_err(io)?;
    drop(sync);
    std::fs::rename(&tmp, path).map_err(io)?;
    drop(guard);
    Ok(rows)
}

/// Writes a verified backup as plain SQL (DDL, then multi-row INSERTs, then
/// indexes, foreign keys and sequence positions) in its engine's dialect.
pub async fn export_sql<W: std::io::Write + Send>(
    sink: &dyn BackupSink,
    name: &str,
    key: Option<&KeySource>,
    out: &mut W,
) -> Result<u64> {
    let verified = verify(sink, name, key).await?;
    let engine = match verified.manifest.engine.as_str() {
        "postgresql" => Engine::Postgres,
        "mysql" => Engine::MySql,
        _ => Engine::Sqlite,
    };
    let io = |e| BackupError::io("writing SQL", e);
    let schema = verified.schema.clone();
    writeln!(
        out,
        "-- Covet backup {name}: {} database {:?}, taken {}\n-- {} tables, {} rows",
        verified.manifest.engine,
        verified.manifest.database,
        verified.manifest.started_at.to_rfc3339(),
        verified.manifest.totals.tables,
        verified.manifest.totals.rows
    )
    .map_err(io)?;
    if engine == Engine::Sqlite {
        writeln!(out, "PRAGMA foreign_keys = OFF;\nBEGIN;").map_err(io)?;
    } else if engine == Engine::MySql {
        writeln!(out, "SET FOREIGN_KEY_CHECKS = 0;").map_err(io)?;
    } else {
        writeln!(out, "BEGIN;").map_err(io)?;
    }
    if let Some(pg) = &schema.postgres {
        for (k, v) in pg::SESSION_SETTINGS {
            writeln!(out, "SET LOCAL {k} = {v};").map_err(io)?;
        }
        for o in &pg.pre_data {
            writeln!(out, "-- {} {}\n{};", o.kind, o.name, o.sql).map_err(io)?;
        }
    }
    let own_ddl = schema.postgres.is_some() || schema.sqlite.is_some() || schema.mysql.is_some();
    if let Some(my) = &schema.mysql {
        // The session a restore loads in; then the server's own tables.
        writeln!(out, "{};", crate::mysql::LOAD_SESSION).map_err(io)?;
        for t in &my.tables {
            writeln!(out, "{};", t.create).map_err(io)?;
        }
    }
    let sqlite_sql = schema.sqlite.as_ref().map(crate::sqlite::statements);
    if let Some((pre, _)) = &sqlite_sql {
        for s in pre {
            writeln!(out, "{};", s.sql()).map_err(io)?;
        }
    }
    for t in schema.tables.iter().filter(|_| !own_ddl) {
        writeln!(
            out,
            "{};",
            ddl::create_table(engine, t, engine != Engine::Postgres)
        )
        .map_err(io)?;
    }
    let r = sink.open(name).await?;
    let mut reader = StreamReader::open(r, key).await?;
    let mut checker = Checker::new(false);
    let mut rows_out = 0;
    while let Some(chunk) = reader.next().await? {
        if let Some(pg) = &schema.postgres {
            if let Some((t, _)) = checker.on_chunk(&chunk, false)? {
                // psql's form: the COPY text as it is, ended by `\.`.
                writeln!(out, "{};", pg.tables[t].copy_in_sql()).map_err(io)?;
                out.write_all(&chunk.payload).map_err(io)?;
                writeln!(out, "\\.").map_err(io)?;
                rows_out += u64::from(chunk.rows);
            }
            continue;
        }
        if let Some((t, rows)) = checker.on_chunk(&chunk, true)? {
            if let Some(my) = &schema.mysql {
                writeln!(out, "{};", crate::mysql::insert_sql(&my.tables[t], &rows)?)
                    .map_err(io)?;
                rows_out += rows.len() as u64;
                continue;
            }
            for batch in rows.chunks(500) {
                writeln!(out, "{};", ddl::insert(engine, &schema.tables[t], batch)).map_err(io)?;
                rows_out += batch.len() as u64;
            }
        }
    }
    if reader.file_sha256() != verified.sha256 {
        return Err(BackupError::IndexMismatch {
            name: name.to_owned(),
            reason: "the backup changed while being read".into(),
        });
    }
    if let Some(pg) = &schema.postgres {
        for o in &pg.post_data {
            writeln!(out, "-- {} {}\n{};", o.kind, o.name, o.sql).map_err(io)?;
        }
    }
    if let Some(my) = &schema.mysql {
        // The mysql client's form: routine bodies hold semicolons.
        writeln!(out, "DELIMITER ;;").map_err(io)?;
        for o in &my.objects {
            writeln!(out, "-- {} {}", o.kind, o.name).map_err(io)?;
            for s in crate::mysql::object_statements(o, false) {
                writeln!(out, "{s};;").map_err(io)?;
            }
            writeln!(out, "{};;", crate::mysql::RESET_SESSION).map_err(io)?;
        }
        writeln!(out, "DELIMITER ;").map_err(io)?;
    }
    if let Some((_, post)) = &sqlite_sql {
        for s in post {
            // The positions' names are bound values; printed as literals.
            let mut parts = s.sql().split('?');
            let mut sql = parts.next().unwrap_or_default().to_owned();
            for (part, v) in parts.zip(s.params()) {
                sql.push_str(&ddl::literal(Engine::Sqlite, v));
                sql.push_str(part);
            }
            writeln!(out, "{sql};").map_err(io)?;
        }
    }
    for t in schema.tables.iter().filter(|_| !own_ddl) {
        let mut stmts = ddl::create_indexes(engine, t);
        if engine == Engine::Postgres {
            stmts.extend(ddl::add_foreign_keys(engine, t));
        }
        stmts.extend(ddl::set_auto_value(engine, t));
        for s in stmts {
            writeln!(out, "{s};").map_err(io)?;
        }
    }
    match engine {
        Engine::MySql => writeln!(out, "SET FOREIGN_KEY_CHECKS = 1;"),
        _ => writeln!(out, "COMMIT;"),
    }
    .map_err(io)?;
    Ok(rows_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Encryption, TableSchema};
    use crate::sink::MemorySink;
    use crate::writer::{BackupWriter, SourceInfo, WriteOptions};

    #[test]
    fn key_and_index_builds_are_told_from_checks_and_foreign_keys() {
        let o = |kind: &str, sql: &str| PgObject {
            kind: kind.into(),
            name: "x".into(),
            sql: sql.into(),
        };
        for (kind, sql, want) in [
            ("index", "CREATE INDEX i ON s.t USING btree (a)", true),
            (
                "constraint",
                "ALTER TABLE ONLY s.t ADD CONSTRAINT t_pkey PRIMARY KEY (a)",
                true,
            ),
            (
                "constraint",
                "ALTER TABLE ONLY s.t ADD CONSTRAINT u UNIQUE (a)",
                true,
            ),
            (
                "constraint",
                "ALTER TABLE ONLY s.t ADD CONSTRAINT e EXCLUDE USING gist (r WITH &&)",
                true,
            ),
            // A quoted name that reads like a key.
            (
                "constraint",
                "ALTER TABLE ONLY s.t ADD CONSTRAINT \"x \"\" PRIMARY KEY\" FOREIGN KEY (a) REFERENCES s.u(a)",
                false,
            ),
            (
                "constraint",
                "ALTER TABLE ONLY s.t ADD CONSTRAINT \"UNIQUE \"\"\" UNIQUE (a)",
                true,
            ),
            (
                "constraint",
                "ALTER TABLE ONLY s.t ADD CONSTRAINT c CHECK ((a > 0)) NOT VALID",
                false,
            ),
            (
                "constraint",
                "ALTER TABLE s.t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES s.u(a)",
                false,
            ),
            (
                "trigger",
                "CREATE TRIGGER x AFTER INSERT ON s.t EXECUTE FUNCTION f()",
                false,
            ),
            (
                "index partition",
                "ALTER INDEX s.i ATTACH PARTITION s.j",
                false,
            ),
        ] {
            assert_eq!(pg_builds_key_or_index(&o(kind, sql)), want, "{sql}");
        }
    }
    use covet_core::Value;

    async fn backup(sink: &MemorySink) {
        let schema = BackupSchema {
            engine: "sqlite".into(),
            tables: vec![TableSchema {
                table: covet_core::Table {
                    name: "t".into(),
                    columns: vec![covet_core::ColumnInfo {
                        name: "v".into(),
                        data_type: "TEXT".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                next_auto_value: None,
            }],
            postgres: None,
            sqlite: None,
            mysql: None,
        };
        let mut w = BackupWriter::create(
            sink,
            "e.covet",
            schema,
            SourceInfo::now("sqlite", "d"),
            WriteOptions::new(Encryption::None),
        )
        .await
        .unwrap();
        for i in 0..2000 {
            w.write_rows(0, &[vec![Value::Text(format!("row number {i}"))]])
                .await
                .unwrap();
        }
        w.finish().await.unwrap();
    }

    /// A version 1 backup (row encoding for every engine, no catalog) is
    /// still verified, exported and restored by the version 1 path; a
    /// version from the future is refused by name.
    #[tokio::test(flavor = "current_thread")]
    async fn version_1_backups_still_read() {
        let sink = MemorySink::new();
        crate::format::WRITE_VERSION.with(|v| v.set(1));
        backup(&sink).await;
        crate::format::WRITE_VERSION.with(|v| v.set(crate::format::FORMAT_VERSION));
        let report = verify(&sink, "e.covet", None).await.unwrap();
        assert_eq!(report.manifest.format_version, 1);
        assert!(report.schema.postgres.is_none());
        let mut sql = Vec::new();
        assert_eq!(
            export_sql(&sink, "e.covet", None, &mut sql).await.unwrap(),
            2000
        );
        let dir = tempfile::tempdir().unwrap();
        let target = sqlite_url(&dir.path().join("v1.db")).unwrap();
        let r = restore(
            &sink,
            "e.covet",
            &target,
            &Sqlite,
            &RestoreOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(r.rows, 2000);

        let future = MemorySink::new();
        crate::format::WRITE_VERSION.with(|v| v.set(crate::format::FORMAT_VERSION + 1));
        backup(&future).await;
        crate::format::WRITE_VERSION.with(|v| v.set(crate::format::FORMAT_VERSION));
        let e = verify(&future, "e.covet", None).await.unwrap_err();
        assert!(
            matches!(e, BackupError::UnsupportedVersion(v) if v == crate::format::FORMAT_VERSION + 1),
            "{e}"
        );
        assert!(e.to_string().contains("reads versions 1 to 2"), "{e}");
    }

    struct Sqlite;

    #[async_trait]
    impl Connector for Sqlite {
        async fn connect(&self, url: &DatabaseUrl) -> covet_core::Result<Arc<dyn Adapter>> {
            Ok(Arc::new(
                covet_adapter_sqlite::SqliteAdapter::connect(url).await?,
            ))
        }
    }

    /// A writer that fails like a full disk after `left` bytes.
    struct DiskFull {
        inner: std::fs::File,
        left: usize,
    }

    impl std::io::Write for DiskFull {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                return Err(std::io::Error::other("No space left on device (injected)"));
            }
            let n = buf.len().min(self.left);
            self.left -= n;
            self.inner.write(&buf[..n])
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// Before the fix the CLI wrote `export.sql` in place: a full disk left
    /// a truncated file under the final name. Now neither the final name
    /// nor the temporary file remains, and an older export there is kept.
    #[tokio::test]
    async fn a_full_disk_leaves_no_truncated_export() {
        let sink = MemorySink::new();
        backup(&sink).await;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export.sql");
        let e = export_sql_via(&sink, "e.covet", None, &out, |f| DiskFull {
            inner: f,
            left: 10_000,
        })
        .await
        .unwrap_err();
        assert!(matches!(e, BackupError::Io { .. }), "{e}");
        assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));

        std::fs::write(&out, b"-- an older export\n").unwrap();
        export_sql_via(&sink, "e.covet", None, &out, |f| DiskFull {
            inner: f,
            left: 10_000,
        })
        .await
        .unwrap_err();
        assert_eq!(std::fs::read(&out).unwrap(), b"-- an older export\n");
        assert_eq!(files(dir.path()), vec!["export.sql".to_string()]);

        let n = export_sql_to_file(&sink, "e.covet", None, &out)
            .await
            .unwrap();
        assert_eq!(n, 2000);
        let sql = std::fs::read_to_string(&out).unwrap();
        assert!(sql.contains("row number 1999") && sql.ends_with("COMMIT;\n"));
        assert_eq!(files(dir.path()), vec!["export.sql".to_string()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "export output is private");
        }
    }
}
