//! Base backups through PostgreSQL's low-level backup API.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use covet_backup::object::{ObjectReader, ObjectWriter, list_objects, put_object};
use covet_core::{Adapter, Statement, Transaction};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::Repo;
use super::archive::{self, Entry};
use super::wal::{Lsn, check_seg_size, segment_name};
use crate::error::{PitrError, Result};

/// Object kind of a base backup's data directory archive.
pub(crate) const KIND_BASE: &str = "pg-base";
/// Object kind of a base backup's manifest.
pub(crate) const KIND_MANIFEST: &str = "pg-base-manifest";
/// The manifest format this crate writes.
const MANIFEST_FORMAT: u32 = 1;
/// How long PostgreSQL may take to archive the last segment at
/// `pg_backup_stop`, and to checkpoint at `pg_backup_start`.
const BACKUP_API_TIMEOUT: Duration = Duration::from_secs(3600);

/// How to take a base backup.
#[derive(Debug, Clone)]
pub struct BaseBackupOptions {
    /// The data directory of the server the connection reaches, read
    /// directly (run on the database host, as a user that can read it).
    pub pgdata: PathBuf,
    /// The label passed to `pg_backup_start` (default `covet <name>`).
    pub label: Option<String>,
}

/// One file of a base backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Path relative to the data directory.
    pub path: String,
    /// Bytes stored.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// SHA-256 of the bytes stored, hexadecimal.
    pub sha256: String,
}

/// What a base backup holds and where its WAL starts and stops; stored as
/// the `base-<time>.manifest.json` object, written after the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseManifest {
    /// Manifest format version.
    pub format: u32,
    /// The base backup's name (`base-20261205T080102Z`).
    pub name: String,
    /// The archive object holding the data directory.
    pub archive: String,
    /// The label given to `pg_backup_start`.
    pub label: String,
    /// `server_version_num`.
    pub pg_version_num: u32,
    /// `server_version`.
    pub pg_version: String,
    /// The cluster's system identifier (as in `pg_control_system()`).
    pub system_identifier: String,
    /// The timeline the backup started on.
    pub timeline: u32,
    /// The WAL segment size in bytes.
    pub wal_segment_size: u64,
    /// The backup's start LSN (its checkpoint's redo point).
    pub start_lsn: String,
    /// The LSN `pg_backup_stop` returned: recovery must replay to here to
    /// be consistent.
    pub stop_lsn: String,
    /// The first WAL segment recovery needs.
    pub start_wal: String,
    /// The last WAL segment needed for consistency.
    pub stop_wal: String,
    /// When the backup started, by this tool's clock (on the database
    /// host, as base backups read the data directory there).
    pub start_time: DateTime<Utc>,
    /// When `pg_backup_stop` returned, by the same clock: a recovery
    /// target time must come after it.
    pub stop_time: DateTime<Utc>,
    /// Every file stored, in archive order.
    pub files: Vec<ManifestFile>,
    /// Sum of the file sizes.
    pub total_bytes: u64,
    /// The `backup_label` content `pg_backup_stop` returned (also stored in
    /// the archive).
    pub backup_label: String,
    /// The `tablespace_map` content (empty without tablespaces).
    pub tablespace_map: String,
}

impl BaseManifest {
    /// The start LSN.
    pub fn start(&self) -> Result<Lsn> {
        Lsn::parse(&self.start_lsn)
    }

    /// The stop LSN.
    pub fn stop(&self) -> Result<Lsn> {
        Lsn::parse(&self.stop_lsn)
    }
}

/// The object name of a base backup's manifest.
pub(crate) fn manifest_object(name: &str) -> String {
    format!("{name}.manifest.json")
}

async fn text(ad: &dyn Adapter, sql: &str) -> Result<String> {
    let rows = ad.query(&Statement::new(sql)).await?;
    let row = rows
        .iter()
        .next()
        .ok_or_else(|| PitrError::Config(format!("{sql}: no row")))?;
    Ok(row.get::<String>(0)?)
}

async fn tx_row(tx: &mut dyn Transaction, stmt: Statement, cols: usize) -> Result<Vec<String>> {
    let sql = stmt.sql().to_owned();
    let rows = tx.query(&stmt).await?;
    let row = rows
        .iter()
        .next()
        .ok_or_else(|| PitrError::Config(format!("{sql}: no row")))?;
    (0..cols)
        .map(|i| Ok(row.get::<Option<String>>(i)?.unwrap_or_default()))
        .collect()
}

/// What the walk decides for a path.
#[derive(Debug, PartialEq, Eq)]
enum Skip {
    No,
    Whole,
    Contents,
}

/// PostgreSQL's documented exclusions for a base backup ("Making a Base
/// Backup Using the Low Level API"), as pg_basebackup applies them:
/// runtime-only directories keep their (empty) directory, lock and
/// option files, temporary files and the relation cache init files go.
fn skip(rel: &str, is_dir: bool) -> Skip {
    const CONTENTS: &[&str] = &[
        "pg_wal",
        "pg_replslot",
        "pg_dynshmem",
        "pg_notify",
        "pg_serial",
        "pg_snapshots",
        "pg_stat_tmp",
        "pg_subtrans",
    ];
    const FILES: &[&str] = &[
        "postmaster.pid",
        "postmaster.opts",
        "backup_label",
        "backup_label.old",
        "tablespace_map",
        "backup_manifest",
        "recovery.signal",
        "standby.signal",
        "postgresql.auto.conf.tmp",
        "current_logfiles.tmp",
    ];
    let base = rel.rsplit('/').next().unwrap_or(rel);
    if base.starts_with("pgsql_tmp") || base == "pg_internal.init" {
        return Skip::Whole;
    }
    if !rel.contains('/') {
        if is_dir && CONTENTS.contains(&rel) {
            return Skip::Contents;
        }
        if FILES.contains(&rel) {
            return Skip::Whole;
        }
    }
    Skip::No
}

#[derive(Debug)]
enum Found {
    Dir(String, u32),
    File(String),
    Link(String, String),
}

fn walk(root: &Path) -> Result<Vec<Found>> {
    fn go(root: &Path, rel: &str, out: &mut Vec<Found>) -> Result<()> {
        let dir = if rel.is_empty() {
            root.to_owned()
        } else {
            root.join(rel)
        };
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            // Dropped while we walked (a temporary directory): nothing to keep.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !rel.is_empty() => return Ok(()),
            Err(e) => return Err(PitrError::io(format!("reading {}", dir.display()), e)),
        };
        let mut names = Vec::new();
        for e in rd {
            let e = e.map_err(|e| PitrError::io(format!("reading {}", dir.display()), e))?;
            let name = e.file_name().into_string().map_err(|n| {
                PitrError::Config(format!(
                    "{}: a file name that is not UTF-8 ({n:?})",
                    dir.display()
                ))
            })?;
            names.push(name);
        }
        names.sort();
        for name in names {
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let p = root.join(&r);
            let md = match std::fs::symlink_metadata(&p) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(PitrError::io(format!("reading {}", p.display()), e)),
            };
            let ft = md.file_type();
            // pg_wal is often a symlink to another disk: the backup holds
            // an empty directory in its place, as pg_basebackup does.
            let is_dir = ft.is_dir() || (r == "pg_wal" && ft.is_symlink());
            match skip(&r, is_dir) {
                Skip::Whole => continue,
                Skip::Contents => {
                    out.push(Found::Dir(r, 0o700));
                    continue;
                }
                Skip::No => {}
            }
            if ft.is_symlink() {
                if r.starts_with("pg_tblspc/") {
                    return Err(PitrError::Config(format!(
                        "tablespace link {r}: base backups of clusters with tablespaces are not supported"
                    )));
                }
                let t = std::fs::read_link(&p)
                    .map_err(|e| PitrError::io(format!("reading link {}", p.display()), e))?;
                out.push(Found::Link(r, t.to_string_lossy().into_owned()));
            } else if ft.is_dir() {
                out.push(Found::Dir(r.clone(), md.permissions().mode() & 0o7777));
                go(root, &r, out)?;
            } else if ft.is_file() {
                out.push(Found::File(r));
            }
            // Sockets, fifos and devices have no place in a data directory.
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(root, "", &mut out)?;
    // pg_control goes last, the order PostgreSQL's own base backup
    // protocol sends it in: the control file copied is then at least as
    // new as every other file.
    if let Some(i) = out
        .iter()
        .position(|f| matches!(f, Found::File(p) if p == "global/pg_control"))
    {
        let c = out.remove(i);
        out.push(c);
    }
    Ok(out)
}

/// Reads the system identifier from `global/pg_control` (its first
/// field, in the host's byte order), to make sure `pgdata` is the data
/// directory of the server the connection reaches.
fn control_system_identifier(pgdata: &Path) -> Result<u64> {
    let p = pgdata.join("global/pg_control");
    let b = std::fs::read(&p).map_err(|e| PitrError::io(format!("reading {}", p.display()), e))?;
    let first: [u8; 8] = b
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| PitrError::Config(format!("{} is too short", p.display())))?;
    Ok(u64::from_ne_bytes(first))
}

/// Writes entries to the archive object, hashing each file.
struct Packer {
    w: ObjectWriter,
    entries: u64,
    files: Vec<ManifestFile>,
    total: u64,
}

impl Packer {
    async fn entry(&mut self, e: &Entry) -> Result<()> {
        self.entries += 1;
        self.w.write(&archive::encode(e)).await?;
        Ok(())
    }

    /// Stores `size` bytes of the open file: a file that shrank while it
    /// was read is padded with zeros and one that grew is cut, as
    /// pg_basebackup does; replaying the WAL from the backup's start
    /// repairs both.
    async fn file(
        &mut self,
        rel: &str,
        mut f: tokio::fs::File,
        size: u64,
        mode: u32,
    ) -> Result<()> {
        self.entry(&Entry::File {
            path: rel.to_owned(),
            mode,
            size,
        })
        .await?;
        let mut h = Sha256::new();
        let mut left = size;
        let mut buf = vec![0u8; 1 << 20];
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = f
                .read(&mut buf[..want])
                .await
                .map_err(|e| PitrError::io(format!("reading {rel}"), e))?;
            let n = if n == 0 {
                buf[..want].fill(0);
                want
            } else {
                n
            };
            h.update(&buf[..n]);
            self.w.write(&buf[..n]).await?;
            left -= n as u64;
        }
        self.files.push(ManifestFile {
            path: rel.to_owned(),
            size,
            mode,
            sha256: hex(&h.finalize()),
        });
        self.total += size;
        Ok(())
    }

    async fn bytes(&mut self, rel: &str, data: &[u8], mode: u32) -> Result<()> {
        self.entry(&Entry::File {
            path: rel.to_owned(),
            mode,
            size: data.len() as u64,
        })
        .await?;
        self.w.write(data).await?;
        self.files.push(ManifestFile {
            path: rel.to_owned(),
            size: data.len() as u64,
            mode,
            sha256: hex(&Sha256::digest(data)),
        });
        self.total += data.len() as u64;
        Ok(())
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// Takes a base backup of the server behind `db`, whose data directory is
/// `opts.pgdata`: `pg_backup_start` on one session held open for the whole
/// copy, the directory streamed into one sealed archive object, then
/// `pg_backup_stop` (which waits until the last WAL segment is archived,
/// so `archive_command` must be `covet pitr wal-push` into the same
/// repository), its `backup_label` appended to the archive, and the
/// manifest written last. Refuses clusters with tablespaces, servers
/// before PostgreSQL 15, and servers with `archive_mode` off.
pub async fn base_backup(
    repo: &Repo,
    db: &dyn Adapter,
    opts: &BaseBackupOptions,
) -> Result<BaseManifest> {
    let version_num: u32 = text(db, "SELECT current_setting('server_version_num')")
        .await?
        .parse()
        .map_err(|_| PitrError::Config("server_version_num is not a number".into()))?;
    if version_num < 150_000 {
        return Err(PitrError::Config(format!(
            "PostgreSQL {version_num} is not supported: base backups need PostgreSQL 15 or later (pg_backup_start)"
        )));
    }
    let pg_version = text(db, "SELECT current_setting('server_version')").await?;
    let archive_mode = text(db, "SELECT current_setting('archive_mode')").await?;
    if archive_mode == "off" {
        return Err(PitrError::Config(
            "archive_mode is off: set archive_mode = on and archive_command = 'covet pitr wal-push %p ...' first".into(),
        ));
    }
    let spaces = text(
        db,
        "SELECT coalesce(string_agg(spcname, ', ' ORDER BY spcname), '') FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')",
    )
    .await?;
    if !spaces.is_empty() {
        return Err(PitrError::Config(format!(
            "the cluster has tablespaces ({spaces}): base backups of clusters with tablespaces are not supported"
        )));
    }
    let seg_size = check_seg_size(
        text(
            db,
            "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'",
        )
        .await?
        .parse()
        .map_err(|_| PitrError::Config("wal_segment_size is not a number".into()))?,
    )?;
    let sysid = text(
        db,
        "SELECT system_identifier::text FROM pg_control_system()",
    )
    .await?;
    let local = control_system_identifier(&opts.pgdata)?;
    if local.to_string() != sysid {
        return Err(PitrError::Config(format!(
            "{} belongs to cluster {local}, the server is cluster {sysid}: give the server's own data directory",
            opts.pgdata.display()
        )));
    }

    let start_time = Utc::now();
    let name = format!("base-{}", start_time.format("%Y%m%dT%H%M%SZ"));
    let label = opts
        .label
        .clone()
        .unwrap_or_else(|| format!("covet {name}"));
    let archive_name = format!("{name}.pgdata");

    let mut tx = db.begin().await?;
    // The backup belongs to this session: nothing may end it early.
    tx.execute(&Statement::new(
        "SET LOCAL idle_in_transaction_session_timeout = 0",
    ))
    .await?;
    tx.execute(&Statement::new("SET LOCAL statement_timeout = 0"))
        .await?;
    let start = tx_row(
        &mut *tx,
        Statement::new("SELECT pg_backup_start($1, fast => true)::text")
            .bind(label.clone())
            .timeout(BACKUP_API_TIMEOUT),
        1,
    )
    .await?;
    let start_lsn = Lsn::parse(&start[0])?;
    // The checkpoint pg_backup_start just made is on the current timeline;
    // backup_label's START TIMELINE, read after the stop, has the last word.
    let checkpoint_timeline: u32 = tx_row(
        &mut *tx,
        Statement::new("SELECT timeline_id::text FROM pg_control_checkpoint()"),
        1,
    )
    .await?[0]
        .parse()
        .unwrap_or(1);

    let copied = async {
        let w = ObjectWriter::create(repo.sink(), &archive_name, &repo.options(KIND_BASE)).await?;
        let mut p = Packer {
            w,
            entries: 0,
            files: Vec::new(),
            total: 0,
        };
        let res: Result<()> = async {
            p.w.write(archive::MAGIC).await?;
            let root = opts.pgdata.clone();
            let found = tokio::task::spawn_blocking(move || walk(&root))
                .await
                .map_err(|e| PitrError::Config(format!("walking the data directory: {e}")))??;
            for f in found {
                match f {
                    Found::Dir(path, mode) => p.entry(&Entry::Dir { path, mode }).await?,
                    Found::Link(path, target) => p.entry(&Entry::Symlink { path, target }).await?,
                    Found::File(rel) => {
                        let full = opts.pgdata.join(&rel);
                        let file = match tokio::fs::File::open(&full).await {
                            Ok(f) => f,
                            // Dropped since the walk (a dropped table): the
                            // WAL replay does not need it.
                            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                            Err(e) => {
                                return Err(PitrError::io(
                                    format!("opening {}", full.display()),
                                    e,
                                ));
                            }
                        };
                        let md = file
                            .metadata()
                            .await
                            .map_err(|e| PitrError::io(format!("reading {}", full.display()), e))?;
                        p.file(&rel, file, md.size(), md.permissions().mode() & 0o7777)
                            .await?;
                    }
                }
            }
            Ok(())
        }
        .await;
        match res {
            Ok(()) => Ok(p),
            Err(e) => {
                p.w.abort().await;
                Err(e)
            }
        }
    }
    .await;

    let mut p = match copied {
        Ok(p) => p,
        Err(e) => {
            // End the backup on the server too; the session ends with the
            // transaction's connection anyway, this only makes it prompt.
            let _ = tx
                .query(&Statement::new(
                    "SELECT pg_backup_stop(wait_for_archive => false)",
                ))
                .await;
            let _ = tx.rollback().await;
            return Err(e);
        }
    };

    let stop = tx_row(
        &mut *tx,
        Statement::new(
            "SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(wait_for_archive => true)",
        )
        .timeout(BACKUP_API_TIMEOUT),
        3,
    )
    .await;
    let stop = match stop {
        Ok(s) => s,
        Err(e) => {
            p.w.abort().await;
            let _ = tx.rollback().await;
            return Err(e);
        }
    };
    tx.commit().await?;
    let stop_time = Utc::now();
    let stop_lsn = Lsn::parse(&stop[0])?;
    let (backup_label, tablespace_map) = (stop[1].clone(), stop[2].clone());
    let timeline = label_timeline(&backup_label).unwrap_or(checkpoint_timeline);

    let finished = async {
        p.bytes("backup_label", backup_label.as_bytes(), 0o600)
            .await?;
        if !tablespace_map.is_empty() {
            p.bytes("tablespace_map", tablespace_map.as_bytes(), 0o600)
                .await?;
        }
        let end = archive::encode_end(p.entries);
        p.w.write(&end).await?;
        Ok::<_, PitrError>(())
    }
    .await;
    if let Err(e) = finished {
        p.w.abort().await;
        return Err(e);
    }
    p.w.finish().await?;

    // The segment holding the last byte before the stop LSN is the last
    // one consistency needs.
    let stop_seg = stop_lsn.0.saturating_sub(1) / seg_size;
    let manifest = BaseManifest {
        format: MANIFEST_FORMAT,
        name: name.clone(),
        archive: archive_name,
        label,
        pg_version_num: version_num,
        pg_version,
        system_identifier: sysid,
        timeline,
        wal_segment_size: seg_size,
        start_lsn: start_lsn.to_string(),
        stop_lsn: stop_lsn.to_string(),
        start_wal: segment_name(timeline, start_lsn.segment(seg_size), seg_size),
        stop_wal: segment_name(timeline, stop_seg, seg_size),
        start_time,
        stop_time,
        files: p.files,
        total_bytes: p.total,
        backup_label,
        tablespace_map,
    };
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| PitrError::Config(format!("encoding the manifest: {e}")))?;
    put_object(
        repo.sink(),
        &manifest_object(&name),
        &json[..],
        &repo.options(KIND_MANIFEST),
    )
    .await?;
    Ok(manifest)
}

/// The `START TIMELINE:` line of a backup_label.
fn label_timeline(label: &str) -> Option<u32> {
    label
        .lines()
        .find_map(|l| l.strip_prefix("START TIMELINE:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Reads a whole (small) object into memory, checked.
pub(crate) async fn read_small(repo: &Repo, name: &str) -> Result<Vec<u8>> {
    let mut r = ObjectReader::open(repo.sink(), name, repo.key()).await?;
    let mut out = Vec::new();
    while let Some(c) = r.next_chunk().await? {
        out.extend_from_slice(&c);
    }
    Ok(out)
}

/// The complete base backups in the repository (those with a manifest),
/// oldest first.
pub async fn list_base_backups(repo: &Repo) -> Result<Vec<BaseManifest>> {
    let mut out = Vec::new();
    for o in list_objects(repo.sink(), Some(KIND_MANIFEST)).await? {
        let bytes = read_small(repo, &o.name).await?;
        let m: BaseManifest = serde_json::from_slice(&bytes).map_err(|e| {
            PitrError::Config(format!("base backup manifest {} is invalid: {e}", o.name))
        })?;
        out.push(m);
    }
    out.sort_by(|a, b| a.start_time.cmp(&b.start_time).then(a.name.cmp(&b.name)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{Skip, skip};

    #[test]
    fn label_timeline_is_read() {
        let label = "START WAL LOCATION: 0/2000028 (file 000000020000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-12-05 08:00:00 UTC\nLABEL: x\nSTART TIMELINE: 2\n";
        assert_eq!(super::label_timeline(label), Some(2));
        assert_eq!(super::label_timeline(""), None);
    }

    #[test]
    fn skips_what_pg_basebackup_skips() {
        assert_eq!(skip("pg_wal", true), Skip::Contents);
        assert_eq!(skip("pg_stat_tmp", true), Skip::Contents);
        assert_eq!(skip("postmaster.pid", false), Skip::Whole);
        assert_eq!(skip("base/5/pgsql_tmp123.0", false), Skip::Whole);
        assert_eq!(skip("base/5/pg_internal.init", false), Skip::Whole);
        assert_eq!(skip("base/5/16384", false), Skip::No);
        assert_eq!(skip("global/pg_control", false), Skip::No);
        // Only at the top: a relation directory named like one is kept.
        assert_eq!(skip("base/pg_wal", true), Skip::No);
    }
}
