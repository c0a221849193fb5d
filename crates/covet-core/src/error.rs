//! The one error type every Covet layer returns.

use std::error::Error as StdError;
use std::fmt;

/// What went wrong, at the level a layer can act on.
///
/// Retry, the circuit breaker and the load tester decide from the kind alone;
/// the server's own code stays available through [`Error::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The connection could not be made or was lost (refused, reset, server
    /// shut down, SQLSTATE class 08, 57P01).
    Connection,
    /// Authentication failed (wrong password, unknown user).
    Auth,
    /// A statement or operation exceeded its timeout.
    Timeout,
    /// No pooled connection could be had within the acquire timeout.
    PoolTimeout,
    /// The pool (or adapter) has been closed.
    Closed,
    /// A circuit breaker is open and refused the call without trying it.
    CircuitOpen,
    /// The server has too many connections (53300, MySQL 1040).
    TooManyConnections,
    /// The transaction was chosen as a deadlock victim (40P01, MySQL 1213).
    Deadlock,
    /// A serializable transaction could not be serialized (40001).
    Serialization,
    /// A lock wait timed out (55P03, MySQL 1205).
    LockTimeout,
    /// A unique or primary key constraint was violated.
    UniqueViolation,
    /// A foreign key constraint was violated.
    ForeignKeyViolation,
    /// A NOT NULL constraint was violated.
    NotNullViolation,
    /// A CHECK constraint was violated.
    CheckViolation,
    /// The SQL could not be parsed, or names an unknown object.
    Syntax,
    /// A value could not be converted between the database and Rust.
    Decode,
    /// A bound value does not fit the column or parameter type.
    Encode,
    /// A configuration value or URL is invalid.
    Config,
    /// The operation was cancelled (for example by a server-side cancel).
    Cancelled,
    /// The operation is not supported by this backend.
    Unsupported,
    /// Any other error reported by the database server.
    Database,
    /// A local I/O error (files, sockets outside a connection).
    Io,
    /// A bug or an invariant broken inside Covet.
    Internal,
}

impl ErrorKind {
    /// A short stable name, used as a metrics label (`"unique_violation"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connection => "connection",
            ErrorKind::Auth => "auth",
            ErrorKind::Timeout => "timeout",
            ErrorKind::PoolTimeout => "pool_timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::TooManyConnections => "too_many_connections",
            ErrorKind::Deadlock => "deadlock",
            ErrorKind::Serialization => "serialization",
            ErrorKind::LockTimeout => "lock_timeout",
            ErrorKind::UniqueViolation => "unique_violation",
            ErrorKind::ForeignKeyViolation => "foreign_key_violation",
            ErrorKind::NotNullViolation => "not_null_violation",
            ErrorKind::CheckViolation => "check_violation",
            ErrorKind::Syntax => "syntax",
            ErrorKind::Decode => "decode",
            ErrorKind::Encode => "encode",
            ErrorKind::Config => "config",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Database => "database",
            ErrorKind::Io => "io",
            ErrorKind::Internal => "internal",
        }
    }

    /// The retry class this kind implies when nothing more is known.
    pub fn default_retry_class(self) -> RetryClass {
        match self {
            ErrorKind::Connection => RetryClass::Reconnect,
            ErrorKind::PoolTimeout | ErrorKind::TooManyConnections => RetryClass::BackOff,
            ErrorKind::Deadlock | ErrorKind::Serialization => RetryClass::RetryTransaction,
            ErrorKind::LockTimeout => RetryClass::RetryStatement,
            // A statement that timed out may have run to completion on the
            // server before the cancel arrived: its outcome is unknown.
            ErrorKind::Timeout => RetryClass::Ambiguous,
            _ => RetryClass::Never,
        }
    }

    /// Whether this kind means the database (or the path to it) is unwell,
    /// as opposed to the caller having sent something wrong. Circuit breakers
    /// count only these by default.
    pub fn is_outage(self) -> bool {
        matches!(
            self,
            ErrorKind::Connection
                | ErrorKind::Timeout
                | ErrorKind::PoolTimeout
                | ErrorKind::TooManyConnections
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a retry layer may do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryClass {
    /// Repeating cannot help (constraint, syntax, decode, config errors).
    Never,
    /// The connection is gone before the statement reached the server, or the
    /// server rejected it without running it: reconnect and try again.
    Reconnect,
    /// The whole transaction must be re-run (deadlock, serialization failure).
    RetryTransaction,
    /// The single statement can be re-run (lock wait timeout).
    RetryStatement,
    /// The server is overloaded: wait longer before trying again.
    BackOff,
    /// The outcome is unknown (failure during COMMIT, a timeout): repeat only
    /// statements marked idempotent.
    Ambiguous,
}

impl RetryClass {
    /// A short stable name, used as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryClass::Never => "never",
            RetryClass::Reconnect => "reconnect",
            RetryClass::RetryTransaction => "retry_transaction",
            RetryClass::RetryStatement => "retry_statement",
            RetryClass::BackOff => "back_off",
            RetryClass::Ambiguous => "ambiguous",
        }
    }
}

/// The server's own error code, kept so callers can match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerCode {
    /// A five-character SQLSTATE (PostgreSQL, and MySQL's SQLSTATE column).
    SqlState([u8; 5]),
    /// A MySQL / MariaDB error number (for example 1062).
    MySql(u16),
    /// An SQLite extended result code (for example 2067).
    Sqlite(i32),
}

impl ServerCode {
    /// Builds a SQLSTATE code; `None` unless `code` is five ASCII characters.
    pub fn sqlstate(code: &str) -> Option<Self> {
        let bytes: [u8; 5] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_alphanumeric)
            .then_some(ServerCode::SqlState(bytes))
    }
}

impl fmt::Display for ServerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Constructed only from ASCII, so this cannot fail.
            ServerCode::SqlState(b) => f.write_str(std::str::from_utf8(b).unwrap_or("?????")),
            ServerCode::MySql(n) => write!(f, "{n}"),
            ServerCode::Sqlite(n) => write!(f, "SQLITE {n}"),
        }
    }
}

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Covet's error: a kind to act on, a message for people, the server code
/// when there is one, and the underlying cause.
///
/// Messages never contain passwords or bound parameter values; adapters are
/// responsible for building them from sanitized parts.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    code: Option<ServerCode>,
    retry: Option<RetryClass>,
    source: Option<BoxError>,
}

impl Error {
    /// An error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                code: None,
                retry: None,
                source: None,
            }),
        }
    }

    /// Shorthand for a [`ErrorKind::Config`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    /// Shorthand for a [`ErrorKind::Decode`] error.
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }

    /// Shorthand for a [`ErrorKind::Unsupported`] error.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// Attaches the server's error code.
    #[must_use]
    pub fn with_code(mut self, code: ServerCode) -> Self {
        self.inner.code = Some(code);
        self
    }

    /// Attaches the underlying cause. Its `Display` must not contain secrets.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// Overrides the retry class derived from the kind (for example
    /// [`RetryClass::Ambiguous`] for a connection lost during COMMIT).
    #[must_use]
    pub fn with_retry_class(mut self, class: RetryClass) -> Self {
        self.inner.retry = Some(class);
        self
    }

    /// Prefixes the message with context (`"connecting to db.example:5432: "`).
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.inner.message = format!("{context}: {}", self.inner.message);
        self
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The server's error code, if the server reported one.
    pub fn code(&self) -> Option<ServerCode> {
        self.inner.code
    }

    /// The message, without the kind or code.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// What a retry layer may do about this error.
    pub fn retry_class(&self) -> RetryClass {
        self.inner
            .retry
            .unwrap_or_else(|| self.inner.kind.default_retry_class())
    }

    /// Shorthand for `self.kind().is_outage()`.
    pub fn is_outage(&self) -> bool {
        self.inner.kind.is_outage()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        if let Some(code) = &self.inner.code {
            write!(f, " (code {code})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(code) = &self.inner.code {
            d.field("code", &format_args!("{code}"));
        }
        d.field("retry", &self.retry_class());
        if let Some(source) = &self.inner.source {
            d.field("source", &format_args!("{source}"));
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn StdError + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io, e.to_string()).with_source(e)
    }
}

impl Error {
    /// A connection attempt that failed on its socket (refused, unknown
    /// host, unreachable, timed out), as [`ErrorKind::Connection`] with
    /// a message naming the cause in the same words for every engine.
    /// Adapters prefix it with where they tried to connect.
    ///
    /// ```
    /// use covet_core::{Error, ErrorKind};
    /// let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// let e = Error::from_connect_io(&io);
    /// assert_eq!(e.kind(), ErrorKind::Connection);
    /// assert!(e.message().starts_with("connection refused"), "{e}");
    /// ```
    pub fn from_connect_io(e: &std::io::Error) -> Error {
        use std::io::ErrorKind as Io;
        let text = e.to_string();
        // getaddrinfo failures carry no stable io::ErrorKind; std words
        // them this way on every Unix.
        const LOOKUP: &str = "failed to lookup address information: ";
        let message = if let Some(detail) = text.strip_prefix(LOOKUP) {
            let not_found = [
                "not known",
                "No address associated",
                "nodename nor servname",
            ]
            .iter()
            .any(|m| detail.contains(m));
            if not_found {
                format!("unknown host: the name does not resolve ({detail})")
            } else {
                format!("host name lookup failed ({detail})")
            }
        } else {
            match e.kind() {
                Io::ConnectionRefused => {
                    "connection refused: nothing is listening on that port".to_owned()
                }
                Io::TimedOut => "connection timed out: the host did not answer".to_owned(),
                Io::ConnectionReset => "connection reset by the server".to_owned(),
                Io::HostUnreachable => format!("host unreachable ({text})"),
                Io::NetworkUnreachable => format!("network unreachable ({text})"),
                Io::AddrNotAvailable => format!("address not available ({text})"),
                _ => text,
            }
        };
        Error::new(ErrorKind::Connection, message)
    }
}

/// Acquire failures of a covet-pool pool of Covet connections (cargo
/// feature `pool`).
#[cfg(feature = "pool")]
impl Error {
    /// Converts a failed [`covet_pool::Pool::get`] into the error callers
    /// see, the same way for every engine (`engine` only names it).
    ///
    /// The rule, written once so that one failure reads the same on every
    /// engine:
    ///
    /// - A timeout whose last connection attempt failed *definitely* (its
    ///   retry class is [`RetryClass::Never`]: a wrong password or unknown
    ///   user ([`ErrorKind::Auth`]), an unknown database, TLS required by
    ///   the client but not offered by the server ([`ErrorKind::Config`]),
    ///   a certificate that does not verify) reports that error's kind,
    ///   code and retry class. Waiting longer cannot help, so it is neither
    ///   retried nor counted as an outage by a circuit breaker (unless its
    ///   kind is an outage kind itself).
    /// - Any other timeout, whether the pool was only busy or the last
    ///   attempt failed transiently (refused, unknown host, too many
    ///   connections, a connect timeout), is [`ErrorKind::PoolTimeout`]
    ///   with [`RetryClass::BackOff`]: the statement never reached the
    ///   server, so trying again later is safe even when it is not
    ///   idempotent. The last connect error stays in the message and as the
    ///   source.
    /// - A closed pool is [`ErrorKind::Closed`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use covet_core::{Engine, Error, ErrorKind, RetryClass};
    /// use covet_pool::PoolError;
    ///
    /// let auth = Error::new(ErrorKind::Auth, "password authentication failed");
    /// let e = Error::from_pool(
    ///     PoolError::Timeout { waited: Duration::from_secs(1), last_error: Some(auth.into()) },
    ///     Engine::Postgres,
    /// );
    /// assert_eq!((e.kind(), e.retry_class()), (ErrorKind::Auth, RetryClass::Never));
    ///
    /// let refused = Error::new(ErrorKind::Connection, "connection refused");
    /// let e = Error::from_pool(
    ///     PoolError::Timeout { waited: Duration::from_secs(1), last_error: Some(refused.into()) },
    ///     Engine::MySql,
    /// );
    /// assert_eq!((e.kind(), e.retry_class()), (ErrorKind::PoolTimeout, RetryClass::BackOff));
    /// ```
    pub fn from_pool(e: covet_pool::PoolError<Error>, engine: crate::Engine) -> Error {
        use covet_pool::PoolError;
        let name = engine_name(engine);
        match e {
            PoolError::Timeout {
                waited,
                last_error: Some(last),
            } if last.retry_class() == RetryClass::Never => {
                let mut out = Error::new(
                    last.kind(),
                    format!("no {name} connection within {waited:?}: {}", last.message()),
                )
                .with_retry_class(RetryClass::Never);
                if let Some(code) = last.code() {
                    out = out.with_code(code);
                }
                out.with_source(last)
            }
            PoolError::Timeout {
                waited,
                last_error: Some(last),
            } => Error::new(
                ErrorKind::PoolTimeout,
                format!(
                    "no {name} connection within {waited:?}; last connect error: {}",
                    last.message()
                ),
            )
            .with_source(last),
            PoolError::Timeout {
                waited,
                last_error: None,
            } => Error::new(
                ErrorKind::PoolTimeout,
                format!("no {name} connection became free within {waited:?}"),
            ),
            PoolError::Closed => Error::new(
                ErrorKind::Closed,
                format!("the {name} pool has been closed"),
            ),
            other => Error::new(ErrorKind::Internal, format!("{name} pool: {other}")),
        }
    }
}

#[cfg(feature = "pool")]
fn engine_name(engine: crate::Engine) -> &'static str {
    match engine {
        crate::Engine::Postgres => "PostgreSQL",
        crate::Engine::MySql => "MySQL",
        crate::Engine::Sqlite => "SQLite",
    }
}

/// `Result` with Covet's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_class_follows_kind_unless_overridden() {
        let e = Error::new(ErrorKind::Deadlock, "deadlock detected");
        assert_eq!(e.retry_class(), RetryClass::RetryTransaction);
        let e = Error::new(ErrorKind::Connection, "lost during COMMIT")
            .with_retry_class(RetryClass::Ambiguous);
        assert_eq!(e.retry_class(), RetryClass::Ambiguous);
        assert_eq!(
            Error::new(ErrorKind::UniqueViolation, "dup").retry_class(),
            RetryClass::Never
        );
    }

    #[test]
    fn display_includes_code() {
        let e = Error::new(ErrorKind::UniqueViolation, "duplicate key")
            .with_code(ServerCode::sqlstate("23505").unwrap());
        assert_eq!(e.to_string(), "duplicate key (code 23505)");
        assert_eq!(ServerCode::sqlstate("2350"), None);
        assert_eq!(ServerCode::MySql(1062).to_string(), "1062");
    }

    #[test]
    fn connect_io_errors_name_their_cause() {
        use std::io;
        let refused = Error::from_connect_io(&io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(refused.kind(), ErrorKind::Connection);
        assert_eq!(refused.retry_class(), RetryClass::Reconnect);
        assert!(
            refused.message().contains("connection refused"),
            "{refused}"
        );
        // What std's lookup_host returns for a name that does not resolve.
        let dns =
            io::Error::other("failed to lookup address information: Name or service not known");
        let e = Error::from_connect_io(&dns);
        assert_eq!(e.kind(), ErrorKind::Connection);
        assert!(e.message().starts_with("unknown host"), "{e}");
        assert!(e.message().contains("Name or service not known"), "{e}");
        let again = io::Error::other(
            "failed to lookup address information: Temporary failure in name resolution",
        );
        let e = Error::from_connect_io(&again);
        assert!(e.message().starts_with("host name lookup failed"), "{e}");
        let timed_out = Error::from_connect_io(&io::Error::from(io::ErrorKind::TimedOut));
        assert!(timed_out.message().contains("timed out"), "{timed_out}");
    }

    #[test]
    fn outage_kinds() {
        assert!(ErrorKind::Connection.is_outage());
        assert!(!ErrorKind::UniqueViolation.is_outage());
        assert!(!ErrorKind::Syntax.is_outage());
    }
}

#[cfg(all(test, feature = "pool"))]
mod pool_tests {
    use std::time::Duration;

    use covet_pool::PoolError;
    use proptest::prelude::*;

    use super::*;
    use crate::Engine;

    const KINDS: [ErrorKind; 23] = [
        ErrorKind::Connection,
        ErrorKind::Auth,
        ErrorKind::Timeout,
        ErrorKind::PoolTimeout,
        ErrorKind::Closed,
        ErrorKind::CircuitOpen,
        ErrorKind::TooManyConnections,
        ErrorKind::Deadlock,
        ErrorKind::Serialization,
        ErrorKind::LockTimeout,
        ErrorKind::UniqueViolation,
        ErrorKind::ForeignKeyViolation,
        ErrorKind::NotNullViolation,
        ErrorKind::CheckViolation,
        ErrorKind::Syntax,
        ErrorKind::Decode,
        ErrorKind::Encode,
        ErrorKind::Config,
        ErrorKind::Cancelled,
        ErrorKind::Unsupported,
        ErrorKind::Database,
        ErrorKind::Io,
        ErrorKind::Internal,
    ];

    const CLASSES: [RetryClass; 6] = [
        RetryClass::Never,
        RetryClass::Reconnect,
        RetryClass::RetryTransaction,
        RetryClass::RetryStatement,
        RetryClass::BackOff,
        RetryClass::Ambiguous,
    ];

    const ENGINES: [Engine; 3] = [Engine::Postgres, Engine::MySql, Engine::Sqlite];

    fn timeout(last: Option<Error>) -> PoolError<Error> {
        PoolError::Timeout {
            waited: Duration::from_millis(250),
            last_error: last.map(Into::into),
        }
    }

    proptest! {
        /// The rule, for every kind and retry class a connect error can
        /// carry: a definite failure keeps its kind, code and `Never`; any
        /// other is a `PoolTimeout` to back off from. Which engine the
        /// pool belongs to never changes the outcome.
        #[test]
        fn a_pool_timeout_reads_the_same_on_every_engine(
            kind in proptest::sample::select(KINDS.to_vec()),
            class in proptest::option::of(proptest::sample::select(CLASSES.to_vec())),
            code in proptest::option::of(1u16..5000),
            message in "[a-z ]{1,30}",
        ) {
            let make = || {
                let mut e = Error::new(kind, message.clone());
                if let Some(c) = class {
                    e = e.with_retry_class(c);
                }
                if let Some(c) = code {
                    e = e.with_code(ServerCode::MySql(c));
                }
                e
            };
            let definite = make().retry_class() == RetryClass::Never;
            let mut seen = Vec::new();
            for engine in ENGINES {
                let e = Error::from_pool(timeout(Some(make())), engine);
                if definite {
                    prop_assert_eq!(e.kind(), kind);
                    prop_assert_eq!(e.retry_class(), RetryClass::Never);
                    prop_assert_eq!(e.code(), code.map(ServerCode::MySql));
                    prop_assert_eq!(e.is_outage(), kind.is_outage());
                } else {
                    prop_assert_eq!(e.kind(), ErrorKind::PoolTimeout);
                    prop_assert_eq!(e.retry_class(), RetryClass::BackOff);
                }
                prop_assert!(e.message().contains(message.as_str()), "{}", e);
                prop_assert!(e.source().is_some());
                prop_assert!(!e.message().contains('\n'));
                seen.push((e.kind(), e.retry_class(), e.code()));
            }
            seen.dedup();
            prop_assert_eq!(seen.len(), 1);
        }
    }

    #[test]
    fn wrong_password_while_waiting_is_auth_not_a_pool_timeout() {
        let auth = Error::new(
            ErrorKind::Auth,
            "password authentication failed for user app",
        )
        .with_code(ServerCode::sqlstate("28P01").unwrap());
        let e = Error::from_pool(timeout(Some(auth)), Engine::Postgres);
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(e.retry_class(), RetryClass::Never);
        assert!(!e.is_outage());
        assert_eq!(e.code(), ServerCode::sqlstate("28P01"));
        assert!(e.message().contains("PostgreSQL"), "{e}");
        assert!(
            e.message().contains("password authentication failed"),
            "{e}"
        );
    }

    #[test]
    fn busy_pool_and_closed_pool() {
        for engine in ENGINES {
            let e = Error::from_pool(timeout(None), engine);
            assert_eq!(e.kind(), ErrorKind::PoolTimeout);
            assert_eq!(e.retry_class(), RetryClass::BackOff);
            assert!(e.is_outage());
            assert!(e.message().contains("250ms"), "{e}");
            let e = Error::from_pool(PoolError::Closed, engine);
            assert_eq!(e.kind(), ErrorKind::Closed);
            assert_eq!(e.retry_class(), RetryClass::Never);
        }
    }
}
