//! Binlog segments: a run of whole transactions from one binlog file,
//! stored as one sealed object.
//!
//! A segment's plain bytes are a binlog file `mariadb-binlog` reads: the
//! magic, the format description event of the stream, then the events
//! exactly as the server sent them. Its name says what it covers:
//! `mysql-binlog.<stream>.<file>.<start>-<end>` (positions zero-padded to
//! twelve digits), where `[start, end)` is the byte range of the source
//! binlog file. Segments of one stream tile each file without gap or
//! overlap; a file's last segment ends with its rotate event, and the next
//! file's first segment starts at 4.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use covet_backup::BackupSink;
use covet_backup::object::{ObjectInfo, list_objects};

use super::event::{self, FORMAT_DESCRIPTION, Header, MAGIC, ROTATE};
use crate::error::{PitrError, Result};

/// The object kind of binlog segments.
pub const KIND: &str = "mysql-binlog";
const PREFIX: &str = "mysql-binlog.";

/// A position in the source's binary log: a file and a byte offset in it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BinlogPosition {
    /// The binlog file name (`mariadb-bin.000007`).
    pub file: String,
    /// The byte offset in it.
    pub position: u64,
}

impl BinlogPosition {
    /// A position.
    pub fn new(file: impl Into<String>, position: u64) -> Self {
        BinlogPosition {
            file: file.into(),
            position,
        }
    }
}

impl fmt::Display for BinlogPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.position)
    }
}

impl FromStr for BinlogPosition {
    type Err = PitrError;

    /// Reads `FILE:POS`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            PitrError::Config(format!(
                "expected FILE:POSITION (bin.000003:1234), not `{s}`"
            ))
        };
        let (file, pos) = s.rsplit_once(':').ok_or_else(bad)?;
        let position = pos.parse().map_err(|_| bad())?;
        check_file_name(file)?;
        Ok(BinlogPosition::new(file, position))
    }
}

impl PartialOrd for BinlogPosition {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for BinlogPosition {
    /// Files in their sequence order (the number after the last dot), then
    /// offsets.
    fn cmp(&self, other: &Self) -> Ordering {
        file_order(&self.file, &other.file).then(self.position.cmp(&other.position))
    }
}

/// Orders binlog files by the number after their last dot (`.000010` after
/// `.000009`, also past six digits), then by name.
pub(crate) fn file_order(a: &str, b: &str) -> Ordering {
    let seq = |f: &str| f.rsplit_once('.').and_then(|(_, n)| n.parse::<u64>().ok());
    seq(a).cmp(&seq(b)).then_with(|| a.cmp(b))
}

/// Binlog file names become part of object names: letters, digits, `.`,
/// `_` and `-` only.
pub(crate) fn check_file_name(file: &str) -> Result<()> {
    let ok = !file.is_empty()
        && file.len() <= 200
        && !file.starts_with('.')
        && file
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PitrError::Binlog(format!(
            "binlog file name `{}` has characters an object name cannot hold (letters, digits, . _ - only)",
            file.chars().take(60).collect::<String>()
        )))
    }
}

/// A stream name: letters, digits, `_` and `-` (no dot, so names parse).
pub(crate) fn check_stream_name(stream: &str) -> Result<()> {
    let ok = !stream.is_empty()
        && stream.len() <= 64
        && stream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PitrError::Config(format!(
            "stream name `{}`: letters, digits, _ and - only (at most 64)",
            stream.chars().take(60).collect::<String>()
        )))
    }
}

/// What a segment's object name says it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentName {
    /// The stream it belongs to.
    pub stream: String,
    /// The source binlog file.
    pub file: String,
    /// The first byte of the file it covers.
    pub start: u64,
    /// One past the last byte it covers (the end position of its last
    /// event).
    pub end: u64,
}

impl SegmentName {
    /// The object name.
    pub fn object_name(&self) -> String {
        format!(
            "{PREFIX}{}.{}.{:012}-{:012}",
            self.stream, self.file, self.start, self.end
        )
    }

    /// Reads an object name; `None` for anything else.
    pub fn parse(name: &str) -> Option<SegmentName> {
        let rest = name.strip_prefix(PREFIX)?;
        let (stream, rest) = rest.split_once('.')?;
        let (file, range) = rest.rsplit_once('.')?;
        let (start, end) = range.split_once('-')?;
        let seg = SegmentName {
            stream: stream.to_owned(),
            file: file.to_owned(),
            start: start.parse().ok()?,
            end: end.parse().ok()?,
        };
        (seg.start < seg.end
            && check_stream_name(stream).is_ok()
            && check_file_name(file).is_ok()
            && seg.object_name() == name)
            .then_some(seg)
    }

    /// Where it starts.
    pub fn start_position(&self) -> BinlogPosition {
        BinlogPosition::new(&self.file, self.start)
    }

    /// Where it ends.
    pub fn end_position(&self) -> BinlogPosition {
        BinlogPosition::new(&self.file, self.end)
    }
}

/// The segments of `stream` in the sink, in binlog order, with their
/// listing entries.
pub async fn list_segments(
    sink: &dyn BackupSink,
    stream: &str,
) -> Result<Vec<(SegmentName, ObjectInfo)>> {
    let mut out: Vec<(SegmentName, ObjectInfo)> = list_objects(sink, Some(KIND))
        .await?
        .into_iter()
        .filter_map(|o| SegmentName::parse(&o.name).map(|s| (s, o)))
        .filter(|(s, _)| s.stream == stream)
        .collect();
    out.sort_by(|(a, _), (b, _)| {
        a.start_position()
            .cmp(&b.start_position())
            .then(a.end.cmp(&b.end))
    });
    Ok(out)
}

/// A segment's plain bytes: the magic, the format description, then the
/// covered events (the format description itself when it is the first
/// covered event, at 4, is written once).
pub(crate) fn encode(fde: &[u8], events: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + fde.len() + events.len());
    out.extend_from_slice(MAGIC);
    let first_is_fde = Header::parse(events).is_some_and(|h| h.type_code == FORMAT_DESCRIPTION);
    if !first_is_fde {
        out.extend_from_slice(fde);
    }
    out.extend_from_slice(events);
    out
}

/// One event of a decoded segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ev {
    pub header: Header,
    /// Byte range in the segment's plain bytes.
    pub at: usize,
    pub len: usize,
}

/// A segment read back and checked against its name.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub name: SegmentName,
    pub bytes: Vec<u8>,
    /// The format description event's byte range.
    pub fde: (usize, usize),
    /// The checksum length of its events.
    pub checksum: usize,
    /// The covered events, in order.
    pub events: Vec<Ev>,
    /// The next file, when the segment ends with the file's rotate event.
    pub rotate_to: Option<String>,
}

impl Decoded {
    /// An event's bytes.
    pub(crate) fn bytes_of(&self, e: &Ev) -> &[u8] {
        &self.bytes[e.at..e.at + e.len]
    }

    /// The format description event's bytes.
    pub(crate) fn fde_bytes(&self) -> &[u8] {
        &self.bytes[self.fde.0..self.fde.1]
    }
}

/// Reads a segment's plain bytes and checks that its events are whole, in
/// order and cover exactly what its name says.
pub(crate) fn decode(name: SegmentName, bytes: Vec<u8>) -> Result<Decoded> {
    let bad = |why: String| PitrError::Binlog(format!("segment {}: {why}", name.object_name()));
    if !bytes.starts_with(MAGIC) {
        return Err(bad("no binlog magic".into()));
    }
    let mut fde = None;
    let mut events = Vec::new();
    let mut prev_end = name.start;
    let mut at = MAGIC.len();
    for (i, (h, ev)) in event::split_events(&bytes[MAGIC.len()..])
        .map_err(|e| bad(e.to_string()))?
        .into_iter()
        .enumerate()
    {
        let len = ev.len();
        if i == 0 {
            if h.type_code != FORMAT_DESCRIPTION {
                return Err(bad("does not start with a format description event".into()));
            }
            fde = Some((at, at + len));
        }
        // The head's format description is a covered event only when the
        // segment starts the file; else it came from earlier in the file
        // (or was made up by the server) and just describes the format.
        let head_only = i == 0 && !(h.is_positional() && h.start() == name.start);
        if h.is_positional() && !head_only {
            let end = u64::from(h.log_pos);
            if h.start() < prev_end || end > name.end {
                return Err(bad(format!(
                    "event at {} overlaps what precedes it or passes the end",
                    h.start()
                )));
            }
            prev_end = end;
            events.push(Ev { header: h, at, len });
        } else if !head_only {
            return Err(bad("holds an event without a position".into()));
        }
        at += len;
    }
    let fde = fde.ok_or_else(|| bad("is empty".into()))?;
    if prev_end != name.end {
        return Err(bad(format!("ends at {prev_end}, not at {}", name.end)));
    }
    let checksum = event::checksum_len(&bytes[fde.0..fde.1]);
    let rotate_to = events.last().and_then(|e| {
        (e.header.type_code == ROTATE)
            .then(|| event::rotate(&bytes[e.at..e.at + e.len], checksum).map(|(f, _)| f))
            .flatten()
    });
    Ok(Decoded {
        name,
        bytes,
        fde,
        checksum,
        events,
        rotate_to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Object names round-trip, and order follows the binlog's.
        #[test]
        fn names_round_trip(
            stream in "[a-z0-9_-]{1,12}",
            base in "[a-z][a-z0-9_-]{0,10}",
            seq in 1u64..10_000_000,
            start in 4u64..1_000_000_000,
            len in 1u64..1_000_000,
        ) {
            let file = format!("{base}.{seq:06}");
            let s = SegmentName { stream, file, start, end: start + len };
            prop_assert_eq!(SegmentName::parse(&s.object_name()), Some(s.clone()));
            let next = BinlogPosition::new(format!("{base}.{:06}", seq + 1), 4);
            prop_assert!(s.end_position() < next);
        }
    }

    /// A format description event (CRC32 checksums) at `log_pos`.
    fn fde(log_pos: u32) -> Vec<u8> {
        let mut body = vec![0u8; 57];
        body.push(1);
        body.extend_from_slice(&[0; 4]);
        let size = (event::HEADER_LEN + body.len()) as u32;
        let mut v = 0u32.to_le_bytes().to_vec();
        v.push(FORMAT_DESCRIPTION);
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(&log_pos.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(&body);
        v
    }

    proptest! {
        /// Whatever the events (sizes, holes where the server skipped
        /// one, a start at 4 or mid-file), a segment decodes to exactly
        /// the events encoded; a name claiming another end, or bytes cut
        /// short, are refused.
        #[test]
        fn segments_round_trip(
            at_file_start in any::<bool>(),
            mid_start in 300u64..100_000,
            events in prop::collection::vec((1usize..200, 0u64..3, any::<u8>()), 1..40),
            cut in any::<prop::sample::Index>(),
        ) {
            let start = if at_file_start { 4 } else { mid_start };
            let mut pos = start;
            let mut body = Vec::new();
            let mut want = Vec::new();
            if at_file_start {
                let f = fde(4 + fde(0).len() as u32);
                pos = 4 + f.len() as u64;
                want.push((4u64, f.clone()));
                body.extend_from_slice(&f);
            }
            for (len, hole, fill) in &events {
                // A hole as an annotate-rows event the server did not send.
                pos += hole * 37;
                let ev_start = pos;
                let end = ev_start + (event::HEADER_LEN + len + 4) as u64;
                let e = event::tests::event(23, 9, end as u32, &vec![*fill; *len]);
                pos = end;
                want.push((ev_start, e.clone()));
                body.extend_from_slice(&e);
            }
            let name = SegmentName { stream: "s".into(), file: "bin.000001".into(), start, end: pos };
            let bytes = encode(&fde(0), &body);
            let d = decode(name.clone(), bytes.clone()).unwrap();
            let got: Vec<(u64, Vec<u8>)> =
                d.events.iter().map(|e| (e.header.start(), d.bytes_of(e).to_vec())).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(d.rotate_to, None);
            let longer = SegmentName { end: pos + 1, ..name.clone() };
            prop_assert!(decode(longer, bytes.clone()).is_err());
            let short = &bytes[..4 + cut.index(bytes.len() - 4)];
            prop_assert!(decode(name, short.to_vec()).is_err());
        }
    }

    #[test]
    fn refuses_foreign_names() {
        for n in [
            "mysql-binlog.main.bin.000001.000000000004-000000000004",
            "mysql-binlog.main.bin.000001.4-9",
            "pg-wal.000000010000000000000001",
        ] {
            assert_eq!(SegmentName::parse(n), None, "{n}");
        }
        assert!("bin.000001:4".parse::<BinlogPosition>().is_ok());
        assert!("bin/../x:4".parse::<BinlogPosition>().is_err());
        assert!("bin.000001".parse::<BinlogPosition>().is_err());
    }
}
