//! Verifying a backup without a database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use covet_core::Value;
use tokio::io::AsyncRead;

use crate::codec::{ContentChecksum, Decoder};
use crate::crypto::KeySource;
use crate::error::{BackupError, Result};
use crate::format::{self, BackupSchema, Chunk, ChunkKind, StreamReader};
use crate::manifest::Manifest;
use crate::sink::BackupSink;

/// What a successful verification found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The authenticated manifest.
    pub manifest: Manifest,
    /// The backup's schema.
    pub schema: Arc<BackupSchema>,
    /// Chunks read, the manifest included.
    pub chunks: u64,
    /// Bytes read.
    pub bytes: u64,
    /// The SHA-256 of the whole stream.
    pub sha256: String,
    /// How long it took.
    pub elapsed: Duration,
}

#[derive(Default, Clone)]
struct TableTally {
    rows: u64,
    checksum: ContentChecksum,
    chunks: u64,
    raw_bytes: u64,
}

/// Follows a stream's chunks and checks them against the manifest at the
/// end. Shared by verify and restore.
pub(crate) struct Checker {
    schema: Option<Arc<BackupSchema>>,
    tallies: Vec<TableTally>,
    checksums: bool,
}

impl Checker {
    /// `checksums`: whether to compute content checksums (verify does;
    /// restore's second pass relies on the first).
    pub(crate) fn new(checksums: bool) -> Self {
        Checker {
            schema: None,
            tallies: Vec::new(),
            checksums,
        }
    }

    pub(crate) fn schema(&self) -> Option<&Arc<BackupSchema>> {
        self.schema.as_ref()
    }

    /// Takes one chunk; for data chunks returns its table index and, when
    /// `decode` is set, its rows.
    pub(crate) fn on_chunk(
        &mut self,
        chunk: &Chunk,
        decode: bool,
    ) -> Result<Option<(usize, Vec<Vec<Value>>)>> {
        let malformed = |reason: String| BackupError::Malformed {
            index: chunk.index,
            reason,
        };
        match chunk.kind {
            ChunkKind::Schema => {
                if chunk.index != 0 || self.schema.is_some() {
                    return Err(malformed("a schema chunk after the first chunk".into()));
                }
                let s = format::parse_schema(chunk)?;
                self.tallies = vec![TableTally::default(); s.tables.len()];
                self.schema = Some(s);
                Ok(None)
            }
            ChunkKind::Data => {
                let schema = self
                    .schema
                    .as_ref()
                    .ok_or_else(|| malformed("a data chunk before the schema".into()))?;
                let t = chunk.table as usize;
                let table = schema
                    .tables
                    .get(t)
                    .ok_or_else(|| malformed(format!("table index {t} out of range")))?;
                let ncols = table.table.columns.len();
                let mut d = Decoder::new(&chunk.payload);
                let mut rows = Vec::new();
                let tally = &mut self.tallies[t];
                let mut n = 0u64;
                if schema.postgres.is_some() {
                    // COPY text: whole rows, each ending in a newline.
                    if chunk.payload.last().is_some_and(|b| *b != b'\n') {
                        return Err(malformed("COPY data does not end on a row".into()));
                    }
                    for row in crate::pg::copy_rows(&chunk.payload) {
                        if self.checksums {
                            tally.checksum.add_encoded_row(row);
                        }
                        n += 1;
                    }
                    d = Decoder::new(&[]);
                }
                while !d.is_empty() {
                    if decode {
                        let before = d.remaining();
                        let start = chunk.payload.len() - before;
                        let row = d.row(ncols).map_err(&malformed)?;
                        if self.checksums {
                            let end = chunk.payload.len() - d.remaining();
                            tally.checksum.add_encoded_row(&chunk.payload[start..end]);
                        }
                        rows.push(row);
                    } else {
                        let raw = d.raw_row(ncols).map_err(&malformed)?;
                        if self.checksums {
                            tally.checksum.add_encoded_row(raw);
                        }
                    }
                    n += 1;
                }
                if n != u64::from(chunk.rows) {
                    return Err(malformed(format!(
                        "holds {n} rows, its head says {}",
                        chunk.rows
                    )));
                }
                tally.rows += n;
                tally.chunks += 1;
                tally.raw_bytes += chunk.raw_len;
                Ok(Some((t, rows)))
            }
            ChunkKind::Manifest => Ok(None),
        }
    }

    /// Checks the manifest against everything seen.
    pub(crate) fn finish<R>(&self, manifest: &Manifest, reader: &StreamReader<R>) -> Result<()> {
        let mismatch = |s: String| Err(BackupError::ManifestMismatch(s));
        let Some(schema) = &self.schema else {
            return Err(BackupError::Malformed {
                index: 0,
                reason: "no schema chunk".into(),
            });
        };
        if manifest.format_version != reader.header.version {
            return mismatch(format!(
                "format version {} in the manifest, {} in the header",
                manifest.format_version, reader.header.version
            ));
        }
        if manifest.chunk_sha256 != reader.chunk_sha256 {
            let n = manifest.chunk_sha256.len();
            let m = reader.chunk_sha256.len();
            let first = manifest
                .chunk_sha256
                .iter()
                .zip(&reader.chunk_sha256)
                .position(|(a, b)| a != b);
            return mismatch(match first {
                Some(i) => format!("chunk {i}'s SHA-256 differs"),
                None => format!("{n} chunk checksums listed, {m} chunks read"),
            });
        }
        if manifest.tables.len() != schema.tables.len() {
            return mismatch(format!(
                "{} tables listed, {} in the schema",
                manifest.tables.len(),
                schema.tables.len()
            ));
        }
        let (mut rows, mut raw) = (0u64, 0u64);
        for ((entry, def), tally) in manifest
            .tables
            .iter()
            .zip(&schema.tables)
            .zip(&self.tallies)
        {
            if entry.name != def.table.name {
                return mismatch(format!(
                    "table {} listed where the schema has {}",
                    entry.name, def.table.name
                ));
            }
            if entry.rows != tally.rows {
                return mismatch(format!(
                    "table {}: {} rows listed, {} read",
                    entry.name, entry.rows, tally.rows
                ));
            }
            if entry.chunks != tally.chunks || entry.raw_bytes != tally.raw_bytes {
                return mismatch(format!("table {}: chunk totals differ", entry.name));
            }
            if self.checksums && entry.content_checksum != tally.checksum.to_hex() {
                return mismatch(format!("table {}: content checksum differs", entry.name));
            }
            rows += tally.rows;
            raw += tally.raw_bytes;
        }
        let t = &manifest.totals;
        let chunks = reader.chunk_sha256.len() as u64;
        if t.tables != schema.tables.len() as u64
            || t.rows != rows
            || t.raw_bytes != raw
            || t.chunks != chunks
        {
            return mismatch("totals differ from the tables and chunks read".into());
        }
        if t.stored_bytes != reader.stored_before_last {
            return mismatch("stored byte total differs".into());
        }
        let h = &reader.header;
        if manifest.compression.algorithm != h.compression.name() {
            return mismatch("compression differs from the header".into());
        }
        let alg = if h.encrypted { "aes-256-gcm" } else { "none" };
        if manifest.cipher.algorithm != alg
            || manifest.cipher.kdf != h.kdf_name()
            || manifest.cipher.key_id != reader.key_id
        {
            return mismatch("cipher settings differ from the header".into());
        }
        Ok(())
    }
}

/// Verifies a backup stream: every chunk's tag, the chunk order, the end
/// of the stream, each row's encoding, and the manifest's chunk checksums,
/// row counts and content checksums. Needs no database.
pub async fn verify_stream<R: AsyncRead + Unpin + Send>(
    r: R,
    key: Option<&KeySource>,
) -> Result<VerifyReport> {
    let start = Instant::now();
    let mut reader = StreamReader::open(r, key).await?;
    // Two stages on two threads: this task reads, authenticates and
    // decompresses chunk n+1 while a blocking thread parses and
    // checksums chunk n (a SHA-256 per row, the larger half of the work).
    // The checker sees the chunks in order, so errors are the ones a
    // single pass would report: a checker error concerns an earlier chunk
    // than a read error, and wins.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let check = tokio::task::spawn_blocking(move || {
        let mut checker = Checker::new(true);
        while let Some(chunk) = rx.blocking_recv() {
            checker.on_chunk(&chunk, false)?;
        }
        Ok::<_, BackupError>(checker)
    });
    let mut manifest = None;
    let mut chunks = 0;
    let read = async {
        while let Some(chunk) = reader.next().await? {
            chunks += 1;
            if chunk.kind == ChunkKind::Manifest {
                manifest = Some(format::parse_manifest(&chunk)?);
            } else if tx.send(chunk).await.is_err() {
                // The checker stopped on an error; it is reported below.
                break;
            }
        }
        Ok::<_, BackupError>(())
    }
    .await;
    drop(tx);
    let checker = check
        .await
        .map_err(|e| BackupError::io("checking chunks", std::io::Error::other(e)))??;
    read?;
    let manifest = manifest.ok_or(BackupError::Truncated { chunks })?;
    checker.finish(&manifest, &reader)?;
    let schema = checker
        .schema()
        .cloned()
        .ok_or_else(|| BackupError::ManifestMismatch("no schema".into()))?;
    Ok(VerifyReport {
        manifest,
        schema,
        chunks,
        bytes: reader.stored,
        sha256: reader.file_sha256(),
        elapsed: start.elapsed(),
    })
}

/// Verifies the backup `name` in `sink`, and that it matches its index
/// entry when it has one.
pub async fn verify(
    sink: &dyn BackupSink,
    name: &str,
    key: Option<&KeySource>,
) -> Result<VerifyReport> {
    let r = sink.open(name).await?;
    let report = verify_stream(r, key).await?;
    if let Some(entry) = sink.list().await?.into_iter().find(|e| e.name == name)
        && (entry.sha256 != report.sha256 || entry.size != report.bytes)
    {
        return Err(BackupError::IndexMismatch {
            name: name.to_owned(),
            reason: "size or SHA-256 differs".into(),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{MasterKey, Sealer};
    use crate::format::{HEADER_LEN, Header};
    use crate::sink::MemorySink;
    use crate::writer::{BackupWriter, SourceInfo, WriteOptions};
    use crate::{Encryption, TableSchema};

    /// Someone holding the key re-seals a manifest that lies about the
    /// rows: the chunks and checksums it describes give it away.
    #[tokio::test]
    async fn a_forged_manifest_is_a_mismatch() {
        let key = [5u8; 32];
        let sink = MemorySink::new();
        let schema = BackupSchema {
            engine: "t".into(),
            tables: vec![TableSchema {
                table: covet_core::Table {
                    name: "t".into(),
                    columns: vec![covet_core::ColumnInfo {
                        name: "v".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                next_auto_value: None,
            }],
            postgres: None,
            sqlite: None,
            mysql: None,
        };
        let mut w = BackupWriter::create(
            &sink,
            "f.covet",
            schema,
            SourceInfo::now("t", "d"),
            WriteOptions::new(Encryption::Key(KeySource::Raw(key))),
        )
        .await
        .unwrap();
        for i in 0..10 {
            w.write_rows(0, &[vec![Value::I64(i)]]).await.unwrap();
        }
        w.finish().await.unwrap();
        let bytes = sink.bytes("f.covet").unwrap();
        let hb: [u8; HEADER_LEN] = bytes[..HEADER_LEN].try_into().unwrap();
        let header = Header::parse(&hb).unwrap();
        let sealer = Sealer::new(
            Some(MasterKey::from_bytes(key).file_cipher(&header.file_nonce)),
            &hb,
        );
        // Find the last frame.
        let mut pos = HEADER_LEN;
        let mut index = 0u64;
        loop {
            let word = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap());
            let len = (word & 0x7fff_ffff) as usize;
            if word & (1 << 31) != 0 {
                break;
            }
            pos += 4 + len;
            index += 1;
        }
        let body = &bytes[pos + 4..];
        let plain = sealer.open(index, true, body).unwrap();
        let m: Manifest = serde_json::from_slice(&plain[format::CHUNK_HEAD..]).unwrap();
        for edit in 0..3 {
            let mut forged = m.clone();
            match edit {
                0 => forged.tables[0].rows = 11,
                1 => forged.tables[0].content_checksum = "00".repeat(32),
                _ => {
                    forged.chunk_sha256.pop();
                }
            }
            let json = serde_json::to_vec(&forged).unwrap();
            let p =
                format::chunk_plain(format::ChunkKind::Manifest, 0, 0, json.len() as u32, &json);
            let sealed = sealer.seal(index, true, &p);
            let mut out = bytes[..pos].to_vec();
            out.extend_from_slice(&((sealed.len() as u32) | (1 << 31)).to_be_bytes());
            out.extend_from_slice(&sealed);
            let e = verify_stream(std::io::Cursor::new(out), Some(&KeySource::Raw(key)))
                .await
                .unwrap_err();
            assert!(
                matches!(e, BackupError::ManifestMismatch(_)),
                "edit {edit}: {e}"
            );
        }
    }
}
