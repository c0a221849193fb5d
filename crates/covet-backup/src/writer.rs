//! Writing a backup from rows, with or without a database.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use covet_core::Value;

use crate::codec::{self, ContentChecksum};
use crate::compress::Compression;
use crate::error::{BackupError, Result};
use crate::format::{self, BackupSchema, ChunkKind, Encryption, StreamWriter};
use crate::manifest::{
    CipherInfo, CompressionInfo, Manifest, SnapshotPosition, TableEntry, Totals,
};
use crate::sink::{BackupEntry, BackupSink};

/// The default target size of a chunk's encoded rows: 1 MiB.
pub(crate) const DEFAULT_CHUNK_SIZE: usize = 1 << 20;

/// How a backup is written.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Per-chunk compression (default zstd level 3).
    pub compression: Compression,
    /// Encryption (must be chosen: [`Encryption::None`] only on purpose).
    pub encryption: Encryption,
    /// Target bytes of encoded rows per chunk.
    pub chunk_size: usize,
}

impl WriteOptions {
    /// Options encrypting with `encryption` and the default compression and
    /// chunk size.
    pub fn new(encryption: Encryption) -> Self {
        WriteOptions {
            compression: Compression::default(),
            encryption,
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

/// What the manifest records about the source.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// `postgresql`, `mysql`, `sqlite`, or anything for a hand-made backup.
    pub engine: String,
    /// The server's version string.
    pub server_version: String,
    /// The database name.
    pub database: String,
    /// The snapshot's position.
    pub snapshot: SnapshotPosition,
    /// When the export began.
    pub started_at: DateTime<Utc>,
    /// Warnings to record.
    pub warnings: Vec<String>,
}

/// A finished chunk of one table's rows, compressed, ready to be sealed.
#[derive(Debug)]
pub(crate) struct EncodedChunk {
    table: u32,
    rows: u32,
    raw_len: u64,
    plain: Vec<u8>,
    checksum: ContentChecksum,
}

/// Encodes one table's rows into chunks; used by export workers in
/// parallel, so compression runs beside the reads.
pub(crate) struct TableEncoder {
    table: u32,
    buf: Vec<u8>,
    rows: u32,
    chunk_size: usize,
    compression: Compression,
    checksum: ContentChecksum,
    /// COPY text: where the complete rows in `buf` end (the rest is the
    /// start of a row whose newline has not arrived yet).
    complete: usize,
}

impl TableEncoder {
    pub(crate) fn new(table: usize, chunk_size: usize, compression: Compression) -> Self {
        TableEncoder {
            table: u32::try_from(table).unwrap_or(u32::MAX),
            buf: Vec::with_capacity(chunk_size + chunk_size / 8),
            rows: 0,
            chunk_size: chunk_size.max(1),
            compression,
            checksum: ContentChecksum::default(),
            complete: 0,
        }
    }

    /// Adds COPY text as the server sent it (pieces need not end on rows);
    /// returns a chunk of whole rows when the buffer reached the chunk size.
    pub(crate) fn push_copy(&mut self, data: &[u8]) -> Result<Option<EncodedChunk>> {
        let scan_from = self.buf.len();
        self.buf.extend_from_slice(data);
        let mut at = scan_from;
        while let Some(i) = self.buf[at..].iter().position(|b| *b == b'\n') {
            let end = at + i + 1;
            self.checksum.add_encoded_row(&self.buf[self.complete..end]);
            self.rows += 1;
            self.complete = end;
            at = end;
            if self.rows == u32::MAX {
                break;
            }
        }
        if self.complete >= self.chunk_size || self.rows == u32::MAX {
            return self.flush();
        }
        Ok(None)
    }

    /// Whether COPY text is left without its final newline (an end of
    /// table there means the stream was cut).
    pub(crate) fn has_partial_row(&self) -> bool {
        self.buf.len() > self.complete
    }

    /// Adds a row; returns a chunk when the buffer reached the chunk size.
    pub(crate) fn push(&mut self, values: &[Value]) -> Result<Option<EncodedChunk>> {
        let start = self.buf.len();
        for v in values {
            codec::encode_value(&mut self.buf, v).map_err(BackupError::Unsupported)?;
        }
        self.checksum.add_encoded_row(&self.buf[start..]);
        self.rows += 1;
        if self.buf.len() >= self.chunk_size || self.rows == u32::MAX {
            return self.flush();
        }
        Ok(None)
    }

    /// The buffered rows as a chunk, if there are any.
    pub(crate) fn flush(&mut self) -> Result<Option<EncodedChunk>> {
        if self.rows == 0 {
            return Ok(None);
        }
        // Row encoding: every byte is a whole row; COPY text: up to the
        // last newline, the rest stays for the next chunk.
        let raw_len = if self.complete > 0 {
            self.complete
        } else {
            self.buf.len()
        };
        let raw32 = u32::try_from(raw_len)
            .map_err(|_| BackupError::Unsupported("a single row over 4 GiB".into()))?;
        let compressed = self.compression.compress(&self.buf[..raw_len])?;
        let plain = format::chunk_plain(ChunkKind::Data, self.table, self.rows, raw32, &compressed);
        let chunk = EncodedChunk {
            table: self.table,
            rows: self.rows,
            raw_len: raw_len as u64,
            plain,
            checksum: std::mem::take(&mut self.checksum),
        };
        self.buf.drain(..raw_len);
        self.complete = 0;
        if self.buf.capacity() > 4 * self.chunk_size && self.buf.len() < self.chunk_size {
            // One huge row grew the buffer; give the memory back.
            let mut fresh = Vec::with_capacity(self.chunk_size + self.chunk_size / 8);
            fresh.extend_from_slice(&self.buf);
            self.buf = fresh;
        }
        self.rows = 0;
        Ok(Some(chunk))
    }
}

#[derive(Default, Clone)]
struct Tally {
    rows: u64,
    chunks: u64,
    raw_bytes: u64,
    checksum: ContentChecksum,
}

/// Writes a backup chunk by chunk into a sink.
///
/// The export uses it; so can any program with rows to keep:
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use covet_backup::*;
/// use covet_core::{ColumnInfo, Table, Value};
///
/// let sink = MemorySink::new();
/// let schema = BackupSchema {
///     engine: "sqlite".into(),
///     tables: vec![TableSchema {
///         table: Table {
///             name: "t".into(),
///             columns: vec![ColumnInfo { name: "id".into(), data_type: "INTEGER".into(), ..Default::default() }],
///             ..Default::default()
///         },
///         next_auto_value: None,
///     }],
///     postgres: None,
///     sqlite: None,
///     mysql: None,
/// };
/// let key = KeySource::Raw([7; 32]);
/// let mut w = BackupWriter::create(&sink, "t.covet", schema, SourceInfo::now("sqlite", "t"),
///     WriteOptions::new(Encryption::Key(key.clone()))).await?;
/// w.write_rows(0, &[vec![Value::I64(1)], vec![Value::I64(2)]]).await?;
/// let entry = w.finish().await?;
/// assert_eq!(entry.rows, 2);
/// let report = verify(&sink, "t.covet", Some(&key)).await?;
/// assert_eq!(report.manifest.tables[0].rows, 2);
/// # Ok::<(), BackupError>(()) }).unwrap();
/// ```
pub struct BackupWriter {
    stream: StreamWriter,
    name: String,
    schema: Arc<BackupSchema>,
    source: SourceInfo,
    opts: WriteOptions,
    encoders: Vec<Option<TableEncoder>>,
    tallies: Vec<Tally>,
}

impl std::fmt::Debug for BackupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupWriter")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SourceInfo {
    /// Source information for a backup made outside a database export,
    /// starting now.
    pub fn now(engine: &str, database: &str) -> Self {
        SourceInfo {
            engine: engine.to_owned(),
            server_version: String::new(),
            database: database.to_owned(),
            snapshot: SnapshotPosition::Unavailable {
                reason: "not exported from a server".into(),
            },
            started_at: Utc::now(),
            warnings: Vec::new(),
        }
    }
}

impl BackupWriter {
    /// Starts a backup called `name` in `sink` and writes its schema chunk.
    pub async fn create(
        sink: &dyn BackupSink,
        name: &str,
        schema: BackupSchema,
        source: SourceInfo,
        opts: WriteOptions,
    ) -> Result<Self> {
        let out = sink.create(name).await?;
        let mut stream = StreamWriter::start(out, opts.compression, &opts.encryption).await?;
        let json = match serde_json::to_vec(&schema) {
            Ok(j) => j,
            Err(e) => {
                stream.abort().await;
                return Err(BackupError::Unsupported(format!("schema: {e}")));
            }
        };
        let Ok(len) = u32::try_from(json.len()) else {
            stream.abort().await;
            return Err(BackupError::Unsupported("schema over 4 GiB".into()));
        };
        let plain = format::chunk_plain(ChunkKind::Schema, 0, 0, len, &json);
        if let Err(e) = stream.write_chunk(&plain).await {
            stream.abort().await;
            return Err(e);
        }
        let n = schema.tables.len();
        Ok(BackupWriter {
            stream,
            name: name.to_owned(),
            schema: Arc::new(schema),
            source,
            opts,
            encoders: (0..n).map(|_| None).collect(),
            tallies: vec![Tally::default(); n],
        })
    }

    /// The schema being written.
    pub fn schema(&self) -> &Arc<BackupSchema> {
        &self.schema
    }

    /// Bytes written to the sink so far.
    pub fn stored_bytes(&self) -> u64 {
        self.stream.stored
    }

    /// Appends rows of table `table` (its index in the schema). Rows of
    /// different tables may be interleaved.
    pub async fn write_rows(&mut self, table: usize, rows: &[Vec<Value>]) -> Result<()> {
        let ncols = self
            .schema
            .tables
            .get(table)
            .map(|t| t.table.columns.len())
            .ok_or_else(|| BackupError::Config(format!("no table with index {table}")))?;
        for row in rows {
            if row.len() != ncols {
                return Err(BackupError::Config(format!(
                    "a row of {} values for table {} of {ncols} columns",
                    row.len(),
                    self.schema.tables[table].table.name
                )));
            }
            let enc = self.encoders[table].get_or_insert_with(|| {
                TableEncoder::new(table, self.opts.chunk_size, self.opts.compression)
            });
            if let Some(chunk) = enc.push(row)? {
                self.write_encoded(chunk).await?;
            }
        }
        Ok(())
    }

    /// Seals a chunk produced by a [`TableEncoder`].
    pub(crate) async fn write_encoded(&mut self, chunk: EncodedChunk) -> Result<()> {
        let t = &mut self.tallies[chunk.table as usize];
        t.rows += u64::from(chunk.rows);
        t.chunks += 1;
        t.raw_bytes += chunk.raw_len;
        let mut sum = t.checksum;
        sum.merge(&chunk.checksum);
        t.checksum = sum;
        self.stream.write_chunk(&chunk.plain).await
    }

    /// Flushes buffered rows, seals the manifest and commits the backup to
    /// its sink. Returns its index entry.
    pub async fn finish(mut self) -> Result<BackupEntry> {
        for i in 0..self.encoders.len() {
            let chunk = match self.encoders[i].as_mut().map(TableEncoder::flush) {
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    self.abort().await;
                    return Err(e);
                }
                None => None,
            };
            if let Some(c) = chunk
                && let Err(e) = self.write_encoded(c).await
            {
                self.abort().await;
                return Err(e);
            }
        }
        let finished_at = Utc::now();
        let tables: Vec<TableEntry> = self
            .schema
            .tables
            .iter()
            .zip(&self.tallies)
            .map(|(d, t)| TableEntry {
                name: d.table.name.clone(),
                rows: t.rows,
                content_checksum: t.checksum.to_hex(),
                chunks: t.chunks,
                raw_bytes: t.raw_bytes,
            })
            .collect();
        let totals = Totals {
            tables: tables.len() as u64,
            rows: tables.iter().map(|t| t.rows).sum(),
            chunks: self.stream.chunk_sha256.len() as u64,
            raw_bytes: tables.iter().map(|t| t.raw_bytes).sum(),
            stored_bytes: self.stream.stored,
        };
        let h = &self.stream.header;
        let manifest = Manifest {
            format_version: self.stream.header.version,
            row_encoding_version: codec::ROW_ENCODING_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            engine: self.source.engine.clone(),
            server_version: self.source.server_version.clone(),
            database: self.source.database.clone(),
            snapshot: self.source.snapshot.clone(),
            started_at: self.source.started_at,
            finished_at,
            tables,
            chunk_sha256: self.stream.chunk_sha256.clone(),
            totals,
            compression: CompressionInfo {
                algorithm: h.compression.name().to_owned(),
                level: self.opts.compression.level(),
            },
            cipher: CipherInfo {
                algorithm: if h.encrypted { "aes-256-gcm" } else { "none" }.to_owned(),
                kdf: h.kdf_name().to_owned(),
                key_id: self.stream.key_id.clone(),
                chunk_size: self.opts.chunk_size as u64,
            },
            warnings: self.source.warnings.clone(),
        };
        let (out, size, sha256) = self.stream.finish(&manifest).await?;
        let entry = BackupEntry {
            name: self.name.clone(),
            created_at: manifest.started_at,
            finished_at,
            engine: manifest.engine.clone(),
            database: manifest.database.clone(),
            size,
            sha256,
            encrypted: manifest.cipher.algorithm != "none",
            key_id: manifest.cipher.key_id.clone(),
            compression: manifest.compression.algorithm.clone(),
            tables: totals.tables,
            rows: totals.rows,
            format_version: manifest.format_version,
            tool_version: manifest.tool_version.clone(),
        };
        out.commit(&entry).await?;
        Ok(entry)
    }

    /// Abandons the backup: nothing of it will list.
    pub async fn abort(self) {
        self.stream.abort().await;
    }
}

/// A default backup name: `<database>-<UTC time>.covet`.
pub(crate) fn default_name(database: &str, at: DateTime<Utc>) -> String {
    let db: String = database
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let db = db.trim_start_matches(['.', '_']);
    let db = if db.is_empty() { "backup" } else { db };
    format!("{db}-{}.covet", at.format("%Y%m%dT%H%M%S%.3fZ"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Payloads and rows of every chunk `push_copy` makes from `pieces`,
    /// then of the final flush.
    fn encode(pieces: &[Vec<u8>], chunk_size: usize) -> (Vec<Vec<u8>>, u64, String) {
        let mut enc = TableEncoder::new(0, chunk_size, Compression::None);
        let mut chunks = Vec::new();
        for p in pieces {
            chunks.extend(enc.push_copy(p).unwrap());
        }
        assert!(!enc.has_partial_row());
        chunks.extend(enc.flush().unwrap());
        let rows = chunks.iter().map(|c| u64::from(c.rows)).sum();
        let mut sum = ContentChecksum::default();
        for c in &chunks {
            sum.merge(&c.checksum);
        }
        let payloads = chunks
            .into_iter()
            .map(|c| c.plain[format::CHUNK_HEAD..].to_vec())
            .collect();
        (payloads, rows, sum.to_hex())
    }

    proptest! {
        /// However the server cuts the COPY stream into pieces, chunks hold
        /// whole rows, every byte once and in order, and the row count and
        /// checksum are the same.
        #[test]
        fn copy_chunks_end_on_rows(
            rows in proptest::collection::vec("[a-z\\\\\t]{0,40}", 1..60),
            cuts in proptest::collection::vec(1usize..50, 1..40),
            chunk_size in 1usize..200,
        ) {
            let text: Vec<u8> = rows.iter().flat_map(|r| format!("{r}\n").into_bytes()).collect();
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts.iter().cycle() {
                if at >= text.len() {
                    break;
                }
                let end = (at + c).min(text.len());
                pieces.push(text[at..end].to_vec());
                at = end;
            }
            let (payloads, n, sum) = encode(&pieces, chunk_size);
            let whole = encode(std::slice::from_ref(&text), 1 << 20);
            prop_assert_eq!(n, rows.len() as u64);
            prop_assert_eq!((n, &sum), (whole.1, &whole.2));
            for p in &payloads {
                prop_assert_eq!(p.last(), Some(&b'\n'));
            }
            prop_assert_eq!(payloads.concat(), text);
        }
    }
}
