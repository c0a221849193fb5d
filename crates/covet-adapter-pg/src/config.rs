//! Connection settings: from a URL or built in code.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use covet_core::{DatabaseUrl, Engine, Error, PoolSettings, Result, Secret};

/// How TLS is negotiated, named as libpq names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Use TLS when the server offers it, without verifying its certificate
    /// (libpq's default).
    #[default]
    Prefer,
    /// Require TLS, but do not verify the certificate chain or host name
    /// (protects against passive eavesdropping only).
    Require,
    /// Require TLS and verify the certificate chain (against `sslrootcert`,
    /// else the public web roots), but not the host name.
    VerifyCa,
    /// Require TLS and verify the chain (against `sslrootcert`, else the
    /// public web roots) and that the certificate names the host.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling (`disable`, `prefer`, `require`, `verify-ca`,
    /// `verify-full`).
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

impl FromStr for SslMode {
    type Err = Error;

    /// Parses libpq's spelling: `disable`, `prefer`, `require`,
    /// `verify-ca` or `verify-full`; anything else is a [`covet_core::ErrorKind::Config`]
    /// error naming it.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(Error::config(format!(
                "sslmode `{}` is not supported (expected disable, prefer, require, verify-ca or verify-full)",
                other.chars().take(30).collect::<String>()
            ))),
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The URL parameters this adapter reads besides [`PoolSettings::KEYS`].
pub(crate) const PG_KEYS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "application_name",
    "options",
    "statement_cache_capacity",
];

/// Everything [`crate::PgAdapter`] needs to connect.
///
/// Built from a URL with [`PgConfig::from_url`], or in code from
/// [`PgConfig::default`] with the setters; [`crate::PgAdapter::connect_with`]
/// connects with it. `Debug` never shows the password.
///
/// ```
/// use covet_adapter_pg::{PgConfig, SslMode};
/// let cfg = PgConfig::default()
///     .host("db.internal")
///     .user("app")
///     .password("hunter2")
///     .database("shop")
///     .ssl_mode(SslMode::Require)
///     .max_connections(20)
///     .statement_cache_capacity(200);
/// assert!(!format!("{cfg:?}").contains("hunter2"));
/// ```
#[derive(Debug, Clone)]
pub struct PgConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) password: Option<Secret>,
    pub(crate) database: Option<String>,
    pub(crate) ssl_mode: SslMode,
    pub(crate) ssl_root_cert: Option<PathBuf>,
    pub(crate) application_name: Option<String>,
    pub(crate) options: Option<String>,
    pub(crate) statement_cache_capacity: usize,
    pub(crate) pool: PoolSettings,
    pub(crate) cancel_timeout: Duration,
}

impl Default for PgConfig {
    fn default() -> Self {
        PgConfig {
            host: "localhost".into(),
            port: 5432,
            user: "postgres".into(),
            password: None,
            database: None,
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
            application_name: Some("covet".into()),
            options: None,
            statement_cache_capacity: 100,
            pool: PoolSettings::default(),
            cancel_timeout: Duration::from_secs(5),
        }
    }
}

impl PgConfig {
    /// Reads a `postgres://` URL: host, port, user, password, database, the
    /// common pool and timeout parameters ([`PoolSettings::KEYS`]) and
    /// `sslmode`, `sslrootcert`, `application_name`, `options` (libpq's
    /// `-c name=value` server settings) and `statement_cache_capacity`.
    /// Any other parameter is a [`covet_core::ErrorKind::Config`] error
    /// naming it.
    pub fn from_url(url: &DatabaseUrl) -> Result<Self> {
        if url.engine() != Engine::Postgres {
            return Err(Error::config(format!(
                "the PostgreSQL adapter needs a postgres:// URL, not a {} one",
                url.engine()
            )));
        }
        for (key, _) in url.params() {
            if !PoolSettings::KEYS.contains(&key.as_str()) && !PG_KEYS.contains(&key.as_str()) {
                return Err(Error::config(format!(
                    "unknown URL parameter `{}` for PostgreSQL (known: {}, {})",
                    key.chars().take(40).collect::<String>(),
                    PG_KEYS.join(", "),
                    PoolSettings::KEYS.join(", ")
                )));
            }
        }
        let mut cfg = PgConfig {
            host: url.host().to_owned(),
            port: url.port(),
            user: url.user().unwrap_or("postgres").to_owned(),
            password: url.password().cloned(),
            database: url.database().map(str::to_owned),
            pool: PoolSettings::from_url(url)?,
            ..PgConfig::default()
        };
        if let Some(v) = url.param("sslmode") {
            cfg.ssl_mode = v.parse()?;
        }
        if let Some(v) = url.param("sslrootcert") {
            if v.is_empty() {
                return Err(Error::config("sslrootcert must name a PEM file"));
            }
            cfg.ssl_root_cert = Some(PathBuf::from(v));
        }
        if let Some(v) = url.param("application_name") {
            cfg.application_name = Some(v.to_owned());
        }
        if let Some(v) = url.param("options") {
            cfg.options = Some(v.to_owned());
        }
        if let Some(v) = url.param("statement_cache_capacity") {
            cfg.statement_cache_capacity = v.parse().map_err(|_| {
                Error::config(format!(
                    "statement_cache_capacity must be a whole number, not `{}`",
                    v.chars().take(30).collect::<String>()
                ))
            })?;
        }
        Ok(cfg)
    }

    /// The server's host name or IP address.
    #[must_use]
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The server's port (5432 by default).
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The user name (`postgres` by default).
    #[must_use]
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = user.into();
        self
    }

    /// The password.
    #[must_use]
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(Secret::new(password));
        self
    }

    /// The database name (the user name when unset, as libpq does).
    #[must_use]
    pub fn database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// The TLS mode.
    #[must_use]
    pub fn ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = mode;
        self
    }

    /// A PEM file of root certificates that `verify-ca` and `verify-full`
    /// trust instead of the public web roots.
    #[must_use]
    pub fn ssl_root_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ssl_root_cert = Some(path.into());
        self
    }

    /// The `application_name` the server shows in `pg_stat_activity`
    /// (`covet` by default).
    #[must_use]
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// Server settings sent at connection start, in libpq's `options`
    /// syntax (`-c search_path=app -c work_mem=64MB`).
    #[must_use]
    pub fn options(mut self, options: impl Into<String>) -> Self {
        self.options = Some(options.into());
        self
    }

    /// Prepared statements kept per connection (100 by default; 0 turns the
    /// cache off).
    #[must_use]
    pub fn statement_cache_capacity(mut self, n: usize) -> Self {
        self.statement_cache_capacity = n;
        self
    }

    /// The most connections the pool opens.
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.pool.max_connections = n;
        self
    }

    /// Replaces every pool and timeout setting at once.
    #[must_use]
    pub fn pool_settings(mut self, settings: PoolSettings) -> Self {
        self.pool = settings;
        self
    }

    /// The default statement timeout (none by default).
    #[must_use]
    pub fn statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool.statement_timeout = timeout;
        self
    }

    /// How long to wait for the server to acknowledge a cancel request
    /// after a statement timed out (5 s by default).
    #[must_use]
    pub fn cancel_timeout(mut self, timeout: Duration) -> Self {
        self.cancel_timeout = timeout;
        self
    }

    /// The pool and timeout settings.
    pub fn pool(&self) -> &PoolSettings {
        &self.pool
    }

    /// Where this configuration connects, for messages (`host:port/db`).
    pub fn target(&self) -> String {
        format!(
            "{}:{}/{}",
            self.host,
            self.port,
            self.database.as_deref().unwrap_or(&self.user)
        )
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.pool.max_connections == 0 {
            return Err(Error::config("max_connections must be at least 1"));
        }
        if self.pool.min_connections > self.pool.max_connections {
            return Err(Error::config(format!(
                "min_connections ({}) is larger than max_connections ({})",
                self.pool.min_connections, self.pool.max_connections
            )));
        }
        if self.ssl_root_cert.is_some()
            && !matches!(self.ssl_mode, SslMode::VerifyCa | SslMode::VerifyFull)
        {
            return Err(Error::config(
                "sslrootcert is only used with sslmode=verify-ca or verify-full",
            ));
        }
        Ok(())
    }

    pub(crate) fn driver_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .connect_timeout(self.pool.connect_timeout)
            .ssl_mode(match self.ssl_mode {
                SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
                SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                    tokio_postgres::config::SslMode::Require
                }
            });
        if let Some(pw) = &self.password {
            c.password(pw.expose());
        }
        if let Some(db) = &self.database {
            c.dbname(db);
        }
        if let Some(name) = &self.application_name {
            c.application_name(name);
        }
        if let Some(o) = &self.options {
            c.options(o);
        }
        c
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
    fn reads_pg_and_pool_parameters() {
        let c = PgConfig::from_url(&url(
            "postgres://app:pw@db:6543/shop?sslmode=require&application_name=svc&statement_cache_capacity=7&max_connections=3&statement_timeout=2s",
        ))
        .unwrap();
        assert_eq!(c.host, "db");
        assert_eq!(c.port, 6543);
        assert_eq!(c.user, "app");
        assert_eq!(c.database.as_deref(), Some("shop"));
        assert_eq!(c.ssl_mode, SslMode::Require);
        assert_eq!(c.application_name.as_deref(), Some("svc"));
        assert_eq!(c.statement_cache_capacity, 7);
        assert_eq!(c.pool.max_connections, 3);
        assert_eq!(c.pool.statement_timeout, Some(Duration::from_secs(2)));
        assert!(!format!("{c:?}").contains("pw@"));
        assert!(!format!("{c:?}").contains("\"pw\""));
    }

    #[test]
    fn ssl_mode_parses_what_it_displays() {
        for mode in [
            SslMode::Disable,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(mode.to_string(), mode.as_str());
            assert_eq!(mode.to_string().parse::<SslMode>().unwrap(), mode);
        }
        assert_eq!(SslMode::default(), SslMode::Prefer);
        let e = "verify_full".parse::<SslMode>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("`verify_full`"), "{e}");
    }

    #[test]
    fn unknown_parameter_is_named() {
        let e = PgConfig::from_url(&url("postgres://h/db?sslmod=require")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("`sslmod`"), "{e}");
    }

    #[test]
    fn bad_values_are_config_errors() {
        for q in [
            "sslmode=verify_ca",
            "sslmode=yes",
            "statement_cache_capacity=-1",
            "max_connections=0",
            "connect_timeout=fast",
        ] {
            let e = PgConfig::from_url(&url(&format!("postgres://h/db?{q}"))).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{q}");
        }
        let e = PgConfig::from_url(&url("mysql://h/db")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let c = PgConfig::from_url(&url("postgres://h/db?sslrootcert=/x.pem")).unwrap();
        assert_eq!(c.validate().unwrap_err().kind(), ErrorKind::Config);
    }

    proptest::proptest! {
        /// Whatever the password, from a setter or a URL, neither `Debug`
        /// nor `target()` shows it.
        #[test]
        fn debug_and_target_never_show_the_password(pw in "[ -~]{10,30}|\\PC{10,20}") {
            let coded = PgConfig::default().user("app").password(pw.clone());
            let encoded: String = pw.bytes().map(|b| format!("%{b:02X}")).collect();
            let parsed = PgConfig::from_url(&url(&format!("postgres://app:{encoded}@h/db"))).unwrap();
            // The URL carried the password itself, so the check below is not vacuous.
            proptest::prop_assert_eq!(parsed.password.as_ref().map(Secret::expose), Some(pw.as_str()));
            for cfg in [coded, parsed] {
                for text in [format!("{cfg:?}"), format!("{cfg:#?}"), cfg.target()] {
                    proptest::prop_assert!(!text.contains(pw.as_str()), "{}", text);
                    proptest::prop_assert!(!text.contains(&encoded), "{}", text);
                }
            }
        }
    }
}
