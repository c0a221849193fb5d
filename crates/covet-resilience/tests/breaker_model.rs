//! A state-machine property test: the breaker against a simple model.

use std::sync::Arc;
use std::time::Duration;

use covet_core::{Error, ErrorKind};
use covet_resilience::ManualClock;
use covet_resilience::breaker::{Admission, Breaker, BreakerState, CircuitBreaker};
use proptest::prelude::*;

const OPEN_FOR: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
enum Op {
    /// Acquire, then report the outcome right away.
    Call(Outcome),
    /// Acquire and keep the admission for later.
    Begin,
    /// Report the oldest held admission.
    Finish(Outcome),
    /// Drop the oldest held admission without an outcome.
    Abandon,
    Advance(u64),
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Ok,
    Outage,
    Caller,
}

fn op() -> impl Strategy<Value = Op> {
    let outcome = prop_oneof![
        Just(Outcome::Ok),
        Just(Outcome::Outage),
        Just(Outcome::Caller)
    ];
    prop_oneof![
        4 => outcome.clone().prop_map(Op::Call),
        1 => Just(Op::Begin),
        1 => outcome.prop_map(Op::Finish),
        1 => Just(Op::Abandon),
        1 => (0u64..90).prop_map(Op::Advance),
    ]
}

/// The model: what the breaker should do, written the plain way.
#[derive(Debug)]
struct Model {
    state: BreakerState,
    epoch: u64,
    consecutive: u32,
    open_until: Duration,
    admitted: u32,
    successes: u32,
    now: Duration,
    threshold: u32,
    success_threshold: u32,
    max_probes: u32,
}

impl Model {
    fn enter(&mut self, to: BreakerState) {
        self.state = to;
        self.epoch += 1;
        self.consecutive = 0;
        self.admitted = 0;
        self.successes = 0;
        if to == BreakerState::Open {
            self.open_until = self.now + OPEN_FOR;
        }
    }

    /// `Some((epoch, probe))` when admitted.
    fn acquire(&mut self) -> Option<(u64, bool)> {
        if self.state == BreakerState::Open && self.now >= self.open_until {
            self.enter(BreakerState::HalfOpen);
        }
        match self.state {
            BreakerState::Closed => Some((self.epoch, false)),
            BreakerState::HalfOpen if self.admitted < self.max_probes => {
                self.admitted += 1;
                Some((self.epoch, true))
            }
            _ => None,
        }
    }

    fn record(&mut self, epoch: u64, probe: bool, failed: bool) {
        if epoch != self.epoch {
            return;
        }
        match self.state {
            BreakerState::Closed => {
                if failed {
                    self.consecutive += 1;
                    if self.consecutive >= self.threshold {
                        self.enter(BreakerState::Open);
                    }
                } else {
                    self.consecutive = 0;
                }
            }
            BreakerState::HalfOpen if probe => {
                if failed {
                    self.enter(BreakerState::Open);
                } else {
                    self.successes += 1;
                    if self.successes >= self.success_threshold {
                        self.enter(BreakerState::Closed);
                    }
                }
            }
            _ => {}
        }
    }

    fn release(&mut self, epoch: u64, probe: bool) {
        if probe && epoch == self.epoch && self.state == BreakerState::HalfOpen {
            self.admitted -= 1;
        }
    }
}

fn report(b: &CircuitBreaker, a: Admission, o: Outcome) {
    match o {
        Outcome::Ok => b.on_success(a),
        Outcome::Outage => b.on_error(a, &Error::new(ErrorKind::Connection, "refused")),
        Outcome::Caller => b.on_error(a, &Error::new(ErrorKind::UniqueViolation, "dup")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn breaker_follows_model(
        threshold in 1u32..6,
        success_threshold in 1u32..4,
        extra_probes in 0u32..3,
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        let clock = Arc::new(ManualClock::default());
        let max_probes = success_threshold + extra_probes;
        let b = CircuitBreaker::builder()
            .failure_threshold(threshold)
            .success_threshold(success_threshold)
            .half_open_max_calls(max_probes)
            .open_duration(OPEN_FOR)
            .open_jitter(0.0)
            .clock(clock.clone())
            .build()
            .unwrap();
        let mut m = Model {
            state: BreakerState::Closed, epoch: 0, consecutive: 0, open_until: Duration::ZERO,
            admitted: 0, successes: 0, now: Duration::ZERO, threshold, success_threshold, max_probes,
        };
        let mut held: Vec<(Admission, (u64, bool))> = Vec::new();
        for op in ops {
            match op {
                Op::Call(o) => {
                    let real = b.try_acquire();
                    let model = m.acquire();
                    prop_assert_eq!(real.is_ok(), model.is_some());
                    if let (Ok(a), Some((e, p))) = (real, model) {
                        prop_assert_eq!(a.is_probe(), p);
                        report(&b, a, o);
                        m.record(e, p, matches!(o, Outcome::Outage));
                    } else if let Err(e) = b.try_acquire().map(|_| ()) {
                        prop_assert_eq!(e.kind(), ErrorKind::CircuitOpen);
                    }
                }
                Op::Begin => {
                    let real = b.try_acquire();
                    let model = m.acquire();
                    prop_assert_eq!(real.is_ok(), model.is_some());
                    if let (Ok(a), Some(x)) = (real, model) {
                        held.push((a, x));
                    }
                }
                Op::Finish(o) => {
                    if !held.is_empty() {
                        let (a, (e, p)) = held.remove(0);
                        report(&b, a, o);
                        m.record(e, p, matches!(o, Outcome::Outage));
                    }
                }
                Op::Abandon => {
                    if !held.is_empty() {
                        let (a, (e, p)) = held.remove(0);
                        b.release(a);
                        m.release(e, p);
                    }
                }
                Op::Advance(s) => {
                    clock.advance(Duration::from_secs(s));
                    m.now += Duration::from_secs(s);
                }
            }
            prop_assert_eq!(b.state(), m.state, "after {:?}", m);
        }
    }
}

#[test]
fn forced_open_and_disabled() {
    let b = CircuitBreaker::builder().build().unwrap();
    b.force_open();
    assert_eq!(b.try_acquire().unwrap_err().kind(), ErrorKind::CircuitOpen);
    b.disable();
    for _ in 0..20 {
        let a = b.try_acquire().unwrap();
        b.on_error(a, &Error::new(ErrorKind::Connection, "down"));
    }
    assert_eq!(b.state(), BreakerState::Disabled);
    b.reset();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn rate_mode_opens_on_failure_share() {
    let b = CircuitBreaker::builder()
        .failure_rate(10, 4, 0.5)
        .build()
        .unwrap();
    let outage = Error::new(ErrorKind::Timeout, "slow");
    // Two failures in three calls: below min_calls, stays closed.
    for fail in [true, false, true] {
        let a = b.try_acquire().unwrap();
        if fail {
            b.on_error(a, &outage);
        } else {
            b.on_success(a);
        }
    }
    assert_eq!(b.state(), BreakerState::Closed);
    let a = b.try_acquire().unwrap();
    b.on_error(a, &outage);
    assert_eq!(b.state(), BreakerState::Open);
}

#[test]
fn jitter_keeps_open_time_within_bounds() {
    let clock = Arc::new(ManualClock::default());
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .open_duration(Duration::from_secs(10))
        .open_jitter(0.5)
        .clock(clock.clone())
        .build()
        .unwrap();
    let a = b.try_acquire().unwrap();
    b.on_failure(a);
    let left = b.remaining_open();
    assert!(
        left >= Duration::from_secs(10) && left <= Duration::from_secs(15),
        "{left:?}"
    );
    clock.advance(Duration::from_secs(15));
    assert!(b.try_acquire().unwrap().is_probe());
}

#[test]
fn bad_configs_are_rejected() {
    use covet_resilience::BreakerConfigError as E;
    let b = || CircuitBreaker::builder();
    assert_eq!(
        b().failure_threshold(0).build().unwrap_err(),
        E::ZeroFailureThreshold
    );
    assert!(matches!(
        b().failure_rate(5, 6, 0.5).build(),
        Err(E::MinCallsAboveWindow { .. })
    ));
    assert!(matches!(
        b().failure_rate(5, 2, 1.5).build(),
        Err(E::FailureRateOutOfRange(_))
    ));
    assert!(matches!(
        b().success_threshold(4).half_open_max_calls(3).build(),
        Err(E::SuccessAboveHalfOpenCalls { .. })
    ));
    assert_eq!(
        b().open_duration(Duration::ZERO).build().unwrap_err(),
        E::ZeroOpenDuration
    );
    assert!(matches!(
        b().open_jitter(-0.1).build(),
        Err(E::JitterOutOfRange(_))
    ));
    assert_eq!(
        b().probe_timeout(Some(Duration::ZERO)).build().unwrap_err(),
        E::ZeroProbeTimeout
    );
    let msg = b()
        .success_threshold(4)
        .half_open_max_calls(3)
        .build()
        .unwrap_err()
        .to_string();
    assert!(msg.contains("could never close"), "{msg}");
}

#[test]
fn listeners_see_transitions() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let clock = Arc::new(ManualClock::default());
    let b = CircuitBreaker::builder()
        .failure_threshold(1)
        .success_threshold(1)
        .half_open_max_calls(1)
        .open_jitter(0.0)
        .clock(clock.clone())
        .on_state_change(move |c| s2.lock().unwrap().push((c.from, c.to)))
        .build()
        .unwrap();
    let a = b.try_acquire().unwrap();
    b.on_failure(a);
    clock.advance(Duration::from_secs(60));
    let a = b.try_acquire().unwrap();
    b.on_success(a);
    use BreakerState::*;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(Closed, Open), (Open, HalfOpen), (HalfOpen, Closed)]
    );
}
