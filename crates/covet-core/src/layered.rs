//! Writing a layer once: [`Intercept`] says what a layer does around a
//! call, [`Layered`] supplies every `Adapter` and `Transaction` method.
//!
//! # Why this shape
//!
//! A layer used to be a hand-written `Adapter` (thirteen methods) plus a
//! hand-written `Transaction` for what `begin` returned, and each one
//! forwarded most methods unchanged. Layers that forgot a path missed
//! statements: a metrics layer that returned the inner transaction
//! unwrapped saw nothing inside transactions, savepoints passed every
//! layer unwrapped, a breaker guarded only `begin`.
//!
//! Here, as in tower where a middleware implements one `call`, a layer
//! implements [`Intercept::around`]: one generic hook that receives every
//! call (a [`Call`] says which, with its statement when it has one) as a
//! future to run. [`Layered`] implements [`Adapter`] and wraps each
//! transaction and savepoint it opens in the same hooks, so a statement
//! inside a savepoint inside a transaction reaches `around` exactly as an
//! autocommit statement does. Pass-through is the default of every hook;
//! a layer writes only what it changes.
//!
//! Two more hooks cover what a future cannot:
//!
//! - [`Intercept::statement`] may hand the inner adapter a changed
//!   statement (the timeout layer sets its default timeout). It borrows by
//!   default; a changed copy is cheap because a [`Statement`] shares its
//!   SQL and parameters.
//! - [`Intercept::around_repeatable`] receives, for calls outside any
//!   transaction, a closure that can start the call again (the retry
//!   layer). Inside a transaction there is no such closure, on purpose: a
//!   statement of a transaction cannot be repeated alone (the server may
//!   have aborted the transaction, and the earlier statements are part of
//!   the unit), so only [`Intercept::around`] runs there.
//!
//! What the layers in this workspace do inside a transaction: the timeout
//! applies to each statement, commit and savepoint; the breaker guards
//! each statement (refusing it while open) and counts its outage errors;
//! metrics and the slow log record each statement; retry passes through
//! (re-running a whole transaction is `covet_resilience::retry::transaction`).
//!
//! Costs: the hooks are generic (no boxing besides the one `async_trait`
//! already does per call), the wrapper holds the hooks in an `Arc` so a
//! transaction takes one reference count, not a copy.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;

use crate::adapter::{
    Adapter, BulkRows, CopyIn, CopyOutStream, ExecResult, Outcome, PoolState, RowStream,
    Transaction, TxOptions, TxRowStream,
};
use crate::dialect::{Dialect, Engine};
use crate::error::Result;
use crate::row::{Row, Rows};
use crate::schema::Schema;
use crate::statement::Statement;

/// Which call a hook is looking at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallKind {
    /// `execute`.
    Execute,
    /// `query`.
    Query,
    /// `query_stream` (its future ends at the first batch of rows).
    QueryStream,
    /// `run` (as `query_stream` when the statement returns rows).
    Run,
    /// `bulk_insert` (no [`Statement`]; [`Call::table`] names the table).
    BulkInsert,
    /// `begin` / `begin_with`.
    Begin,
    /// Opening a savepoint inside a transaction.
    Savepoint,
    /// Committing a transaction, or releasing a savepoint.
    Commit,
    /// Rolling back a transaction or to a savepoint.
    Rollback,
    /// `schema`.
    Schema,
    /// `ping`.
    Ping,
    /// `server_version`.
    ServerVersion,
}

impl CallKind {
    /// Whether the call carries a [`Statement`] (`execute`, `query`,
    /// `query_stream`, `run`).
    pub fn has_statement(self) -> bool {
        matches!(
            self,
            CallKind::Execute | CallKind::Query | CallKind::QueryStream | CallKind::Run
        )
    }
}

/// One call as a hook sees it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    kind: CallKind,
    statement: Option<&'a Statement>,
    table: Option<&'a str>,
    engine: Engine,
    depth: u32,
}

impl<'a> Call<'a> {
    /// Which call this is.
    pub fn kind(&self) -> CallKind {
        self.kind
    }

    /// The statement, for `execute`, `query`, `query_stream` and `run` (as
    /// [`Intercept::statement`] of this layer returned it).
    pub fn statement(&self) -> Option<&'a Statement> {
        self.statement
    }

    /// The table of a bulk insert.
    pub fn table(&self) -> Option<&'a str> {
        self.table
    }

    /// The engine behind the adapter.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// 0 outside a transaction, 1 in a transaction, 2 and more in nested
    /// savepoints.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Whether the call runs inside a transaction (or savepoint).
    pub fn in_transaction(&self) -> bool {
        self.depth > 0
    }
}

/// What a call returns, as far as a hook may look at it without knowing
/// the type: the rows returned or affected, when known.
pub trait Reply: Send {
    /// Rows returned (`query`) or affected (`execute`, a `run` that
    /// returned no result set, `bulk_insert`); `None` for a stream, whose
    /// rows are not read yet, and for calls without rows.
    fn rows(&self) -> Option<u64> {
        None
    }
}

impl Reply for ExecResult {
    fn rows(&self) -> Option<u64> {
        Some(self.rows_affected)
    }
}
impl Reply for Rows {
    fn rows(&self) -> Option<u64> {
        Some(self.len() as u64)
    }
}
impl Reply for Outcome {
    fn rows(&self) -> Option<u64> {
        match self {
            Outcome::Done(done) => Some(done.rows_affected),
            Outcome::Rows(_) => None,
        }
    }
}
impl Reply for u64 {
    fn rows(&self) -> Option<u64> {
        Some(*self)
    }
}
impl Reply for Pin<Box<dyn Stream<Item = Result<Row>> + Send + '_>> {}
impl Reply for Box<dyn Transaction + '_> {}
impl Reply for () {}
impl Reply for Schema {}
impl Reply for String {}

/// What a layer does around each call; every method defaults to passing
/// the call through unchanged. [`Layered`] turns an `Intercept` into an
/// [`Adapter`] (see the module docs for the design).
///
/// A layer that times statements writes one method:
///
/// ```
/// use std::future::Future;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use covet_core::{Adapter, Call, Intercept, Layered, Reply, Result};
///
/// #[derive(Default)]
/// struct CountStatements(AtomicU64);
///
/// impl Intercept for CountStatements {
///     fn around<'a, T: Reply + 'a>(
///         &'a self,
///         call: Call<'a>,
///         fut: impl Future<Output = Result<T>> + Send + 'a,
///     ) -> impl Future<Output = Result<T>> + Send + 'a {
///         if call.kind().has_statement() {
///             self.0.fetch_add(1, Ordering::Relaxed);
///         }
///         fut
///     }
/// }
///
/// fn counted(inner: Arc<dyn Adapter>) -> Arc<dyn Adapter> {
///     Arc::new(Layered::new(inner, CountStatements::default()))
/// }
/// ```
pub trait Intercept: Send + Sync + 'static {
    /// The statement handed to the inner adapter (default: `stmt` itself).
    fn statement<'s>(&self, stmt: &'s Statement) -> Cow<'s, Statement> {
        Cow::Borrowed(stmt)
    }

    /// Runs one call, `fut`, which starts the call on the inner adapter or
    /// transaction. Every call passes here once per attempt, in a
    /// transaction or not.
    fn around<'a, T: Reply + 'a>(
        &'a self,
        call: Call<'a>,
        fut: impl Future<Output = Result<T>> + Send + 'a,
    ) -> impl Future<Output = Result<T>> + Send + 'a {
        let _ = call;
        fut
    }

    /// A call outside any transaction, which `attempt` can start again
    /// (each time through the inner layers, as a new call). Default: one
    /// attempt through [`Intercept::around`].
    ///
    /// Bulk inserts come here only when [`Intercept::repeats_bulk`] says
    /// so, since each attempt needs its own copy of the rows.
    fn around_repeatable<'a, T: Reply + 'a, F, Fut>(
        &'a self,
        call: Call<'a>,
        mut attempt: F,
    ) -> impl Future<Output = Result<T>> + Send + 'a
    where
        F: FnMut() -> Fut + Send + 'a,
        Fut: Future<Output = Result<T>> + Send + 'a,
    {
        self.around(call, attempt())
    }

    /// Whether [`Intercept::around_repeatable`] may start a bulk insert
    /// more than once (default `false`). When `true` each attempt is given
    /// a copy of the rows, so only a layer that does repeat says so.
    fn repeats_bulk(&self) -> bool {
        false
    }

    /// The default statement timeout reported to outer layers (default:
    /// the inner adapter's).
    fn default_timeout(&self, inner: &dyn Adapter) -> Option<Duration> {
        inner.default_timeout()
    }
}

/// An [`Adapter`] made of an inner adapter and a layer's [`Intercept`]
/// hooks: every call, and every statement of the transactions and
/// savepoints it opens, goes through the hooks.
pub struct Layered<I> {
    inner: Arc<dyn Adapter>,
    hooks: Arc<I>,
    engine: Engine,
}

impl<I: Intercept> Layered<I> {
    /// Wraps `inner` in `hooks`.
    pub fn new(inner: Arc<dyn Adapter>, hooks: I) -> Self {
        let engine = inner.engine();
        Layered {
            inner,
            hooks: Arc::new(hooks),
            engine,
        }
    }

    /// The layer's hooks (for its own accessors: a breaker, a policy).
    pub fn hooks(&self) -> &I {
        &self.hooks
    }

    /// The wrapped adapter.
    pub fn inner(&self) -> &Arc<dyn Adapter> {
        &self.inner
    }

    fn call<'a>(&self, kind: CallKind, statement: Option<&'a Statement>) -> Call<'a> {
        Call {
            kind,
            statement,
            table: None,
            engine: self.engine,
            depth: 0,
        }
    }
}

impl<I> std::fmt::Debug for Layered<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Layered")
            .field("layer", &std::any::type_name::<I>())
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<I: Intercept> Adapter for Layered<I> {
    fn engine(&self) -> Engine {
        self.engine
    }
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }
    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        let stmt = self.hooks.statement(stmt);
        let call = self.call(CallKind::Execute, Some(&stmt));
        let inner = &*self.inner;
        self.hooks
            .around_repeatable(call, || inner.execute(&stmt))
            .await
    }
    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        let stmt = self.hooks.statement(stmt);
        let call = self.call(CallKind::Query, Some(&stmt));
        let inner = &*self.inner;
        self.hooks
            .around_repeatable(call, || inner.query(&stmt))
            .await
    }
    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        let stmt = self.hooks.statement(stmt);
        let call = self.call(CallKind::QueryStream, Some(&stmt));
        let inner = &*self.inner;
        self.hooks
            .around_repeatable(call, || inner.query_stream(&stmt))
            .await
    }
    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        let stmt = self.hooks.statement(stmt);
        let call = self.call(CallKind::Run, Some(&stmt));
        let inner = &*self.inner;
        self.hooks
            .around_repeatable(call, || inner.run(&stmt))
            .await
    }
    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        let call = self.call(CallKind::Begin, None);
        let inner = &*self.inner;
        let tx = self
            .hooks
            .around_repeatable(call, || inner.begin_with(options))
            .await?;
        Ok(Box::new(LayeredTx {
            inner: tx,
            hooks: Arc::clone(&self.hooks),
            engine: self.engine,
            depth: 1,
        }))
    }
    async fn bulk_insert(&self, table: &str, columns: &[String], rows: BulkRows) -> Result<u64> {
        let call = Call {
            table: Some(table),
            ..self.call(CallKind::BulkInsert, None)
        };
        let inner = &*self.inner;
        if self.hooks.repeats_bulk() {
            self.hooks
                .around_repeatable(call, || inner.bulk_insert(table, columns, rows.clone()))
                .await
        } else {
            self.hooks
                .around(call, inner.bulk_insert(table, columns, rows))
                .await
        }
    }
    async fn schema(&self) -> Result<Schema> {
        let call = self.call(CallKind::Schema, None);
        let inner = &*self.inner;
        self.hooks.around_repeatable(call, || inner.schema()).await
    }
    async fn ping(&self) -> Result<()> {
        let call = self.call(CallKind::Ping, None);
        let inner = &*self.inner;
        self.hooks.around_repeatable(call, || inner.ping()).await
    }
    async fn server_version(&self) -> Result<String> {
        let call = self.call(CallKind::ServerVersion, None);
        let inner = &*self.inner;
        self.hooks
            .around_repeatable(call, || inner.server_version())
            .await
    }
    fn default_timeout(&self) -> Option<Duration> {
        self.hooks.default_timeout(&*self.inner)
    }
    fn pool_state(&self) -> Option<PoolState> {
        self.inner.pool_state()
    }
    async fn close(&self) {
        self.inner.close().await;
    }
}

/// A transaction or savepoint opened through a [`Layered`] adapter: its
/// statements, savepoints, commit and rollback go through the same hooks.
struct LayeredTx<'t, I> {
    inner: Box<dyn Transaction + 't>,
    hooks: Arc<I>,
    engine: Engine,
    depth: u32,
}

impl<I> LayeredTx<'_, I> {
    fn call<'a>(&self, kind: CallKind, statement: Option<&'a Statement>) -> Call<'a> {
        Call {
            kind,
            statement,
            table: None,
            engine: self.engine,
            depth: self.depth,
        }
    }
}

#[async_trait]
impl<I: Intercept> Transaction for LayeredTx<'_, I> {
    fn engine(&self) -> Engine {
        self.engine
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        let stmt = self.hooks.statement(stmt);
        let call = self.call(CallKind::Execute, Some(&stmt));
        self.hooks.around(call, self.inner.execute(&stmt)).await
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        let stmt = self.hooks.statement(stmt);
        let call = self.call(CallKind::Query, Some(&stmt));
        self.hooks.around(call, self.inner.query(&stmt)).await
    }
    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        let stmt = self.hooks.statement(stmt);
        let call = self.call(CallKind::QueryStream, Some(&stmt));
        self.hooks
            .around(call, self.inner.query_stream(&stmt))
            .await
    }
    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: BulkRows,
    ) -> Result<u64> {
        let call = Call {
            table: Some(table),
            ..self.call(CallKind::BulkInsert, None)
        };
        self.hooks
            .around(call, self.inner.bulk_insert(table, columns, rows))
            .await
    }
    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        let call = self.call(CallKind::Savepoint, None);
        let depth = self.depth + 1;
        let engine = self.engine;
        let sp = self.hooks.around(call, self.inner.savepoint()).await?;
        Ok(Box::new(LayeredTx {
            inner: sp,
            hooks: Arc::clone(&self.hooks),
            engine,
            depth,
        }))
    }
    // A COPY is a stream of a whole table, not a statement a layer can time,
    // retry or fingerprint: it passes through untouched.
    async fn copy_out(&mut self, sql: &str) -> Result<CopyOutStream<'_>> {
        self.inner.copy_out(sql).await
    }
    async fn copy_in(&mut self, sql: &str) -> Result<Box<dyn CopyIn + '_>> {
        self.inner.copy_in(sql).await
    }
    async fn commit(self: Box<Self>) -> Result<()> {
        let call = self.call(CallKind::Commit, None);
        let LayeredTx { inner, hooks, .. } = *self;
        hooks.around(call, inner.commit()).await
    }
    async fn rollback(self: Box<Self>) -> Result<()> {
        let call = self.call(CallKind::Rollback, None);
        let LayeredTx { inner, hooks, .. } = *self;
        hooks.around(call, inner.rollback()).await
    }
}
