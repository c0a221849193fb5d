//! The [`Transaction`] implementations: a transaction on one pooled
//! connection, and savepoints nested in it.

use async_trait::async_trait;
use covet_core::{
    BulkRows, CopyIn, CopyOutStream, Engine, Error, ErrorKind, ExecResult, Result, Rows,
    ServerCode, Statement, Transaction, TxRowStream,
};
use covet_pool::Pooled;

use crate::conn::{PgConnection, PgManager};
use crate::error::during_commit;
use crate::stream::TxRows;

async fn tx_query_stream<'a>(
    conn: &'a mut PgConnection,
    stmt: &Statement,
) -> Result<TxRowStream<'a>> {
    conn.flush_deferred().await?;
    let started = conn.start_stream(stmt).await?;
    Ok(Box::pin(TxRows::new(conn, started)))
}

async fn open_savepoint(conn: &mut PgConnection) -> Result<Box<dyn Transaction + '_>> {
    conn.flush_deferred().await?;
    let name = conn.next_savepoint();
    conn.simple(&format!("SAVEPOINT {name}")).await?;
    Ok(Box::new(PgSavepoint {
        conn,
        name,
        done: false,
    }))
}

fn aborted_error() -> Error {
    let mut e = Error::new(
        ErrorKind::Database,
        "the transaction was rolled back because a statement in it failed",
    );
    if let Some(code) = ServerCode::sqlstate("25P02") {
        e = e.with_code(code);
    }
    e
}

/// An open transaction on one pooled connection. Dropped without commit, it
/// is rolled back by the pool's reset before the connection is reused.
pub(crate) struct PgTransaction {
    pub(crate) conn: Pooled<PgManager>,
}

#[async_trait]
impl Transaction for PgTransaction {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        self.conn.flush_deferred().await?;
        self.conn.execute(stmt).await
    }

    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        self.conn.flush_deferred().await?;
        self.conn.query(stmt).await
    }

    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        tx_query_stream(&mut self.conn, stmt).await
    }

    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: BulkRows,
    ) -> Result<u64> {
        self.conn.flush_deferred().await?;
        self.conn.copy_in(table, columns, &rows).await
    }

    async fn copy_out(&mut self, sql: &str) -> Result<CopyOutStream<'_>> {
        self.conn.raw_copy_out(sql).await
    }

    async fn copy_in(&mut self, sql: &str) -> Result<Box<dyn CopyIn + '_>> {
        self.conn.raw_copy_in(sql).await
    }

    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        open_savepoint(&mut self.conn).await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        let conn = &mut *self.conn;
        conn.flush_deferred().await?;
        if conn.tx_aborted {
            conn.clear_deferred();
            conn.simple("ROLLBACK").await?;
            conn.in_tx = false;
            conn.tx_aborted = false;
            return Err(aborted_error());
        }
        match conn.simple("COMMIT").await {
            Ok(()) => {
                conn.in_tx = false;
                Ok(())
            }
            Err(e) => {
                if e.code().is_some() {
                    // The server answered: the transaction is over.
                    conn.in_tx = false;
                    conn.tx_aborted = false;
                }
                Err(during_commit(e))
            }
        }
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        let conn = &mut *self.conn;
        conn.clear_deferred();
        conn.simple("ROLLBACK").await?;
        conn.in_tx = false;
        conn.tx_aborted = false;
        Ok(())
    }
}

/// A savepoint inside a transaction. Dropped without commit, it is rolled
/// back to before the transaction's next statement.
struct PgSavepoint<'a> {
    conn: &'a mut PgConnection,
    name: String,
    done: bool,
}

impl Drop for PgSavepoint<'_> {
    fn drop(&mut self) {
        if !self.done {
            let name = &self.name;
            self.conn.defer(format!(
                "ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"
            ));
        }
    }
}

#[async_trait]
impl Transaction for PgSavepoint<'_> {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        self.conn.flush_deferred().await?;
        self.conn.execute(stmt).await
    }

    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        self.conn.flush_deferred().await?;
        self.conn.query(stmt).await
    }

    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        tx_query_stream(self.conn, stmt).await
    }

    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: BulkRows,
    ) -> Result<u64> {
        self.conn.flush_deferred().await?;
        self.conn.copy_in(table, columns, &rows).await
    }

    async fn copy_out(&mut self, sql: &str) -> Result<CopyOutStream<'_>> {
        self.conn.raw_copy_out(sql).await
    }

    async fn copy_in(&mut self, sql: &str) -> Result<Box<dyn CopyIn + '_>> {
        self.conn.raw_copy_in(sql).await
    }

    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        open_savepoint(self.conn).await
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.flush_deferred().await?;
        let sql = format!("RELEASE SAVEPOINT {}", self.name);
        self.conn.simple(&sql).await?;
        self.done = true;
        Ok(())
    }

    async fn rollback(mut self: Box<Self>) -> Result<()> {
        // Savepoints nested in this one are undone by rolling back to it.
        self.conn.clear_deferred();
        let name = &self.name;
        let sql = format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}");
        self.conn.simple(&sql).await?;
        self.conn.tx_aborted = false;
        self.done = true;
        Ok(())
    }
}
