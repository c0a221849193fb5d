//! `binlog-stream`: follow the source's binary log as a replica would and
//! store it as sealed segments, resuming where the stored segments end.

use std::sync::Arc;
use std::time::Duration;

use covet_backup::object::{ObjectOptions, put_object};
use covet_backup::{BackupError, BackupSink, CancellationToken, Encryption};
use covet_core::DatabaseUrl;
use futures_util::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn};
use tokio::time::Instant;

use super::conn::{self, ConnSpec, describe};
use super::event::{
    self, FORMAT_DESCRIPTION, Grouper, HEARTBEAT, Header, ROTATE, TRANSACTION_PAYLOAD,
};
use super::segment::{self, BinlogPosition, KIND, SegmentName, list_segments};
use crate::error::{PitrError, Result};

/// The range random server ids are drawn from: high, so they do not meet
/// the small ids people give their servers and replicas.
pub const RANDOM_SERVER_ID: std::ops::RangeInclusive<u32> = 0x7000_0000..=0x7fff_ffff;

/// A server id in [`RANDOM_SERVER_ID`].
pub fn random_server_id() -> u32 {
    rand::random_range(RANDOM_SERVER_ID)
}

/// Called with each segment once it is stored.
pub type SegmentFn = Arc<dyn Fn(&SegmentName) + Send + Sync>;

/// How to stream.
#[derive(Clone)]
pub struct StreamOptions {
    /// The source server (its password already resolved; the database in
    /// it is ignored).
    pub url: DatabaseUrl,
    /// Where segments go.
    pub sink: Arc<dyn BackupSink>,
    /// How segments are sealed.
    pub encryption: Encryption,
    /// The stream's name in object names: one name per source server.
    pub stream: String,
    /// The server id this replica registers with. It must be unique among
    /// the source's replicas: a second connection with the same id makes
    /// the server drop the first.
    pub server_id: u32,
    /// Where to start when the sink holds no segment of this stream yet
    /// (by default the source's current position). With segments stored,
    /// the stream resumes at their end, and a different `from` is refused.
    pub from: Option<BinlogPosition>,
    /// Cut a segment once it holds this many bytes (at the next
    /// transaction boundary).
    pub segment_bytes: usize,
    /// Cut a segment once its first event is this old (at the next
    /// transaction boundary), so a quiet server's writes are stored soon.
    pub segment_age: Duration,
    /// How often the server sends a heartbeat when it has nothing to
    /// send; a connection silent for three periods is reconnected.
    pub heartbeat: Duration,
    /// The longest wait between two reconnection attempts.
    pub max_backoff: Duration,
    /// Called with each stored segment.
    pub on_segment: Option<SegmentFn>,
}

impl std::fmt::Debug for StreamOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamOptions")
            .field("url", &self.url.to_string())
            .field("stream", &self.stream)
            .field("server_id", &self.server_id)
            .field("from", &self.from)
            .field("segment_bytes", &self.segment_bytes)
            .field("segment_age", &self.segment_age)
            .finish_non_exhaustive()
    }
}

impl StreamOptions {
    /// Options with the defaults: stream `main`, a random server id,
    /// segments of 16 MiB or 60 seconds, a heartbeat every 5 seconds.
    pub fn new(url: DatabaseUrl, sink: Arc<dyn BackupSink>, encryption: Encryption) -> Self {
        StreamOptions {
            url,
            sink,
            encryption,
            stream: "main".into(),
            server_id: random_server_id(),
            from: None,
            segment_bytes: 16 << 20,
            segment_age: Duration::from_secs(60),
            heartbeat: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30),
            on_segment: None,
        }
    }
}

/// What a stream did before it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamReport {
    /// Where the first segment of this run started.
    pub started_at: BinlogPosition,
    /// Where the stored segments end now.
    pub stored_to: BinlogPosition,
    /// Segments stored by this run.
    pub segments: u64,
    /// Bytes of binlog events stored by this run.
    pub bytes: u64,
    /// Connections lost and made again.
    pub reconnects: u64,
}

/// Where a stream of `stream` would start: the end of its stored segments
/// (the next file's start when the last one ended a file is found by the
/// server itself), else `None`.
pub async fn resume_position(
    sink: &dyn BackupSink,
    stream: &str,
) -> Result<Option<BinlogPosition>> {
    segment::check_stream_name(stream)?;
    Ok(list_segments(sink, stream)
        .await?
        .into_iter()
        .map(|(s, _)| s.end_position())
        .max())
}

/// The segment being filled.
struct Open {
    file: String,
    /// Where it starts (the end of the last stored segment).
    start: u64,
    /// The stream's format description event, for the segment's head.
    fde: Option<Vec<u8>>,
    checksum: usize,
    /// Events since `start`, exactly as sent.
    buf: Vec<u8>,
    /// The prefix of `buf` that ends at a transaction boundary, and the
    /// source position there.
    sealable: usize,
    sealable_end: u64,
    end: u64,
    grouper: Grouper,
    first_at: Option<Instant>,
}

impl Open {
    fn new(file: String, start: u64) -> Self {
        Open {
            file,
            start,
            fde: None,
            checksum: 0,
            buf: Vec::new(),
            sealable: 0,
            sealable_end: start,
            end: start,
            grouper: Grouper::Outside,
            first_at: None,
        }
    }

    /// After a final seal: drops whatever it could not store, so the next
    /// connection starts where the stored segments end.
    fn restart_at_stored_end(&mut self) {
        self.buf.clear();
        self.sealable = 0;
        self.sealable_end = self.start;
        self.end = self.start;
        self.grouper = Grouper::Outside;
        self.first_at = None;
    }

    /// Drops what follows the last boundary (a transaction the lost
    /// connection cut), so the next connection starts there.
    fn forget_tail(&mut self) {
        self.buf.truncate(self.sealable);
        self.end = self.sealable_end;
        self.grouper = Grouper::Outside;
        if self.buf.is_empty() {
            self.first_at = None;
        }
    }
}

struct Streamer {
    opts: StreamOptions,
    spec: ConnSpec,
    object: ObjectOptions,
    open: Open,
    report: StreamReport,
}

/// How a connection's session ended.
enum Ended {
    Cancelled,
    /// Lost (or silent too long): connect again; the flag says whether it
    /// got any event first (a session that fails at once backs off).
    Lost(String, bool),
}

/// Server errors that another connection would meet again: a purged or
/// unknown binlog file, missing privileges, a refused login.
fn is_fatal(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(se)
        if matches!(se.code, 1236 | 1045 | 1044 | 1227 | 1142 | 1698))
}

/// Streams until `cancel` fires, then stores what it holds up to the last
/// transaction boundary and returns. A lost connection is made again
/// (backing off up to [`StreamOptions::max_backoff`]) from the end of what
/// is stored, so nothing is missed or stored twice; the first connection
/// failing, or the server refusing the request (a purged file, a missing
/// privilege), ends the stream with an error.
pub async fn stream_binlog(opts: StreamOptions, cancel: CancellationToken) -> Result<StreamReport> {
    segment::check_stream_name(&opts.stream)?;
    if opts.server_id == 0 {
        return Err(PitrError::Config(
            "the replica server id must not be 0".into(),
        ));
    }
    let spec = ConnSpec::from_url(&opts.url)?;
    // A run killed while storing a segment left its partial file; this
    // run may cut that segment elsewhere, so nothing else would remove it.
    match opts.sink.clean_stale().await {
        Ok(removed) if !removed.is_empty() => {
            tracing::info!(
                count = removed.len(),
                "removed partial files of a killed run"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "could not clean partial files"),
    }
    let resume = resume_position(opts.sink.as_ref(), &opts.stream).await?;
    let mut conn = spec
        .connect()
        .await
        .map_err(|e| conn::connect_error(spec.target(), &e))?;
    let start = match (resume, &opts.from) {
        (Some(r), Some(f)) if *f != r => {
            return Err(PitrError::Config(format!(
                "stream `{}` already holds segments up to {r}; it resumes there (leave out --from {f})",
                opts.stream
            )));
        }
        (Some(r), _) => r,
        (None, Some(f)) => f.clone(),
        (None, None) => current_position(&mut conn).await?,
    };
    segment::check_file_name(&start.file)?;
    let object = ObjectOptions {
        encryption: opts.encryption.clone(),
        kind: KIND.into(),
        label: format!("stream {} from {}", opts.stream, spec.target()),
        ..Default::default()
    };
    let mut s = Streamer {
        report: StreamReport {
            started_at: start.clone(),
            stored_to: start.clone(),
            segments: 0,
            bytes: 0,
            reconnects: 0,
        },
        open: Open::new(start.file, start.position),
        opts,
        spec,
        object,
    };
    let mut first = Some(conn);
    let mut backoff = Duration::from_millis(200);
    loop {
        let conn = match first.take() {
            Some(c) => c,
            None => {
                let connected = tokio::select! {
                    () = cancel.cancelled() => break,
                    c = s.spec.connect() => c,
                };
                match connected {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %describe(&e), "binlog stream: reconnecting failed");
                        tokio::select! {
                            () = cancel.cancelled() => break,
                            () = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(s.opts.max_backoff);
                        continue;
                    }
                }
            }
        };
        match s.session(conn, &cancel).await? {
            Ended::Cancelled => break,
            Ended::Lost(why, progressed) => {
                s.report.reconnects += 1;
                tracing::warn!(reason = %why, at = %BinlogPosition::new(&s.open.file, s.open.start),
                    "binlog stream: connection lost; resuming from the last stored transaction");
                if progressed {
                    backoff = Duration::from_millis(200);
                } else {
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(s.opts.max_backoff);
                }
            }
        }
    }
    s.open.forget_tail();
    s.seal().await?;
    Ok(s.report)
}

/// The source's current binlog position (`SHOW MASTER STATUS`).
async fn current_position(conn: &mut Conn) -> Result<BinlogPosition> {
    let row: Option<mysql_async::Row> = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .map_err(|e| PitrError::Binlog(format!("SHOW MASTER STATUS: {}", describe(&e))))?;
    let row = row.ok_or_else(|| {
        PitrError::Binlog(
            "the source's binary log is off (SHOW MASTER STATUS is empty): start it with log_bin"
                .into(),
        )
    })?;
    let file: String = row.get(0).unwrap_or_default();
    let pos: u64 = row.get(1).unwrap_or(4);
    Ok(BinlogPosition::new(file, pos))
}

impl Streamer {
    /// One connection: register, request the binlog from the stored end,
    /// take events until cancelled or lost.
    async fn session(&mut self, mut conn: Conn, cancel: &CancellationToken) -> Result<Ended> {
        let setup = async {
            let id: Option<u32> = conn.query_first("SELECT @@server_id").await?;
            if id == Some(self.opts.server_id) {
                return Ok(Err(PitrError::Config(format!(
                    "server id {} is the source's own; choose another --server-id",
                    self.opts.server_id
                ))));
            }
            let format: Option<String> = conn.query_first("SELECT @@binlog_format").await?;
            if let Some(f) = format.filter(|f| !f.eq_ignore_ascii_case("ROW")) {
                tracing::warn!(binlog_format = %f, "binlog_format is not ROW: statements replay as they were written");
            }
            // MariaDB sends its own events (GTID, binlog checkpoints) as
            // written only to a replica that says it understands them;
            // otherwise it rewrites them into stand-ins.
            conn.query_drop("SET @mariadb_slave_capability = 4").await?;
            let ns = self.opts.heartbeat.as_nanos().min(u128::from(u64::MAX / 2)) as u64;
            conn.query_drop(format!("SET @master_heartbeat_period = {ns}"))
                .await?;
            Ok(Ok(()))
        };
        match setup.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) if is_fatal(&e) => {
                return Err(PitrError::Binlog(format!(
                    "{}: {}",
                    self.spec.target(),
                    describe(&e)
                )));
            }
            Err(e) => return Ok(Ended::Lost(describe(&e), false)),
        }
        // Every session starts where the stored segments end: what the
        // last one held past its last boundary was dropped with it.
        debug_assert!(self.open.buf.is_empty() && self.open.end == self.open.start);
        let start = BinlogPosition::new(&self.open.file, self.open.start);
        let file = start.file.clone();
        let request = BinlogStreamRequest::new(self.opts.server_id)
            .with_filename(file.as_bytes())
            .with_pos(start.position);
        let mut stream = match conn.get_binlog_stream(request).await {
            Ok(s) => s,
            Err(e) if is_fatal(&e) => {
                return Err(PitrError::Binlog(format!(
                    "the source refused the stream from {start}: {}",
                    describe(&e)
                )));
            }
            Err(e) => return Ok(Ended::Lost(describe(&e), false)),
        };
        let mut progressed = false;
        let silence = self.opts.heartbeat * 3;
        let mut got_fde = false;
        loop {
            let deadline = self
                .open
                .first_at
                .filter(|_| self.open.sealable > 0)
                .map(|t| t + self.opts.segment_age);
            let next = tokio::select! {
                () = cancel.cancelled() => {
                    drop(stream);
                    return Ok(Ended::Cancelled);
                }
                () = sleep_until(deadline) => {
                    self.seal().await?;
                    continue;
                }
                n = tokio::time::timeout(silence, stream.next()) => n,
            };
            let ev = match next {
                Err(_) => {
                    self.open.forget_tail();
                    self.seal().await?;
                    self.open.restart_at_stored_end();
                    return Ok(Ended::Lost(
                        format!("no event or heartbeat for {silence:?}"),
                        progressed,
                    ));
                }
                Ok(None) => {
                    self.open.forget_tail();
                    self.seal().await?;
                    self.open.restart_at_stored_end();
                    return Ok(Ended::Lost(
                        "the server ended the stream".into(),
                        progressed,
                    ));
                }
                Ok(Some(Err(e))) => {
                    self.open.forget_tail();
                    self.seal().await?;
                    self.open.restart_at_stored_end();
                    if is_fatal(&e) {
                        return Err(PitrError::Binlog(format!(
                            "the source refused the stream from {start}: {}",
                            describe(&e)
                        )));
                    }
                    return Ok(Ended::Lost(describe(&e), progressed));
                }
                Ok(Some(Ok(ev))) => ev,
            };
            progressed = true;
            let mut raw = Vec::with_capacity(ev.header().event_size() as usize);
            ev.write(mysql_async::binlog::BinlogVersion::Version4, &mut raw)
                .map_err(|e| PitrError::Binlog(format!("re-encoding an event: {e}")))?;
            let h = Header::parse(&raw)
                .ok_or_else(|| PitrError::Binlog("an event shorter than its header".into()))?;
            if raw.len() != h.size as usize {
                return Err(PitrError::Binlog(format!(
                    "an event of type {} re-encoded to {} bytes, not its {}",
                    h.type_code,
                    raw.len(),
                    h.size
                )));
            }
            // The driver re-encodes the checksum from the bytes it parsed:
            // a mismatch with the one received means damage on the way.
            if let Some(sent) = ev.checksum()
                && h.type_code != FORMAT_DESCRIPTION
                && self.open.checksum == 4
                && raw[raw.len() - 4..] != sent
            {
                return Err(PitrError::Binlog(format!(
                    "event at {} of {} failed its CRC32 check",
                    h.start(),
                    self.open.file
                )));
            }
            match h.type_code {
                HEARTBEAT => continue,
                TRANSACTION_PAYLOAD => {
                    return Err(PitrError::Binlog(
                        "the source compresses transactions (binlog_transaction_compression): not supported"
                            .into(),
                    ));
                }
                _ => {}
            }
            if h.type_code == FORMAT_DESCRIPTION {
                got_fde = true;
                self.open.checksum = event::checksum_len(&raw);
                self.open.fde = Some(raw.clone());
            }
            if !h.is_positional() {
                if h.type_code == ROTATE && got_fde {
                    // A rotate the server made up: it moved to another file.
                    if let Some((file, pos)) = event::rotate(&raw, self.open.checksum)
                        && file != self.open.file
                    {
                        if self.open.grouper != Grouper::Outside {
                            return Err(PitrError::Binlog(format!(
                                "the source moved to {file} inside a transaction of {}",
                                self.open.file
                            )));
                        }
                        // The old file's events must be stored before the
                        // stream moves on, or its end would be a gap.
                        self.seal().await?;
                        while !self.open.buf.is_empty() {
                            tokio::select! {
                                () = cancel.cancelled() => {
                                    drop(stream);
                                    return Ok(Ended::Cancelled);
                                }
                                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            }
                            self.seal().await?;
                        }
                        segment::check_file_name(&file)?;
                        self.open = Open::new(file, pos);
                        got_fde = false;
                    }
                }
                continue;
            }
            let end = u64::from(h.log_pos);
            if end <= self.open.end {
                return Err(PitrError::Binlog(format!(
                    "event ending at {end} of {} does not follow {} (a position went back)",
                    self.open.file, self.open.end
                )));
            }
            if self.open.fde.is_none() {
                return Err(PitrError::Binlog(
                    "an event came before any format description event".into(),
                ));
            }
            self.open.buf.extend_from_slice(&raw);
            self.open.end = end;
            self.open.first_at.get_or_insert_with(Instant::now);
            if self.open.grouper.feed(&h, &raw, self.open.checksum) {
                self.open.sealable = self.open.buf.len();
                self.open.sealable_end = end;
            }
            if h.type_code == ROTATE || self.open.sealable >= self.opts.segment_bytes {
                self.seal().await?;
            }
        }
    }

    /// Stores the sealable prefix of the open segment, if any, and starts
    /// the next one where it ended.
    async fn seal(&mut self) -> Result<()> {
        let o = &mut self.open;
        if o.sealable == 0 {
            return Ok(());
        }
        let fde = o
            .fde
            .as_deref()
            .ok_or_else(|| PitrError::Binlog("no format description event to seal with".into()))?;
        let name = SegmentName {
            stream: self.opts.stream.clone(),
            file: o.file.clone(),
            start: o.start,
            end: o.sealable_end,
        };
        let data = segment::encode(fde, &o.buf[..o.sealable]);
        let sink = self.opts.sink.as_ref();
        let object = name.object_name();
        // The same bytes already stored (a run that died after sealing it)
        // count as stored; one stored without its index entry is written
        // again by put_object.
        match put_object(sink, &object, &data[..], &self.object).await {
            // A killed run's partial file of this very name is still young
            // enough to count as being written: keep the events and seal
            // at a later boundary, under another name.
            Err(BackupError::InProgress { .. }) => {
                tracing::info!(segment = %object, "a partial file of this name is recent; sealing later");
                o.first_at = Some(Instant::now());
                return Ok(());
            }
            r => r?,
        };
        self.report.segments += 1;
        self.report.bytes += o.sealable as u64;
        self.report.stored_to = name.end_position();
        o.buf.drain(..o.sealable);
        o.start = o.sealable_end;
        o.sealable = 0;
        o.first_at = (!o.buf.is_empty()).then(Instant::now);
        if let Some(f) = &self.opts.on_segment {
            f(&name);
        }
        tracing::debug!(segment = %name.object_name(), "segment stored");
        Ok(())
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
