//! SQLite result codes to covet's ErrorKind.

use std::time::Duration;

use covet_core::{Error, ErrorKind, RetryClass, ServerCode};
use rusqlite::ffi;

// Extended constraint codes (sqlite3.h), spelled out so the mapping reads
// as a table.
const CONSTRAINT_CHECK: i32 = 275;
const CONSTRAINT_FOREIGNKEY: i32 = 787;
const CONSTRAINT_NOTNULL: i32 = 1299;
const CONSTRAINT_PRIMARYKEY: i32 = 1555;
const CONSTRAINT_UNIQUE: i32 = 2067;
const CONSTRAINT_ROWID: i32 = 2579;

/// Messages of `SQLITE_ERROR` that mean the SQL is malformed or names
/// something that does not exist. SQLite reports both with the generic
/// code 1, so the message is the only signal.
const SYNTAX_MARKERS: &[&str] = &[
    "syntax error",
    "incomplete input",
    "unrecognized token",
    "no such table",
    "no such column",
    "no such function",
    "no such index",
    "no such savepoint",
    "no such collation",
    "ambiguous column name",
    "has no column named",
    "wrong number of arguments",
];

/// Maps a rusqlite error to covet's error. SQLite's messages name tables,
/// columns and constraints but never bound values, so they are kept.
pub(crate) fn from_rusqlite(e: rusqlite::Error) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(ref f, ref msg) => {
            let message = msg.clone().unwrap_or_else(|| f.to_string());
            let kind = classify(f.code, f.extended_code, &message);
            let mut err = Error::new(kind, format!("sqlite: {message}"))
                .with_code(ServerCode::Sqlite(f.extended_code));
            if kind == ErrorKind::LockTimeout {
                err = err.with_retry_class(RetryClass::RetryStatement);
            }
            err.with_source(e)
        }
        rusqlite::Error::SqlInputError {
            ref error,
            ref msg,
            offset,
            ..
        } => {
            let kind = classify(error.code, error.extended_code, msg);
            Error::new(kind, format!("sqlite: {msg} (at byte {offset} of the SQL)"))
                .with_code(ServerCode::Sqlite(error.extended_code))
                .with_source(e)
        }
        rusqlite::Error::InvalidParameterCount(given, expected) => Error::new(
            ErrorKind::Encode,
            format!("the statement has {expected} parameter(s) but {given} were bound"),
        ),
        rusqlite::Error::MultipleStatement => Error::new(
            ErrorKind::Unsupported,
            "the SQL holds more than one statement; only `execute` without parameters runs scripts",
        ),
        rusqlite::Error::InvalidColumnType(idx, ref name, ty) => Error::decode(format!(
            "column {idx} `{name}` holds {ty}, which cannot be read as requested"
        )),
        rusqlite::Error::Utf8Error(_) => {
            Error::decode("a TEXT value is not valid UTF-8").with_source(e)
        }
        rusqlite::Error::InvalidPath(ref p) => Error::new(
            ErrorKind::Config,
            format!("invalid SQLite database path {}", p.display()),
        ),
        other => Error::new(ErrorKind::Database, format!("sqlite: {other}")),
    }
}

fn classify(code: ffi::ErrorCode, extended: i32, message: &str) -> ErrorKind {
    use ffi::ErrorCode as C;
    match code {
        C::ConstraintViolation => match extended {
            CONSTRAINT_UNIQUE | CONSTRAINT_PRIMARYKEY | CONSTRAINT_ROWID => {
                ErrorKind::UniqueViolation
            }
            CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Database,
        },
        C::DatabaseBusy | C::DatabaseLocked => ErrorKind::LockTimeout,
        C::OperationInterrupted => ErrorKind::Cancelled,
        C::CannotOpen | C::SystemIoFailure | C::DiskFull | C::NotADatabase => ErrorKind::Io,
        C::PermissionDenied | C::AuthorizationForStatementDenied => ErrorKind::Auth,
        C::TypeMismatch | C::ParameterOutOfRange | C::TooBig => ErrorKind::Encode,
        C::Unknown if SYNTAX_MARKERS.iter().any(|m| message.contains(m)) => ErrorKind::Syntax,
        _ => ErrorKind::Database,
    }
}

/// The error a statement gets when its timeout expires.
pub(crate) fn timeout(limit: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!("sqlite: statement timed out after {limit:?} and was interrupted"),
    )
}

/// A blocking job that panicked or was cancelled by the runtime.
pub(crate) fn join(e: &tokio::task::JoinError) -> Error {
    Error::new(
        ErrorKind::Internal,
        format!("sqlite: the blocking task running the statement failed: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_codes_map_to_kinds() {
        let c = ffi::ErrorCode::ConstraintViolation;
        assert_eq!(classify(c, 2067, ""), ErrorKind::UniqueViolation);
        assert_eq!(classify(c, 1555, ""), ErrorKind::UniqueViolation);
        assert_eq!(classify(c, 787, ""), ErrorKind::ForeignKeyViolation);
        assert_eq!(classify(c, 1299, ""), ErrorKind::NotNullViolation);
        assert_eq!(classify(c, 275, ""), ErrorKind::CheckViolation);
        assert_eq!(
            classify(ffi::ErrorCode::DatabaseBusy, 5, ""),
            ErrorKind::LockTimeout
        );
        assert_eq!(
            classify(ffi::ErrorCode::Unknown, 1, "near \"SELEC\": syntax error"),
            ErrorKind::Syntax
        );
        assert_eq!(
            classify(ffi::ErrorCode::Unknown, 1, "no such table: x"),
            ErrorKind::Syntax
        );
        assert_eq!(
            classify(ffi::ErrorCode::Unknown, 1, "something else"),
            ErrorKind::Database
        );
    }
}
