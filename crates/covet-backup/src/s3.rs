//! The S3-compatible object-store sink.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

use crate::error::{BackupError, Result};
use crate::sink::{BackupEntry, BackupRead, BackupSink, SinkWriter, check_name, index_name};

/// Backups as objects in an S3-compatible bucket, under a prefix.
///
/// A backup is uploaded with a multipart upload, which S3 makes visible only
/// when it completes; its index entry is put after that. A failed upload is
/// aborted, so no object of it lists.
///
/// Credentials and the region come from the usual `AWS_*` variables; the
/// endpoint from `COVET_S3_ENDPOINT` or `AWS_ENDPOINT_URL` (for
/// S3-compatible servers), with plain HTTP allowed for loopback endpoints.
#[derive(Debug, Clone)]
pub struct S3Sink {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    prefix: String,
    part_size: usize,
}

impl S3Sink {
    /// A sink for `s3://bucket/prefix`, configured from the environment.
    pub fn from_url(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| BackupError::Config(format!("{url:?} is not an s3:// URL")))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(BackupError::Config(format!("{url:?} names no bucket")));
        }
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let endpoint = std::env::var("COVET_S3_ENDPOINT")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok();
        if let Some(ep) = endpoint {
            b = b
                .with_endpoint(&ep)
                .with_allow_http(ep.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
            b = b.with_region("us-east-1");
        }
        let store = b
            .build()
            .map_err(|e| BackupError::Config(format!("S3 sink {url}: {e}")))?;
        Ok(Self::with_store(Arc::new(store), bucket, prefix))
    }

    /// A sink over any object store (for tests: an in-memory store, or a
    /// store wrapper that injects failures).
    pub fn with_store(store: Arc<dyn ObjectStore>, bucket: &str, prefix: &str) -> Self {
        S3Sink {
            store,
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            part_size: 8 << 20,
        }
    }

    /// Sets the multipart upload's part size (default 8 MiB; S3 requires at
    /// least 5 MiB for every part but the last). Memory holds about two
    /// parts per upload.
    #[must_use]
    pub fn part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(5 << 20);
        self
    }

    fn path(&self, name: &str) -> ObjPath {
        if self.prefix.is_empty() {
            ObjPath::from(name)
        } else {
            ObjPath::from(format!("{}/{name}", self.prefix))
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> BackupError {
        BackupError::Sink {
            sink: self.describe(),
            message: e.to_string(),
        }
    }
}

#[async_trait]
impl BackupSink for S3Sink {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    async fn create(&self, name: &str) -> Result<Box<dyn SinkWriter>> {
        check_name(name)?;
        let path = self.path(name);
        if self.store.head(&path).await.is_ok() {
            return Err(BackupError::AlreadyExists {
                name: name.to_owned(),
                sink: self.describe(),
            });
        }
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| self.err(e))?;
        Ok(Box::new(S3Writer {
            sink: self.clone(),
            name: name.to_owned(),
            upload: Some(WriteMultipart::new_with_chunk_size(upload, self.part_size)),
        }))
    }

    async fn open(&self, name: &str) -> Result<BackupRead> {
        check_name(name)?;
        let got = match self.store.get(&self.path(name)).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(BackupError::NotFound(name.to_owned()));
            }
            Err(e) => return Err(self.err(e)),
        };
        let stream = got.into_stream().map_err(std::io::Error::other);
        Ok(Box::pin(tokio_util::io::StreamReader::new(stream)))
    }

    async fn list(&self) -> Result<Vec<BackupEntry>> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjPath::from(self.prefix.as_str()));
        let metas: Vec<_> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for m in &metas {
            let Some(fname) = m.location.filename() else {
                continue;
            };
            let Some(name) = fname.strip_suffix(".index.json") else {
                continue;
            };
            let Some(obj) = metas.iter().find(|o| o.location.filename() == Some(name)) else {
                continue;
            };
            let Ok(got) = self.store.get(&m.location).await else {
                continue;
            };
            let Ok(bytes) = got.bytes().await else {
                continue;
            };
            let Ok(entry) = serde_json::from_slice::<BackupEntry>(&bytes) else {
                continue;
            };
            if entry.name == name && entry.size == obj.size {
                out.push(entry);
            }
        }
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.name.cmp(&a.name))
        });
        Ok(out)
    }

    async fn delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        let idx = self.path(&index_name(name));
        let obj = self.path(name);
        let mut found = false;
        for p in [idx, obj] {
            match self.store.delete(&p).await {
                Ok(()) => found = true,
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.err(e)),
            }
        }
        if found {
            Ok(())
        } else {
            Err(BackupError::NotFound(name.to_owned()))
        }
    }
}

struct S3Writer {
    sink: S3Sink,
    name: String,
    upload: Option<WriteMultipart>,
}

#[async_trait]
impl SinkWriter for S3Writer {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let up = self
            .upload
            .as_mut()
            .ok_or_else(|| self.sink.err("write after commit"))?;
        // Bounds the parts in flight: memory stays at a few part sizes.
        up.wait_for_capacity(2)
            .await
            .map_err(|e| self.sink.err(format!("uploading {}: {e}", self.name)))?;
        up.write(&data);
        Ok(())
    }

    async fn commit(mut self: Box<Self>, entry: &BackupEntry) -> Result<()> {
        let up = self
            .upload
            .take()
            .ok_or_else(|| self.sink.err("committed twice"))?;
        // A writer of the same name that completed meanwhile wins: S3 would
        // let this upload replace its object. (Two uploads completing in the
        // same instant still race; S3 has no exclusive multipart completion.)
        if self
            .sink
            .store
            .head(&self.sink.path(&self.name))
            .await
            .is_ok()
        {
            let _ = up.abort().await;
            return Err(BackupError::AlreadyExists {
                name: self.name.clone(),
                sink: self.sink.describe(),
            });
        }
        up.finish()
            .await
            .map_err(|e| self.sink.err(format!("completing {}: {e}", self.name)))?;
        let json = serde_json::to_vec_pretty(entry).map_err(|e| self.sink.err(e))?;
        let idx = self.sink.path(&index_name(&self.name));
        if let Err(e) = self.sink.store.put(&idx, PutPayload::from(json)).await {
            let _ = self.sink.store.delete(&self.sink.path(&self.name)).await;
            return Err(self
                .sink
                .err(format!("writing the index entry of {}: {e}", self.name)));
        }
        Ok(())
    }

    async fn abort(mut self: Box<Self>) {
        if let Some(up) = self.upload.take()
            && let Err(e) = up.abort().await
        {
            tracing::warn!(backup = %self.name, error = %e, "could not abort an S3 upload");
        }
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        if self.upload.is_some() {
            tracing::warn!(backup = %self.name, "an S3 upload was dropped unfinished; it never completes, so nothing lists");
        }
    }
}

/// Consumes an object-store listing stream into names (used by tests).
pub async fn object_names(
    store: &dyn ObjectStore,
    prefix: Option<&ObjPath>,
) -> Result<Vec<String>> {
    let v: Vec<_> = store
        .list(prefix)
        .map(|r| r.map(|m| m.location.to_string()))
        .try_collect()
        .await
        .map_err(|e| BackupError::Sink {
            sink: "s3".into(),
            message: e.to_string(),
        })?;
    Ok(v)
}
