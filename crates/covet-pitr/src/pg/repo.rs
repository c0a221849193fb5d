//! A PITR repository: a sink and the key its objects are sealed with.

use std::sync::Arc;

use covet_backup::object::ObjectOptions;
use covet_backup::{BackupSink, Compression, Encryption, KeySource};

use crate::error::Result;

/// Where WAL and base backups are stored, and how they are sealed.
#[derive(Clone)]
pub struct Repo {
    sink: Arc<dyn BackupSink>,
    key: Option<KeySource>,
    label: String,
    compression: Compression,
}

impl std::fmt::Debug for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // KeySource's own Debug hides the key.
        f.debug_struct("Repo")
            .field("sink", &self.sink.describe())
            .field("key", &self.key)
            .field("label", &self.label)
            .field("compression", &self.compression)
            .finish()
    }
}

impl Repo {
    /// A repository in `sink`. With `key` `None` objects are written
    /// unencrypted (integrity checksums only) and read only if unencrypted.
    pub fn new(sink: Arc<dyn BackupSink>, key: Option<KeySource>) -> Self {
        Repo {
            sink,
            key,
            label: "postgresql".to_owned(),
            compression: Compression::Zstd3,
        }
    }

    /// Opens a location: a directory or `s3://bucket/prefix`.
    pub fn open(location: &str, key: Option<KeySource>) -> Result<Self> {
        Ok(Repo::new(covet_backup::sink_for(location)?, key))
    }

    /// Sets the label objects are written with (shown by listings).
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Sets how new objects are compressed (default zstd level 3; a lower
    /// level costs an `archive_command` less CPU per segment).
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// The sink.
    pub fn sink(&self) -> &dyn BackupSink {
        &*self.sink
    }

    /// The sink, shared.
    pub fn sink_arc(&self) -> Arc<dyn BackupSink> {
        self.sink.clone()
    }

    /// The key objects are read with.
    pub fn key(&self) -> Option<&KeySource> {
        self.key.as_ref()
    }

    pub(crate) fn options(&self, kind: &str) -> ObjectOptions {
        ObjectOptions {
            encryption: self.key.clone().map_or(Encryption::None, Encryption::Key),
            compression: self.compression,
            kind: kind.to_owned(),
            label: self.label.clone(),
        }
    }
}
