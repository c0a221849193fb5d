//! [`PgAdapter`]: its own API and the [`Adapter`] implementation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    Adapter, BulkRows, DatabaseUrl, Engine, Error, ErrorKind, ExecResult, Outcome, PoolState,
    Result, ResultStream, RowStream, Rows, Schema, Statement, Transaction, TxOptions,
};
use covet_pool::{Pool, Pooled};

use crate::config::PgConfig;
use crate::conn::PgManager;
use crate::stream::OwnedRows;
use crate::tx::PgTransaction;

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
        PgAdapter::connect_with(PgConfig::from_url(url)?).await
    }

    /// Connects with settings built in code (or read with
    /// [`PgConfig::from_url`] and adjusted). The settings are checked and
    /// one connection is opened at once, as [`PgAdapter::connect`] does.
    ///
    /// ```no_run
    /// use covet_adapter_pg::{PgAdapter, PgConfig, SslMode};
    ///
    /// # async fn demo() -> covet_core::Result<()> {
    /// let db = PgAdapter::connect_with(
    ///     PgConfig::default()
    ///         .host("db.internal")
    ///         .user("app")
    ///         .database("shop")
    ///         .ssl_mode(SslMode::Require)
    ///         .max_connections(20),
    /// )
    /// .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_with(cfg: PgConfig) -> Result<PgAdapter> {
        cfg.validate()?;
        let tls = crate::tls::connector(cfg.ssl_mode, cfg.ssl_root_cert.as_deref())?;
        let manager = PgManager::new(&cfg, tls);
        // Fail fast with the server's own reason instead of a pool timeout.
        drop(manager.connect().await?);
        let pool = cfg.pool.build_pool(manager, Engine::Postgres)?;
        Ok(PgAdapter {
            inner: Arc::new(Inner {
                pool,
                target: cfg.target(),
                default_timeout: cfg.pool.statement_timeout,
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
        let started = conn.start_stream(stmt).await?;
        Ok(Box::pin(OwnedRows::new(conn, started)))
    }

    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        let mut conn = self.connection().await?;
        // The prepared statement's row description says whether rows come.
        if conn.describe(stmt).await?.is_empty() {
            return Ok(Outcome::Done(conn.execute(stmt).await?));
        }
        let started = conn.start_stream(stmt).await?;
        Ok(Outcome::Rows(ResultStream {
            columns: started.1.clone(),
            rows: Box::pin(OwnedRows::new(conn, started)),
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

    async fn bulk_insert(&self, table: &str, columns: &[String], rows: BulkRows) -> Result<u64> {
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
        Some(self.pool().state().into())
    }

    async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        if let Err(e) = self.inner.pool.close(Duration::from_secs(10)).await {
            tracing::warn!(error = %e, "closing the PostgreSQL pool");
        }
    }
}
