//! Retention: which backups to keep, and pruning the rest.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Utc};
use futures_util::FutureExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::crypto::{KeySource, hex};
use crate::error::{BackupError, Result};
use crate::sink::{BackupEntry, BackupSink};

/// Which backups to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionPolicy {
    /// Keep backups younger than this many days (the original plan's 30).
    MaxAgeDays(u32),
    /// Keep the newest backup of each of the last `daily` days, `weekly` ISO
    /// weeks and `monthly` months that have backups (grandfather-father-son).
    Keep {
        /// Days.
        daily: u32,
        /// ISO weeks.
        weekly: u32,
        /// Calendar months.
        monthly: u32,
    },
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy::MaxAgeDays(30)
    }
}

impl FromStr for RetentionPolicy {
    type Err = BackupError;

    /// `30d`, or `daily=7,weekly=4,monthly=12` (any subset).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            BackupError::Config(format!(
                "invalid retention {s:?}: expected like `30d` or `daily=7,weekly=4,monthly=12`"
            ))
        };
        if let Some(d) = s.strip_suffix('d') {
            return d
                .parse()
                .map(RetentionPolicy::MaxAgeDays)
                .map_err(|_| bad());
        }
        let (mut daily, mut weekly, mut monthly) = (0, 0, 0);
        for part in s.split(',') {
            let (k, v) = part.split_once('=').ok_or_else(bad)?;
            let v: u32 = v.trim().parse().map_err(|_| bad())?;
            match k.trim() {
                "daily" => daily = v,
                "weekly" => weekly = v,
                "monthly" => monthly = v,
                _ => return Err(bad()),
            }
        }
        if daily + weekly + monthly == 0 {
            return Err(bad());
        }
        Ok(RetentionPolicy::Keep {
            daily,
            weekly,
            monthly,
        })
    }
}

/// What a prune keeps and deletes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrunePlan {
    /// Backups kept, with why.
    pub keep: Vec<(String, String)>,
    /// Backups to delete.
    pub delete: Vec<String>,
}

/// Applies `policy` to `entries` at time `now`. `protected` (the newest
/// verified backup) is always kept.
pub(crate) fn plan(
    entries: &[BackupEntry],
    policy: RetentionPolicy,
    now: DateTime<Utc>,
    protected: Option<&str>,
) -> PrunePlan {
    let mut sorted: Vec<&BackupEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.name.cmp(&a.name))
    });
    let mut reasons: Vec<(String, String)> = Vec::new();
    let mut kept: HashSet<&str> = HashSet::new();
    let mut keep = |name: &str, why: String| {
        if let Some(r) = reasons.iter_mut().find(|(n, _)| n == name) {
            r.1.push_str(", ");
            r.1.push_str(&why);
        } else {
            reasons.push((name.to_owned(), why));
        }
    };
    match policy {
        RetentionPolicy::MaxAgeDays(days) => {
            let cutoff = now - chrono::Duration::days(i64::from(days));
            for e in &sorted {
                if e.created_at >= cutoff {
                    keep(&e.name, format!("younger than {days} days"));
                    kept.insert(&e.name);
                }
            }
        }
        RetentionPolicy::Keep {
            daily,
            weekly,
            monthly,
        } => {
            type Bucket = fn(&DateTime<Utc>) -> (i32, u32);
            let rules: [(&str, u32, Bucket); 3] = [
                ("daily", daily, |t| (t.year(), t.ordinal())),
                ("weekly", weekly, |t| {
                    let w = t.iso_week();
                    (w.year(), w.week())
                }),
                ("monthly", monthly, |t| (t.year(), t.month())),
            ];
            for (rule, n, bucket) in rules {
                let mut seen = Vec::new();
                for e in &sorted {
                    if seen.len() as u32 >= n {
                        break;
                    }
                    let b = bucket(&e.created_at);
                    if !seen.contains(&b) {
                        seen.push(b);
                        keep(&e.name, format!("{rule} {}", seen.len()));
                        kept.insert(&e.name);
                    }
                }
            }
        }
    }
    if let Some(p) = protected {
        keep(p, "newest verified backup".into());
        kept.insert(p);
    }
    let delete = sorted
        .iter()
        .filter(|e| !kept.contains(e.name.as_str()))
        .map(|e| e.name.clone())
        .collect();
    PrunePlan {
        keep: reasons,
        delete,
    }
}

/// What a prune did.
#[derive(Debug, Clone)]
pub struct PruneReport {
    /// The plan.
    pub plan: PrunePlan,
    /// The newest backup that verified (never deleted).
    pub newest_verified: String,
    /// Whether it was fully verified (with the key), or only checked against
    /// its index entry's size and SHA-256 (an encrypted backup without key).
    pub fully_verified: bool,
    /// Whether deletions were carried out (false for a dry run).
    pub deleted: bool,
    /// Abandoned partial files of crashed or killed writers that were
    /// removed (none in a dry run, which removes nothing).
    pub stale_partials: Vec<String>,
}

/// Reads a backup and compares its size and SHA-256 with its index entry.
pub(crate) async fn check_integrity(sink: &dyn BackupSink, entry: &BackupEntry) -> Result<()> {
    let mut r = sink.open(&entry.name).await?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut size = 0u64;
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| BackupError::io(format!("reading {}", entry.name), e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    if size != entry.size || hex(&h.finalize()) != entry.sha256 {
        return Err(BackupError::IndexMismatch {
            name: entry.name.clone(),
            reason: "size or SHA-256 differs".into(),
        });
    }
    Ok(())
}

/// Deletes the backups `policy` does not keep. First finds the newest
/// backup that verifies (fully with `key`, or for an encrypted backup
/// without key, against its index entry) and never deletes it; refuses to
/// delete anything when none verifies.
pub async fn prune(
    sink: &dyn BackupSink,
    policy: RetentionPolicy,
    key: Option<&KeySource>,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<PruneReport> {
    // Partial files of crashed writers are cleaned even when nothing
    // verifies: they are never backups.
    let stale_partials = if dry_run {
        Vec::new()
    } else {
        sink.clean_stale().await?
    };
    // Sealed objects (WAL, binlog) are pruned by covet-pitr with their
    // base backups, never by backup retention.
    let entries: Vec<BackupEntry> = sink
        .list()
        .await?
        .into_iter()
        .filter(|e| !crate::object::is_object_entry(e))
        .collect();
    let mut newest = None;
    for e in &entries {
        let full = !e.encrypted || key.is_some();
        let ok = if full {
            crate::verify::verify(sink, &e.name, key)
                .map(|r| r.map(|_| ()))
                .await
        } else {
            check_integrity(sink, e).await
        };
        match ok {
            Ok(()) => {
                newest = Some((e.name.clone(), full));
                break;
            }
            Err(err) => {
                tracing::warn!(backup = %e.name, error = %err, "backup does not verify");
            }
        }
    }
    let Some((newest, fully_verified)) = newest else {
        return Err(BackupError::NothingVerified {
            count: entries.len(),
        });
    };
    let plan = plan(&entries, policy, now, Some(&newest));
    if !dry_run {
        for name in &plan.delete {
            sink.delete(name).await?;
        }
    }
    Ok(PruneReport {
        plan,
        newest_verified: newest,
        fully_verified,
        deleted: !dry_run,
        stale_partials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn entry(name: &str, at: DateTime<Utc>) -> BackupEntry {
        BackupEntry {
            name: name.into(),
            created_at: at,
            finished_at: at,
            engine: "sqlite".into(),
            database: "d".into(),
            size: 1,
            sha256: String::new(),
            encrypted: false,
            key_id: None,
            compression: "zstd".into(),
            tables: 0,
            rows: 0,
            format_version: 1,
            tool_version: "0".into(),
        }
    }

    fn daily_for(days: i64, now: DateTime<Utc>) -> Vec<BackupEntry> {
        (0..days)
            .map(|d| {
                entry(
                    &format!("b{d:03}"),
                    now - chrono::Duration::days(d) - chrono::Duration::hours(1),
                )
            })
            .collect()
    }

    #[test]
    fn max_age_keeps_thirty_days() {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
        let es = daily_for(45, now);
        let p = plan(&es, RetentionPolicy::MaxAgeDays(30), now, None);
        assert_eq!(p.keep.len(), 30);
        assert_eq!(p.delete.len(), 15);
        assert!(p.delete.contains(&"b044".to_string()));
    }

    #[test]
    fn protected_backup_is_never_deleted() {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
        let es = daily_for(45, now);
        // Every recent backup failed to verify: the newest verified one is old.
        let p = plan(&es, RetentionPolicy::MaxAgeDays(30), now, Some("b040"));
        assert!(!p.delete.contains(&"b040".to_string()));
        assert_eq!(p.delete.len(), 14);
    }

    #[test]
    fn grandfather_father_son() {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
        let mut es = daily_for(400, now);
        // Two backups on the newest day: only the newer counts for daily.
        es.push(entry("extra", now - chrono::Duration::hours(5)));
        let pol: RetentionPolicy = "daily=7,weekly=4,monthly=12".parse().unwrap();
        let p = plan(&es, pol, now, None);
        let kept: Vec<_> = p.keep.iter().map(|k| k.0.clone()).collect();
        assert!(kept.contains(&"b000".into()));
        assert!(!kept.contains(&"extra".into()));
        // 7 days + about 3 older weeks + about 11 older months, overlapping.
        assert!((18..=23).contains(&kept.len()), "{kept:?}");
        assert_eq!(kept.len() + p.delete.len(), es.len());
    }

    #[test]
    fn parse_policies() {
        assert_eq!(
            "30d".parse::<RetentionPolicy>().unwrap(),
            RetentionPolicy::MaxAgeDays(30)
        );
        assert!("daily=x".parse::<RetentionPolicy>().is_err());
        assert!("hourly=3".parse::<RetentionPolicy>().is_err());
        assert!("daily=0".parse::<RetentionPolicy>().is_err());
    }
}
