//! A sink that fails part-way leaves nothing that lists as a backup.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use covet_backup::*;
use support::db::Adapters;

/// Where the failing sink fails.
#[derive(Clone, Copy, Debug)]
enum FailAt {
    /// After this many bytes were written (a full disk).
    Bytes(u64),
    /// When the backup is committed.
    Commit,
}

struct FailingSink {
    inner: LocalDirSink,
    at: FailAt,
}

struct FailingWriter {
    inner: Box<dyn SinkWriter>,
    at: FailAt,
    written: Arc<AtomicU64>,
}

fn disk_full() -> BackupError {
    BackupError::Sink {
        sink: "failing".into(),
        message: "No space left on device (injected)".into(),
    }
}

#[async_trait]
impl BackupSink for FailingSink {
    fn describe(&self) -> String {
        "failing".into()
    }
    async fn create(&self, name: &str) -> Result<Box<dyn SinkWriter>> {
        Ok(Box::new(FailingWriter {
            inner: self.inner.create(name).await?,
            at: self.at,
            written: Arc::new(AtomicU64::new(0)),
        }))
    }
    async fn open(&self, name: &str) -> Result<BackupRead> {
        self.inner.open(name).await
    }
    async fn list(&self) -> Result<Vec<BackupEntry>> {
        self.inner.list().await
    }
    async fn delete(&self, name: &str) -> Result<()> {
        self.inner.delete(name).await
    }
}

#[async_trait]
impl SinkWriter for FailingWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let before = self.written.fetch_add(data.len() as u64, Ordering::SeqCst);
        if let FailAt::Bytes(limit) = self.at
            && before + data.len() as u64 > limit
        {
            return Err(disk_full());
        }
        self.inner.write(data).await
    }
    async fn commit(self: Box<Self>, entry: &BackupEntry) -> Result<()> {
        if let FailAt::Commit = self.at {
            self.inner.abort().await;
            return Err(disk_full());
        }
        self.inner.commit(entry).await
    }
    async fn abort(self: Box<Self>) {
        self.inner.abort().await;
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

async fn source_db(dir: &Path) -> Arc<dyn covet_core::Adapter> {
    let url = format!("sqlite://{}", dir.join("src.db").display())
        .parse()
        .unwrap();
    let a = Connector::connect(&Adapters, &url).await.unwrap();
    support::db::load_workload(a.as_ref(), 200).await;
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_mid_write_or_at_commit_leaves_nothing_listed() {
    let dir = tempfile::tempdir().unwrap();
    let src = source_db(dir.path()).await;
    for at in [FailAt::Bytes(0), FailAt::Bytes(100_000), FailAt::Commit] {
        let out = dir
            .path()
            .join(format!("out-{at:?}").replace([' ', '(', ')'], "_"));
        let sink = FailingSink {
            inner: LocalDirSink::new(&out),
            at,
        };
        let mut opts = CreateOptions::new(WriteOptions {
            compression: Compression::None,
            encryption: Encryption::Key(KeySource::Raw([3; 32])),
            chunk_size: 16 << 10,
        });
        opts.name = Some("b.covet".into());
        let e = create_backup(src.clone(), "src", &sink, opts)
            .await
            .unwrap_err();
        assert!(matches!(e, BackupError::Sink { .. }), "{at:?}: {e}");
        assert!(sink.list().await.unwrap().is_empty(), "{at:?}");
        assert_eq!(
            files_in(&out),
            Vec::<String>::new(),
            "{at:?}: files left behind"
        );
    }
    // The same source backs up fine through a working sink.
    let good = LocalDirSink::new(dir.path().join("good"));
    let opts = CreateOptions::new(WriteOptions::new(Encryption::Key(KeySource::Raw([3; 32]))));
    create_backup(src.clone(), "src", &good, opts)
        .await
        .unwrap();
    assert_eq!(good.list().await.unwrap().len(), 1);
    src.close().await;
}

#[tokio::test]
async fn a_dropped_writer_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let mut w = BackupWriter::create(
        &sink,
        "x.covet",
        support::two_tables(),
        SourceInfo::now("test", "db"),
        WriteOptions::new(Encryption::None),
    )
    .await
    .unwrap();
    w.write_rows(
        0,
        &[vec![covet_core::Value::I64(1), covet_core::Value::Null]],
    )
    .await
    .unwrap();
    let partial = files_in(dir.path());
    assert!(
        partial.len() == 1
            && partial[0].starts_with(".x.covet.")
            && partial[0].ends_with(".partial"),
        "{partial:?}"
    );
    drop(w);
    assert!(files_in(dir.path()).is_empty());
    assert!(sink.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_backup_whose_file_was_truncated_no_longer_lists() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalDirSink::new(dir.path());
    let entry = support::small_backup_to(&sink, "t.covet").await;
    assert_eq!(sink.list().await.unwrap(), vec![entry.clone()]);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("t.covet"))
        .unwrap();
    f.set_len(entry.size - 1).unwrap();
    assert!(sink.list().await.unwrap().is_empty());
}
