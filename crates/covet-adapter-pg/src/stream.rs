//! Row streams: on a pooled connection the stream owns, and inside a
//! transaction on a borrowed one.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use covet_core::{Columns, Result, Row};
use covet_pool::Pooled;
use futures_core::Stream;

use crate::conn::{PgConnection, PgManager, Started, convert_row};
use crate::error::from_pg;

/// Rows streamed on a connection the stream owns until its end. Dropping it
/// early returns the connection through the pool's reset, which cancels the
/// rest of the query first.
pub(crate) struct OwnedRows {
    conn: Option<Pooled<PgManager>>,
    rows: Pin<Box<tokio_postgres::RowStream>>,
    columns: Arc<Columns>,
}

impl OwnedRows {
    pub(crate) fn new(conn: Pooled<PgManager>, (rows, columns): Started) -> Self {
        OwnedRows {
            conn: Some(conn),
            rows: Box::pin(rows),
            columns,
        }
    }
}

impl Stream for OwnedRows {
    type Item = Result<Row>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Row>>> {
        let this = self.get_mut();
        if this.conn.is_none() {
            return Poll::Ready(None);
        }
        match ready!(this.rows.as_mut().poll_next(cx)) {
            Some(Ok(row)) => Poll::Ready(Some(Ok(convert_row(row, &this.columns)))),
            Some(Err(e)) => {
                let err = from_pg(&e);
                if let Some(mut conn) = this.conn.take() {
                    conn.stream_failed(&err);
                }
                Poll::Ready(Some(Err(err)))
            }
            None => {
                if let Some(mut conn) = this.conn.take() {
                    conn.stream_finished();
                }
                Poll::Ready(None)
            }
        }
    }
}

/// Rows streamed inside a transaction. Dropping it early leaves the rest of
/// the result to be read and discarded before the transaction's next
/// statement (cancelling would abort the transaction).
pub(crate) struct TxRows<'a> {
    conn: &'a mut PgConnection,
    rows: Pin<Box<tokio_postgres::RowStream>>,
    columns: Arc<Columns>,
    done: bool,
}

impl<'a> TxRows<'a> {
    pub(crate) fn new(conn: &'a mut PgConnection, (rows, columns): Started) -> Self {
        TxRows {
            conn,
            rows: Box::pin(rows),
            columns,
            done: false,
        }
    }
}

impl Stream for TxRows<'_> {
    type Item = Result<Row>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Row>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match ready!(this.rows.as_mut().poll_next(cx)) {
            Some(Ok(row)) => Poll::Ready(Some(Ok(convert_row(row, &this.columns)))),
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
