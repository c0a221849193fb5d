//! The WAL chain: which segments the repository holds per timeline, what
//! each base backup can be recovered to, verification and retention.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use covet_backup::object::{ObjectInfo, ObjectReader, list_objects, verify_object};

use super::Repo;
use super::base::{
    BaseManifest, KIND_BASE, KIND_MANIFEST, list_base_backups, manifest_object, read_small,
};
use super::wal::{
    HistoryEntry, Lsn, WAL_PREFIX, WalFile, parse_history, segment_name, segno, timeline_for,
    timeline_path,
};
use crate::error::{PitrError, Result};

/// The WAL objects of a repository, indexed.
pub(crate) struct WalIndex {
    pub(crate) seg_size: u64,
    /// timeline -> segment number -> object.
    pub(crate) segments: HashMap<u32, BTreeMap<u64, ObjectInfo>>,
    /// timeline -> its history file's ancestors (read and checked).
    pub(crate) histories: BTreeMap<u32, Vec<HistoryEntry>>,
    /// timeline -> its history file's object (its push time bounds the
    /// time of the switch).
    pub(crate) history_objects: BTreeMap<u32, ObjectInfo>,
    /// Every WAL-archive object, for verification and pruning.
    pub(crate) all: Vec<(WalFile, ObjectInfo)>,
}

impl WalIndex {
    /// Lists the repository's WAL and reads its history files. The segment
    /// size comes from the base backups, else from the segments' length.
    pub(crate) async fn load(repo: &Repo, bases: &[BaseManifest]) -> Result<WalIndex> {
        let objects = list_objects(repo.sink(), None).await?;
        let mut all = Vec::new();
        for o in objects {
            let Some(file) = o.name.strip_prefix(WAL_PREFIX) else {
                continue;
            };
            if let Ok(w) = WalFile::parse(file) {
                all.push((w, o));
            }
        }
        let seg_size = match bases.first() {
            Some(b) => b.wal_segment_size,
            None => all
                .iter()
                .find(|(w, _)| matches!(w, WalFile::Segment { .. }))
                .map_or(16 << 20, |(_, o)| o.plain_len),
        };
        let seg_size = super::wal::check_seg_size(seg_size)?;
        let mut segments: HashMap<u32, BTreeMap<u64, ObjectInfo>> = HashMap::new();
        let mut histories = BTreeMap::new();
        let mut history_objects = BTreeMap::new();
        for (w, o) in &all {
            match w {
                WalFile::Segment { timeline, log_seg } => {
                    segments
                        .entry(*timeline)
                        .or_default()
                        .insert(segno(*log_seg, seg_size), o.clone());
                }
                WalFile::History { timeline } => {
                    let text = read_small(repo, &o.name).await?;
                    let h = parse_history(&String::from_utf8_lossy(&text))?;
                    histories.insert(*timeline, h);
                    history_objects.insert(*timeline, o.clone());
                }
                _ => {}
            }
        }
        Ok(WalIndex {
            seg_size,
            segments,
            histories,
            history_objects,
            all,
        })
    }

    /// The newest timeline the repository knows.
    pub(crate) fn latest_timeline(&self, bases: &[BaseManifest]) -> u32 {
        let a = self.histories.keys().copied().max().unwrap_or(1);
        let b = self.segments.keys().copied().max().unwrap_or(1);
        let c = bases.iter().map(|b| b.timeline).max().unwrap_or(1);
        a.max(b).max(c)
    }

    /// The `(timeline, first segment)` path a recovery to `timeline` walks
    /// (its history file's ancestors; just itself without one).
    pub(crate) fn path(&self, timeline: u32) -> Vec<(u32, u64)> {
        let h = self.histories.get(&timeline).map_or(&[][..], |h| &h[..]);
        timeline_path(timeline, h, self.seg_size)
    }

    /// The LSN each step of `path(timeline)` begins at.
    fn switch_points(&self, timeline: u32) -> Vec<Lsn> {
        let h = self.histories.get(&timeline).map_or(&[][..], |h| &h[..]);
        std::iter::once(Lsn(0))
            .chain(h.iter().map(|e| e.switch))
            .collect()
    }

    fn has(&self, timeline: u32, seg: u64) -> Option<&ObjectInfo> {
        self.segments.get(&timeline).and_then(|m| m.get(&seg))
    }

    /// The highest segment archived on `path` (only segments of each
    /// timeline within its stretch of the path count).
    fn path_max(&self, path: &[(u32, u64)]) -> Option<u64> {
        let mut best = None;
        for (i, (t, begin)) in path.iter().enumerate() {
            let end = path.get(i + 1).map_or(u64::MAX, |(_, b)| *b);
            if let Some(m) = self.segments.get(t)
                && let Some((s, _)) = m.range(*begin..end).next_back()
            {
                best = best.max(Some(*s));
            }
        }
        best
    }

    /// What `base` can be recovered to along the path to `timeline`.
    pub(crate) fn coverage(&self, base: &BaseManifest, timeline: u32) -> Result<Coverage> {
        let path = self.path(timeline);
        let start = base.start()?.segment(self.seg_size);
        let stop = base.stop()?;
        let stop_seg = stop.0.saturating_sub(1) / self.seg_size;
        let on_path = timeline_for(&path, start) == base.timeline;
        let mut cov = Coverage {
            base: base.name.clone(),
            timeline,
            on_path,
            from_lsn: stop,
            from_time: base.stop_time,
            to_lsn: None,
            to_time: None,
            last_segment: None,
            first_missing: None,
        };
        if !on_path {
            return Ok(cov);
        }
        let max = self.path_max(&path).unwrap_or(0);
        let switches = self.switch_points(timeline);
        let mut s = start;
        // The last segment of the unbroken chain and, when the chain had to
        // end at a switch point, that point and when it was made.
        let mut last: Option<(u64, u32, &ObjectInfo)> = None;
        let mut cap: Option<(Lsn, DateTime<Utc>)> = None;
        loop {
            let k = path.iter().rposition(|(_, b)| *b <= s).unwrap_or(0);
            let t = path[k].0;
            if let Some(o) = self.has(t, s) {
                last = Some((s, t, o));
                s += 1;
                continue;
            }
            // PostgreSQL falls back to an ancestor's file of the same
            // segment (newest first): it holds the same records up to the
            // next switch point, so the chain goes on up to that point
            // and ends there.
            let seg_start = s * self.seg_size;
            let older = (0..k).rev().find_map(|j| {
                // Only when the next switch point lies inside this segment:
                // an ancestor's segment wholly after it holds nothing of
                // this path.
                let switch = switches.get(j + 1).copied().unwrap_or(Lsn(u64::MAX));
                (switch.0 > seg_start)
                    .then(|| self.has(path[j].0, s).map(|o| (j, o)))
                    .flatten()
            });
            if let Some((j, o)) = older {
                let switch = switches.get(j + 1).copied().unwrap_or(Lsn(u64::MAX));
                let made = self
                    .history_objects
                    .get(&path[j + 1].0)
                    .map_or(o.created_at, |h| h.created_at);
                last = Some((s, path[j].0, o));
                cap = Some((switch, made.min(o.created_at)));
                s += 1;
            }
            if older.is_none() || cap.is_some() {
                if older.is_none() && (s <= max || s <= stop_seg) {
                    cov.first_missing = Some(segment_name(t, s, self.seg_size));
                }
                break;
            }
        }
        if let Some((last_seg, t, o)) = last {
            cov.last_segment = Some(segment_name(t, last_seg, self.seg_size));
            if last_seg >= stop_seg {
                let (l, when) = cap.unwrap_or((Lsn((last_seg + 1) * self.seg_size), o.created_at));
                cov.to_lsn = Some(l);
                cov.to_time = Some(when);
            }
        }
        Ok(cov)
    }
}

/// What one base backup can be recovered to along one timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// The base backup.
    pub base: String,
    /// The timeline whose path was followed.
    pub timeline: u32,
    /// Whether the base backup lies on that timeline's path at all.
    pub on_path: bool,
    /// The earliest consistent point: the backup's stop LSN.
    pub from_lsn: Lsn,
    /// When the backup stopped.
    pub from_time: DateTime<Utc>,
    /// The end of the last segment of the unbroken chain, when the chain
    /// reaches the consistent point at all.
    pub to_lsn: Option<Lsn>,
    /// When that last segment was archived: recovery to a later time is
    /// not covered (an upper bound on the time of its last commit).
    pub to_time: Option<DateTime<Utc>>,
    /// The last segment of the unbroken chain.
    pub last_segment: Option<String>,
    /// The first segment missing where the chain should go on (segments
    /// after it are archived, or the consistent point is beyond it).
    pub first_missing: Option<String>,
}

impl Coverage {
    /// Whether recovery from this base backup reaches consistency.
    pub fn usable(&self) -> bool {
        self.on_path && self.to_lsn.is_some()
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.on_path {
            return write!(f, "{}: not on timeline {}", self.base, self.timeline);
        }
        match (self.to_lsn, self.to_time) {
            (Some(l), Some(t)) => write!(
                f,
                "{}: {} ({}) to {} (about {}) on timeline {}",
                self.base,
                self.from_lsn,
                self.from_time.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
                l,
                t.format("%Y-%m-%d %H:%M:%S%.3f UTC"),
                self.timeline
            )?,
            _ => write!(
                f,
                "{}: not restorable on timeline {} (its WAL to the consistent point {} is incomplete)",
                self.base, self.timeline, self.from_lsn
            )?,
        }
        if let Some(m) = &self.first_missing {
            write!(f, ", then missing {m}")?;
        }
        Ok(())
    }
}

/// What `verify` checks beyond the chain.
#[derive(Debug, Clone, Copy, Default)]
pub struct VerifyOptions {
    /// Read and authenticate every object in full (otherwise only each
    /// object's header is read, which checks the key).
    pub deep: bool,
}

/// What `verify` found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Per base backup and timeline, what it covers.
    pub coverage: Vec<Coverage>,
    /// Objects read.
    pub objects_checked: usize,
    /// Everything wrong, one line each; empty when the repository is sound.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the repository: every base backup's WAL chain is unbroken on
/// every timeline that descends from it (the first missing segment is
/// named), every timeline with segments has its history file, and every
/// object opens with the key (`deep`: reads and authenticates in full).
pub async fn verify(repo: &Repo, opts: VerifyOptions) -> Result<VerifyReport> {
    let mut rep = VerifyReport::default();
    let bases = list_base_backups(repo).await?;
    let idx = WalIndex::load(repo, &bases).await?;
    for t in idx.segments.keys() {
        if *t > 1 && !idx.histories.contains_key(t) {
            rep.problems.push(format!(
                "timeline {t} has segments but its history file {t:08X}.history is missing"
            ));
        }
    }
    let mut timelines: Vec<u32> = idx.segments.keys().copied().collect();
    timelines.extend(idx.histories.keys().copied());
    timelines.sort_unstable();
    timelines.dedup();
    for b in &bases {
        for &t in &timelines {
            let c = idx.coverage(b, t)?;
            if !c.on_path {
                continue;
            }
            if let Some(m) = &c.first_missing {
                rep.problems.push(format!(
                    "base backup {}, timeline {t}: WAL segment {m} is missing",
                    b.name
                ));
            } else if c.to_lsn.is_none() {
                rep.problems.push(format!(
                    "base backup {}: no WAL archived from {}",
                    b.name, b.start_wal
                ));
            }
            rep.coverage.push(c);
        }
    }
    if bases.is_empty() {
        rep.problems
            .push("no complete base backup in the repository".into());
    }
    for o in list_objects(repo.sink(), None).await? {
        let wanted =
            o.name.starts_with(WAL_PREFIX) || o.kind == KIND_BASE || o.kind == KIND_MANIFEST;
        if !wanted {
            continue;
        }
        rep.objects_checked += 1;
        let r = if opts.deep {
            verify_object(repo.sink(), &o.name, repo.key())
                .await
                .map(|_| ())
        } else {
            ObjectReader::open(repo.sink(), &o.name, repo.key())
                .await
                .map(|_| ())
        };
        if let Err(e) = r {
            rep.problems.push(format!("object {}: {e}", o.name));
        }
    }
    let archives = list_objects(repo.sink(), Some(KIND_BASE)).await?;
    for b in &bases {
        if !archives.iter().any(|o| o.name == b.archive) {
            rep.problems.push(format!(
                "base backup {}: its archive {} is missing",
                b.name, b.archive
            ));
        }
    }
    Ok(rep)
}

/// What `prune` deleted.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    /// Base backups deleted.
    pub bases: Vec<String>,
    /// WAL objects deleted.
    pub wal: usize,
    /// Archives of base backups that never got their manifest (a base
    /// backup that failed or was killed after its archive was stored),
    /// older than the oldest kept base backup.
    pub orphans: Vec<String>,
}

/// Keeps the newest `keep` base backups; deletes older ones, archives
/// without a manifest older than the oldest kept one, and every WAL
/// segment, `.partial` and backup history file before the oldest kept
/// backup's start segment (timeline history files are kept: they are tiny
/// and recovery needs them to pick timelines).
pub async fn prune(repo: &Repo, keep: usize) -> Result<PruneReport> {
    if keep == 0 {
        return Err(PitrError::Config(
            "prune must keep at least one base backup".into(),
        ));
    }
    let bases = list_base_backups(repo).await?;
    let mut rep = PruneReport::default();
    let cut = bases.len().saturating_sub(keep);
    let (old, kept) = bases.split_at(cut);
    let Some(oldest) = kept.first() else {
        return Ok(rep);
    };
    let idx = WalIndex::load(repo, kept).await?;
    let first_needed = oldest.start()?.segment(idx.seg_size);
    for b in old {
        // The manifest first: a base backup without it is never used.
        repo.sink().delete(&manifest_object(&b.name)).await?;
        repo.sink().delete(&b.archive).await?;
        rep.bases.push(b.name.clone());
    }
    for o in list_objects(repo.sink(), Some(KIND_BASE)).await? {
        let complete = bases.iter().any(|b| b.archive == o.name);
        if !complete && o.created_at < oldest.start_time {
            repo.sink().delete(&o.name).await?;
            rep.orphans.push(o.name);
        }
    }
    for (w, o) in &idx.all {
        let seg = match w {
            WalFile::Segment { log_seg, .. } | WalFile::Partial { log_seg, .. } => {
                Some(segno(*log_seg, idx.seg_size))
            }
            WalFile::BackupHistory => o
                .name
                .strip_prefix(WAL_PREFIX)
                .and_then(|n| n.get(..24))
                .and_then(|n| match WalFile::parse(n) {
                    Ok(WalFile::Segment { log_seg, .. }) => Some(segno(log_seg, idx.seg_size)),
                    _ => None,
                }),
            WalFile::History { .. } => None,
        };
        if seg.is_some_and(|s| s < first_needed) {
            repo.sink().delete(&o.name).await?;
            rep.wal += 1;
        }
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    fn obj(name: &str, minute: u32) -> ObjectInfo {
        ObjectInfo {
            name: name.to_owned(),
            kind: "pg-wal".into(),
            label: String::new(),
            plain_len: MB,
            plain_sha256: None,
            stored_len: 0,
            created_at: format!("2026-12-05T08:{minute:02}:00Z").parse().unwrap(),
            key_id: None,
        }
    }

    fn index(segs: &[(u32, u64, u32)], histories: &[(u32, &str, u32)]) -> WalIndex {
        let mut segments: HashMap<u32, BTreeMap<u64, ObjectInfo>> = HashMap::new();
        for &(t, s, minute) in segs {
            segments
                .entry(t)
                .or_default()
                .insert(s, obj(&segment_name(t, s, MB), minute));
        }
        let mut h = BTreeMap::new();
        let mut ho = BTreeMap::new();
        for &(t, text, minute) in histories {
            h.insert(t, parse_history(text).unwrap());
            ho.insert(t, obj(&format!("{t:08X}.history"), minute));
        }
        WalIndex {
            seg_size: MB,
            segments,
            histories: h,
            history_objects: ho,
            all: Vec::new(),
        }
    }

    fn base(start: &str, stop: &str) -> BaseManifest {
        BaseManifest {
            format: 1,
            name: "base-x".into(),
            archive: "base-x.pgdata".into(),
            label: String::new(),
            pg_version_num: 150_000,
            pg_version: "15".into(),
            system_identifier: "1".into(),
            timeline: 1,
            wal_segment_size: MB,
            start_lsn: start.into(),
            stop_lsn: stop.into(),
            start_wal: String::new(),
            stop_wal: String::new(),
            start_time: "2026-12-05T08:00:00Z".parse().unwrap(),
            stop_time: "2026-12-05T08:01:00Z".parse().unwrap(),
            files: Vec::new(),
            total_bytes: 0,
            backup_label: String::new(),
            tablespace_map: String::new(),
        }
    }

    #[test]
    fn a_gap_is_named_and_ends_the_coverage() {
        let idx = index(&[(1, 2, 1), (1, 3, 2), (1, 5, 4)], &[]);
        let c = idx.coverage(&base("0/200028", "0/300100"), 1).unwrap();
        assert!(c.usable());
        assert_eq!(c.first_missing.as_deref(), Some("000000010000000000000004"));
        assert_eq!(c.to_lsn, Some(Lsn(4 * MB)));
        assert_eq!(c.to_time.unwrap().to_rfc3339(), "2026-12-05T08:02:00+00:00");
    }

    #[test]
    fn the_end_of_the_archive_is_not_a_gap() {
        let idx = index(&[(1, 2, 1), (1, 3, 2)], &[]);
        let c = idx.coverage(&base("0/200028", "0/300100"), 1).unwrap();
        assert_eq!(c.first_missing, None);
        assert_eq!(c.to_lsn, Some(Lsn(4 * MB)));
    }

    #[test]
    fn wal_short_of_the_consistent_point_is_not_usable() {
        let idx = index(&[(1, 2, 1)], &[]);
        let c = idx.coverage(&base("0/200028", "0/300100"), 1).unwrap();
        assert!(!c.usable());
        assert_eq!(c.first_missing.as_deref(), Some("000000010000000000000003"));
    }

    #[test]
    fn timelines_follow_history_and_fall_back_to_an_ancestor_up_to_the_switch() {
        // Timeline 2 branched at 0/380000 (segment 3), timeline 3 from it
        // at 0/3C0000, still in segment 3, and archived nothing yet.
        let idx = index(
            &[(1, 2, 1), (1, 3, 2), (1, 4, 3), (2, 3, 5)],
            &[
                (2, "1\t0/380000\tx\n", 4),
                (3, "1\t0/380000\tx\n2\t0/3C0000\ty\n", 6),
            ],
        );
        let b = base("0/200028", "0/200100");
        let c2 = idx.coverage(&b, 2).unwrap();
        assert_eq!(c2.to_lsn, Some(Lsn(4 * MB)));
        assert_eq!(c2.last_segment.as_deref(), Some("000000020000000000000003"));
        // Timeline 1's segment 4 lies off timeline 2's path: no gap.
        assert_eq!(c2.first_missing, None);
        let c3 = idx.coverage(&b, 3).unwrap();
        assert_eq!(c3.to_lsn, Some(Lsn::parse("0/3C0000").unwrap()));
        assert_eq!(
            c3.to_time.unwrap().to_rfc3339(),
            "2026-12-05T08:05:00+00:00"
        );
        assert_eq!(c3.first_missing, None);
    }

    proptest::proptest! {
        /// On one timeline, whatever segments are archived: the chain runs
        /// from the backup's start to just before the first missing
        /// segment, which is named when later segments exist or the
        /// consistent point lies beyond it.
        #[test]
        fn one_timeline_chain(present in proptest::collection::btree_set(0u64..24, 0..24), stop_seg in 4u64..10) {
            let start = 4u64;
            let segs: Vec<(u32, u64, u32)> = present.iter().map(|&s| (1, s, 1)).collect();
            let idx = index(&segs, &[]);
            let b = base(&Lsn(start * MB + 0x28).to_string(), &Lsn(stop_seg * MB + 0x100).to_string());
            let c = idx.coverage(&b, 1).unwrap();
            let first_gap = (start..).find(|s| !present.contains(s)).unwrap();
            let max = present.iter().next_back().copied().unwrap_or(0);
            proptest::prop_assert!(c.on_path);
            proptest::prop_assert_eq!(c.usable(), first_gap > stop_seg);
            if c.usable() {
                proptest::prop_assert_eq!(c.to_lsn, Some(Lsn(first_gap * MB)));
            }
            let named = first_gap <= max || first_gap <= stop_seg;
            proptest::prop_assert_eq!(c.first_missing, named.then(|| segment_name(1, first_gap, MB)));
        }
    }
}
