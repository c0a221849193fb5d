//! A deadline expiring while a connection is released loses nothing.

use super::loom_support::{acquire, acquire_until, apply, assert_balanced, core};
use crate::loom::thread;

/// The housekeeper times a waiter out at the moment the holder releases:
/// the waiter either gets the connection or times out, is woken either way,
/// and the connection ends up idle.
#[test]
fn loom_expiry_races_release() {
    loom::model(|| {
        let core = core(1, 1);
        let held = acquire(&core, 100).expect("idle connection");
        let waiter = {
            let core = core.clone();
            thread::spawn(move || {
                if let Ok(c) = acquire_until(&core, 5) {
                    apply(core.release(c));
                }
            })
        };
        let housekeeper = {
            let core = core.clone();
            thread::spawn(move || {
                for w in core.expire(10) {
                    w.wake();
                }
            })
        };
        apply(core.release(held));
        waiter.join().unwrap();
        housekeeper.join().unwrap();
        let (g, c) = core.snapshot();
        assert_eq!((g.size, g.idle, g.in_use, g.waiters), (1, 1, 0, 0));
        assert!(c.timeouts <= 1);
        assert_balanced(&core);
    });
}
