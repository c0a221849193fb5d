//! The process's resident memory, for the memory-growth check.

/// Resident set size in KiB (`VmRSS` in /proc/self/status); `None` where
/// the platform has no procfs.
pub(crate) fn rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}
