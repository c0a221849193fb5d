//! Where backups are stored: the [`BackupSink`] trait, a local directory and
//! an in-memory sink.
//!
//! A backup becomes visible to [`BackupSink::list`] only when
//! [`SinkWriter::commit`] has stored both the backup and its index entry;
//! a backup that failed part-way leaves at most a hidden partial file
//! (local) or an aborted multipart upload (S3), never a listed backup.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWriteExt};

use crate::error::{BackupError, Result};

/// A readable backup stream.
pub type BackupRead = Pin<Box<dyn AsyncRead + Send>>;

/// The index entry stored beside each complete backup; what `list` shows.
///
/// It is a convenience for listing without a key. It is not trusted: verify
/// and restore check the backup itself, and compare its size and SHA-256
/// with this entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupEntry {
    /// The backup's name in its sink (`shop-20260101T020000Z.covet`).
    pub name: String,
    /// When the export began.
    pub created_at: DateTime<Utc>,
    /// When the backup was committed.
    pub finished_at: DateTime<Utc>,
    /// The source engine.
    pub engine: String,
    /// The source database.
    pub database: String,
    /// The stored size in bytes.
    pub size: u64,
    /// The SHA-256 of the stored bytes.
    pub sha256: String,
    /// Whether the backup is encrypted.
    pub encrypted: bool,
    /// The master key's id, when encrypted.
    pub key_id: Option<String>,
    /// The compression algorithm.
    pub compression: String,
    /// Tables.
    pub tables: u64,
    /// Rows.
    pub rows: u64,
    /// The container format version.
    pub format_version: u16,
    /// The covet-backup version that wrote it.
    pub tool_version: String,
}

/// Storage for backups.
#[async_trait]
pub trait BackupSink: Send + Sync {
    /// A short description for messages (`dir /var/backups`, `s3://b/p`).
    fn describe(&self) -> String;

    /// Starts writing a new backup called `name`. Nothing is visible until
    /// the writer is committed.
    async fn create(&self, name: &str) -> Result<Box<dyn SinkWriter>>;

    /// Opens a stored backup for reading.
    async fn open(&self, name: &str) -> Result<BackupRead>;

    /// The complete backups, newest first.
    async fn list(&self) -> Result<Vec<BackupEntry>>;

    /// Deletes a backup and its index entry (the entry first, so a
    /// half-deleted backup never lists).
    async fn delete(&self, name: &str) -> Result<()>;

    /// Removes what crashed or killed writers left behind (a local sink's
    /// abandoned `.partial` files) and returns their names. Never touches a
    /// file a live writer holds. The default does nothing.
    async fn clean_stale(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// An open, uncommitted backup in a sink.
#[async_trait]
pub trait SinkWriter: Send {
    /// Appends bytes.
    async fn write(&mut self, data: Bytes) -> Result<()>;

    /// Makes the backup durable and visible, with its index entry.
    async fn commit(self: Box<Self>, entry: &BackupEntry) -> Result<()>;

    /// Discards everything written. Best effort: failures are logged.
    async fn abort(self: Box<Self>);
}

/// The name of a backup's index entry.
pub fn index_name(name: &str) -> String {
    format!("{name}.index.json")
}

pub(crate) fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with(".index.json")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(BackupError::Config(format!(
            "invalid backup name {name:?}: use letters, digits, '.', '_' and '-', not starting with '.'"
        )))
    }
}

fn newest_first(entries: &mut [BackupEntry]) {
    entries.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.name.cmp(&a.name))
    });
}

/// Backups as files in a local directory.
///
/// A backup is written to a hidden partial file unique to its writer,
/// `.NAME.<pid>-<random>.partial`, created exclusively with mode 0600 and
/// held under an exclusive `flock` for as long as the writer lives. Commit
/// flushes it with `fsync` and hard-links it to `NAME` (which fails when
/// `NAME` exists, so of two writers of one name exactly one wins), removes
/// the partial name, then writes the index entry `NAME.index.json` the same
/// way and syncs the directory.
///
/// A partial file is *stale*, and [`BackupSink::clean_stale`] or a later
/// `create` removes it, when no process holds its lock (a writer's lock
/// goes away with its process, however it died) and it either holds bytes
/// (a writer locks before it writes) or has not been modified for a
/// minute; the delay covers the instant between a writer creating its
/// file and locking it. On a filesystem
/// without `flock` a partial file is stale only after
/// a day without modification.
#[derive(Debug, Clone)]
pub struct LocalDirSink {
    dir: PathBuf,
}

/// How long an unlocked partial file must go unmodified before it counts as
/// abandoned.
pub(crate) const PARTIAL_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a partial file must go unmodified before it counts as abandoned
/// where the filesystem does not support locks.
pub(crate) const PARTIAL_STALE_WITHOUT_LOCKS: std::time::Duration =
    std::time::Duration::from_secs(24 * 3600);

impl LocalDirSink {
    /// A sink in `dir`, which is created if missing when the first backup is
    /// written.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalDirSink { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn sink_err(&self, message: String) -> BackupError {
        BackupError::Sink {
            sink: self.describe(),
            message,
        }
    }

    /// The partial files in the directory (`.*.partial`), with the backup
    /// name each belongs to.
    fn partials(&self) -> std::io::Result<Vec<(String, PathBuf)>> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for ent in rd {
            let ent = ent?;
            let fname = ent.file_name().to_string_lossy().into_owned();
            if let Some(name) = partial_owner(&fname) {
                out.push((name.to_owned(), ent.path()));
            }
        }
        Ok(out)
    }

    /// Removes stale partial files (see the type's documentation); returns
    /// the file names removed.
    pub fn remove_stale_partials(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let list = self
            .partials()
            .map_err(|e| self.sink_err(format!("listing partial files: {e}")))?;
        for (_, path) in list {
            if partial_state(&path) == PartialState::Stale {
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        let f = path
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        tracing::info!(file = %f, "removed an abandoned partial backup file");
                        removed.push(f);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(self.sink_err(format!("removing {}: {e}", path.display())));
                    }
                }
            }
        }
        removed.sort();
        Ok(removed)
    }
}

/// The backup a partial file name belongs to: `.NAME.<pid>-<hex>.partial`
/// (and the older `.NAME.partial`).
fn partial_owner(fname: &str) -> Option<&str> {
    let inner = fname.strip_prefix('.')?.strip_suffix(".partial")?;
    match inner.rsplit_once('.') {
        Some((name, tag)) if is_writer_tag(tag) && !name.is_empty() => Some(name),
        _ if !inner.is_empty() => Some(inner),
        _ => None,
    }
}

/// A writer's tag in its partial file name: `<pid>-<hex>`.
fn is_writer_tag(t: &str) -> bool {
    t.split_once('-').is_some_and(|(pid, r)| {
        !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && !r.is_empty()
            && r.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartialState {
    /// A live writer holds it (or it is too young to tell).
    Live,
    /// Abandoned: safe to remove.
    Stale,
}

fn partial_state(path: &Path) -> PartialState {
    let Ok(meta) = std::fs::metadata(path) else {
        return PartialState::Live;
    };
    let age = meta
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .unwrap_or_default();
    // A writer locks its file before it writes a byte, so an unlocked
    // file holding bytes has lost its writer: stale at once (a killed
    // archive_command retries within seconds). Only the tagged form: the
    // legacy `.NAME.partial` writers took no lock.
    let written_by_a_locker = meta.len() > 0
        && path
            .file_name()
            .and_then(|f| f.to_str())
            .and_then(|f| f.strip_suffix(".partial"))
            .and_then(|i| i.rsplit_once('.'))
            .is_some_and(|(_, tag)| is_writer_tag(tag));
    match lock_is_free(path) {
        Some(true) if age >= PARTIAL_STALE_AFTER || written_by_a_locker => PartialState::Stale,
        Some(_) => PartialState::Live,
        None if age >= PARTIAL_STALE_WITHOUT_LOCKS => PartialState::Stale,
        None => PartialState::Live,
    }
}

/// Whether no process holds the file's lock; `None` where locks are not
/// supported.
#[cfg(unix)]
fn lock_is_free(path: &Path) -> Option<bool> {
    use rustix::fs::{FlockOperation, flock};
    let f = std::fs::File::open(path).ok()?;
    match flock(&f, FlockOperation::NonBlockingLockExclusive) {
        // Released when `f` is closed.
        Ok(()) => Some(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Some(false),
        Err(_) => None,
    }
}

#[cfg(not(unix))]
fn lock_is_free(_path: &Path) -> Option<bool> {
    None
}

/// Takes the writer's exclusive lock on its new partial file.
#[cfg(unix)]
fn lock_partial(f: &std::fs::File) {
    use rustix::fs::{FlockOperation, flock};
    if let Err(e) = flock(f, FlockOperation::NonBlockingLockExclusive) {
        // Without a lock the file is still protected by its age.
        tracing::debug!(error = %e, "could not lock a partial backup file");
    }
}

#[cfg(not(unix))]
fn lock_partial(_f: &std::fs::File) {}

/// A new file, created exclusively, readable by its owner only.
pub(crate) fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// A suffix no other writer uses: this process's id and 64 random bits.
pub(crate) fn unique_tag() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        crate::crypto::hex(&rand::random::<[u8; 8]>())
    )
}

async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
        .await
        .map_err(std::io::Error::other)?
}

#[async_trait]
impl BackupSink for LocalDirSink {
    fn describe(&self) -> String {
        format!("dir {}", self.dir.display())
    }

    async fn create(&self, name: &str) -> Result<Box<dyn SinkWriter>> {
        check_name(name)?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| self.sink_err(format!("creating the directory: {e}")))?;
        let final_path = self.dir.join(name);
        let exists = || BackupError::AlreadyExists {
            name: name.to_owned(),
            sink: self.describe(),
        };
        if tokio::fs::try_exists(&final_path).await.unwrap_or(false) {
            return Err(exists());
        }
        // Another writer of this name: refuse now rather than at commit.
        // Crashed writers' files are removed on the way.
        let sink = self.clone();
        let owner = name.to_owned();
        let (live, tmp, lock, file) = tokio::task::spawn_blocking(move || {
            let mut live = false;
            for (n, path) in sink.partials()? {
                if n != owner {
                    continue;
                }
                match partial_state(&path) {
                    PartialState::Live => live = true,
                    PartialState::Stale => {
                        if std::fs::remove_file(&path).is_ok() {
                            tracing::info!(file = %path.display(), "removed an abandoned partial backup file");
                        }
                    }
                }
            }
            if live {
                return Ok((true, PathBuf::new(), None, None));
            }
            let tmp = sink.dir.join(format!(".{owner}.{}.partial", unique_tag()));
            let f = create_private(&tmp)?;
            lock_partial(&f);
            let lock = f.try_clone()?;
            Ok::<_, std::io::Error>((false, tmp, Some(lock), Some(f)))
        })
        .await
        .map_err(|e| self.sink_err(format!("creating the partial file: {e}")))?
        .map_err(|e| self.sink_err(format!("creating the partial file: {e}")))?;
        let (Some(lock), Some(file), false) = (lock, file, live) else {
            return Err(BackupError::InProgress {
                name: name.to_owned(),
                sink: self.describe(),
            });
        };
        Ok(Box::new(LocalWriter {
            sink: self.clone(),
            file: Some(tokio::io::BufWriter::with_capacity(
                256 << 10,
                tokio::fs::File::from_std(file),
            )),
            lock: Some(lock),
            tmp,
            final_path,
            name: name.to_owned(),
            done: false,
        }))
    }

    async fn open(&self, name: &str) -> Result<BackupRead> {
        check_name(name)?;
        let path = self.dir.join(name);
        match tokio::fs::File::open(&path).await {
            Ok(f) => Ok(Box::pin(tokio::io::BufReader::with_capacity(256 << 10, f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BackupError::NotFound(name.to_owned()))
            }
            Err(e) => Err(self.sink_err(format!("opening {name}: {e}"))),
        }
    }

    async fn list(&self) -> Result<Vec<BackupEntry>> {
        let mut rd = match tokio::fs::read_dir(&self.dir).await {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.sink_err(format!("listing: {e}"))),
        };
        let mut out = Vec::new();
        while let Some(ent) = rd
            .next_entry()
            .await
            .map_err(|e| self.sink_err(format!("listing: {e}")))?
        {
            let fname = ent.file_name().to_string_lossy().into_owned();
            let Some(name) = fname.strip_suffix(".index.json") else {
                continue;
            };
            if fname.starts_with('.') {
                continue;
            }
            let Ok(text) = tokio::fs::read(ent.path()).await else {
                continue;
            };
            let Ok(entry) = serde_json::from_slice::<BackupEntry>(&text) else {
                tracing::warn!(file = %fname, "skipping an unreadable index entry");
                continue;
            };
            let size = tokio::fs::metadata(self.dir.join(name))
                .await
                .map(|m| m.len())
                .ok();
            if entry.name == name && size == Some(entry.size) {
                out.push(entry);
            }
        }
        newest_first(&mut out);
        Ok(out)
    }

    async fn delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let idx = self.dir.join(index_name(name));
        let file = self.dir.join(name);
        let mut found = false;
        for p in [idx, file] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => found = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.sink_err(format!("deleting {}: {e}", p.display()))),
            }
        }
        if !found {
            return Err(BackupError::NotFound(name.to_owned()));
        }
        sync_dir(&self.dir)
            .await
            .map_err(|e| self.sink_err(format!("syncing the directory: {e}")))
    }

    async fn clean_stale(&self) -> Result<Vec<String>> {
        let sink = self.clone();
        tokio::task::spawn_blocking(move || sink.remove_stale_partials())
            .await
            .map_err(|e| self.sink_err(format!("cleaning partial files: {e}")))?
    }
}

struct LocalWriter {
    sink: LocalDirSink,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    /// A second handle on the partial file that keeps its lock until the
    /// file has its final name or is removed.
    lock: Option<std::fs::File>,
    tmp: PathBuf,
    final_path: PathBuf,
    name: String,
    done: bool,
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if !self.done {
            // A writer dropped without commit (a cancelled task) must not
            // leave its partial file behind.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Gives `tmp` the name `dst` unless `dst` exists: a hard link fails on an
/// existing name, where a rename would silently replace it.
fn link_no_clobber(tmp: &Path, dst: &Path) -> std::io::Result<()> {
    match std::fs::hard_link(tmp, dst) {
        Ok(()) => std::fs::remove_file(tmp),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
        Err(e) => {
            // A filesystem without hard links: check, then rename (a narrow
            // race remains there).
            if dst.exists() {
                return Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, e));
            }
            std::fs::rename(tmp, dst)
        }
    }
}

#[async_trait]
impl SinkWriter for LocalWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let f = self
            .file
            .as_mut()
            .ok_or_else(|| self.sink.sink_err("write after commit".into()))?;
        f.write_all(&data)
            .await
            .map_err(|e| self.sink.sink_err(format!("writing {}: {e}", self.name)))
    }

    async fn commit(mut self: Box<Self>, entry: &BackupEntry) -> Result<()> {
        let mut f = self
            .file
            .take()
            .ok_or_else(|| self.sink.sink_err("committed twice".into()))?;
        let err = |what: &str, e: std::io::Error| {
            self.sink.sink_err(format!("{what} {}: {e}", self.name))
        };
        f.flush().await.map_err(|e| err("flushing", e))?;
        let f = f.into_inner();
        f.sync_all().await.map_err(|e| err("syncing", e))?;
        drop(f);
        let (tmp, dst) = (self.tmp.clone(), self.final_path.clone());
        let linked = tokio::task::spawn_blocking(move || link_no_clobber(&tmp, &dst))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // Another writer of this name committed first; Drop removes
                // our partial file.
                return Err(BackupError::AlreadyExists {
                    name: self.name.clone(),
                    sink: self.sink.describe(),
                });
            }
            Err(e) => return Err(err("renaming", e)),
        }
        // From here the file has its final name: if the index entry cannot
        // be written, remove the file so nothing half-made remains.
        self.done = true;
        self.lock = None;
        let idx_tmp = self.sink.dir.join(format!(
            ".{}.{}.partial",
            index_name(&self.name),
            unique_tag()
        ));
        let idx = self.sink.dir.join(index_name(&self.name));
        let json = serde_json::to_vec_pretty(entry)
            .map_err(|e| self.sink.sink_err(format!("index entry: {e}")))?;
        let res = async {
            let p = idx_tmp.clone();
            let mut f = tokio::fs::File::from_std(
                tokio::task::spawn_blocking(move || create_private(&p))
                    .await
                    .map_err(std::io::Error::other)??,
            );
            f.write_all(&json).await?;
            f.sync_all().await?;
            drop(f);
            tokio::fs::rename(&idx_tmp, &idx).await?;
            sync_dir(&self.sink.dir).await
        }
        .await;
        if let Err(e) = res {
            let _ = tokio::fs::remove_file(&idx_tmp).await;
            let _ = tokio::fs::remove_file(&self.final_path).await;
            return Err(err("writing the index entry of", e));
        }
        Ok(())
    }

    async fn abort(mut self: Box<Self>) {
        self.file = None;
        self.done = true;
        if let Err(e) = tokio::fs::remove_file(&self.tmp).await {
            tracing::warn!(file = %self.tmp.display(), error = %e, "could not remove a partial backup");
        }
        self.lock = None;
    }
}

/// Backups held in memory: for tests and examples.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    objects: HashMap<String, Vec<u8>>,
    entries: HashMap<String, BackupEntry>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The stored bytes of a backup (complete or not).
    pub fn bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.lock().objects.get(name).cloned()
    }

    /// Replaces a backup's bytes (to simulate damage in tests).
    pub fn set_bytes(&self, name: &str, bytes: Vec<u8>) {
        self.lock().objects.insert(name.to_owned(), bytes);
    }

    /// Every stored object name, listed or not.
    pub fn object_names(&self) -> Vec<String> {
        let mut v: Vec<_> = self.lock().objects.keys().cloned().collect();
        v.sort();
        v
    }
}

#[async_trait]
impl BackupSink for MemorySink {
    fn describe(&self) -> String {
        "memory".into()
    }

    async fn create(&self, name: &str) -> Result<Box<dyn SinkWriter>> {
        check_name(name)?;
        if self.lock().objects.contains_key(name) {
            return Err(BackupError::AlreadyExists {
                name: name.to_owned(),
                sink: self.describe(),
            });
        }
        Ok(Box::new(MemoryWriter {
            sink: self.clone(),
            name: name.to_owned(),
            buf: Vec::new(),
        }))
    }

    async fn open(&self, name: &str) -> Result<BackupRead> {
        let data = self
            .bytes(name)
            .ok_or_else(|| BackupError::NotFound(name.to_owned()))?;
        Ok(Box::pin(std::io::Cursor::new(data)))
    }

    async fn list(&self) -> Result<Vec<BackupEntry>> {
        let g = self.lock();
        let mut out: Vec<_> = g
            .entries
            .values()
            .filter(|e| g.objects.get(&e.name).map(|o| o.len() as u64) == Some(e.size))
            .cloned()
            .collect();
        newest_first(&mut out);
        Ok(out)
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let mut g = self.lock();
        let a = g.entries.remove(name).is_some();
        let b = g.objects.remove(name).is_some();
        if a || b {
            Ok(())
        } else {
            Err(BackupError::NotFound(name.to_owned()))
        }
    }
}

struct MemoryWriter {
    sink: MemorySink,
    name: String,
    buf: Vec<u8>,
}

#[async_trait]
impl SinkWriter for MemoryWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.buf.extend_from_slice(&data);
        Ok(())
    }

    async fn commit(self: Box<Self>, entry: &BackupEntry) -> Result<()> {
        let mut g = self.sink.lock();
        if g.objects.contains_key(&self.name) {
            return Err(BackupError::AlreadyExists {
                name: self.name.clone(),
                sink: self.sink.describe(),
            });
        }
        g.objects.insert(self.name.clone(), self.buf);
        g.entries.insert(self.name.clone(), entry.clone());
        Ok(())
    }

    async fn abort(self: Box<Self>) {}
}

/// Opens a sink from a location: `s3://bucket/prefix` (with the `s3`
/// feature) or a local directory path.
pub fn sink_for(location: &str) -> Result<Arc<dyn BackupSink>> {
    if location.starts_with("s3://") {
        #[cfg(feature = "s3")]
        {
            return Ok(Arc::new(crate::s3::S3Sink::from_url(location)?));
        }
        #[cfg(not(feature = "s3"))]
        {
            return Err(BackupError::Unsupported(
                "s3:// locations need covet-backup's `s3` feature".into(),
            ));
        }
    }
    if location.contains("://") {
        return Err(BackupError::Config(format!(
            "unknown backup location {location:?}: expected a directory or s3://bucket/prefix"
        )));
    }
    Ok(Arc::new(LocalDirSink::new(location)))
}

/// Splits a backup file path into its directory sink and name.
pub fn sink_for_file(path: &Path) -> Result<(Arc<dyn BackupSink>, String)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| BackupError::Config(format!("{} is not a file name", path.display())))?
        .to_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok((Arc::new(LocalDirSink::new(dir)), name))
}
