//! The retry policy: attempts, backoff, deadline and budget.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use covet_core::{Error, ErrorKind, Result, RetryClass};
use tokio::time::Instant;

use super::budget::RetryBudget;
use super::is_retryable;

/// How to retry: at most `max_attempts` tries, waiting a random time in
/// `[0, min(cap, base * 2^n))` before try `n + 1` (full jitter), all within
/// one total `deadline`, each retry paid from a shared [`RetryBudget`].
///
/// Defaults: 3 attempts, 10 ms base, 1 s cap, a 10 s deadline and a budget
/// of 100 tokens refilled at 10 per second. Cloning shares the budget.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
    pub(crate) deadline: Option<Duration>,
    pub(crate) budget: Arc<RetryBudget>,
    pub(crate) trust_reconnect: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(10),
            cap: Duration::from_secs(1),
            deadline: Some(Duration::from_secs(10)),
            budget: Arc::new(RetryBudget::default()),
            trust_reconnect: false,
        }
    }
}

/// Builds a [`RetryPolicy`].
///
/// ```
/// use std::time::Duration;
/// use covet_resilience::retry::RetryPolicy;
/// let policy = RetryPolicy::builder()
///     .max_attempts(5)
///     .backoff(Duration::from_millis(20), Duration::from_secs(2))
///     .deadline(Some(Duration::from_secs(5)))
///     .build()?;
/// assert_eq!(policy.max_attempts(), 5);
/// # Ok::<(), covet_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RetryPolicyBuilder {
    policy: RetryPolicy,
}

impl RetryPolicyBuilder {
    /// Total tries, the first included (1 = never retry).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.policy.max_attempts = n;
        self
    }

    /// The backoff base and cap.
    #[must_use]
    pub fn backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.policy.base = base;
        self.policy.cap = cap;
        self
    }

    /// The total time allowed for all attempts and waits (`None`: no limit).
    #[must_use]
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.policy.deadline = deadline;
        self
    }

    /// The shared retry budget.
    #[must_use]
    pub fn budget(mut self, budget: Arc<RetryBudget>) -> Self {
        self.policy.budget = budget;
        self
    }

    /// Whether to believe an adapter that calls a lost connection
    /// [`RetryClass::Reconnect`] ("the statement never reached the
    /// server") for a statement not marked idempotent. Default `false`: a
    /// connection lost mid-call may have lost the answer, not the
    /// statement, and not every driver can tell the two apart, so such
    /// statements are treated as ambiguous and not repeated.
    #[must_use]
    pub fn trust_reconnect(mut self, yes: bool) -> Self {
        self.policy.trust_reconnect = yes;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<RetryPolicy> {
        let p = self.policy;
        if p.max_attempts == 0 {
            return Err(Error::config("retry max_attempts must be at least 1"));
        }
        if p.cap < p.base {
            return Err(Error::config(format!(
                "retry backoff cap ({:?}) is below its base ({:?})",
                p.cap, p.base
            )));
        }
        if p.deadline.is_some_and(|d| d.is_zero()) {
            return Err(Error::config("retry deadline must be above zero"));
        }
        Ok(p)
    }
}

impl RetryPolicy {
    /// A builder starting from the defaults.
    pub fn builder() -> RetryPolicyBuilder {
        RetryPolicyBuilder::default()
    }

    /// Total tries allowed.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The total deadline.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The shared budget.
    pub fn budget(&self) -> &Arc<RetryBudget> {
        &self.budget
    }

    /// The wait before retry number `retry` (1-based), full jitter.
    /// `BackOff` errors (an overloaded server) wait as if two retries later.
    pub fn backoff(&self, retry: u32, class: RetryClass) -> Duration {
        let exp = retry.saturating_sub(1) + if class == RetryClass::BackOff { 2 } else { 0 };
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(exp.min(31)).unwrap_or(u32::MAX))
            .min(self.cap);
        ceiling.mul_f64(rand::random::<f64>())
    }

    /// Runs `call` until it succeeds, fails for good, or the attempts,
    /// deadline or budget run out. `retryable` decides per error.
    pub async fn run<T, F, Fut>(&self, call: F, retryable: impl Fn(&Error) -> bool) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run_bounded(None, call, retryable).await
    }

    /// [`RetryPolicy::run`] for calls already bounded by `own_limit` (a
    /// statement timeout the adapter enforces): an attempt that its own
    /// limit ends before the deadline needs no deadline timer of its own,
    /// which saves a timer registration per call on the fast path.
    pub async fn run_bounded<T, F, Fut>(
        &self,
        own_limit: Option<Duration>,
        mut call: F,
        retryable: impl Fn(&Error) -> bool,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let start = Instant::now();
        let deadline = self.deadline.map(|d| start + d);
        let mut attempt = 1;
        loop {
            let covered = |at: Instant| own_limit.is_some_and(|l| Instant::now() + l <= at);
            let result = match deadline {
                Some(at) if covered(at) => call().await,
                Some(at) => match tokio::time::timeout_at(at, call()).await {
                    Ok(r) => r,
                    Err(_) => return Err(deadline_passed(self.deadline, attempt)),
                },
                None => call().await,
            };
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if !retryable(&err) {
                return Err(err);
            }
            let Some(wait) = self.next_wait(attempt, &err, deadline) else {
                return Err(err);
            };
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Whether this policy retries `error` for a call that is (or is not)
    /// idempotent: [`is_retryable`], except that a connection error on a
    /// non-idempotent call counts as ambiguous unless
    /// [`RetryPolicyBuilder::trust_reconnect`] is set.
    pub fn allows(&self, error: &Error, idempotent: bool) -> bool {
        if !idempotent && !self.trust_reconnect && error.kind() == ErrorKind::Connection {
            return false;
        }
        is_retryable(error, idempotent)
    }

    /// [`RetryPolicy::run`] with this policy's rule ([`RetryPolicy::allows`]).
    pub async fn retry<T, F, Fut>(&self, idempotent: bool, call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run(call, |e| self.allows(e, idempotent)).await
    }

    /// [`RetryPolicy::retry`] for a call bounded by `own_limit` (see
    /// [`RetryPolicy::run_bounded`]).
    pub async fn retry_bounded<T, F, Fut>(
        &self,
        idempotent: bool,
        own_limit: Option<Duration>,
        call: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run_bounded(own_limit, call, |e| self.allows(e, idempotent))
            .await
    }
}

impl RetryPolicy {
    /// Decides whether a retryable error gets another try and pays for it:
    /// `None` when the attempts, the deadline or the budget are spent.
    pub(crate) fn next_wait(
        &self,
        attempt: u32,
        err: &Error,
        deadline: Option<Instant>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let class = err.retry_class();
        let wait = self.backoff(attempt, class);
        if deadline.is_some_and(|at| Instant::now() + wait >= at) {
            return None;
        }
        if !self.budget.try_withdraw() {
            metrics::counter!("covet_retry_budget_exhausted_total").increment(1);
            return None;
        }
        metrics::counter!("covet_retries_total", "class" => class.as_str()).increment(1);
        tracing::debug!(
            attempt,
            class = class.as_str(),
            wait_ms = wait.as_millis() as u64,
            kind = %err.kind(),
            "retrying"
        );
        Some(wait)
    }
}

pub(crate) fn deadline_passed(deadline: Option<Duration>, attempt: u32) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "retry deadline of {:?} passed during attempt {attempt}",
            deadline.unwrap_or_default()
        ),
    )
}
