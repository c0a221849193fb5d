//! Transactions: commit, rollback, drop-without-commit, nested savepoints,
//! isolation and read-only options.

mod support;

use covet_core::{Adapter, ErrorKind, IsolationLevel, Statement, TxOptions};
use futures_util::StreamExt;
use support::{TestDb, server_url};

async fn ids(a: &impl Adapter) -> Vec<i64> {
    a.query(&Statement::new("SELECT id FROM t ORDER BY id"))
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<i64>(0).unwrap())
        .collect()
}

fn insert(id: i64) -> Statement {
    Statement::new("INSERT INTO t (id) VALUES ($1)").bind(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_rollback_and_drop() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "1")]).await;
    a.execute(&Statement::new(
        "CREATE TABLE t (id BIGINT PRIMARY KEY) ENGINE=InnoDB",
    ))
    .await
    .unwrap();

    let mut tx = a.begin().await.unwrap();
    tx.execute(&insert(1)).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = a.begin().await.unwrap();
    tx.execute(&insert(2)).await.unwrap();
    tx.rollback().await.unwrap();

    // Dropped without commit: rolled back before the (only) connection is
    // reused.
    let mut tx = a.begin().await.unwrap();
    tx.execute(&insert(3)).await.unwrap();
    drop(tx);
    assert_eq!(ids(&a).await, [1]);
    // The reset connection is not left inside a transaction.
    a.execute(&insert(4)).await.unwrap();
    let other = db.adapter(&[]).await;
    assert_eq!(ids(&other).await, [1, 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_savepoints() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "1")]).await;
    a.execute(&Statement::new(
        "CREATE TABLE t (id BIGINT PRIMARY KEY) ENGINE=InnoDB",
    ))
    .await
    .unwrap();

    let mut tx = a.begin().await.unwrap();
    tx.execute(&insert(1)).await.unwrap();
    {
        let mut sp1 = tx.savepoint().await.unwrap();
        sp1.execute(&insert(2)).await.unwrap();
        {
            let mut sp2 = sp1.savepoint().await.unwrap();
            sp2.execute(&insert(3)).await.unwrap();
            sp2.rollback().await.unwrap();
        }
        {
            let mut sp2 = sp1.savepoint().await.unwrap();
            sp2.execute(&insert(4)).await.unwrap();
            sp2.commit().await.unwrap();
        }
        {
            // Dropped: rolled back before the next statement.
            let mut sp2 = sp1.savepoint().await.unwrap();
            sp2.execute(&insert(5)).await.unwrap();
            let mut sp3 = sp2.savepoint().await.unwrap();
            sp3.execute(&insert(6)).await.unwrap();
        }
        sp1.execute(&insert(7)).await.unwrap();
        sp1.commit().await.unwrap();
    }
    {
        let mut sp = tx.savepoint().await.unwrap();
        sp.execute(&insert(8)).await.unwrap();
        // Dropped right before commit: its work must not be committed.
    }
    tx.commit().await.unwrap();
    assert_eq!(ids(&a).await, [1, 2, 4, 7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_and_streams_inside_a_transaction() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "2")]).await;
    a.execute(&Statement::new(
        "CREATE TABLE t (id BIGINT PRIMARY KEY) ENGINE=InnoDB",
    ))
    .await
    .unwrap();
    for i in 1..=5 {
        a.execute(&insert(i)).await.unwrap();
    }
    let mut tx = a
        .begin_with(TxOptions {
            isolation: Some(IsolationLevel::Serializable),
            read_only: true,
        })
        .await
        .unwrap();
    let e = tx.execute(&insert(9)).await.unwrap_err();
    // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    assert_eq!(e.code(), Some(covet_core::ServerCode::MySql(1792)), "{e:?}");
    // A stream inside the transaction, dropped half way: the transaction
    // goes on (the rest of the result is drained first).
    {
        let mut s = tx
            .query_stream(&Statement::new("SELECT id FROM t ORDER BY id"))
            .await
            .unwrap();
        assert_eq!(s.next().await.unwrap().unwrap().get::<i64>(0).unwrap(), 1);
    }
    let mut s = tx
        .query_stream(&Statement::new("SELECT id FROM t ORDER BY id"))
        .await
        .unwrap();
    let mut seen = Vec::new();
    while let Some(r) = s.next().await {
        seen.push(r.unwrap().get::<i64>(0).unwrap());
    }
    drop(s);
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    tx.commit().await.unwrap();

    // A syntax error inside a transaction leaves it usable.
    let mut tx = a.begin().await.unwrap();
    let e = tx.execute(&Statement::new("SELEC 1")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Syntax);
    tx.execute(&insert(6)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(ids(&a).await, [1, 2, 3, 4, 5, 6]);
}
