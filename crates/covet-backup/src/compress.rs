//! Per-chunk compression.

use std::io::{Read, Write};
use std::str::FromStr;

use crate::error::{BackupError, Result};

/// The compression applied to each chunk before it is sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// No compression.
    None,
    /// gzip (DEFLATE) through flate2, at the given level (0..=9).
    Gzip(u32),
    /// zstd at the given level (1..=19). The default, at level 3: see the
    /// crate README for the measurements behind the choice.
    #[default]
    Zstd3,
    /// zstd at another level.
    Zstd(i32),
}

impl Compression {
    pub(crate) fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip(_) => 1,
            Compression::Zstd3 | Compression::Zstd(_) => 2,
        }
    }

    pub(crate) fn from_id(id: u8) -> Result<Self> {
        match id {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip(6)),
            2 => Ok(Compression::Zstd3),
            n => Err(BackupError::BadHeader(format!(
                "unknown compression id {n}"
            ))),
        }
    }

    /// The algorithm's name (`zstd`, `gzip`, `none`).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip(_) => "gzip",
            Compression::Zstd3 | Compression::Zstd(_) => "zstd",
        }
    }

    /// The level used when writing.
    pub fn level(self) -> i32 {
        match self {
            Compression::None => 0,
            Compression::Gzip(l) => i32::try_from(l).unwrap_or(6),
            Compression::Zstd3 => 3,
            Compression::Zstd(l) => l,
        }
    }

    pub(crate) fn compress(self, data: &[u8]) -> Result<Vec<u8>> {
        let err = |e: std::io::Error| BackupError::io("compressing a chunk", e);
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Gzip(level) => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 3),
                    flate2::Compression::new(level.min(9)),
                );
                enc.write_all(data).map_err(err)?;
                enc.finish().map_err(err)
            }
            Compression::Zstd3 | Compression::Zstd(_) => {
                zstd::bulk::compress(data, self.level()).map_err(err)
            }
        }
    }

    /// Decompresses, refusing output larger than `raw_len` (the length the
    /// writer recorded), so a bad chunk cannot balloon memory.
    pub(crate) fn decompress(self, data: &[u8], raw_len: usize, index: u64) -> Result<Vec<u8>> {
        let malformed = |reason: String| BackupError::Malformed { index, reason };
        let out = match self {
            Compression::None => data.to_vec(),
            Compression::Gzip(_) => {
                let mut out = Vec::with_capacity(raw_len);
                flate2::read::GzDecoder::new(data)
                    .take(raw_len as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| malformed(format!("gzip: {e}")))?;
                out
            }
            Compression::Zstd3 | Compression::Zstd(_) => zstd::bulk::decompress(data, raw_len)
                .map_err(|e| malformed(format!("zstd: {e}")))?,
        };
        if out.len() != raw_len {
            return Err(malformed(format!(
                "decompressed to {} bytes, expected {raw_len}",
                out.len()
            )));
        }
        Ok(out)
    }
}

impl FromStr for Compression {
    type Err = BackupError;

    /// `zstd`, `zstd:9`, `gzip`, `gzip:1`, `none`.
    fn from_str(s: &str) -> Result<Self> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (s, None),
        };
        let bad_level = || BackupError::Config(format!("invalid compression level in {s:?}"));
        match (name, level) {
            ("none", None) => Ok(Compression::None),
            ("gzip", None) => Ok(Compression::Gzip(6)),
            ("gzip", Some(l)) => {
                let l: u32 = l.parse().map_err(|_| bad_level())?;
                if l > 9 {
                    return Err(bad_level());
                }
                Ok(Compression::Gzip(l))
            }
            ("zstd", None) => Ok(Compression::Zstd3),
            ("zstd", Some(l)) => {
                let l: i32 = l.parse().map_err(|_| bad_level())?;
                if !(1..=19).contains(&l) {
                    return Err(bad_level());
                }
                Ok(Compression::Zstd(l))
            }
            _ => Err(BackupError::Config(format!(
                "unknown compression {s:?}: expected zstd, gzip or none (optionally :level)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_limits() {
        let data = b"abcabcabcabc".repeat(1000);
        for c in [
            Compression::None,
            Compression::Gzip(6),
            Compression::Zstd3,
            Compression::Zstd(9),
        ] {
            let z = c.compress(&data).unwrap();
            assert_eq!(c.decompress(&z, data.len(), 0).unwrap(), data);
            assert!(c.decompress(&z, data.len() - 1, 0).is_err(), "{c:?}");
        }
        assert_eq!(
            "gzip:1".parse::<Compression>().unwrap(),
            Compression::Gzip(1)
        );
        assert!("lz4".parse::<Compression>().is_err());
        assert!("zstd:40".parse::<Compression>().is_err());
    }
}
