//! The manifest: what a backup holds, sealed as its final chunk.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where in the source's history the snapshot was taken, for point-in-time
/// recovery later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SnapshotPosition {
    /// A PostgreSQL WAL position (`pg_current_wal_lsn()`).
    PgLsn {
        /// The LSN, as PostgreSQL prints it (`0/16B3748`).
        lsn: String,
    },
    /// A MySQL / MariaDB binary log position.
    MysqlBinlog {
        /// The binlog file.
        file: String,
        /// The position in it.
        position: u64,
        /// The GTID set (MySQL) or position (MariaDB), when there is one.
        gtid: Option<String>,
    },
    /// No position could be recorded, and why (binary log off, an SQLite
    /// file, a replica without WAL functions).
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// One table in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    /// The table name.
    pub name: String,
    /// Rows exported.
    pub rows: u64,
    /// The order-independent content checksum (see
    /// [`crate::ContentChecksum`]), 64 hex digits.
    pub content_checksum: String,
    /// Data chunks holding this table's rows.
    pub chunks: u64,
    /// Bytes of encoded rows before compression.
    pub raw_bytes: u64,
}

/// Totals over the whole backup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Tables.
    pub tables: u64,
    /// Rows.
    pub rows: u64,
    /// Chunks before the manifest (the schema chunk and data chunks).
    pub chunks: u64,
    /// Bytes of encoded rows before compression.
    pub raw_bytes: u64,
    /// Bytes of the stored stream before the manifest chunk (header,
    /// length prefixes and sealed chunks).
    pub stored_bytes: u64,
}

/// Compression settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompressionInfo {
    /// `zstd`, `gzip` or `none`.
    pub algorithm: String,
    /// The level written with.
    pub level: i32,
}

/// Encryption settings. The key itself never appears here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CipherInfo {
    /// `aes-256-gcm`, or `none` (integrity checksums only).
    pub algorithm: String,
    /// `key-file`, `argon2id` or `none`.
    pub kdf: String,
    /// The id of the master key: the hex of the first 8 bytes of a hash of
    /// the key, so a restore names the right key without revealing it.
    pub key_id: Option<String>,
    /// The target size of a chunk's plaintext, in bytes.
    pub chunk_size: u64,
}

/// The manifest of one backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The container format version (2 since PostgreSQL and SQLite backups
    /// carry their engine's own schema and data; 1 is still read).
    pub format_version: u16,
    /// The row encoding version (1 today).
    pub row_encoding_version: u16,
    /// The covet-backup version that wrote it.
    pub tool_version: String,
    /// `postgresql`, `mysql` or `sqlite`.
    pub engine: String,
    /// The server's version string.
    pub server_version: String,
    /// The database name (or SQLite file name).
    pub database: String,
    /// The snapshot's position in the source's history.
    pub snapshot: SnapshotPosition,
    /// When the export began.
    pub started_at: DateTime<Utc>,
    /// When the last row was read.
    pub finished_at: DateTime<Utc>,
    /// Tables, in schema order.
    pub tables: Vec<TableEntry>,
    /// SHA-256 of each stored chunk body before the manifest, in order.
    pub chunk_sha256: Vec<String>,
    /// Totals.
    pub totals: Totals,
    /// Compression.
    pub compression: CompressionInfo,
    /// Encryption.
    pub cipher: CipherInfo,
    /// Warnings raised while exporting (for example non-transactional
    /// MySQL tables, whose rows may not be consistent).
    pub warnings: Vec<String>,
}

impl Manifest {
    /// The entry for `table`.
    pub fn table(&self, name: &str) -> Option<&TableEntry> {
        self.tables.iter().find(|t| t.name == name)
    }
}
