//! The errors a backup, verify or restore can end with.

/// Why a backup operation failed.
///
/// Damage is reported by the most specific variant the reader can prove:
/// a chunk whose tag fails ([`BackupError::ChunkAuthentication`]), a stream
/// that ends early ([`BackupError::Truncated`]), a manifest that disagrees
/// with the chunks it describes ([`BackupError::ManifestMismatch`]), and so
/// on. None of the messages contain a key, a passphrase or row data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// A local file or stream could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The database reported an error.
    #[error("database: {0}")]
    Database(#[from] covet_core::Error),
    /// The storage behind a sink failed (a full disk, an S3 error).
    #[error("sink {sink}: {message}")]
    Sink {
        /// Which sink.
        sink: String,
        /// What went wrong.
        message: String,
    },
    /// The input does not start with the backup format's magic bytes.
    #[error("not a Covet backup (bad magic bytes)")]
    NotABackup,
    /// The format version is newer than this tool reads.
    #[error("backup format version {0} is not supported (this tool reads versions {min} to {max})", min = crate::format::MIN_FORMAT_VERSION, max = crate::format::FORMAT_VERSION)]
    UnsupportedVersion(u16),
    /// The database holds objects a backup cannot carry; nothing was
    /// written. Each is named as `kind name`, the form
    /// [`CreateOptions::exclude`](crate::CreateOptions) accepts to leave it out.
    #[error(
        "{count} object(s) cannot be backed up (exclude them explicitly to go on without them): {objects}"
    )]
    Refused {
        /// How many objects were refused.
        count: usize,
        /// The first few, `kind name`, separated by `; `.
        objects: String,
    },
    /// A PostgreSQL restore asked to carry owners or grants names roles the
    /// target server does not have; nothing was touched. Roles are
    /// cluster-wide and never in a backup: create them first, or restore
    /// without the option.
    #[error(
        "{count} role(s) named by the backup's owners or grants do not exist on the target server: {roles} (create them, or restore without --owners/--grants)"
    )]
    MissingRoles {
        /// How many roles are missing.
        count: usize,
        /// The first few, separated by `, `.
        roles: String,
    },
    /// A header field holds a value no writer produces.
    #[error("invalid backup header: {0}")]
    BadHeader(String),
    /// The backup is encrypted and no key or passphrase was given.
    #[error("the backup is encrypted (key id {key_id}): give --key-file or --passphrase-env")]
    KeyRequired {
        /// The key id recorded in the header.
        key_id: String,
    },
    /// The key or passphrase does not open this backup.
    #[error(
        "wrong key or passphrase: the backup was written with key id {expected}, the given key has id {given}"
    )]
    WrongKey {
        /// The key id the backup was written with.
        expected: String,
        /// The id of the key that was given.
        given: String,
    },
    /// A key file could not be used.
    #[error("key file {path}: {reason}")]
    BadKeyFile {
        /// The file.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// A chunk's authentication tag (or, unencrypted, its checksum) did not
    /// match: a flipped bit, or a chunk dropped, repeated or moved.
    #[error("chunk {index} failed authentication: the backup is damaged or was altered")]
    ChunkAuthentication {
        /// The chunk's position in the stream (0-based).
        index: u64,
    },
    /// The stream ended before its final chunk.
    #[error("the backup is truncated: it ends after {chunks} chunk(s) without its final chunk")]
    Truncated {
        /// The chunks read before the end.
        chunks: u64,
    },
    /// Bytes follow the final chunk.
    #[error("unexpected data after the final chunk")]
    TrailingData,
    /// A chunk's length field is impossible.
    #[error("chunk {index} declares a length of {len} bytes, more than the limit of {limit}")]
    ChunkTooLarge {
        /// The chunk's position.
        index: u64,
        /// The declared length.
        len: u64,
        /// The largest length accepted.
        limit: u64,
    },
    /// A chunk authenticated but its contents could not be decoded. Only a
    /// writer bug (or a forged backup under a leaked key) can cause this.
    #[error("chunk {index} is malformed: {reason}")]
    Malformed {
        /// The chunk's position.
        index: u64,
        /// What was wrong.
        reason: String,
    },
    /// The manifest could not be parsed.
    #[error("the manifest is invalid: {0}")]
    ManifestInvalid(String),
    /// The manifest disagrees with the chunks, rows or checksums it
    /// describes.
    #[error("the manifest does not match the backup: {0}")]
    ManifestMismatch(String),
    /// The index entry (the listing sidecar) does not match the backup file.
    #[error("backup {name} does not match its index entry: {reason}")]
    IndexMismatch {
        /// The backup.
        name: String,
        /// What differs.
        reason: String,
    },
    /// No backup with this name exists in the sink.
    #[error("no backup named {0}")]
    NotFound(String),
    /// A backup of this name is already stored in the sink.
    #[error("a backup named {name} already exists in {sink}")]
    AlreadyExists {
        /// The backup's name.
        name: String,
        /// The sink.
        sink: String,
    },
    /// A sealed object of this name already holds different bytes (a
    /// second, different WAL segment under one name).
    #[error(
        "{name} already exists in {sink} with different content (stored {stored_len} bytes, sha256 {stored_sha256}; given {given_len} bytes, sha256 {given_sha256})"
    )]
    ObjectConflict {
        /// The object's name.
        name: String,
        /// The sink.
        sink: String,
        /// Plain length of the stored object.
        stored_len: u64,
        /// SHA-256 of the stored object's plain bytes.
        stored_sha256: String,
        /// Plain length of the given bytes.
        given_len: u64,
        /// SHA-256 of the given bytes.
        given_sha256: String,
    },
    /// Another process (or task) is writing a backup of this name.
    #[error(
        "a backup named {name} is being written in {sink} by another run (the partial file of a run that died is cleared after a minute)"
    )]
    InProgress {
        /// The backup's name.
        name: String,
        /// The sink.
        sink: String,
    },
    /// The operation was interrupted (Ctrl-C, SIGTERM) and cleaned up what
    /// it had made.
    #[error("interrupted: {0}")]
    Cancelled(String),
    /// `--replace` would drop objects the backup does not hold, and dropping
    /// them was not asked for.
    #[error(
        "the target holds {count} object(s) the backup does not ({objects}); they would be dropped: pass --drop-others to drop them, or restore into another database"
    )]
    ReplaceWouldDrop {
        /// The first few objects, comma-separated.
        objects: String,
        /// How many in all.
        count: usize,
    },
    /// The restore target holds tables and replacing them was not asked for.
    #[error("the target database is not empty ({tables}); pass --replace to replace it")]
    TargetNotEmpty {
        /// The tables found, comma-separated (at most a few).
        tables: String,
    },
    /// A restored table differs from the manifest.
    #[error("table {table}: {detail}")]
    TableMismatch {
        /// The table.
        table: String,
        /// How it differs.
        detail: String,
    },
    /// Prune found no backup that verifies, so it deletes nothing.
    #[error("none of the {count} backup(s) verifies: prune refuses to delete anything")]
    NothingVerified {
        /// Backups listed.
        count: usize,
    },
    /// A schedule expression is invalid.
    #[error("invalid schedule {expr:?}: {reason}")]
    BadSchedule {
        /// The expression.
        expr: String,
        /// What is wrong.
        reason: String,
    },
    /// The operation does not apply to this engine or configuration.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A setting or argument is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl BackupError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        BackupError::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether this error means the backup itself is damaged, altered or
    /// unreadable (as opposed to a wrong key, a database or sink failure).
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            BackupError::NotABackup
                | BackupError::UnsupportedVersion(_)
                | BackupError::BadHeader(_)
                | BackupError::ChunkAuthentication { .. }
                | BackupError::Truncated { .. }
                | BackupError::TrailingData
                | BackupError::ChunkTooLarge { .. }
                | BackupError::Malformed { .. }
                | BackupError::ManifestInvalid(_)
                | BackupError::ManifestMismatch(_)
                | BackupError::IndexMismatch { .. }
        )
    }
}

/// `Result` with [`BackupError`].
pub type Result<T, E = BackupError> = std::result::Result<T, E>;
