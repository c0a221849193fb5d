//! Leak detection: the table of open checkouts and the hook called for
//! each one held past the threshold.

use std::panic::Location;
use std::time::Duration;

/// Reports leaked checkouts. Called from the housekeeper with the place
/// `get()` was called and how long the connection has been held.
pub type LeakHook = Box<dyn Fn(&'static Location<'static>, Duration) + Send + Sync>;

/// Open checkouts, tracked only when leak detection is on.
pub(super) struct LeakTable {
    pub(super) slots: Vec<Option<LeakEntry>>,
    pub(super) free: Vec<u32>,
}

/// One open checkout: since when, and where `get()` was called.
pub(super) struct LeakEntry {
    since: u64,
    site: &'static Location<'static>,
    reported: bool,
}

impl LeakTable {
    pub(super) fn insert(&mut self, since: u64, site: &'static Location<'static>) -> u32 {
        let entry = Some(LeakEntry {
            since,
            site,
            reported: false,
        });
        if let Some(i) = self.free.pop() {
            self.slots[i as usize] = entry;
            i
        } else {
            self.slots.push(entry);
            (self.slots.len() - 1) as u32
        }
    }

    pub(super) fn remove(&mut self, i: u32) {
        self.slots[i as usize] = None;
        self.free.push(i);
    }

    pub(super) fn scan(
        &mut self,
        now: u64,
        threshold: Duration,
    ) -> Vec<(&'static Location<'static>, Duration)> {
        let mut out = Vec::new();
        for e in self.slots.iter_mut().flatten() {
            let held = Duration::from_millis(now.saturating_sub(e.since));
            if !e.reported && held >= threshold {
                e.reported = true;
                out.push((e.site, held));
            }
        }
        out
    }
}
