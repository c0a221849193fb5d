//! A test manager whose connections are numbered and counted, with knobs
//! for failing creates, hanging validations and broken connections.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use covet_pool::Manager;

/// Errors from the test manager.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TestError {
    #[error("connection refused (attempt {0})")]
    Refused(u64),
    #[error("validation failed")]
    Invalid,
}

/// Shared knobs and counters, visible to the test while the pool owns the
/// manager.
#[derive(Debug, Default)]
pub(crate) struct Knobs {
    /// Connection objects alive right now.
    pub live: AtomicUsize,
    /// create() calls so far.
    pub creates: AtomicU64,
    /// Fail this many creates before succeeding.
    pub fail_creates: AtomicU64,
    /// Every create fails.
    pub always_fail: AtomicBool,
    /// validate() calls so far.
    pub validations: AtomicU64,
    /// validate() on these connection ids hangs forever.
    pub hang_validate: Mutex<Vec<u64>>,
    /// validate() fails for these ids.
    pub fail_validate: Mutex<Vec<u64>>,
    /// create() waits this long (tokio time).
    pub create_delay: Mutex<Duration>,
    /// validate() waits this long (tokio time).
    pub validate_delay: Mutex<Duration>,
    /// Connections reporting broken.
    pub broken: Mutex<Vec<u64>>,
    /// Connections that need a reset on return.
    pub dirty: Mutex<Vec<u64>>,
    /// reset() calls so far.
    pub resets: AtomicU64,
    /// reset() fails.
    pub fail_reset: AtomicBool,
    /// reset() waits this long (tokio time).
    pub reset_delay: Mutex<Duration>,
}

/// One connection: an id; dropping it decrements `live`.
#[derive(Debug)]
pub(crate) struct TestConn {
    pub id: u64,
    knobs: Arc<Knobs>,
}

impl Drop for TestConn {
    fn drop(&mut self) {
        self.knobs.live.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TestManager {
    pub knobs: Arc<Knobs>,
}

impl TestManager {
    pub(crate) fn new() -> (Self, Arc<Knobs>) {
        let m = Self::default();
        let k = m.knobs.clone();
        (m, k)
    }
}

impl Manager for TestManager {
    type Connection = TestConn;
    type Error = TestError;

    async fn create(&self) -> Result<TestConn, TestError> {
        let n = self.knobs.creates.fetch_add(1, Ordering::SeqCst) + 1;
        let delay = *self.knobs.create_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if self.knobs.always_fail.load(Ordering::SeqCst) {
            return Err(TestError::Refused(n));
        }
        let failing = self.knobs.fail_creates.load(Ordering::SeqCst);
        if failing > 0 {
            self.knobs.fail_creates.store(failing - 1, Ordering::SeqCst);
            return Err(TestError::Refused(n));
        }
        self.knobs.live.fetch_add(1, Ordering::SeqCst);
        Ok(TestConn {
            id: n,
            knobs: self.knobs.clone(),
        })
    }

    async fn validate(&self, conn: &mut TestConn) -> Result<(), TestError> {
        self.knobs.validations.fetch_add(1, Ordering::SeqCst);
        let delay = *self.knobs.validate_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if self.knobs.hang_validate.lock().unwrap().contains(&conn.id) {
            std::future::pending::<()>().await;
        }
        if self.knobs.fail_validate.lock().unwrap().contains(&conn.id) {
            return Err(TestError::Invalid);
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut TestConn) -> bool {
        self.knobs.broken.lock().unwrap().contains(&conn.id)
    }

    fn needs_reset(&self, conn: &TestConn) -> bool {
        self.knobs.dirty.lock().unwrap().contains(&conn.id)
    }

    async fn reset(&self, conn: &mut TestConn) -> Result<(), TestError> {
        self.knobs.resets.fetch_add(1, Ordering::SeqCst);
        let delay = *self.knobs.reset_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if self.knobs.fail_reset.load(Ordering::SeqCst) {
            return Err(TestError::Invalid);
        }
        self.knobs.dirty.lock().unwrap().retain(|id| *id != conn.id);
        Ok(())
    }
}
