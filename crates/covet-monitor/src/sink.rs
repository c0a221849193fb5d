//! Slow-log records and the JSON-lines file sink.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use serde::{Deserialize, Serialize};

use crate::slowlog::SlowLogSink;

/// One line of the slow log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SlowRecord {
    /// A slow statement.
    Query {
        /// When it finished, milliseconds since the Unix epoch.
        ts_ms: u64,
        /// `postgresql`, `mysql` or `sqlite`.
        engine: String,
        /// The fingerprint id (16 hex digits).
        fingerprint: String,
        /// The operation (`select`, `update`, ...).
        operation: String,
        /// How long it took, in milliseconds.
        elapsed_ms: f64,
        /// Its text as the redaction mode allows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Parameter values (only under `Redaction::Raw`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        params: Option<Vec<String>>,
        /// The statement's label.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        /// Rows returned or affected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rows: Option<u64>,
        /// The error kind if it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A plan captured for a fingerprint.
    Plan {
        /// When it was captured, milliseconds since the Unix epoch.
        ts_ms: u64,
        /// The fingerprint id.
        fingerprint: String,
        /// The plan text.
        plan: String,
        /// Whether EXPLAIN ANALYZE produced it.
        analyzed: bool,
    },
}

enum Msg {
    Line(String),
    Flush(SyncSender<()>),
}

/// Appends each record as one JSON line to a file, from a background
/// thread so the request path never waits on the disk.
///
/// Records are dropped (and counted in [`JsonLinesSink::dropped`]) if more
/// than 10,000 are waiting.
pub struct JsonLinesSink {
    tx: Mutex<SyncSender<Msg>>,
    dropped: AtomicU64,
}

impl std::fmt::Debug for JsonLinesSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesSink")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl JsonLinesSink {
    /// Opens (creating or appending to) `path`.
    ///
    /// A new file is created with mode 0600 on Unix: fingerprints hold no
    /// literal, but under [`crate::Redaction::Raw`] the log holds statement
    /// text and parameter values, so it is readable by its owner only. An
    /// existing file keeps the mode it has.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        let file = owner_only().create(true).append(true).open(path)?;
        let (tx, rx) = sync_channel(10_000);
        std::thread::Builder::new()
            .name("covet-slowlog".into())
            .spawn(move || writer(BufWriter::new(file), &rx))?;
        Ok(JsonLinesSink {
            tx: Mutex::new(tx),
            dropped: AtomicU64::new(0),
        })
    }

    /// Records dropped because the writer fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every record written so far is on disk.
    pub fn flush(&self) {
        let (done_tx, done_rx) = sync_channel(1);
        let sent = self
            .tx
            .lock()
            .map(|tx| tx.send(Msg::Flush(done_tx)).is_ok())
            .unwrap_or(false);
        if sent {
            let _ = done_rx.recv();
        }
    }
}

/// Open options that create files readable and writable by their owner
/// only (0600 on Unix; elsewhere the platform default).
fn owner_only() -> OpenOptions {
    #[allow(unused_mut)]
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

fn writer(mut out: BufWriter<File>, rx: &Receiver<Msg>) {
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Line(line) => {
                let _ = out.write_all(line.as_bytes());
                // Flush when the queue is idle, so a crash loses little.
                if let Ok(next) = rx.try_recv() {
                    match next {
                        Msg::Line(l) => {
                            let _ = out.write_all(l.as_bytes());
                        }
                        Msg::Flush(done) => {
                            let _ = out.flush();
                            let _ = done.send(());
                        }
                    }
                }
                let _ = out.flush();
            }
            Msg::Flush(done) => {
                let _ = out.flush();
                let _ = done.send(());
            }
        }
    }
    let _ = out.flush();
}

impl SlowLogSink for JsonLinesSink {
    fn write(&self, record: &SlowRecord) {
        let Ok(mut line) = serde_json::to_string(record) else {
            return;
        };
        line.push('\n');
        let full = match self.tx.lock() {
            Ok(tx) => matches!(tx.try_send(Msg::Line(line)), Err(TrySendError::Full(_))),
            Err(_) => true,
        };
        if full {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Keeps records in memory; for tests.
#[derive(Debug, Default)]
pub struct MemorySink {
    records: Mutex<Vec<SlowRecord>>,
}

impl MemorySink {
    /// The records written so far.
    pub fn records(&self) -> Vec<SlowRecord> {
        self.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl SlowLogSink for MemorySink {
    fn write(&self, record: &SlowRecord) {
        if let Ok(mut r) = self.records.lock() {
            r.push(record.clone());
        }
    }
}
