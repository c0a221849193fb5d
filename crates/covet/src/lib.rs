//! Covet in one dependency.
//!
//! [`connect`] picks the adapter from the URL's scheme (`postgres://`,
//! `mysql://` or `mariadb://`, `sqlite://`) and returns it as an
//! `Arc<dyn Adapter>`, so switching backends is a change of URL. Every type
//! of covet-core is re-exported here, and each adapter crate is reachable as
//! a module ([`pg`], [`mysql`], [`sqlite`]) for its engine-specific API.
//!
//! Cargo features `pg`, `mysql` and `sqlite` (all on by default) choose
//! which adapters are compiled in; a URL for one left out is a
//! [`ErrorKind::Config`] error that says which feature to enable.
//!
//! [`stack`] starts a [`StackBuilder`], the one place a layer stack is
//! composed: `Timeout -> Retry -> Breaker -> Metrics -> SlowLog -> adapter`,
//! one method per layer, plus [`StackBuilder::layer`] for a layer of your
//! own. Features `resilience` (timeout, retry, circuit breaker; the crate as
//! [`resilience`]) and `monitor` (metrics, slow-query log; the crate as
//! [`monitor`]) are on by default.
//!
//! ```no_run
//! # async fn demo() -> covet::Result<()> {
//! use covet::Statement;
//!
//! let db = covet::connect("sqlite://app.db").await?;
//! db.execute(&Statement::new("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT)")).await?;
//! let rows = db.query(&Statement::new("SELECT k, v FROM kv")).await?;
//! println!("{} rows from {}", rows.len(), db.engine());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

use std::sync::Arc;

pub use covet_core::*;

/// The PostgreSQL adapter crate.
#[cfg(feature = "pg")]
pub use covet_adapter_pg as pg;

/// The MySQL / MariaDB adapter crate.
#[cfg(feature = "mysql")]
pub use covet_adapter_mysql as mysql;

/// The SQLite adapter crate.
#[cfg(feature = "sqlite")]
pub use covet_adapter_sqlite as sqlite;

/// covet-resilience: the timeout, retry and circuit-breaker layers and
/// their settings (`RetryPolicy`, `CircuitBreaker`).
#[cfg(feature = "resilience")]
pub use covet_resilience as resilience;

/// covet-monitor: the slow-query log, metrics and tracing layers and their
/// settings (`SlowQueryLogger`, `MetricsLayer`).
#[cfg(feature = "monitor")]
pub use covet_monitor as monitor;

/// The ORM (feature `orm`): models, typed and dynamic queries, relations.
/// A model derived through the facade names it with
/// `#[covet(crate = "covet::orm")]`.
#[cfg(feature = "orm")]
pub use covet_orm as orm;

mod stack;
pub use stack::{StackBuilder, stack};

mod sealed {
    pub trait Sealed {}
}

/// Anything [`connect`] accepts as a URL: `&str`, `String` or
/// [`DatabaseUrl`] (owned or borrowed).
pub trait IntoDatabaseUrl: sealed::Sealed {
    /// Parses (or clones) the URL.
    fn into_database_url(self) -> Result<DatabaseUrl>;
}

impl sealed::Sealed for &str {}
impl IntoDatabaseUrl for &str {
    fn into_database_url(self) -> Result<DatabaseUrl> {
        DatabaseUrl::parse(self)
    }
}
impl sealed::Sealed for &String {}
impl IntoDatabaseUrl for &String {
    fn into_database_url(self) -> Result<DatabaseUrl> {
        DatabaseUrl::parse(self)
    }
}
impl sealed::Sealed for String {}
impl IntoDatabaseUrl for String {
    fn into_database_url(self) -> Result<DatabaseUrl> {
        DatabaseUrl::parse(&self)
    }
}
impl sealed::Sealed for &DatabaseUrl {}
impl IntoDatabaseUrl for &DatabaseUrl {
    fn into_database_url(self) -> Result<DatabaseUrl> {
        Ok(self.clone())
    }
}
impl sealed::Sealed for DatabaseUrl {}
impl IntoDatabaseUrl for DatabaseUrl {
    fn into_database_url(self) -> Result<DatabaseUrl> {
        Ok(self)
    }
}

#[cfg(not(all(feature = "pg", feature = "mysql", feature = "sqlite")))]
fn not_compiled(engine: Engine, feature: &str) -> Error {
    Error::config(format!(
        "support for {engine} was not compiled in: enable the `{feature}` feature of the covet crate"
    ))
}

/// Connects to the database at `url` with the adapter its scheme names.
///
/// A URL without a password gets one the way libpq and the MySQL client
/// find it: `PGPASSWORD`, then `PGPASSFILE` or `~/.pgpass` for PostgreSQL;
/// `MYSQL_PWD`, then the `[client]` group of `~/.my.cnf` for MySQL (see
/// [`DatabaseUrl::resolve_password`] for the rules). Use [`connect_with`]
/// to choose the sources, or to look nowhere.
///
/// The adapters open one connection at once, so a refused connection, a
/// wrong password or an unknown database is reported here, in one line that
/// never contains the password.
pub async fn connect(url: impl IntoDatabaseUrl) -> Result<Arc<dyn Adapter>> {
    connect_with(url, &PasswordSources::from_env()).await
}

/// [`connect`], taking a password that the URL leaves out from `sources`
/// only (`PasswordSources::default()` looks nowhere).
///
/// Files the lookup skipped (a pgpass file others can read, a world-writable
/// option file) are named in the error when the connection then fails, since
/// a library has nowhere else to say so.
///
/// ```no_run
/// # async fn demo() -> covet::Result<()> {
/// use covet::PasswordSources;
///
/// // The password comes from the first line of a mounted secret.
/// let sources = PasswordSources::from_env().password_file("/run/secrets/db-password");
/// let db = covet::connect_with("postgres://app@db.internal/shop", &sources).await?;
/// # Ok(()) }
/// ```
pub async fn connect_with(
    url: impl IntoDatabaseUrl,
    sources: &PasswordSources,
) -> Result<Arc<dyn Adapter>> {
    let found = url.into_database_url()?.resolve_password(sources)?;
    let skipped = found.warnings.join("; ");
    open(found.url).await.map_err(|e| {
        if skipped.is_empty() || e.kind() != ErrorKind::Auth {
            e
        } else {
            e.context(skipped)
        }
    })
}

async fn open(url: DatabaseUrl) -> Result<Arc<dyn Adapter>> {
    match url.engine() {
        #[cfg(feature = "pg")]
        Engine::Postgres => Ok(Arc::new(pg::PgAdapter::connect(&url).await?)),
        #[cfg(not(feature = "pg"))]
        Engine::Postgres => Err(not_compiled(Engine::Postgres, "pg")),
        #[cfg(feature = "mysql")]
        Engine::MySql => Ok(Arc::new(mysql::MySqlAdapter::connect(&url).await?)),
        #[cfg(not(feature = "mysql"))]
        Engine::MySql => Err(not_compiled(Engine::MySql, "mysql")),
        #[cfg(feature = "sqlite")]
        Engine::Sqlite => Ok(Arc::new(sqlite::SqliteAdapter::connect(&url).await?)),
        #[cfg(not(feature = "sqlite"))]
        Engine::Sqlite => Err(not_compiled(Engine::Sqlite, "sqlite")),
        #[allow(unreachable_patterns)]
        other => Err(Error::unsupported(format!("no adapter for {other}"))),
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_bad_url_is_a_config_error_without_the_password() {
        let Err(e) = super::connect("postgress://u:hunter2@h/db").await else {
            panic!("a bad scheme must not connect");
        };
        assert_eq!(e.kind(), super::ErrorKind::Config);
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    /// `connect` fills in a missing password from the sources: the
    /// explicit file is read (an empty one is refused before any network
    /// I/O), and a password in both the URL and a file is refused.
    #[tokio::test]
    async fn connect_with_reads_the_password_sources() {
        let dir = std::env::temp_dir().join(format!("covet-facade-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty");
        std::fs::write(&empty, "").unwrap();
        let sources = super::PasswordSources::default().password_file(&empty);
        let Err(e) = super::connect_with("postgres://u@127.0.0.1:1/db", &sources).await else {
            panic!("an empty password file must be refused");
        };
        assert!(e.to_string().contains("is empty"), "{e}");
        let Err(e) = super::connect_with("postgres://u:pw-in-url@127.0.0.1:1/db", &sources).await
        else {
            panic!("two passwords must be refused");
        };
        assert_eq!(e.kind(), super::ErrorKind::Config);
        assert!(!e.to_string().contains("pw-in-url"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// This crate's README examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The root README's examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct RootReadmeDoctests;
