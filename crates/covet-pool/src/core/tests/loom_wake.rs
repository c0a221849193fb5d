//! A release wakes a waiter.

use super::loom_support::{acquire, apply, assert_balanced, core};
use crate::loom::thread;

/// The main thread holds the only connection; a waiter must be woken and
/// served when it is released (loom reports a deadlock otherwise).
#[test]
fn loom_release_wakes_waiter() {
    loom::model(|| {
        let core = core(1, 1);
        let held = acquire(&core, 100).expect("idle connection");
        let waiter = {
            let core = core.clone();
            thread::spawn(move || {
                let c = acquire(&core, 100).expect("pool is open");
                apply(core.release(c));
                c
            })
        };
        apply(core.release(held));
        assert_eq!(
            waiter.join().unwrap(),
            held,
            "the same connection is reused"
        );
        assert_balanced(&core);
        let (g, c) = core.snapshot();
        assert_eq!((g.idle, g.waiters), (1, 0));
        assert_eq!(c.acquired, 2);
    });
}
