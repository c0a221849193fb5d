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
use crate::manifest::Manifest;
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

/// How to restore.
#[derive(Clone, Default)]
pub struct RestoreOptions {
    /// The key or passphrase, for encrypted backups.
    pub key: Option<KeySource>,
    /// Replace a target that already holds tables (otherwise refused).
    pub replace: bool,
    /// Called after each chunk.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for RestoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestoreOptions")
            .field("key", &self.key)
            .field("replace", &self.replace)
            .finish_non_exhaustive()
    }
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
        if let Some((t, rows)) = checker.on_chunk(&chunk, true)? {
            let n = rows.len() as u64;
            let table = &schema.tables[t].table.name;
            tx.bulk_insert(table, &columns[t], rows)
                .await
                .map_err(|e| db(format!("loading table {table}"), e))?;
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

fn not_empty(tables: &[String]) -> BackupError {
    let mut s = tables
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if tables.len() > 5 {
        s.push_str(&format!(" and {} more", tables.len() - 5));
    }
    BackupError::TargetNotEmpty { tables: s }
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
/// unless [`RestoreOptions::replace`] is set. A failure part-way leaves the
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
    let verified = verify(sink, name, opts.key.as_ref()).await?;
    check_engine(&verified.manifest, target.engine())?;
    let verify_time = verified.elapsed;
    let start = Instant::now();
    let rows = match target.engine() {
        Engine::Postgres => {
            restore_postgres(sink, name, target, connector, opts, &verified).await?
        }
        Engine::Sqlite => restore_sqlite(sink, name, target, connector, opts, &verified).await?,
        Engine::MySql => restore_mysql(sink, name, target, connector, opts, &verified).await?,
        other => return Err(BackupError::Unsupported(format!("restore into {other}"))),
    };
    Ok(RestoreReport {
        manifest: verified.manifest,
        schema: verified.schema,
        rows,
        verify_time,
        load_time: start.elapsed(),
    })
}

async fn restore_postgres(
    sink: &dyn BackupSink,
    name: &str,
    target: &DatabaseUrl,
    connector: &dyn Connector,
    opts: &RestoreOptions,
    verified: &VerifyReport,
) -> Result<u64> {
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
        let mut tx = adapter
            .begin()
            .await
            .map_err(|e| db("beginning the restore transaction", e))?;
        let d = Engine::Postgres.dialect();
        for t in &existing {
            exec(
                tx.as_mut(),
                &format!("DROP TABLE IF EXISTS {} CASCADE", d.quote_ident(t)),
            )
            .await?;
        }
        let rows =
            create_and_load(Engine::Postgres, sink, name, opts, verified, tx.as_mut()).await?;
        tx.commit()
            .await
            .map_err(|e| db("committing the restore", e))?;
        Ok(rows)
    }
    .await;
    adapter.close().await;
    r
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
) -> Result<u64> {
    let path = target
        .sqlite_path()
        .ok_or_else(|| BackupError::Config("restore into an in-memory SQLite database".into()))?
        .to_owned();
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        let existing = connector
            .connect(target)
            .await
            .map_err(|e| db("opening the target", e))?;
        let tables = existing_tables(existing.as_ref()).await;
        existing.close().await;
        let tables = tables?;
        if !tables.is_empty() && !opts.replace {
            return Err(not_empty(&tables));
        }
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
            // Stale journals of the old file must not be applied to the new.
            for s in sidecars(&path) {
                let _ = tokio::fs::remove_file(s).await;
            }
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| BackupError::io(format!("renaming over {}", path.display()), e))?;
            cleanup(tmp).await;
            Ok(rows)
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
) -> Result<u64> {
    let target_db = target
        .database()
        .ok_or_else(|| BackupError::Config(format!("{target} names no database")))?
        .to_owned();
    ensure_database(connector, target).await?;
    let d = Engine::MySql.dialect();
    let existing = {
        let a = connector
            .connect(target)
            .await
            .map_err(|e| db("connecting to the target", e))?;
        let t = existing_tables(a.as_ref()).await;
        a.close().await;
        t?
    };
    if !existing.is_empty() && !opts.replace {
        return Err(not_empty(&existing));
    }
    let suffix = crate::crypto::hex(&rand::random::<[u8; 4]>());
    let staging = format!("covet_stage_{suffix}");
    let old = format!("covet_old_{suffix}");
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
            let rows =
                create_and_load(Engine::MySql, sink, name, opts, verified, tx.as_mut()).await?;
            exec(tx.as_mut(), "SET FOREIGN_KEY_CHECKS = 1").await?;
            tx.commit()
                .await
                .map_err(|e| db("committing the staging load", e))?;
            // One RENAME TABLE moves the old tables out and the new in,
            // atomically.
            let mut tx = adapter
                .begin()
                .await
                .map_err(|e| db("beginning the swap", e))?;
            if !existing.is_empty() {
                exec(
                    tx.as_mut(),
                    &format!("CREATE DATABASE {}", d.quote_ident(&old)),
                )
                .await?;
            }
            let mut pairs = Vec::new();
            for t in &existing {
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
            Ok(rows)
        }
        .await;
        adapter.close().await;
        r
    }
    .await;
    let _ = drop_database(connector, target, &staging).await;
    if !existing.is_empty() {
        let _ = drop_database(connector, target, &old).await;
    }
    r
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
    /// Whether every table matched.
    pub passed: bool,
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
pub async fn table_checksum(
    adapter: &dyn Adapter,
    table: &covet_core::Table,
) -> Result<(u64, ContentChecksum)> {
    let sql = ddl::select_all(adapter.engine(), table);
    let mut s = adapter
        .query_stream(&Statement::new(sql))
        .await
        .map_err(|e| db(format!("reading table {}", table.name), e))?;
    let mut sum = ContentChecksum::default();
    let mut n = 0;
    let mut scratch = Vec::new();
    while let Some(row) = s.next().await {
        let row = row.map_err(|e| db(format!("reading table {}", table.name), e))?;
        sum.add_row(row.values(), &mut scratch)
            .map_err(BackupError::Unsupported)?;
        n += 1;
    }
    Ok((n, sum))
}

/// Compares a database's tables with a manifest, table by table.
pub async fn compare_with_manifest(
    adapter: &dyn Adapter,
    schema: &BackupSchema,
    manifest: &Manifest,
) -> Result<Vec<DrillTable>> {
    let mut out = Vec::new();
    for t in &schema.tables {
        let entry = manifest.table(&t.table.name).ok_or_else(|| {
            BackupError::ManifestMismatch(format!("no entry for {}", t.table.name))
        })?;
        let (rows, sum) = table_checksum(adapter, &t.table).await?;
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
/// database whatever the outcome.
pub async fn drill(
    sink: &dyn BackupSink,
    name: &str,
    server: &DatabaseUrl,
    connector: &dyn Connector,
    key: Option<&KeySource>,
) -> Result<DrillReport> {
    let scratch = format!(
        "covet_drill_{}",
        crate::crypto::hex(&rand::random::<[u8; 5]>())
    );
    let tmpdir;
    let url = match server.engine() {
        Engine::Sqlite => {
            tmpdir = std::env::temp_dir();
            sqlite_url(&tmpdir.join(format!("{scratch}.db")))?
        }
        _ => server.with_database(&scratch),
    };
    let opts = RestoreOptions {
        key: key.cloned(),
        replace: false,
        progress: None,
    };
    let start = Instant::now();
    let result = async {
        let report = restore(sink, name, &url, connector, &opts).await?;
        let rto = start.elapsed();
        let verified_schema = report.schema.clone();
        let adapter = connector
            .connect(&url)
            .await
            .map_err(|e| db("connecting to the scratch database", e))?;
        let tables =
            compare_with_manifest(adapter.as_ref(), &verified_schema, &report.manifest).await;
        adapter.close().await;
        let tables = tables?;
        let passed = tables
            .iter()
            .all(|t| t.checksum_equal && t.expected_rows == t.restored_rows);
        Ok(DrillReport {
            manifest: report.manifest,
            scratch: scratch.clone(),
            tables,
            rto,
            passed,
        })
    }
    .await;
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
    for t in &schema.tables {
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
        if let Some((t, rows)) = checker.on_chunk(&chunk, true)? {
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
    for t in &schema.tables {
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
