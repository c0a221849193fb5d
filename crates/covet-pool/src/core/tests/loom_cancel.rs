//! A cancelled waiter leaks nothing.

use super::loom_support::{acquire, acquire_then_cancel, apply, assert_balanced, core};
use crate::loom::thread;

/// A waiter gives up while the connection is being released to it: the
/// connection ends up idle (or with the waiter, if it got it in time) and
/// nothing is lost.
#[test]
fn loom_cancelled_waiter_leaks_nothing() {
    loom::model(|| {
        let core = core(1, 1);
        let held = acquire(&core, 100).expect("idle connection");
        let waiter = {
            let core = core.clone();
            thread::spawn(move || {
                if let Some(c) = acquire_then_cancel(&core) {
                    apply(core.release(c));
                }
            })
        };
        apply(core.release(held));
        waiter.join().unwrap();
        let (g, _) = core.snapshot();
        assert_eq!((g.size, g.idle, g.in_use, g.waiters), (1, 1, 0, 0));
        assert_balanced(&core);
        assert_eq!(core.allocations().0, 0, "waiter slab emptied");
    });
}

/// A connection granted to a waiter that then gives up passes to the next
/// waiter, who must be woken.
#[test]
fn loom_cancelled_grant_passes_to_next_waiter() {
    loom::model(|| {
        let core = core(1, 1);
        let held = acquire(&core, 100).expect("idle connection");
        let quitter = {
            let core = core.clone();
            thread::spawn(move || {
                if let Some(c) = acquire_then_cancel(&core) {
                    apply(core.release(c));
                }
            })
        };
        let patient = {
            let core = core.clone();
            thread::spawn(move || {
                let c = acquire(&core, 100).expect("pool is open");
                apply(core.release(c));
            })
        };
        apply(core.release(held));
        quitter.join().unwrap();
        patient.join().unwrap();
        let (g, _) = core.snapshot();
        assert_eq!((g.size, g.idle, g.in_use, g.waiters), (1, 1, 0, 0));
        assert_balanced(&core);
    });
}
