//! Connection settings: from a URL or built in code.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use covet_core::{DatabaseUrl, Engine, Error, PoolSettings, Result, Secret};

/// How the connection uses TLS, named as MySQL's own clients name it
/// (`mysql --ssl-mode=...`).
///
/// Parsing ignores case and also accepts libpq's spellings (`disable`,
/// `prefer`, `require`, `verify-ca`, `verify-full`), so one `sslmode` URL
/// parameter means the same on every Covet engine that has it.
///
/// ```
/// use covet_adapter_mysql::SslMode;
/// let mode: SslMode = "verify-full".parse()?;
/// assert_eq!(mode, SslMode::VerifyIdentity);
/// assert_eq!(mode.to_string(), "VERIFY_IDENTITY");
/// # Ok::<(), covet_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslMode {
    /// Never use TLS.
    Disabled,
    /// Use TLS when the server offers it (without verifying the
    /// certificate), else connect in the clear. The default.
    #[default]
    Preferred,
    /// Always use TLS; fail when the server has none. The certificate is
    /// not verified (encryption only).
    Required,
    /// Always use TLS and verify the certificate chain (against
    /// `ssl_root_cert`, else the Mozilla roots), but not the host name.
    VerifyCa,
    /// Always use TLS, verify the certificate chain and the host name.
    VerifyIdentity,
}

impl SslMode {
    /// MySQL's spelling (`VERIFY_IDENTITY`).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disabled => "DISABLED",
            SslMode::Preferred => "PREFERRED",
            SslMode::Required => "REQUIRED",
            SslMode::VerifyCa => "VERIFY_CA",
            SslMode::VerifyIdentity => "VERIFY_IDENTITY",
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
            "disabled" | "disable" => SslMode::Disabled,
            "preferred" | "prefer" => SslMode::Preferred,
            "required" | "require" => SslMode::Required,
            "verify_ca" | "verify-ca" => SslMode::VerifyCa,
            "verify_identity" | "verify-identity" | "verify-full" | "verify_full" => {
                SslMode::VerifyIdentity
            }
            _ => {
                return Err(Error::config(format!(
                    "sslmode must be one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, \
                     VERIFY_IDENTITY (or libpq's disable, prefer, require, verify-ca, \
                     verify-full), not `{}`",
                    s.chars().take(30).collect::<String>()
                )));
            }
        })
    }
}

/// The default capacity of each connection's prepared-statement cache.
pub(crate) const DEFAULT_STATEMENT_CACHE_CAPACITY: usize = 100;

/// The URL parameters this adapter reads in addition to
/// [`PoolSettings::KEYS`].
pub const MYSQL_KEYS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "application_name",
    "statement_cache_capacity",
];

/// Everything [`crate::MySqlAdapter`] needs to connect.
///
/// Built from a URL with [`MySqlConfig::from_url`], or in code from
/// [`MySqlConfig::default`] (`localhost:3306`) with the setters. `Debug`
/// never shows the password.
///
/// ```
/// use std::time::Duration;
/// use covet_adapter_mysql::{MySqlConfig, SslMode};
///
/// let config = MySqlConfig::default()
///     .host("db.internal")
///     .port(3307)
///     .user("app")
///     .password("s3cret")
///     .database("shop")
///     .ssl_mode(SslMode::Required)
///     .max_connections(20)
///     .statement_cache_capacity(200)
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
    pub(crate) ssl_root_cert: Option<PathBuf>,
    pub(crate) application_name: Option<String>,
    pub(crate) statement_cache_capacity: usize,
}

impl Default for MySqlConfig {
    /// `localhost:3306`, no user, no database, `sslmode=PREFERRED`, the
    /// default [`PoolSettings`] and a statement cache of 100.
    fn default() -> Self {
        MySqlConfig {
            host: "localhost".into(),
            port: 3306,
            user: None,
            password: None,
            database: None,
            pool: PoolSettings::default(),
            ssl_mode: SslMode::default(),
            ssl_root_cert: None,
            application_name: None,
            statement_cache_capacity: DEFAULT_STATEMENT_CACHE_CAPACITY,
        }
    }
}

impl MySqlConfig {
    /// The default settings for `host`: shorthand for
    /// `MySqlConfig::default().host(host)`.
    pub fn new(host: impl Into<String>) -> Self {
        MySqlConfig::default().host(host)
    }

    /// Reads a `mysql://` (or `mariadb://`) URL.
    ///
    /// Besides host, port, user, password and database it reads the
    /// common [`PoolSettings`] parameters and `sslmode`, `sslrootcert`,
    /// `application_name` and `statement_cache_capacity`. Any other
    /// parameter is a [`covet_core::ErrorKind::Config`] error naming it.
    pub fn from_url(url: &DatabaseUrl) -> Result<Self> {
        if url.engine() != Engine::MySql {
            return Err(Error::config(format!(
                "the MySQL adapter needs a mysql:// URL, not a {} one",
                url.engine()
            )));
        }
        for (key, _) in url.params() {
            if !PoolSettings::KEYS.contains(&key.as_str()) && !MYSQL_KEYS.contains(&key.as_str()) {
                // The names these options had before the adapters shared
                // one spelling: say what replaced them.
                let renamed = match key.as_str() {
                    "ssl_ca" => " (renamed `sslrootcert`)",
                    "statement_cache_size" => " (renamed `statement_cache_capacity`)",
                    _ => "",
                };
                return Err(Error::config(format!(
                    "unknown MySQL URL parameter `{}`{renamed} (known: {}, {})",
                    key.chars().take(40).collect::<String>(),
                    MYSQL_KEYS.join(", "),
                    PoolSettings::KEYS.join(", ")
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
        if let Some(v) = url.param("sslrootcert") {
            if v.is_empty() {
                return Err(Error::config("sslrootcert must name a PEM file"));
            }
            c.ssl_root_cert = Some(PathBuf::from(v));
        }
        if let Some(v) = url.param("application_name") {
            c.application_name = Some(v.to_owned());
        }
        if let Some(v) = url.param("statement_cache_capacity") {
            c.statement_cache_capacity = v.parse().map_err(|_| {
                Error::config(format!(
                    "statement_cache_capacity must be a whole number, not `{}`",
                    v.chars().take(30).collect::<String>()
                ))
            })?;
        }
        Ok(c)
    }

    /// The server's host name or IP address (`localhost` by default).
    #[must_use]
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
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
    /// `VERIFY_CA` / `VERIFY_IDENTITY` instead of the Mozilla roots.
    #[must_use]
    pub fn ssl_root_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_root_cert = Some(path.into());
        self
    }

    /// The name sent as the `program_name` connection attribute (visible
    /// in `performance_schema.session_connect_attrs`).
    #[must_use]
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// Prepared statements kept per connection (100 by default; 0 turns
    /// caching off: every statement is prepared and closed per call).
    #[must_use]
    pub fn statement_cache_capacity(mut self, n: usize) -> Self {
        self.statement_cache_capacity = n;
        self
    }

    /// The pool and timeout settings.
    pub fn pool(&self) -> &PoolSettings {
        &self.pool
    }

    /// Where this configuration connects, for messages: `host:port`
    /// (never the user's password).
    pub fn target(&self) -> String {
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
            "mysql://app:pw@db:3307/shop?sslmode=require&sslrootcert=/ca.pem&application_name=svc&statement_cache_capacity=7&max_connections=3",
        ))
        .unwrap();
        assert_eq!(c.host, "db");
        assert_eq!(c.port, 3307);
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("pw"));
        assert_eq!(c.database.as_deref(), Some("shop"));
        assert_eq!(c.ssl_mode, SslMode::Required);
        assert_eq!(c.ssl_root_cert, Some(PathBuf::from("/ca.pem")));
        assert_eq!(c.application_name.as_deref(), Some("svc"));
        assert_eq!(c.statement_cache_capacity, 7);
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
            "statement_cache_capacity=-1",
            "sslrootcert=",
            "max_connections=0",
        ] {
            let e = MySqlConfig::from_url(&url(&format!("mysql://h/db?{q}"))).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{q}");
        }
        let e = MySqlConfig::from_url(&url("postgres://h/db")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }

    #[test]
    fn old_parameter_names_say_what_replaced_them() {
        for (old, new) in [
            ("ssl_ca=/ca.pem", "`sslrootcert`"),
            ("statement_cache_size=7", "`statement_cache_capacity`"),
        ] {
            let e = MySqlConfig::from_url(&url(&format!("mysql://h/db?{old}"))).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{old}");
            assert!(e.message().contains(new), "{e}");
        }
    }

    #[test]
    fn ssl_mode_round_trips_and_accepts_libpq_spellings() {
        let all = [
            SslMode::Disabled,
            SslMode::Preferred,
            SslMode::Required,
            SslMode::VerifyCa,
            SslMode::VerifyIdentity,
        ];
        for m in all {
            assert_eq!(m.to_string().parse::<SslMode>().unwrap(), m);
            assert_eq!(m.as_str().to_lowercase().parse::<SslMode>().unwrap(), m);
        }
        let libpq = ["disable", "prefer", "require", "verify-ca", "verify-full"];
        for (s, m) in libpq.into_iter().zip(all) {
            assert_eq!(s.parse::<SslMode>().unwrap(), m, "{s}");
        }
        let e = "sometimes".parse::<SslMode>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("`sometimes`"), "{e}");
    }

    #[test]
    fn default_and_setters() {
        let c = MySqlConfig::default();
        assert_eq!(c.target(), "localhost:3306");
        assert_eq!(c.ssl_mode, SslMode::Preferred);
        assert_eq!(c.statement_cache_capacity, DEFAULT_STATEMENT_CACHE_CAPACITY);
        let c = c
            .host("::1")
            .port(3307)
            .ssl_root_cert("/ca.pem")
            .statement_cache_capacity(0)
            .max_connections(4);
        assert_eq!(c.target(), "[::1]:3307");
        assert_eq!(c.statement_cache_capacity, 0);
        assert_eq!(c.pool().max_connections, 4);
        assert_eq!(MySqlConfig::new("db").target(), "db:3306");
    }

    #[test]
    fn debug_hides_password() {
        let c = MySqlConfig::default().password("hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
