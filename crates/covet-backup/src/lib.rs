//! Encrypted, verified, streaming backup and restore for Covet's engines.
//!
//! - [`create_backup`] exports every table of a database from one
//!   consistent snapshot, tables in parallel where the engine allows it,
//!   in constant memory, into a [`BackupSink`] ([`LocalDirSink`], the S3
//!   sink, [`MemorySink`]).
//! - The format (see `docs/backup-format.md`) is a header and chunks sealed
//!   with AES-256-GCM (or integrity checksums when encryption is turned off
//!   on purpose), with an authenticated JSON [`Manifest`] as the last chunk.
//! - [`verify`] checks a backup without a database; [`restore`] verifies
//!   first and leaves the target as it was when it fails; [`drill`]
//!   restores into a scratch database and compares with the manifest.
//! - [`object`] stores single files (WAL and binlog segments, base
//!   backups) sealed the same way, atomically and idempotently, for
//!   point-in-time recovery.
//! - [`retention`] prunes old backups, never the newest verified one;
//!   [`schedule`] runs backups daily or by a cron expression.
#![forbid(unsafe_code)]

mod codec;
mod compress;
mod crypto;
mod ddl;
mod error;
mod export;
mod format;
mod leftovers;
mod manifest;
mod mysql;
pub mod object;
mod pg;
mod restore;
pub mod retention;
pub mod schedule;
mod sink;
mod sqlite;
mod verify;
mod writer;

pub use codec::ContentChecksum;
pub use compress::Compression;
pub use crypto::{KdfParams, KeySource, generate_key_file};
pub use error::{BackupError, Result};
pub use export::{CreateOptions, Progress, ProgressFn, create_backup};
pub use format::{BackupSchema, Encryption, HEADER_LEN, TableSchema};
pub use leftovers::{Leftovers, clean_leftovers};
pub use manifest::{CipherInfo, CompressionInfo, Manifest, SnapshotPosition, TableEntry, Totals};
pub use mysql::{MysqlCatalog, MysqlColumn, MysqlObject, MysqlTable, ValueForm};
pub use pg::{PgAccess, PgCatalog, PgColumnAcl, PgCopyTable, PgGrant, PgObject};
pub use restore::{
    Connector, DrillReport, DrillTable, DropFn, DropPlan, RestoreOptions, RestoreReport, drill,
    drill_cancellable, drill_with, export_sql, export_sql_to_file, restore, schema_differences,
    table_checksum,
};
pub use sink::{
    BackupEntry, BackupRead, BackupSink, LocalDirSink, MemorySink, SinkWriter, index_name,
    sink_for, sink_for_file,
};
pub use sqlite::{SqliteCatalog, SqliteObject};
/// Stops a long operation from outside (the CLI cancels it on Ctrl-C).
pub use tokio_util::sync::CancellationToken;
pub use verify::{VerifyReport, verify, verify_stream};
pub use writer::{BackupWriter, SourceInfo, WriteOptions};
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "s3")]
pub use s3::{S3Sink, object_names};

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
