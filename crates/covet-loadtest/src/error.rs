//! The load tester's error type.

/// What can go wrong while preparing or running a load test.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadtestError {
    /// A scenario file is malformed; `line` and `column` are 1-based.
    #[error("{path}:{line}:{column}: {message}")]
    Scenario {
        /// The file as given.
        path: String,
        /// The line of the offending text.
        line: usize,
        /// The column of the offending text.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A statement name that the workload does not define.
    #[error("unknown statement `{name}`; this workload has: {known}")]
    UnknownStatement {
        /// The name asked for.
        name: String,
        /// The names the workload defines, comma separated.
        known: String,
    },
    /// A setting (rate, duration, SLO, ...) is out of range or malformed.
    #[error("{0}")]
    Config(String),
    /// The database refused, failed or could not be reached.
    #[error("{0}")]
    Db(#[from] covet_core::Error),
    /// A report file given to compare cannot be read or is not a report.
    #[error("{path}: {message}")]
    Report {
        /// The file as given.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Two reports cannot be compared.
    #[error("cannot compare: {0}")]
    Compare(String),
    /// Writing a report or reading a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl LoadtestError {
    /// A [`LoadtestError::Config`] error.
    pub fn config(message: impl Into<String>) -> Self {
        LoadtestError::Config(message.into())
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        LoadtestError::Io {
            context: context.into(),
            source,
        }
    }
}

/// `Result` with [`LoadtestError`].
pub type Result<T, E = LoadtestError> = std::result::Result<T, E>;
