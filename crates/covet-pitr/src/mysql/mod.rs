//! MySQL / MariaDB: binlog streaming and restore to a target.
//!
//! - [`stream_binlog`] connects as a replica (`COM_BINLOG_DUMP` with a
//!   unique server id), and stores the binary log as sealed segments of
//!   whole transactions (kind `mysql-binlog`), resuming after a restart or
//!   a lost connection where the stored segments end.
//! - [`restore_binlog`] restores a logical backup (covet-backup), then
//!   replays the stored binlog from the backup's recorded position up to a
//!   time, a position or the end, through the engine's `mariadb-binlog`
//!   and `mariadb` client; [`plan_binlog_restore`] checks coverage alone.
//!
//! Tested against MariaDB 10.11 only.
//!
//! ```no_run
//! use std::sync::Arc;
//! use covet_backup::{CancellationToken, Encryption, KeySource, LocalDirSink};
//! use covet_pitr::mysql::{StreamOptions, stream_binlog};
//!
//! # async fn run() -> covet_pitr::Result<()> {
//! let url = "mysql://covet_repl@db1:3306/".parse()?;
//! let key = KeySource::File("/etc/covet/pitr.key".into());
//! let mut opts = StreamOptions::new(url, Arc::new(LocalDirSink::new("/backup/mysql")), Encryption::Key(key));
//! opts.server_id = 4001;
//! let stop = CancellationToken::new();
//! // Cancel `stop` (on SIGTERM, say) to store what is held and return.
//! let report = stream_binlog(opts, stop).await?;
//! println!("stored up to {}", report.stored_to);
//! # Ok(())
//! # }
//! ```

mod conn;
mod event;
mod restore;
mod segment;
mod stream;

pub use restore::{
    BinlogPlan, BinlogRestoreOptions, BinlogRestoreReport, BinlogTarget, plan_binlog_restore,
    restore_binlog,
};
pub use segment::{BinlogPosition, KIND, SegmentName, list_segments};
pub use stream::{
    RANDOM_SERVER_ID, SegmentFn, StreamOptions, StreamReport, random_server_id, resume_position,
    stream_binlog,
};
