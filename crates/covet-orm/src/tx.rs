//! Transactions as closures: commit on `Ok`, roll back on `Err` or panic,
//! nested as savepoints.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use covet_core::{Adapter, Transaction};
use futures_util::FutureExt;

use crate::error::OrmResult;

/// The future a transaction closure returns: boxed, because it borrows the
/// transaction it is given (`|tx| Box::pin(async move { .. })`).
pub type TxFuture<'t, T> = Pin<Box<dyn Future<Output = OrmResult<T>> + Send + 't>>;

/// Runs `f` in a new transaction of `adapter`: commits when it returns
/// `Ok`, rolls back when it returns `Err` (and returns that error) or
/// panics (and then resumes the panic).
///
/// ```
/// # use covet_orm::Model;
/// # use std::sync::Arc;
/// # use covet_adapter_sqlite::SqliteAdapter;
/// # use covet_core::Adapter;
/// use covet_orm::{ModelExt, OrmError, ddl, transaction};
/// # #[derive(Model)]
/// # #[covet(table = "tags")]
/// # pub struct Tag { #[covet(primary_key, auto_increment)] pub id: i64, pub name: String }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db: Arc<dyn Adapter> = Arc::new(SqliteAdapter::connect(&"sqlite::memory:".parse()?).await?);
/// # ddl::create_table::<Tag, _>(&db).await?;
/// let id = transaction(&*db, |tx| Box::pin(async move {
///     let mut t = Tag { id: 0, name: "kept".into() };
///     t.insert(&mut *tx).await?;
///     Ok(t.id)
/// })).await?;
/// let failed: Result<(), OrmError> = transaction(&*db, |tx| Box::pin(async move {
///     Tag { id: 0, name: "rolled back".into() }.insert(&mut *tx).await?;
///     Err(OrmError::Unsupported("changed my mind".into()))
/// })).await;
/// assert!(failed.is_err());
/// assert_eq!(Tag::objects().count(&db).await?, 1);
/// # let _ = id;
/// # Ok(())
/// # }
/// ```
pub async fn transaction<A, T, F>(adapter: &A, f: F) -> OrmResult<T>
where
    A: Adapter + ?Sized,
    T: Send,
    F: for<'t> FnOnce(&'t mut (dyn Transaction + 't)) -> TxFuture<'t, T> + Send,
{
    let mut tx = adapter.begin().await?;
    let outcome = AssertUnwindSafe(f(&mut *tx)).catch_unwind().await;
    finish(tx, outcome).await
}

/// Runs `f` in a savepoint of `tx`: released when it returns `Ok`, rolled
/// back to when it returns `Err` or panics; the outer transaction goes on
/// either way.
pub async fn savepoint<T, F>(tx: &mut (dyn Transaction + '_), f: F) -> OrmResult<T>
where
    T: Send,
    F: for<'t> FnOnce(&'t mut (dyn Transaction + 't)) -> TxFuture<'t, T> + Send,
{
    let mut sp = tx.savepoint().await?;
    let outcome = AssertUnwindSafe(f(&mut *sp)).catch_unwind().await;
    finish(sp, outcome).await
}

async fn finish<T>(
    tx: Box<dyn Transaction + '_>,
    outcome: Result<OrmResult<T>, Box<dyn std::any::Any + Send>>,
) -> OrmResult<T> {
    match outcome {
        Ok(Ok(v)) => {
            tx.commit().await?;
            Ok(v)
        }
        Ok(Err(e)) => {
            // The closure's error is the one worth reporting; a failed
            // rollback leaves the connection to be discarded by the adapter.
            let _ = tx.rollback().await;
            Err(e)
        }
        Err(panic) => {
            let _ = tx.rollback().await;
            std::panic::resume_unwind(panic)
        }
    }
}
