//! The Adapter and Transaction implementations.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    Adapter, Columns, DatabaseUrl, Engine, Error, ErrorKind, ExecResult, Outcome, PoolState,
    Result, ResultStream, Row, RowStream, Rows, Schema, ServerCode, Statement, Transaction,
    TxOptions, TxRowStream, Value,
};
use covet_pool::{Pool, Pooled};
use futures_core::Stream;

use crate::config::PgConfig;
use crate::conn::{PgConnection, PgManager, convert_row};
use crate::error::{during_commit, from_pg};

/// A PostgreSQL [`Adapter`]: tokio-postgres connections pooled by
/// covet-pool, each with its own prepared-statement cache.
///
/// Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct PgAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool<PgManager>,
    target: String,
    default_timeout: Option<Duration>,
    closed: AtomicBool,
}

impl std::fmt::Debug for PgAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgAdapter")
            .field("target", &self.inner.target)
            .field("pool", &self.inner.pool.state())
            .finish()
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the PostgreSQL adapter has been closed")
}

impl PgAdapter {
    /// Connects using a `postgres://` URL (see [`PgConfig::from_url`] for
    /// its parameters). One connection is opened at once, so a wrong
    /// password, an unknown database or a refused connection is reported
    /// here in one line rather than at the first query.
    pub async fn connect(url: &DatabaseUrl) -> Result<PgAdapter> {
        PgConfig::from_url(url)?.connect().await
    }

    pub(crate) async fn from_config(cfg: PgConfig) -> Result<PgAdapter> {
        cfg.validate()?;
        let tls = crate::tls::connector(cfg.ssl_mode, cfg.ssl_root_cert.as_deref())?;
        let manager = PgManager::new(&cfg, tls);
        // Fail fast with the server's own reason instead of a pool timeout.
        drop(manager.connect().await?);
        let s = &cfg.pool;
        let pool = Pool::builder(manager)
            .max_size(s.max_connections)
            .min_idle(s.min_connections)
            .acquire_timeout(s.acquire_timeout)
            .create_timeout(s.connect_timeout)
            .idle_timeout(s.idle_timeout)
            .max_lifetime(s.max_lifetime)
            .name("postgres")
            .build()
            .map_err(|e| Error::config(format!("invalid pool settings: {e}")))?;
        Ok(PgAdapter {
            inner: Arc::new(Inner {
                pool,
                target: cfg.target(),
                default_timeout: s.statement_timeout,
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The connection pool, for its statistics and settings.
    pub fn pool(&self) -> &Pool<PgManager> {
        &self.inner.pool
    }

    /// Checks out a connection, for work the Adapter trait does not cover.
    pub async fn connection(&self) -> Result<Pooled<PgManager>> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| Error::from_pool(e, Engine::Postgres))
    }
}

#[async_trait]
impl Adapter for PgAdapter {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        self.connection().await?.execute(stmt).await
    }

    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        self.connection().await?.query(stmt).await
    }

    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        let mut conn = self.connection().await?;
        let (rows, columns) = conn.start_stream(stmt).await?;
        Ok(Box::pin(OwnedRows {
            conn: Some(conn),
            rows: Box::pin(rows),
            columns,
        }))
    }

    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        let mut conn = self.connection().await?;
        // The prepared statement's row description says whether rows come.
        if conn.describe(stmt).await?.is_empty() {
            return Ok(Outcome::Done(conn.execute(stmt).await?));
        }
        let (rows, columns) = conn.start_stream(stmt).await?;
        Ok(Outcome::Rows(ResultStream {
            columns: columns.clone(),
            rows: Box::pin(OwnedRows {
                conn: Some(conn),
                rows: Box::pin(rows),
                columns,
            }),
        }))
    }

    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        let mut conn = self.connection().await?;
        let mut sql = String::from("BEGIN");
        if let Some(level) = options.isolation {
            sql.push_str(" ISOLATION LEVEL ");
            sql.push_str(level.as_sql());
        }
        if options.read_only {
            sql.push_str(" READ ONLY");
        }
        // Set first: if BEGIN is cut short, the pool's reset rolls back.
        conn.in_tx = true;
        conn.tx_aborted = false;
        conn.simple(&sql).await?;
        Ok(Box::new(PgTransaction { conn }))
    }

    async fn bulk_insert(
        &self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        self.connection()
            .await?
            .copy_in(table, columns, &rows)
            .await
    }

    async fn schema(&self) -> Result<Schema> {
        self.connection().await?.schema().await
    }

    async fn ping(&self) -> Result<()> {
        self.connection().await?.ping().await
    }

    async fn server_version(&self) -> Result<String> {
        self.connection().await?.server_version().await
    }

    fn default_timeout(&self) -> Option<Duration> {
        self.inner.default_timeout
    }

    fn pool_state(&self) -> Option<PoolState> {
        let s = self.inner.pool.state();
        Some(PoolState {
            size: s.size,
            idle: s.idle,
            in_use: s.in_use,
            waiters: s.waiters,
        })
    }

    async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        if let Err(e) = self.inner.pool.close(Duration::from_secs(10)).await {
            tracing::warn!(error = %e, "closing the PostgreSQL pool");
        }
    }
}

/// Rows streamed on a connection the stream owns until its end. Dropping it
/// early returns the connection through the pool's reset, which cancels the
/// rest of the query first.
struct OwnedRows {
    conn: Option<Pooled<PgManager>>,
    rows: Pin<Box<tokio_postgres::RowStream>>,
    columns: Arc<Columns>,
}

impl Stream for OwnedRows {
    type Item = Result<Row>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Row>>> {
        let this = self.get_mut();
        if this.conn.is_none() {
            return Poll::Ready(None);
        }
        match ready!(this.rows.as_mut().poll_next(cx)) {
            Some(Ok(row)) => Poll::Ready(Some(convert_row(&row, &this.columns))),
            Some(Err(e)) => {
                let err = from_pg(&e);
                if let Some(mut conn) = this.conn.take() {
                    conn.stream_failed(&err);
                }
                Poll::Ready(Some(Err(err)))
            }
            None => {
                if let Some(mut conn) = this.conn.take() {
                    conn.stream_finished();
                }
                Poll::Ready(None)
            }
        }
    }
}

/// Rows streamed inside a transaction. Dropping it early leaves the rest of
/// the result to be read and discarded before the transaction's next
/// statement (cancelling would abort the transaction).
struct TxRows<'a> {
    conn: &'a mut PgConnection,
    rows: Pin<Box<tokio_postgres::RowStream>>,
    columns: Arc<Columns>,
    done: bool,
}

impl Stream for TxRows<'_> {
    type Item = Result<Row>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Row>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match ready!(this.rows.as_mut().poll_next(cx)) {
            Some(Ok(row)) => Poll::Ready(Some(convert_row(&row, &this.columns))),
            Some(Err(e)) => {
                this.done = true;
                let err = from_pg(&e);
                this.conn.stream_failed(&err);
                Poll::Ready(Some(Err(err)))
            }
            None => {
                this.done = true;
                Poll::Ready(None)
            }
        }
    }
}

async fn tx_query_stream<'a>(
    conn: &'a mut PgConnection,
    stmt: &Statement,
) -> Result<TxRowStream<'a>> {
    conn.flush_deferred().await?;
    let (rows, columns) = conn.start_stream(stmt).await?;
    Ok(Box::pin(TxRows {
        conn,
        rows: Box::pin(rows),
        columns,
        done: false,
    }))
}

async fn open_savepoint(conn: &mut PgConnection) -> Result<Box<dyn Transaction + '_>> {
    conn.flush_deferred().await?;
    let name = conn.next_savepoint();
    conn.simple(&format!("SAVEPOINT {name}")).await?;
    Ok(Box::new(PgSavepoint {
        conn,
        name,
        done: false,
    }))
}

fn aborted_error() -> Error {
    let mut e = Error::new(
        ErrorKind::Database,
        "the transaction was rolled back because a statement in it failed",
    );
    if let Some(code) = ServerCode::sqlstate("25P02") {
        e = e.with_code(code);
    }
    e
}

/// An open transaction on one pooled connection. Dropped without commit, it
/// is rolled back by the pool's reset before the connection is reused.
struct PgTransaction {
    conn: Pooled<PgManager>,
}

#[async_trait]
impl Transaction for PgTransaction {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        self.conn.flush_deferred().await?;
        self.conn.execute(stmt).await
    }

    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        self.conn.flush_deferred().await?;
        self.conn.query(stmt).await
    }

    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        tx_query_stream(&mut self.conn, stmt).await
    }

    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        self.conn.flush_deferred().await?;
        self.conn.copy_in(table, columns, &rows).await
    }

    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        open_savepoint(&mut self.conn).await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        let conn = &mut *self.conn;
        conn.flush_deferred().await?;
        if conn.tx_aborted {
            conn.clear_deferred();
            conn.simple("ROLLBACK").await?;
            conn.in_tx = false;
            conn.tx_aborted = false;
            return Err(aborted_error());
        }
        match conn.simple("COMMIT").await {
            Ok(()) => {
                conn.in_tx = false;
                Ok(())
            }
            Err(e) => {
                if e.code().is_some() {
                    // The server answered: the transaction is over.
                    conn.in_tx = false;
                    conn.tx_aborted = false;
                }
                Err(during_commit(e))
            }
        }
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        let conn = &mut *self.conn;
        conn.clear_deferred();
        conn.simple("ROLLBACK").await?;
        conn.in_tx = false;
        conn.tx_aborted = false;
        Ok(())
    }
}

/// A savepoint inside a transaction. Dropped without commit, it is rolled
/// back to before the transaction's next statement.
struct PgSavepoint<'a> {
    conn: &'a mut PgConnection,
    name: String,
    done: bool,
}

impl Drop for PgSavepoint<'_> {
    fn drop(&mut self) {
        if !self.done {
            let name = &self.name;
            self.conn.defer(format!(
                "ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"
            ));
        }
    }
}

#[async_trait]
impl Transaction for PgSavepoint<'_> {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        self.conn.flush_deferred().await?;
        self.conn.execute(stmt).await
    }

    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        self.conn.flush_deferred().await?;
        self.conn.query(stmt).await
    }

    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        tx_query_stream(self.conn, stmt).await
    }

    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: Vec<Vec<Value>>,
    ) -> Result<u64> {
        self.conn.flush_deferred().await?;
        self.conn.copy_in(table, columns, &rows).await
    }

    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        open_savepoint(self.conn).await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.flush_deferred().await?;
        let sql = format!("RELEASE SAVEPOINT {}", self.name);
        self.conn.simple(&sql).await?;
        self.done = true;
        Ok(())
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        // Savepoints nested in this one are undone by rolling back to it.
        self.conn.clear_deferred();
        let name = &self.name;
        let sql = format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}");
        self.conn.simple(&sql).await?;
        self.conn.tx_aborted = false;
        self.done = true;
        Ok(())
    }
}
