//! The bounded per-fingerprint table and the slowest-statements heap.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Fingerprint ids are already well-mixed hashes; hashing them again is
/// wasted work.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Statistics for one fingerprint.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FingerprintStats {
    /// The fingerprint id, 16 hex digits.
    pub fingerprint: String,
    /// The fingerprint text (absent under `Redaction::None`).
    pub text: Option<String>,
    /// The operation (`select`, `update`, ...).
    pub operation: &'static str,
    /// Slow calls recorded.
    pub calls: u64,
    /// Of which failed.
    pub errors: u64,
    /// Total time of the slow calls.
    pub total: Duration,
    /// Mean time.
    pub mean: Duration,
    /// Longest time.
    pub max: Duration,
    /// Median (from a histogram: within about 6 %).
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// The last captured plan, if any.
    pub plan: Option<String>,
}

/// One of the slowest statements seen.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlowSample {
    /// How long it took.
    pub elapsed: Duration,
    /// Its fingerprint id.
    pub fingerprint: String,
    /// Its text as the redaction mode allows.
    pub text: Option<String>,
    /// When it finished, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// A copy of the log's state.
#[derive(Debug, Clone, Serialize)]
pub struct SlowLogSnapshot {
    /// Every fingerprint held, by total time, largest first.
    pub fingerprints: Vec<FingerprintStats>,
    /// The slowest statements, slowest first.
    pub slowest: Vec<SlowSample>,
    /// Fingerprints evicted to stay within capacity.
    pub evictions: u64,
    /// The table's capacity.
    pub capacity: usize,
}

impl SlowLogSnapshot {
    /// The `n` fingerprints seen slow most often.
    pub fn most_frequent(&self, n: usize) -> Vec<&FingerprintStats> {
        let mut v: Vec<_> = self.fingerprints.iter().collect();
        v.sort_by(|a, b| b.calls.cmp(&a.calls).then(b.total.cmp(&a.total)));
        v.truncate(n);
        v
    }
}

pub(crate) struct Entry {
    pub(crate) id: u64,
    pub(crate) text: Option<Box<str>>,
    pub(crate) operation: &'static str,
    pub(crate) calls: u64,
    pub(crate) errors: u64,
    pub(crate) total_ns: u64,
    pub(crate) max_ns: u64,
    /// Microseconds; one significant digit is ~6 % resolution in under 2 KB.
    pub(crate) hist: Histogram<u32>,
    pub(crate) plan: Option<Box<str>>,
    pub(crate) plan_tried_ns: Option<u64>,
}

impl Entry {
    fn new(id: u64, text: Option<Box<str>>, operation: &'static str) -> Self {
        // 1 us .. 1 h at one significant digit: a fixed ~2 KB of counts, so
        // the table's memory is capacity x a known size.
        #[allow(clippy::expect_used)]
        let hist =
            Histogram::new_with_bounds(1, 3_600_000_000, 1).expect("fixed, valid histogram bounds");
        Entry {
            id,
            text,
            operation,
            calls: 0,
            errors: 0,
            total_ns: 0,
            max_ns: 0,
            hist,
            plan: None,
            plan_tried_ns: None,
        }
    }

    pub(crate) fn stats(&self) -> FingerprintStats {
        let q = |p: f64| Duration::from_micros(self.hist.value_at_quantile(p));
        let total = Duration::from_nanos(self.total_ns);
        FingerprintStats {
            fingerprint: format!("{:016x}", self.id),
            text: self.text.as_deref().map(str::to_owned),
            operation: self.operation,
            calls: self.calls,
            errors: self.errors,
            total,
            mean: if self.calls == 0 {
                Duration::ZERO
            } else {
                total / self.calls as u32
            },
            max: Duration::from_nanos(self.max_ns),
            p50: q(0.50),
            p95: q(0.95),
            p99: q(0.99),
            plan: self.plan.as_deref().map(str::to_owned),
        }
    }
}

/// The fixed-capacity table.
pub(crate) struct Table {
    pub(crate) entries: Vec<Entry>,
    index: HashMap<u64, usize, BuildHasherDefault<IdHasher>>,
    capacity: usize,
    pub(crate) evictions: u64,
    rng: u64,
    slowest: BinaryHeap<Reverse<(Duration, u64, SlowSampleBody)>>,
    top_n: usize,
    seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SlowSampleBody {
    fingerprint: u64,
    text: Option<Box<str>>,
    at_ms: u64,
}

const EVICTION_SAMPLES: usize = 8;

impl Table {
    pub(crate) fn new(capacity: usize, top_n: usize) -> Self {
        Table {
            entries: Vec::with_capacity(capacity),
            index: HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default()),
            capacity,
            evictions: 0,
            rng: 0x9e37_79b9_7f4a_7c15,
            slowest: BinaryHeap::with_capacity(top_n + 1),
            top_n,
            seq: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64: enough to pick eviction candidates.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// The entry for `id`, created (evicting one if full) with `make`.
    pub(crate) fn entry(
        &mut self,
        id: u64,
        make: impl FnOnce() -> (Option<Box<str>>, &'static str),
    ) -> &mut Entry {
        if let Some(&i) = self.index.get(&id) {
            return &mut self.entries[i];
        }
        if self.entries.len() >= self.capacity {
            let mut victim = (self.next_rand() as usize) % self.entries.len();
            for _ in 1..EVICTION_SAMPLES {
                let c = (self.next_rand() as usize) % self.entries.len();
                if self.entries[c].total_ns < self.entries[victim].total_ns {
                    victim = c;
                }
            }
            let gone = self.entries.swap_remove(victim);
            self.index.remove(&gone.id);
            if let Some(moved) = self.entries.get(victim) {
                self.index.insert(moved.id, victim);
            }
            self.evictions += 1;
        }
        let (text, op) = make();
        self.entries.push(Entry::new(id, text, op));
        let i = self.entries.len() - 1;
        self.index.insert(id, i);
        &mut self.entries[i]
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Entry> {
        let i = *self.index.get(&id)?;
        self.entries.get_mut(i)
    }

    pub(crate) fn offer_slowest(
        &mut self,
        elapsed: Duration,
        fingerprint: u64,
        text: Option<&str>,
        at_ms: u64,
    ) {
        if self.top_n == 0 {
            return;
        }
        if self.slowest.len() >= self.top_n
            && self
                .slowest
                .peek()
                .is_some_and(|Reverse((d, _, _))| *d >= elapsed)
        {
            return;
        }
        self.seq += 1;
        self.slowest.push(Reverse((
            elapsed,
            self.seq,
            SlowSampleBody {
                fingerprint,
                text: text.map(Into::into),
                at_ms,
            },
        )));
        if self.slowest.len() > self.top_n {
            self.slowest.pop();
        }
    }

    pub(crate) fn snapshot(&self) -> SlowLogSnapshot {
        let mut fingerprints: Vec<_> = self.entries.iter().map(Entry::stats).collect();
        fingerprints.sort_by_key(|f| std::cmp::Reverse(f.total));
        let mut slowest: Vec<_> = self
            .slowest
            .iter()
            .map(|Reverse((d, _, b))| SlowSample {
                elapsed: *d,
                fingerprint: format!("{:016x}", b.fingerprint),
                text: b.text.as_deref().map(str::to_owned),
                at_ms: b.at_ms,
            })
            .collect();
        slowest.sort_by_key(|s| std::cmp::Reverse(s.elapsed));
        SlowLogSnapshot {
            fingerprints,
            slowest,
            evictions: self.evictions,
            capacity: self.capacity,
        }
    }

    /// The ids of the `k` entries with the most total time.
    pub(crate) fn top_k(&self, k: usize) -> Vec<u64> {
        let mut v: Vec<(u64, u64)> = self.entries.iter().map(|e| (e.total_ns, e.id)).collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().take(k).map(|(_, id)| id).collect()
    }
}
