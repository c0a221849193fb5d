//! One SQLite connection, the blocking-job runner, and the pool manager.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use covet_core::{Error, ErrorKind, Result};
use rusqlite::{InterruptHandle, OpenFlags};

use crate::config::{JournalMode, OpenMode, SqliteConfig, Target};
use crate::error::{self, from_rusqlite};

/// How long a statement may keep running after its interrupt before its
/// connection is given up on and discarded.
const INTERRUPT_GRACE: Duration = Duration::from_secs(2);

/// A pooled SQLite connection. Its blocking calls run on tokio's blocking
/// threads; the `Mutex` makes them take turns and lets a stream's producer
/// hold the connection while the async side reads batches.
pub struct SqliteConnection {
    pub(crate) inner: Arc<ConnInner>,
}

impl std::fmt::Debug for SqliteConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteConnection")
            .field("broken", &self.inner.broken.load(Ordering::Relaxed))
            .field("dirty", &self.inner.dirty.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

pub(crate) struct ConnInner {
    db: Mutex<rusqlite::Connection>,
    interrupt: InterruptHandle,
    /// SQL to run before the next job: rollbacks of savepoints that were
    /// dropped (Drop cannot wait for the connection).
    pending: Mutex<Vec<String>>,
    /// A transaction was begun and not finished: the pool must reset.
    pub(crate) dirty: AtomicBool,
    /// A statement would not stop after its interrupt: discard.
    pub(crate) broken: AtomicBool,
}

impl ConnInner {
    pub(crate) fn interrupt(&self) {
        self.interrupt.interrupt();
    }

    pub(crate) fn defer(&self, sql: String) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(sql);
    }

    /// Runs `f` on the connection (on the calling, blocking thread), first
    /// applying any deferred savepoint rollbacks.
    pub(crate) fn with_db<T>(
        &self,
        f: impl FnOnce(&mut rusqlite::Connection) -> Result<T>,
    ) -> Result<T> {
        let mut db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let pending =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        for sql in pending {
            db.execute_batch(&sql).map_err(from_rusqlite)?;
        }
        f(&mut db)
    }
}

/// Interrupts the statement of a job whose caller stopped waiting (its
/// future was dropped), so the connection does not go back to the pool
/// mid-query.
struct CancelGuard<'a> {
    inner: &'a ConnInner,
    armed: bool,
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.inner.interrupt();
        }
    }
}

/// Runs a blocking job on the connection with an optional timeout. On
/// expiry SQLite is interrupted (`sqlite3_interrupt`) and the caller gets
/// `ErrorKind::Timeout`; a job that does not stop within a grace period
/// marks the connection broken so the pool discards it.
pub(crate) async fn run<T, F>(inner: &Arc<ConnInner>, timeout: Option<Duration>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection) -> Result<T> + Send + 'static,
{
    let job = inner.clone();
    let mut handle = tokio::task::spawn_blocking(move || job.with_db(f));
    let mut guard = CancelGuard { inner, armed: true };
    let outcome = match timeout {
        None => (&mut handle).await,
        Some(limit) => match tokio::time::timeout(limit, &mut handle).await {
            Ok(r) => r,
            Err(_) => {
                let result = interrupt_until_done(inner, &mut handle).await;
                guard.armed = false;
                return match result {
                    // It finished just as the deadline passed.
                    Some(Ok(Ok(v))) => Ok(v),
                    Some(_) => Err(error::timeout(limit)),
                    None => {
                        inner.broken.store(true, Ordering::Release);
                        Err(error::timeout(limit))
                    }
                };
            }
        },
    };
    guard.armed = false;
    match outcome {
        Ok(r) => r,
        Err(e) => {
            inner.broken.store(true, Ordering::Release);
            Err(error::join(&e))
        }
    }
}

/// Interrupts repeatedly until the job ends or the grace period passes:
/// an interrupt sent before the job's statement started is a no-op in
/// SQLite, so one is not enough.
async fn interrupt_until_done<T>(
    inner: &ConnInner,
    handle: &mut tokio::task::JoinHandle<T>,
) -> Option<std::result::Result<T, tokio::task::JoinError>> {
    let end = tokio::time::Instant::now() + INTERRUPT_GRACE;
    loop {
        inner.interrupt();
        match tokio::time::timeout(Duration::from_millis(20), &mut *handle).await {
            Ok(r) => return Some(r),
            Err(_) if tokio::time::Instant::now() >= end => return None,
            Err(_) => {}
        }
    }
}

/// Opens and configures one connection (blocking).
pub(crate) fn open(cfg: &SqliteConfig) -> Result<SqliteConnection> {
    let base = OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let opened = match &cfg.target {
        Target::File(path) => {
            let flags = base
                | match cfg.mode {
                    OpenMode::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
                    OpenMode::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE,
                    OpenMode::ReadWriteCreate => {
                        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
                    }
                };
            rusqlite::Connection::open_with_flags(path, flags)
        }
        Target::Memory(name) => rusqlite::Connection::open_with_flags(
            format!("file:{name}?vfs=memdb"),
            base | OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_URI,
        ),
    };
    let db = opened.map_err(|e| {
        let e = from_rusqlite(e);
        let kind = if e.kind() == ErrorKind::Database {
            ErrorKind::Io
        } else {
            e.kind()
        };
        Error::new(
            kind,
            format!(
                "cannot open SQLite database {}: {}",
                cfg.target(),
                e.message()
            ),
        )
    })?;
    configure(&db, cfg).map_err(|e| e.context(format!("configuring {}", cfg.target())))?;
    let interrupt = db.get_interrupt_handle();
    Ok(SqliteConnection {
        inner: Arc::new(ConnInner {
            db: Mutex::new(db),
            interrupt,
            pending: Mutex::new(Vec::new()),
            dirty: AtomicBool::new(false),
            broken: AtomicBool::new(false),
        }),
    })
}

fn configure(db: &rusqlite::Connection, cfg: &SqliteConfig) -> Result<()> {
    db.busy_timeout(cfg.busy_timeout).map_err(from_rusqlite)?;
    db.set_prepared_statement_cache_capacity(cfg.statement_cache_capacity);
    db.execute_batch(if cfg.foreign_keys {
        "PRAGMA foreign_keys = ON"
    } else {
        "PRAGMA foreign_keys = OFF"
    })
    .map_err(from_rusqlite)?;
    let journal = match (cfg.journal_mode, &cfg.target, cfg.mode) {
        (Some(m), _, _) => Some(m),
        (None, Target::File(_), OpenMode::ReadWrite | OpenMode::ReadWriteCreate) => {
            Some(JournalMode::Wal)
        }
        _ => None,
    };
    if let Some(mode) = journal.map(JournalMode::as_str) {
        let got: String = db
            .query_row(&format!("PRAGMA journal_mode = {mode}"), [], |r| r.get(0))
            .map_err(from_rusqlite)?;
        if got != mode {
            return Err(Error::config(format!(
                "journal_mode={mode} was refused (the database reports {got})"
            )));
        }
        if mode == "wal" {
            // In WAL mode NORMAL is durable across application crashes and
            // loses at most the last transactions on power loss; FULL
            // would fsync on every commit.
            db.execute_batch("PRAGMA synchronous = NORMAL")
                .map_err(from_rusqlite)?;
        }
    }
    Ok(())
}

/// The covet-pool manager for SQLite connections.
#[derive(Debug, Clone)]
pub struct SqliteManager {
    pub(crate) config: Arc<SqliteConfig>,
}

impl covet_pool::Manager for SqliteManager {
    type Connection = SqliteConnection;
    type Error = Error;

    fn create(&self) -> impl Future<Output = Result<SqliteConnection>> + Send {
        let cfg = self.config.clone();
        async move {
            tokio::task::spawn_blocking(move || open(&cfg))
                .await
                .map_err(|e| error::join(&e))?
        }
    }

    fn validate(&self, conn: &mut SqliteConnection) -> impl Future<Output = Result<()>> + Send {
        let inner = conn.inner.clone();
        async move {
            run(&inner, Some(Duration::from_secs(5)), |db| {
                db.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(from_rusqlite)
            })
            .await
        }
    }

    fn has_broken(&self, conn: &mut SqliteConnection) -> bool {
        conn.inner.broken.load(Ordering::Acquire)
    }

    fn needs_reset(&self, conn: &SqliteConnection) -> bool {
        conn.inner.dirty.load(Ordering::Acquire)
    }

    fn reset(&self, conn: &mut SqliteConnection) -> impl Future<Output = Result<()>> + Send {
        let inner = conn.inner.clone();
        async move {
            // Whatever savepoint rollbacks were deferred are subsumed by
            // rolling back the whole transaction.
            inner
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            run(&inner, Some(Duration::from_secs(5)), |db| {
                if !db.is_autocommit() {
                    db.execute_batch("ROLLBACK").map_err(from_rusqlite)?;
                }
                db.execute_batch("PRAGMA query_only = OFF")
                    .map_err(from_rusqlite)
            })
            .await?;
            inner.dirty.store(false, Ordering::Release);
            Ok(())
        }
    }
}
