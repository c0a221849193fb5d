//! Connection settings: from an `sqlite://` URL or built in code.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use covet_core::{DatabaseUrl, Engine, Error, PoolSettings, Result, SqliteTarget, parse_duration};

/// The URL parameters this adapter reads besides [`PoolSettings::KEYS`].
pub(crate) const SQLITE_KEYS: &[&str] = &[
    "busy_timeout",
    "journal_mode",
    "mode",
    "statement_cache_capacity",
    "foreign_keys",
];

/// How the database file is opened (`mode=` in the URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenMode {
    /// `ro`: read only; the file must exist.
    ReadOnly,
    /// `rw`: read and write; the file must exist.
    ReadWrite,
    /// `rwc` (default): read and write, created when missing.
    #[default]
    ReadWriteCreate,
}

impl OpenMode {
    /// SQLite's URI spelling: `ro`, `rw` or `rwc`.
    pub fn as_str(self) -> &'static str {
        match self {
            OpenMode::ReadOnly => "ro",
            OpenMode::ReadWrite => "rw",
            OpenMode::ReadWriteCreate => "rwc",
        }
    }
}

impl FromStr for OpenMode {
    type Err = Error;

    /// Parses `ro`, `rw` or `rwc`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ro" => Ok(OpenMode::ReadOnly),
            "rw" => Ok(OpenMode::ReadWrite),
            "rwc" => Ok(OpenMode::ReadWriteCreate),
            other => Err(Error::config(format!(
                "mode must be ro, rw or rwc, not `{}`",
                other.chars().take(30).collect::<String>()
            ))),
        }
    }
}

impl std::fmt::Display for OpenMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SQLite's rollback journal mode (`PRAGMA journal_mode`, `journal_mode=`
/// in the URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalMode {
    /// `delete`: the journal file is deleted at the end of each transaction.
    Delete,
    /// `truncate`: the journal file is truncated instead of deleted.
    Truncate,
    /// `persist`: the journal header is zeroed instead.
    Persist,
    /// `memory`: the journal is kept in memory.
    Memory,
    /// `wal`: write-ahead log; readers do not block the writer.
    Wal,
    /// `off`: no journal (no atomic rollback).
    Off,
}

impl JournalMode {
    const ALL: [JournalMode; 6] = [
        JournalMode::Delete,
        JournalMode::Truncate,
        JournalMode::Persist,
        JournalMode::Memory,
        JournalMode::Wal,
        JournalMode::Off,
    ];

    /// SQLite's spelling, as `PRAGMA journal_mode` reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalMode::Delete => "delete",
            JournalMode::Truncate => "truncate",
            JournalMode::Persist => "persist",
            JournalMode::Memory => "memory",
            JournalMode::Wal => "wal",
            JournalMode::Off => "off",
        }
    }
}

impl FromStr for JournalMode {
    type Err = Error;

    /// Parses SQLite's spelling, in any case.
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.to_ascii_lowercase();
        JournalMode::ALL
            .into_iter()
            .find(|m| m.as_str() == lower)
            .ok_or_else(|| {
                Error::config(format!(
                    "journal_mode must be one of {}, not `{}`",
                    JournalMode::ALL.map(JournalMode::as_str).join(", "),
                    s.chars().take(30).collect::<String>()
                ))
            })
    }
}

impl std::fmt::Display for JournalMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    File(PathBuf),
    /// A named in-memory database (memdb VFS) shared by the pool's
    /// connections. The name (`/covet-…`) is given by
    /// [`SqliteConfig::with_fresh_memory_name`] when an adapter is built,
    /// so one config connected twice still gives two databases; empty
    /// until then.
    Memory(String),
}

/// Everything [`crate::SqliteAdapter`] needs to open a database.
///
/// Built from a URL with [`SqliteConfig::from_url`], or in code from
/// [`SqliteConfig::default`] (a private in-memory database) with the
/// setters.
///
/// ```
/// use std::time::Duration;
/// use covet_adapter_sqlite::{JournalMode, OpenMode, SqliteConfig};
/// let cfg = SqliteConfig::default()
///     .path("data/app.db")
///     .open_mode(OpenMode::ReadWrite)
///     .journal_mode(JournalMode::Wal)
///     .busy_timeout(Duration::from_millis(250))
///     .max_connections(4)
///     .statement_cache_capacity(256);
/// assert_eq!(cfg.target(), "data/app.db");
/// assert_eq!(cfg.pool().max_connections, 4);
/// ```
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    pub(crate) target: Target,
    pub(crate) mode: OpenMode,
    /// `None`: WAL for writable files, left alone otherwise.
    pub(crate) journal_mode: Option<JournalMode>,
    pub(crate) busy_timeout: Duration,
    pub(crate) statement_cache_capacity: usize,
    pub(crate) foreign_keys: bool,
    pub(crate) pool: PoolSettings,
}

impl Default for SqliteConfig {
    fn default() -> Self {
        SqliteConfig {
            target: Target::Memory(String::new()),
            mode: OpenMode::ReadWriteCreate,
            journal_mode: None,
            busy_timeout: Duration::from_secs(5),
            statement_cache_capacity: 128,
            foreign_keys: true,
            pool: PoolSettings::default(),
        }
    }
}

static MEMORY_DBS: AtomicU64 = AtomicU64::new(0);

impl SqliteConfig {
    /// Reads an `sqlite://path` or `sqlite::memory:` URL: the common pool
    /// and timeout parameters ([`PoolSettings::KEYS`]) and `mode` (`ro`,
    /// `rw`, `rwc`), `journal_mode`, `busy_timeout`,
    /// `statement_cache_capacity` and `foreign_keys` (`on`, `off`). Any
    /// other parameter is a [`covet_core::ErrorKind::Config`] error naming
    /// it.
    pub fn from_url(url: &DatabaseUrl) -> Result<Self> {
        if url.engine() != Engine::Sqlite {
            return Err(Error::config(format!(
                "the SQLite adapter cannot open a {} URL",
                url.engine()
            )));
        }
        let unknown: Vec<&str> = url
            .params()
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| !PoolSettings::KEYS.contains(k) && !SQLITE_KEYS.contains(k))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::config(format!(
                "unknown SQLite URL parameter(s): {} (known: {}, {})",
                unknown.join(", "),
                SQLITE_KEYS.join(", "),
                PoolSettings::KEYS.join(", ")
            )));
        }
        let mut cfg = SqliteConfig {
            pool: PoolSettings::from_url(url)?,
            ..SqliteConfig::default()
        };
        if let Some(v) = url.param("mode") {
            cfg.mode = v.parse()?;
        }
        if let Some(v) = url.param("journal_mode") {
            cfg.journal_mode = Some(v.parse()?);
        }
        if let Some(v) = url.param("busy_timeout") {
            cfg.busy_timeout = parse_duration(v).ok_or_else(|| {
                Error::config(format!(
                    "busy_timeout must be a duration such as 250ms or 5s, not `{v}`"
                ))
            })?;
        }
        if let Some(v) = url.param("statement_cache_capacity") {
            cfg.statement_cache_capacity = v.parse().map_err(|_| {
                Error::config(format!(
                    "statement_cache_capacity must be a whole number, not `{v}`"
                ))
            })?;
        }
        if let Some(v) = url.param("foreign_keys") {
            cfg.foreign_keys = match v {
                "on" | "true" | "1" => true,
                "off" | "false" | "0" => false,
                other => {
                    return Err(Error::config(format!(
                        "foreign_keys must be on or off, not `{other}`"
                    )));
                }
            };
        }
        cfg.target = match url.sqlite_target() {
            Some(SqliteTarget::File(p)) => Target::File(p.clone()),
            Some(SqliteTarget::Memory) => Target::Memory(String::new()),
            _ => return Err(Error::config("the sqlite URL names no database")),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The database file (relative paths are relative to the working
    /// directory).
    #[must_use]
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.target = Target::File(path.into());
        self
    }

    /// A private in-memory database shared by the adapter's pooled
    /// connections (the default). Each adapter built gets its own.
    #[must_use]
    pub fn in_memory(mut self) -> Self {
        self.target = Target::Memory(String::new());
        self
    }

    /// How the file is opened ([`OpenMode::ReadWriteCreate`] by default).
    #[must_use]
    pub fn open_mode(mut self, mode: OpenMode) -> Self {
        self.mode = mode;
        self
    }

    /// The journal mode set on each connection (by default WAL for
    /// writable files, with `synchronous = NORMAL`; left alone otherwise).
    #[must_use]
    pub fn journal_mode(mut self, mode: JournalMode) -> Self {
        self.journal_mode = Some(mode);
        self
    }

    /// How long a statement waits for another connection's lock (5 s by
    /// default).
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Whether foreign keys are enforced (`PRAGMA foreign_keys`; on by
    /// default).
    #[must_use]
    pub fn foreign_keys(mut self, on: bool) -> Self {
        self.foreign_keys = on;
        self
    }

    /// Prepared statements kept per connection (128 by default; 0 turns the
    /// cache off).
    #[must_use]
    pub fn statement_cache_capacity(mut self, n: usize) -> Self {
        self.statement_cache_capacity = n;
        self
    }

    /// Replaces every pool and timeout setting at once.
    #[must_use]
    pub fn pool_settings(mut self, settings: PoolSettings) -> Self {
        self.pool = settings;
        self
    }

    /// The most connections the pool opens.
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.pool.max_connections = n;
        self
    }

    /// The default statement timeout (none by default).
    #[must_use]
    pub fn statement_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool.statement_timeout = timeout;
        self
    }

    /// The pool and timeout settings.
    pub fn pool(&self) -> &PoolSettings {
        &self.pool
    }

    /// Where this configuration opens, for messages: the file's path, or
    /// `:memory:`.
    pub fn target(&self) -> String {
        match &self.target {
            Target::File(p) => p.display().to_string(),
            Target::Memory(_) => ":memory:".to_owned(),
        }
    }

    /// Checks the settings against each other.
    pub(crate) fn validate(&self) -> Result<()> {
        if matches!(self.target, Target::Memory(_)) && self.mode == OpenMode::ReadOnly {
            return Err(Error::config(
                "mode=ro makes no sense for an in-memory database (it starts empty)",
            ));
        }
        Ok(())
    }

    /// This config with a new, unique memdb name when it names an
    /// in-memory database: called once per adapter.
    pub(crate) fn with_fresh_memory_name(mut self) -> Self {
        if let Target::Memory(name) = &mut self.target {
            *name = format!(
                "/covet-{}-{}",
                std::process::id(),
                MEMORY_DBS.fetch_add(1, Ordering::Relaxed)
            );
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> Result<SqliteConfig, Error> {
        SqliteConfig::from_url(&url.parse()?)
    }

    #[test]
    fn defaults_and_params() {
        let c = cfg("sqlite://data/app.db").unwrap();
        assert_eq!(c.target, Target::File("data/app.db".into()));
        assert_eq!(c.mode, OpenMode::ReadWriteCreate);
        assert_eq!(c.busy_timeout, Duration::from_secs(5));
        assert!(c.foreign_keys);
        let c =
            cfg("sqlite://x.db?mode=ro&busy_timeout=250ms&journal_mode=DELETE&max_connections=3")
                .unwrap();
        assert_eq!(c.mode, OpenMode::ReadOnly);
        assert_eq!(c.busy_timeout, Duration::from_millis(250));
        assert_eq!(c.journal_mode, Some(JournalMode::Delete));
        assert_eq!(c.pool.max_connections, 3);
        let m = cfg("sqlite::memory:").unwrap();
        assert_eq!(m.target(), ":memory:");
        let a = m.clone().with_fresh_memory_name();
        let b = m.with_fresh_memory_name();
        assert_ne!(
            a.target, b.target,
            "each adapter gets its own memory database"
        );
    }

    #[test]
    fn bad_params_are_config_errors_naming_them() {
        let e = cfg("sqlite://x.db?frobnicate=1&colour=red").unwrap_err();
        assert_eq!(e.kind(), covet_core::ErrorKind::Config);
        assert!(e.to_string().contains("frobnicate, colour"), "{e}");
        for bad in [
            "sqlite://x.db?mode=rwx",
            "sqlite://x.db?journal_mode=fast",
            "sqlite://x.db?busy_timeout=soon",
            "sqlite://x.db?statement_cache_capacity=-1",
            "sqlite://x.db?foreign_keys=maybe",
            "sqlite://x.db?max_connections=0",
            "sqlite::memory:?mode=ro",
            "postgres://h/db",
        ] {
            let e = cfg(bad).unwrap_err();
            assert_eq!(e.kind(), covet_core::ErrorKind::Config, "{bad}");
        }
    }
}
