//! [`Stop`], the handle that ends a run early while keeping its figures.

use std::sync::Arc;

/// Ends a run early, keeping what was measured: [`run`](super::run) stops scheduling,
/// gives statements in flight
/// [`RunConfig::interrupt_drain`](super::RunConfig::interrupt_drain) to finish and
/// returns a report marked
/// [`RunMeta::interrupted`](crate::RunMeta::interrupted) over the measured time
/// so far. Clone it into a signal handler.
#[derive(Debug, Clone)]
pub struct Stop {
    tx: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            tx: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }
}

impl Stop {
    /// Asks the run to stop; later calls do nothing more.
    pub fn stop(&self) {
        self.tx.send_replace(true);
    }

    /// Whether [`Stop::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once [`Stop::stop`] is called.
    pub async fn stopped(&self) {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so the channel cannot close here.
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// Resolves once `stop` is triggered; never without one.
pub(super) async fn stopped(stop: Option<&Stop>) {
    match stop {
        Some(s) => s.stopped().await,
        None => std::future::pending().await,
    }
}
