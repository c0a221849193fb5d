//! The resilience layers see statements inside transactions and
//! savepoints: the breaker guards and counts them, the timeout bounds
//! them, retry passes them through.

use std::sync::Arc;
use std::time::Duration;

use covet_core::{Adapter, Error, ErrorKind, Layer, Statement, Transaction};
use covet_resilience::breaker::{Breaker, BreakerState, CircuitBreaker};
use covet_resilience::testing::MockAdapter;
use covet_resilience::{BreakerLayer, ManualClock, RetryLayer, RetryPolicy, TimeoutLayer};

fn breaker(failures: u32) -> Arc<CircuitBreaker> {
    Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(failures)
            .open_jitter(0.0)
            .clock(Arc::new(ManualClock::default()))
            .build()
            .unwrap(),
    )
}

/// An outage error of a statement in a transaction (`savepoint` false) or
/// in a savepoint of it opens a one-failure breaker, and then the next
/// statement there is refused without reaching the adapter.
async fn breaker_in(savepoint: bool) {
    let mock = MockAdapter::new();
    let b = breaker(1);
    let db = BreakerLayer::new(b.clone()).layer(Arc::new(mock.clone()));
    let q = Statement::new("SELECT 1");
    let mut tx = db.begin().await.unwrap();
    let mut sp;
    let t: &mut dyn Transaction = if savepoint {
        sp = tx.savepoint().await.unwrap();
        &mut *sp
    } else {
        &mut *tx
    };
    mock.fail_next(Error::new(ErrorKind::Connection, "lost"));
    assert_eq!(t.query(&q).await.unwrap_err().kind(), ErrorKind::Connection);
    assert_eq!(
        b.state(),
        BreakerState::Open,
        "the outage error was not counted"
    );
    let before = mock.calls();
    assert_eq!(
        t.execute(&q).await.unwrap_err().kind(),
        ErrorKind::CircuitOpen,
        "a statement passed an open breaker"
    );
    let refused = t.query_stream(&q).await.err().map(|e| e.kind());
    assert_eq!(refused, Some(ErrorKind::CircuitOpen));
    assert_eq!(mock.calls(), before, "a refused call reached the adapter");
}

#[tokio::test(start_paused = true)]
async fn breaker_guards_and_counts_statements_in_a_transaction() {
    breaker_in(false).await;
}

#[tokio::test(start_paused = true)]
async fn breaker_guards_and_counts_statements_in_a_savepoint() {
    breaker_in(true).await;
}

/// Rolling back is never refused: it gives the connection back.
#[tokio::test(start_paused = true)]
async fn an_open_breaker_lets_rollbacks_through() {
    let mock = MockAdapter::new();
    let b = breaker(1);
    let db = BreakerLayer::new(b.clone()).layer(Arc::new(mock.clone()));
    let mut tx = db.begin().await.unwrap();
    let mut sp = tx.savepoint().await.unwrap();
    mock.fail_next(Error::new(ErrorKind::Connection, "lost"));
    assert!(sp.query(&Statement::new("SELECT 1")).await.is_err());
    assert_eq!(b.state(), BreakerState::Open);
    sp.rollback().await.unwrap();
    tx.rollback().await.unwrap();
}

/// A statement in a transaction and in a savepoint gets the layer's default
/// timeout and is cut off by the backstop.
#[tokio::test(start_paused = true)]
async fn timeout_bounds_statements_in_transactions_and_savepoints() {
    let mock = MockAdapter::new();
    let db = TimeoutLayer::new(Duration::from_millis(100))
        .grace(Duration::from_millis(50))
        .layer(Arc::new(mock.clone()));
    let q = Statement::new("SELECT 1");

    let mut tx = db.begin().await.unwrap();
    mock.set_delay(Duration::from_secs(10));
    let e = tx.query(&q).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    mock.set_delay(Duration::ZERO);
    let mut sp = tx.savepoint().await.unwrap();
    mock.set_delay(Duration::from_secs(10));
    let e = sp.execute(&q).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    // Its own timeout wins over the default.
    let own = Statement::new("SELECT 2").timeout(Duration::from_secs(20));
    mock.set_delay(Duration::from_secs(15));
    sp.query(&own).await.unwrap();
}

/// Inside a transaction retry passes statements through: a failed
/// statement is tried once, whatever its class.
#[tokio::test(start_paused = true)]
async fn retry_does_not_repeat_statements_inside_a_transaction() {
    let mock = MockAdapter::new();
    let db = RetryLayer::new(RetryPolicy::builder().max_attempts(5).build().unwrap())
        .layer(Arc::new(mock.clone()));
    let q = Statement::new("SELECT 1").idempotent(true);
    let mut tx: Box<dyn Transaction> = db.begin().await.unwrap();
    let before = mock.calls();
    mock.fail_next(Error::new(ErrorKind::Serialization, "40001"));
    assert!(tx.query(&q).await.is_err());
    let mut sp = tx.savepoint().await.unwrap();
    let before_sp = mock.calls();
    mock.fail_next(Error::new(ErrorKind::Serialization, "40001"));
    assert!(sp.query(&q).await.is_err());
    assert_eq!(mock.calls() - before_sp, 1, "a statement was repeated");
    drop(sp);
    // The failed query, the savepoint, the failed query in it.
    assert_eq!(mock.calls() - before, 3, "a statement was repeated");
    // Outside a transaction the same failure is retried.
    let before = mock.calls();
    mock.fail_next(Error::new(ErrorKind::Serialization, "40001"));
    db.query(&q).await.unwrap();
    assert_eq!(mock.calls() - before, 2);
}

/// Remembers the address of each statement it is handed, and reports a
/// default timeout of its own.
#[derive(Default)]
struct Addresses {
    default: Option<Duration>,
    seen: std::sync::Mutex<Vec<usize>>,
}

impl covet_core::Intercept for Addresses {
    fn around<'a, T: covet_core::Reply + 'a>(
        &'a self,
        call: covet_core::Call<'a>,
        fut: impl std::future::Future<Output = covet_core::Result<T>> + Send + 'a,
    ) -> impl std::future::Future<Output = covet_core::Result<T>> + Send + 'a {
        if let Some(stmt) = call.statement() {
            self.seen
                .lock()
                .unwrap()
                .push(std::ptr::from_ref(stmt) as usize);
        }
        fut
    }
    fn default_timeout(&self, _: &dyn Adapter) -> Option<Duration> {
        self.default
    }
}

/// When the adapter below already has the layer's default timeout, the
/// statement is handed down as it is, not copied; otherwise the copy gets
/// the default.
#[tokio::test]
async fn timeout_sends_the_statement_itself_when_the_adapter_default_is_the_same() {
    for (below, copied) in [(Some(Duration::from_secs(5)), false), (None, true)] {
        let hooks = Arc::new(covet_core::Layered::new(
            Arc::new(MockAdapter::new()),
            Addresses {
                default: below,
                ..Addresses::default()
            },
        ));
        let db =
            TimeoutLayer::new(Duration::from_secs(5)).layer(Arc::clone(&hooks) as Arc<dyn Adapter>);
        let stmt = Statement::new("SELECT $1").bind(1_i64);
        db.query(&stmt).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.query(&stmt).await.unwrap();
        let at = std::ptr::from_ref(&stmt) as usize;
        let seen = hooks.hooks().seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2);
        assert!(seen.iter().all(|&a| (a != at) == copied), "{below:?}");
    }
}
