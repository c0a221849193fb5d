//! The container format (version 2): a header, then length-prefixed sealed
//! chunks, the last of which is the manifest. See docs/backup-format.md.
//!
//! Version 2 added PostgreSQL backups whose schema chunk carries the
//! catalog ([`PgCatalog`]) and whose data chunks hold COPY text instead of
//! the row encoding. Version 1 backups (row encoding everywhere) are still
//! read and restored.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::compress::Compression;
use crate::crypto::{self, Kdf, KdfParams, KeySource, MasterKey, Sealer, hex};
use crate::error::{BackupError, Result};
use crate::manifest::Manifest;
use crate::mysql::MysqlCatalog;
use crate::pg::PgCatalog;
use crate::sink::SinkWriter;
use crate::sqlite::SqliteCatalog;

/// The container format version this crate writes (and the newest it reads).
pub(crate) const FORMAT_VERSION: u16 = 2;
/// The oldest container format version this crate reads.
pub(crate) const MIN_FORMAT_VERSION: u16 = 1;

#[cfg(test)]
thread_local! {
    /// The version new backups get on this thread: tests write older
    /// versions to prove they are still read.
    pub(crate) static WRITE_VERSION: std::cell::Cell<u16> = const { std::cell::Cell::new(FORMAT_VERSION) };
}

fn write_version() -> u16 {
    #[cfg(test)]
    {
        WRITE_VERSION.with(|v| v.get())
    }
    #[cfg(not(test))]
    {
        FORMAT_VERSION
    }
}
/// The first eight bytes of every backup.
pub(crate) const MAGIC: &[u8; 8] = b"COVETBAK";
/// The header's length in bytes.
pub const HEADER_LEN: usize = 82;
/// The largest chunk body a reader accepts (a chunk holds at least one row,
/// so a single huge value can make one chunk large).
pub(crate) const MAX_CHUNK_BODY: u64 = 1 << 30;
pub(crate) const LAST_FLAG: u32 = 1 << 31;

/// How a new backup is encrypted.
#[derive(Debug, Clone, Default)]
pub enum Encryption {
    /// Encrypted with AES-256-GCM under a key from this source.
    Key(KeySource),
    /// Not encrypted: chunks carry integrity checksums only. Chosen only
    /// explicitly (`--no-encryption`).
    #[default]
    None,
}

/// The fixed-size header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) version: u16,
    pub(crate) compression: Compression,
    pub(crate) encrypted: bool,
    pub(crate) kdf: Kdf,
    pub(crate) kdf_params: KdfParams,
    pub(crate) salt: [u8; 16],
    pub(crate) file_nonce: [u8; 32],
    pub(crate) key_id: [u8; 8],
}

impl Header {
    pub(crate) fn to_bytes(&self) -> [u8; HEADER_LEN] {
        self.to_bytes_with_magic(MAGIC)
    }

    /// The header under another format's magic (sealed objects share the
    /// header layout and its key handling).
    pub(crate) fn to_bytes_with_magic(&self, magic: &[u8; 8]) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(magic);
        b[8..10].copy_from_slice(&self.version.to_be_bytes());
        b[10] = self.compression.id();
        b[11] = u8::from(self.encrypted);
        b[12] = self.kdf as u8;
        b[14..18].copy_from_slice(&self.kdf_params.m_cost.to_be_bytes());
        b[18..22].copy_from_slice(&self.kdf_params.t_cost.to_be_bytes());
        b[22..26].copy_from_slice(&self.kdf_params.p_cost.to_be_bytes());
        b[26..42].copy_from_slice(&self.salt);
        b[42..74].copy_from_slice(&self.file_nonce);
        b[74..82].copy_from_slice(&self.key_id);
        b
    }

    pub(crate) fn parse(b: &[u8; HEADER_LEN]) -> Result<Self> {
        if &b[..8] != MAGIC {
            return Err(BackupError::NotABackup);
        }
        let version = u16::from_be_bytes([b[8], b[9]]);
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(BackupError::UnsupportedVersion(version));
        }
        Self::parse_fields(b, version)
    }

    /// Parses a header whose magic and version the caller has checked.
    pub(crate) fn parse_fields(b: &[u8; HEADER_LEN], version: u16) -> Result<Self> {
        let compression = Compression::from_id(b[10])?;
        let encrypted = match b[11] {
            0 => false,
            1 => true,
            n => return Err(BackupError::BadHeader(format!("unknown cipher id {n}"))),
        };
        let kdf = match (b[12], encrypted) {
            (0, false) => Kdf::None,
            (1, true) => Kdf::KeyFile,
            (2, true) => Kdf::Argon2id,
            (n, _) => {
                return Err(BackupError::BadHeader(format!(
                    "key derivation id {n} does not fit the cipher"
                )));
            }
        };
        if b[13] != 0 {
            return Err(BackupError::BadHeader("reserved byte is not zero".into()));
        }
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let kdf_params = KdfParams {
            m_cost: u32_at(14),
            t_cost: u32_at(18),
            p_cost: u32_at(22),
        };
        if kdf == Kdf::Argon2id {
            kdf_params.check()?;
        }
        let mut h = Header {
            version,
            compression,
            encrypted,
            kdf,
            kdf_params,
            salt: [0; 16],
            file_nonce: [0; 32],
            key_id: [0; 8],
        };
        h.salt.copy_from_slice(&b[26..42]);
        h.file_nonce.copy_from_slice(&b[42..74]);
        h.key_id.copy_from_slice(&b[74..82]);
        Ok(h)
    }

    /// A header and master key for a new backup.
    pub(crate) fn new_for_write(
        compression: Compression,
        enc: &Encryption,
    ) -> Result<(Header, Option<MasterKey>)> {
        let mut h = Header {
            version: write_version(),
            compression,
            encrypted: false,
            kdf: Kdf::None,
            kdf_params: KdfParams {
                m_cost: 0,
                t_cost: 0,
                p_cost: 0,
            },
            salt: [0; 16],
            file_nonce: rand::random(),
            key_id: [0; 8],
        };
        let key = match enc {
            Encryption::None => None,
            Encryption::Key(src) => {
                h.encrypted = true;
                let key = match src {
                    KeySource::File(p) => {
                        h.kdf = Kdf::KeyFile;
                        crypto::read_key_file(p)?
                    }
                    KeySource::Raw(k) => {
                        h.kdf = Kdf::KeyFile;
                        MasterKey::from_bytes(*k)
                    }
                    KeySource::Passphrase(p) | KeySource::PassphraseWith(p, _) => {
                        let params = match src {
                            KeySource::PassphraseWith(_, params) => *params,
                            _ => KdfParams::default(),
                        };
                        h.kdf = Kdf::Argon2id;
                        h.kdf_params = params.check().map_err(|_| {
                            BackupError::Config("Argon2id parameters out of range".into())
                        })?;
                        h.salt = rand::random();
                        crypto::derive_passphrase(p, &h.salt, params)?
                    }
                };
                h.key_id = key.id();
                Some(key)
            }
        };
        Ok((h, key))
    }

    /// The master key for reading, checked against the header's key id.
    pub(crate) fn open_key(&self, src: Option<&KeySource>) -> Result<Option<MasterKey>> {
        if !self.encrypted {
            return Ok(None);
        }
        let expected = hex(&self.key_id);
        let Some(src) = src else {
            return Err(BackupError::KeyRequired { key_id: expected });
        };
        let key = match src {
            KeySource::File(p) => crypto::read_key_file(p)?,
            KeySource::Raw(k) => MasterKey::from_bytes(*k),
            KeySource::Passphrase(p) | KeySource::PassphraseWith(p, _) => {
                if self.kdf == Kdf::Argon2id {
                    crypto::derive_passphrase(p, &self.salt, self.kdf_params)?
                } else {
                    // Written with a key file: no passphrase can be right.
                    // No id is derived from it either, since a fast hash of
                    // a passphrase in an error message invites guessing.
                    return Err(BackupError::WrongKey {
                        expected,
                        given: "a passphrase (this backup was written with a key file)".into(),
                    });
                }
            }
        };
        if key.id() != self.key_id {
            return Err(BackupError::WrongKey {
                expected,
                given: key.id_hex(),
            });
        }
        Ok(Some(key))
    }

    pub(crate) fn kdf_name(&self) -> &'static str {
        match self.kdf {
            Kdf::None => "none",
            Kdf::KeyFile => "key-file",
            Kdf::Argon2id => "argon2id",
        }
    }
}

/// What a chunk holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkKind {
    Schema = 1,
    Data = 2,
    Manifest = 3,
}

/// The plaintext of a chunk: kind, table index, row count, uncompressed
/// payload length, then the (compressed, for data) payload.
pub(crate) const CHUNK_HEAD: usize = 13;

pub(crate) fn chunk_plain(
    kind: ChunkKind,
    table: u32,
    rows: u32,
    raw_len: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(CHUNK_HEAD + payload.len());
    v.push(kind as u8);
    v.extend_from_slice(&table.to_be_bytes());
    v.extend_from_slice(&rows.to_be_bytes());
    v.extend_from_slice(&raw_len.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// The schema of the backed-up tables: the schema chunk's JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSchema {
    /// The source engine.
    pub engine: String,
    /// Tables, in the order their indexes in data chunks refer to.
    pub tables: Vec<TableSchema>,
    /// PostgreSQL (format version 2): the catalog a restore recreates, and
    /// the mark that data chunks hold COPY text. Absent in version 1
    /// backups and for the other engines, whose data chunks hold the row
    /// encoding and whose schema is `tables`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PgCatalog>,
    /// SQLite (format version 2): the schema as `sqlite_master` holds it,
    /// and the mark that values were read by storage class. Absent in
    /// version 1 backups, restored from `tables` then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite: Option<SqliteCatalog>,
    /// MySQL / MariaDB (format version 2, added later): the schema as the
    /// server prints it, and the mark that values are held in the exact
    /// forms [`MysqlCatalog`] describes. Absent in older backups, restored
    /// from `tables` then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql: Option<MysqlCatalog>,
}

/// One table's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Columns, keys and indexes as the adapter introspected them.
    pub table: covet_core::Table,
    /// The next value of the table's sequence / AUTO_INCREMENT counter, when
    /// it has one, so inserts after a restore do not reuse ids.
    pub next_auto_value: Option<i64>,
}

/// Writes the sealed stream to a sink.
pub(crate) struct StreamWriter {
    out: Box<dyn SinkWriter>,
    sealer: Sealer,
    pub(crate) header: Header,
    index: u64,
    pub(crate) chunk_sha256: Vec<String>,
    file_hash: Sha256,
    pub(crate) stored: u64,
    pub(crate) key_id: Option<String>,
}

impl StreamWriter {
    pub(crate) async fn start(
        mut out: Box<dyn SinkWriter>,
        compression: Compression,
        enc: &Encryption,
    ) -> Result<Self> {
        let (header, key) = match Header::new_for_write(compression, enc) {
            Ok(x) => x,
            Err(e) => {
                out.abort().await;
                return Err(e);
            }
        };
        let hb = header.to_bytes();
        let sealer = Sealer::new(key.as_ref().map(|k| k.file_cipher(&header.file_nonce)), &hb);
        let mut file_hash = Sha256::new();
        file_hash.update(hb);
        if let Err(e) = out.write(Bytes::copy_from_slice(&hb)).await {
            out.abort().await;
            return Err(e);
        }
        Ok(StreamWriter {
            out,
            sealer,
            header,
            index: 0,
            chunk_sha256: Vec::new(),
            file_hash,
            stored: HEADER_LEN as u64,
            key_id: key.map(|k| k.id_hex()),
        })
    }

    async fn put(&mut self, plain: &[u8], last: bool) -> Result<()> {
        let body = self.sealer.seal(self.index, last, plain);
        let len = u32::try_from(body.len())
            .ok()
            .filter(|l| u64::from(*l) <= MAX_CHUNK_BODY)
            .ok_or_else(|| BackupError::Unsupported("a chunk over 1 GiB (one huge row?)".into()))?;
        let word = if last { len | LAST_FLAG } else { len };
        let digest: [u8; 32] = Sha256::digest(&body).into();
        if !last {
            self.chunk_sha256.push(hex(&digest));
        }
        let mut frame = Vec::with_capacity(4 + body.len());
        frame.extend_from_slice(&word.to_be_bytes());
        frame.extend_from_slice(&body);
        self.file_hash.update(&frame);
        self.stored += frame.len() as u64;
        self.out.write(Bytes::from(frame)).await?;
        self.index += 1;
        Ok(())
    }

    pub(crate) async fn write_chunk(&mut self, plain: &[u8]) -> Result<()> {
        self.put(plain, false).await
    }

    /// Seals `manifest` as the last chunk and returns the writer (to commit)
    /// with the stream's total size and SHA-256.
    pub(crate) async fn finish(
        mut self,
        manifest: &Manifest,
    ) -> Result<(Box<dyn SinkWriter>, u64, String)> {
        let json = serde_json::to_vec(manifest)
            .map_err(|e| BackupError::ManifestInvalid(e.to_string()))?;
        let len = u32::try_from(json.len())
            .map_err(|_| BackupError::Unsupported("manifest over 4 GiB".into()))?;
        let plain = chunk_plain(ChunkKind::Manifest, 0, 0, len, &json);
        self.put(&plain, true).await?;
        let sha = hex(&self.file_hash.finalize());
        Ok((self.out, self.stored, sha))
    }

    pub(crate) async fn abort(self) {
        self.out.abort().await;
    }
}

/// A chunk as the reader hands it out, opened and decompressed.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) index: u64,
    pub(crate) kind: ChunkKind,
    pub(crate) table: u32,
    pub(crate) rows: u32,
    pub(crate) payload: Vec<u8>,
    pub(crate) raw_len: u64,
}

/// Reads and opens the sealed stream.
pub(crate) struct StreamReader<R> {
    r: R,
    sealer: Sealer,
    pub(crate) header: Header,
    index: u64,
    done: bool,
    pub(crate) chunk_sha256: Vec<String>,
    file_hash: Sha256,
    pub(crate) stored: u64,
    pub(crate) stored_before_last: u64,
    pub(crate) key_id: Option<String>,
}

pub(crate) async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = r
            .read(&mut buf[n..])
            .await
            .map_err(|e| BackupError::io("reading the backup", e))?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

impl<R: AsyncRead + Unpin + Send> StreamReader<R> {
    pub(crate) async fn open(mut r: R, key: Option<&KeySource>) -> Result<Self> {
        let mut hb = [0u8; HEADER_LEN];
        let n = read_full(&mut r, &mut hb).await?;
        if n < 8 || &hb[..8] != MAGIC {
            return Err(BackupError::NotABackup);
        }
        if n < HEADER_LEN {
            return Err(BackupError::Truncated { chunks: 0 });
        }
        let header = Header::parse(&hb)?;
        let master = header.open_key(key)?;
        let sealer = Sealer::new(
            master.as_ref().map(|k| k.file_cipher(&header.file_nonce)),
            &hb,
        );
        let mut file_hash = Sha256::new();
        file_hash.update(hb);
        Ok(StreamReader {
            r,
            sealer,
            header,
            index: 0,
            done: false,
            chunk_sha256: Vec::new(),
            file_hash,
            stored: HEADER_LEN as u64,
            stored_before_last: 0,
            key_id: master.map(|k| k.id_hex()),
        })
    }

    /// The next chunk, or `None` after the manifest chunk (once the end of
    /// the stream has been checked).
    pub(crate) async fn next(&mut self) -> Result<Option<Chunk>> {
        if self.done {
            return Ok(None);
        }
        let index = self.index;
        let mut word = [0u8; 4];
        let n = read_full(&mut self.r, &mut word).await?;
        if n < 4 {
            return Err(BackupError::Truncated { chunks: index });
        }
        let word = u32::from_be_bytes(word);
        let last = word & LAST_FLAG != 0;
        let len = u64::from(word & !LAST_FLAG);
        if len > MAX_CHUNK_BODY {
            return Err(BackupError::ChunkTooLarge {
                index,
                len,
                limit: MAX_CHUNK_BODY,
            });
        }
        // Read in pieces so a damaged length cannot allocate a gigabyte
        // before the stream runs out.
        let len = len as usize;
        let mut body = Vec::with_capacity(len.min(4 << 20));
        while body.len() < len {
            let want = (len - body.len()).min(4 << 20);
            let start = body.len();
            body.resize(start + want, 0);
            let got = read_full(&mut self.r, &mut body[start..]).await?;
            if got < want {
                return Err(BackupError::Truncated { chunks: index });
            }
        }
        let plain = self.sealer.open(index, last, &body)?;
        self.file_hash.update(word.to_be_bytes());
        self.file_hash.update(&body);
        if last {
            self.stored_before_last = self.stored;
        }
        self.stored += 4 + len as u64;
        if !last {
            self.chunk_sha256.push(hex(&Sha256::digest(&body)));
        }
        drop(body);
        self.index += 1;
        let malformed = |reason: &str| BackupError::Malformed {
            index,
            reason: reason.to_owned(),
        };
        if plain.len() < CHUNK_HEAD {
            return Err(malformed("shorter than a chunk head"));
        }
        let kind = match plain[0] {
            1 => ChunkKind::Schema,
            2 => ChunkKind::Data,
            3 => ChunkKind::Manifest,
            _ => return Err(malformed("unknown chunk kind")),
        };
        if (kind == ChunkKind::Manifest) != last {
            return Err(malformed("the manifest must be the last chunk and only it"));
        }
        let be =
            |i: usize| u32::from_be_bytes([plain[i], plain[i + 1], plain[i + 2], plain[i + 3]]);
        let table = be(1);
        let rows = be(5);
        let raw_len = be(9);
        let payload = &plain[CHUNK_HEAD..];
        let payload = if kind == ChunkKind::Data {
            self.header
                .compression
                .decompress(payload, raw_len as usize, index)?
        } else {
            if payload.len() != raw_len as usize {
                return Err(malformed("payload length differs from its head"));
            }
            payload.to_vec()
        };
        if last {
            self.done = true;
            let mut probe = [0u8; 1];
            if read_full(&mut self.r, &mut probe).await? != 0 {
                return Err(BackupError::TrailingData);
            }
        }
        Ok(Some(Chunk {
            index,
            kind,
            table,
            rows,
            raw_len: u64::from(raw_len),
            payload,
        }))
    }

    /// The SHA-256 of everything read so far (the whole file once the
    /// manifest has been read).
    pub(crate) fn file_sha256(&self) -> String {
        hex(&self.file_hash.clone().finalize())
    }
}

/// Parses a schema chunk.
pub(crate) fn parse_schema(chunk: &Chunk) -> Result<Arc<BackupSchema>> {
    serde_json::from_slice(&chunk.payload)
        .map(Arc::new)
        .map_err(|e| BackupError::Malformed {
            index: chunk.index,
            reason: format!("schema: {e}"),
        })
}

/// Parses the manifest chunk.
pub(crate) fn parse_manifest(chunk: &Chunk) -> Result<Manifest> {
    serde_json::from_slice(&chunk.payload).map_err(|e| BackupError::ManifestInvalid(e.to_string()))
}
