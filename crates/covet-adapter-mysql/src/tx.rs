//! Transactions and savepoints: the `covet_core::Transaction` impls over
//! one pooled connection.

use std::sync::Arc;

use async_trait::async_trait;
use covet_core::{BulkRows, Engine, ExecResult, Result, Rows, Statement, Transaction, TxRowStream};
use covet_pool::Pooled;

use crate::adapter::Shared;
use crate::bulk::bulk_insert_on;
use crate::conn::{MySqlConnection, MySqlManager};
use crate::error::commit_error;
use crate::exec::{
    annotate, broken_tx, guarded_op, prepare, run_execute, run_query, run_start_stream, run_text,
};
use crate::stream::RowStreamState;

/// An open transaction holding one pooled connection. Dropped without
/// commit, the pool rolls it back before the connection is reused.
pub(crate) struct MySqlTransaction {
    pub(crate) conn: Pooled<MySqlManager>,
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for MySqlTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlTransaction")
            .field("connection_id", &self.conn.id)
            .finish()
    }
}

/// A savepoint inside a [`MySqlTransaction`] (or another savepoint).
/// Dropped without commit, it is rolled back before the enclosing
/// transaction's next statement.
pub(crate) struct MySqlSavepoint<'a> {
    conn: &'a mut MySqlConnection,
    shared: Arc<Shared>,
    depth: u32,
    done: bool,
}

impl std::fmt::Debug for MySqlSavepoint<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlSavepoint")
            .field("depth", &self.depth)
            .finish()
    }
}

impl Drop for MySqlSavepoint<'_> {
    fn drop(&mut self) {
        if !self.done {
            let pending = self
                .conn
                .pending_sp_rollback
                .map_or(self.depth, |p| p.min(self.depth));
            self.conn.pending_sp_rollback = Some(pending);
            self.conn.sp_depth = self.depth - 1;
        }
    }
}

/// Before any statement in a transaction: refuse a broken connection and
/// apply the rollback of a savepoint that was dropped.
async fn tx_ready(shared: &Shared, conn: &mut MySqlConnection) -> Result<()> {
    if conn.busy || conn.conn.is_disconnected() {
        return Err(broken_tx());
    }
    if let Some(depth) = conn.pending_sp_rollback {
        let timeout = shared.default_timeout();
        let sql = format!("ROLLBACK TO SAVEPOINT covet_sp_{depth}");
        guarded_op!(&shared.canceller, &mut *conn, timeout, |c| run_text(
            c, &sql
        ))?;
        let sql = format!("RELEASE SAVEPOINT covet_sp_{depth}");
        guarded_op!(&shared.canceller, &mut *conn, timeout, |c| run_text(
            c, &sql
        ))?;
        conn.pending_sp_rollback = None;
    }
    Ok(())
}

async fn tx_execute(
    shared: &Shared,
    conn: &mut MySqlConnection,
    stmt: &Statement,
) -> Result<ExecResult> {
    tx_ready(shared, conn).await?;
    let prepared = prepare(stmt)?;
    let r = guarded_op!(&shared.canceller, conn, shared.timeout_for(stmt), |c| {
        run_execute(c, &prepared.sql, prepared.params)
    });
    annotate(r, stmt.params())
}

async fn tx_query(shared: &Shared, conn: &mut MySqlConnection, stmt: &Statement) -> Result<Rows> {
    tx_ready(shared, conn).await?;
    let prepared = prepare(stmt)?;
    guarded_op!(&shared.canceller, conn, shared.timeout_for(stmt), |c, p| {
        run_query(c, p, &prepared.sql, prepared.params)
    })
}

async fn tx_stream<'a>(
    shared: &Shared,
    conn: &'a mut MySqlConnection,
    stmt: &Statement,
) -> Result<TxRowStream<'a>> {
    tx_ready(shared, conn).await?;
    let prepared = prepare(stmt)?;
    let (proto, plan) = guarded_op!(
        &shared.canceller,
        &mut *conn,
        shared.timeout_for(stmt),
        |c, p| { run_start_stream(c, p, &prepared.sql, prepared.params) }
    )?;
    let state = RowStreamState {
        conn,
        proto,
        plan,
        finished: false,
        discard_unfinished: false,
    };
    Ok(Box::pin(futures_util::stream::unfold(
        state,
        |mut st| async move { st.next().await.map(|item| (item, st)) },
    )))
}

async fn tx_savepoint<'a>(
    shared: &Arc<Shared>,
    conn: &'a mut MySqlConnection,
) -> Result<Box<dyn Transaction + 'a>> {
    tx_ready(shared, conn).await?;
    let depth = conn.sp_depth + 1;
    let sql = format!("SAVEPOINT covet_sp_{depth}");
    guarded_op!(
        &shared.canceller,
        &mut *conn,
        shared.default_timeout(),
        |c| { run_text(c, &sql) }
    )?;
    conn.sp_depth = depth;
    Ok(Box::new(MySqlSavepoint {
        conn,
        shared: Arc::clone(shared),
        depth,
        done: false,
    }))
}

async fn tx_bulk(
    shared: &Shared,
    conn: &mut MySqlConnection,
    table: &str,
    columns: &[String],
    rows: BulkRows,
) -> Result<u64> {
    tx_ready(shared, conn).await?;
    bulk_insert_on(shared, conn, table, columns, rows).await
}

#[async_trait]
impl Transaction for MySqlTransaction {
    fn engine(&self) -> Engine {
        Engine::MySql
    }

    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        tx_execute(&self.shared, &mut self.conn, stmt).await
    }

    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        tx_query(&self.shared, &mut self.conn, stmt).await
    }

    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        tx_stream(&self.shared, &mut self.conn, stmt).await
    }

    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: BulkRows,
    ) -> Result<u64> {
        tx_bulk(&self.shared, &mut self.conn, table, columns, rows).await
    }

    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        tx_savepoint(&self.shared, &mut self.conn).await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        let this = &mut *self;
        tx_ready(&this.shared, &mut this.conn).await?;
        guarded_op!(
            &this.shared.canceller,
            &mut *this.conn,
            this.shared.default_timeout(),
            |c| run_text(c, "COMMIT")
        )
        .map_err(commit_error)?;
        this.conn.in_tx = false;
        this.conn.sp_depth = 0;
        Ok(())
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        let this = &mut *self;
        if this.conn.busy || this.conn.conn.is_disconnected() {
            // The pool discards this connection; the server rolls back
            // when the session ends.
            return Ok(());
        }
        guarded_op!(
            &this.shared.canceller,
            &mut *this.conn,
            this.shared.default_timeout(),
            |c| run_text(c, "ROLLBACK")
        )?;
        this.conn.in_tx = false;
        this.conn.sp_depth = 0;
        this.conn.pending_sp_rollback = None;
        Ok(())
    }
}

#[async_trait]
impl Transaction for MySqlSavepoint<'_> {
    fn engine(&self) -> Engine {
        Engine::MySql
    }

    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        tx_execute(&self.shared, self.conn, stmt).await
    }

    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        tx_query(&self.shared, self.conn, stmt).await
    }

    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        tx_stream(&self.shared, self.conn, stmt).await
    }

    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: BulkRows,
    ) -> Result<u64> {
        tx_bulk(&self.shared, self.conn, table, columns, rows).await
    }

    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        tx_savepoint(&self.shared, self.conn).await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        let this = &mut *self;
        tx_ready(&this.shared, this.conn).await?;
        let sql = format!("RELEASE SAVEPOINT covet_sp_{}", this.depth);
        guarded_op!(
            &this.shared.canceller,
            &mut *this.conn,
            this.shared.default_timeout(),
            |c| run_text(c, &sql)
        )?;
        this.conn.sp_depth = this.depth - 1;
        this.done = true;
        Ok(())
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        let this = &mut *self;
        // Rolling back to this savepoint also undoes any dropped inner one.
        if this.conn.busy || this.conn.conn.is_disconnected() {
            return Err(broken_tx());
        }
        let timeout = this.shared.default_timeout();
        let sql = format!("ROLLBACK TO SAVEPOINT covet_sp_{}", this.depth);
        guarded_op!(&this.shared.canceller, &mut *this.conn, timeout, |c| {
            run_text(c, &sql)
        })?;
        let sql = format!("RELEASE SAVEPOINT covet_sp_{}", this.depth);
        guarded_op!(&this.shared.canceller, &mut *this.conn, timeout, |c| {
            run_text(c, &sql)
        })?;
        this.conn.pending_sp_rollback = None;
        this.conn.sp_depth = this.depth - 1;
        this.done = true;
        Ok(())
    }
}
