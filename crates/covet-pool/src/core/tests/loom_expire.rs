//! A waiter's deadline passing while a connection is released (or the pool
//! closes) loses nothing. The timer itself stays outside the model: its
//! firing is the waiter calling `Core::time_out`, raced against the others.

use super::loom_support::{acquire, acquire_then_time_out, apply, assert_balanced, core};
use crate::loom::thread;

/// A waiter times out at the moment the holder releases: it either gets
/// the connection (the release came first) or times out (it came after),
/// never both and never neither, and the connection ends up idle.
#[test]
fn loom_expiry_races_release() {
    loom::model(|| {
        let core = core(1, 1);
        let held = acquire(&core, 100).expect("idle connection");
        let waiter = {
            let core = core.clone();
            thread::spawn(move || match acquire_then_time_out(&core) {
                Ok(c) => {
                    apply(core.release(c));
                    true
                }
                Err(()) => false,
            })
        };
        apply(core.release(held));
        let served = waiter.join().unwrap();
        let (g, c) = core.snapshot();
        assert_eq!((g.size, g.idle, g.in_use, g.waiters), (1, 1, 0, 0));
        assert_eq!(c.timeouts, u64::from(!served), "served xor timed out");
        assert_eq!(c.acquired, 1 + u64::from(served));
        assert_balanced(&core);
        assert_eq!(core.allocations().0, 0, "waiter slab emptied");
    });
}

/// The first waiter times out while the connection is released; the second
/// waiter is served whichever way the race goes (loom reports a deadlock if
/// the connection is stranded with the one that left).
#[test]
fn loom_expired_waiter_never_strands_a_release() {
    loom::model(|| {
        let core = core(1, 1);
        let held = acquire(&core, 100).expect("idle connection");
        let quitter = {
            let core = core.clone();
            thread::spawn(move || {
                if let Ok(c) = acquire_then_time_out(&core) {
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
        let (g, c) = core.snapshot();
        assert_eq!((g.size, g.idle, g.in_use, g.waiters), (1, 1, 0, 0));
        assert!(c.timeouts <= 1);
        assert_eq!(c.acquired - c.released, 0);
        assert_balanced(&core);
    });
}

/// A waiter times out while the pool closes: it ends with one outcome
/// (closed or timed out), the queue empties, and the held connection is
/// closed on return, leaving the pool drained.
#[test]
fn loom_expiry_races_close() {
    loom::model(|| {
        let core = core(1, 1);
        let held = acquire(&core, 100).expect("idle connection");
        let waiter = {
            let core = core.clone();
            thread::spawn(move || acquire_then_time_out(&core))
        };
        let (idle, wakers, _) = core.close();
        assert!(idle.is_empty());
        for w in wakers {
            w.wake();
        }
        assert_eq!(waiter.join().unwrap(), Err(()), "nothing to hand out");
        let fx = core.release(held);
        assert!(fx.close.is_some() && fx.drained, "closed on return");
        let (g, c) = core.snapshot();
        assert_eq!((g.size, g.waiters), (0, 0));
        assert!(c.timeouts <= 1);
        assert_balanced(&core);
        assert_eq!(core.allocations().0, 0, "waiter slab emptied");
    });
}
