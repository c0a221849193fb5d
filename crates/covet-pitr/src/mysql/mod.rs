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
