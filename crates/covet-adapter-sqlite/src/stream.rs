//! Streaming: a blocking producer steps the statement and hands bounded
//! batches to the async reader through a small channel.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use covet_core::{Result, Row};
use futures_core::Stream;
use tokio::sync::mpsc;

use crate::conn::ConnInner;
use crate::error;
use crate::exec::{self, Job};

/// Rows per batch; with [`CHANNEL_BATCHES`] this bounds the rows in flight.
const BATCH_ROWS: usize = 256;
/// Batches buffered between the producer and the reader.
const CHANNEL_BATCHES: usize = 2;

/// Stops the producer when the stream goes away early, and its timer.
struct ProducerGuard {
    inner: Arc<ConnInner>,
    running: Arc<AtomicBool>,
    timer: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for ProducerGuard {
    fn drop(&mut self) {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
        // An interrupt while no statement runs is a no-op in SQLite, so a
        // producer that just finished is unaffected.
        if self.running.load(Ordering::Acquire) {
            self.inner.interrupt();
        }
    }
}

/// Rows from a producer. `H` keeps the pooled connection (or nothing, in a
/// transaction) until the stream is dropped; fields drop in order, so the
/// channel closes first, then the producer is interrupted, then the
/// connection goes back.
pub(crate) struct BatchStream<H> {
    rx: mpsc::Receiver<Result<Vec<Row>>>,
    current: std::vec::IntoIter<Row>,
    _guard: ProducerGuard,
    _hold: H,
}

impl<H: Unpin> Stream for BatchStream<H> {
    type Item = Result<Row>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(row) = self.current.next() {
                return Poll::Ready(Some(Ok(row)));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(batch))) => self.current = batch.into_iter(),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Starts the producer. `timeout` bounds the whole stream; `in_tx` checks
/// the transaction is still open before running.
pub(crate) fn start<H>(
    inner: Arc<ConnInner>,
    job: Job,
    timeout: Option<Duration>,
    hold: H,
    in_tx: bool,
) -> BatchStream<H> {
    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    let running = Arc::new(AtomicBool::new(true));
    let timed_out = Arc::new(AtomicBool::new(false));
    let timer = timeout.map(|limit| {
        let (inner, running, timed_out) = (inner.clone(), running.clone(), timed_out.clone());
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            timed_out.store(true, Ordering::Release);
            // Repeated: an interrupt before the statement starts is lost.
            while running.load(Ordering::Acquire) {
                inner.interrupt();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    });
    let producer = {
        let (inner, running) = (inner.clone(), running.clone());
        move || {
            let result = inner.with_db(|db| {
                if in_tx {
                    crate::tx::ensure_open(db)?;
                }
                exec::stream(db, &job, BATCH_ROWS, |batch| {
                    tx.blocking_send(batch).is_ok()
                })
            });
            if let Err(e) = result {
                let e = match timeout {
                    Some(limit) if timed_out.load(Ordering::Acquire) => error::timeout(limit),
                    _ => e,
                };
                let _ = tx.blocking_send(Err(e));
            }
            running.store(false, Ordering::Release);
        }
    };
    tokio::task::spawn_blocking(producer);
    BatchStream {
        rx,
        current: Vec::new().into_iter(),
        _guard: ProducerGuard {
            inner,
            running,
            timer,
        },
        _hold: hold,
    }
}
