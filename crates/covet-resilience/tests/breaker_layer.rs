//! The breaker layer over a mock adapter.

use std::sync::Arc;
use std::time::Duration;

use covet_core::{Adapter, Error, ErrorKind, Layer, Statement};
use covet_resilience::breaker::{Breaker, BreakerState, CircuitBreaker};
use covet_resilience::testing::MockAdapter;
use covet_resilience::{BreakerLayer, ManualClock};

#[tokio::test(start_paused = true)]
async fn opens_refuses_without_calling_then_recovers() {
    let clock = Arc::new(ManualClock::default());
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .open_jitter(0.0)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let mock = MockAdapter::new();
    let db = BreakerLayer::new(breaker.clone()).layer(Arc::new(mock.clone()));
    let q = Statement::new("SELECT 1");

    // Caller errors never open it.
    for _ in 0..10 {
        mock.fail_next(Error::new(ErrorKind::Syntax, "bad"));
        assert_eq!(db.query(&q).await.unwrap_err().kind(), ErrorKind::Syntax);
    }
    assert_eq!(breaker.state(), BreakerState::Closed);

    mock.set_down(true);
    for _ in 0..5 {
        assert_eq!(
            db.query(&q).await.unwrap_err().kind(),
            ErrorKind::Connection
        );
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    let before = mock.calls();
    for _ in 0..100 {
        assert_eq!(
            db.query(&q).await.unwrap_err().kind(),
            ErrorKind::CircuitOpen
        );
    }
    assert_eq!(mock.calls(), before, "an open breaker let calls through");

    mock.set_down(false);
    clock.advance(Duration::from_secs(60));
    db.query(&q).await.unwrap();
    assert_eq!(breaker.state(), BreakerState::HalfOpen);
    db.query(&q).await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn slow_probe_times_out_and_reopens() {
    let clock = Arc::new(ManualClock::default());
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .open_jitter(0.0)
            .probe_timeout(Some(Duration::from_millis(100)))
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let mock = MockAdapter::new();
    let db = BreakerLayer::new(breaker.clone()).layer(Arc::new(mock.clone()));
    mock.fail_next(Error::new(ErrorKind::Connection, "x"));
    let _ = db.ping().await;
    assert_eq!(breaker.state(), BreakerState::Open);
    clock.advance(Duration::from_secs(61));
    mock.set_delay(Duration::from_secs(10));
    let e = db.ping().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(breaker.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn dropped_probe_gives_its_permit_back() {
    let clock = Arc::new(ManualClock::default());
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(1)
            .success_threshold(1)
            .half_open_max_calls(1)
            .open_jitter(0.0)
            .probe_timeout(None)
            .clock(clock.clone())
            .build()
            .unwrap(),
    );
    let mock = MockAdapter::new();
    let db = BreakerLayer::new(breaker.clone()).layer(Arc::new(mock.clone()));
    mock.fail_next(Error::new(ErrorKind::Connection, "x"));
    let _ = db.ping().await;
    clock.advance(Duration::from_secs(61));
    mock.set_delay(Duration::from_secs(10));
    // The caller gives up on the probe (its future is dropped).
    let r = tokio::time::timeout(Duration::from_millis(10), db.ping()).await;
    assert!(r.is_err());
    mock.set_delay(Duration::ZERO);
    db.ping().await.unwrap();
    assert_eq!(breaker.state(), BreakerState::Closed);
}
