//! Asking servers where replication stands, per engine.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use covet_core::{Adapter, ColumnIndex, Error, ErrorKind, Result, Row, Statement, Value};

use crate::token::{ConsistencyToken, GtidPos, parse_lsn};

/// What a replica reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// The position it has replayed.
    pub position: ConsistencyToken,
    /// Whether it is applying changes now (false: replay paused, the SQL or
    /// IO thread stopped). A replica that is not applying changes is
    /// ejected: it falls behind with the primary's next write.
    pub applying: bool,
}

/// The engine-specific questions the router asks: the primary's position,
/// a replica's status, and waiting for a replica to reach a position.
///
/// [`PgProbe`] and [`MariaDbProbe`] are chosen by engine; tests and unusual
/// topologies supply their own through [`crate::RouterBuilder::probe`].
#[async_trait]
pub trait ReplicationProbe: Send + Sync + 'static {
    /// The primary's current position; a write committed before this call
    /// is at or before it.
    async fn primary_position(&self, primary: &dyn Adapter) -> Result<ConsistencyToken>;

    /// A replica's replayed position and whether it is applying changes.
    /// An error (or a server that is not a replica) fails the check.
    async fn replica_status(&self, replica: &dyn Adapter) -> Result<ReplicaStatus>;

    /// Whether the server takes writes (for failover). The default says
    /// yes, so a probe that does not know keeps the first target primary.
    async fn is_writable(&self, server: &dyn Adapter) -> Result<bool> {
        let _ = server;
        Ok(true)
    }

    /// Waits up to `timeout` for `replica` to replay `token`; `Ok(false)`
    /// when it did not. The default polls [`ReplicationProbe::replica_status`]
    /// every 5 ms.
    async fn wait_for(
        &self,
        replica: &dyn Adapter,
        token: &ConsistencyToken,
        timeout: Duration,
    ) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            if token.covered_by(&self.replica_status(replica).await?.position) {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A column as text, whatever string-ish type the driver chose.
fn text(row: &Row, col: impl ColumnIndex) -> Result<Option<String>> {
    Ok(match row.value(col)? {
        Value::Null => None,
        Value::Text(s) => Some(s.clone()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(format!("{other:?}")),
    })
}

fn first_row(rows: covet_core::Rows, what: &str) -> Result<Row> {
    rows.into_iter()
        .next()
        .ok_or_else(|| Error::new(ErrorKind::Decode, format!("{what} returned no row")))
}

fn not_a_replica() -> Error {
    Error::new(
        ErrorKind::Unsupported,
        "the server is not a replica (not in recovery / no replication configured)",
    )
}

/// PostgreSQL streaming replication: `pg_current_wal_insert_lsn()` on the
/// primary, `pg_last_wal_replay_lsn()` and `pg_is_wal_replay_paused()` on a
/// replica.
#[derive(Debug, Clone, Copy, Default)]
pub struct PgProbe;

#[async_trait]
impl ReplicationProbe for PgProbe {
    async fn primary_position(&self, primary: &dyn Adapter) -> Result<ConsistencyToken> {
        // The insert position, not the flush position: with
        // synchronous_commit off a commit may not be flushed yet, and a
        // token must not be reached before the write it stands for.
        let stmt = Statement::new(
            "SELECT pg_current_wal_insert_lsn()::text, current_setting('wal_block_size')",
        )
        .idempotent(true)
        .label("covet_router_position");
        let row = first_row(primary.query(&stmt).await?, "pg_current_wal_insert_lsn")?;
        let lsn = text(&row, 0)?.ok_or_else(not_a_replica)?;
        let lsn = parse_lsn(&lsn).map_err(Error::from)?;
        let block = text(&row, 1)?
            .and_then(|b| b.parse::<u64>().ok())
            .unwrap_or(8192);
        Ok(ConsistencyToken::Lsn(record_end(lsn, block)))
    }

    async fn is_writable(&self, server: &dyn Adapter) -> Result<bool> {
        let stmt = Statement::new("SELECT (NOT pg_is_in_recovery())::text")
            .idempotent(true)
            .label("covet_router_writable");
        let row = first_row(server.query(&stmt).await?, "pg_is_in_recovery")?;
        Ok(text(&row, 0)?.is_some_and(|v| v == "true"))
    }

    async fn replica_status(&self, replica: &dyn Adapter) -> Result<ReplicaStatus> {
        let stmt = Statement::new(
            "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END, \
             CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused()::text END",
        )
        .idempotent(true)
        .label("covet_router_replica_status");
        let row = first_row(replica.query(&stmt).await?, "replica status")?;
        let lsn = text(&row, 0)?.ok_or_else(not_a_replica)?;
        let paused = text(&row, 1)?.is_some_and(|p| p == "true");
        Ok(ReplicaStatus {
            position: ConsistencyToken::Lsn(parse_lsn(&lsn).map_err(Error::from)?),
            applying: !paused,
        })
    }
}

/// The insert position as a replica would report having replayed it.
///
/// When the last record ends exactly at a WAL page boundary, the primary's
/// insert position points past the next page's header (24 bytes, or 40 at
/// the start of a segment), while a replica's replay position is the end
/// of that record, the boundary itself: an idle primary would then look
/// forever ahead of every replica. The header is taken off.
pub(crate) fn record_end(lsn: u64, block: u64) -> u64 {
    const SHORT_HEADER: u64 = 24;
    const LONG_HEADER: u64 = 40;
    // Segments are powers of two of at least 1 MB, so a long header sits at
    // a 1 MB boundary; a 1 MB boundary inside a segment has a short one.
    const MB: u64 = 1 << 20;
    match lsn % block.max(1) {
        SHORT_HEADER => lsn - SHORT_HEADER,
        LONG_HEADER if (lsn - LONG_HEADER).is_multiple_of(MB) => lsn - LONG_HEADER,
        _ => lsn,
    }
}

/// MariaDB GTID replication: `@@gtid_binlog_pos` on the primary,
/// `@@gtid_slave_pos` and `SHOW SLAVE STATUS` on a replica,
/// `MASTER_GTID_WAIT` to wait.
#[derive(Debug, Clone, Copy, Default)]
pub struct MariaDbProbe;

#[async_trait]
impl ReplicationProbe for MariaDbProbe {
    async fn primary_position(&self, primary: &dyn Adapter) -> Result<ConsistencyToken> {
        let stmt = Statement::new("SELECT @@gtid_binlog_pos")
            .idempotent(true)
            .label("covet_router_position");
        let row = first_row(primary.query(&stmt).await?, "@@gtid_binlog_pos")?;
        let pos = text(&row, 0)?.unwrap_or_default();
        Ok(ConsistencyToken::Gtid(
            GtidPos::parse(&pos).map_err(Error::from)?,
        ))
    }

    async fn is_writable(&self, server: &dyn Adapter) -> Result<bool> {
        let stmt = Statement::new("SELECT @@read_only")
            .idempotent(true)
            .label("covet_router_writable");
        let row = first_row(server.query(&stmt).await?, "@@read_only")?;
        Ok(
            matches!(row.value(0)?, Value::I64(0) | Value::I32(0) | Value::I16(0))
                || text(&row, 0)?.is_some_and(|v| v == "0"),
        )
    }

    async fn replica_status(&self, replica: &dyn Adapter) -> Result<ReplicaStatus> {
        let status = Statement::new("SHOW SLAVE STATUS")
            .idempotent(true)
            .label("covet_router_replica_status");
        let row = first_row(replica.query(&status).await?, "SHOW SLAVE STATUS")
            .map_err(|_| not_a_replica())?;
        let running =
            |col: &str| -> Result<bool> { Ok(text(&row, col)?.is_some_and(|v| v == "Yes")) };
        let applying = running("Slave_SQL_Running")? && running("Slave_IO_Running")?;
        let pos = Statement::new("SELECT @@gtid_slave_pos")
            .idempotent(true)
            .label("covet_router_replica_status");
        let row = first_row(replica.query(&pos).await?, "@@gtid_slave_pos")?;
        let pos = text(&row, 0)?.unwrap_or_default();
        Ok(ReplicaStatus {
            position: ConsistencyToken::Gtid(GtidPos::parse(&pos).map_err(Error::from)?),
            applying,
        })
    }

    async fn wait_for(
        &self,
        replica: &dyn Adapter,
        token: &ConsistencyToken,
        timeout: Duration,
    ) -> Result<bool> {
        let ConsistencyToken::Gtid(pos) = token else {
            return Err(crate::RouterError::TokenEngine.into());
        };
        // The server waits, so the wait costs one round trip; it returns 0
        // when the position is reached and -1 on timeout.
        let stmt = Statement::new("SELECT MASTER_GTID_WAIT(?, ?)")
            .bind(pos.to_string())
            .bind(timeout.as_secs_f64())
            .timeout(timeout + Duration::from_secs(2))
            .idempotent(true)
            .label("covet_router_wait");
        let row = first_row(replica.query(&stmt).await?, "MASTER_GTID_WAIT")?;
        Ok(matches!(
            row.value(0)?,
            Value::I64(0) | Value::I32(0) | Value::I16(0)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::record_end;

    #[test]
    fn page_headers_are_not_counted_as_written() {
        assert_eq!(record_end(0x400_0028, 8192), 0x400_0000, "segment start");
        assert_eq!(record_end(0x400_2018, 8192), 0x400_2000, "page start");
        assert_eq!(
            record_end(0x410_0018, 8192),
            0x410_0000,
            "1 MB inside a segment"
        );
        assert_eq!(record_end(0x400_2028, 8192), 0x400_2028, "a record end");
        assert_eq!(record_end(0x400_2100, 8192), 0x400_2100);
    }
}
