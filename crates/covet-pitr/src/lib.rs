//! Point-in-time recovery on top of covet-backup's sealed objects.
//!
//! - [`pg`]: PostgreSQL physical base backups through the backup API
//!   (`pg_backup_start` / `pg_backup_stop`), WAL archiving as
//!   `archive_command` / `restore_command`, restore to a time, an LSN or a
//!   named restore point, chain verification, drills and retention.
//! - [`mysql`]: MySQL/MariaDB binlog streaming as a replica would, and
//!   restore of a logical backup plus the binlog up to a target.
//!
//! Every file PITR stores (a WAL segment, a base backup, a binlog segment)
//! is one sealed object in a [`covet_backup::BackupSink`]: compressed,
//! encrypted with the repository key, written atomically and checked on
//! every read (see [`covet_backup::object`]).
#![forbid(unsafe_code)]

mod error;
pub mod mysql;
pub mod pg;

pub use error::{PitrError, Result};
