//! From driver errors to Covet's classified [`Error`].

use std::error::Error as StdError;

use covet_core::{Error, ErrorKind, RetryClass, ServerCode};

use crate::types::{DecodeError, EncodeError};

/// The kind a SQLSTATE implies.
///
/// ```
/// use covet_adapter_pg::sqlstate_kind;
/// use covet_core::ErrorKind;
/// assert_eq!(sqlstate_kind("23505"), ErrorKind::UniqueViolation);
/// assert_eq!(sqlstate_kind("08006"), ErrorKind::Connection);
/// assert_eq!(sqlstate_kind("42P01"), ErrorKind::Syntax);
/// ```
pub fn sqlstate_kind(code: &str) -> ErrorKind {
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
    let text = one_line(&e.to_string());
    let kind = if e.is_closed()
        || text.starts_with("error connecting")
        || text.starts_with("error communicating")
        || text.starts_with("error performing TLS")
        || text.starts_with("timeout waiting")
        || text.starts_with("connection closed")
        || text.contains("server does not support TLS")
    {
        ErrorKind::Connection
    } else {
        ErrorKind::Database
    };
    let msg = if e.is_closed() {
        "the connection to PostgreSQL was closed".to_owned()
    } else {
        text
    };
    Error::new(kind, msg)
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
