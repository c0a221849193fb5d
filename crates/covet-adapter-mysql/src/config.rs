//! Connection settings: from a URL or built in code.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use covet_core::{DatabaseUrl, Engine, Error, PoolSettings, Result, Secret};

/// How the connection uses TLS, in the style of libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Use TLS when the server offers it (without verifying the
    /// certificate), else connect in the clear. The default.
    #[default]
    Prefer,
    /// Always use TLS; fail when the server has none. The certificate is
    /// not verified (encryption only).
    Require,
    /// Always use TLS and verify the certificate chain (against `ssl_ca`,
    /// else the Mozilla roots), but not the host name.
    VerifyCa,
    /// Always use TLS, verify the certificate chain and the host name.
    VerifyFull,
}

impl SslMode {
    /// The spelling used in URLs (`verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "disable" | "disabled" => SslMode::Disable,
            "prefer" | "preferred" => SslMode::Prefer,
            "require" | "required" => SslMode::Require,
            "verify-ca" | "verify_ca" => SslMode::VerifyCa,
            "verify-full" | "verify_full" | "verify_identity" => SslMode::VerifyFull,
            _ => {
                return Err(Error::config(format!(
                    "sslmode must be one of disable, prefer, require, verify-ca, verify-full, not `{s}`"
                )));
            }
        })
    }
}

/// The default size of each connection's prepared-statement cache.
pub const DEFAULT_STATEMENT_CACHE_SIZE: usize = 100;

/// The URL parameters this adapter reads in addition to
/// [`PoolSettings::KEYS`].
pub const MYSQL_KEYS: &[&str] = &[
    "sslmode",
    "ssl_ca",
    "application_name",
    "statement_cache_size",
];

/// Everything [`crate::MySqlAdapter`] needs to connect.
///
/// Built from a URL with [`MySqlConfig::from_url`] or in code:
///
/// ```
/// use std::time::Duration;
/// use covet_adapter_mysql::{MySqlConfig, SslMode};
///
/// let config = MySqlConfig::new("db.internal")
///     .port(3307)
///     .user("app")
///     .password("s3cret")
///     .database("shop")
///     .ssl_mode(SslMode::Require)
///     .max_connections(20)
///     .statement_timeout(Some(Duration::from_secs(2)));
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Debug, Clone)]
pub struct MySqlConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Secret>,
    pub(crate) database: Option<String>,
    pub(crate) pool: PoolSettings,
    pub(crate) ssl_mode: SslMode,
    pub(crate) ssl_ca: Option<PathBuf>,
    pub(crate) application_name: Option<String>,
    pub(crate) statement_cache_size: usize,
}

impl MySqlConfig {
    /// Settings for `host` on port 3306 with every other value at its
    /// default (no user, no database, `sslmode=prefer`).
    pub fn new(host: impl Into<String>) -> Self {
        MySqlConfig {
            host: host.into(),
            port: 3306,
            user: None,
            password: None,
            database: None,
            pool: PoolSettings::default(),
            ssl_mode: SslMode::default(),
            ssl_ca: None,
            application_name: None,
            statement_cache_size: DEFAULT_STATEMENT_CACHE_SIZE,
        }
    }

    /// Reads a `mysql://` (or `mariadb://`) URL.
    ///
    /// Besides host, port, user, password and database it reads the
    /// common [`PoolSettings`] parameters and `sslmode`, `ssl_ca`,
    /// `application_name` and `statement_cache_size`. Any other parameter is
    /// a [`covet_core::ErrorKind::Config`] error naming it.
    pub fn from_url(url: &DatabaseUrl) -> Result<Self> {
        if url.engine() != Engine::MySql {
            return Err(Error::config(format!(
                "the MySQL adapter needs a mysql:// URL, not a {} one",
                url.engine()
            )));
        }
        for (key, _) in url.params() {
            if !PoolSettings::KEYS.contains(&key.as_str()) && !MYSQL_KEYS.contains(&key.as_str()) {
                return Err(Error::config(format!(
                    "unknown MySQL URL parameter `{key}` (known: {}, {})",
                    PoolSettings::KEYS.join(", "),
                    MYSQL_KEYS.join(", ")
                )));
            }
        }
        let mut c = MySqlConfig::new(url.host());
        c.port = url.port();
        c.user = url.user().map(str::to_owned);
        c.password = url.password().cloned();
        c.database = url.database().filter(|d| !d.is_empty()).map(str::to_owned);
        c.pool = PoolSettings::from_url(url)?;
        if let Some(v) = url.param("sslmode") {
            c.ssl_mode = v.parse()?;
        }
        if let Some(v) = url.param("ssl_ca") {
            if v.is_empty() {
                return Err(Error::config("ssl_ca must name a PEM file"));
            }
            c.ssl_ca = Some(PathBuf::from(v));
        }
        if let Some(v) = url.param("application_name") {
            c.application_name = Some(v.to_owned());
        }
        if let Some(v) = url.param("statement_cache_size") {
            c.statement_cache_size = v.parse().map_err(|_| {
                Error::config(format!(
                    "statement_cache_size must be a whole number, not `{v}`"
                ))
            })?;
        }
        Ok(c)
    }

    /// The server port (default 3306).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The user name.
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// The password. It never appears in `Debug`, `Display` or errors.
    #[must_use]
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(Secret::new(password));
        self
    }

    /// The default database.
    #[must_use]
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// Replaces all pool and timeout settings.
    #[must_use]
    pub fn pool_settings(mut self, settings: PoolSettings) -> Self {
        self.pool = settings;
        self
    }

    /// The pool size limit.
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.pool.max_connections = n;
        self
    }

    /// The default per-statement timeout (`None`: no limit).
    #[must_use]
    pub fn statement_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
        self.pool.statement_timeout = timeout;
        self
    }

    /// The TLS mode.
    #[must_use]
    pub fn ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = mode;
        self
    }

    /// A PEM file with the certificate authorities to trust for
    /// `verify-ca` / `verify-full`.
    #[must_use]
    pub fn ssl_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_ca = Some(path.into());
        self
    }

    /// The name sent as the `program_name` connection attribute (visible
    /// in `performance_schema.session_connect_attrs`).
    #[must_use]
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// The size of each connection's prepared-statement cache (0 turns
    /// caching off: every statement is prepared and closed per call).
    #[must_use]
    pub fn statement_cache_size(mut self, n: usize) -> Self {
        self.statement_cache_size = n;
        self
    }

    /// The pool and timeout settings.
    pub fn settings(&self) -> &PoolSettings {
        &self.pool
    }

    /// The TLS mode.
    pub fn get_ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// `host:port`, for messages.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use covet_core::ErrorKind;

    fn url(s: &str) -> DatabaseUrl {
        s.parse().unwrap()
    }

    #[test]
    fn reads_url() {
        let c = MySqlConfig::from_url(&url(
            "mysql://app:pw@db:3307/shop?sslmode=require&application_name=svc&statement_cache_size=7&max_connections=3",
        ))
        .unwrap();
        assert_eq!(c.host, "db");
        assert_eq!(c.port, 3307);
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("pw"));
        assert_eq!(c.database.as_deref(), Some("shop"));
        assert_eq!(c.ssl_mode, SslMode::Require);
        assert_eq!(c.application_name.as_deref(), Some("svc"));
        assert_eq!(c.statement_cache_size, 7);
        assert_eq!(c.pool.max_connections, 3);
        assert!(!format!("{c:?}").contains("pw\""));
    }

    #[test]
    fn unknown_parameter_is_named() {
        let e = MySqlConfig::from_url(&url("mysql://h/db?sslmod=require")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("`sslmod`"), "{e}");
    }

    #[test]
    fn bad_values_are_config_errors() {
        for q in [
            "sslmode=sometimes",
            "statement_cache_size=-1",
            "max_connections=0",
        ] {
            let e = MySqlConfig::from_url(&url(&format!("mysql://h/db?{q}"))).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{q}");
        }
        let e = MySqlConfig::from_url(&url("postgres://h/db")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }

    #[test]
    fn debug_hides_password() {
        let c = MySqlConfig::new("h").password("hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
