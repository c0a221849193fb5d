//! Exporting a database from one consistent snapshot.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use covet_core::{Adapter, Engine, IsolationLevel, Statement, Transaction, TxOptions, Value};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::ddl;
use crate::error::{BackupError, Result};
use crate::format::{BackupSchema, TableSchema};
use crate::manifest::SnapshotPosition;
use crate::pg::{self, PgCopyTable};
use crate::sink::{BackupEntry, BackupSink};
use crate::writer::{BackupWriter, EncodedChunk, SourceInfo, TableEncoder, WriteOptions};

/// Progress of a long operation, reported to a callback.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// What is being done (`export`, `verify`, `restore`).
    pub phase: &'static str,
    /// Rows so far.
    pub rows: u64,
    /// Rows expected in all, when the engine can estimate it.
    pub rows_total: Option<u64>,
    /// Bytes written or read so far.
    pub bytes: u64,
    /// Tables finished.
    pub tables_done: u64,
    /// Tables in all.
    pub tables: u64,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How to create a backup.
#[derive(Clone)]
pub struct CreateOptions {
    /// Format options: compression, encryption, chunk size.
    pub write: WriteOptions,
    /// The backup's name; by default `<database>-<time>.covet`.
    pub name: Option<String>,
    /// Tables exported at once (PostgreSQL and MySQL; SQLite reads on one
    /// connection). The adapter's pool must allow this many connections
    /// plus one. On MySQL more than one takes `FLUSH TABLES WITH READ
    /// LOCK` for the moment the workers start their snapshots (as
    /// mydumper does); without the privilege the export runs on one
    /// connection and says so in the manifest's warnings.
    pub parallelism: usize,
    /// Called after each chunk.
    pub progress: Option<ProgressFn>,
    /// PostgreSQL: the schemas to back up (every non-system schema when
    /// empty).
    pub schemas: Vec<String>,
    /// Objects to leave out that a backup would otherwise refuse, each as
    /// [`BackupError::Refused`] names it (`kind name`, for example
    /// `operator public.===(integer,integer)` on PostgreSQL, `sequence s1`
    /// on MariaDB, `virtual table pages` on SQLite).
    pub exclude: Vec<String>,
}

impl std::fmt::Debug for CreateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateOptions")
            .field("write", &self.write)
            .field("name", &self.name)
            .field("parallelism", &self.parallelism)
            .field("schemas", &self.schemas)
            .field("exclude", &self.exclude)
            .finish_non_exhaustive()
    }
}

impl CreateOptions {
    /// Defaults around the given format options: two parallel tables.
    pub fn new(write: WriteOptions) -> Self {
        CreateOptions {
            write,
            name: None,
            parallelism: 2,
            progress: None,
            schemas: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

fn db_err(context: &str, e: covet_core::Error) -> BackupError {
    BackupError::Database(e.context(context))
}

async fn one_text(tx: &mut dyn Transaction, sql: &str) -> Result<Option<String>> {
    let rows = tx
        .query(&Statement::new(sql))
        .await
        .map_err(|e| db_err(sql, e))?;
    Ok(rows.rows.first().and_then(|r| match r.value(0).ok() {
        Some(Value::Text(s)) => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(v) => Some(ddl::literal(Engine::Sqlite, v)),
    }))
}

fn as_i64(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::I16(n) => Some(i64::from(*n)),
        Value::I32(n) => Some(i64::from(*n)),
        Value::I64(n) => Some(*n),
        Value::Decimal(d) => d.as_str().parse().ok(),
        Value::Text(s) => s.parse().ok(),
        _ => None,
    }
}

/// What the main (snapshot-holding) transaction found.
struct Snapshot {
    position: SnapshotPosition,
    pg_snapshot_id: Option<String>,
    warnings: Vec<String>,
    estimate: Option<u64>,
}

async fn postgres_snapshot(
    tx: &mut dyn Transaction,
    schema: &mut [TableSchema],
) -> Result<Snapshot> {
    let id = one_text(tx, "SELECT pg_export_snapshot()").await?;
    let lsn = one_text(
        tx,
        "SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
         ELSE pg_current_wal_lsn() END)::text",
    )
    .await?;
    for t in schema.iter_mut() {
        let Some(col) = t.table.columns.iter().find(|c| c.auto_increment) else {
            continue;
        };
        let seq_sql = Statement::new("SELECT pg_get_serial_sequence($1, $2)")
            .bind(Engine::Postgres.dialect().quote_ident(&t.table.name))
            .bind(col.name.clone());
        let rows = tx
            .query(&seq_sql)
            .await
            .map_err(|e| db_err("pg_get_serial_sequence", e))?;
        let Some(Value::Text(seq)) = rows.rows.first().and_then(|r| r.value(0).ok()).cloned()
        else {
            continue;
        };
        // The sequence name comes back already quoted where needed.
        let rows = tx
            .query(&Statement::new(format!(
                "SELECT last_value, is_called FROM {seq}"
            )))
            .await
            .map_err(|e| db_err("reading a sequence", e))?;
        if let Some(r) = rows.rows.first() {
            let last = as_i64(r.value(0).ok());
            let called = matches!(r.value(1).ok(), Some(Value::Bool(true)));
            t.next_auto_value = last.map(|l| if called { l + 1 } else { l });
        }
    }
    let est = tx
        .query(&Statement::new(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')",
        ))
        .await
        .ok()
        .and_then(|r| r.rows.first().and_then(|r| as_i64(r.value(0).ok())))
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0);
    Ok(Snapshot {
        position: match lsn {
            Some(lsn) => SnapshotPosition::PgLsn { lsn },
            None => SnapshotPosition::Unavailable {
                reason: "the server reported no WAL position".into(),
            },
        },
        pg_snapshot_id: id,
        warnings: Vec::new(),
        estimate: est,
    })
}

async fn mysql_snapshot(tx: &mut dyn Transaction) -> Result<Snapshot> {
    // The adapter's BEGIN set the isolation level; this starts the
    // transaction again with its snapshot taken now, for every table.
    tx.execute(&Statement::new(
        "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
    ))
    .await
    .map_err(|e| db_err("START TRANSACTION WITH CONSISTENT SNAPSHOT", e))?;
    let text = |v: Option<&Value>| match v {
        Some(Value::Text(s)) => s.clone(),
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    let mut warnings = Vec::new();
    // MariaDB reports the binary log position of the snapshot itself
    // (binlog_snapshot_file / _position, consistent without a lock).
    let mut snap_pos: Option<(String, u64)> = None;
    if let Ok(rows) = tx
        .query(&Statement::new(
            "SHOW STATUS WHERE Variable_name IN ('binlog_snapshot_file', 'binlog_snapshot_position')",
        ))
        .await
    {
        let mut file = String::new();
        let mut pos = 0u64;
        for r in &rows.rows {
            match text(r.value(0).ok()).as_str() {
                "Binlog_snapshot_file" | "binlog_snapshot_file" => file = text(r.value(1).ok()),
                _ => pos = text(r.value(1).ok()).parse().unwrap_or(0),
            }
        }
        if !file.is_empty() {
            snap_pos = Some((file, pos));
        }
    }
    let position = match tx.query(&Statement::new("SHOW MASTER STATUS")).await {
        Ok(rows) => match rows.rows.first() {
            Some(r) => {
                let gtid = match (r.value("Executed_Gtid_Set").ok(), &snap_pos) {
                    (Some(Value::Text(s)), _) if !s.is_empty() => Some(s.clone()),
                    // MariaDB: the GTID position of the snapshot's own
                    // binlog position. @@gtid_binlog_pos, read now, has
                    // run ahead of the snapshot if others committed since.
                    (_, Some((file, pos))) => tx
                        .query(
                            &Statement::new("SELECT BINLOG_GTID_POS(?, ?)")
                                .bind(file.clone())
                                .bind(i64::try_from(*pos).unwrap_or(i64::MAX)),
                        )
                        .await
                        .ok()
                        .and_then(|rows| rows.rows.first().map(|r| text(r.value(0).ok())))
                        .filter(|s| !s.is_empty()),
                    _ => one_text(tx, "SELECT @@GLOBAL.gtid_binlog_pos")
                        .await
                        .ok()
                        .flatten()
                        .filter(|s| !s.is_empty()),
                };
                let (file, position) = snap_pos.unwrap_or_else(|| {
                    (
                        text(r.value(0).ok()),
                        as_i64(r.value(1).ok()).unwrap_or(0).max(0) as u64,
                    )
                });
                SnapshotPosition::MysqlBinlog {
                    file,
                    position,
                    gtid,
                }
            }
            None => SnapshotPosition::Unavailable {
                reason: "the binary log is off (SHOW MASTER STATUS is empty)".into(),
            },
        },
        Err(e) => SnapshotPosition::Unavailable {
            reason: format!("SHOW MASTER STATUS failed: {}", e.message()),
        },
    };
    let rows = tx
        .query(&Statement::new(
            "SELECT TABLE_NAME, ENGINE, TABLE_ROWS FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
        ))
        .await
        .map_err(|e| db_err("reading information_schema.TABLES", e))?;
    let mut est = 0u64;
    for r in &rows.rows {
        let name = text(r.value(0).ok());
        let engine = text(r.value(1).ok());
        if !engine.eq_ignore_ascii_case("InnoDB") {
            warnings.push(format!(
                "table {name} uses the non-transactional engine {engine}: its rows are read outside the snapshot and may be inconsistent"
            ));
        }
        est += as_i64(r.value(2).ok()).unwrap_or(0).max(0) as u64;
    }
    for w in &warnings {
        tracing::warn!("{w}");
    }
    Ok(Snapshot {
        position,
        pg_snapshot_id: None,
        warnings,
        estimate: (est > 0).then_some(est),
    })
}

/// Takes MySQL's global read lock on a connection of its own, waiting at
/// most a few seconds for running statements (a long one would otherwise
/// hold every writer of the server back behind the waiting lock).
async fn mysql_global_lock(adapter: &dyn Adapter) -> Result<GlobalLock> {
    let mut tx = adapter
        .begin()
        .await
        .map_err(|e| db_err("opening the lock connection", e))?;
    let r = async {
        tx.execute(&Statement::new("SET SESSION lock_wait_timeout = 10"))
            .await?;
        tx.execute(&Statement::new("FLUSH TABLES WITH READ LOCK"))
            .await
    }
    .await;
    match r {
        Ok(_) => Ok(GlobalLock(Some(tx))),
        Err(e) => {
            unlock(tx.as_mut()).await;
            let _ = tx.rollback().await;
            Err(db_err("FLUSH TABLES WITH READ LOCK", e))
        }
    }
}

/// The connection holding MySQL's global read lock. Released by
/// [`GlobalLock::release`]; dropped before that (the export was cancelled
/// mid-way), a task releases it, since a pooled connection would keep
/// every writer of the server waiting.
struct GlobalLock(Option<Box<dyn Transaction>>);

impl GlobalLock {
    async fn release(mut self) {
        if let Some(mut tx) = self.0.take() {
            unlock(tx.as_mut()).await;
            let _ = tx.rollback().await;
        }
    }
}

impl Drop for GlobalLock {
    fn drop(&mut self) {
        if let Some(mut tx) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                unlock(tx.as_mut()).await;
                let _ = tx.rollback().await;
            });
        }
    }
}

/// Releases the global read lock and the session setting that came with it.
async fn unlock(tx: &mut dyn Transaction) {
    for sql in ["UNLOCK TABLES", "SET SESSION lock_wait_timeout = DEFAULT"] {
        if let Err(e) = tx.execute(&Statement::new(sql)).await {
            tracing::warn!(error = %e, "{sql} failed");
        }
    }
}

/// Opens `n` more read-only transactions, each with a consistent snapshot
/// started now (under the global read lock: the same one as the main's).
async fn mysql_workers(adapter: &dyn Adapter, n: usize) -> Result<Vec<Box<dyn Transaction>>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut tx = adapter
            .begin_with(TxOptions {
                isolation: Some(IsolationLevel::RepeatableRead),
                read_only: true,
            })
            .await
            .map_err(|e| db_err("opening a worker transaction", e))?;
        tx.execute(&Statement::new(
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY",
        ))
        .await
        .map_err(|e| db_err("START TRANSACTION WITH CONSISTENT SNAPSHOT", e))?;
        out.push(tx);
    }
    Ok(out)
}

/// How a MySQL table is listed in the manifest: its name and the columns
/// whose values the backup holds.
fn mysql_table_schema(t: &crate::mysql::MysqlTable) -> TableSchema {
    TableSchema {
        table: covet_core::Table {
            name: t.name.clone(),
            columns: t
                .columns
                .iter()
                .map(|c| covet_core::ColumnInfo {
                    name: c.name.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
        next_auto_value: None,
    }
}

async fn sqlite_snapshot(tx: &mut dyn Transaction, schema: &mut [TableSchema]) -> Result<Snapshot> {
    // A deferred transaction takes its snapshot at the first read; read
    // now, so every table comes from this one.
    let has_seq = tx
        .query(&Statement::new(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'",
        ))
        .await
        .map_err(|e| db_err("reading sqlite_master", e))?;
    if !has_seq.is_empty() {
        let rows = tx
            .query(&Statement::new("SELECT name, seq FROM sqlite_sequence"))
            .await
            .map_err(|e| db_err("reading sqlite_sequence", e))?;
        for r in &rows.rows {
            let Some(Value::Text(name)) = r.value(0).ok() else {
                continue;
            };
            if let Some(t) = schema.iter_mut().find(|t| &t.table.name == name) {
                t.next_auto_value = as_i64(r.value(1).ok()).map(|s| s + 1);
            }
        }
    }
    Ok(Snapshot {
        position: SnapshotPosition::Unavailable {
            reason: "SQLite keeps no log position; the backup is one read transaction".into(),
        },
        pg_snapshot_id: None,
        warnings: Vec::new(),
        estimate: None,
    })
}

enum Msg {
    Chunk(EncodedChunk),
    TableDone,
}

/// How a PostgreSQL table is listed in the manifest: by its name in
/// `public`, `schema.name` elsewhere.
fn pg_table_schema(t: &PgCopyTable) -> TableSchema {
    let name = if t.schema == "public" {
        t.name.clone()
    } else {
        format!("{}.{}", t.schema, t.name)
    };
    TableSchema {
        table: covet_core::Table {
            name,
            columns: t
                .columns
                .iter()
                .map(|c| covet_core::ColumnInfo {
                    name: c.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
        next_auto_value: None,
    }
}

/// Streams the queued tables through `tx`, sending encoded chunks.
async fn export_worker(
    tx: &mut dyn Transaction,
    engine: Engine,
    schema: Arc<BackupSchema>,
    queue: Arc<Mutex<VecDeque<usize>>>,
    opts: WriteOptions,
    out: mpsc::Sender<Msg>,
    rows_read: Arc<AtomicU64>,
) -> Result<()> {
    loop {
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        let Some(ti) = next else {
            return Ok(());
        };
        let t = &schema.tables[ti];
        let ncols = t.table.columns.len();
        let mut enc = TableEncoder::new(ti, opts.chunk_size, opts.compression);
        if let Some(pg) = &schema.postgres {
            let what = || format!("copying table {}", t.table.name);
            let mut stream = tx
                .copy_out(&pg.tables[ti].copy_out_sql())
                .await
                .map_err(|e| db_err(&what(), e))?;
            while let Some(piece) = stream.next().await {
                let piece = piece.map_err(|e| db_err(&what(), e))?;
                let n = piece.iter().filter(|b| **b == b'\n').count() as u64;
                rows_read.fetch_add(n, Ordering::Relaxed);
                if let Some(chunk) = enc.push_copy(&piece)?
                    && out.send(Msg::Chunk(chunk)).await.is_err()
                {
                    return Ok(());
                }
            }
            drop(stream);
            if enc.has_partial_row() {
                return Err(BackupError::Unsupported(format!(
                    "table {}: the COPY stream ended inside a row",
                    t.table.name
                )));
            }
        } else if let Some(my) = &schema.mysql {
            let mt = &my.tables[ti];
            let what = || format!("reading table {}", t.table.name);
            let mut stream = tx
                .query_stream(&Statement::new(crate::mysql::select_exact(mt)))
                .await
                .map_err(|e| db_err(&what(), e))?;
            while let Some(row) = stream.next().await {
                let row = row.map_err(|e| db_err(&what(), e))?;
                rows_read.fetch_add(1, Ordering::Relaxed);
                let values = crate::mysql::row_values(mt, &row)?;
                if let Some(chunk) = enc.push(&values)?
                    && out.send(Msg::Chunk(chunk)).await.is_err()
                {
                    return Ok(());
                }
            }
        } else {
            let sql = if schema.sqlite.is_some() {
                crate::sqlite::select_exact(&t.table)
            } else {
                ddl::select_all(engine, &t.table)
            };
            let mut stream = tx
                .query_stream(&Statement::new(sql))
                .await
                .map_err(|e| db_err(&format!("reading table {}", t.table.name), e))?;
            while let Some(row) = stream.next().await {
                let row = row.map_err(|e| db_err(&format!("reading table {}", t.table.name), e))?;
                if row.len() != ncols {
                    return Err(BackupError::Database(covet_core::Error::decode(format!(
                        "table {}: a row of {} columns, the schema has {ncols}",
                        t.table.name,
                        row.len()
                    ))));
                }
                rows_read.fetch_add(1, Ordering::Relaxed);
                let values = row
                    .values()
                    .map_err(|e| db_err(&format!("reading table {}", t.table.name), e))?;
                if let Some(chunk) = enc.push(values)?
                    && out.send(Msg::Chunk(chunk)).await.is_err()
                {
                    return Ok(());
                }
            }
        }
        if let Some(chunk) = enc.flush()?
            && out.send(Msg::Chunk(chunk)).await.is_err()
        {
            return Ok(());
        }
        if out.send(Msg::TableDone).await.is_err() {
            return Ok(());
        }
    }
}

/// Exports every table of `adapter`'s database into `sink` from one
/// consistent snapshot and returns the committed backup's index entry.
///
/// `database` names the source in the manifest (the database name, or the
/// SQLite file name). On any failure the partial backup is discarded: it
/// never lists.
///
/// Records `covet_backup_last_success_timestamp_seconds`,
/// `covet_backup_last_duration_seconds` and `covet_backup_last_size_bytes`
/// (gauges) on success and `covet_backup_failures_total` on failure, each
/// labelled `database`, through the `metrics` crate (a no-op without a
/// recorder).
pub async fn create_backup(
    adapter: Arc<dyn Adapter>,
    database: &str,
    sink: &dyn BackupSink,
    opts: CreateOptions,
) -> Result<BackupEntry> {
    let t0 = std::time::Instant::now();
    let result = create_backup_unmetered(adapter, database, sink, opts).await;
    let db = database.to_owned();
    match &result {
        Ok(entry) => {
            metrics::gauge!("covet_backup_last_success_timestamp_seconds", "database" => db.clone())
                .set(entry.finished_at.timestamp_millis() as f64 / 1e3);
            metrics::gauge!("covet_backup_last_duration_seconds", "database" => db.clone())
                .set(t0.elapsed().as_secs_f64());
            metrics::gauge!("covet_backup_last_size_bytes", "database" => db)
                .set(entry.size as f64);
        }
        Err(_) => metrics::counter!("covet_backup_failures_total", "database" => db).increment(1),
    }
    result
}

async fn create_backup_unmetered(
    adapter: Arc<dyn Adapter>,
    database: &str,
    sink: &dyn BackupSink,
    opts: CreateOptions,
) -> Result<BackupEntry> {
    let started_at = Utc::now();
    // What crashed runs left in the sink goes first (never a live writer's).
    match sink.clean_stale().await {
        Ok(v) if !v.is_empty() => {
            tracing::warn!(files = ?v, "removed partial files left by interrupted backups");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not clean partial files"),
    }
    let engine = adapter.engine();
    let server_version = adapter
        .server_version()
        .await
        .map_err(|e| db_err("server version", e))?;
    let isolation = match engine {
        Engine::Sqlite => None,
        _ => Some(IsolationLevel::RepeatableRead),
    };
    // MySQL has no snapshot to share: like mydumper, the workers start
    // theirs while a global read lock holds every write back, so all see
    // the same rows; the lock is released as soon as they have.
    let mut lock_warning = None;
    let mut mysql_extra: Vec<Box<dyn Transaction>> = Vec::new();
    let mysql_lock = if engine == Engine::MySql && opts.parallelism > 1 {
        match mysql_global_lock(adapter.as_ref()).await {
            Ok(l) => Some(l),
            Err(e) => {
                let w = format!("exported on one connection: {e}");
                tracing::warn!("{w}");
                lock_warning = Some(w);
                None
            }
        }
    } else {
        None
    };
    let begun = async {
        let mut main = adapter
            .begin_with(TxOptions {
                isolation,
                read_only: engine != Engine::Sqlite,
            })
            .await
            .map_err(|e| db_err("beginning the snapshot transaction", e))?;
        let my_snap = if engine == Engine::MySql {
            Some(mysql_snapshot(main.as_mut()).await?)
        } else {
            None
        };
        Ok::<_, BackupError>((main, my_snap))
    }
    .await;
    if let Some(lock) = mysql_lock {
        // No `?` between the lock and here: the lock goes at once.
        if let Ok((_, Some(_))) = &begun {
            match mysql_workers(adapter.as_ref(), opts.parallelism - 1).await {
                Ok(txs) => mysql_extra = txs,
                Err(e) => lock_warning = Some(format!("exported on one connection: {e}")),
            }
        }
        lock.release().await;
    }
    let (mut main, my_snap) = begun?;
    // Introspected after the snapshot began: DDL racing with the backup is
    // not supported (PostgreSQL would block it on the tables' locks anyway).
    let mut tables: Vec<TableSchema> = if matches!(engine, Engine::Postgres | Engine::MySql) {
        Vec::new()
    } else {
        adapter
            .schema()
            .await
            .map_err(|e| db_err("reading the schema", e))?
            .tables
            .into_iter()
            .map(|table| TableSchema {
                table,
                next_auto_value: None,
            })
            .collect()
    };
    let mut postgres = None;
    let mut sqlite = None;
    let mut mysql = None;
    let snap = match engine {
        Engine::Postgres => {
            let snap = postgres_snapshot(main.as_mut(), &mut tables).await?;
            // The catalog is read inside the snapshot, with the settings
            // that make its definitions schema-qualified.
            pg::pin_session(main.as_mut()).await?;
            let cat = pg::read_catalog(
                main.as_mut(),
                &pg::CatalogOptions {
                    schemas: opts.schemas.clone(),
                    exclude: opts.exclude.clone(),
                },
            )
            .await?;
            tables = cat.tables.iter().map(pg_table_schema).collect();
            postgres = Some(cat);
            snap
        }
        Engine::MySql => {
            let snap = my_snap.ok_or_else(|| BackupError::Unsupported("no snapshot".into()))?;
            let cat = crate::mysql::read_catalog(
                main.as_mut(),
                &crate::mysql::CatalogOptions {
                    exclude: opts.exclude.clone(),
                },
            )
            .await?;
            tables = cat.tables.iter().map(mysql_table_schema).collect();
            mysql = Some(cat);
            // More workers than tables would only hold connections.
            mysql_extra.truncate(tables.len().saturating_sub(1));
            snap
        }
        Engine::Sqlite => {
            let snap = sqlite_snapshot(main.as_mut(), &mut tables).await?;
            sqlite =
                Some(crate::sqlite::read_catalog(main.as_mut(), &opts.exclude, &mut tables).await?);
            snap
        }
        other => return Err(BackupError::Unsupported(format!("engine {other}"))),
    };
    let mut snap = snap;
    snap.warnings.extend(lock_warning);
    let schema = BackupSchema {
        engine: engine.as_str().to_owned(),
        tables,
        postgres,
        sqlite,
        mysql,
    };
    let ntables = schema.tables.len();
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| crate::writer::default_name(database, started_at));
    let source = SourceInfo {
        engine: engine.as_str().to_owned(),
        server_version,
        database: database.to_owned(),
        snapshot: snap.position.clone(),
        started_at,
        warnings: snap.warnings.clone(),
    };
    let mut writer = BackupWriter::create(sink, &name, schema, source, opts.write.clone()).await?;
    let schema = writer.schema().clone();

    // Workers: PostgreSQL shares the exported snapshot with extra
    // connections; the others stream everything through the main one.
    let parallel = match (&snap.pg_snapshot_id, engine) {
        (Some(_), Engine::Postgres) => opts.parallelism.clamp(1, ntables.max(1)),
        (_, Engine::MySql) => mysql_extra.len() + 1,
        _ => 1,
    };
    let queue = Arc::new(Mutex::new((0..ntables).collect::<VecDeque<_>>()));
    let rows_read = Arc::new(AtomicU64::new(0));
    let (tx_chunks, mut rx) = mpsc::channel::<Msg>(parallel * 2);
    let mut workers = Vec::new();
    let mut extra_txs = Vec::new();
    // MySQL: the main transaction works beside the others (it holds the
    // same snapshot and keeps nothing alive for them).
    let mysql_parallel = parallel > 1 && engine == Engine::MySql;
    if mysql_parallel {
        extra_txs = std::mem::take(&mut mysql_extra);
    } else if parallel > 1 {
        let id = snap.pg_snapshot_id.clone().unwrap_or_default();
        for _ in 0..parallel {
            let mut tx = match adapter
                .begin_with(TxOptions {
                    isolation: Some(IsolationLevel::RepeatableRead),
                    read_only: true,
                })
                .await
            {
                Ok(tx) => tx,
                Err(e) => {
                    writer.abort().await;
                    return Err(db_err("opening a worker transaction", e));
                }
            };
            let set = format!(
                "SET TRANSACTION SNAPSHOT {}",
                ddl::literal(Engine::Postgres, &Value::Text(id.clone()))
            );
            if let Err(e) = tx.execute(&Statement::new(set)).await {
                writer.abort().await;
                return Err(db_err("SET TRANSACTION SNAPSHOT", e));
            }
            if let Err(e) = pg::pin_session(tx.as_mut()).await {
                writer.abort().await;
                return Err(e);
            }
            extra_txs.push(tx);
        }
    }
    let main_worker = parallel == 1;
    let (mut worker_txs, held_main): (Vec<Box<dyn Transaction>>, _) = if main_worker {
        (vec![main], None)
    } else if mysql_parallel {
        extra_txs.push(main);
        (extra_txs, None)
    } else {
        (extra_txs, Some(main))
    };
    for mut tx in worker_txs.drain(..) {
        let (schema, queue, wopts, out, rows) = (
            schema.clone(),
            queue.clone(),
            opts.write.clone(),
            tx_chunks.clone(),
            rows_read.clone(),
        );
        workers.push(tokio::spawn(async move {
            let r = export_worker(tx.as_mut(), engine, schema, queue, wopts, out, rows).await;
            (tx, r)
        }));
    }
    drop(tx_chunks);

    let start = Instant::now();
    let mut tables_done = 0u64;
    let mut write_err = None;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Chunk(c) => {
                if let Err(e) = writer.write_encoded(c).await {
                    write_err = Some(e);
                    break;
                }
            }
            Msg::TableDone => tables_done += 1,
        }
        if let Some(p) = &opts.progress {
            p(&Progress {
                phase: "export",
                rows: rows_read.load(Ordering::Relaxed),
                rows_total: snap.estimate,
                bytes: writer.stored_bytes(),
                tables_done,
                tables: ntables as u64,
            });
        }
    }
    drop(rx);
    let mut first_err = write_err;
    for w in workers {
        match w.await {
            Ok((tx, r)) => {
                let _ = tx.rollback().await;
                if let (Err(e), None) = (r, &first_err) {
                    first_err = Some(e);
                }
            }
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(BackupError::Unsupported(format!("export worker: {e}")));
                }
            }
        }
    }
    if let Some(main) = held_main {
        let _ = main.rollback().await;
    }
    if first_err.is_none() && tables_done != ntables as u64 {
        first_err = Some(BackupError::Unsupported(format!(
            "only {tables_done} of {ntables} tables were exported"
        )));
    }
    if let Some(e) = first_err {
        writer.abort().await;
        return Err(e);
    }
    tracing::debug!(elapsed = ?start.elapsed(), "export finished");
    writer.finish().await
}
