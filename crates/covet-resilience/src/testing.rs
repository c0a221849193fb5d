//! An in-memory adapter for tests, examples and benchmarks: it answers
//! every call after an optional delay, and fails on command.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    Adapter, BulkRows, Column, Columns, Engine, Error, ErrorKind, ExecResult, Outcome, PoolState,
    Result, ResultStream, Row, RowStream, Rows, Schema, Statement, Transaction, TxOptions,
    TxRowStream, Value,
};

/// A scripted adapter. Every call counts in [`MockAdapter::calls`]; while
/// [`MockAdapter::set_down`] is on, calls fail with a connection error;
/// errors queued by [`MockAdapter::fail_next`] are returned first.
///
/// Queries return one row `(1)`; executes report one row affected.
#[derive(Debug, Clone)]
pub struct MockAdapter {
    state: Arc<State>,
    record_sql: bool,
}

#[derive(Debug)]
struct State {
    engine: Engine,
    calls: AtomicU64,
    down: AtomicBool,
    delay_nanos: AtomicU64,
    queued: Mutex<VecDeque<Error>>,
    executed: Mutex<Vec<String>>,
    batches: Mutex<Vec<usize>>,
    columns: Arc<Columns>,
}

impl MockAdapter {
    /// A PostgreSQL-flavoured mock.
    pub fn new() -> Self {
        Self::with_engine(Engine::Postgres)
    }

    /// A mock reporting `engine`.
    pub fn with_engine(engine: Engine) -> Self {
        MockAdapter {
            state: Arc::new(State {
                engine,
                calls: AtomicU64::new(0),
                down: AtomicBool::new(false),
                delay_nanos: AtomicU64::new(0),
                queued: Mutex::new(VecDeque::new()),
                executed: Mutex::new(Vec::new()),
                batches: Mutex::new(Vec::new()),
                columns: Columns::new(vec![Column::new("n", "int8")]),
            }),
            record_sql: true,
        }
    }

    /// The address of the row batch each `bulk_insert` on the adapter
    /// received, in call order: equal addresses mean a layer passed the
    /// caller's batch on without copying it.
    pub fn bulk_batches(&self) -> Vec<usize> {
        self.state
            .batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Stops remembering the SQL of each call (for benchmarks).
    #[must_use]
    pub fn without_history(mut self) -> Self {
        self.record_sql = false;
        self
    }

    /// Calls that reached this adapter.
    pub fn calls(&self) -> u64 {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// The SQL of each call that reached the adapter and ran (not failed).
    pub fn executed(&self) -> Vec<String> {
        self.state
            .executed
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// While `true`, every call fails with [`ErrorKind::Connection`].
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Each call waits this long first (tokio time).
    pub fn set_delay(&self, delay: Duration) {
        self.state.delay_nanos.store(
            u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX),
            Ordering::SeqCst,
        );
    }

    /// The next call fails with `error` (queued in order).
    pub fn fail_next(&self, error: Error) {
        if let Ok(mut q) = self.state.queued.lock() {
            q.push_back(error);
        }
    }

    async fn call(&self, sql: &str) -> Result<()> {
        self.state.call(sql, self.record_sql).await
    }

    fn one_row(&self) -> Rows {
        self.state.one_row()
    }
}

impl State {
    async fn call(&self, sql: &str, record_sql: bool) -> Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay_nanos.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_nanos(delay)).await;
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::new(
                ErrorKind::Connection,
                "mock: connection refused",
            ));
        }
        if let Some(e) = self.queued.lock().ok().and_then(|mut q| q.pop_front()) {
            return Err(e);
        }
        if record_sql && let Ok(mut v) = self.executed.lock() {
            v.push(sql.to_owned());
        }
        Ok(())
    }

    fn one_row(&self) -> Rows {
        Rows {
            columns: self.columns.clone(),
            rows: vec![Row::new(self.columns.clone(), vec![Value::I64(1)])],
        }
    }
}

impl Default for MockAdapter {
    fn default() -> Self {
        Self::new()
    }
}

fn stream_of(rows: Rows) -> RowStream {
    Box::pin(Iter(rows.rows.into_iter()))
}

struct Iter(std::vec::IntoIter<Row>);

impl futures_core::Stream for Iter {
    type Item = Result<Row>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next().map(Ok))
    }
}

#[async_trait]
impl Adapter for MockAdapter {
    fn engine(&self) -> Engine {
        self.state.engine
    }
    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        self.call(stmt.sql()).await?;
        Ok(ExecResult {
            rows_affected: 1,
            last_insert_id: None,
        })
    }
    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        self.call(stmt.sql()).await?;
        Ok(self.one_row())
    }
    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        self.call(stmt.sql()).await?;
        Ok(stream_of(self.one_row()))
    }
    /// A mock has no server to describe the statement: `SELECT`, `WITH`
    /// and `VALUES` give the one row, anything else one row affected.
    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        self.call(stmt.sql()).await?;
        let first = stmt.sql().split_whitespace().next().unwrap_or("");
        if ["select", "with", "values"]
            .iter()
            .any(|w| w.eq_ignore_ascii_case(first))
        {
            let rows = self.one_row();
            Ok(Outcome::Rows(ResultStream {
                columns: rows.columns.clone(),
                rows: stream_of(rows),
            }))
        } else {
            Ok(Outcome::Done(ExecResult {
                rows_affected: 1,
                last_insert_id: None,
            }))
        }
    }
    async fn begin_with(&self, _options: TxOptions) -> Result<Box<dyn Transaction>> {
        self.call("BEGIN").await?;
        Ok(Box::new(MockTransaction {
            state: self.state.clone(),
            record_sql: self.record_sql,
            log: Vec::new(),
            parent: None,
        }))
    }
    async fn bulk_insert(&self, table: &str, _columns: &[String], rows: BulkRows) -> Result<u64> {
        self.state
            .batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Arc::as_ptr(&rows).cast::<()>() as usize);
        self.call(&format!("BULK INSERT {table}")).await?;
        Ok(rows.len() as u64)
    }
    async fn schema(&self) -> Result<Schema> {
        self.call("SCHEMA").await?;
        Ok(Schema::default())
    }
    async fn ping(&self) -> Result<()> {
        self.call("PING").await
    }
    async fn server_version(&self) -> Result<String> {
        self.call("VERSION").await?;
        Ok("mock 1.0".into())
    }
    fn pool_state(&self) -> Option<PoolState> {
        Some(PoolState {
            size: 1,
            idle: 1,
            in_use: 0,
            waiters: 0,
        })
    }
}

/// A mock transaction or savepoint: its statements reach the adapter's
/// history only when it commits (a savepoint's, when it and every
/// transaction around it commit).
struct MockTransaction<'p> {
    state: Arc<State>,
    record_sql: bool,
    log: Vec<String>,
    /// The enclosing transaction's log, for a savepoint.
    parent: Option<&'p mut Vec<String>>,
}

#[async_trait]
impl Transaction for MockTransaction<'_> {
    fn engine(&self) -> Engine {
        self.state.engine
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        self.state.call("", false).await?;
        self.log.push(stmt.sql().to_owned());
        Ok(ExecResult {
            rows_affected: 1,
            last_insert_id: None,
        })
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        self.state.call("", false).await?;
        self.log.push(stmt.sql().to_owned());
        Ok(self.state.one_row())
    }
    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        self.state.call("", false).await?;
        self.log.push(stmt.sql().to_owned());
        Ok(stream_of(self.state.one_row()))
    }
    async fn bulk_insert(
        &mut self,
        table: &str,
        _columns: &[String],
        rows: BulkRows,
    ) -> Result<u64> {
        self.state.call("", false).await?;
        self.log.push(format!("BULK INSERT {table}"));
        Ok(rows.len() as u64)
    }
    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        self.state.call("", false).await?;
        Ok(Box::new(MockTransaction {
            state: self.state.clone(),
            record_sql: self.record_sql,
            log: Vec::new(),
            parent: Some(&mut self.log),
        }))
    }
    async fn commit(self: Box<Self>) -> Result<()> {
        self.state.call("", false).await?;
        let this = *self;
        match this.parent {
            Some(parent) => parent.extend(this.log),
            None => {
                if this.record_sql
                    && let Ok(mut v) = this.state.executed.lock()
                {
                    v.extend(this.log);
                }
            }
        }
        Ok(())
    }
    async fn rollback(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}
