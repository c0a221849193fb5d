//! Sealed objects: one file (a WAL segment, a base backup, a binlog
//! segment) stored in a [`BackupSink`] compressed, encrypted and checked,
//! the way point-in-time recovery needs it.
//!
//! An object is the backup header (under the magic `COVETOBJ`), then
//! length-prefixed chunks sealed exactly as a backup's are (AES-256-GCM
//! keyed per object from the master key, or integrity checksums when
//! encryption is off on purpose). Each chunk but the last holds up to
//! 1 MiB of the file, compressed; the last holds a JSON trailer with the
//! kind, label, plain length and plain SHA-256. Every chunk's associated
//! data binds the header, its index and whether it is last, so a reader
//! detects reordering, truncation and splicing, and checks the whole
//! file's length and SHA-256 at the end.
//!
//! Writes are atomic through the sink (nothing is visible under a name
//! until it is whole). [`put_object`] is idempotent the way an
//! `archive_command` must be: the same bytes again under a name is a
//! no-op, different bytes are refused with
//! [`BackupError::ObjectConflict`].
//!
//! An object's index entry (what [`list_objects`] reads, without a key)
//! has the engine `object:<kind>`, the label as its database and the plain
//! length as its row count; backup listing and retention skip such
//! entries.

use std::path::Path;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::compress::Compression;
use crate::crypto::{KeySource, Sealer, hex};
use crate::error::{BackupError, Result};
use crate::format::{Encryption, HEADER_LEN, Header, LAST_FLAG, read_full};
use crate::sink::{BackupEntry, BackupRead, BackupSink, SinkWriter};

/// The first eight bytes of every sealed object.
const OBJECT_MAGIC: &[u8; 8] = b"COVETOBJ";
/// The object format version this crate writes and reads.
const OBJECT_VERSION: u16 = 1;
/// Plain bytes per chunk.
const CHUNK: usize = 1 << 20;
/// The largest stored chunk body a reader accepts: a 1 MiB chunk that did
/// not compress, plus framing, with room to spare.
const MAX_BODY: usize = 2 << 20;
/// Data chunks start with this byte, the trailer with [`TRAILER_CHUNK`].
const DATA_CHUNK: u8 = 1;
const TRAILER_CHUNK: u8 = 2;
/// The index entries of objects carry `object:<kind>` as their engine.
const ENGINE_PREFIX: &str = "object:";

/// How a new object is stored.
#[derive(Debug, Clone, Default)]
pub struct ObjectOptions {
    /// Encryption (a key file for anything that runs per file, such as an
    /// `archive_command`: a passphrase costs an Argon2id derivation each
    /// time).
    pub encryption: Encryption,
    /// Compression of each chunk.
    pub compression: Compression,
    /// What the object is (`pg-wal`, `pg-base`, `mysql-binlog`, ...):
    /// [`list_objects`] filters on it.
    pub kind: String,
    /// Free text shown by listings (a cluster or server name).
    pub label: String,
}

/// What is known about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's name in its sink.
    pub name: String,
    /// Its kind (see [`ObjectOptions::kind`]).
    pub kind: String,
    /// Its label.
    pub label: String,
    /// Its length before compression and encryption.
    pub plain_len: u64,
    /// The SHA-256 of its plain bytes, in hexadecimal. `None` in a listing:
    /// only a reader that checked the object knows it.
    pub plain_sha256: Option<String>,
    /// Its stored length.
    pub stored_len: u64,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// The id of the key it is encrypted with, if any.
    pub key_id: Option<String>,
}

/// What [`put_object`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was written.
    Stored(ObjectInfo),
    /// An object of that name with the same bytes was already there;
    /// nothing was written.
    AlreadyPresent(ObjectInfo),
}

impl PutOutcome {
    /// The stored object's info, whichever way it got there.
    pub fn info(&self) -> &ObjectInfo {
        match self {
            PutOutcome::Stored(i) | PutOutcome::AlreadyPresent(i) => i,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Trailer {
    kind: String,
    label: String,
    plain_len: u64,
    plain_sha256: String,
    created_at: DateTime<Utc>,
    chunks: u64,
}

/// Whether a sink's index entry describes a sealed object rather than a
/// backup.
pub fn is_object_entry(entry: &BackupEntry) -> bool {
    entry.engine.starts_with(ENGINE_PREFIX)
}

/// Writes one object as its bytes arrive; [`ObjectWriter::finish`] makes it
/// visible, dropping or [`ObjectWriter::abort`] leaves nothing.
pub struct ObjectWriter {
    name: String,
    opts: ObjectOptions,
    out: Option<Box<dyn SinkWriter>>,
    sealer: Sealer,
    key_id: Option<String>,
    buf: Vec<u8>,
    index: u64,
    plain_hash: Sha256,
    plain_len: u64,
    stored_hash: Sha256,
    stored_len: u64,
    created_at: DateTime<Utc>,
}

impl std::fmt::Debug for ObjectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectWriter")
            .field("name", &self.name)
            .field("kind", &self.opts.kind)
            .field("plain_len", &self.plain_len)
            .finish_non_exhaustive()
    }
}

impl ObjectWriter {
    /// Starts a new object `name`. Fails with
    /// [`BackupError::AlreadyExists`] (at [`finish`](Self::finish) on
    /// sinks that only find out then) when the name is taken.
    pub async fn create(sink: &dyn BackupSink, name: &str, opts: &ObjectOptions) -> Result<Self> {
        let (mut header, key) = Header::new_for_write(opts.compression, &opts.encryption)?;
        header.version = OBJECT_VERSION;
        let header_bytes = header.to_bytes_with_magic(OBJECT_MAGIC);
        let cipher = key.as_ref().map(|k| k.file_cipher(&header.file_nonce));
        let sealer = Sealer::new(cipher, &header_bytes);
        let mut out = sink.create(name).await?;
        if let Err(e) = out.write(Bytes::copy_from_slice(&header_bytes)).await {
            out.abort().await;
            return Err(e);
        }
        let mut stored_hash = Sha256::new();
        stored_hash.update(header_bytes);
        Ok(ObjectWriter {
            name: name.to_owned(),
            opts: opts.clone(),
            out: Some(out),
            sealer,
            key_id: key.map(|k| k.id_hex()),
            buf: Vec::with_capacity(CHUNK),
            index: 0,
            plain_hash: Sha256::new(),
            plain_len: 0,
            stored_hash,
            stored_len: HEADER_LEN as u64,
            created_at: Utc::now(),
        })
    }

    /// Appends bytes.
    pub async fn write(&mut self, mut data: &[u8]) -> Result<()> {
        self.plain_hash.update(data);
        self.plain_len += data.len() as u64;
        while !data.is_empty() {
            let take = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == CHUNK {
                self.flush_chunk().await?;
            }
        }
        Ok(())
    }

    async fn flush_chunk(&mut self) -> Result<()> {
        let compressed = self.opts.compression.compress(&self.buf)?;
        let raw_len = u32::try_from(self.buf.len())
            .unwrap_or_else(|_| unreachable!("chunks are at most 1 MiB"));
        let mut plain = Vec::with_capacity(5 + compressed.len());
        plain.push(DATA_CHUNK);
        plain.extend_from_slice(&raw_len.to_be_bytes());
        plain.extend_from_slice(&compressed);
        self.buf.clear();
        self.put(&plain, false).await
    }

    async fn put(&mut self, plain: &[u8], last: bool) -> Result<()> {
        let body = self.sealer.seal(self.index, last, plain);
        let len =
            u32::try_from(body.len()).unwrap_or_else(|_| unreachable!("chunks are at most 1 MiB"));
        let word = if last { len | LAST_FLAG } else { len };
        let mut frame = Vec::with_capacity(4 + body.len());
        frame.extend_from_slice(&word.to_be_bytes());
        frame.extend_from_slice(&body);
        self.stored_hash.update(&frame);
        self.stored_len += frame.len() as u64;
        self.index += 1;
        let out = self
            .out
            .as_mut()
            .unwrap_or_else(|| unreachable!("the writer is open until finish"));
        out.write(Bytes::from(frame)).await
    }

    /// Seals the trailer and commits the object; returns its info.
    pub async fn finish(mut self) -> Result<ObjectInfo> {
        match self.finish_inner().await {
            Ok(info) => Ok(info),
            Err(e) => {
                if let Some(out) = self.out.take() {
                    out.abort().await;
                }
                Err(e)
            }
        }
    }

    async fn finish_inner(&mut self) -> Result<ObjectInfo> {
        if !self.buf.is_empty() {
            self.flush_chunk().await?;
        }
        let plain_sha256 = hex(&self.plain_hash.clone().finalize());
        let trailer = Trailer {
            kind: self.opts.kind.clone(),
            label: self.opts.label.clone(),
            plain_len: self.plain_len,
            plain_sha256: plain_sha256.clone(),
            created_at: self.created_at,
            chunks: self.index,
        };
        let mut plain = vec![TRAILER_CHUNK];
        serde_json::to_writer(&mut plain, &trailer)
            .map_err(|e| BackupError::ManifestInvalid(format!("object trailer: {e}")))?;
        self.put(&plain, true).await?;
        let entry = BackupEntry {
            name: self.name.clone(),
            created_at: self.created_at,
            finished_at: Utc::now(),
            engine: format!("{ENGINE_PREFIX}{}", self.opts.kind),
            database: self.opts.label.clone(),
            size: self.stored_len,
            sha256: hex(&self.stored_hash.clone().finalize()),
            encrypted: self.key_id.is_some(),
            key_id: self.key_id.clone(),
            compression: self.opts.compression.name().to_owned(),
            tables: 0,
            rows: self.plain_len,
            format_version: OBJECT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        let out = self
            .out
            .take()
            .unwrap_or_else(|| unreachable!("the writer is open until finish"));
        out.commit(&entry).await?;
        Ok(ObjectInfo {
            name: self.name.clone(),
            kind: self.opts.kind.clone(),
            label: self.opts.label.clone(),
            plain_len: self.plain_len,
            plain_sha256: Some(plain_sha256),
            stored_len: self.stored_len,
            created_at: self.created_at,
            key_id: self.key_id.clone(),
        })
    }

    /// Discards the object.
    pub async fn abort(mut self) {
        if let Some(out) = self.out.take() {
            out.abort().await;
        }
    }
}

/// Reads and checks an object chunk by chunk. Its bytes are trustworthy
/// only once [`next_chunk`](Self::next_chunk) has returned `Ok(None)`: the
/// length and SHA-256 of the whole are checked at the end.
pub struct ObjectReader {
    name: String,
    r: BackupRead,
    sealer: Sealer,
    compression: Compression,
    key_id: Option<String>,
    index: u64,
    plain_hash: Sha256,
    plain_len: u64,
    stored_len: u64,
    info: Option<ObjectInfo>,
}

impl std::fmt::Debug for ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectReader")
            .field("name", &self.name)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl ObjectReader {
    /// Opens object `name`; `key` is needed when it is encrypted.
    pub async fn open(sink: &dyn BackupSink, name: &str, key: Option<&KeySource>) -> Result<Self> {
        let mut r = sink.open(name).await?;
        let mut hb = [0u8; HEADER_LEN];
        if read_full(&mut r, &mut hb).await? < HEADER_LEN {
            return Err(BackupError::Truncated { chunks: 0 });
        }
        if &hb[..8] != OBJECT_MAGIC {
            return Err(BackupError::NotABackup);
        }
        let version = u16::from_be_bytes([hb[8], hb[9]]);
        if version != OBJECT_VERSION {
            return Err(BackupError::UnsupportedVersion(version));
        }
        let header = Header::parse_fields(&hb, version)?;
        let key = header.open_key(key)?;
        let cipher = key.as_ref().map(|k| k.file_cipher(&header.file_nonce));
        Ok(ObjectReader {
            name: name.to_owned(),
            r,
            sealer: Sealer::new(cipher, &hb),
            compression: header.compression,
            key_id: key.map(|k| k.id_hex()),
            index: 0,
            plain_hash: Sha256::new(),
            plain_len: 0,
            stored_len: HEADER_LEN as u64,
            info: None,
        })
    }

    /// The next piece of the file, or `None` once the whole has been read
    /// and checked.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if self.info.is_some() {
            return Ok(None);
        }
        let index = self.index;
        let malformed = |reason: String| BackupError::Malformed { index, reason };
        let mut word = [0u8; 4];
        if read_full(&mut self.r, &mut word).await? < 4 {
            return Err(BackupError::Truncated { chunks: index });
        }
        let word = u32::from_be_bytes(word);
        let last = word & LAST_FLAG != 0;
        let len = (word & !LAST_FLAG) as usize;
        if len > MAX_BODY {
            return Err(BackupError::ChunkTooLarge {
                index,
                len: len as u64,
                limit: MAX_BODY as u64,
            });
        }
        let mut body = vec![0u8; len];
        if read_full(&mut self.r, &mut body).await? < len {
            return Err(BackupError::Truncated { chunks: index });
        }
        self.stored_len += 4 + len as u64;
        let plain = self.sealer.open(index, last, &body)?;
        self.index += 1;
        match (plain.first(), last) {
            (Some(&DATA_CHUNK), false) if plain.len() >= 5 => {
                let raw_len = u32::from_be_bytes([plain[1], plain[2], plain[3], plain[4]]);
                if raw_len as usize > CHUNK {
                    return Err(malformed(format!("a chunk of {raw_len} bytes")));
                }
                let data = self
                    .compression
                    .decompress(&plain[5..], raw_len as usize, index)?;
                self.plain_hash.update(&data);
                self.plain_len += data.len() as u64;
                Ok(Some(Bytes::from(data)))
            }
            (Some(&TRAILER_CHUNK), true) => {
                let t: Trailer = serde_json::from_slice(&plain[1..])
                    .map_err(|e| malformed(format!("trailer: {e}")))?;
                let sha = hex(&self.plain_hash.clone().finalize());
                if t.plain_len != self.plain_len || t.plain_sha256 != sha || t.chunks != index {
                    return Err(BackupError::ManifestMismatch(format!(
                        "object {}: the trailer records {} bytes in {} chunks, read {} in {index}",
                        self.name, t.plain_len, t.chunks, self.plain_len
                    )));
                }
                let mut probe = [0u8; 1];
                if read_full(&mut self.r, &mut probe).await? != 0 {
                    return Err(BackupError::TrailingData);
                }
                self.info = Some(ObjectInfo {
                    name: self.name.clone(),
                    kind: t.kind,
                    label: t.label,
                    plain_len: t.plain_len,
                    plain_sha256: Some(t.plain_sha256),
                    stored_len: self.stored_len,
                    created_at: t.created_at,
                    key_id: self.key_id.clone(),
                });
                Ok(None)
            }
            _ => Err(malformed("not a data chunk or a final trailer".into())),
        }
    }

    /// The object's info, once [`next_chunk`](Self::next_chunk) has
    /// returned `Ok(None)`.
    pub fn info(&self) -> Option<&ObjectInfo> {
        self.info.as_ref()
    }
}

/// Reads the whole object and checks it.
pub async fn verify_object(
    sink: &dyn BackupSink,
    name: &str,
    key: Option<&KeySource>,
) -> Result<ObjectInfo> {
    let mut r = ObjectReader::open(sink, name, key).await?;
    while r.next_chunk().await?.is_some() {}
    Ok(r.info
        .take()
        .unwrap_or_else(|| unreachable!("set at the end")))
}

/// Streams `data` into a new object `name`, atomically and idempotently:
/// when `name` already holds the same bytes nothing is written
/// ([`PutOutcome::AlreadyPresent`]); when it holds different bytes the
/// put fails with [`BackupError::ObjectConflict`]. The comparison reads
/// the stored object with the options' key.
pub async fn put_object<R: AsyncRead + Unpin + Send>(
    sink: &dyn BackupSink,
    name: &str,
    mut data: R,
    opts: &ObjectOptions,
) -> Result<PutOutcome> {
    let key = match &opts.encryption {
        Encryption::Key(k) => Some(k),
        Encryption::None => None,
    };
    if let Some(existing) = existing(sink, name, key).await? {
        if listed(sink, name).await? {
            // Read the given bytes only to compare: they are not stored.
            let (given_len, given_sha256) = hash_reader(&mut data).await?;
            return same_or_conflict(sink, existing, given_len, given_sha256);
        }
        // Whole but without its index entry: a writer killed between the
        // two steps of a commit. It never lists, so it is written again
        // rather than taken as present (whatever it holds: nothing ever
        // saw it as archived).
        sink.delete(name).await?;
    }
    let mut w = ObjectWriter::create(sink, name, opts).await?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match data.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                w.abort().await;
                return Err(BackupError::io(format!("reading the data for {name}"), e));
            }
        };
        if n == 0 {
            break;
        }
        if let Err(e) = w.write(&buf[..n]).await {
            w.abort().await;
            return Err(e);
        }
    }
    let given_len = w.plain_len;
    let given_sha256 = hex(&w.plain_hash.clone().finalize());
    match w.finish().await {
        Ok(info) => Ok(PutOutcome::Stored(info)),
        // Another writer got there first: judge its bytes as above.
        Err(BackupError::AlreadyExists { .. }) => match existing(sink, name, key).await? {
            Some(existing) => same_or_conflict(sink, existing, given_len, given_sha256),
            None => Err(BackupError::Sink {
                sink: sink.describe(),
                message: format!("{name} was reported as existing but cannot be read"),
            }),
        },
        Err(e) => Err(e),
    }
}

/// [`put_object`] from a local file.
pub async fn put_file(
    sink: &dyn BackupSink,
    name: &str,
    path: &Path,
    opts: &ObjectOptions,
) -> Result<PutOutcome> {
    let f = tokio::fs::File::open(path)
        .await
        .map_err(|e| BackupError::io(format!("opening {}", path.display()), e))?;
    put_object(
        sink,
        name,
        tokio::io::BufReader::with_capacity(CHUNK, f),
        opts,
    )
    .await
}

/// Whether `name` has its index entry (only then does it list). Read on
/// the rare path of a name already taken, never on a first put.
async fn listed(sink: &dyn BackupSink, name: &str) -> Result<bool> {
    Ok(sink.list().await?.iter().any(|e| e.name == name))
}

async fn existing(
    sink: &dyn BackupSink,
    name: &str,
    key: Option<&KeySource>,
) -> Result<Option<ObjectInfo>> {
    match verify_object(sink, name, key).await {
        Ok(info) => Ok(Some(info)),
        Err(BackupError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn same_or_conflict(
    sink: &dyn BackupSink,
    stored: ObjectInfo,
    given_len: u64,
    given_sha256: String,
) -> Result<PutOutcome> {
    let stored_sha256 = stored.plain_sha256.clone().unwrap_or_default();
    if stored.plain_len == given_len && stored_sha256 == given_sha256 {
        Ok(PutOutcome::AlreadyPresent(stored))
    } else {
        Err(BackupError::ObjectConflict {
            name: stored.name,
            sink: sink.describe(),
            stored_len: stored.plain_len,
            stored_sha256,
            given_len,
            given_sha256,
        })
    }
}

async fn hash_reader<R: AsyncRead + Unpin>(r: &mut R) -> Result<(u64, String)> {
    let mut h = Sha256::new();
    let mut n = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let k = r
            .read(&mut buf)
            .await
            .map_err(|e| BackupError::io("reading the data to compare", e))?;
        if k == 0 {
            return Ok((n, hex(&h.finalize())));
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
}

/// Writes object `name` to `dest` atomically: into a temporary file beside
/// it, synced, then renamed over `dest`. On any failure (missing, damaged,
/// wrong key) nothing is left at `dest` and nothing of the temporary file
/// remains.
pub async fn get_object_to_file(
    sink: &dyn BackupSink,
    name: &str,
    key: Option<&KeySource>,
    dest: &Path,
) -> Result<ObjectInfo> {
    let mut r = ObjectReader::open(sink, name, key).await?;
    let file_name = dest
        .file_name()
        .ok_or_else(|| BackupError::Config(format!("{} is not a file path", dest.display())))?;
    let tmp = dest.with_file_name(format!(
        ".{}.{}.covet-partial",
        file_name.to_string_lossy(),
        crate::sink::unique_tag()
    ));
    let result = async {
        let mut f = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| BackupError::io(format!("creating {}", tmp.display()), e))?;
        while let Some(chunk) = r.next_chunk().await? {
            f.write_all(&chunk)
                .await
                .map_err(|e| BackupError::io(format!("writing {}", tmp.display()), e))?;
        }
        f.sync_all()
            .await
            .map_err(|e| BackupError::io(format!("syncing {}", tmp.display()), e))?;
        drop(f);
        tokio::fs::rename(&tmp, dest)
            .await
            .map_err(|e| BackupError::io(format!("renaming into {}", dest.display()), e))?;
        Ok(r.info
            .take()
            .unwrap_or_else(|| unreachable!("set at the end")))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

/// The objects in a sink, of one kind or all, sorted by name. Read from
/// the index entries: no key needed, nothing checked
/// ([`ObjectInfo::plain_sha256`] is `None`).
pub async fn list_objects(sink: &dyn BackupSink, kind: Option<&str>) -> Result<Vec<ObjectInfo>> {
    let mut out: Vec<ObjectInfo> = sink
        .list()
        .await?
        .into_iter()
        .filter_map(|e| {
            let k = e.engine.strip_prefix(ENGINE_PREFIX)?.to_owned();
            if kind.is_some_and(|want| want != k) {
                return None;
            }
            Some(ObjectInfo {
                name: e.name,
                kind: k,
                label: e.database,
                plain_len: e.rows,
                plain_sha256: None,
                stored_len: e.size,
                created_at: e.created_at,
                key_id: e.key_id,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::MemorySink;

    fn opts(key: Option<[u8; 32]>) -> ObjectOptions {
        ObjectOptions {
            encryption: key.map_or(Encryption::None, |k| Encryption::Key(KeySource::Raw(k))),
            compression: Compression::Zstd3,
            kind: "pg-wal".into(),
            label: "main".into(),
        }
    }

    fn data(n: usize, seed: u8) -> Vec<u8> {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    }

    async fn read_all(sink: &MemorySink, name: &str, key: Option<&KeySource>) -> Result<Vec<u8>> {
        let mut r = ObjectReader::open(sink, name, key).await?;
        let mut out = Vec::new();
        while let Some(c) = r.next_chunk().await? {
            out.extend_from_slice(&c);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn round_trips_across_chunk_sizes_encrypted_or_not() {
        for key in [None, Some([7u8; 32])] {
            let ks = key.map(KeySource::Raw);
            for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
                let sink = MemorySink::new();
                let bytes = data(n, 3);
                let out = put_object(&sink, "seg", &bytes[..], &opts(key))
                    .await
                    .unwrap();
                assert!(matches!(out, PutOutcome::Stored(_)));
                assert_eq!(read_all(&sink, "seg", ks.as_ref()).await.unwrap(), bytes);
                let listed = list_objects(&sink, Some("pg-wal")).await.unwrap();
                assert_eq!(listed.len(), 1);
                assert_eq!(listed[0].plain_len, n as u64);
                assert!(
                    list_objects(&sink, Some("pg-base"))
                        .await
                        .unwrap()
                        .is_empty()
                );
            }
        }
    }

    #[tokio::test]
    async fn same_bytes_again_is_a_no_op_and_different_bytes_are_refused() {
        let sink = MemorySink::new();
        let k = Some([1u8; 32]);
        let a = data(CHUNK + 5, 1);
        put_object(&sink, "s", &a[..], &opts(k)).await.unwrap();
        let stored = sink.bytes("s").unwrap();
        let again = put_object(&sink, "s", &a[..], &opts(k)).await.unwrap();
        assert!(matches!(again, PutOutcome::AlreadyPresent(_)));
        assert_eq!(sink.bytes("s").unwrap(), stored, "rewritten");
        let mut b = a.clone();
        b[CHUNK] ^= 1;
        let err = put_object(&sink, "s", &b[..], &opts(k)).await.unwrap_err();
        assert!(matches!(err, BackupError::ObjectConflict { .. }), "{err}");
        assert_eq!(sink.bytes("s").unwrap(), stored);
    }

    /// A writer killed after its object became whole but before its index
    /// entry was written left an object that never lists: the next put
    /// stores it again instead of reporting it present.
    #[tokio::test]
    async fn an_object_without_its_index_entry_is_written_again() {
        let sink = MemorySink::new();
        let a = data(CHUNK + 3, 4);
        put_object(&sink, "s", &a[..], &opts(None)).await.unwrap();
        let stored = sink.bytes("s").unwrap();
        sink.delete("s").await.unwrap();
        sink.set_bytes("s", stored);
        assert!(list_objects(&sink, None).await.unwrap().is_empty());
        let again = put_object(&sink, "s", &a[..], &opts(None)).await.unwrap();
        assert!(matches!(again, PutOutcome::Stored(_)), "{again:?}");
        assert_eq!(list_objects(&sink, None).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn wrong_key_and_missing_key_are_refused() {
        let sink = MemorySink::new();
        put_object(&sink, "s", &data(10, 0)[..], &opts(Some([1; 32])))
            .await
            .unwrap();
        let wrong = KeySource::Raw([2; 32]);
        assert!(matches!(
            read_all(&sink, "s", Some(&wrong)).await,
            Err(BackupError::WrongKey { .. })
        ));
        assert!(matches!(
            read_all(&sink, "s", None).await,
            Err(BackupError::KeyRequired { .. })
        ));
    }

    #[tokio::test]
    async fn a_backup_is_not_an_object() {
        let sink = MemorySink::new();
        let mut b = vec![0u8; HEADER_LEN + 8];
        b[..8].copy_from_slice(b"COVETBAK");
        sink.set_bytes("b", b);
        assert!(matches!(
            read_all(&sink, "b", None).await,
            Err(BackupError::NotABackup)
        ));
    }

    #[tokio::test]
    async fn a_failed_get_leaves_nothing_at_the_destination() {
        let dir = tempfile::tempdir().unwrap();
        let sink = MemorySink::new();
        put_object(&sink, "s", &data(CHUNK * 2, 9)[..], &opts(None))
            .await
            .unwrap();
        let mut stored = sink.bytes("s").unwrap();
        let mid = stored.len() / 2;
        stored[mid] ^= 0x40;
        sink.set_bytes("s", stored);
        let dest = dir.path().join("000000010000000000000001");
        let err = get_object_to_file(&sink, "s", None, &dest)
            .await
            .unwrap_err();
        assert!(err.is_damage(), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Any damage to a stored object (a flipped byte, a cut) is
        /// refused as damage; it never reads back as different bytes.
        #[test]
        fn damage_is_always_refused(
            len in 0usize..(2 * CHUNK + 100),
            pos in proptest::prelude::any::<proptest::sample::Index>(),
            bit in 0u8..8,
            cut in proptest::prelude::any::<bool>(),
            encrypted in proptest::prelude::any::<bool>(),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                let key = encrypted.then_some([5u8; 32]);
                let ks = key.map(KeySource::Raw);
                let sink = MemorySink::new();
                put_object(&sink, "s", &data(len, 2)[..], &opts(key)).await.unwrap();
                let mut stored = sink.bytes("s").unwrap();
                let i = pos.index(stored.len());
                if cut {
                    stored.truncate(i);
                } else {
                    stored[i] ^= 1 << bit;
                }
                sink.set_bytes("s", stored);
                let err = read_all(&sink, "s", ks.as_ref()).await.unwrap_err();
                // A flipped key-id byte reads as a wrong key; a flipped
                // magic or version byte as not an object: all refusals.
                assert!(
                    err.is_damage() || matches!(err, BackupError::WrongKey { .. } | BackupError::KeyRequired { .. }),
                    "{err}"
                );
            });
        }
    }
}
