//! Router URLs: one URL naming a primary and its replicas.

use std::time::Duration;

use covet_core::{DatabaseUrl, Engine, parse_duration};

use crate::error::RouterError;

/// What happens to a read asked to see a token that no replica has replayed
/// yet (see [`crate::Router::reader_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadYourWrites {
    /// Send it to the primary at once.
    Primary,
    /// Wait up to the bound for a replica to replay the token, then send it
    /// to the primary.
    WaitThenPrimary(Duration),
    /// Wait up to the bound, then fail with [`covet_core::ErrorKind::Timeout`].
    WaitThenFail(Duration),
}

impl Default for ReadYourWrites {
    fn default() -> Self {
        ReadYourWrites::WaitThenPrimary(Duration::from_secs(1))
    }
}

/// The router's settings that a URL may carry as `router_*` parameters
/// (stripped before the per-target URLs reach the adapters).
#[derive(Debug, Clone, PartialEq)]
pub struct RouterSettings {
    /// A replica further behind than this is ejected (`router_max_lag`,
    /// default 5s).
    pub max_lag: Duration,
    /// How often each replica's lag and health are checked
    /// (`router_check_interval`, default 500ms).
    pub check_interval: Duration,
    /// One weight per replica, in URL order (`router_weights=1,2`); all 1
    /// when absent.
    pub weights: Vec<u32>,
    /// The read-your-writes policy (`router_ryw=primary|wait|fail`, with
    /// `router_ryw_wait=1s` the bound for the last two).
    pub read_your_writes: ReadYourWrites,
    /// Whether any host may become the primary (`router_failover=on`; see
    /// [`crate::RouterBuilder::failover`]).
    pub failover: bool,
}

impl Default for RouterSettings {
    fn default() -> Self {
        RouterSettings {
            max_lag: Duration::from_secs(5),
            check_interval: Duration::from_millis(500),
            weights: Vec::new(),
            read_your_writes: ReadYourWrites::default(),
            failover: false,
        }
    }
}

/// A parsed router URL: the primary's URL, each replica's URL, and the
/// router settings.
///
/// The form is an ordinary database URL whose host is a comma-separated
/// list, the primary first:
/// `postgres://app:pw@primary,replica1:5433,replica2/shop?sslmode=require&router_max_lag=2s`.
/// Every target gets the same user, password, database and (non-`router_`)
/// parameters. `Debug` and `Display` never show the password.
///
/// ```
/// use covet_router::RouterUrl;
/// let url = RouterUrl::parse("postgres://app:hunter2@db1,db2:5433,db3/shop?router_max_lag=2s")?;
/// assert_eq!(url.primary().host(), "db1");
/// assert_eq!(url.replicas().len(), 2);
/// assert_eq!(url.replicas()[0].port(), 5433);
/// assert_eq!(url.settings().max_lag, std::time::Duration::from_secs(2));
/// assert!(!format!("{url:?} {url}").contains("hunter2"));
/// # Ok::<(), covet_router::RouterError>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct RouterUrl {
    primary: DatabaseUrl,
    replicas: Vec<DatabaseUrl>,
    settings: RouterSettings,
}

/// Splits what follows `scheme://` into userinfo and the rest, the userinfo
/// ending at the last `@` (so a password may hold any character) unless
/// the text before it cannot be `user:password` (no `:` but a `/` or `?`),
/// in which case that `@` is in the path or query. Same rule as covet-core.
fn split_userinfo(rest: &str) -> (Option<&str>, &str) {
    match rest.rsplit_once('@') {
        Some((ui, after)) if ui.contains(':') || !ui.contains(['/', '?']) => (Some(ui), after),
        _ => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            match rest[..end].rsplit_once('@') {
                Some((ui, _)) => (Some(ui), &rest[ui.len() + 1..]),
                None => (None, rest),
            }
        }
    }
}

fn duration(name: &'static str, v: &str) -> Result<Duration, RouterError> {
    match parse_duration(v) {
        Some(d) if !d.is_zero() => Ok(d),
        _ => Err(RouterError::Param {
            name,
            reason: "must be a positive duration such as 250ms, 5s or 2m",
        }),
    }
}

impl RouterUrl {
    /// Parses a router URL (the same as `url.parse()`).
    pub fn parse(url: &str) -> Result<Self, RouterError> {
        let url = url.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or(RouterError::Url("expected scheme://hosts/database"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "mysql" | "mariadb" => {}
            "sqlite" => return Err(RouterError::Engine),
            _ => {
                return Err(RouterError::Url(
                    "unknown scheme (expected postgres://, mysql:// or mariadb://)",
                ));
            }
        }
        let (userinfo, after) = split_userinfo(rest);
        let end = after.find(['/', '?']).unwrap_or(after.len());
        let (hosts, tail) = after.split_at(end);
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, q),
            None => (tail, ""),
        };

        let mut settings = RouterSettings::default();
        let mut ryw = "wait";
        let mut ryw_wait = Duration::from_secs(1);
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !k.starts_with("router_") {
                kept.push(pair);
                continue;
            }
            match k {
                "router_max_lag" => settings.max_lag = duration("router_max_lag", v)?,
                "router_check_interval" => {
                    settings.check_interval = duration("router_check_interval", v)?;
                }
                "router_ryw_wait" => ryw_wait = duration("router_ryw_wait", v)?,
                "router_failover" => {
                    settings.failover = match v {
                        "on" | "true" => true,
                        "off" | "false" => false,
                        _ => {
                            return Err(RouterError::Param {
                                name: "router_failover",
                                reason: "must be on or off",
                            });
                        }
                    };
                }
                "router_ryw" => {
                    ryw = match v {
                        "primary" => "primary",
                        "wait" => "wait",
                        "fail" => "fail",
                        _ => {
                            return Err(RouterError::Param {
                                name: "router_ryw",
                                reason: "must be primary, wait or fail",
                            });
                        }
                    };
                }
                "router_weights" => {
                    settings.weights = v
                        .split(',')
                        .map(|w| w.trim().parse::<u32>().ok().filter(|w| *w > 0))
                        .collect::<Option<Vec<_>>>()
                        .ok_or(RouterError::Param {
                            name: "router_weights",
                            reason: "must be positive whole numbers separated by commas",
                        })?;
                }
                _ => {
                    return Err(RouterError::Param {
                        name: "router_*",
                        reason: "is not one of router_max_lag, router_check_interval, router_weights, router_ryw, router_ryw_wait, router_failover",
                    });
                }
            }
        }
        settings.read_your_writes = match ryw {
            "primary" => ReadYourWrites::Primary,
            "fail" => ReadYourWrites::WaitThenFail(ryw_wait),
            _ => ReadYourWrites::WaitThenPrimary(ryw_wait),
        };

        let query = if kept.is_empty() {
            String::new()
        } else {
            format!("?{}", kept.join("&"))
        };
        let mut targets = Vec::new();
        for (i, host) in hosts.split(',').enumerate() {
            if host.trim().is_empty() {
                return Err(RouterError::Url("the host list has an empty entry"));
            }
            // Rebuilt as a one-host URL for covet-core's parser, whose
            // errors never echo the text (the password is in it).
            let one = match userinfo {
                Some(ui) => format!("{scheme}://{ui}@{host}{path}{query}"),
                None => format!("{scheme}://{host}{path}{query}"),
            };
            let parsed = DatabaseUrl::parse(&one).map_err(|e| RouterError::Host {
                index: i + 1,
                reason: e.message().to_owned(),
            })?;
            if parsed.engine() == Engine::Sqlite {
                return Err(RouterError::Engine);
            }
            targets.push(parsed);
        }
        let primary = targets.remove(0);
        if !settings.weights.is_empty() && settings.weights.len() != targets.len() {
            return Err(RouterError::Param {
                name: "router_weights",
                reason: "must give one weight per replica",
            });
        }
        Ok(RouterUrl {
            primary,
            replicas: targets,
            settings,
        })
    }

    /// The primary's URL (the first host).
    pub fn primary(&self) -> &DatabaseUrl {
        &self.primary
    }

    /// The replicas' URLs, in order (possibly none).
    pub fn replicas(&self) -> &[DatabaseUrl] {
        &self.replicas
    }

    /// The `router_*` settings.
    pub fn settings(&self) -> &RouterSettings {
        &self.settings
    }

    /// The engine every target speaks.
    pub fn engine(&self) -> Engine {
        self.primary.engine()
    }
}

impl std::str::FromStr for RouterUrl {
    type Err = RouterError;
    fn from_str(s: &str) -> Result<Self, RouterError> {
        RouterUrl::parse(s)
    }
}

impl std::fmt::Display for RouterUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "primary {}", self.primary)?;
        for r in &self.replicas {
            write!(f, ", replica {r}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for RouterUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RouterUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hosts_ports_and_settings() {
        let u = RouterUrl::parse(
            "mysql://root@p:3401,r1:3402,r2/app?router_weights=1,3&router_ryw=fail&router_ryw_wait=250ms&ssl_mode=disabled",
        )
        .unwrap();
        assert_eq!(u.primary().port(), 3401);
        assert_eq!(u.replicas()[0].host(), "r1");
        assert_eq!(u.replicas()[1].port(), 3306);
        assert_eq!(u.replicas()[1].database(), Some("app"));
        assert_eq!(u.settings().weights, vec![1, 3]);
        assert_eq!(
            u.settings().read_your_writes,
            ReadYourWrites::WaitThenFail(Duration::from_millis(250))
        );
        assert_eq!(u.replicas()[1].param("ssl_mode"), Some("disabled"));
        assert_eq!(u.replicas()[1].param("router_weights"), None);
        assert!(!u.settings().failover);
        let u = RouterUrl::parse("postgres://a,b/db?router_failover=on").unwrap();
        assert!(u.settings().failover);
    }

    #[test]
    fn a_single_host_is_a_primary_without_replicas() {
        let u = RouterUrl::parse("postgres://localhost/db").unwrap();
        assert!(u.replicas().is_empty());
    }

    #[test]
    fn bad_input_has_a_one_line_reason() {
        for (bad, want) in [
            ("sqlite::memory:", "scheme"),
            ("sqlite://a.db", "only postgres"),
            ("postgres://a,,b/db", "empty entry"),
            ("postgres://a,b:99999/db", "host #2"),
            ("postgres://a,b/db?router_max_lag=soon", "router_max_lag"),
            (
                "postgres://a,b/db?router_weights=1,2",
                "one weight per replica",
            ),
            ("postgres://a,b/db?router_bogus=1", "router_*"),
            ("postgres://a,b/db?router_ryw=maybe", "router_ryw"),
            ("postgres://a,b/db?router_failover=yes", "router_failover"),
        ] {
            let e = RouterUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    proptest! {
        /// A password of any characters never shows in Display, Debug or a
        /// parse error, and reaches every target intact.
        #[test]
        fn the_password_never_leaks(pw in "[a-zA-Z0-9/?#@:!%_-]{6,20}", port in "[0-9a-z]{0,6}") {
            prop_assume!(!pw.contains("%") );
            let text = format!("postgres://app:{pw}@h1,h2:{port}/db");
            match RouterUrl::parse(&text) {
                Ok(u) => {
                    let shown = format!("{u} {u:?}");
                    prop_assert!(!shown.contains(&pw));
                    prop_assert_eq!(u.primary().password().unwrap().expose(), pw.as_str());
                    prop_assert_eq!(u.replicas()[0].password().unwrap().expose(), pw.as_str());
                }
                Err(e) => prop_assert!(!e.to_string().contains(&pw)),
            }
        }
    }
}
