//! A scripted adapter for tests: fixed service time, an optional stall,
//! optionally failing every n-th statement.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    Adapter, BulkRows, Engine, Error, ExecResult, Result, RowStream, Rows, Schema, Statement,
    Transaction, TxOptions,
};
use tokio::time::Instant;

/// Answers every statement after `service`; between `stall_from` and
/// `stall_until` (offsets from creation) it answers nothing until the stall
/// ends, like a server stuck on a lock or a checkpoint.
pub(crate) struct MockAdapter {
    pub created: Instant,
    pub service: Duration,
    pub stall: Option<(Duration, Duration)>,
    pub calls: AtomicU64,
    /// Every `fail_every`-th statement fails (0: none does).
    pub fail_every: u64,
    /// When not empty, call `i` (from 0) takes `script[i % len].0` and
    /// fails when `script[i % len].1`, instead of `service` and `fail_every`.
    pub script: Vec<(Duration, bool)>,
}

impl MockAdapter {
    pub(crate) fn new(service: Duration, stall: Option<(Duration, Duration)>) -> Arc<Self> {
        Arc::new(MockAdapter {
            created: Instant::now(),
            service,
            stall,
            calls: AtomicU64::new(0),
            fail_every: 0,
            script: Vec::new(),
        })
    }

    /// Answers as `script` says, cycling through it (see [`MockAdapter::script`]).
    pub(crate) fn scripted(script: Vec<(Duration, bool)>) -> Arc<Self> {
        Arc::new(MockAdapter {
            created: Instant::now(),
            service: Duration::ZERO,
            stall: None,
            calls: AtomicU64::new(0),
            fail_every: 0,
            script,
        })
    }

    /// Answers after `service`, every `every`-th statement with a syntax
    /// error (1: all of them).
    pub(crate) fn failing(service: Duration, every: u64) -> Arc<Self> {
        Arc::new(MockAdapter {
            created: Instant::now(),
            service,
            stall: None,
            calls: AtomicU64::new(0),
            fail_every: every,
            script: Vec::new(),
        })
    }

    async fn serve(&self) -> Result<()> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.script.is_empty() {
            let (service, fail) = self.script[(n - 1) as usize % self.script.len()];
            tokio::time::sleep(service).await;
            if fail {
                return Err(Error::new(
                    covet_core::ErrorKind::Connection,
                    "scripted failure",
                ));
            }
            return Ok(());
        }
        if let Some((from, until)) = self.stall {
            let now = Instant::now();
            let (a, b) = (self.created + from, self.created + until);
            if now >= a && now < b {
                tokio::time::sleep_until(b).await;
            }
        }
        tokio::time::sleep(self.service).await;
        if self.fail_every > 0 && n.is_multiple_of(self.fail_every) {
            return Err(Error::new(
                covet_core::ErrorKind::Syntax,
                "relation \"missing\" does not exist",
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl Adapter for MockAdapter {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }
    async fn execute(&self, _stmt: &Statement) -> Result<ExecResult> {
        self.serve().await?;
        Ok(ExecResult::default())
    }
    async fn query(&self, _stmt: &Statement) -> Result<Rows> {
        self.serve().await?;
        Ok(Rows::default())
    }
    async fn query_stream(&self, _stmt: &Statement) -> Result<RowStream> {
        Err(Error::unsupported("mock"))
    }
    async fn run(&self, _stmt: &Statement) -> Result<covet_core::Outcome> {
        Err(Error::unsupported("mock"))
    }
    async fn begin_with(&self, _options: TxOptions) -> Result<Box<dyn Transaction>> {
        Err(Error::unsupported("mock"))
    }
    async fn bulk_insert(&self, _t: &str, _c: &[String], rows: BulkRows) -> Result<u64> {
        Ok(rows.len() as u64)
    }
    async fn schema(&self) -> Result<Schema> {
        Err(Error::unsupported("mock"))
    }
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
    async fn server_version(&self) -> Result<String> {
        Ok("mock".into())
    }
}

/// A server of known capacity: `workers` statements at a time, each taking
/// `service`; the rest wait their turn, so above `workers / service` per
/// second the queue (and the latency) grows without bound.
pub(crate) struct CapacityAdapter {
    workers: tokio::sync::Semaphore,
    service: Duration,
}

impl CapacityAdapter {
    pub(crate) fn new(workers: usize, service: Duration) -> Arc<Self> {
        Arc::new(CapacityAdapter {
            workers: tokio::sync::Semaphore::new(workers),
            service,
        })
    }

    async fn serve(&self) {
        let _permit = self.workers.acquire().await;
        tokio::time::sleep(self.service).await;
    }
}

#[async_trait]
impl Adapter for CapacityAdapter {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }
    async fn execute(&self, _stmt: &Statement) -> Result<ExecResult> {
        self.serve().await;
        Ok(ExecResult::default())
    }
    async fn query(&self, _stmt: &Statement) -> Result<Rows> {
        self.serve().await;
        Ok(Rows::default())
    }
    async fn query_stream(&self, _stmt: &Statement) -> Result<RowStream> {
        Err(Error::unsupported("mock"))
    }
    async fn run(&self, _stmt: &Statement) -> Result<covet_core::Outcome> {
        Err(Error::unsupported("mock"))
    }
    async fn begin_with(&self, _options: TxOptions) -> Result<Box<dyn Transaction>> {
        Err(Error::unsupported("mock"))
    }
    async fn bulk_insert(&self, _t: &str, _c: &[String], rows: BulkRows) -> Result<u64> {
        Ok(rows.len() as u64)
    }
    async fn schema(&self) -> Result<Schema> {
        Err(Error::unsupported("mock"))
    }
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
    async fn server_version(&self) -> Result<String> {
        Ok("mock".into())
    }
}
