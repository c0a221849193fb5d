//! One pooled connection, its statement cache, and the pool's manager.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use covet_core::{
    Column, Columns, Error, ErrorKind, ExecResult, RawRows, Result, Row, Rows, ServerCode,
    Statement,
};
use futures_util::TryStreamExt;
use rustc_hash::{FxBuildHasher, FxHashMap};
use tokio_postgres::{CancelToken, Client};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{from_connect, from_pg};
use crate::types::{Params, PgRow, PgRows};

/// Opens, checks and resets PostgreSQL connections for
/// [`covet_pool::Pool`].
pub struct PgManager {
    driver: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    target: String,
    statement_cache_capacity: usize,
    default_timeout: Option<Duration>,
    cancel_timeout: Duration,
    connect_timeout: Duration,
}

impl std::fmt::Debug for PgManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgManager")
            .field("target", &self.target)
            .field("statement_cache_capacity", &self.statement_cache_capacity)
            .finish_non_exhaustive()
    }
}

impl PgManager {
    pub(crate) fn new(cfg: &crate::PgConfig, tls: MakeRustlsConnect) -> Self {
        PgManager {
            driver: cfg.driver_config(),
            tls,
            target: cfg.target(),
            statement_cache_capacity: cfg.statement_cache_capacity,
            default_timeout: cfg.pool.statement_timeout,
            cancel_timeout: cfg.cancel_timeout,
            connect_timeout: cfg.pool.connect_timeout,
        }
    }

    /// Opens one connection (what the pool calls).
    pub(crate) async fn connect(&self) -> Result<PgConnection> {
        let connecting = self.driver.connect(self.tls.clone());
        let (client, connection) =
            match tokio::time::timeout(self.connect_timeout, connecting).await {
                Ok(Ok(pair)) => pair,
                Ok(Err(e)) => {
                    return Err(from_connect(&e)
                        .context(format!("cannot connect to PostgreSQL at {}", self.target)));
                }
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Connection,
                        format!(
                            "cannot connect to PostgreSQL at {}: no answer within {:?}",
                            self.target, self.connect_timeout
                        ),
                    ));
                }
            };
        // The driver's I/O runs in its own task; it ends when the client is
        // dropped or the socket closes, which `Client::is_closed` reports.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "PostgreSQL connection ended with an error");
            }
        });
        Ok(PgConnection {
            cancel: client.cancel_token(),
            client,
            tls: self.tls.clone(),
            cache: StatementCache::new(self.statement_cache_capacity),
            default_timeout: self.default_timeout,
            cancel_timeout: self.cancel_timeout,
            broken: false,
            in_tx: false,
            tx_aborted: false,
            unsynced: false,
            cancel_on_reset: false,
            pending: Vec::new(),
            savepoints: 0,
        })
    }
}

/// How long a returned connection waits for the rest of an abandoned
/// stream before cancelling it.
const ABANDONED_DRAIN: Duration = Duration::from_millis(100);

impl covet_pool::Manager for PgManager {
    // Boxed: the pool moves a connection in and out of its idle list and
    // every query's future holds one, so a pointer keeps those moves (and
    // the boxed futures) small instead of copying the whole struct.
    type Connection = Box<PgConnection>;
    type Error = Error;

    async fn create(&self) -> Result<Box<PgConnection>> {
        self.connect().await.map(Box::new)
    }

    async fn validate(&self, conn: &mut Box<PgConnection>) -> Result<()> {
        conn.client
            .check_connection()
            .await
            .map_err(|e| from_pg(&e))
    }

    fn has_broken(&self, conn: &mut Box<PgConnection>) -> bool {
        conn.broken || conn.client.is_closed()
    }

    fn needs_reset(&self, conn: &Box<PgConnection>) -> bool {
        conn.in_tx || conn.unsynced || !conn.pending.is_empty()
    }

    async fn reset(&self, conn: &mut Box<PgConnection>) -> Result<()> {
        if conn.cancel_on_reset {
            // An abandoned stream often has only a few rows left: waiting
            // briefly for them is cheaper than a cancel, and sends none.
            if let Ok(Ok(())) =
                tokio::time::timeout(ABANDONED_DRAIN, conn.client.batch_execute("ROLLBACK")).await
            {
                conn.mark_clean();
                return Ok(());
            }
            // Still running: stop it on the server, then wait until the
            // server is done with it. The connection is discarded all the
            // same, because a cancel request lands at a moment the client
            // cannot know: had the statement ended meanwhile, it would hit
            // whatever this connection ran next.
            let cancelled = conn.send_cancel().await;
            let _ = tokio::time::timeout(
                conn.cancel_timeout * 2,
                conn.client.batch_execute("ROLLBACK"),
            )
            .await;
            conn.broken = true;
            cancelled?;
            return Err(Error::new(
                ErrorKind::Connection,
                "an abandoned result was cancelled on the server; its connection is discarded",
            ));
        }
        // ROLLBACK ends a transaction left open, and outside one it is a
        // harmless warning; either way its answer arrives only after every
        // earlier response, so the connection is in sync afterwards.
        match tokio::time::timeout(
            conn.cancel_timeout * 2,
            conn.client.batch_execute("ROLLBACK"),
        )
        .await
        {
            Ok(Ok(())) => {
                conn.mark_clean();
                Ok(())
            }
            Ok(Err(e)) => Err(from_pg(&e)),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                "resetting a returned connection timed out",
            )),
        }
    }
}

struct CacheEntry {
    stmt: tokio_postgres::Statement,
    columns: Arc<Columns>,
    used: u64,
}

/// Prepared statements by SQL text, least recently used evicted first.
pub(crate) struct StatementCache {
    // SQL text comes from the application, not from its users, so a fast
    // hash is safe here; SipHash was a visible share of each query.
    map: FxHashMap<Arc<str>, CacheEntry>,
    capacity: usize,
    clock: u64,
}

impl StatementCache {
    fn new(capacity: usize) -> Self {
        StatementCache {
            map: FxHashMap::with_capacity_and_hasher(capacity.min(1024), FxBuildHasher),
            capacity,
            clock: 0,
        }
    }

    fn get(&mut self, sql: &str) -> Option<(tokio_postgres::Statement, Arc<Columns>)> {
        self.clock += 1;
        let clock = self.clock;
        self.map.get_mut(sql).map(|e| {
            e.used = clock;
            (e.stmt.clone(), e.columns.clone())
        })
    }

    fn insert(&mut self, sql: Arc<str>, stmt: tokio_postgres::Statement, columns: Arc<Columns>) {
        if self.capacity == 0 {
            return;
        }
        if self.map.len() >= self.capacity {
            // A linear scan on a miss only; hits stay O(1).
            if let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            {
                // Dropping the driver's Statement closes it on the server.
                self.map.remove(&oldest);
            }
        }
        self.map.insert(
            sql,
            CacheEntry {
                stmt,
                columns,
                used: self.clock,
            },
        );
    }
}

/// What went wrong inside one round trip.
pub(crate) enum RunError {
    Pg(tokio_postgres::Error),
    Covet(Error),
}

impl From<tokio_postgres::Error> for RunError {
    fn from(e: tokio_postgres::Error) -> Self {
        RunError::Pg(e)
    }
}

impl From<Error> for RunError {
    fn from(e: Error) -> Self {
        RunError::Covet(e)
    }
}

pub(crate) type RunResult<T> = std::result::Result<T, RunError>;

/// A pooled PostgreSQL connection with its prepared-statement cache and the
/// state the pool needs to return it clean.
pub struct PgConnection {
    pub(crate) client: Client,
    cancel: CancelToken,
    tls: MakeRustlsConnect,
    pub(crate) cache: StatementCache,
    pub(crate) default_timeout: Option<Duration>,
    cancel_timeout: Duration,
    /// Lost or unusable: the pool must close it.
    broken: bool,
    /// Inside BEGIN ... COMMIT.
    pub(crate) in_tx: bool,
    /// A statement in the open transaction failed, so the server will only
    /// roll it back.
    pub(crate) tx_aborted: bool,
    /// Responses to an abandoned statement may still be on their way.
    pub(crate) unsynced: bool,
    /// The abandoned statement may still be running: cancel it first.
    cancel_on_reset: bool,
    /// Rollbacks to savepoints that were dropped without commit, run before
    /// the next statement of the transaction.
    pending: Vec<String>,
    savepoints: u64,
}

/// Results of a started stream: the driver's row stream and its columns.
pub(crate) type Started = (tokio_postgres::RowStream, Arc<Columns>);

pub(crate) fn columns_of(stmt: &tokio_postgres::Statement) -> Arc<Columns> {
    Columns::new(
        stmt.columns()
            .iter()
            .map(|c| Column::new(c.name(), c.type_().name()))
            .collect(),
    )
}

/// Wraps the driver's row; columns decode when read.
pub(crate) fn convert_row(row: tokio_postgres::Row, columns: &Arc<Columns>) -> Row {
    Row::from_raw(columns.clone(), PgRow(row))
}

/// One shared batch for the whole result: each row is then a reference
/// count and an index, not an allocation of its own.
pub(crate) fn batch_rows(raw: Vec<tokio_postgres::Row>, columns: Arc<Columns>) -> Rows {
    let n = raw.len();
    let batch: Arc<dyn RawRows> = Arc::new(PgRows {
        rows: raw,
        width: columns.len(),
    });
    let rows = (0..n)
        .map(|i| Row::from_batch(columns.clone(), batch.clone(), i))
        .collect();
    Rows { columns, rows }
}

pub(crate) async fn prepared(
    client: &Client,
    cache: &mut StatementCache,
    sql: &Arc<str>,
) -> RunResult<(tokio_postgres::Statement, Arc<Columns>)> {
    if let Some(hit) = cache.get(sql) {
        return Ok(hit);
    }
    let stmt = client.prepare(sql).await?;
    let columns = columns_of(&stmt);
    cache.insert(sql.clone(), stmt.clone(), columns.clone());
    Ok((stmt, columns))
}

fn check_arity(prepared: &tokio_postgres::Statement, given: usize) -> RunResult<()> {
    let wanted = prepared.params().len();
    if wanted == given {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Encode,
            format!("the statement has {wanted} parameter(s) but {given} were bound"),
        )
        .into())
    }
}

pub(crate) enum Outcome<T> {
    Done(RunResult<T>),
    TimedOut(Duration),
}

pub(crate) async fn deadline<T>(
    limit: Option<Duration>,
    fut: impl Future<Output = RunResult<T>>,
) -> Outcome<T> {
    match limit {
        None => Outcome::Done(fut.await),
        Some(d) => match tokio::time::timeout(d, fut).await {
            Ok(r) => Outcome::Done(r),
            Err(_) => Outcome::TimedOut(d),
        },
    }
}

impl PgConnection {
    /// The driver's client, for what the Adapter trait does not cover.
    /// Leave the connection as you found it (no open transaction).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// How many prepared statements this connection holds in its cache.
    pub fn cached_statements(&self) -> usize {
        self.cache.map.len()
    }

    fn limit(&self, stmt: &Statement) -> Option<Duration> {
        stmt.timeout_duration().or(self.default_timeout)
    }

    /// After a successful ROLLBACK: no transaction, nothing in flight.
    fn mark_clean(&mut self) {
        self.in_tx = false;
        self.tx_aborted = false;
        self.unsynced = false;
        self.cancel_on_reset = false;
        self.pending.clear();
    }

    async fn send_cancel(&mut self) -> Result<()> {
        let cancel = self.cancel.cancel_query(self.tls.clone());
        match tokio::time::timeout(self.cancel_timeout, cancel).await {
            Ok(Ok(())) => {
                self.cancel_on_reset = false;
                Ok(())
            }
            Ok(Err(e)) => {
                self.broken = true;
                tracing::warn!(error = %e, "PostgreSQL cancel request failed; closing the connection");
                Err(from_pg(&e).context("cancel request failed"))
            }
            Err(_) => {
                self.broken = true;
                tracing::warn!("PostgreSQL cancel request timed out; closing the connection");
                Err(Error::new(ErrorKind::Timeout, "cancel request timed out"))
            }
        }
    }

    /// Turns an outcome into the caller's result, keeping the connection's
    /// state honest: a timeout cancels the statement on the server, a lost
    /// connection is marked for discarding, a server error inside a
    /// transaction marks it aborted.
    pub(crate) async fn settle<T>(&mut self, sql: &str, outcome: Outcome<T>) -> Result<T> {
        match outcome {
            Outcome::Done(Ok(v)) => Ok(v),
            Outcome::Done(Err(RunError::Covet(e))) => Err(e),
            Outcome::Done(Err(RunError::Pg(e))) => {
                let err = from_pg(&e);
                if err.kind() == ErrorKind::Connection || self.client.is_closed() {
                    self.broken = true;
                }
                if let Some(code) = err.code() {
                    if self.in_tx {
                        self.tx_aborted = true;
                    }
                    // A cached plan whose result type changed, or a
                    // statement the server no longer knows: prepare afresh.
                    if code == ServerCode::SqlState(*b"0A000")
                        || code == ServerCode::SqlState(*b"26000")
                    {
                        self.cache.map.remove(sql);
                    }
                }
                Err(err)
            }
            Outcome::TimedOut(d) => {
                self.unsynced = true;
                if self.in_tx {
                    self.tx_aborted = true;
                }
                let outcome = match self.send_cancel().await {
                    Ok(()) => "it was cancelled on the server",
                    Err(_) => "the cancel request failed, so the connection is closed",
                };
                // Had the statement finished just before the cancel arrived,
                // the cancel would hit the next statement on this
                // connection: outside a transaction, discard it on release.
                // Inside one, the transaction is aborted and ends with its
                // ROLLBACK, after which the connection is discarded too.
                self.broken = true;
                Err(Error::new(
                    ErrorKind::Timeout,
                    format!("statement timed out after {d:?}; {outcome}"),
                ))
            }
        }
    }

    pub(crate) async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        let limit = self.limit(stmt);
        let client = &self.client;
        let cache = &mut self.cache;
        let outcome = deadline(limit, async {
            let (st, _) = prepared(client, cache, stmt.sql_arc()).await?;
            check_arity(&st, stmt.params().len())?;
            let n = client
                .execute_raw(&st, Params(stmt.params().iter()))
                .await?;
            Ok(ExecResult {
                rows_affected: n,
                last_insert_id: None,
            })
        })
        .await;
        self.settle(stmt.sql(), outcome).await
    }

    pub(crate) async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        let limit = self.limit(stmt);
        let client = &self.client;
        let cache = &mut self.cache;
        let outcome = deadline(limit, async {
            let (st, columns) = prepared(client, cache, stmt.sql_arc()).await?;
            check_arity(&st, stmt.params().len())?;
            let stream = client.query_raw(&st, Params(stmt.params().iter())).await?;
            let mut stream = pin!(stream);
            // Zero or one row (a point select) keeps the per-row form:
            // a batch would cost its vector and its own allocation.
            let Some(first) = stream.try_next().await? else {
                return Ok(Rows {
                    columns,
                    rows: Vec::new(),
                });
            };
            let Some(second) = stream.try_next().await? else {
                let rows = vec![convert_row(first, &columns)];
                return Ok(Rows { columns, rows });
            };
            let mut raw = vec![first, second];
            while let Some(row) = stream.try_next().await? {
                raw.push(row);
            }
            Ok(batch_rows(raw, columns))
        })
        .await;
        self.settle(stmt.sql(), outcome).await
    }

    /// The columns `stmt` returns, none when it has no result set: the
    /// server's description of the prepared (and cached) statement.
    pub(crate) async fn describe(&mut self, stmt: &Statement) -> Result<Arc<Columns>> {
        let limit = self.limit(stmt);
        let client = &self.client;
        let cache = &mut self.cache;
        let outcome = deadline(limit, async {
            let (_, columns) = prepared(client, cache, stmt.sql_arc()).await?;
            Ok(columns)
        })
        .await;
        self.settle(stmt.sql(), outcome).await
    }

    /// Starts a streaming query; the statement timeout bounds the wait for
    /// the server's first answer.
    pub(crate) async fn start_stream(&mut self, stmt: &Statement) -> Result<Started> {
        let limit = self.limit(stmt);
        let client = &self.client;
        let cache = &mut self.cache;
        let outcome = deadline(limit, async {
            let (st, columns) = prepared(client, cache, stmt.sql_arc()).await?;
            check_arity(&st, stmt.params().len())?;
            let stream = client.query_raw(&st, Params(stmt.params().iter())).await?;
            Ok((stream, columns))
        })
        .await;
        let started = self.settle(stmt.sql(), outcome).await?;
        if !self.in_tx {
            // Until the stream ends, the connection must not be reused
            // without cancelling what is left of the result.
            self.unsynced = true;
            self.cancel_on_reset = true;
        }
        Ok(started)
    }

    /// A streamed result was read to its end: the connection is in sync.
    pub(crate) fn stream_finished(&mut self) {
        if !self.in_tx {
            self.unsynced = false;
            self.cancel_on_reset = false;
        }
    }

    /// A streamed result failed: mark the connection for discarding when the
    /// failure was the connection's.
    pub(crate) fn stream_failed(&mut self, err: &Error) {
        if err.kind() == ErrorKind::Connection || self.client.is_closed() {
            self.broken = true;
        }
        if self.in_tx && err.code().is_some() {
            self.tx_aborted = true;
        }
    }

    /// Runs statements without parameters or results (BEGIN, COMMIT,
    /// SAVEPOINT ...), bounded by the default timeout.
    pub(crate) async fn simple(&mut self, sql: &str) -> Result<()> {
        let limit = self.default_timeout;
        let client = &self.client;
        let outcome = deadline(limit, async {
            client.batch_execute(sql).await?;
            Ok(())
        })
        .await;
        self.settle(sql, outcome).await
    }

    pub(crate) fn next_savepoint(&mut self) -> String {
        self.savepoints += 1;
        format!("covet_sp_{}", self.savepoints)
    }

    pub(crate) fn defer(&mut self, sql: String) {
        self.pending.push(sql);
    }

    pub(crate) fn clear_deferred(&mut self) {
        self.pending.clear();
    }

    /// Runs the rollbacks of savepoints dropped without commit.
    pub(crate) async fn flush_deferred(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let sql = self.pending.join("; ");
        self.pending.clear();
        self.simple(&sql).await?;
        self.tx_aborted = false;
        Ok(())
    }

    pub(crate) async fn server_version(&mut self) -> Result<String> {
        let limit = self.default_timeout;
        let client = &self.client;
        let outcome = deadline(limit, async {
            let row = client.query_one("SHOW server_version", &[]).await?;
            Ok(row.try_get::<_, String>(0)?)
        })
        .await;
        self.settle("SHOW server_version", outcome).await
    }

    pub(crate) async fn ping(&mut self) -> Result<()> {
        let limit = self.default_timeout;
        let client = &self.client;
        let outcome = deadline(limit, async {
            client.check_connection().await?;
            Ok(())
        })
        .await;
        self.settle("", outcome).await
    }

    pub(crate) async fn schema(&mut self) -> Result<covet_core::Schema> {
        let limit = self.default_timeout;
        let client = &self.client;
        let outcome = deadline(limit, async {
            Ok(crate::schema::introspect(client).await?)
        })
        .await;
        self.settle("", outcome).await
    }
}
