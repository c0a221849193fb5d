//! The stream a base backup's data directory is stored as (inside one
//! sealed object, which compresses, encrypts and authenticates it).
//!
//! ```text
//! magic   "CVPGDAT1"
//! entry*  kind u8 | mode u32 LE | path_len u32 LE | path (relative, '/'-separated)
//!         kind 'D' (directory): nothing more
//!         kind 'F' (file):      size u64 LE | size bytes
//!         kind 'L' (symlink):   target_len u32 LE | target
//! end     kind 'E' | 0u32 | 0u32 | entries u64 LE (how many came before)
//! ```
//!
//! Paths never start with `/` and have no `.` or `..` component; the
//! reader refuses any other, and any byte after the end record.

use bytes::Bytes;

use crate::error::{PitrError, Result};

/// The magic bytes that open the stream.
pub const MAGIC: &[u8; 8] = b"CVPGDAT1";
/// The longest path or symlink target accepted.
pub const MAX_PATH: usize = 4096;

/// One record's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory.
    Dir {
        /// Relative path.
        path: String,
        /// Permission bits.
        mode: u32,
    },
    /// A file whose `size` bytes follow.
    File {
        /// Relative path.
        path: String,
        /// Permission bits.
        mode: u32,
        /// Bytes that follow.
        size: u64,
    },
    /// A symbolic link.
    Symlink {
        /// Relative path.
        path: String,
        /// Where it points.
        target: String,
    },
}

/// Encodes a record header (a file's bytes follow it).
pub fn encode(entry: &Entry) -> Vec<u8> {
    let (kind, path, mode) = match entry {
        Entry::Dir { path, mode } => (b'D', path, *mode),
        Entry::File { path, mode, .. } => (b'F', path, *mode),
        Entry::Symlink { path, .. } => (b'L', path, 0o777),
    };
    let mut v = Vec::with_capacity(9 + path.len() + 8);
    v.push(kind);
    v.extend_from_slice(&mode.to_le_bytes());
    v.extend_from_slice(&(path.len() as u32).to_le_bytes());
    v.extend_from_slice(path.as_bytes());
    match entry {
        Entry::File { size, .. } => v.extend_from_slice(&size.to_le_bytes()),
        Entry::Symlink { target, .. } => {
            v.extend_from_slice(&(target.len() as u32).to_le_bytes());
            v.extend_from_slice(target.as_bytes());
        }
        Entry::Dir { .. } => {}
    }
    v
}

/// Encodes the end record after `entries` records.
pub fn encode_end(entries: u64) -> Vec<u8> {
    let mut v = vec![b'E'];
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&entries.to_le_bytes());
    v
}

/// What the reader found, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A record header.
    Entry(Entry),
    /// Bytes of the current file.
    Data(Bytes),
    /// The current file is complete.
    FileEnd,
    /// The end record: the stream is complete.
    End,
}

enum State {
    Magic,
    Header,
    Data(u64),
    Done,
}

/// A push parser: feed it the stream in pieces of any size.
pub struct Reader {
    state: State,
    buf: Vec<u8>,
    entries: u64,
}

impl Default for Reader {
    fn default() -> Self {
        Reader {
            state: State::Magic,
            buf: Vec::new(),
            entries: 0,
        }
    }
}

fn bad(reason: impl Into<String>) -> PitrError {
    PitrError::Config(format!(
        "base backup archive is malformed: {}",
        reason.into()
    ))
}

/// Checks a relative path from the stream.
pub fn check_path(p: &str) -> Result<()> {
    if p.is_empty()
        || p.starts_with('/')
        || p.contains('\0')
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad(format!("unsafe path {p:?}")));
    }
    Ok(())
}

enum Parse {
    Need(usize),
    Header(Entry, usize),
    End(u64, usize),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

fn text(b: &[u8]) -> Result<String> {
    String::from_utf8(b.to_vec()).map_err(|_| bad("a path is not UTF-8"))
}

/// Parses one header from `b`, or says how many bytes it needs in all.
fn parse_header(b: &[u8]) -> Result<Parse> {
    if b.len() < 9 {
        return Ok(Parse::Need(9));
    }
    let kind = b[0];
    let mode = u32_at(b, 1);
    let plen = u32_at(b, 5) as usize;
    if plen > MAX_PATH {
        return Err(bad("path too long"));
    }
    let after = 9 + plen;
    let extra = match kind {
        b'D' => 0,
        b'F' | b'E' => 8,
        b'L' => 4,
        k => return Err(bad(format!("unknown record kind {k:#04x}"))),
    };
    if b.len() < after + extra {
        return Ok(Parse::Need(after + extra));
    }
    let path = text(&b[9..after])?;
    Ok(match kind {
        b'D' => Parse::Header(Entry::Dir { path, mode }, after),
        b'F' => Parse::Header(
            Entry::File {
                path,
                mode,
                size: u64_at(b, after),
            },
            after + 8,
        ),
        b'E' => {
            if plen != 0 {
                return Err(bad("end record with a path"));
            }
            Parse::End(u64_at(b, after), after + 8)
        }
        _ => {
            let tlen = u32_at(b, after) as usize;
            if tlen > MAX_PATH {
                return Err(bad("symlink target too long"));
            }
            let end = after + 4 + tlen;
            if b.len() < end {
                return Ok(Parse::Need(end));
            }
            Parse::Header(
                Entry::Symlink {
                    path,
                    target: text(&b[after + 4..end])?,
                },
                end,
            )
        }
    })
}

impl Reader {
    /// Feeds the next piece of the stream, appending what it completes to
    /// `out`.
    pub fn feed(&mut self, mut chunk: Bytes, out: &mut Vec<Event>) -> Result<()> {
        loop {
            match self.state {
                State::Done => {
                    return if chunk.is_empty() {
                        Ok(())
                    } else {
                        Err(bad("bytes after the end record"))
                    };
                }
                State::Data(remaining) => {
                    if chunk.is_empty() {
                        return Ok(());
                    }
                    let n = remaining.min(chunk.len() as u64) as usize;
                    out.push(Event::Data(chunk.split_to(n)));
                    let left = remaining - n as u64;
                    if left == 0 {
                        out.push(Event::FileEnd);
                        self.state = State::Header;
                    } else {
                        self.state = State::Data(left);
                    }
                }
                State::Magic => {
                    let need = MAGIC.len() - self.buf.len();
                    let take = need.min(chunk.len());
                    self.buf.extend_from_slice(&chunk.split_to(take));
                    if self.buf.len() < MAGIC.len() {
                        return Ok(());
                    }
                    if self.buf != MAGIC {
                        return Err(bad("bad magic bytes"));
                    }
                    self.buf.clear();
                    self.state = State::Header;
                }
                State::Header => {
                    // Copy only as many bytes as the header needs, so a
                    // large chunk holding many small files is not copied
                    // once per file.
                    let parsed = if self.buf.is_empty() {
                        parse_header(&chunk)?
                    } else {
                        parse_header(&self.buf)?
                    };
                    match parsed {
                        Parse::Need(total) => {
                            if chunk.is_empty() {
                                return Ok(());
                            }
                            let have = self.buf.len();
                            let take = (total - have).min(chunk.len());
                            self.buf.extend_from_slice(&chunk.split_to(take));
                        }
                        Parse::End(count, used) => {
                            self.consume(&mut chunk, used);
                            if count != self.entries {
                                return Err(bad(format!(
                                    "the end record counts {count} entries, the stream held {}",
                                    self.entries
                                )));
                            }
                            self.state = State::Done;
                            out.push(Event::End);
                        }
                        Parse::Header(e, used) => {
                            self.consume(&mut chunk, used);
                            let path = match &e {
                                Entry::Dir { path, .. }
                                | Entry::File { path, .. }
                                | Entry::Symlink { path, .. } => path,
                            };
                            check_path(path)?;
                            self.entries += 1;
                            let size = match e {
                                Entry::File { size, .. } => Some(size),
                                _ => None,
                            };
                            out.push(Event::Entry(e));
                            match size {
                                Some(0) => out.push(Event::FileEnd),
                                Some(n) => self.state = State::Data(n),
                                None => {}
                            }
                        }
                    }
                }
            }
        }
    }

    /// Drops a parsed header from wherever it was parsed.
    fn consume(&mut self, chunk: &mut Bytes, used: usize) {
        if self.buf.is_empty() {
            let _ = chunk.split_to(used);
        } else {
            self.buf.clear();
        }
    }

    /// Whether the end record was read.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Records read before the end.
    pub fn entries(&self) -> u64 {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry() -> impl Strategy<Value = (Entry, Vec<u8>)> {
        let path = "[a-z0-9_]{1,8}(/[a-z0-9_.]{1,8}){0,3}"
            .prop_filter("no dot components", |p: &String| {
                p.split('/').all(|c| c != "." && c != "..")
            });
        prop_oneof![
            (path.clone(), 0u32..0o7777)
                .prop_map(|(path, mode)| (Entry::Dir { path, mode }, vec![])),
            (
                path.clone(),
                0u32..0o7777,
                proptest::collection::vec(any::<u8>(), 0..300)
            )
                .prop_map(|(path, mode, data)| (
                    Entry::File {
                        path,
                        mode,
                        size: data.len() as u64
                    },
                    data
                )),
            (path, "[a-z/.]{1,20}")
                .prop_map(|(path, target)| (Entry::Symlink { path, target }, vec![])),
        ]
    }

    proptest! {
        /// Whatever the entries and however the stream is cut, the reader
        /// gives back exactly the entries and bytes written.
        #[test]
        fn round_trips(entries in proptest::collection::vec(entry(), 0..12), cuts in proptest::collection::vec(1usize..64, 1..40)) {
            let mut stream = MAGIC.to_vec();
            for (e, data) in &entries {
                stream.extend(encode(e));
                stream.extend(data);
            }
            stream.extend(encode_end(entries.len() as u64));
            let mut r = Reader::default();
            let mut out = Vec::new();
            let mut rest = Bytes::from(stream);
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                i += 1;
                r.feed(rest.split_to(n), &mut out).unwrap();
            }
            prop_assert!(r.is_done());
            let mut got = Vec::new();
            let mut cur: Option<(Entry, Vec<u8>)> = None;
            for ev in out {
                match ev {
                    Event::Entry(e @ Entry::File { .. }) => cur = Some((e, vec![])),
                    Event::Entry(e) => got.push((e, vec![])),
                    Event::Data(b) => cur.as_mut().unwrap().1.extend_from_slice(&b),
                    Event::FileEnd => got.push(cur.take().unwrap()),
                    Event::End => {}
                }
            }
            prop_assert_eq!(got, entries);
        }
    }

    #[test]
    fn refuses_unsafe_paths_and_trailing_bytes() {
        let mut s = MAGIC.to_vec();
        s.extend(encode(&Entry::Dir {
            path: "../etc".into(),
            mode: 0o700,
        }));
        assert!(Reader::default().feed(Bytes::from(s), &mut vec![]).is_err());
        let mut s = MAGIC.to_vec();
        s.extend(encode_end(0));
        s.push(0);
        assert!(Reader::default().feed(Bytes::from(s), &mut vec![]).is_err());
    }
}
