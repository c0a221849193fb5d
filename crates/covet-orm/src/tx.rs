//! Transactions as closures: commit on `Ok`, roll back on `Err` or panic,
//! nested as savepoints.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use std::sync::{Arc, Mutex};

use covet_core::{Adapter, Transaction, TxOptions};
use covet_resilience::retry::RetryPolicy;
use futures_util::FutureExt;

use crate::error::{OrmError, OrmResult};

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

/// What an attempt of a retried closure ended with that is not a database
/// error: kept aside while the retry loop (which knows only database
/// errors) unwinds, then handed back as it was.
enum Stashed {
    Err(OrmError),
    Panic(Box<dyn std::any::Any + Send>),
}

/// [`transaction`] that runs the whole closure again when it or the commit
/// fails with a serialization failure (SQLSTATE 40001) or a deadlock
/// (40P01, MySQL 1213), with `policy`'s attempts, backoff, deadline and
/// budget (covet-resilience's transaction retry). `options` sets the
/// isolation level (retries matter mostly under SERIALIZABLE).
///
/// The closure is `FnMut` because it may run more than once: it must not
/// keep effects outside the transaction from an attempt that failed. Any
/// other error (the closure's own, a unique violation, a commit whose
/// outcome is unknown) rolls back and is returned at once, unretried; a
/// panic rolls back and resumes.
///
/// ```
/// # use covet_orm::Model;
/// # use std::sync::Arc;
/// # use covet_adapter_sqlite::SqliteAdapter;
/// # use covet_core::{Adapter, TxOptions};
/// use covet_orm::{ModelExt, ddl, transaction_with_retry};
/// use covet_resilience::retry::RetryPolicy;
/// # #[derive(Model)]
/// # #[covet(table = "tags")]
/// # pub struct Tag { #[covet(primary_key, auto_increment)] pub id: i64, pub name: String }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db: Arc<dyn Adapter> = Arc::new(SqliteAdapter::connect(&"sqlite::memory:".parse()?).await?);
/// # ddl::create_table::<Tag, _>(&db).await?;
/// let policy = RetryPolicy::default();
/// let n = transaction_with_retry(&*db, &policy, TxOptions::default(), |tx| Box::pin(async move {
///     Tag { id: 0, name: "once".into() }.insert(&mut *tx).await?;
///     Ok(Tag::objects().count(&mut *tx).await?)
/// })).await?;
/// assert_eq!(n, 1);
/// # Ok(())
/// # }
/// ```
pub async fn transaction_with_retry<T, F>(
    adapter: &dyn Adapter,
    policy: &RetryPolicy,
    options: TxOptions,
    mut f: F,
) -> OrmResult<T>
where
    // Each attempt's future is boxed for any transaction lifetime, so the
    // value it yields cannot borrow: owned results only.
    T: Send + 'static,
    F: for<'t> FnMut(&'t mut (dyn Transaction + 't)) -> TxFuture<'t, T> + Send,
{
    let stash: Arc<Mutex<Option<Stashed>>> = Arc::new(Mutex::new(None));
    let result = covet_resilience::retry::transaction(adapter, policy, options, |tx| {
        let fut = f(tx);
        let stash = Arc::clone(&stash);
        Box::pin(async move {
            let keep = |s: Stashed| {
                *stash.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
                // Not retryable: the loop rolls back and returns it, and
                // the stashed outcome replaces it below.
                covet_core::Error::unsupported("the transaction closure failed")
            };
            match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(OrmError::Db(e))) => Err(e),
                Ok(Err(other)) => Err(keep(Stashed::Err(other))),
                Err(panic) => Err(keep(Stashed::Panic(panic))),
            }
        })
    })
    .await;
    match result {
        Ok(v) => Ok(v),
        Err(e) => match stash.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(Stashed::Err(orm)) => Err(orm),
            Some(Stashed::Panic(p)) => std::panic::resume_unwind(p),
            None => Err(OrmError::Db(e)),
        },
    }
}
