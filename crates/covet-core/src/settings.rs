//! Connection settings every adapter reads from its URL the same way.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::url::DatabaseUrl;

/// Pool and timeout settings common to all adapters, read from URL query
/// parameters:
///
/// | parameter | meaning | default |
/// |---|---|---|
/// | `max_connections` | pool size limit | 10 |
/// | `min_connections` | connections kept open when idle | 0 |
/// | `acquire_timeout` | wait for a pooled connection | 30s |
/// | `connect_timeout` | open one connection | 10s |
/// | `statement_timeout` | default per-statement timeout | none |
/// | `idle_timeout` | close idle connections above the minimum after | 10m |
/// | `max_lifetime` | replace connections older than | 30m |
///
/// Durations are written `250ms`, `5s`, `2m`, `1h`, or a bare number of
/// seconds.
///
/// ```
/// use std::time::Duration;
/// use covet_core::{DatabaseUrl, PoolSettings};
/// let url: DatabaseUrl = "postgres://h/db?max_connections=4&statement_timeout=250ms".parse()?;
/// let s = PoolSettings::from_url(&url)?;
/// assert_eq!(s.max_connections, 4);
/// assert_eq!(s.statement_timeout, Some(Duration::from_millis(250)));
/// # Ok::<(), covet_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Pool size limit.
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long a caller waits for a pooled connection.
    pub acquire_timeout: Duration,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
    /// The default per-statement timeout.
    pub statement_timeout: Option<Duration>,
    /// Idle connections above the minimum close after this long.
    pub idle_timeout: Option<Duration>,
    /// Connections are replaced after this age.
    pub max_lifetime: Option<Duration>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            statement_timeout: None,
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
        }
    }
}

impl PoolSettings {
    /// The URL parameters this type reads; adapters treat any parameter that
    /// is neither one of these nor one of their own as an error.
    pub const KEYS: &'static [&'static str] = &[
        "max_connections",
        "min_connections",
        "acquire_timeout",
        "connect_timeout",
        "statement_timeout",
        "idle_timeout",
        "max_lifetime",
    ];

    /// Reads the settings from `url`, with a clear error for each bad value.
    pub fn from_url(url: &DatabaseUrl) -> Result<Self> {
        let mut s = PoolSettings::default();
        if let Some(v) = url.param("max_connections") {
            s.max_connections = parse_u32("max_connections", v)?;
            if s.max_connections == 0 {
                return Err(Error::config("max_connections must be at least 1"));
            }
        }
        if let Some(v) = url.param("min_connections") {
            s.min_connections = parse_u32("min_connections", v)?;
        }
        if s.min_connections > s.max_connections {
            return Err(Error::config(format!(
                "min_connections ({}) is larger than max_connections ({})",
                s.min_connections, s.max_connections
            )));
        }
        if let Some(v) = url.param("acquire_timeout") {
            s.acquire_timeout = parse_nonzero_duration("acquire_timeout", v)?;
        }
        if let Some(v) = url.param("connect_timeout") {
            s.connect_timeout = parse_nonzero_duration("connect_timeout", v)?;
        }
        if let Some(v) = url.param("statement_timeout") {
            s.statement_timeout = Some(parse_nonzero_duration("statement_timeout", v)?);
        }
        if let Some(v) = url.param("idle_timeout") {
            s.idle_timeout = Some(parse_nonzero_duration("idle_timeout", v)?);
        }
        if let Some(v) = url.param("max_lifetime") {
            s.max_lifetime = Some(parse_nonzero_duration("max_lifetime", v)?);
        }
        Ok(s)
    }
}

fn parse_u32(key: &str, v: &str) -> Result<u32> {
    v.parse()
        .map_err(|_| Error::config(format!("{key} must be a whole number, not `{v}`")))
}

fn parse_nonzero_duration(key: &str, v: &str) -> Result<Duration> {
    let d = parse_duration(v).ok_or_else(|| {
        Error::config(format!(
            "{key} must be a duration such as 250ms, 5s, 2m or 1h, not `{v}`"
        ))
    })?;
    if d.is_zero() {
        return Err(Error::config(format!("{key} must be greater than zero")));
    }
    Ok(d)
}

/// Parses `250ms`, `5s`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "us" => n / 1_000_000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

/// The one place where [`PoolSettings`] become a covet-pool [`Pool`]
/// (`pool` feature), so every adapter sizes, times and names its pool the
/// same way and reports its occupancy the same way.
///
/// [`Pool`]: covet_pool::Pool
#[cfg(feature = "pool")]
impl PoolSettings {
    /// Builds the pool for `manager`, named after the engine (the name
    /// labels the pool's metrics).
    ///
    /// Lifetimes are spread by up to a tenth of `max_lifetime` (at most
    /// 30 s), so any `max_lifetime` builds. SQLite connections are not
    /// validated on checkout: a local file handle cannot go stale the way
    /// a socket does, and a broken one is caught on return
    /// (`Manager::has_broken`).
    pub fn build_pool<M: covet_pool::Manager>(
        &self,
        manager: M,
        engine: crate::Engine,
    ) -> Result<covet_pool::Pool<M>> {
        let jitter = self.max_lifetime.map_or(Duration::from_secs(30), |l| {
            (l / 10).min(Duration::from_secs(30))
        });
        covet_pool::Pool::builder(manager)
            .max_size(self.max_connections)
            .min_idle(self.min_connections)
            .acquire_timeout(self.acquire_timeout)
            .create_timeout(self.connect_timeout)
            .idle_timeout(self.idle_timeout)
            .max_lifetime(self.max_lifetime)
            .lifetime_jitter(jitter)
            .validate_on_checkout(engine != crate::Engine::Sqlite)
            .name(match engine {
                crate::Engine::Postgres => "postgres",
                crate::Engine::MySql => "mysql",
                crate::Engine::Sqlite => "sqlite",
            })
            .build()
            .map_err(|e| Error::config(format!("invalid pool settings: {e}")))
    }
}

#[cfg(feature = "pool")]
impl From<covet_pool::State> for crate::PoolState {
    fn from(s: covet_pool::State) -> Self {
        crate::PoolState {
            size: s.size,
            idle: s.idle,
            in_use: s.in_use,
            waiters: s.waiters,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("5 parsecs"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn bad_settings_are_config_errors() {
        for q in [
            "max_connections=0",
            "max_connections=ten",
            "min_connections=5&max_connections=2",
            "acquire_timeout=0s",
            "connect_timeout=soon",
        ] {
            let url: DatabaseUrl = format!("postgres://h/db?{q}").parse().unwrap();
            let e = PoolSettings::from_url(&url).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{q}");
        }
    }

    #[cfg(feature = "pool")]
    mod pool {
        use super::*;
        use proptest::prelude::*;

        struct Nothing;

        impl covet_pool::Manager for Nothing {
            type Connection = ();
            type Error = std::io::Error;

            async fn create(&self) -> std::io::Result<()> {
                Ok(())
            }

            async fn validate(&self, _: &mut ()) -> std::io::Result<()> {
                Ok(())
            }
        }

        proptest! {
            /// Every `max_lifetime` the URL accepts builds a pool (a fixed
            /// 30 s jitter refused any lifetime of 30 s or less).
            #[test]
            fn any_accepted_max_lifetime_builds(
                ms in prop_oneof![1u64..60_000, 60_000u64..4_000_000]
            ) {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let url: DatabaseUrl = format!("sqlite::memory:?max_lifetime={ms}ms")
                    .parse()
                    .unwrap();
                let s = PoolSettings::from_url(&url).unwrap();
                let _guard = rt.enter();
                for engine in [crate::Engine::Postgres, crate::Engine::MySql, crate::Engine::Sqlite] {
                    let pool = s.build_pool(Nothing, engine);
                    prop_assert!(pool.is_ok(), "{ms}ms: {:?}", pool.err());
                }
            }
        }

        #[tokio::test]
        async fn only_sqlite_skips_checkout_validation() {
            let s = PoolSettings::default();
            for (engine, validates) in [
                (crate::Engine::Postgres, true),
                (crate::Engine::MySql, true),
                (crate::Engine::Sqlite, false),
            ] {
                let pool = s.build_pool(Nothing, engine).unwrap();
                assert_eq!(pool.config().validate_on_checkout, validates, "{engine}");
            }
        }
    }
}
