//! From driver errors to Covet's classified [`Error`].

use std::error::Error as StdError;

use covet_core::{Error, ErrorKind, RetryClass, ServerCode};

use crate::types::{DecodeError, EncodeError};

/// The kind a SQLSTATE implies (the table in the README).
pub(crate) fn sqlstate_kind(code: &str) -> ErrorKind {
    match code {
        "57P01" | "57P02" | "57P03" => ErrorKind::Connection,
        "40001" => ErrorKind::Serialization,
        "40P01" => ErrorKind::Deadlock,
        "55P03" => ErrorKind::LockTimeout,
        "53300" => ErrorKind::TooManyConnections,
        "23505" => ErrorKind::UniqueViolation,
        "23503" => ErrorKind::ForeignKeyViolation,
        "23502" => ErrorKind::NotNullViolation,
        "23514" => ErrorKind::CheckViolation,
        "57014" => ErrorKind::Cancelled,
        // invalid_catalog_name: the URL names a database that does not exist.
        "3D000" => ErrorKind::Config,
        c if c.starts_with("08") => ErrorKind::Connection,
        c if c.starts_with("42") => ErrorKind::Syntax,
        c if c.starts_with("28") => ErrorKind::Auth,
        _ => ErrorKind::Database,
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Converts a driver error. Server messages are kept, but never their DETAIL
/// (which quotes row values such as the duplicate key) and the driver error
/// is not attached as the source for the same reason.
pub(crate) fn from_pg(e: &tokio_postgres::Error) -> Error {
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        let kind = sqlstate_kind(code);
        let mut err = Error::new(kind, one_line(db.message()));
        if let Some(sc) = ServerCode::sqlstate(code) {
            err = err.with_code(sc);
        }
        return err;
    }
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(enc) = s.downcast_ref::<EncodeError>() {
            return Error::new(ErrorKind::Encode, one_line(&format!("{e}: {enc}")))
                .with_source(enc.clone());
        }
        if let Some(dec) = s.downcast_ref::<DecodeError>() {
            return Error::new(ErrorKind::Decode, one_line(&format!("{e}: {dec}")))
                .with_source(dec.clone());
        }
        source = s.source();
    }
    if e.is_closed() {
        return Error::new(
            ErrorKind::Connection,
            "the connection to PostgreSQL was closed",
        );
    }
    let text = one_line(&e.to_string());
    // The driver's own text names only the stage ("error connecting to
    // server"); the cause (refused, unknown host, reset) is in the source
    // chain, so it is kept.
    let causes = cause_text(e);
    let full = if causes.is_empty() {
        text.clone()
    } else {
        format!("{text}: {causes}")
    };
    let kind = if text.starts_with("error connecting")
        || text.starts_with("error communicating")
        || text.starts_with("error performing TLS")
        || text.starts_with("timeout waiting")
        || text.starts_with("connection closed")
    {
        ErrorKind::Connection
    } else {
        ErrorKind::Database
    };
    Error::new(kind, full)
}

/// The driver error's sources, outermost first, as one line.
fn cause_text(e: &tokio_postgres::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(one_line(&s.to_string()));
        // io::Error::source skips the error it wraps; reach it directly.
        source = match s.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => s.source(),
        };
    }
    parts.dedup();
    parts.join(": ")
}

/// The first `T` in the error's source chain, looking inside io::Errors.
fn find_cause<T: StdError + 'static>(e: &tokio_postgres::Error) -> Option<&T> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(t) = s.downcast_ref::<T>() {
            return Some(t);
        }
        source = match s.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => s.source(),
        };
    }
    None
}

/// Converts an error from opening a connection, where the failures are
/// classified the same as on every other engine: refused, unknown host and
/// timeouts are [`ErrorKind::Connection`]; a wrong password or unknown role
/// [`ErrorKind::Auth`]; TLS required but not offered by the server
/// [`ErrorKind::Config`]; a certificate that fails verification
/// [`ErrorKind::Connection`] that is never retried. The message names the
/// cause, never the password.
pub(crate) fn from_connect(e: &tokio_postgres::Error) -> Error {
    if e.as_db_error().is_some() {
        return from_pg(e);
    }
    let text = one_line(&e.to_string());
    let causes = cause_text(e);
    if text.starts_with("error performing TLS") {
        if causes.contains("server does not support TLS") {
            return Error::config(
                "the server does not offer TLS, but the sslmode requires it \
                 (use sslmode=prefer or disable, or enable TLS on the server)",
            );
        }
        if let Some(tls) = find_cause::<rustls::Error>(e) {
            return Error::new(
                ErrorKind::Connection,
                format!("TLS handshake failed: {}", one_line(&tls.to_string())),
            )
            .with_retry_class(RetryClass::Never);
        }
        if causes.contains("no hostname") {
            return Error::config(format!("TLS handshake failed: {causes}"));
        }
    }
    if text.starts_with("error connecting")
        && let Some(io) = find_cause::<std::io::Error>(e)
    {
        return Error::from_connect_io(io);
    }
    if text.starts_with("authentication error") {
        return Error::new(ErrorKind::Auth, format!("authentication failed: {causes}"));
    }
    if text.starts_with("invalid configuration") && causes.contains("password missing") {
        return Error::new(
            ErrorKind::Auth,
            "the server asks for a password and none was given",
        );
    }
    // Something answered, but not in PostgreSQL's protocol: usually the
    // port of another service. (A socket error has an OS error code.)
    let garbled = text.starts_with("unexpected message")
        || text.starts_with("error parsing response")
        || (text.starts_with("error communicating")
            && find_cause::<std::io::Error>(e).is_some_and(|io| io.raw_os_error().is_none()));
    if garbled {
        let detail = if causes.is_empty() {
            text
        } else {
            format!("{text}: {causes}")
        };
        return Error::new(
            ErrorKind::Connection,
            format!("{detail}; the server there does not speak PostgreSQL's protocol"),
        );
    }
    let err = from_pg(e);
    if err.kind() == ErrorKind::Database {
        Error::new(ErrorKind::Connection, err.message())
    } else {
        err
    }
}

/// An error seen while committing: when the server did not answer, the
/// outcome is unknown.
pub(crate) fn during_commit(e: Error) -> Error {
    if e.code().is_some() {
        // The server answered: the transaction is rolled back and the code
        // says whether re-running it can help.
        e.context("COMMIT failed")
    } else {
        e.context("COMMIT's outcome is unknown")
            .with_retry_class(RetryClass::Ambiguous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_kinds_and_retry_classes() {
        let cases = [
            ("08006", ErrorKind::Connection, RetryClass::Reconnect),
            ("08001", ErrorKind::Connection, RetryClass::Reconnect),
            ("57P01", ErrorKind::Connection, RetryClass::Reconnect),
            (
                "40001",
                ErrorKind::Serialization,
                RetryClass::RetryTransaction,
            ),
            ("40P01", ErrorKind::Deadlock, RetryClass::RetryTransaction),
            ("55P03", ErrorKind::LockTimeout, RetryClass::RetryStatement),
            ("53300", ErrorKind::TooManyConnections, RetryClass::BackOff),
            ("23505", ErrorKind::UniqueViolation, RetryClass::Never),
            ("23503", ErrorKind::ForeignKeyViolation, RetryClass::Never),
            ("23502", ErrorKind::NotNullViolation, RetryClass::Never),
            ("23514", ErrorKind::CheckViolation, RetryClass::Never),
            ("42601", ErrorKind::Syntax, RetryClass::Never),
            ("42P01", ErrorKind::Syntax, RetryClass::Never),
            ("28P01", ErrorKind::Auth, RetryClass::Never),
            ("28000", ErrorKind::Auth, RetryClass::Never),
            ("3D000", ErrorKind::Config, RetryClass::Never),
            ("22012", ErrorKind::Database, RetryClass::Never),
        ];
        for (code, kind, retry) in cases {
            assert_eq!(sqlstate_kind(code), kind, "{code}");
            assert_eq!(Error::new(kind, "x").retry_class(), retry, "{code}");
        }
    }

    #[test]
    fn commit_failures_without_server_answer_are_ambiguous() {
        let lost = during_commit(Error::new(ErrorKind::Connection, "closed"));
        assert_eq!(lost.retry_class(), RetryClass::Ambiguous);
        let ser = during_commit(
            Error::new(ErrorKind::Serialization, "could not serialize")
                .with_code(ServerCode::sqlstate("40001").unwrap()),
        );
        assert_eq!(ser.retry_class(), RetryClass::RetryTransaction);
    }

    #[test]
    fn one_line_messages() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
    }
}
