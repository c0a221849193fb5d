//! WAL file names, LSNs, segment arithmetic and timeline history files.
//!
//! PostgreSQL names a WAL segment `TTTTTTTTXXXXXXXXYYYYYYYY` (timeline, then
//! the segment number split in two by the number of segments per 4 GiB
//! "xlogid"), a timeline history file `TTTTTTTT.history`, a backup history
//! file `<segment>.<offset>.backup` and the last, incomplete segment of a
//! timeline left at a promotion `<segment>.partial`.

use std::fmt;

use crate::error::{PitrError, Result};

/// A log sequence number: a byte position in the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// Parses PostgreSQL's `X/Y` form (two hexadecimal halves).
    pub fn parse(s: &str) -> Result<Lsn> {
        let bad = || PitrError::Config(format!("invalid LSN {s:?}: expected X/Y in hexadecimal"));
        let (hi, lo) = s.trim().split_once('/').ok_or_else(bad)?;
        if hi.is_empty() || lo.is_empty() || hi.len() > 8 || lo.len() > 8 {
            return Err(bad());
        }
        let hi = u32::from_str_radix(hi, 16).map_err(|_| bad())?;
        let lo = u32::from_str_radix(lo, 16).map_err(|_| bad())?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }

    /// The segment this position falls in.
    pub fn segment(self, seg_size: u64) -> u64 {
        self.0 / seg_size
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// What a file handed to `archive_command` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalFile {
    /// A complete segment.
    Segment {
        /// Its timeline.
        timeline: u32,
        /// `XXXXXXXXYYYYYYYY` as one number of 4 GiB halves: `(log << 32) | seg`.
        log_seg: u64,
    },
    /// The incomplete last segment of a timeline, kept at a promotion.
    Partial {
        /// Its timeline.
        timeline: u32,
        /// As in [`WalFile::Segment`].
        log_seg: u64,
    },
    /// A timeline history file.
    History {
        /// The timeline it describes.
        timeline: u32,
    },
    /// A backup history file (written by `pg_backup_stop`).
    BackupHistory,
}

fn hex_u32(s: &str) -> Option<u32> {
    (s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u32::from_str_radix(s, 16).ok())
        .flatten()
}

impl WalFile {
    /// Classifies a file name as PostgreSQL writes it (no directory).
    pub fn parse(name: &str) -> Result<WalFile> {
        let bad = || {
            PitrError::Config(format!(
                "{name:?} is not a WAL segment, .partial, .backup or .history file name"
            ))
        };
        let seg = |s: &str| -> Option<(u32, u64)> {
            if s.len() != 24 {
                return None;
            }
            let t = hex_u32(&s[..8])?;
            let log = hex_u32(&s[8..16])?;
            let seg = hex_u32(&s[16..])?;
            Some((t, (u64::from(log) << 32) | u64::from(seg)))
        };
        if let Some(t) = name.strip_suffix(".history") {
            return hex_u32(t)
                .map(|timeline| WalFile::History { timeline })
                .ok_or_else(bad);
        }
        if let Some(s) = name.strip_suffix(".partial") {
            return seg(s)
                .map(|(timeline, log_seg)| WalFile::Partial { timeline, log_seg })
                .ok_or_else(bad);
        }
        if let Some(s) = name.strip_suffix(".backup") {
            let (s, off) = s.split_once('.').ok_or_else(bad)?;
            return (seg(s).is_some() && hex_u32(off).is_some())
                .then_some(WalFile::BackupHistory)
                .ok_or_else(bad);
        }
        seg(name)
            .map(|(timeline, log_seg)| WalFile::Segment { timeline, log_seg })
            .ok_or_else(bad)
    }

    /// The object kind this file is stored as.
    pub fn kind(&self) -> &'static str {
        match self {
            WalFile::Segment { .. } => KIND_WAL,
            WalFile::Partial { .. } => KIND_PARTIAL,
            WalFile::History { .. } => KIND_HISTORY,
            WalFile::BackupHistory => KIND_BACKUP_HISTORY,
        }
    }
}

/// Object kind of a WAL segment.
pub const KIND_WAL: &str = "pg-wal";
/// Object kind of a `.partial` segment.
pub const KIND_PARTIAL: &str = "pg-wal-partial";
/// Object kind of a timeline history file.
pub const KIND_HISTORY: &str = "pg-history";
/// Object kind of a backup history file.
pub const KIND_BACKUP_HISTORY: &str = "pg-backup-history";

/// The prefix of every WAL-archive object name; the rest is PostgreSQL's
/// own file name, so `wal-fetch %f` maps straight to an object.
pub const WAL_PREFIX: &str = "wal-";

/// The object name a WAL file is archived under.
pub fn object_name(file: &str) -> String {
    format!("{WAL_PREFIX}{file}")
}

/// Segments per 4 GiB "xlogid" for a segment size.
fn segs_per_id(seg_size: u64) -> u64 {
    0x1_0000_0000 / seg_size
}

/// The absolute segment number of `XXXXXXXXYYYYYYYY`.
pub fn segno(log_seg: u64, seg_size: u64) -> u64 {
    (log_seg >> 32) * segs_per_id(seg_size) + (log_seg & 0xFFFF_FFFF)
}

/// The file name of segment `segno` on `timeline`.
pub fn segment_name(timeline: u32, segno: u64, seg_size: u64) -> String {
    let per = segs_per_id(seg_size);
    format!("{timeline:08X}{:08X}{:08X}", segno / per, segno % per)
}

/// Checks a WAL segment size: a power of two from 1 MiB to 1 GiB.
pub fn check_seg_size(seg_size: u64) -> Result<u64> {
    if seg_size.is_power_of_two() && (1 << 20..=1 << 30).contains(&seg_size) {
        Ok(seg_size)
    } else {
        Err(PitrError::Config(format!(
            "WAL segment size {seg_size} is not a power of two between 1 MiB and 1 GiB"
        )))
    }
}

/// One line of a timeline history file: `parent` ended at `switch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The ancestor timeline.
    pub parent: u32,
    /// Where the next timeline branched off it.
    pub switch: Lsn,
}

/// Parses a timeline history file (`parentTLI <tab> switchpoint <tab>
/// reason`, `#` comments), ancestors oldest first.
pub fn parse_history(text: &str) -> Result<Vec<HistoryEntry>> {
    let mut out: Vec<HistoryEntry> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split_whitespace();
        let (Some(tli), Some(lsn)) = (f.next(), f.next()) else {
            return Err(PitrError::Config(format!(
                "timeline history line {line:?} has no switch point"
            )));
        };
        let parent: u32 = tli.parse().map_err(|_| {
            PitrError::Config(format!("timeline history line {line:?}: bad timeline"))
        })?;
        let switch = Lsn::parse(lsn)?;
        if let Some(prev) = out.last()
            && (parent <= prev.parent || switch < prev.switch)
        {
            return Err(PitrError::Config(format!(
                "timeline history line {line:?} is out of order"
            )));
        }
        out.push(HistoryEntry { parent, switch });
    }
    Ok(out)
}

/// The timelines a recovery to `target` walks, as `(timeline, first
/// segment)` pairs with ascending first segments: the ancestors from the
/// target's history file, then the target itself.
pub fn timeline_path(target: u32, history: &[HistoryEntry], seg_size: u64) -> Vec<(u32, u64)> {
    let mut path = Vec::with_capacity(history.len() + 1);
    let mut begin = 0;
    for h in history {
        path.push((h.parent, begin));
        // The segment holding the switch point is written on the new
        // timeline (it copies the old one up to the switch), so the new
        // timeline owns it.
        begin = h.switch.segment(seg_size);
    }
    path.push((target, begin));
    path
}

/// The timeline whose file holds segment `segno` along `path`.
pub fn timeline_for(path: &[(u32, u64)], segno: u64) -> u32 {
    path.iter()
        .rev()
        .find(|(_, begin)| *begin <= segno)
        .map_or(path[0].0, |(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_classify() {
        assert_eq!(
            WalFile::parse("000000010000000A000000FF").unwrap(),
            WalFile::Segment {
                timeline: 1,
                log_seg: (0xA << 32) | 0xFF
            }
        );
        assert_eq!(
            WalFile::parse("00000002.history").unwrap(),
            WalFile::History { timeline: 2 }
        );
        assert_eq!(
            WalFile::parse("000000010000000000000003.partial").unwrap(),
            WalFile::Partial {
                timeline: 1,
                log_seg: 3
            }
        );
        assert_eq!(
            WalFile::parse("000000010000000000000002.00000028.backup").unwrap(),
            WalFile::BackupHistory
        );
        for bad in [
            "",
            "00000001000000000000000",
            "00000001000000000000000G",
            "x.history",
            "../00000001.history",
            "000000010000000000000002.backup",
        ] {
            assert!(WalFile::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn history_path() {
        let h =
            parse_history("1\t0/300098\tbefore 2026\n\n2\t0/500000\tno recovery target\n").unwrap();
        let mb = 1 << 20;
        let p = timeline_path(3, &h, mb);
        assert_eq!(p, vec![(1, 0), (2, 3), (3, 5)]);
        assert_eq!(timeline_for(&p, 2), 1);
        assert_eq!(timeline_for(&p, 3), 2);
        assert_eq!(timeline_for(&p, 9), 3);
    }

    proptest! {
        #[test]
        fn lsn_round_trips(v in any::<u64>()) {
            let l = Lsn(v);
            prop_assert_eq!(Lsn::parse(&l.to_string()).unwrap(), l);
        }

        #[test]
        fn segment_names_round_trip(tli in 1u32.., shift in 20u32..=30, segno in 0u64..(1 << 40)) {
            let size = 1u64 << shift;
            let segno = segno % (u64::from(u32::MAX) * (0x1_0000_0000 / size));
            let name = segment_name(tli, segno, size);
            match WalFile::parse(&name).unwrap() {
                WalFile::Segment { timeline, log_seg } => {
                    prop_assert_eq!(timeline, tli);
                    prop_assert_eq!(super::segno(log_seg, size), segno);
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
