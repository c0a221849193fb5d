//! Transactions: commit, rollback, drop, savepoints, streaming inside one.

use std::sync::Arc;
use std::time::Duration;

use covet_core::{Adapter, Result, Transaction, Value};
use futures_util::StreamExt;

use super::{adapter_of, count, create_users, created_at, insert_user};
use crate::Backend;
use crate::util::{ensure, poll_until, portable};

async fn tx_insert(tx: &mut (dyn Transaction + '_), a: &dyn Adapter, id: i64) -> Result<()> {
    let r = tx
        .execute(&portable(
            a.dialect(),
            "INSERT INTO users (id, name, email, age, created_at) VALUES ($1, $2, $3, $4, $5)",
            vec![
                Value::I64(id),
                Value::Text(format!("tx{id}")),
                Value::Text(format!("tx{id}@example.com")),
                Value::I32(30),
                created_at(),
            ],
        ))
        .await?;
    ensure!(
        r.rows_affected == 1,
        "insert in tx reported {}",
        r.rows_affected
    );
    Ok(())
}

async fn tx_count(tx: &mut (dyn Transaction + '_)) -> Result<i64> {
    let rows = tx.query(&"SELECT COUNT(*) FROM users".into()).await?;
    rows.rows[0].get::<i64>(0)
}

async fn ids(a: &dyn Adapter) -> Result<Vec<i64>> {
    let rows = a.query(&"SELECT id FROM users ORDER BY id".into()).await?;
    rows.iter().map(|r| r.get::<i64>(0)).collect()
}

/// A committed transaction's writes are visible to other connections; a
/// rolled-back one's are not; uncommitted writes are invisible outside.
pub async fn commit_and_rollback<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    create_users(&*b, a).await?;

    let mut tx = a.begin().await?;
    tx_insert(&mut *tx, a, 1).await?;
    ensure!(tx_count(&mut *tx).await? == 1, "the tx sees its own write");
    tx.commit().await?;
    ensure!(ids(a).await? == vec![1], "committed row visible");

    let mut tx = a.begin().await?;
    tx_insert(&mut *tx, a, 2).await?;
    tx.rollback().await?;
    ensure!(ids(a).await? == vec![1], "rolled-back row gone");

    let mut tx = a.begin_with(covet_core::TxOptions::default()).await?;
    tx_insert(&mut *tx, a, 3).await?;
    tx.commit().await?;
    ensure!(ids(a).await? == vec![1, 3], "begin_with commits too");
    Ok(())
}

/// A transaction dropped without commit is rolled back, and its connection
/// (the pool's only one) is usable again afterwards.
pub async fn dropped_transaction_rolls_back<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    create_users(&*b, a).await?;
    {
        let mut tx = a.begin().await?;
        tx_insert(&mut *tx, a, 1).await?;
        // Dropped here, mid-transaction.
    }
    // With a pool of one, this waits for the connection to be reset.
    let n = tokio::time::timeout(Duration::from_secs(10), count(a, "users")).await;
    let n = n.map_err(|_| crate::util::fail("the pool's only connection did not come back"))??;
    ensure!(n == 0, "dropped tx left {n} rows");
    insert_user(a, 2, "after", 20).await?;
    ensure!(ids(a).await? == vec![2], "connection works after the drop");
    if let Some(state) = a.pool_state() {
        let idle_again = poll_until(Duration::from_secs(5), || async {
            Ok(a.pool_state().is_some_and(|s| s.in_use == 0))
        })
        .await?;
        ensure!(idle_again, "connection not returned: {state:?}");
    }
    Ok(())
}

/// Savepoints: released ones keep their writes, rolled-back and dropped
/// ones undo theirs, and they nest.
pub async fn nested_savepoints<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    create_users(&*b, a).await?;
    let mut tx = a.begin().await?;
    tx_insert(&mut *tx, a, 1).await?;
    {
        let mut sp = tx.savepoint().await?;
        tx_insert(&mut *sp, a, 2).await?;
        sp.rollback().await?;
    }
    ensure!(
        tx_count(&mut *tx).await? == 1,
        "rolled back savepoint undone"
    );
    {
        let mut sp = tx.savepoint().await?;
        tx_insert(&mut *sp, a, 3).await?;
        sp.commit().await?;
    }
    {
        let mut outer = tx.savepoint().await?;
        tx_insert(&mut *outer, a, 4).await?;
        {
            let mut inner = outer.savepoint().await?;
            tx_insert(&mut *inner, a, 5).await?;
            // Dropped without commit: rolls back to the inner savepoint.
        }
        {
            let mut inner = outer.savepoint().await?;
            tx_insert(&mut *inner, a, 6).await?;
            inner.commit().await?;
        }
        ensure!(tx_count(&mut *outer).await? == 4, "1, 3, 4, 6 inside outer");
        outer.commit().await?;
    }
    {
        let mut sp = tx.savepoint().await?;
        tx_insert(&mut *sp, a, 7).await?;
        // Dropped: undone.
    }
    ensure!(tx_count(&mut *tx).await? == 4, "dropped savepoint undone");
    // A failed statement inside a savepoint, rolled back, leaves the
    // transaction usable (PostgreSQL would otherwise abort it).
    {
        let mut sp = tx.savepoint().await?;
        let dup = tx_insert(&mut *sp, a, 1).await;
        ensure!(dup.is_err(), "duplicate id in savepoint accepted");
        sp.rollback().await?;
    }
    tx.commit().await?;
    ensure!(
        ids(a).await? == vec![1, 3, 4, 6],
        "after commit: {:?}",
        ids(a).await?
    );
    Ok(())
}

/// `query_stream` inside a transaction sees the transaction's writes, and
/// the transaction is usable after the stream ends.
pub async fn stream_inside_transaction<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let a = &*a;
    create_users(&*b, a).await?;
    let mut tx = a.begin().await?;
    for id in 1..=50 {
        tx_insert(&mut *tx, a, id).await?;
    }
    let mut seen = Vec::new();
    {
        let mut stream = tx
            .query_stream(&"SELECT id FROM users ORDER BY id".into())
            .await?;
        while let Some(row) = stream.next().await {
            seen.push(row?.get::<i64>(0)?);
        }
    }
    ensure!(
        seen == (1..=50).collect::<Vec<_>>(),
        "streamed {} ids",
        seen.len()
    );
    {
        // Dropping a stream part way must not break the transaction.
        let mut stream = tx
            .query_stream(&"SELECT id FROM users ORDER BY id".into())
            .await?;
        let first = stream.next().await.transpose()?;
        ensure!(first.is_some(), "first row of a partial stream");
    }
    ensure!(
        tx_count(&mut *tx).await? == 50,
        "tx usable after a dropped stream"
    );
    tx.rollback().await?;
    ensure!(count(a, "users").await? == 0, "rolled back");

    // Outside a transaction too, a stream dropped early frees its connection.
    for id in 1..=20 {
        insert_user(a, id, "s", 20).await?;
    }
    for _ in 0..5 {
        let mut stream = a.query_stream(&"SELECT id FROM users".into()).await?;
        let first = stream.next().await.transpose()?;
        ensure!(first.is_some(), "a row");
    }
    ensure!(
        count(a, "users").await? == 20,
        "pool usable after dropped streams"
    );
    Ok(())
}

/// `begin_with`: every isolation level begins and commits; a read-only
/// transaction reads but refuses writes (the error is returned, not
/// swallowed), and after it the connection writes normally again.
pub async fn transaction_options<B: Backend>(b: Arc<B>) -> Result<()> {
    use covet_core::{IsolationLevel, TxOptions};
    let a = adapter_of(&b);
    let a = &*a;
    create_users(&*b, a).await?;
    insert_user(a, 1, "reader", 30).await?;
    for (i, level) in [
        IsolationLevel::ReadUncommitted,
        IsolationLevel::ReadCommitted,
        IsolationLevel::RepeatableRead,
        IsolationLevel::Serializable,
    ]
    .into_iter()
    .enumerate()
    {
        let mut tx = a
            .begin_with(TxOptions {
                isolation: Some(level),
                read_only: false,
            })
            .await?;
        tx_insert(&mut *tx, a, 10 + i as i64).await?;
        tx.commit().await?;
    }
    ensure!(count(a, "users").await? == 5, "one row per isolation level");

    let mut tx = a
        .begin_with(TxOptions {
            isolation: None,
            read_only: true,
        })
        .await?;
    ensure!(tx_count(&mut *tx).await? == 5, "a read-only tx reads");
    let write = tx_insert(&mut *tx, a, 99).await;
    ensure!(write.is_err(), "a read-only transaction accepted an INSERT");
    tx.rollback().await?;
    ensure!(
        count(a, "users").await? == 5,
        "nothing written by the read-only tx"
    );
    // The same pooled connections accept writes again.
    for id in 100..104 {
        insert_user(a, id, "writer", 40).await?;
    }
    ensure!(count(a, "users").await? == 9, "writes after a read-only tx");
    Ok(())
}
