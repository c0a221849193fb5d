//! Raw COPY streams (`Transaction::copy_out` / `copy_in`): the server's
//! bytes passed through untouched, for tools such as covet-backup that must
//! carry every type the server has, not only those with a `Value` mapping.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use async_trait::async_trait;
use bytes::Bytes;
use covet_core::{CopyIn, CopyOutStream, Error, Result};
use futures_core::Stream;
use futures_util::SinkExt;
use tokio_postgres::{CopyInSink, CopyOutStream as PgCopyOut};

use crate::conn::{PgConnection, deadline};
use crate::error::from_pg;

impl PgConnection {
    /// Starts `COPY ... TO STDOUT`; only the start is bounded by the
    /// default timeout, since the stream runs as long as the table is big.
    pub(crate) async fn raw_copy_out(&mut self, sql: &str) -> Result<CopyOutStream<'_>> {
        self.flush_deferred().await?;
        let limit = self.default_timeout;
        let client = &self.client;
        let outcome = deadline(limit, async { Ok(client.copy_out(sql).await?) }).await;
        let inner = self.settle(sql, outcome).await?;
        Ok(Box::pin(RawCopyOut {
            conn: self,
            inner: Box::pin(inner),
            done: false,
        }))
    }

    /// Starts `COPY ... FROM STDIN`.
    pub(crate) async fn raw_copy_in(&mut self, sql: &str) -> Result<Box<dyn CopyIn + '_>> {
        self.flush_deferred().await?;
        let limit = self.default_timeout;
        let client = &self.client;
        let outcome = deadline(limit, async { Ok(client.copy_in::<_, Bytes>(sql).await?) }).await;
        let sink = self.settle(sql, outcome).await?;
        Ok(Box::new(RawCopyIn {
            conn: self,
            sink: Box::pin(sink),
        }))
    }
}

struct RawCopyOut<'a> {
    conn: &'a mut PgConnection,
    inner: Pin<Box<PgCopyOut>>,
    done: bool,
}

impl Stream for RawCopyOut<'_> {
    type Item = Result<Vec<u8>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match ready!(this.inner.as_mut().poll_next(cx)) {
            Some(Ok(b)) => Poll::Ready(Some(Ok(b.to_vec()))),
            Some(Err(e)) => {
                this.done = true;
                let err = from_pg(&e);
                this.conn.stream_failed(&err);
                Poll::Ready(Some(Err(err)))
            }
            None => {
                this.done = true;
                Poll::Ready(None)
            }
        }
    }
}

struct RawCopyIn<'a> {
    conn: &'a mut PgConnection,
    sink: Pin<Box<CopyInSink<Bytes>>>,
}

impl RawCopyIn<'_> {
    fn failed(&mut self, e: &tokio_postgres::Error) -> Error {
        let err = from_pg(e);
        self.conn.stream_failed(&err);
        err
    }
}

#[async_trait]
impl CopyIn for RawCopyIn<'_> {
    async fn send(&mut self, data: Vec<u8>) -> Result<()> {
        match self.sink.as_mut().send(Bytes::from(data)).await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failed(&e)),
        }
    }

    async fn finish(mut self: Box<Self>) -> Result<u64> {
        match self.sink.as_mut().finish().await {
            Ok(n) => Ok(n),
            Err(e) => Err(self.failed(&e)),
        }
    }
}
