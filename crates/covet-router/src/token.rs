//! Consistency tokens: a replication position a read must have reached.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::RouterError;

/// A replication position taken on the primary after a write, carried as a
/// string across services, and handed back to ask for a read that sees the
/// write ([`crate::Router::reader_at`]).
///
/// - PostgreSQL: a WAL position (LSN), written `pg:16/B374D848`.
/// - MariaDB: a GTID position, one `domain-server-sequence` per replication
///   domain, written `mariadb:0-1-42,1-2-7` (`mariadb:` alone when nothing
///   was ever written).
///
/// A replica *covers* a token when it has replayed at least that position;
/// positions only grow, so a replica that covered a token once covers it
/// for good (unless it is rebuilt from an older backup).
///
/// ```
/// use covet_router::ConsistencyToken;
/// let t: ConsistencyToken = "pg:0/3000060".parse()?;
/// assert_eq!(t.to_string(), "pg:0/3000060");
/// assert!(t.covered_by(&"pg:0/3000100".parse()?));
/// assert!(!t.covered_by(&"pg:0/2FFFFFF".parse()?));
/// # Ok::<(), covet_router::RouterError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsistencyToken {
    /// A PostgreSQL WAL position, as a 64-bit byte offset.
    Lsn(u64),
    /// A MariaDB GTID position: per domain, the last `(server id, sequence)`.
    Gtid(GtidPos),
}

/// A MariaDB GTID position (`@@gtid_binlog_pos`, `@@gtid_slave_pos`): for
/// each replication domain, the server id and sequence number of its last
/// transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPos(BTreeMap<u32, (u32, u64)>);

impl GtidPos {
    /// Parses MariaDB's own spelling, `0-1-42,1-2-7` (empty: no transaction).
    pub fn parse(text: &str) -> Result<Self, RouterError> {
        let mut map = BTreeMap::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut it = part.splitn(3, '-');
            let (Some(d), Some(s), Some(n)) = (it.next(), it.next(), it.next()) else {
                return Err(RouterError::Token("a GTID is not domain-server-sequence"));
            };
            let bad = || RouterError::Token("a GTID part is not a number");
            let d: u32 = d.parse().map_err(|_| bad())?;
            let s: u32 = s.parse().map_err(|_| bad())?;
            let n: u64 = n.parse().map_err(|_| bad())?;
            if map.insert(d, (s, n)).is_some() {
                return Err(RouterError::Token("a GTID domain appears twice"));
            }
        }
        Ok(GtidPos(map))
    }

    /// Whether this position has reached `target` in every domain `target`
    /// names. Sequence numbers grow within a domain whatever server wrote
    /// them, so the server id is not compared.
    pub fn covers(&self, target: &GtidPos) -> bool {
        target
            .0
            .iter()
            .all(|(d, (_, seq))| self.0.get(d).is_some_and(|(_, have)| have >= seq))
    }

    /// Whether no domain has any transaction.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for GtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (d, (s, n))) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}-{s}-{n}")?;
        }
        Ok(())
    }
}

/// Parses PostgreSQL's `pg_lsn` text form, `16/B374D848`.
pub(crate) fn parse_lsn(text: &str) -> Result<u64, RouterError> {
    let (hi, lo) = text
        .trim()
        .split_once('/')
        .ok_or(RouterError::Token("an LSN is not hi/lo in hexadecimal"))?;
    let bad = || RouterError::Token("an LSN half is not a 32-bit hexadecimal number");
    let hi = u32::from_str_radix(hi, 16).map_err(|_| bad())?;
    let lo = u32::from_str_radix(lo, 16).map_err(|_| bad())?;
    Ok((u64::from(hi) << 32) | u64::from(lo))
}

/// Writes an LSN in PostgreSQL's form (for SQL: `'16/B374D848'::pg_lsn`).
pub(crate) fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

impl ConsistencyToken {
    /// Whether a replica at `position` has replayed this token. Positions of
    /// different engines never cover each other.
    pub fn covered_by(&self, position: &ConsistencyToken) -> bool {
        match (self, position) {
            (ConsistencyToken::Lsn(want), ConsistencyToken::Lsn(have)) => have >= want,
            (ConsistencyToken::Gtid(want), ConsistencyToken::Gtid(have)) => have.covers(want),
            _ => false,
        }
    }

    /// Whether this token and `other` are positions of the same engine.
    pub fn same_engine(&self, other: &ConsistencyToken) -> bool {
        matches!(
            (self, other),
            (ConsistencyToken::Lsn(_), ConsistencyToken::Lsn(_))
                | (ConsistencyToken::Gtid(_), ConsistencyToken::Gtid(_))
        )
    }

    /// The later of two positions of the same engine (per domain for GTIDs);
    /// `other` when the engines differ.
    #[must_use]
    pub fn max(&self, other: &ConsistencyToken) -> ConsistencyToken {
        match (self, other) {
            (ConsistencyToken::Lsn(a), ConsistencyToken::Lsn(b)) => {
                ConsistencyToken::Lsn(*a.max(b))
            }
            (ConsistencyToken::Gtid(a), ConsistencyToken::Gtid(b)) => {
                let mut m = a.0.clone();
                for (d, (s, n)) in &b.0 {
                    let e = m.entry(*d).or_insert((*s, *n));
                    if *n > e.1 {
                        *e = (*s, *n);
                    }
                }
                ConsistencyToken::Gtid(GtidPos(m))
            }
            _ => other.clone(),
        }
    }
}

impl fmt::Display for ConsistencyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsistencyToken::Lsn(lsn) => write!(f, "pg:{}", format_lsn(*lsn)),
            ConsistencyToken::Gtid(pos) => write!(f, "mariadb:{pos}"),
        }
    }
}

impl FromStr for ConsistencyToken {
    type Err = RouterError;

    fn from_str(s: &str) -> Result<Self, RouterError> {
        if let Some(lsn) = s.strip_prefix("pg:") {
            Ok(ConsistencyToken::Lsn(parse_lsn(lsn)?))
        } else if let Some(gtid) = s.strip_prefix("mariadb:") {
            Ok(ConsistencyToken::Gtid(GtidPos::parse(gtid)?))
        } else {
            Err(RouterError::Token("expected a `pg:` or `mariadb:` prefix"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gtid_coverage_is_per_domain() {
        let have = GtidPos::parse("0-1-10,1-2-5").unwrap();
        assert!(have.covers(&GtidPos::parse("0-3-10").unwrap()));
        assert!(have.covers(&GtidPos::parse("").unwrap()));
        assert!(!have.covers(&GtidPos::parse("0-1-11").unwrap()));
        assert!(!have.covers(&GtidPos::parse("2-1-1").unwrap()));
        assert!(have.covers(&GtidPos::parse("0-1-3,1-2-5").unwrap()));
    }

    #[test]
    fn bad_tokens_are_refused_with_a_reason() {
        for bad in [
            "",
            "pg:",
            "pg:12",
            "pg:x/1",
            "mariadb:0-1",
            "mariadb:0-1-x",
            "mysql:1",
        ] {
            assert!(bad.parse::<ConsistencyToken>().is_err(), "{bad}");
        }
        assert!("mariadb:0-1-1,0-2-2".parse::<ConsistencyToken>().is_err());
    }

    #[test]
    fn engines_never_cover_each_other() {
        let pg: ConsistencyToken = "pg:0/1".parse().unwrap();
        let maria: ConsistencyToken = "mariadb:".parse().unwrap();
        assert!(!pg.covered_by(&maria));
        assert!(!maria.covered_by(&pg));
    }

    proptest! {
        #[test]
        fn lsn_tokens_round_trip_and_order(a in any::<u64>(), b in any::<u64>()) {
            let ta = ConsistencyToken::Lsn(a);
            let back: ConsistencyToken = ta.to_string().parse().unwrap();
            prop_assert_eq!(&back, &ta);
            prop_assert_eq!(ta.covered_by(&ConsistencyToken::Lsn(b)), b >= a);
        }

        #[test]
        fn gtid_tokens_round_trip_and_max_covers_both(
            a in proptest::collection::btree_map(0u32..4, (1u32..5, 0u64..1000), 0..4),
            b in proptest::collection::btree_map(0u32..4, (1u32..5, 0u64..1000), 0..4),
        ) {
            let ta = ConsistencyToken::Gtid(GtidPos(a));
            let tb = ConsistencyToken::Gtid(GtidPos(b));
            let back: ConsistencyToken = ta.to_string().parse().unwrap();
            prop_assert_eq!(&back, &ta);
            let m = ta.max(&tb);
            prop_assert!(ta.covered_by(&m));
            prop_assert!(tb.covered_by(&m));
        }
    }
}
