//! `MySqlAdapter`: construction and the `covet_core::Adapter` impl.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    Adapter, BulkRows, Engine, Error, ErrorKind, ExecResult, Outcome, PoolState, Result,
    ResultStream, RowStream, Rows, Schema, Statement, Transaction, TxOptions,
};
use covet_pool::{Pool, Pooled};

use crate::bulk::bulk_insert_on;
use crate::config::MySqlConfig;
use crate::conn::MySqlManager;
use crate::error::commit_error;
use crate::exec::{
    Canceller, Started, annotate, guarded_op, prepare, run_execute, run_query, run_start_any,
    run_start_stream, run_text,
};
use crate::stream::RowStreamState;
use crate::tx::MySqlTransaction;

/// What the adapter and its transactions share.
pub(crate) struct Shared {
    pub(crate) pool: Pool<MySqlManager>,
    pub(crate) config: Arc<MySqlConfig>,
    pub(crate) canceller: Canceller,
    closed: AtomicBool,
}

impl Shared {
    pub(crate) fn default_timeout(&self) -> Option<Duration> {
        self.config.pool.statement_timeout
    }

    pub(crate) fn timeout_for(&self, stmt: &Statement) -> Option<Duration> {
        stmt.timeout_duration().or(self.default_timeout())
    }

    async fn acquire(&self) -> Result<Pooled<MySqlManager>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        self.pool
            .get()
            .await
            .map_err(|e| Error::from_pool(e, Engine::MySql))
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the MySQL adapter has been closed")
}

/// A MySQL / MariaDB [`Adapter`]: mysql_async connections pooled by
/// covet-pool.
///
/// Cheap to clone (the pool is shared). See the crate documentation for
/// URL settings, the type mapping and the timeout behaviour.
#[derive(Clone)]
pub struct MySqlAdapter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MySqlAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlAdapter")
            .field("target", &self.shared.config.target())
            .field("database", &self.shared.config.database)
            .field("pool", &self.shared.pool.state())
            .finish()
    }
}

impl MySqlAdapter {
    /// Connects to the server a `mysql://` URL names.
    ///
    /// One connection is opened right away, so an unreachable server, a
    /// wrong password or an unknown database fail here with a one-line
    /// message (kinds Connection, Auth and Config). Must be called inside a
    /// tokio runtime.
    pub async fn connect(url: &covet_core::DatabaseUrl) -> Result<MySqlAdapter> {
        Self::connect_with(MySqlConfig::from_url(url)?).await
    }

    /// Connects with settings built in code.
    pub async fn connect_with(config: MySqlConfig) -> Result<MySqlAdapter> {
        let config = Arc::new(config);
        let manager = MySqlManager::new(Arc::clone(&config))?;
        let limit = config.pool.connect_timeout;
        let probe = tokio::time::timeout(limit, manager.open())
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Connection,
                    format!(
                        "cannot connect to MySQL at {}: no answer within {limit:?}",
                        config.target()
                    ),
                )
            })??;
        let _ = probe.conn.disconnect().await;
        let canceller = Canceller {
            opts: manager.side_opts(),
        };
        let pool = config.pool.build_pool(manager, Engine::MySql)?;
        Ok(MySqlAdapter {
            shared: Arc::new(Shared {
                pool,
                config,
                canceller,
                closed: AtomicBool::new(false),
            }),
        })
    }

    /// The underlying pool, for its metrics and statistics.
    pub fn pool(&self) -> &Pool<MySqlManager> {
        &self.shared.pool
    }

    /// Checks out a connection, for work the Adapter trait does not cover.
    /// Returned to the pool when dropped.
    pub async fn connection(&self) -> Result<Pooled<MySqlManager>> {
        self.shared.acquire().await
    }
}

#[async_trait]
impl Adapter for MySqlAdapter {
    fn engine(&self) -> Engine {
        Engine::MySql
    }

    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        let prepared = prepare(stmt)?;
        let mut conn = self.shared.acquire().await?;
        let r = guarded_op!(
            &self.shared.canceller,
            &mut *conn,
            self.shared.timeout_for(stmt),
            |c| run_execute(c, &prepared.sql, prepared.params)
        );
        annotate(r, stmt.params())
    }

    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        let prepared = prepare(stmt)?;
        let mut conn = self.shared.acquire().await?;
        guarded_op!(
            &self.shared.canceller,
            &mut *conn,
            self.shared.timeout_for(stmt),
            |c, p| run_query(c, p, &prepared.sql, prepared.params)
        )
    }

    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        let prepared = prepare(stmt)?;
        let mut conn = self.shared.acquire().await?;
        let (proto, plan) = guarded_op!(
            &self.shared.canceller,
            &mut *conn,
            self.shared.timeout_for(stmt),
            |c, p| run_start_stream(c, p, &prepared.sql, prepared.params)
        )?;
        let state = RowStreamState {
            conn,
            proto,
            plan,
            finished: false,
            discard_unfinished: true,
        };
        Ok(Box::pin(futures_util::stream::unfold(
            state,
            |mut st| async move { st.next().await.map(|item| (item, st)) },
        )))
    }

    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        let prepared = prepare(stmt)?;
        let mut conn = self.shared.acquire().await?;
        let started = guarded_op!(
            &self.shared.canceller,
            &mut *conn,
            self.shared.timeout_for(stmt),
            |c, p| run_start_any(c, p, &prepared.sql, prepared.params)
        );
        let (proto, plan) = match started {
            Ok(Started::Rows(proto, plan)) => (proto, plan),
            Ok(Started::Done(exec)) => return Ok(Outcome::Done(exec)),
            Err(e) => return Err(crate::error::with_param_types(e, stmt.params())),
        };
        let columns = plan.columns.clone();
        let state = RowStreamState {
            conn,
            proto,
            plan,
            finished: false,
            discard_unfinished: true,
        };
        Ok(Outcome::Rows(ResultStream {
            columns,
            rows: Box::pin(futures_util::stream::unfold(state, |mut st| async move {
                st.next().await.map(|item| (item, st))
            })),
        }))
    }

    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        let mut conn = self.shared.acquire().await?;
        let timeout = self.shared.default_timeout();
        if let Some(level) = options.isolation {
            let sql = format!("SET TRANSACTION ISOLATION LEVEL {}", level.as_sql());
            guarded_op!(&self.shared.canceller, &mut *conn, timeout, |c| run_text(
                c, &sql
            ))?;
        }
        let start = if options.read_only {
            "START TRANSACTION READ ONLY"
        } else {
            "START TRANSACTION"
        };
        conn.in_tx = true;
        guarded_op!(&self.shared.canceller, &mut *conn, timeout, |c| run_text(
            c, start
        ))?;
        Ok(Box::new(MySqlTransaction {
            conn,
            shared: Arc::clone(&self.shared),
        }))
    }

    async fn bulk_insert(&self, table: &str, columns: &[String], rows: BulkRows) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut conn = self.shared.acquire().await?;
        let timeout = self.shared.default_timeout();
        conn.in_tx = true;
        guarded_op!(&self.shared.canceller, &mut *conn, timeout, |c| run_text(
            c,
            "START TRANSACTION"
        ))?;
        let n = bulk_insert_on(&self.shared, &mut conn, table, columns, rows).await?;
        guarded_op!(&self.shared.canceller, &mut *conn, timeout, |c| run_text(
            c, "COMMIT"
        ))
        .map_err(commit_error)?;
        conn.in_tx = false;
        Ok(n)
    }

    async fn schema(&self) -> Result<Schema> {
        let mut conn = self.shared.acquire().await?;
        crate::schema::read_schema(&self.shared, &mut conn).await
    }

    async fn ping(&self) -> Result<()> {
        let mut conn = self.shared.acquire().await?;
        guarded_op!(
            &self.shared.canceller,
            &mut *conn,
            self.shared.default_timeout(),
            |c| async move {
                mysql_async::prelude::Queryable::ping(c).await?;
                Ok(())
            }
        )
    }

    async fn server_version(&self) -> Result<String> {
        let rows = self
            .query(&Statement::new("SELECT VERSION()").idempotent(true))
            .await?;
        rows.rows
            .first()
            .ok_or_else(|| Error::new(ErrorKind::Database, "SELECT VERSION() returned no row"))?
            .get::<String>(0)
    }

    fn default_timeout(&self) -> Option<Duration> {
        self.shared.default_timeout()
    }

    fn pool_state(&self) -> Option<PoolState> {
        Some(self.shared.pool.state().into())
    }

    async fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        if let Err(e) = self.shared.pool.close(Duration::from_secs(5)).await {
            tracing::warn!(error = %e, "closing the MySQL pool");
        }
    }
}
