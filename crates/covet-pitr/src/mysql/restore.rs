//! `binlog-restore`: a logical backup, then the stored binlog from the
//! backup's position up to a target, replayed through the engine's own
//! `mariadb-binlog` (or `mysqlbinlog`) into the `mariadb` (or `mysql`)
//! client.
//!
//! Everything that can refuse does so before the target is touched: the
//! backup is verified, every segment from its position on is read and
//! checked, and the target must lie inside what they cover.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use covet_backup::object::ObjectReader;
use covet_backup::{
    BackupSink, Connector, KeySource, Manifest, RestoreOptions, RestoreReport, SnapshotPosition,
};
use covet_core::DatabaseUrl;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::event::{self, FORMAT_DESCRIPTION, Grouper, MAGIC, QUERY};
use super::segment::{self, BinlogPosition, Decoded, SegmentName, list_segments};
use crate::error::{PitrError, Result};

/// Where a restore stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinlogTarget {
    /// Every transaction committed at or before this instant (binlog
    /// timestamps have whole seconds: a transaction stamped `T` is in for
    /// any target from `T` on).
    Time(DateTime<Utc>),
    /// Every transaction that ends at or before this position.
    Position(BinlogPosition),
    /// Everything streamed.
    Latest,
}

impl std::fmt::Display for BinlogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BinlogTarget::Time(t) => write!(f, "time {}", t.to_rfc3339()),
            BinlogTarget::Position(p) => write!(f, "position {p}"),
            BinlogTarget::Latest => f.write_str("latest"),
        }
    }
}

/// How to restore.
#[derive(Clone)]
pub struct BinlogRestoreOptions {
    /// Where the logical backup is.
    pub backup_sink: Arc<dyn BackupSink>,
    /// Its name there.
    pub backup_name: String,
    /// Where the binlog segments are.
    pub repo: Arc<dyn BackupSink>,
    /// The stream's name (see [`super::StreamOptions::stream`]).
    pub stream: String,
    /// The key of the backup and the segments.
    pub key: Option<KeySource>,
    /// Where to stop.
    pub target: BinlogTarget,
    /// How the logical backup is restored (its `key` is taken from
    /// [`Self::key`] when unset).
    pub restore: RestoreOptions,
    /// The binlog decoder; by default `mariadb-binlog`, else
    /// `mysqlbinlog`, from `PATH`.
    pub binlog_tool: Option<PathBuf>,
    /// The client that applies its output; by default `mariadb`, else
    /// `mysql`, from `PATH`.
    pub client: Option<PathBuf>,
}

impl std::fmt::Debug for BinlogRestoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinlogRestoreOptions")
            .field("backup_name", &self.backup_name)
            .field("stream", &self.stream)
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// What the stored binlog covers after a backup, and what a restore to the
/// target would replay.
#[derive(Debug, Clone)]
pub struct BinlogPlan {
    /// The backup's database.
    pub source_database: String,
    /// The backup's binlog position: the replay starts here.
    pub from: BinlogPosition,
    /// When the backup began.
    pub backup_time: DateTime<Utc>,
    /// Where the continuous run of stored segments from `from` ends.
    pub covered_to: BinlogPosition,
    /// The timestamp of the last event in that run.
    pub last_event_time: Option<DateTime<Utc>>,
    /// The first stored segment after a gap, when the run stops at one.
    pub gap_before: Option<BinlogPosition>,
    /// Where the replay stops (the end of its last transaction).
    pub stop: BinlogPosition,
    /// When its last transaction was written.
    pub stop_time: Option<DateTime<Utc>>,
    /// Transactions (and standalone statements) to replay.
    pub transactions: u64,
    /// Segments read.
    pub segments: usize,
    /// The segments from the backup's position on, in order, each with the
    /// position its replay starts at (the backup's in the first; where the
    /// previous one ended, should two stored segments overlap).
    chain: Vec<(SegmentName, u64)>,
    /// The last event to replay: (index in `chain`, index among its
    /// covered events).
    keep_to: Option<(usize, usize)>,
    /// The first replayed statement that names the source database
    /// explicitly, if any (a rename cannot rewrite it).
    first_qualified: Option<BinlogPosition>,
}

impl BinlogPlan {
    /// What is covered, in words, for messages.
    pub fn covered(&self) -> String {
        let mut s = format!(
            "the backup of {} at {} ({}) is followed by binlog up to {}",
            self.source_database,
            self.from,
            self.backup_time.to_rfc3339(),
            self.covered_to
        );
        if let Some(t) = self.last_event_time {
            s.push_str(&format!(" (last event {})", t.to_rfc3339()));
        }
        if let Some(g) = &self.gap_before {
            s.push_str(&format!(
                ", then a gap: the next stored segment starts at {g}"
            ));
        }
        s
    }
}

/// What a restore did.
#[derive(Debug)]
pub struct BinlogRestoreReport {
    /// The plan it followed.
    pub plan: BinlogPlan,
    /// The logical backup's restore.
    pub backup: RestoreReport,
}

/// Reads the backup's manifest and the stored segments after its position,
/// checks the target is covered, and rebuilds the binlog to replay. Touches
/// no database.
pub async fn plan_binlog_restore(opts: &BinlogRestoreOptions) -> Result<BinlogPlan> {
    segment::check_stream_name(&opts.stream)?;
    let verified = covet_backup::verify(
        opts.backup_sink.as_ref(),
        &opts.backup_name,
        opts.key.as_ref(),
    )
    .await?;
    plan_from_manifest(opts, &verified.manifest).await
}

async fn plan_from_manifest(opts: &BinlogRestoreOptions, m: &Manifest) -> Result<BinlogPlan> {
    if m.engine != "mysql" {
        return Err(PitrError::Config(format!(
            "{} is a {} backup; binlog-restore needs a MySQL/MariaDB one",
            opts.backup_name, m.engine
        )));
    }
    let from = match &m.snapshot {
        SnapshotPosition::MysqlBinlog { file, position, .. } => {
            BinlogPosition::new(file.clone(), *position)
        }
        SnapshotPosition::Unavailable { reason } => {
            return Err(PitrError::Config(format!(
                "{} records no binlog position ({reason}): take the backup with the binary log on",
                opts.backup_name
            )));
        }
        other => {
            return Err(PitrError::Config(format!(
                "{} records a position binlog-restore cannot use: {other:?}",
                opts.backup_name
            )));
        }
    };
    let target_desc = opts.target.to_string();
    let segs = list_segments(opts.repo.as_ref(), &opts.stream).await?;
    // The run of segments from the backup's position on, each read and
    // checked (one in memory at a time) and fed to the selection.
    let mut chain: Vec<(SegmentName, u64)> = Vec::new();
    let mut sel = Selector::new(&from, &opts.target, &m.database);
    let mut cur = from.clone();
    let mut next_file: Option<String> = None;
    let mut gap_before = None;
    for (name, _) in segs {
        let contains =
            name.file == cur.file && name.start <= cur.position && cur.position <= name.end;
        let next = next_file.as_deref() == Some(name.file.as_str()) && name.start == 4;
        if !contains && !next {
            if name.end_position() <= cur {
                continue;
            }
            if chain.is_empty() && name.start_position() > cur {
                return Err(PitrError::NotCovered {
                    target: target_desc,
                    covered: format!(
                        "the backup's binlog position {from} is not in stream `{}` (its first segment after it starts at {})",
                        opts.stream,
                        name.start_position()
                    ),
                });
            }
            gap_before = Some(name.start_position());
            break;
        }
        let skip_below = if name.file == cur.file {
            cur.position
        } else {
            0
        };
        let d = read_segment(opts, name).await?;
        cur = d.name.end_position();
        next_file = d.rotate_to.clone();
        sel.feed(chain.len(), &d, skip_below);
        chain.push((d.name, skip_below));
    }
    if chain.is_empty() {
        return Err(PitrError::NotCovered {
            target: target_desc,
            covered: format!(
                "stream `{}` holds no segment at or after the backup's binlog position {from}",
                opts.stream
            ),
        });
    }
    let plan = BinlogPlan {
        source_database: m.database.clone(),
        from: from.clone(),
        backup_time: m.started_at,
        covered_to: cur,
        last_event_time: sel.last_ts.map(ts),
        gap_before,
        stop: sel.stop,
        stop_time: sel.stop_time,
        transactions: sel.transactions,
        segments: chain.len(),
        chain,
        keep_to: sel.keep_to,
        first_qualified: sel.first_qualified,
    };
    check_target(&plan, &opts.target)?;
    Ok(plan)
}

/// Reads and checks one segment.
async fn read_segment(opts: &BinlogRestoreOptions, name: SegmentName) -> Result<Decoded> {
    let mut r =
        ObjectReader::open(opts.repo.as_ref(), &name.object_name(), opts.key.as_ref()).await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = r.next_chunk().await? {
        bytes.extend_from_slice(&chunk);
    }
    segment::decode(name, bytes)
}

/// Walks the chain's events from the backup's position, transaction by
/// transaction, keeping the prefix the target allows.
struct Selector<'a> {
    target: &'a BinlogTarget,
    source_db: &'a str,
    grouper: Grouper,
    stopped: bool,
    keep_to: Option<(usize, usize)>,
    transactions: u64,
    stop: BinlogPosition,
    stop_time: Option<DateTime<Utc>>,
    last_ts: Option<u32>,
    first_qualified: Option<BinlogPosition>,
}

impl<'a> Selector<'a> {
    fn new(from: &'a BinlogPosition, target: &'a BinlogTarget, source_db: &'a str) -> Self {
        Selector {
            target,
            source_db,
            grouper: Grouper::Outside,
            stopped: false,
            keep_to: None,
            transactions: 0,
            stop: from.clone(),
            stop_time: None,
            last_ts: None,
            first_qualified: None,
        }
    }

    /// Takes the next segment of the chain (`si`: its index).
    fn feed(&mut self, si: usize, seg: &Decoded, skip_below: u64) {
        for (ei, e) in seg.events.iter().enumerate() {
            if e.header.start() < skip_below {
                continue;
            }
            self.last_ts = Some(e.header.timestamp);
            if self.stopped {
                continue;
            }
            if self.first_qualified.is_none() && names_database(seg, e, self.source_db) {
                self.first_qualified = Some(BinlogPosition::new(&seg.name.file, e.header.start()));
            }
            if self.grouper.feed(&e.header, seg.bytes_of(e), seg.checksum) {
                let end = BinlogPosition::new(&seg.name.file, u64::from(e.header.log_pos));
                let keep = match self.target {
                    BinlogTarget::Latest => true,
                    BinlogTarget::Time(t) => i64::from(e.header.timestamp) <= t.timestamp(),
                    BinlogTarget::Position(p) => end <= *p,
                };
                if keep {
                    if is_transaction_end(seg, e) {
                        self.transactions += 1;
                    }
                    self.stop = end;
                    self.stop_time = Some(ts(e.header.timestamp));
                    self.keep_to = Some((si, ei));
                } else {
                    self.stopped = true;
                }
            }
        }
    }
}

/// Whether `e` is a statement run in database `db` whose text names `db`
/// itself (`db.t` or `` `db`.t ``): only statements the decoder passes
/// (`--database`) matter.
fn names_database(seg: &Decoded, e: &segment::Ev, db: &str) -> bool {
    if e.header.type_code != QUERY {
        return false;
    }
    let Some((default_db, text)) = event::query(seg.bytes_of(e), seg.checksum) else {
        return false;
    };
    if !default_db.eq_ignore_ascii_case(db.as_bytes()) {
        return false;
    }
    let text = String::from_utf8_lossy(text).to_ascii_lowercase();
    let db = db.to_ascii_lowercase();
    [format!("`{db}`."), format!("{db}.")].iter().any(|n| {
        text.match_indices(n.as_str()).any(|(i, _)| {
            i == 0 || {
                let b = text.as_bytes()[i - 1];
                !b.is_ascii_alphanumeric() && b != b'_' && b != b'$'
            }
        })
    })
}

/// Whether an event closes a transaction or a standalone statement (not a
/// binlog checkpoint or rotate the grouper also sees outside one).
fn is_transaction_end(seg: &Decoded, e: &segment::Ev) -> bool {
    matches!(e.header.type_code, event::XID | QUERY)
        && !(e.header.type_code == QUERY
            && event::query(seg.bytes_of(e), seg.checksum)
                .is_some_and(|(_, t)| t.eq_ignore_ascii_case(b"BEGIN")))
}

fn ts(secs: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(i64::from(secs), 0)
        .single()
        .unwrap_or_default()
}

/// Refuses a target outside what the chain covers.
fn check_target(plan: &BinlogPlan, target: &BinlogTarget) -> Result<()> {
    let refuse = || PitrError::NotCovered {
        target: target.to_string(),
        covered: plan.covered(),
    };
    match target {
        BinlogTarget::Latest => {
            if plan.gap_before.is_some() {
                return Err(refuse());
            }
        }
        BinlogTarget::Time(t) => {
            if *t < plan.backup_time {
                return Err(refuse());
            }
            // Past the last streamed event nothing says what happened:
            // the stream may have stopped, or a segment may be missing.
            match plan.last_event_time {
                Some(last) if t.timestamp() <= last.timestamp() => {}
                _ => return Err(refuse()),
            }
        }
        BinlogTarget::Position(p) => {
            if *p < plan.from || *p > plan.covered_to {
                return Err(refuse());
            }
        }
    }
    Ok(())
}

/// Restores the backup into `target_url`'s database, then replays the
/// binlog up to the target. Refuses (before touching the target) a target
/// the stored binlog does not cover, with [`PitrError::NotCovered`] saying
/// what is covered.
///
/// The binlog's statements and row events name the source database; when
/// the target database has another name, the decoder's `--rewrite-db`
/// moves them, and a statement naming the source database explicitly
/// (`db.table`) is refused, since no rewrite reaches inside its text.
pub async fn restore_binlog(
    opts: &BinlogRestoreOptions,
    target_url: &DatabaseUrl,
    connector: &dyn Connector,
) -> Result<BinlogRestoreReport> {
    segment::check_stream_name(&opts.stream)?;
    let target_db = target_url
        .database()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| PitrError::Config("the target URL names no database".into()))?
        .to_owned();
    let tool = find_tool(
        opts.binlog_tool.as_deref(),
        &["mariadb-binlog", "mysqlbinlog"],
    )?;
    let client = find_tool(opts.client.as_deref(), &["mariadb", "mysql"])?;
    let verified = covet_backup::verify(
        opts.backup_sink.as_ref(),
        &opts.backup_name,
        opts.key.as_ref(),
    )
    .await?;
    let plan = plan_from_manifest(opts, &verified.manifest).await?;
    if target_db != plan.source_database
        && let Some(at) = plan.first_qualified.as_ref().filter(|at| **at < plan.stop)
    {
        return Err(PitrError::Config(format!(
            "a statement at {at} names the source database `{}` explicitly, which a restore under another name cannot rewrite; restore into a database named `{}`",
            plan.source_database, plan.source_database
        )));
    }
    let mut ropts = opts.restore.clone();
    if ropts.key.is_none() {
        ropts.key = opts.key.clone();
    }
    let backup = covet_backup::restore(
        opts.backup_sink.as_ref(),
        &opts.backup_name,
        target_url,
        connector,
        &ropts,
    )
    .await?;
    if plan.keep_to.is_some() {
        replay(
            opts,
            &plan,
            &tool,
            &client,
            target_url,
            &target_db,
            ropts.cancel.as_ref(),
        )
        .await?;
    }
    Ok(BinlogRestoreReport { plan, backup })
}

/// `explicit`, else the first of `names` found on `PATH`.
fn find_tool(explicit: Option<&Path>, names: &[&str]) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(PitrError::Tool {
        tool: names.join(" or "),
        message: "not found on PATH (install the MariaDB or MySQL client)".into(),
    })
}

/// Pipes the chain, one source file at a time, through the decoder into one
/// client session. Segments are read again (and checked again) as they are
/// fed, so memory holds one segment, not the whole replay.
async fn replay(
    opts: &BinlogRestoreOptions,
    plan: &BinlogPlan,
    tool: &Path,
    client: &Path,
    url: &DatabaseUrl,
    target_db: &str,
    cancel: Option<&covet_backup::CancellationToken>,
) -> Result<()> {
    let Some((last_si, last_ei)) = plan.keep_to else {
        return Ok(());
    };
    let name_of = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let (tool_name, client_name) = (name_of(tool), name_of(client));
    let tool_err = |message: String| PitrError::Tool {
        tool: tool_name.clone(),
        message,
    };
    let client_err = |message: String| PitrError::Tool {
        tool: client_name.clone(),
        message,
    };
    let mut cmd = tokio::process::Command::new(client);
    cmd.arg("--no-defaults")
        .arg("--protocol=TCP")
        .arg(format!("--host={}", url.host()))
        .arg(format!("--port={}", url.port()))
        .arg("--binary-mode")
        .arg(format!("--database={target_db}"));
    if let Some(u) = url.user() {
        cmd.arg(format!("--user={u}"));
    }
    // The URL's TLS choice, in the client's terms (its default differs
    // between versions).
    let mode = url.param("sslmode").map(str::to_ascii_lowercase);
    match mode.as_deref() {
        Some("disabled" | "disable") => {
            cmd.arg("--skip-ssl");
        }
        Some("required" | "require") => {
            cmd.arg("--ssl");
        }
        Some(
            m @ ("verify_ca" | "verify-ca" | "verify_identity" | "verify-identity" | "verify-full"
            | "verify_full"),
        ) => {
            cmd.arg("--ssl");
            if let Some(ca) = url.param("sslrootcert") {
                cmd.arg(format!("--ssl-ca={ca}"));
            }
            if !m.contains("ca") {
                cmd.arg("--ssl-verify-server-cert");
            }
        }
        _ => {}
    }
    // The password goes through the environment, never argv.
    match url.password() {
        Some(p) => cmd.env("MYSQL_PWD", p.expose()),
        None => cmd.env_remove("MYSQL_PWD"),
    };
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut client_proc = cmd
        .spawn()
        .map_err(|e| client_err(format!("cannot start: {e}")))?;
    let mut client_in = client_proc.stdin.take().expect("piped");
    let client_errors = drain(client_proc.stderr.take().expect("piped"));
    let lenient = knows_gtid_strict_mode(tool).await;
    // The chain's segments, grouped by source file.
    let mut files: Vec<(&str, Vec<usize>)> = Vec::new();
    for (si, (name, _)) in plan.chain.iter().enumerate().take(last_si + 1) {
        match files.last_mut() {
            Some((f, v)) if *f == name.file => v.push(si),
            _ => files.push((&name.file, vec![si])),
        }
    }
    for (file, segs) in files {
        let mut dec = tokio::process::Command::new(tool);
        dec.arg("--no-defaults")
            .arg(format!("--database={}", plan.source_database));
        if lenient {
            // A binlog that already holds replayed transactions (a restore
            // into the source server itself) has GTIDs out of order, which
            // mariadb-binlog refuses by default; the server decides.
            dec.arg("--skip-gtid-strict-mode");
        }
        if target_db != plan.source_database {
            dec.arg(format!(
                "--rewrite-db={}->{target_db}",
                plan.source_database
            ));
        }
        dec.arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut p = dec
            .spawn()
            .map_err(|e| tool_err(format!("cannot start: {e}")))?;
        let mut stdin = p.stdin.take().expect("piped");
        let mut stdout = p.stdout.take().expect("piped");
        let errs = drain(p.stderr.take().expect("piped"));
        let feed = async {
            let mut head = true;
            for si in segs {
                let (name, skip_below) = plan.chain[si].clone();
                let d = read_segment(opts, name).await?;
                let mut out = Vec::with_capacity(d.bytes.len());
                if head {
                    out.extend_from_slice(MAGIC);
                    out.extend_from_slice(d.fde_bytes());
                    head = false;
                }
                for (ei, e) in d.events.iter().enumerate() {
                    if si == last_si && ei > last_ei {
                        break;
                    }
                    // The format description heads the stream already.
                    if e.header.start() < skip_below || e.header.type_code == FORMAT_DESCRIPTION {
                        continue;
                    }
                    out.extend_from_slice(d.bytes_of(e));
                }
                if stdin.write_all(&out).await.is_err() {
                    // The decoder stopped reading: its stderr says why.
                    break;
                }
            }
            drop(stdin);
            Ok::<(), PitrError>(())
        };
        let copy = tokio::io::copy(&mut stdout, &mut client_in);
        let work = async { tokio::join!(feed, copy) };
        let (fed, copied) = match cancel {
            Some(c) => tokio::select! {
                r = work => r,
                () = c.cancelled() => {
                    // Dropping the children kills them (kill_on_drop).
                    return Err(PitrError::Backup(covet_backup::BackupError::Cancelled(format!(
                        "the replay stopped in {file}: the target holds the backup and part of the binlog"
                    ))));
                }
            },
            None => work.await,
        };
        fed?;
        let status = p
            .wait()
            .await
            .map_err(|e| tool_err(format!("waiting: {e}")))?;
        let errs = errs.await.unwrap_or_default();
        if let Err(e) = copied {
            // The client stopped reading: its own error says why.
            drop(client_in);
            let _ = client_proc.wait().await;
            let ce = client_errors.await.unwrap_or_default();
            return Err(client_err(format!(
                "stopped while replaying {file} ({e}): {}",
                last_line(&ce)
            )));
        }
        if !status.success() {
            return Err(tool_err(format!(
                "failed on {file} ({status}): {}",
                last_line(&errs)
            )));
        }
    }
    drop(client_in);
    let status = client_proc
        .wait()
        .await
        .map_err(|e| client_err(format!("waiting: {e}")))?;
    let errs = client_errors.await.unwrap_or_default();
    if !status.success() {
        return Err(client_err(format!(
            "replay failed ({status}); the target holds the backup and part of the binlog: {}",
            last_line(&errs)
        )));
    }
    Ok(())
}

/// Reads a child's stderr to the end in a task.
fn drain<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    mut r: R,
) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s).await;
        s
    })
}

/// Whether the decoder has MariaDB's `--gtid-strict-mode` switch.
async fn knows_gtid_strict_mode(tool: &Path) -> bool {
    tokio::process::Command::new(tool)
        .args(["--no-defaults", "--help"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--gtid-strict-mode"))
}

fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("(no message)")
        .trim()
        .chars()
        .take(300)
        .collect()
}
