//! The breaker remembers the failure that opened it and tells listeners,
//! so a report can say why calls were refused and not only that they were.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use covet_core::{Adapter, Error, ErrorKind, Layer, Statement};
use covet_resilience::breaker::{Breaker, BreakerState, CircuitBreaker};
use covet_resilience::testing::MockAdapter;
use covet_resilience::{BreakerLayer, ManualClock, StateChange, TripCause};

#[tokio::test(start_paused = true)]
async fn the_error_that_opened_it_is_kept_and_sent_to_listeners() {
    let clock = Arc::new(ManualClock::default());
    let seen: Arc<Mutex<Vec<StateChange>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let breaker = Arc::new(
        CircuitBreaker::builder()
            .failure_threshold(3)
            .open_jitter(0.0)
            .probe_timeout(Some(Duration::from_millis(100)))
            .clock(clock.clone())
            .on_state_change(move |c: &StateChange| sink.lock().unwrap().push(c.clone()))
            .build()
            .unwrap(),
    );
    let mock = MockAdapter::new();
    let db = BreakerLayer::new(breaker.clone()).layer(Arc::new(mock.clone()));
    let q = Statement::new("SELECT 1");
    assert_eq!(breaker.last_trip(), None);

    // A caller error does not count; the third outage error trips it.
    mock.fail_next(Error::new(ErrorKind::Syntax, "not counted"));
    let _ = db.query(&q).await;
    mock.fail_next(Error::new(ErrorKind::Connection, "first"));
    let _ = db.query(&q).await;
    mock.fail_next(Error::new(ErrorKind::PoolTimeout, "second"));
    let _ = db.query(&q).await;
    mock.fail_next(Error::new(
        ErrorKind::Connection,
        "connection refused\n  (os error 111)",
    ));
    let _ = db.query(&q).await;
    assert_eq!(breaker.state(), BreakerState::Open);
    let cause = breaker.last_trip().expect("a cause once it opened");
    assert_eq!(cause.kind, ErrorKind::Connection);
    assert!(
        cause.message.contains("connection refused (os error 111)"),
        "{cause}"
    );
    assert!(!cause.message.contains('\n'));
    assert_eq!(breaker.trips(), 1);
    {
        let seen = seen.lock().unwrap();
        let open = seen.iter().find(|c| c.to == BreakerState::Open).unwrap();
        assert_eq!(open.cause.as_ref(), Some(&cause));
    }

    // A probe that times out sends it back to open with that as the cause.
    clock.advance(Duration::from_secs(61));
    mock.set_delay(Duration::from_secs(10));
    let _ = db.query(&q).await;
    assert_eq!(breaker.state(), BreakerState::Open);
    assert_eq!(breaker.last_trip().unwrap().kind, ErrorKind::Timeout);
    assert_eq!(breaker.trips(), 2);
    // Only moves to open carry a cause.
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .all(|c| (c.to == BreakerState::Open) == c.cause.is_some()),
        "{seen:?}"
    );

    // Forcing it open is not a trip.
    drop(seen);
    breaker.reset();
    breaker.force_open();
    assert_eq!(breaker.trips(), 2);
}

#[test]
fn a_cause_is_one_bounded_line() {
    let long = "é".repeat(1000);
    let c = TripCause::new(ErrorKind::Connection, &format!("a\n\tb  {long}"));
    assert!(c.message.starts_with("a b é"));
    assert!(c.message.len() <= TripCause::MAX_MESSAGE + '…'.len_utf8());
    assert_eq!(c.to_string(), format!("connection: {}", c.message));
}
