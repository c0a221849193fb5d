//! Where ORM statements run: [`Executor`], implemented for any adapter
//! (`&A`, `&Arc<dyn Adapter>`, `&dyn Adapter`), for a transaction
//! (`&mut dyn Transaction`), and for [`Db`], which also knows the server's
//! capabilities (MariaDB's `INSERT ... RETURNING`).

use std::sync::Arc;

use async_trait::async_trait;
use covet_core::{Adapter, Dialect, Engine, ExecResult, Result, Rows, Statement, Transaction};

/// Something that runs statements: an adapter, a transaction, or a [`Db`].
///
/// Query methods take an executor by value; references to adapters are
/// `Copy`, and a transaction is passed as `&mut *tx` each time.
#[async_trait]
pub trait Executor: Send {
    /// The dialect statements are generated for.
    fn dialect(&self) -> Dialect;

    /// Whether `INSERT ... RETURNING` may be used. PostgreSQL and SQLite
    /// (the bundled library is newer than 3.35) have it; MySQL does not,
    /// so the generated key comes from `last_insert_id` there unless a
    /// [`Db`] found MariaDB 10.5 or newer.
    fn insert_returning(&self) -> bool {
        !matches!(self.dialect().engine, Engine::MySql)
    }

    /// Runs a statement without rows.
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult>;

    /// Runs a query and reads its rows.
    async fn query(&mut self, stmt: &Statement) -> Result<Rows>;

    /// Runs a query that only reads, for an executor that may send reads
    /// elsewhere (a [`Db`] given a replica reader with [`Db::with_reader`]).
    /// QuerySet reads call this unless told
    /// [`using_primary`](crate::QuerySet::using_primary); writes (`INSERT
    /// ... RETURNING` included) call [`Executor::query`]. Defaults to
    /// [`Executor::query`].
    async fn read(&mut self, stmt: &Statement) -> Result<Rows> {
        self.query(stmt).await
    }
}

/// A QuerySet read: on the executor's reader, and marked
/// [read-only](Statement::read_only) so that an adapter that is itself a
/// router sends it to a replica, unless `primary` (the QuerySet's
/// [`using_primary`](crate::QuerySet::using_primary)).
pub(crate) async fn read_rows<E: Executor>(
    ex: &mut E,
    primary: bool,
    stmt: Statement,
) -> Result<Rows> {
    if primary {
        ex.query(&stmt).await
    } else {
        ex.read(&stmt.read_only(true)).await
    }
}

#[async_trait]
impl<A: Adapter + ?Sized> Executor for &A {
    fn dialect(&self) -> Dialect {
        Adapter::dialect(*self)
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        Adapter::execute(*self, stmt).await
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        Adapter::query(*self, stmt).await
    }
}

/// Lets one executor serve several calls (`qs.get(&mut ex)`, then
/// `m.insert(&mut ex)`), as the ORM's own multi-statement methods do.
#[async_trait]
impl<E: Executor + ?Sized> Executor for &mut E {
    fn dialect(&self) -> Dialect {
        (**self).dialect()
    }
    fn insert_returning(&self) -> bool {
        (**self).insert_returning()
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        (**self).execute(stmt).await
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        (**self).query(stmt).await
    }
    async fn read(&mut self, stmt: &Statement) -> Result<Rows> {
        (**self).read(stmt).await
    }
}

#[async_trait]
impl Executor for &mut (dyn Transaction + '_) {
    fn dialect(&self) -> Dialect {
        Transaction::engine(&**self).dialect()
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        Transaction::execute(&mut **self, stmt).await
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        Transaction::query(&mut **self, stmt).await
    }
}

/// An adapter plus what the ORM learned about its server once, at
/// [`Db::new`]: today whether `INSERT ... RETURNING` is available on a
/// MySQL-protocol server (MariaDB >= 10.5).
#[derive(Clone)]
pub struct Db {
    adapter: Arc<dyn Adapter>,
    reader: Option<Arc<dyn Adapter>>,
    returning: bool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("engine", &self.adapter.engine())
            .field("insert_returning", &self.returning)
            .finish()
    }
}

impl Db {
    /// Wraps an adapter, asking the server's version when the engine is
    /// MySQL (one statement, once).
    pub async fn new(adapter: Arc<dyn Adapter>) -> Result<Self> {
        let returning = match adapter.engine() {
            Engine::MySql => mariadb_returning(&adapter.server_version().await?),
            _ => true,
        };
        Ok(Db {
            adapter,
            reader: None,
            returning,
        })
    }

    /// Sends QuerySet reads to `reader` (a read-replica view such as
    /// covet-router's `Router::reader()`), unless a QuerySet is told
    /// [`using_primary`](crate::QuerySet::using_primary); writes and
    /// transactions stay on the main adapter.
    #[must_use]
    pub fn with_reader(mut self, reader: Arc<dyn Adapter>) -> Self {
        self.reader = Some(reader);
        self
    }

    /// The adapter.
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        &self.adapter
    }

    /// An executor over a transaction that keeps this database's
    /// capabilities.
    pub fn on<'a>(&self, tx: &'a mut (dyn Transaction + 'a)) -> TxExecutor<'a> {
        TxExecutor {
            tx,
            returning: self.returning,
        }
    }
}

/// Whether a MySQL-protocol version string is MariaDB 10.5 or newer.
pub(crate) fn mariadb_returning(version: &str) -> bool {
    if !version.to_ascii_lowercase().contains("mariadb") {
        return false;
    }
    // "10.11.6-MariaDB-0+deb12u1", or "5.5.5-10.11.6-MariaDB" from old
    // clients that see the replication-compatibility prefix.
    let v = version.strip_prefix("5.5.5-").unwrap_or(version);
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (10, 5)
}

#[async_trait]
impl Executor for &Db {
    fn dialect(&self) -> Dialect {
        self.adapter.dialect()
    }
    fn insert_returning(&self) -> bool {
        self.returning
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        self.adapter.execute(stmt).await
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        self.adapter.query(stmt).await
    }
    async fn read(&mut self, stmt: &Statement) -> Result<Rows> {
        self.reader
            .as_ref()
            .unwrap_or(&self.adapter)
            .query(stmt)
            .await
    }
}

/// A transaction with the capabilities of the [`Db`] it came from.
pub struct TxExecutor<'a> {
    tx: &'a mut (dyn Transaction + 'a),
    returning: bool,
}

impl std::fmt::Debug for TxExecutor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxExecutor")
            .field("engine", &self.tx.engine())
            .finish()
    }
}

#[async_trait]
impl Executor for &mut TxExecutor<'_> {
    fn dialect(&self) -> Dialect {
        self.tx.engine().dialect()
    }
    fn insert_returning(&self) -> bool {
        self.returning
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        self.tx.execute(stmt).await
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        self.tx.query(stmt).await
    }
}

#[cfg(test)]
mod tests {
    use super::mariadb_returning;

    #[test]
    fn mariadb_version_detection() {
        assert!(mariadb_returning("10.11.6-MariaDB-0+deb12u1"));
        assert!(mariadb_returning("5.5.5-10.5.0-MariaDB"));
        assert!(!mariadb_returning("10.4.30-MariaDB"));
        assert!(!mariadb_returning("8.0.36"));
    }
}
