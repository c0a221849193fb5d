//! Retry classes, budget and deadline, on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use covet_core::{Adapter, Error, ErrorKind, Layer, RetryClass, Statement, TxOptions};
use covet_resilience::retry::{RetryBudget, RetryPolicy, transaction};
use covet_resilience::testing::MockAdapter;
use covet_resilience::{RetryLayer, TimeoutLayer};
use tokio::time::Instant;

fn policy(attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(attempts)
        .backoff(Duration::from_millis(10), Duration::from_millis(100))
        .deadline(Some(Duration::from_secs(2)))
        .budget(Arc::new(RetryBudget::unlimited()))
        .build()
        .unwrap()
}

fn stack(mock: &MockAdapter, p: RetryPolicy) -> Arc<dyn Adapter> {
    RetryLayer::new(p).layer(Arc::new(mock.clone()))
}

/// A repeated bulk insert hands the inner adapter the caller's batch each
/// time: the retry layer shares it rather than copying it up front.
#[tokio::test(start_paused = true)]
async fn retried_bulk_insert_shares_the_callers_batch() {
    let mock = MockAdapter::new();
    mock.fail_next(Error::new(ErrorKind::TooManyConnections, "busy"));
    let db = stack(&mock, policy(3));
    let rows: covet_core::BulkRows = vec![vec![covet_core::Value::I64(1)]; 1000].into();
    let n = db
        .bulk_insert("t", &["id".to_owned()], rows.clone())
        .await
        .unwrap();
    assert_eq!(n, 1000);
    let caller = Arc::as_ptr(&rows).cast::<()>() as usize;
    assert_eq!(mock.bulk_batches(), vec![caller, caller]);
}

#[tokio::test(start_paused = true)]
async fn retries_reconnect_errors_then_succeeds() {
    let mock = MockAdapter::new();
    mock.fail_next(Error::new(ErrorKind::Connection, "reset"));
    mock.fail_next(Error::new(ErrorKind::TooManyConnections, "busy"));
    let db = stack(&mock, policy(3));
    db.query(&Statement::new("SELECT 1").idempotent(true))
        .await
        .unwrap();
    assert_eq!(mock.calls(), 3);

    // A write that is not idempotent: a lost connection may have lost the
    // answer rather than the statement, so by default it is not repeated.
    mock.fail_next(Error::new(ErrorKind::Connection, "reset"));
    let e = db
        .execute(&Statement::new("INSERT INTO t VALUES (1)"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection);
    assert_eq!(mock.calls(), 4);
    // Pool and overload errors never ran the statement: retried.
    mock.fail_next(Error::new(ErrorKind::TooManyConnections, "busy"));
    db.execute(&Statement::new("INSERT INTO t VALUES (2)"))
        .await
        .unwrap();
    assert_eq!(mock.calls(), 6);

    // An adapter trusted to say Reconnect only before sending.
    let trusting = RetryPolicy::builder()
        .trust_reconnect(true)
        .budget(Arc::new(RetryBudget::unlimited()))
        .build()
        .unwrap();
    let db = stack(&mock, trusting);
    mock.fail_next(Error::new(ErrorKind::Connection, "refused"));
    db.execute(&Statement::new("INSERT INTO t VALUES (3)"))
        .await
        .unwrap();
    assert_eq!(mock.calls(), 8);
    assert_eq!(
        mock.executed(),
        vec![
            "SELECT 1",
            "INSERT INTO t VALUES (2)",
            "INSERT INTO t VALUES (3)"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn never_class_is_not_retried() {
    let mock = MockAdapter::new();
    mock.fail_next(Error::new(ErrorKind::UniqueViolation, "dup"));
    let db = stack(&mock, policy(5));
    let e = db.execute(&Statement::new("INSERT")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UniqueViolation);
    assert_eq!(mock.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn ambiguous_failure_repeats_only_idempotent_statements() {
    let mock = MockAdapter::new();
    let ambiguous = || {
        Error::new(ErrorKind::Connection, "lost after send").with_retry_class(RetryClass::Ambiguous)
    };
    mock.fail_next(ambiguous());
    let db = stack(&mock, policy(5));
    let e = db
        .execute(&Statement::new("UPDATE t SET n = n + 1"))
        .await
        .unwrap_err();
    assert_eq!(e.retry_class(), RetryClass::Ambiguous);
    assert_eq!(mock.calls(), 1, "a non-idempotent write was sent twice");

    mock.fail_next(ambiguous());
    db.execute(&Statement::new("UPDATE t SET n = 5").idempotent(true))
        .await
        .unwrap();
    assert_eq!(mock.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn stops_at_max_attempts() {
    let mock = MockAdapter::new();
    mock.set_down(true);
    let db = stack(&mock, policy(4));
    let e = db
        .query(&Statement::new("SELECT 1").idempotent(true))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection);
    assert_eq!(mock.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn stops_at_the_deadline() {
    let mock = MockAdapter::new();
    mock.set_down(true);
    mock.set_delay(Duration::from_millis(300));
    let p = RetryPolicy::builder()
        .max_attempts(1000)
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .deadline(Some(Duration::from_secs(1)))
        .budget(Arc::new(RetryBudget::unlimited()))
        .build()
        .unwrap();
    let db = stack(&mock, p);
    let start = Instant::now();
    let e = db
        .query(&Statement::new("SELECT 1").idempotent(true))
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert!(took <= Duration::from_secs(1), "{took:?}");
    assert!(matches!(
        e.kind(),
        ErrorKind::Connection | ErrorKind::Timeout
    ));
    assert!(mock.calls() >= 2 && mock.calls() <= 4, "{}", mock.calls());
}

#[tokio::test(start_paused = true)]
async fn budget_is_shared_and_refills() {
    let mock = MockAdapter::new();
    mock.set_down(true);
    let budget = Arc::new(RetryBudget::new(3, 1.0));
    let p = RetryPolicy::builder()
        .max_attempts(10)
        .backoff(Duration::from_millis(1), Duration::from_millis(1))
        .budget(budget.clone())
        .build()
        .unwrap();
    // Two adapters built from clones of one policy share its budget.
    let a = stack(&mock, p.clone());
    let b = stack(&mock, p);
    let _ = a.ping().await;
    let _ = b.ping().await;
    // 2 first attempts + 3 retries in all, whichever caller spent them.
    assert_eq!(mock.calls(), 5);
    assert_eq!(budget.available(), 0);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(budget.available(), 2);
}

#[tokio::test(start_paused = true)]
async fn backoff_is_full_jitter_under_the_cap() {
    let p = policy(10);
    for retry in 1..20 {
        let w = p.backoff(retry, RetryClass::Reconnect);
        let ceiling = Duration::from_millis(10)
            .saturating_mul(1 << (retry - 1).min(20))
            .min(Duration::from_millis(100));
        assert!(w <= ceiling, "retry {retry}: {w:?} > {ceiling:?}");
    }
    let bad = RetryPolicy::builder().max_attempts(0).build().unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Config);
}

#[tokio::test(start_paused = true)]
async fn transaction_helper_reruns_on_serialization_failure() {
    let mock = MockAdapter::new();
    let p = policy(5);
    let mut runs = 0;
    let out = transaction(&mock, &p, TxOptions::default(), |tx| {
        runs += 1;
        let fail = runs < 3;
        Box::pin(async move {
            tx.execute(&Statement::new("UPDATE a SET n = n - 1"))
                .await?;
            if fail {
                return Err(Error::new(ErrorKind::Serialization, "could not serialize"));
            }
            Ok(7)
        })
    })
    .await
    .unwrap();
    assert_eq!(out, 7);
    assert_eq!(runs, 3);
    // Only the committed run's statements took effect.
    assert_eq!(
        mock.executed(),
        vec!["BEGIN", "BEGIN", "BEGIN", "UPDATE a SET n = n - 1"]
    );

    let mut runs = 0;
    let e = transaction(&mock, &p, TxOptions::default(), |_tx| {
        runs += 1;
        Box::pin(async { Err::<(), _>(Error::new(ErrorKind::UniqueViolation, "dup")) })
    })
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UniqueViolation);
    assert_eq!(runs, 1);
}

#[tokio::test(start_paused = true)]
async fn timeout_sets_statement_timeout_and_backstops() {
    let mock = MockAdapter::new();
    mock.set_delay(Duration::from_secs(30));
    let db = TimeoutLayer::new(Duration::from_millis(200))
        .grace(Duration::from_millis(100))
        .layer(Arc::new(mock.clone()));
    let start = Instant::now();
    let e = db
        .query(&Statement::new("SELECT pg_sleep(30)"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(db.default_timeout(), Some(Duration::from_millis(200)));
    // A statement's own timeout wins over the default.
    let start = Instant::now();
    let _ = db
        .query(&Statement::new("SELECT 1").timeout(Duration::from_millis(50)))
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_millis(150));
}

#[tokio::test(start_paused = true)]
async fn statement_timeout_beyond_the_deadline_does_not_extend_it() {
    let mock = MockAdapter::new();
    mock.set_delay(Duration::from_secs(30));
    let db = stack(&mock, policy(3));
    let start = Instant::now();
    let e = db
        .query(
            &Statement::new("SELECT 1")
                .idempotent(true)
                .timeout(Duration::from_secs(20)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}
