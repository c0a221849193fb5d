//! A PostgreSQL-shaped mock target: answers the router's replication
//! queries from settable positions, and any other query with its own name
//! (so a test sees where a read went).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{
    Adapter, BulkRows, Column, Columns, Engine, Error, ErrorKind, ExecResult, Outcome, RetryClass,
    Row, RowStream, Rows, Schema, Statement, Transaction, TxOptions, Value,
};
use parking_lot::Mutex;

pub struct Mock {
    pub name: String,
    pub reads: AtomicU64,
    pub writes: AtomicU64,
    pub txs: AtomicU64,
    /// The WAL position (primary: current; replica: replayed).
    pub lsn: AtomicU64,
    pub paused: AtomicBool,
    pub down: AtomicBool,
    pub replica: bool,
    /// What `pg_is_in_recovery()` answers (false: writable).
    pub in_recovery: AtomicBool,
    pub delay: Mutex<Duration>,
}

impl Mock {
    pub fn new(name: &str, replica: bool) -> Arc<Mock> {
        Arc::new(Mock {
            name: name.to_owned(),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            txs: AtomicU64::new(0),
            lsn: AtomicU64::new(0x100),
            paused: AtomicBool::new(false),
            down: AtomicBool::new(false),
            replica,
            in_recovery: AtomicBool::new(replica),
            delay: Mutex::new(Duration::ZERO),
        })
    }

    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    pub fn set_lsn(&self, lsn: u64) {
        self.lsn.store(lsn, Ordering::Relaxed);
    }

    fn refuse(&self) -> covet_core::Result<()> {
        if self.down.load(Ordering::Relaxed) {
            Err(Error::new(ErrorKind::Connection, "connection refused")
                .with_retry_class(RetryClass::Reconnect))
        } else {
            Ok(())
        }
    }

    fn one(&self, value: Vec<Value>) -> Rows {
        let cols: Vec<Column> = (0..value.len())
            .map(|i| Column::new(format!("c{i}"), "text"))
            .collect();
        let columns: Arc<Columns> = Columns::new(cols);
        Rows {
            rows: vec![Row::new(columns.clone(), value)],
            columns,
        }
    }

    fn lsn_text(&self) -> String {
        let l = self.lsn.load(Ordering::Relaxed);
        format!("{:X}/{:X}", l >> 32, l & 0xFFFF_FFFF)
    }
}

#[async_trait]
impl Adapter for Mock {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }
    async fn execute(&self, _stmt: &Statement) -> covet_core::Result<ExecResult> {
        self.refuse()?;
        if self.in_recovery.load(Ordering::Relaxed) {
            // What PostgreSQL says to a write on a standby.
            return Err(Error::new(
                ErrorKind::Database,
                "cannot execute INSERT in a read-only transaction",
            )
            .with_code(covet_core::ServerCode::sqlstate("25006").unwrap()));
        }
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(ExecResult::default())
    }
    async fn query(&self, stmt: &Statement) -> covet_core::Result<Rows> {
        self.refuse()?;
        if stmt.sql().contains("NOT pg_is_in_recovery()") {
            let writable = !self.in_recovery.load(Ordering::Relaxed);
            return Ok(self.one(vec![Value::Text(writable.to_string())]));
        }
        if stmt.sql().contains("pg_current_wal_insert_lsn") {
            return Ok(self.one(vec![
                Value::Text(self.lsn_text()),
                Value::Text("8192".to_owned()),
            ]));
        }
        if stmt.sql().contains("pg_last_wal_replay_lsn") {
            return Ok(if self.replica {
                let paused = self.paused.load(Ordering::Relaxed);
                self.one(vec![
                    Value::Text(self.lsn_text()),
                    Value::Text(paused.to_string()),
                ])
            } else {
                self.one(vec![Value::Null, Value::Null])
            });
        }
        let delay = *self.delay.lock();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.one(vec![Value::Text(self.name.clone())]))
    }
    async fn query_stream(&self, _stmt: &Statement) -> covet_core::Result<RowStream> {
        self.refuse()?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(Box::pin(NoRows))
    }
    async fn run(&self, _stmt: &Statement) -> covet_core::Result<Outcome> {
        self.refuse()?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(Outcome::Done(ExecResult::default()))
    }
    async fn begin_with(&self, _options: TxOptions) -> covet_core::Result<Box<dyn Transaction>> {
        self.refuse()?;
        self.txs.fetch_add(1, Ordering::Relaxed);
        Err(Error::unsupported("mock transactions are counted, not run"))
    }
    async fn bulk_insert(
        &self,
        _table: &str,
        _columns: &[String],
        rows: BulkRows,
    ) -> covet_core::Result<u64> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(rows.len() as u64)
    }
    async fn schema(&self) -> covet_core::Result<Schema> {
        Ok(Schema::default())
    }
    async fn ping(&self) -> covet_core::Result<()> {
        self.refuse()
    }
    async fn server_version(&self) -> covet_core::Result<String> {
        Ok("mock".to_owned())
    }
}

/// An empty row stream.
struct NoRows;

impl futures_core::Stream for NoRows {
    type Item = covet_core::Result<covet_core::Row>;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(None)
    }
}
