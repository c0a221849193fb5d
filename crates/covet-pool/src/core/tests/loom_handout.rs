//! No double handout, and max_size is never exceeded.

use super::loom_support::{acquire, apply, assert_balanced, core};
use crate::loom::sync::Arc;
use crate::loom::sync::atomic::{AtomicBool, Ordering};
use crate::loom::thread;

/// Two tasks contend for one pre-warmed connection; it is never held by
/// both at once and ends up idle.
#[test]
fn loom_no_double_handout() {
    loom::model(|| {
        let core = core(1, 1);
        let held = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (core, held) = (core.clone(), held.clone());
                thread::spawn(move || {
                    let c = acquire(&core, 100).expect("pool is open");
                    assert!(
                        !held.swap(true, Ordering::SeqCst),
                        "connection handed out twice"
                    );
                    held.store(false, Ordering::SeqCst);
                    apply(core.release(c));
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let (g, c) = core.snapshot();
        assert_eq!((g.size, g.idle, g.in_use, g.waiters), (1, 1, 0, 0));
        assert_eq!(c.acquired, 2);
        assert_balanced(&core);
    });
}

/// Two tasks start from an empty pool of one slot: exactly one create is
/// reserved and both are served by that one connection.
#[test]
fn loom_max_size_never_exceeded() {
    loom::model(|| {
        let core = core(1, 0);
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let core = core.clone();
                thread::spawn(move || {
                    let c = acquire(&core, 10 * (t + 1)).expect("pool is open");
                    let (g, _) = core.snapshot();
                    assert!(g.size + g.pending <= 1, "over max_size: {g:?}");
                    apply(core.release(c));
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let (g, c) = core.snapshot();
        assert_eq!(c.created, 1);
        assert_eq!((g.size, g.idle, g.pending), (1, 1, 0));
        assert_balanced(&core);
    });
}
