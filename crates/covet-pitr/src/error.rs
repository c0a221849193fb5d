//! The errors PITR operations end with.

/// Why a PITR operation failed. No message holds a key, a password or row
/// data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PitrError {
    /// Reading or writing a sealed object failed (damage, a wrong key, the
    /// sink).
    #[error(transparent)]
    Backup(#[from] covet_backup::BackupError),
    /// The database reported an error.
    #[error("database: {0}")]
    Database(#[from] covet_core::Error),
    /// A local file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A recovery target outside what the repository covers.
    #[error("target {target} is not covered: {covered}")]
    NotCovered {
        /// The target as given.
        target: String,
        /// What the repository covers.
        covered: String,
    },
    /// A bad option or setting.
    #[error("{0}")]
    Config(String),
    /// A MySQL/MariaDB binlog stream or stored segment that cannot be used:
    /// a malformed event, a setting the stream does not support, a server
    /// error while streaming.
    #[error("binlog: {0}")]
    Binlog(String),
    /// An external program (`mariadb-binlog`, `mariadb`) is missing or
    /// failed; `message` is its last line of stderr or its exit status.
    #[error("{tool}: {message}")]
    Tool {
        /// The program.
        tool: String,
        /// What went wrong.
        message: String,
    },
}

impl PitrError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        PitrError::Io {
            context: context.into(),
            source,
        }
    }
}

/// A PITR result.
pub type Result<T, E = PitrError> = std::result::Result<T, E>;
