//! The S3 sink against a real S3-compatible server (COVET_S3_URL, started by
//! .ci/services.d/s3.sh): a round trip, an S3 error mid-upload, and a
//! dropped upload, neither of which leaves an object that lists.

mod support;

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use covet_backup::*;
use covet_core::Value;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

fn bucket() -> Option<String> {
    if std::env::var("COVET_S3_URL").is_err() {
        assert!(
            std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
            "COVET_S3_URL is unset and COVET_REQUIRE_DB=1"
        );
        eprintln!("skipping: COVET_S3_URL is not set (see .ci/services.d/s3.sh)");
        return None;
    }
    Some(std::env::var("COVET_S3_BUCKET").unwrap_or_else(|_| "covet-test".into()))
}

fn real_store(bucket: &str) -> Arc<dyn ObjectStore> {
    let url = std::env::var("COVET_S3_URL").unwrap();
    Arc::new(
        object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_endpoint(&url)
            .with_allow_http(true)
            .with_region("us-east-1")
            .build()
            .unwrap(),
    )
}

/// Random bytes: incompressible, so a few MiB make several parts.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut r = support::db::Rng::new(seed);
    (0..n).map(|_| r.next() as u8).collect()
}

async fn write_big(sink: &dyn BackupSink, name: &str, mib: usize) -> Result<BackupEntry> {
    let mut w = BackupWriter::create(
        sink,
        name,
        support::two_tables(),
        SourceInfo::now("test", "db"),
        WriteOptions {
            compression: Compression::Zstd3,
            encryption: Encryption::Key(KeySource::Raw([9; 32])),
            chunk_size: 1 << 20,
        },
    )
    .await?;
    for i in 0..mib {
        w.write_rows(1, &[vec![Value::Bytes(noise(1 << 20, i as u64 + 1))]])
            .await?;
    }
    w.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_round_trip_list_verify_delete() {
    let Some(bucket) = bucket() else { return };
    let prefix = support::db::unique("rt");
    let sink = S3Sink::from_url(&format!("s3://{bucket}/{prefix}")).unwrap();
    let entry = write_big(&sink, "big.covet", 12).await.unwrap();
    assert_eq!(sink.list().await.unwrap(), vec![entry.clone()]);
    let r = verify(&sink, "big.covet", Some(&KeySource::Raw([9; 32])))
        .await
        .unwrap();
    assert_eq!(r.manifest.tables[1].rows, 12);
    assert_eq!(r.sha256, entry.sha256);
    let e = sink.create("big.covet").await.err().expect("no overwrite");
    assert!(matches!(e, BackupError::AlreadyExists { .. }), "{e}");
    sink.delete("big.covet").await.unwrap();
    assert!(sink.list().await.unwrap().is_empty());
    let left = object_names(
        real_store(&bucket).as_ref(),
        Some(&Path::from(prefix.as_str())),
    )
    .await
    .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

/// Two writers of one name: the one committing second is refused (S3
/// would let its upload replace the first backup under the first's index
/// entry), and the listed backup verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_second_writer_of_a_name_is_refused_at_commit() {
    let Some(bucket) = bucket() else { return };
    let prefix = support::db::unique("dup");
    let sink = S3Sink::from_url(&format!("s3://{bucket}/{prefix}")).unwrap();
    let schema = || support::two_tables();
    let open = |rows: i64| {
        let sink = sink.clone();
        async move {
            let mut w = BackupWriter::create(
                &sink,
                "d.covet",
                schema(),
                SourceInfo::now("test", "db"),
                WriteOptions::new(Encryption::None),
            )
            .await
            .unwrap();
            for i in 0..rows {
                w.write_rows(0, &[vec![Value::I64(i), Value::Null]])
                    .await
                    .unwrap();
            }
            w
        }
    };
    let first = open(10).await;
    let second = open(20).await;
    first.finish().await.unwrap();
    let e = second.finish().await.unwrap_err();
    assert!(matches!(e, BackupError::AlreadyExists { .. }), "{e}");
    assert_eq!(sink.list().await.unwrap().len(), 1);
    let r = verify(&sink, "d.covet", None).await.unwrap();
    assert_eq!(r.manifest.tables[0].rows, 10);
    sink.delete("d.covet").await.unwrap();
}

/// Delegates to a real store, but the `fail_at`th multipart part fails.
struct FailingStore {
    inner: Arc<dyn ObjectStore>,
    fail_at: u32,
}

impl fmt::Display for FailingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FailingStore({})", self.inner)
    }
}

impl fmt::Debug for FailingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug)]
struct FailingUpload {
    inner: Box<dyn MultipartUpload>,
    parts: Arc<AtomicU32>,
    fail_at: u32,
}

fn injected() -> object_store::Error {
    object_store::Error::Generic {
        store: "S3",
        source: "injected: 503 Slow Down".into(),
    }
}

#[async_trait]
impl MultipartUpload for FailingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        if self.parts.fetch_add(1, Ordering::SeqCst) + 1 >= self.fail_at {
            return Box::pin(async { Err(injected()) });
        }
        self.inner.put_part(data)
    }
    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.inner.complete().await
    }
    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait]
impl ObjectStore for FailingStore {
    async fn put_opts(
        &self,
        l: &Path,
        p: PutPayload,
        o: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(l, p, o).await
    }
    async fn put_multipart_opts(
        &self,
        l: &Path,
        o: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Ok(Box::new(FailingUpload {
            inner: self.inner.put_multipart_opts(l, o).await?,
            parts: Arc::new(AtomicU32::new(0)),
            fail_at: self.fail_at,
        }))
    }
    async fn get_opts(&self, l: &Path, o: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(l, o).await
    }
    async fn get_range(&self, l: &Path, r: Range<u64>) -> object_store::Result<Bytes> {
        self.inner.get_range(l, r).await
    }
    async fn delete(&self, l: &Path) -> object_store::Result<()> {
        self.inner.delete(l).await
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy(from, to).await
    }
    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy_if_not_exists(from, to).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_error_mid_upload_leaves_nothing() {
    let Some(bucket) = bucket() else { return };
    let prefix = support::db::unique("fail");
    let store = Arc::new(FailingStore {
        inner: real_store(&bucket),
        fail_at: 2,
    });
    let sink = S3Sink::with_store(store.clone(), &bucket, &prefix).part_size(5 << 20);
    let e = write_big(&sink, "doomed.covet", 16).await.unwrap_err();
    assert!(matches!(e, BackupError::Sink { .. }), "{e}");
    assert!(e.to_string().contains("injected"), "{e}");
    assert!(sink.list().await.unwrap().is_empty());
    let left = object_names(store.as_ref(), Some(&Path::from(prefix.as_str())))
        .await
        .unwrap();
    assert!(left.is_empty(), "objects left: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_upload_never_lists() {
    let Some(bucket) = bucket() else { return };
    let prefix = support::db::unique("drop");
    let sink = S3Sink::from_url(&format!("s3://{bucket}/{prefix}"))
        .unwrap()
        .part_size(5 << 20);
    {
        let mut w = BackupWriter::create(
            &sink,
            "half.covet",
            support::two_tables(),
            SourceInfo::now("test", "db"),
            WriteOptions::new(Encryption::None),
        )
        .await
        .unwrap();
        for i in 0..7 {
            w.write_rows(1, &[vec![Value::Bytes(noise(1 << 20, i))]])
                .await
                .unwrap();
        }
        // The process "dies" here: the writer is dropped unfinished.
    }
    assert!(sink.list().await.unwrap().is_empty());
    let left = object_names(
        real_store(&bucket).as_ref(),
        Some(&Path::from(prefix.as_str())),
    )
    .await
    .unwrap();
    assert!(left.is_empty(), "objects left: {left:?}");
}
