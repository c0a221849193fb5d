//! MySQL / MariaDB errors -> covet_core::Error.

use covet_core::{Error, ErrorKind, RetryClass, ServerCode, Value};
use mysql_async::{DriverError, IoError};

/// The kind a MySQL / MariaDB error number maps to.
///
/// The numbers are the server's (`ER_*`) and the client library's (`CR_*`,
/// 2000 and up) error codes; MariaDB-only numbers are noted.
pub(crate) fn kind_for_code(code: u16) -> ErrorKind {
    match code {
        // ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME, ER_DUP_KEY
        1062 | 1586 | 1022 => ErrorKind::UniqueViolation,
        // ER_ROW_IS_REFERENCED(_2), ER_NO_REFERENCED_ROW(_2)
        1451 | 1452 | 1216 | 1217 => ErrorKind::ForeignKeyViolation,
        // ER_BAD_NULL_ERROR, ER_NO_DEFAULT_FOR_FIELD
        1048 | 1364 => ErrorKind::NotNullViolation,
        // ER_CHECK_CONSTRAINT_VIOLATED (MySQL), ER_CONSTRAINT_FAILED (MariaDB)
        3819 | 4025 => ErrorKind::CheckViolation,
        // parse error, unknown table / column / function / procedure
        1064 | 1146 | 1054 | 1109 | 1051 | 1305 | 1149 | 1630 | 1091 | 1072 => ErrorKind::Syntax,
        // ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR
        1045 | 1698 => ErrorKind::Auth,
        // ER_BAD_DB_ERROR: the URL names a database that does not exist.
        1049 => ErrorKind::Config,
        1213 => ErrorKind::Deadlock,
        1205 => ErrorKind::LockTimeout,
        // ER_CON_COUNT_ERROR, ER_TOO_MANY_USER_CONNECTIONS, ER_USER_LIMIT_REACHED
        1040 | 1203 | 1226 => ErrorKind::TooManyConnections,
        // CR_SERVER_GONE_ERROR, CR_SERVER_LOST, ER_CONNECTION_KILLED,
        // ER_SERVER_SHUTDOWN, ER_NET_READ_ERROR.., ER_ABORTING_CONNECTION,
        // CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_SERVER_LOST_EXTENDED
        2006 | 2013 | 1927 | 1053 | 1158..=1161 | 1152 | 1184 | 2002 | 2003 | 2055 => {
            ErrorKind::Connection
        }
        // ER_QUERY_INTERRUPTED: someone ran KILL QUERY.
        1317 => ErrorKind::Cancelled,
        // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time),
        // ER_QUERY_TIMEOUT (MySQL max_execution_time)
        1969 | 3024 => ErrorKind::Timeout,
        // out of range, truncated, incorrect value, too long, bad datetime,
        // illegal parameter data type (MariaDB), invalid JSON text
        1264 | 1265 | 1366 | 1406 | 1292 | 1411 | 4078 | 3140 | 1367 => ErrorKind::Encode,
        // ER_UNSUPPORTED_PS
        1295 => ErrorKind::Unsupported,
        _ => ErrorKind::Database,
    }
}

/// Removes the value the server quotes in messages for duplicate keys and
/// bad values, since it is usually a bound parameter (which may be
/// personal data or a secret).
fn redact(code: u16, message: &str) -> String {
    let cut = |start: &str, end: &str| -> Option<String> {
        let s = message.find(start)? + start.len();
        let e = message.rfind(end)?;
        (e >= s).then(|| format!("{}***{}", &message[..s], &message[e..]))
    };
    let redacted = match code {
        1062 | 1586 => cut("entry '", "' for key"),
        1366 | 1292 | 1411 => cut("value: '", "' for"),
        _ => None,
    };
    redacted.unwrap_or_else(|| message.to_owned())
}

/// Converts a driver error.
pub(crate) fn from_driver(err: mysql_async::Error) -> Error {
    match err {
        mysql_async::Error::Server(e) => {
            let kind = kind_for_code(e.code);
            Error::new(kind, redact(e.code, &e.message)).with_code(ServerCode::MySql(e.code))
        }
        mysql_async::Error::Io(IoError::Io(e)) => {
            Error::new(ErrorKind::Connection, format!("connection error: {e}"))
        }
        mysql_async::Error::Io(IoError::Tls(e)) => {
            Error::new(ErrorKind::Connection, format!("TLS error: {e}"))
                .with_retry_class(RetryClass::Never)
        }
        mysql_async::Error::Driver(d) => from_driver_error(d),
        mysql_async::Error::Url(e) => Error::config(format!("invalid MySQL URL: {e}")),
        mysql_async::Error::Other(e) => Error::new(ErrorKind::Database, e.to_string()),
    }
}

fn from_driver_error(d: DriverError) -> Error {
    match d {
        DriverError::ConnectionClosed | DriverError::PacketOutOfOrder => Error::new(
            ErrorKind::Connection,
            format!("connection to the server was lost: {d}"),
        ),
        // The client's settings ask for what this server does not offer:
        // a configuration mismatch, not an outage, and the same kind the
        // PostgreSQL adapter reports for it.
        DriverError::NoClientSslFlagFromServer => Error::config(
            "the server does not offer TLS, but the sslmode requires it \
             (use sslmode=prefer or disable, or enable TLS on the server)",
        ),
        DriverError::UnknownAuthPlugin { .. }
        | DriverError::CleartextPluginDisabled
        | DriverError::MysqlOldPasswordDisabled => {
            Error::new(ErrorKind::Auth, format!("authentication failed: {d}"))
        }
        DriverError::StmtParamsMismatch { required, supplied } => Error::new(
            ErrorKind::Encode,
            format!("the statement has {required} placeholders but {supplied} values were bound"),
        ),
        DriverError::StmtParamsNumberExceedsLimit { supplied } => Error::new(
            ErrorKind::Encode,
            format!("MySQL allows at most 65,535 bound values per statement, not {supplied}"),
        ),
        DriverError::PacketTooLarge => Error::new(
            ErrorKind::Encode,
            "the statement is larger than the server's max_allowed_packet",
        ),
        other => Error::new(ErrorKind::Database, format!("MySQL driver error: {other}")),
    }
}

/// Whether the connection can no longer be trusted after `err`.
pub(crate) fn is_fatal(err: &mysql_async::Error) -> bool {
    match err {
        mysql_async::Error::Server(e) => {
            matches!(kind_for_code(e.code), ErrorKind::Connection) || e.code == 1153
        }
        _ => err.is_fatal(),
    }
}

/// Adds the bound parameter types to an encode error, so the message names
/// both the column (the server's part) and the value's type.
pub(crate) fn with_param_types(err: Error, params: &[Value]) -> Error {
    if err.kind() != ErrorKind::Encode || params.is_empty() {
        return err;
    }
    let types: Vec<&str> = params.iter().map(Value::type_name).collect();
    let code = err.code();
    let mut e = Error::new(
        ErrorKind::Encode,
        format!(
            "{} (bound value types: {})",
            err.message(),
            types.join(", ")
        ),
    );
    if let Some(c) = code {
        e = e.with_code(c);
    }
    e
}

/// Marks an error raised by COMMIT as [`RetryClass::Ambiguous`]: whatever
/// the error, the caller cannot be sure from it alone whether the
/// transaction's effects are durable (a connection lost after the server
/// committed looks the same as one lost before), so a retry layer must not
/// repeat non-idempotent work.
pub(crate) fn commit_error(e: Error) -> Error {
    e.with_retry_class(RetryClass::Ambiguous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16, message: &str) -> Error {
        from_driver(mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: message.into(),
            state: "HY000".into(),
        }))
    }

    #[test]
    fn classification_and_retry() {
        let cases = [
            (1062, ErrorKind::UniqueViolation, RetryClass::Never),
            (1451, ErrorKind::ForeignKeyViolation, RetryClass::Never),
            (1452, ErrorKind::ForeignKeyViolation, RetryClass::Never),
            (1048, ErrorKind::NotNullViolation, RetryClass::Never),
            (1364, ErrorKind::NotNullViolation, RetryClass::Never),
            (3819, ErrorKind::CheckViolation, RetryClass::Never),
            (4025, ErrorKind::CheckViolation, RetryClass::Never),
            (1064, ErrorKind::Syntax, RetryClass::Never),
            (1146, ErrorKind::Syntax, RetryClass::Never),
            (1054, ErrorKind::Syntax, RetryClass::Never),
            (1045, ErrorKind::Auth, RetryClass::Never),
            (1049, ErrorKind::Config, RetryClass::Never),
            (1213, ErrorKind::Deadlock, RetryClass::RetryTransaction),
            (1205, ErrorKind::LockTimeout, RetryClass::RetryStatement),
            (1040, ErrorKind::TooManyConnections, RetryClass::BackOff),
            (2006, ErrorKind::Connection, RetryClass::Reconnect),
            (2013, ErrorKind::Connection, RetryClass::Reconnect),
            (1927, ErrorKind::Connection, RetryClass::Reconnect),
            (1053, ErrorKind::Connection, RetryClass::Reconnect),
        ];
        for (code, kind, retry) in cases {
            let e = server(code, "x");
            assert_eq!(e.kind(), kind, "{code}");
            assert_eq!(e.retry_class(), retry, "{code}");
            assert_eq!(e.code(), Some(ServerCode::MySql(code)));
        }
    }

    #[test]
    fn duplicate_values_are_redacted() {
        let e = server(1062, "Duplicate entry 'alice@example.com' for key 'email'");
        assert_eq!(e.message(), "Duplicate entry '***' for key 'email'");
        let e = server(
            1366,
            "Incorrect integer value: 'secret' for column `d`.`t`.`n` at row 1",
        );
        assert!(!e.message().contains("secret"), "{e}");
        assert!(e.message().contains("`n`"), "{e}");
    }

    #[test]
    fn encode_errors_name_value_types() {
        let e = server(1264, "Out of range value for column 'n' at row 1");
        let e = with_param_types(e, &[Value::I64(1 << 40)]);
        assert_eq!(
            e.message(),
            "Out of range value for column 'n' at row 1 (bound value types: i64)"
        );
        assert_eq!(e.code(), Some(ServerCode::MySql(1264)));
    }
}
