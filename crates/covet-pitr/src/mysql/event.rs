//! Raw binlog events: the common 19-byte header and the few bodies PITR
//! reads (query text, rotate target, MariaDB GTID flags), plus the state
//! machine that finds transaction boundaries.
//!
//! Events are kept exactly as the server sent them; nothing here rewrites
//! one. Only the layout of binlog version 4 (MySQL 5.0 and later, every
//! MariaDB) is read.

use crate::error::{PitrError, Result};

/// The four bytes every binlog file starts with.
pub(crate) const MAGIC: &[u8; 4] = b"\xfebin";
/// The common header: timestamp, type, server id, size, end position, flags.
pub(crate) const HEADER_LEN: usize = 19;

pub(crate) const QUERY: u8 = 2;
pub(crate) const ROTATE: u8 = 4;
pub(crate) const FORMAT_DESCRIPTION: u8 = 15;
pub(crate) const XID: u8 = 16;
pub(crate) const HEARTBEAT: u8 = 27;
pub(crate) const MYSQL_GTID: u8 = 33;
pub(crate) const MYSQL_ANONYMOUS_GTID: u8 = 34;
pub(crate) const TRANSACTION_PAYLOAD: u8 = 40;
pub(crate) const MARIADB_GTID: u8 = 162;

/// `LOG_EVENT_ARTIFICIAL_F`: made up by the sending server, not in a file.
const ARTIFICIAL: u16 = 0x20;
/// MariaDB's GTID flag for a statement outside any transaction (DDL).
const FL_STANDALONE: u8 = 1;
/// The post-header of a query event (binlog v4).
const QUERY_POST_HEADER: usize = 13;

/// The common header of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Seconds since the epoch (UTC) when the statement began.
    pub timestamp: u32,
    /// The event type.
    pub type_code: u8,
    /// The server that wrote it.
    pub server_id: u32,
    /// The whole event's length, header and checksum included.
    pub size: u32,
    /// Where the next event starts in the source file (0 for events the
    /// server made up while sending).
    pub log_pos: u32,
    /// Event flags.
    pub flags: u16,
}

impl Header {
    /// Reads the header at the start of `b`.
    pub(crate) fn parse(b: &[u8]) -> Option<Header> {
        if b.len() < HEADER_LEN {
            return None;
        }
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Some(Header {
            timestamp: u32_at(0),
            type_code: b[4],
            server_id: u32_at(5),
            size: u32_at(9),
            log_pos: u32_at(13),
            flags: u16::from_le_bytes([b[17], b[18]]),
        })
    }

    /// Whether the event is at a position of the source file (not made up
    /// by the sending server, such as the first rotate or a heartbeat).
    pub(crate) fn is_positional(&self) -> bool {
        self.log_pos != 0 && self.flags & ARTIFICIAL == 0 && self.type_code != HEARTBEAT
    }

    /// Where the event starts in its source file.
    pub(crate) fn start(&self) -> u64 {
        u64::from(self.log_pos).saturating_sub(u64::from(self.size))
    }
}

/// Splits a run of whole events into `(header, bytes)` pairs.
pub(crate) fn split_events(mut buf: &[u8]) -> Result<Vec<(Header, &[u8])>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let h = Header::parse(buf)
            .ok_or_else(|| PitrError::Binlog("an event is cut short (no whole header)".into()))?;
        let size = h.size as usize;
        if size < HEADER_LEN || size > buf.len() {
            return Err(PitrError::Binlog(format!(
                "an event of type {} claims {size} bytes, {} remain",
                h.type_code,
                buf.len()
            )));
        }
        out.push((h, &buf[..size]));
        buf = &buf[size..];
    }
    Ok(out)
}

/// The length of the checksum at the end of every event after this format
/// description event (4 for CRC32, 0 when checksums are off).
pub(crate) fn checksum_len(fde: &[u8]) -> usize {
    // MySQL 5.6.1+ and every MariaDB still served append the algorithm
    // (one byte) and the FDE's own CRC (four) to the FDE.
    match fde.len().checked_sub(5).map(|i| fde[i]) {
        Some(1) => 4,
        _ => 0,
    }
}

/// The body of an event without its header and checksum.
fn body(ev: &[u8], checksum: usize) -> &[u8] {
    let end = ev
        .len()
        .saturating_sub(checksum)
        .max(HEADER_LEN.min(ev.len()));
    &ev[HEADER_LEN.min(ev.len())..end]
}

/// A query event's default database and statement text.
pub(crate) fn query(ev: &[u8], checksum: usize) -> Option<(&[u8], &[u8])> {
    let b = body(ev, checksum);
    if b.len() < QUERY_POST_HEADER {
        return None;
    }
    let db_len = b[8] as usize;
    let status_len = u16::from_le_bytes([b[11], b[12]]) as usize;
    let db_at = QUERY_POST_HEADER.checked_add(status_len)?;
    let text_at = db_at.checked_add(db_len)?.checked_add(1)?;
    if text_at > b.len() {
        return None;
    }
    Some((&b[db_at..db_at + db_len], &b[text_at..]))
}

/// A rotate event's next file and position.
pub(crate) fn rotate(ev: &[u8], checksum: usize) -> Option<(String, u64)> {
    let b = body(ev, checksum);
    if b.len() < 9 {
        return None;
    }
    let pos = u64::from_le_bytes(b[..8].try_into().ok()?);
    let name = std::str::from_utf8(&b[8..]).ok()?.to_owned();
    Some((name, pos))
}

/// Where transactions begin and end in a run of events: after each event,
/// whether the stream is between two transactions (a place a segment may
/// end, or a restore may stop).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Grouper {
    /// Between transactions.
    #[default]
    Outside,
    /// After a GTID that opens one statement outside a transaction (DDL),
    /// or a MySQL GTID whose group has not said yet which it is.
    Standalone,
    /// Inside a transaction, until its XID or COMMIT/ROLLBACK.
    Transaction,
}

impl Grouper {
    /// Takes the next event; returns whether a transaction boundary follows
    /// it.
    pub(crate) fn feed(&mut self, h: &Header, ev: &[u8], checksum: usize) -> bool {
        *self = match h.type_code {
            MARIADB_GTID => {
                let b = body(ev, checksum);
                match b.get(12) {
                    Some(f) if f & FL_STANDALONE != 0 => Grouper::Standalone,
                    _ => Grouper::Transaction,
                }
            }
            MYSQL_GTID | MYSQL_ANONYMOUS_GTID => Grouper::Standalone,
            XID => Grouper::Outside,
            QUERY => match query(ev, checksum).map(|(_, t)| first_words(t)) {
                Some(w) if w == "BEGIN" || w == "XA START" => Grouper::Transaction,
                Some(w) if w.starts_with("ROLLBACK TO") => *self,
                Some(w) if w == "COMMIT" || w.starts_with("ROLLBACK") => Grouper::Outside,
                _ if *self == Grouper::Transaction => Grouper::Transaction,
                _ => Grouper::Outside,
            },
            _ => *self,
        };
        *self == Grouper::Outside
    }
}

/// The first two words of a statement, upper-cased, without a trailing
/// semicolon (`BEGIN`, `COMMIT`, `ROLLBACK TO`, `XA START`).
fn first_words(text: &[u8]) -> String {
    let s = String::from_utf8_lossy(&text[..text.len().min(64)]).to_ascii_uppercase();
    let mut words = s
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty());
    match (words.next(), words.next()) {
        (Some(a), Some(b)) if a == "ROLLBACK" || a == "XA" => format!("{a} {b}"),
        (Some(a), _) => a.to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One event with the given body; CRC32-style checksum bytes (zeros:
    /// nothing here checks them).
    pub(crate) fn event(type_code: u8, ts: u32, log_pos: u32, body: &[u8]) -> Vec<u8> {
        let size = (HEADER_LEN + body.len() + 4) as u32;
        let mut v = Vec::with_capacity(size as usize);
        v.extend_from_slice(&ts.to_le_bytes());
        v.push(type_code);
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&size.to_le_bytes());
        v.extend_from_slice(&log_pos.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(body);
        v.extend_from_slice(&[0; 4]);
        v
    }

    pub(crate) fn query_body(db: &str, text: &str) -> Vec<u8> {
        let mut b = vec![0u8; QUERY_POST_HEADER];
        b[8] = db.len() as u8;
        b.extend_from_slice(db.as_bytes());
        b.push(0);
        b.extend_from_slice(text.as_bytes());
        b
    }

    pub(crate) fn gtid_body(seq: u64, standalone: bool) -> Vec<u8> {
        let mut b = seq.to_le_bytes().to_vec();
        b.extend_from_slice(&0u32.to_le_bytes());
        b.push(u8::from(standalone));
        b.extend_from_slice(&[0; 6]);
        b
    }

    #[test]
    fn reads_a_query_and_a_rotate() {
        let q = event(QUERY, 7, 100, &query_body("app", "DROP TABLE t"));
        let (db, text) = query(&q, 4).unwrap();
        assert_eq!((db, text), (&b"app"[..], &b"DROP TABLE t"[..]));
        let mut rb = 4u64.to_le_bytes().to_vec();
        rb.extend_from_slice(b"bin.000002");
        let r = event(ROTATE, 0, 200, &rb);
        assert_eq!(rotate(&r, 4), Some(("bin.000002".into(), 4)));
        let h = Header::parse(&r).unwrap();
        assert_eq!(
            (h.type_code, h.log_pos, h.size as usize),
            (ROTATE, 200, r.len())
        );
    }

    /// The kinds of group MariaDB writes, as event lists.
    #[derive(Debug, Clone)]
    enum Group {
        /// GTID, n row events, XID.
        Rows(u8),
        /// GTID (standalone), one DDL query.
        Ddl,
        /// GTID, BEGIN-less query statements, COMMIT (non-transactional engine).
        Statements(u8),
    }

    fn group_events(g: &Group, seq: u64) -> Vec<Vec<u8>> {
        match g {
            Group::Rows(n) => {
                let mut v = vec![event(MARIADB_GTID, 1, 1, &gtid_body(seq, false))];
                for _ in 0..*n {
                    v.push(event(19, 1, 1, &[0; 8]));
                    v.push(event(23, 1, 1, &[0; 8]));
                }
                v.push(event(XID, 1, 1, &[0; 8]));
                v
            }
            Group::Ddl => vec![
                event(MARIADB_GTID, 1, 1, &gtid_body(seq, true)),
                event(QUERY, 1, 1, &query_body("app", "CREATE TABLE x (a int)")),
            ],
            Group::Statements(n) => {
                let mut v = vec![event(MARIADB_GTID, 1, 1, &gtid_body(seq, false))];
                for _ in 0..*n {
                    v.push(event(
                        QUERY,
                        1,
                        1,
                        &query_body("app", "INSERT INTO m VALUES (1)"),
                    ));
                }
                v.push(event(QUERY, 1, 1, &query_body("app", "COMMIT")));
                v
            }
        }
    }

    proptest! {
        /// Whatever the mix of groups, the grouper reports a boundary after
        /// exactly the last event of each group, and nowhere else.
        #[test]
        fn boundaries_fall_exactly_after_each_group(
            groups in prop::collection::vec(prop_oneof![
                (0u8..4).prop_map(Group::Rows),
                Just(Group::Ddl),
                (1u8..3).prop_map(Group::Statements),
            ], 1..20)
        ) {
            let mut g = Grouper::default();
            for (i, group) in groups.iter().enumerate() {
                let evs = group_events(group, i as u64);
                for (j, e) in evs.iter().enumerate() {
                    let h = Header::parse(e).unwrap();
                    let boundary = g.feed(&h, e, 4);
                    prop_assert_eq!(boundary, j + 1 == evs.len(), "group {:?} event {}", group, j);
                }
            }
        }

        /// Splitting never panics and either fails or returns events that
        /// tile the input exactly.
        #[test]
        fn split_tiles_or_fails(data in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(evs) = split_events(&data) {
                let total: usize = evs.iter().map(|(_, b)| b.len()).sum();
                prop_assert_eq!(total, data.len());
            }
        }
    }
}
