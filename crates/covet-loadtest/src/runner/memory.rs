//! Resident-memory sampling during a run and the memory summary of the
//! report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::mem;
use crate::report::MemoryReport;

/// The memory summary from the once-a-second samples (`warm` of them in
/// the warm-up); none when resident memory cannot be read here.
pub(super) fn memory_report(
    start: Option<u64>,
    samples: &[u64],
    warm: usize,
) -> Option<MemoryReport> {
    let start_kb = start?;
    let end_kb = *samples.last()?;
    // Growth is measured from the end of the warm-up, once pools, caches
    // and histograms have reached their working size.
    let base = samples
        .get(warm.saturating_sub(1))
        .copied()
        .unwrap_or(start_kb);
    let peak_kb = samples.iter().copied().max().unwrap_or(end_kb);
    Some(MemoryReport {
        start_kb,
        after_warmup_kb: base,
        end_kb,
        peak_kb,
        growth_kb: end_kb as i64 - base as i64,
        growth_pct: if base > 0 {
            (end_kb as f64 - base as f64) / base as f64 * 100.0
        } else {
            0.0
        },
    })
}

/// Samples the resident memory once a second until `done`.
pub(super) async fn sample_memory(done: Arc<AtomicBool>) -> Vec<u64> {
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    while !done.load(Ordering::Relaxed) {
        tick.tick().await;
        match mem::rss_kb() {
            Some(kb) => out.push(kb),
            None => break,
        }
    }
    out
}
