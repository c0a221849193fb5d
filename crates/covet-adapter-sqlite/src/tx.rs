//! Transactions and savepoints.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    BulkRows, Engine, Error, ErrorKind, ExecResult, Result, Rows, Statement, Transaction,
    TxRowStream,
};
use covet_pool::Pooled;

use crate::conn::{ConnInner, SqliteManager, run};
use crate::error::from_rusqlite;
use crate::exec::{self, Job, MetaCache};
use crate::{bulk, stream};

/// Fails when SQLite has already ended the transaction (an interrupted
/// write, or some errors, roll an explicit transaction back on their own);
/// going on would silently run statements in autocommit mode.
pub(crate) fn ensure_open(db: &rusqlite::Connection) -> Result<()> {
    if db.is_autocommit() {
        return Err(Error::new(
            ErrorKind::Database,
            "sqlite: the transaction is no longer open (SQLite rolled it back after an \
             interrupted or failed statement)",
        ));
    }
    Ok(())
}

/// What a transaction and its savepoints share.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    inner: &'a Arc<ConnInner>,
    default_timeout: Option<Duration>,
    meta: &'a Arc<MetaCache>,
}

impl<'a> Ctx<'a> {
    fn timeout(&self, stmt: &Statement) -> Option<Duration> {
        stmt.timeout_duration().or(self.default_timeout)
    }

    async fn batch(&self, sql: String) -> Result<()> {
        run(self.inner, self.default_timeout, move |db| {
            db.execute_batch(&sql).map_err(from_rusqlite)
        })
        .await
    }

    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        let job = Job::new(stmt, self.meta)?;
        run(self.inner, self.timeout(stmt), move |db| {
            ensure_open(db)?;
            exec::execute(db, &job)
        })
        .await
    }

    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        let job = Job::new(stmt, self.meta)?;
        run(self.inner, self.timeout(stmt), move |db| {
            ensure_open(db)?;
            exec::query(db, &job)
        })
        .await
    }

    fn query_stream<'s>(&self, stmt: &Statement) -> Result<TxRowStream<'s>> {
        Ok(Box::pin(stream::start(
            self.inner.clone(),
            Job::new(stmt, self.meta)?,
            self.timeout(stmt),
            (),
            true,
        )))
    }

    async fn bulk_insert(&self, table: &str, columns: &[String], rows: BulkRows) -> Result<u64> {
        let (table, columns) = (table.to_owned(), columns.to_vec());
        run(self.inner, self.default_timeout, move |db| {
            ensure_open(db)?;
            bulk::bulk_insert(db, &table, &columns, &rows)
        })
        .await
    }

    async fn savepoint(self, depth: u32) -> Result<SqliteSavepoint<'a>> {
        let name = format!("covet_sp_{depth}");
        let sql = format!("SAVEPOINT {name}");
        run(self.inner, self.default_timeout, move |db| {
            ensure_open(db)?;
            db.execute_batch(&sql).map_err(from_rusqlite)
        })
        .await?;
        Ok(SqliteSavepoint {
            ctx: self,
            name,
            depth,
            done: false,
        })
    }
}

/// A transaction on one pooled connection. Dropped without `commit`, the
/// pool rolls it back (`Manager::reset`) before the connection is reused.
pub(crate) struct SqliteTransaction {
    conn: Pooled<SqliteManager>,
    default_timeout: Option<Duration>,
    read_only: bool,
    meta: Arc<MetaCache>,
}

impl std::fmt::Debug for SqliteTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTransaction")
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

impl SqliteTransaction {
    /// Begins: `BEGIN IMMEDIATE` takes the write lock up front (waiting up
    /// to busy_timeout), so a transaction never fails later when a read
    /// lock cannot be upgraded; read-only transactions use `BEGIN DEFERRED`
    /// with `PRAGMA query_only`.
    pub(crate) async fn begin(
        conn: Pooled<SqliteManager>,
        default_timeout: Option<Duration>,
        read_only: bool,
        meta: Arc<MetaCache>,
    ) -> Result<Self> {
        conn.inner.dirty.store(true, Ordering::Release);
        let sql = if read_only {
            "PRAGMA query_only = ON; BEGIN DEFERRED"
        } else {
            "BEGIN IMMEDIATE"
        };
        run(&conn.inner, default_timeout, move |db| {
            db.execute_batch(sql).map_err(from_rusqlite)
        })
        .await?;
        Ok(SqliteTransaction {
            conn,
            default_timeout,
            read_only,
            meta,
        })
    }

    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            inner: &self.conn.inner,
            default_timeout: self.default_timeout,
            meta: &self.meta,
        }
    }

    async fn finish(self, sql: &'static str) -> Result<()> {
        let read_only = self.read_only;
        let is_rollback = sql == "ROLLBACK";
        run(&self.conn.inner, self.default_timeout, move |db| {
            // Already rolled back by SQLite: a rollback has nothing to do.
            if !(is_rollback && db.is_autocommit()) {
                db.execute_batch(sql).map_err(from_rusqlite)?;
            }
            if read_only {
                db.execute_batch("PRAGMA query_only = OFF")
                    .map_err(from_rusqlite)?;
            }
            Ok(())
        })
        .await?;
        self.conn.inner.dirty.store(false, Ordering::Release);
        Ok(())
    }
}

#[async_trait]
impl Transaction for SqliteTransaction {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        self.ctx().execute(stmt).await
    }

    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        self.ctx().query(stmt).await
    }

    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        self.ctx().query_stream(stmt)
    }

    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: BulkRows,
    ) -> Result<u64> {
        self.ctx().bulk_insert(table, columns, rows).await
    }

    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        Ok(Box::new(self.ctx().savepoint(1).await?))
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.finish("COMMIT").await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.finish("ROLLBACK").await
    }
}

/// A savepoint inside a transaction (or inside another savepoint).
/// Dropped without `commit`, it is rolled back before the connection's next
/// statement runs.
struct SqliteSavepoint<'a> {
    ctx: Ctx<'a>,
    name: String,
    depth: u32,
    done: bool,
}

impl Drop for SqliteSavepoint<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.ctx
                .inner
                .defer(format!("ROLLBACK TO {0}; RELEASE {0}", self.name));
        }
    }
}

#[async_trait]
impl Transaction for SqliteSavepoint<'_> {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        self.ctx.execute(stmt).await
    }

    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        self.ctx.query(stmt).await
    }

    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        self.ctx.query_stream(stmt)
    }

    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: BulkRows,
    ) -> Result<u64> {
        self.ctx.bulk_insert(table, columns, rows).await
    }

    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        Ok(Box::new(self.ctx.savepoint(self.depth + 1).await?))
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.done = true;
        let r = self.ctx.batch(format!("RELEASE {}", self.name)).await;
        if r.is_err() {
            // Leave the savepoint to be rolled back like a dropped one.
            self.done = false;
        }
        r
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        self.done = true;
        self.ctx
            .batch(format!("ROLLBACK TO {0}; RELEASE {0}", self.name))
            .await
    }
}
