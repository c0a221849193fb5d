//! `SqliteAdapter`: the pool, its construction, and the `Adapter` impl.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    Adapter, BulkRows, DatabaseUrl, Engine, Error, ErrorKind, ExecResult, Outcome, PoolState,
    Result, ResultStream, RowStream, Rows, Schema, Statement, Transaction, TxOptions,
};
use covet_pool::{Pool, Pooled};

use crate::config::{SqliteConfig, Target};
use crate::conn::{self, SqliteConnection, SqliteManager, run};
use crate::error::{self, from_rusqlite};
use crate::exec::{self, Job};
use crate::stream;
use crate::tx::SqliteTransaction;
use crate::{bulk, schema};

/// The SQLite adapter: a pool of connections to one database file (or one
/// in-memory database). Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct SqliteAdapter {
    shared: Arc<Shared>,
}

struct Shared {
    pool: Pool<SqliteManager>,
    default_timeout: Option<Duration>,
    closed: AtomicBool,
    /// The path or `:memory:`, for messages.
    target: String,
    meta: Arc<exec::MetaCache>,
    /// For `sqlite::memory:`: a connection held outside the pool so the
    /// in-memory database lives as long as the adapter, even when the pool
    /// closes or replaces all of its connections.
    _keeper: Option<Mutex<SqliteConnection>>,
}

impl std::fmt::Debug for SqliteAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteAdapter")
            .field("target", &self.shared.target)
            .field("default_timeout", &self.shared.default_timeout)
            .finish_non_exhaustive()
    }
}

impl SqliteAdapter {
    /// Opens the database named by an `sqlite://` URL (see
    /// [`SqliteConfig::from_url`] for its parameters) and builds the pool.
    ///
    /// One connection is opened right away, so a bad path or a file that
    /// is not a database fails here (ErrorKind::Io, naming the path) rather
    /// than at the first query. Must be called inside a tokio runtime.
    pub async fn connect(url: &DatabaseUrl) -> Result<Self> {
        Self::connect_with(SqliteConfig::from_url(url)?).await
    }

    /// Opens the database `config` names and builds the pool, as
    /// [`SqliteAdapter::connect`] does. An in-memory config gives a new
    /// database each time it is connected.
    pub async fn connect_with(config: SqliteConfig) -> Result<Self> {
        config.validate()?;
        let cfg = Arc::new(config.with_fresh_memory_name());
        let first = {
            let cfg = cfg.clone();
            tokio::task::spawn_blocking(move || conn::open(&cfg))
                .await
                .map_err(|e| error::join(&e))??
        };
        // Opened before the pool so an in-memory database exists for as
        // long as the adapter, before any pooled connection opens it.
        let keeper = match cfg.target {
            Target::Memory(_) => Some(Mutex::new(first)),
            Target::File(_) => None,
        };
        let s = &cfg.pool;
        let pool = s.build_pool(
            SqliteManager {
                config: cfg.clone(),
            },
            Engine::Sqlite,
        )?;
        Ok(SqliteAdapter {
            shared: Arc::new(Shared {
                pool,
                default_timeout: s.statement_timeout,
                closed: AtomicBool::new(false),
                target: cfg.target(),
                meta: Arc::default(),
                _keeper: keeper,
            }),
        })
    }

    /// The underlying pool, for its statistics and settings.
    pub fn pool(&self) -> &Pool<SqliteManager> {
        &self.shared.pool
    }

    async fn conn(&self) -> Result<Pooled<SqliteManager>> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(closed());
        }
        self.shared
            .pool
            .get()
            .await
            .map_err(|e| Error::from_pool(e, Engine::Sqlite))
    }

    fn timeout(&self, stmt: &Statement) -> Option<Duration> {
        stmt.timeout_duration().or(self.shared.default_timeout)
    }
}

fn closed() -> Error {
    Error::new(ErrorKind::Closed, "the SQLite adapter has been closed")
}

#[async_trait]
impl Adapter for SqliteAdapter {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        let job = Job::new(stmt, &self.shared.meta)?;
        let conn = self.conn().await?;
        run(&conn.inner, self.timeout(stmt), move |db| {
            exec::execute(db, &job)
        })
        .await
    }

    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        let job = Job::new(stmt, &self.shared.meta)?;
        let conn = self.conn().await?;
        run(&conn.inner, self.timeout(stmt), move |db| {
            exec::query(db, &job)
        })
        .await
    }

    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        let job = Job::new(stmt, &self.shared.meta)?;
        let conn = self.conn().await?;
        let inner = conn.inner.clone();
        Ok(Box::pin(stream::start(
            inner,
            job,
            self.timeout(stmt),
            conn,
            false,
        )))
    }

    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        let job = Job::new(stmt, &self.shared.meta)?;
        let conn = self.conn().await?;
        let (job, columns) = run(&conn.inner, self.timeout(stmt), move |db| {
            let columns = exec::describe(db, &job)?;
            Ok((job, columns))
        })
        .await?;
        let Some(columns) = columns else {
            let done = run(&conn.inner, self.timeout(stmt), move |db| {
                exec::execute(db, &job)
            })
            .await?;
            return Ok(Outcome::Done(done));
        };
        let inner = conn.inner.clone();
        Ok(Outcome::Rows(ResultStream {
            columns,
            rows: Box::pin(stream::start(inner, job, self.timeout(stmt), conn, false)),
        }))
    }

    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        // SQLite transactions are serializable whatever level is asked for,
        // which satisfies every weaker level too.
        let conn = self.conn().await?;
        let tx = SqliteTransaction::begin(
            conn,
            self.shared.default_timeout,
            options.read_only,
            self.shared.meta.clone(),
        )
        .await?;
        Ok(Box::new(tx))
    }

    async fn bulk_insert(&self, table: &str, columns: &[String], rows: BulkRows) -> Result<u64> {
        let conn = self.conn().await?;
        let (table, columns) = (table.to_owned(), columns.to_vec());
        run(&conn.inner, self.shared.default_timeout, move |db| {
            bulk::bulk_insert(db, &table, &columns, &rows)
        })
        .await
    }

    async fn schema(&self) -> Result<Schema> {
        let conn = self.conn().await?;
        run(&conn.inner, self.shared.default_timeout, schema::read).await
    }

    async fn ping(&self) -> Result<()> {
        let conn = self.conn().await?;
        run(&conn.inner, self.shared.default_timeout, |db| {
            db.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(from_rusqlite)
        })
        .await
    }

    async fn server_version(&self) -> Result<String> {
        let conn = self.conn().await?;
        run(&conn.inner, self.shared.default_timeout, |db| {
            db.query_row("SELECT sqlite_version()", [], |r| r.get(0))
                .map_err(from_rusqlite)
        })
        .await
    }

    fn default_timeout(&self) -> Option<Duration> {
        self.shared.default_timeout
    }

    fn pool_state(&self) -> Option<PoolState> {
        Some(self.shared.pool.state().into())
    }

    async fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        // Connections still checked out close when they come back.
        let _ = self.shared.pool.close(Duration::from_secs(5)).await;
    }
}
