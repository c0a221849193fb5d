//! The breaker's state machine.
//!
//! The state and an epoch share one atomic word, so the closed-state check
//! is a single load. Transitions take a mutex, re-check the word and bump
//! the epoch; results carrying an older epoch are ignored, so a slow call
//! admitted while closed cannot disturb a later half-open period.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use covet_core::{Error, ErrorKind, Result};

use super::config::{BreakerConfig, CircuitBreakerBuilder, FailureMode};
use super::{Admission, Breaker, BreakerState, StateChange, TripCause};

const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
const FORCED_OPEN: u64 = 3;
const DISABLED: u64 = 4;
const STATE_MASK: u64 = 0b111;

fn pack(epoch: u64, state: u64) -> u64 {
    (epoch << 3) | state
}

fn decode(state: u64) -> BreakerState {
    match state {
        CLOSED => BreakerState::Closed,
        OPEN => BreakerState::Open,
        HALF_OPEN => BreakerState::HalfOpen,
        FORCED_OPEN => BreakerState::ForcedOpen,
        _ => BreakerState::Disabled,
    }
}

fn encode(state: BreakerState) -> u64 {
    match state {
        BreakerState::Closed => CLOSED,
        BreakerState::Open => OPEN,
        BreakerState::HalfOpen => HALF_OPEN,
        BreakerState::ForcedOpen => FORCED_OPEN,
        BreakerState::Disabled => DISABLED,
    }
}

/// Outcomes of the last calls, for the failure-rate mode.
#[derive(Debug, Default)]
struct Window {
    outcomes: VecDeque<bool>,
    failures: u32,
    /// What opened the breaker last (kept across transitions).
    last_trip: Option<TripCause>,
    /// Times the breaker entered `Open` after a failure.
    trips: u64,
}

/// A counted failure, turned into a [`TripCause`] only if it trips the
/// breaker, so the failure path allocates nothing otherwise.
#[derive(Clone, Copy)]
enum Failure<'a> {
    Error(&'a Error),
    ProbeTimeout,
}

impl Failure<'_> {
    fn cause(self) -> TripCause {
        match self {
            Failure::Error(e) => TripCause::from_error(e),
            Failure::ProbeTimeout => TripCause::new(
                ErrorKind::Timeout,
                "a half-open probe took longer than the probe timeout",
            ),
        }
    }
}

/// A circuit breaker: closed, open, half-open, forced-open or disabled.
///
/// Cheap to share (`Arc<CircuitBreaker>`); one breaker per database (or per
/// replica) is the usual setup. See [`CircuitBreakerBuilder`] for the
/// defaults.
pub struct CircuitBreaker {
    config: BreakerConfig,
    word: AtomicU64,
    consecutive: AtomicU32,
    open_until: AtomicU64,
    half_admitted: AtomicU32,
    half_successes: AtomicU32,
    transitions: Mutex<Window>,
    rejected: metrics::Counter,
    gauge: metrics::Gauge,
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.config.name)
            .field("state", &self.state())
            .finish()
    }
}

impl CircuitBreaker {
    /// A builder with the default settings.
    pub fn builder() -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::default()
    }

    pub(crate) fn from_config(config: BreakerConfig) -> Self {
        let name = config.name.to_string();
        let rejected = metrics::counter!("covet_breaker_rejected_total", "breaker" => name.clone());
        let gauge = metrics::gauge!("covet_breaker_state", "breaker" => name);
        gauge.set(config.initial.gauge_value());
        let initial = encode(config.initial);
        CircuitBreaker {
            config,
            word: AtomicU64::new(pack(0, initial)),
            consecutive: AtomicU32::new(0),
            open_until: AtomicU64::new(0),
            half_admitted: AtomicU32::new(0),
            half_successes: AtomicU32::new(0),
            transitions: Mutex::new(Window::default()),
            rejected,
            gauge,
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// Refuses every call until [`CircuitBreaker::reset`].
    pub fn force_open(&self) {
        self.set_state(BreakerState::ForcedOpen);
    }

    /// Admits every call and counts nothing until [`CircuitBreaker::reset`].
    pub fn disable(&self) {
        self.set_state(BreakerState::Disabled);
    }

    /// Returns to closed with all counts cleared.
    pub fn reset(&self) {
        self.set_state(BreakerState::Closed);
    }

    /// The failure that opened the breaker most recently, if any has.
    pub fn last_trip(&self) -> Option<TripCause> {
        self.lock().last_trip.clone()
    }

    /// How many times a failure has opened the breaker (forcing it open
    /// with [`CircuitBreaker::force_open`] does not count).
    pub fn trips(&self) -> u64 {
        self.lock().trips
    }

    /// How long until an open breaker admits a probe (zero if not open).
    pub fn remaining_open(&self) -> Duration {
        if self.word.load(Ordering::Acquire) & STATE_MASK != OPEN {
            return Duration::ZERO;
        }
        let until = Duration::from_nanos(self.open_until.load(Ordering::Acquire));
        until.saturating_sub(self.config.clock.now())
    }

    fn lock(&self) -> MutexGuard<'_, Window> {
        // A listener panicking cannot poison this lock (they run outside
        // it), so a poisoned lock only means a panic in our own short
        // critical sections; the data is still consistent counters.
        self.transitions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_state(&self, to: BreakerState) {
        let change = {
            let mut window = self.lock();
            let cur = self.word.load(Ordering::Acquire);
            self.enter(&mut window, cur, to, None)
        };
        self.notify(change);
    }

    /// Moves from the word `cur` to `to`; called with the lock held.
    /// `failure` is what tripped it, for a move to `Open`.
    fn enter(
        &self,
        window: &mut Window,
        cur: u64,
        to: BreakerState,
        failure: Option<Failure<'_>>,
    ) -> Option<StateChange> {
        let from = decode(cur & STATE_MASK);
        let epoch = (cur >> 3) + 1;
        window.outcomes.clear();
        window.failures = 0;
        self.consecutive.store(0, Ordering::Relaxed);
        self.half_admitted.store(0, Ordering::Relaxed);
        self.half_successes.store(0, Ordering::Relaxed);
        let now = self.config.clock.now();
        if to == BreakerState::Open {
            let until = now + self.jittered_open();
            let nanos = u64::try_from(until.as_nanos()).unwrap_or(u64::MAX);
            self.open_until.store(nanos, Ordering::Release);
        }
        self.word.store(pack(epoch, encode(to)), Ordering::Release);
        let cause = match failure {
            Some(f) if to == BreakerState::Open => {
                let cause = f.cause();
                window.last_trip = Some(cause.clone());
                window.trips += 1;
                Some(cause)
            }
            _ => None,
        };
        (from != to).then(|| StateChange {
            name: self.config.name.to_string(),
            from,
            to,
            at: now,
            cause,
        })
    }

    fn jittered_open(&self) -> Duration {
        let base = self.config.open_duration;
        if self.config.open_jitter <= 0.0 {
            return base;
        }
        let extra = rand::random::<f64>() * self.config.open_jitter;
        base + base.mul_f64(extra)
    }

    fn notify(&self, change: Option<StateChange>) {
        let Some(change) = change else { return };
        self.gauge.set(change.to.gauge_value());
        metrics::counter!(
            "covet_breaker_transitions_total",
            "breaker" => change.name.clone(),
            "from" => change.from.as_str(),
            "to" => change.to.as_str()
        )
        .increment(1);
        tracing::warn!(
            breaker = %change.name,
            from = %change.from,
            to = %change.to,
            "circuit breaker state change"
        );
        for listener in &self.config.listeners {
            listener(&change);
        }
    }

    /// Moves from `(epoch, from)` to `to` if nothing else moved first.
    fn transition(&self, epoch: u64, from: u64, to: BreakerState, failure: Option<Failure<'_>>) {
        let change = {
            let mut window = self.lock();
            let cur = self.word.load(Ordering::Acquire);
            if cur != pack(epoch, from) {
                return;
            }
            self.enter(&mut window, cur, to, failure)
        };
        self.notify(change);
    }

    fn reject(&self) -> Error {
        self.rejected.increment(1);
        Error::new(
            ErrorKind::CircuitOpen,
            format!("circuit breaker `{}` is open", self.config.name),
        )
    }

    fn record_closed(&self, epoch: u64, failure: Option<Failure<'_>>) {
        let failed = failure.is_some();
        match self.config.mode {
            FailureMode::Consecutive { threshold } => {
                if failed {
                    let n = self.consecutive.fetch_add(1, Ordering::AcqRel) + 1;
                    if n >= threshold {
                        self.transition(epoch, CLOSED, BreakerState::Open, failure);
                    }
                } else if self.consecutive.load(Ordering::Relaxed) != 0 {
                    // Only write when needed: a store on every success would
                    // bounce the cache line between cores.
                    self.consecutive.store(0, Ordering::Relaxed);
                }
            }
            FailureMode::Rate {
                window_size,
                min_calls,
                failure_rate,
            } => {
                let change = {
                    let mut window = self.lock();
                    let cur = self.word.load(Ordering::Acquire);
                    if cur != pack(epoch, CLOSED) {
                        return;
                    }
                    window.outcomes.push_back(failed);
                    window.failures += u32::from(failed);
                    if window.outcomes.len() > window_size as usize
                        && window.outcomes.pop_front() == Some(true)
                    {
                        window.failures -= 1;
                    }
                    let len = window.outcomes.len() as u32;
                    let tripped = failed
                        && len >= min_calls.max(1)
                        && f64::from(window.failures) >= failure_rate * f64::from(len);
                    if !tripped {
                        return;
                    }
                    self.enter(&mut window, cur, BreakerState::Open, failure)
                };
                self.notify(change);
            }
        }
    }

    fn record(&self, admission: Admission, failure: Option<Failure<'_>>) {
        let cur = self.word.load(Ordering::Acquire);
        if cur >> 3 != admission.epoch {
            return;
        }
        match cur & STATE_MASK {
            CLOSED => self.record_closed(admission.epoch, failure),
            HALF_OPEN if admission.probe => {
                if failure.is_some() {
                    self.transition(admission.epoch, HALF_OPEN, BreakerState::Open, failure);
                } else {
                    let n = self.half_successes.fetch_add(1, Ordering::AcqRel) + 1;
                    if n >= self.config.success_threshold {
                        self.transition(admission.epoch, HALF_OPEN, BreakerState::Closed, None);
                    }
                }
            }
            _ => {}
        }
    }
}

impl Breaker for CircuitBreaker {
    #[inline]
    fn try_acquire(&self) -> Result<Admission> {
        loop {
            let cur = self.word.load(Ordering::Acquire);
            let epoch = cur >> 3;
            match cur & STATE_MASK {
                CLOSED | DISABLED => {
                    return Ok(Admission {
                        epoch,
                        probe: false,
                    });
                }
                OPEN => {
                    let until = self.open_until.load(Ordering::Acquire);
                    let now = u64::try_from(self.config.clock.now().as_nanos()).unwrap_or(u64::MAX);
                    if now < until {
                        return Err(self.reject());
                    }
                    self.transition(epoch, OPEN, BreakerState::HalfOpen, None);
                }
                HALF_OPEN => {
                    let n = self.half_admitted.fetch_add(1, Ordering::AcqRel);
                    if self.word.load(Ordering::Acquire) != cur {
                        // Moved on while we counted; our increment belongs
                        // to a period that no longer exists or was reset.
                        continue;
                    }
                    if n < self.config.half_open_max_calls {
                        return Ok(Admission { epoch, probe: true });
                    }
                    self.half_admitted.fetch_sub(1, Ordering::AcqRel);
                    return Err(self.reject());
                }
                _ => return Err(self.reject()),
            }
        }
    }

    #[inline]
    fn on_success(&self, admission: Admission) {
        self.record(admission, None);
    }

    fn on_error(&self, admission: Admission, error: &Error) {
        let failure = (self.config.is_failure)(error).then_some(Failure::Error(error));
        self.record(admission, failure);
    }

    fn on_failure(&self, admission: Admission) {
        self.record(admission, Some(Failure::ProbeTimeout));
    }

    fn release(&self, admission: Admission) {
        if admission.probe && self.word.load(Ordering::Acquire) == pack(admission.epoch, HALF_OPEN)
        {
            self.half_admitted.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn state(&self) -> BreakerState {
        decode(self.word.load(Ordering::Acquire) & STATE_MASK)
    }

    fn probe_timeout(&self) -> Option<Duration> {
        self.config.probe_timeout
    }
}

impl<B: Breaker + ?Sized> Breaker for Arc<B> {
    fn try_acquire(&self) -> Result<Admission> {
        (**self).try_acquire()
    }
    fn on_success(&self, admission: Admission) {
        (**self).on_success(admission);
    }
    fn on_error(&self, admission: Admission, error: &Error) {
        (**self).on_error(admission, error);
    }
    fn on_failure(&self, admission: Admission) {
        (**self).on_failure(admission);
    }
    fn release(&self, admission: Admission) {
        (**self).release(admission);
    }
    fn state(&self) -> BreakerState {
        (**self).state()
    }
    fn probe_timeout(&self) -> Option<Duration> {
        (**self).probe_timeout()
    }
}
