//! A backup taken while writers move money between accounts restores to
//! the invariant total: every table is read from one snapshot.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use covet_backup::*;
use covet_core::{Adapter, Statement, Value};
use support::db::{Adapters, Rng, unique};
use support::suite::{Place, connect};

/// Rows in each of the two tables money moves between: the export reads
/// them with separate statements, so only a shared snapshot keeps the sum.
const ACCOUNTS: i64 = 10_000;
const START: i64 = 1_000;

async fn transfers(a: Arc<dyn Adapter>, stop: Arc<AtomicBool>, done: Arc<AtomicU64>, seed: u64) {
    let mut rng = Rng::new(seed);
    let d = a.dialect();
    let sql_a = d
        .rewrite_placeholders("UPDATE accounts SET balance = balance + $1 WHERE id = $2")
        .into_owned();
    let sql_b = d
        .rewrite_placeholders("UPDATE savings SET balance = balance + $1 WHERE id = $2")
        .into_owned();
    while !stop.load(Ordering::Relaxed) {
        let from = rng.range(1, ACCOUNTS as u64) as i64;
        let to = rng.range(1, ACCOUNTS as u64) as i64;
        let mut amount = rng.range(1, 50) as i64;
        if rng.next() & 1 == 0 {
            amount = -amount;
        }
        let Ok(mut tx) = a.begin().await else {
            continue;
        };
        let ok = tx
            .execute(&Statement::new(sql_a.clone()).bind(-amount).bind(from))
            .await
            .is_ok()
            && tx
                .execute(&Statement::new(sql_b.clone()).bind(amount).bind(to))
                .await
                .is_ok();
        // Deadlocks and busy errors just lose that transfer; the total
        // is preserved either way.
        if ok && tx.commit().await.is_ok() {
            done.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn total(a: &dyn Adapter) -> i64 {
    sum_of(a, "accounts").await + sum_of(a, "savings").await
}

async fn sum_of(a: &dyn Adapter, table: &str) -> i64 {
    let r = a
        .query(&Statement::new(format!("SELECT SUM(balance) FROM {table}")))
        .await
        .unwrap();
    // SUM is NUMERIC on PostgreSQL and DECIMAL on MySQL.
    match r.rows[0].value(0).unwrap() {
        Value::Decimal(d) => d.as_str().split('.').next().unwrap().parse().unwrap(),
        _ => r.rows[0].get::<i64>(0).unwrap(),
    }
}

async fn consistent_under_writes(place: Place) {
    let name = unique("covet_cons");
    let url = place.create(&name).await;
    let a = connect(&url).await;
    for t in ["accounts", "savings"] {
        a.execute(&Statement::new(format!(
            "CREATE TABLE {t} (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)"
        )))
        .await
        .unwrap();
        let rows: Vec<_> = (1..=ACCOUNTS)
            .map(|i| vec![Value::I64(i), Value::I64(START)])
            .collect();
        a.bulk_insert(t, &["id".into(), "balance".into()], rows.into())
            .await
            .unwrap();
    }
    support::db::load_workload(a.as_ref(), 200).await;

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..2)
        .map(|i| tokio::spawn(transfers(a.clone(), stop.clone(), done.clone(), 7 + i)))
        .collect();
    // Wait until the writers are demonstrably running.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while done.load(Ordering::Relaxed) < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "writers made no progress"
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before = done.load(Ordering::Relaxed);
    let sink = MemorySink::new();
    let mut opts = CreateOptions::new(WriteOptions {
        compression: Compression::Zstd3,
        encryption: Encryption::None,
        chunk_size: 8 << 10,
    });
    opts.parallelism = 2;
    let entry = create_backup(a.clone(), &name, &sink, opts).await.unwrap();
    let during = done.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(during > 0, "no transfer committed while the backup ran");
    assert_eq!(total(a.as_ref()).await, 2 * ACCOUNTS * START);

    let target = format!("{name}_r");
    let turl = place.url(&target);
    restore(
        &sink,
        &entry.name,
        &turl,
        &Adapters,
        &RestoreOptions::default(),
    )
    .await
    .unwrap();
    let t = connect(&turl).await;
    assert_eq!(
        total(t.as_ref()).await,
        2 * ACCOUNTS * START,
        "restored total differs"
    );
    eprintln!("{during} transfers committed during the backup");
    t.close().await;
    a.close().await;
    place.drop(&name).await;
    place.drop(&target).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_snapshot_is_consistent() {
    let Some(s) = support::db::server_url("COVET_PG_URL") else {
        return;
    };
    consistent_under_writes(Place::Server(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_snapshot_is_consistent() {
    let Some(s) = support::db::server_url("COVET_MYSQL_URL") else {
        return;
    };
    consistent_under_writes(Place::Server(s)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_snapshot_is_consistent() {
    consistent_under_writes(Place::Sqlite(tempfile::tempdir().unwrap())).await;
}
