//! Close wakes all waiters.

use super::loom_support::{acquire, assert_balanced, core};
use crate::core::CloseReason;
use crate::loom::thread;

/// Two waiters queue behind a held connection; close must wake both with
/// `Closed`, and the held connection is closed on return.
#[test]
fn loom_close_wakes_all_waiters() {
    loom::model(|| {
        let core = core(1, 1);
        let held = acquire(&core, 100).expect("idle connection");
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let core = core.clone();
                thread::spawn(move || acquire(&core, 100))
            })
            .collect();
        let (idle, wakers, drained) = core.close();
        assert!(idle.is_empty() && !drained);
        for w in wakers {
            w.wake();
        }
        for w in waiters {
            assert_eq!(
                w.join().unwrap(),
                None,
                "a waiter got a connection after close"
            );
        }
        let fx = core.release(held);
        let (_, reason) = fx.close.expect("closed on return");
        assert_eq!(reason, CloseReason::PoolClosed);
        assert!(fx.drained);
        assert_balanced(&core);
        let (g, _) = core.snapshot();
        assert_eq!((g.size, g.waiters), (0, 0));
    });
}
