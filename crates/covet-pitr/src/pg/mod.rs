//! PostgreSQL: base backups, WAL archiving, restore to a target.
//!
//! A repository is any [`covet_backup::BackupSink`] (a directory or an S3
//! prefix) opened as a [`Repo`] with the key its objects are sealed with.
//! It holds, each as one sealed object:
//!
//! - WAL files under `wal-<PostgreSQL's own file name>`, pushed by
//!   [`wal_push`] (`archive_command`) and fetched by [`wal_fetch`]
//!   (`restore_command`): segments (kind `pg-wal`), `.partial` segments
//!   (`pg-wal-partial`), timeline history files (`pg-history`) and backup
//!   history files (`pg-backup-history`);
//! - base backups from [`base_backup`]: the data directory as one archive
//!   stream (`base-<time>.pgdata`, kind `pg-base`, format in
//!   [`archive`]) and, written last, its manifest
//!   (`base-<time>.manifest.json`, kind `pg-base-manifest`, a
//!   [`BaseManifest`]). A base backup without its manifest is incomplete
//!   and ignored.
//!
//! [`restore`] unpacks the newest base backup before a target and writes
//! the recovery settings; [`verify`] checks the WAL chain; [`prune`] keeps
//! the newest base backups and the WAL they need.

pub mod archive;
mod base;
mod chain;
mod drill;
mod metrics;
mod push;
mod repo;
mod restore;
pub mod wal;

pub use base::{BaseBackupOptions, BaseManifest, ManifestFile, base_backup, list_base_backups};
pub use chain::{Coverage, PruneReport, VerifyOptions, VerifyReport, prune, verify};
pub use drill::{DrillOptions, DrillReport, drill};
pub use metrics::{LAST_SUCCESS_METRIC, write_metrics_textfile};
pub use push::{FetchOutcome, wal_fetch, wal_push};
pub use repo::Repo;
pub use restore::{RecoveryTarget, RestoreOptions, RestoreReport, restore};
