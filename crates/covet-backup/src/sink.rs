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
/// A backup is written to `.NAME.partial`, flushed with `fsync`, renamed to
/// `NAME`, then its index entry is written the same way to
/// `NAME.index.json`, and the directory is synced.
#[derive(Debug, Clone)]
pub struct LocalDirSink {
    dir: PathBuf,
}

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
        if tokio::fs::try_exists(&final_path).await.unwrap_or(false) {
            return Err(self.sink_err(format!("{name} already exists")));
        }
        let tmp = self.dir.join(format!(".{name}.partial"));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .await
            .map_err(|e| self.sink_err(format!("creating {}: {e}", tmp.display())))?;
        Ok(Box::new(LocalWriter {
            sink: self.clone(),
            file: Some(tokio::io::BufWriter::with_capacity(256 << 10, file)),
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
}

struct LocalWriter {
    sink: LocalDirSink,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
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
        tokio::fs::rename(&self.tmp, &self.final_path)
            .await
            .map_err(|e| err("renaming", e))?;
        // From here the file has its final name: if the index entry cannot
        // be written, remove the file so nothing half-made remains.
        self.done = true;
        let idx_tmp = self
            .sink
            .dir
            .join(format!(".{}.partial", index_name(&self.name)));
        let idx = self.sink.dir.join(index_name(&self.name));
        let json = serde_json::to_vec_pretty(entry)
            .map_err(|e| self.sink.sink_err(format!("index entry: {e}")))?;
        let res = async {
            let mut f = tokio::fs::File::create(&idx_tmp).await?;
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
            return Err(BackupError::Sink {
                sink: self.describe(),
                message: format!("{name} already exists"),
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
