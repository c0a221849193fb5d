//! Settings read from an `sqlite://` URL.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use covet_core::{DatabaseUrl, Engine, Error, PoolSettings, SqliteTarget, parse_duration};

/// The URL parameters this adapter reads besides [`PoolSettings::KEYS`].
pub const SQLITE_KEYS: &[&str] = &[
    "busy_timeout",
    "journal_mode",
    "mode",
    "statement_cache_capacity",
    "foreign_keys",
];

const JOURNAL_MODES: &[&str] = &["delete", "truncate", "persist", "memory", "wal", "off"];

/// How the database file is opened (`mode=` in the URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// `ro`: read only; the file must exist.
    ReadOnly,
    /// `rw`: read and write; the file must exist.
    ReadWrite,
    /// `rwc` (default): read and write, created when missing.
    ReadWriteCreate,
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    File(PathBuf),
    /// A named in-memory database (memdb VFS) shared by the pool's
    /// connections; the string is the memdb name (`/covet-…`).
    Memory(String),
}

/// Everything the SQLite adapter reads from its URL.
#[derive(Debug, Clone)]
pub(crate) struct SqliteConfig {
    pub(crate) target: Target,
    pub(crate) mode: OpenMode,
    /// `None`: WAL for writable files, left alone otherwise.
    pub(crate) journal_mode: Option<String>,
    pub(crate) busy_timeout: Duration,
    pub(crate) statement_cache_capacity: usize,
    pub(crate) foreign_keys: bool,
    pub(crate) pool: PoolSettings,
}

static MEMORY_DBS: AtomicU64 = AtomicU64::new(0);

impl SqliteConfig {
    pub(crate) fn from_url(url: &DatabaseUrl) -> Result<Self, Error> {
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
        let pool = PoolSettings::from_url(url)?;
        let mode = match url.param("mode") {
            None | Some("rwc") => OpenMode::ReadWriteCreate,
            Some("rw") => OpenMode::ReadWrite,
            Some("ro") => OpenMode::ReadOnly,
            Some(other) => {
                return Err(Error::config(format!(
                    "mode must be ro, rw or rwc, not `{other}`"
                )));
            }
        };
        let journal_mode = match url.param("journal_mode") {
            None => None,
            Some(m) if JOURNAL_MODES.contains(&m.to_ascii_lowercase().as_str()) => {
                Some(m.to_ascii_lowercase())
            }
            Some(other) => {
                return Err(Error::config(format!(
                    "journal_mode must be one of {}, not `{other}`",
                    JOURNAL_MODES.join(", ")
                )));
            }
        };
        let busy_timeout = match url.param("busy_timeout") {
            None => Duration::from_secs(5),
            Some(v) => parse_duration(v).ok_or_else(|| {
                Error::config(format!(
                    "busy_timeout must be a duration such as 250ms or 5s, not `{v}`"
                ))
            })?,
        };
        let statement_cache_capacity = match url.param("statement_cache_capacity") {
            None => 128,
            Some(v) => v.parse().map_err(|_| {
                Error::config(format!(
                    "statement_cache_capacity must be a whole number, not `{v}`"
                ))
            })?,
        };
        let foreign_keys = match url.param("foreign_keys") {
            None | Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(other) => {
                return Err(Error::config(format!(
                    "foreign_keys must be on or off, not `{other}`"
                )));
            }
        };
        let target = match url.sqlite_target() {
            Some(SqliteTarget::File(p)) => Target::File(p.clone()),
            Some(SqliteTarget::Memory) => {
                if mode == OpenMode::ReadOnly {
                    return Err(Error::config(
                        "mode=ro makes no sense for sqlite::memory: (it starts empty)",
                    ));
                }
                Target::Memory(format!(
                    "/covet-{}-{}",
                    std::process::id(),
                    MEMORY_DBS.fetch_add(1, Ordering::Relaxed)
                ))
            }
            _ => return Err(Error::config("the sqlite URL names no database")),
        };
        Ok(SqliteConfig {
            target,
            mode,
            journal_mode,
            busy_timeout,
            statement_cache_capacity,
            foreign_keys,
            pool,
        })
    }

    /// The path for messages (`:memory:` for in-memory databases).
    pub(crate) fn display_path(&self) -> String {
        match &self.target {
            Target::File(p) => p.display().to_string(),
            Target::Memory(_) => ":memory:".to_owned(),
        }
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
        assert_eq!(c.journal_mode.as_deref(), Some("delete"));
        assert_eq!(c.pool.max_connections, 3);
        let a = cfg("sqlite::memory:").unwrap();
        let b = cfg("sqlite::memory:").unwrap();
        assert_ne!(a.target, b.target, "each memory URL is its own database");
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
