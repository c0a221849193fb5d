//! Row streams: a result read one row at a time from the socket, on a
//! pooled connection or one borrowed from a transaction.

use covet_core::{Result, Row};
use covet_pool::Pooled;

use crate::conn::{MySqlConnection, MySqlManager};
use crate::error::{from_driver, is_fatal};
use crate::exec::{Proto, drain, next_row};
use crate::types::Plan;

/// A connection a stream reads from: pooled (and boxed), or borrowed from
/// a transaction.
pub(crate) trait ConnMut: Send {
    fn conn_mut(&mut self) -> &mut MySqlConnection;
}

impl ConnMut for &mut MySqlConnection {
    fn conn_mut(&mut self) -> &mut MySqlConnection {
        self
    }
}

impl ConnMut for Pooled<MySqlManager> {
    fn conn_mut(&mut self) -> &mut MySqlConnection {
        self
    }
}

/// The state of a streamed result: the connection (pooled, or borrowed
/// from a transaction) and how to read the rows.
pub(crate) struct RowStreamState<C: ConnMut> {
    pub(crate) conn: C,
    pub(crate) proto: Proto,
    pub(crate) plan: Plan,
    pub(crate) finished: bool,
    /// Discard the connection when the stream is dropped before its end
    /// (pooled streams: draining a large remainder would hold the slot).
    /// Transactions instead drain the rest before their next statement.
    pub(crate) discard_unfinished: bool,
}

impl<C: ConnMut> Drop for RowStreamState<C> {
    fn drop(&mut self) {
        if !self.finished && self.discard_unfinished {
            self.conn.conn_mut().busy = true;
        }
    }
}

impl<C: ConnMut> RowStreamState<C> {
    /// Reads the next row; `None` at the end.
    pub(crate) async fn next(&mut self) -> Option<Result<Row>> {
        if self.finished {
            return None;
        }
        let proto = self.proto;
        let conn = self.conn.conn_mut();
        conn.busy = true;
        match next_row(&mut conn.conn, proto).await {
            Ok(Some(raw)) => {
                conn.busy = false;
                Some(Ok(self.plan.row(raw)))
            }
            Ok(None) => {
                let drained = drain(&mut conn.conn, proto).await;
                self.finished = true;
                match drained {
                    Ok(()) => {
                        conn.busy = false;
                        None
                    }
                    Err(e) => Some(Err(from_driver(e))),
                }
            }
            Err(e) => {
                self.finished = true;
                if !is_fatal(&e) {
                    conn.busy = false;
                }
                Some(Err(from_driver(e)))
            }
        }
    }
}
