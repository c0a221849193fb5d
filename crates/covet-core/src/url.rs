//! Parsing database URLs without ever printing their passwords.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::dialect::Engine;
use crate::error::{Error, Result};

/// A secret string (a password, a key): `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    /// The secret itself, for handing to a driver. Never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where an SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteTarget {
    /// A private in-memory database (`sqlite::memory:`).
    Memory,
    /// A database file.
    File(PathBuf),
}

/// A parsed database URL.
///
/// Accepted forms:
/// - `postgres://user:password@host:5432/database?sslmode=require`
///   (`postgresql://` too),
/// - `mysql://user:password@host:3306/database` (`mariadb://` too),
/// - `sqlite://path/to/file.db`, `sqlite:///absolute/path.db`,
///   `sqlite:file.db` and `sqlite::memory:`.
///
/// User, password, database and parameter values are percent-decoded.
/// The user and password end at the last `@`, so a password may be written
/// unencoded even when it holds `/`, `?`, `#`, `:` or `@` (a `%` followed by
/// two hex digits is still decoded: write `%25`); an `@` in the database name
/// or a query value must then be written `%40`. A parse error never repeats
/// any text that follows `scheme://`.
///
/// A URL may leave the password out: see [`DatabaseUrl::resolve_password`]
/// for where it is then looked up.
/// `Debug` and `Display` replace the password (and any `password` query
/// parameter) with `***`:
///
/// ```
/// use covet_core::{DatabaseUrl, Engine};
/// let url: DatabaseUrl = "postgres://app:hunter2@db.internal:6432/shop?sslmode=require"
///     .parse()
///     .unwrap();
/// assert_eq!(url.engine(), Engine::Postgres);
/// assert_eq!(url.port(), 6432);
/// assert_eq!(url.param("sslmode"), Some("require"));
/// assert_eq!(url.to_string(), "postgres://app:***@db.internal:6432/shop?sslmode=require");
/// assert!(!format!("{url:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    engine: Engine,
    scheme: String,
    host: String,
    port: Option<u16>,
    user: Option<String>,
    password: Option<Secret>,
    database: Option<String>,
    sqlite: Option<SqliteTarget>,
    params: Vec<(String, String)>,
}

/// Characters escaped in the user, password and database parts.
const COMPONENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'&')
    .add(b'=')
    .add(b'+');

/// Why a URL was refused.
///
/// Every message is fixed text: nothing that follows `scheme://` is ever
/// echoed, because a password holding an unencoded `/`, `?`, `@` or `:` can
/// land in any part of a split that guessed wrong, and an error is printed,
/// logged and pasted into tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bad {
    NoScheme,
    UnknownScheme,
    NoAuthority(&'static str),
    NotUtf8(&'static str),
    Port,
    Ipv6Unclosed,
    AfterIpv6,
    Host,
    ParamNoValue,
    ParamEmptyName,
    SqliteNoPath,
}

impl Bad {
    fn message(self) -> String {
        let reason = match self {
            Bad::NoScheme => {
                "no scheme (expected postgres://, mysql://, mariadb:// or sqlite://)".to_owned()
            }
            Bad::UnknownScheme => {
                "unknown or missing scheme (expected postgres://, mysql://, mariadb:// or sqlite://)"
                    .to_owned()
            }
            Bad::NoAuthority(scheme) => format!(
                "expected `{scheme}://` followed by [user[:password]@]host[:port][/database]"
            ),
            Bad::NotUtf8(what) => format!("the {what} is not valid UTF-8 after percent-decoding"),
            Bad::Port => "the port is not a number from 1 to 65535".to_owned(),
            Bad::Ipv6Unclosed => "an IPv6 host is missing its closing `]`".to_owned(),
            Bad::AfterIpv6 => "only `:port` may follow an IPv6 host's `]`".to_owned(),
            Bad::Host => "the host contains whitespace or a control character".to_owned(),
            Bad::ParamNoValue => "a query parameter has no value (expected key=value)".to_owned(),
            Bad::ParamEmptyName => "a query parameter has an empty name".to_owned(),
            Bad::SqliteNoPath => {
                "sqlite URL has no file path (use sqlite://path/to/file.db or sqlite::memory:)"
                    .to_owned()
            }
        };
        format!("invalid database URL: {reason}")
    }
}

impl From<Bad> for Error {
    fn from(bad: Bad) -> Self {
        Error::config(bad.message())
    }
}

fn decode(part: &str, what: &'static str) -> Result<String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Bad::NotUtf8(what).into())
}

/// Splits what follows `scheme://` into the userinfo and the rest.
///
/// The userinfo ends at the LAST `@`, so a password may hold any character
/// unencoded, `/`, `?`, `#` and `@` included; the price is that an `@` in
/// the database name or a query value must be written `%40`. One exception
/// keeps URLs without credentials working: text before the last `@` that has
/// no `:` but has a `/` or `?` cannot be `user:password`, so that `@` belongs
/// to the path or query and the authority ends at the first `/` or `?`.
fn split_userinfo(rest: &str) -> (Option<&str>, &str) {
    match rest.rsplit_once('@') {
        Some((ui, after)) if ui.contains(':') || !ui.contains(['/', '?']) => (Some(ui), after),
        Some(_) => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            match rest[..end].rsplit_once('@') {
                Some((ui, _)) => (Some(ui), &rest[ui.len() + 1..]),
                None => (None, rest),
            }
        }
        None => (None, rest),
    }
}

/// A scheme worth echoing: RFC 3986 scheme characters only, and short.
fn is_scheme_token(s: &str) -> bool {
    s.len() <= 20
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn is_secret_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.contains("password") || k == "pass" || k.contains("secret") || k.contains("key")
}

impl DatabaseUrl {
    /// Parses a URL; the same as `url.parse()`.
    pub fn parse(url: &str) -> Result<Self> {
        url.parse()
    }

    /// The engine the scheme names.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The host (empty for SQLite). Defaults to `localhost`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, or the engine's default (5432, 3306; 0 for SQLite).
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.engine {
            Engine::Postgres => 5432,
            Engine::MySql => 3306,
            Engine::Sqlite => 0,
        })
    }

    /// The user name, if given.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password, if given.
    pub fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    /// The database name, if given (PostgreSQL and MySQL).
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The SQLite file or `:memory:`; `None` for other engines.
    pub fn sqlite_target(&self) -> Option<&SqliteTarget> {
        self.sqlite.as_ref()
    }

    /// The SQLite file path, if this is a file-backed SQLite URL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.sqlite {
            Some(SqliteTarget::File(p)) => Some(p),
            _ => None,
        }
    }

    /// The value of a query parameter (the last one wins).
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All query parameters, in order. Values may be secret: do not log them.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// A copy pointing at another database on the same server (for tests and
    /// restores into a scratch database). For SQLite, `name` is a file path.
    #[must_use]
    pub fn with_database(&self, name: &str) -> Self {
        let mut u = self.clone();
        if self.engine == Engine::Sqlite {
            u.sqlite = Some(if name == ":memory:" {
                SqliteTarget::Memory
            } else {
                SqliteTarget::File(PathBuf::from(name))
            });
        } else {
            u.database = Some(name.to_owned());
        }
        u
    }

    /// A copy with a query parameter set (replacing earlier values).
    #[must_use]
    pub fn with_param(&self, key: &str, value: &str) -> Self {
        let mut u = self.clone();
        u.params.retain(|(k, _)| k != key);
        u.params.push((key.to_owned(), value.to_owned()));
        u
    }

    pub(crate) fn set_password(&mut self, password: Secret) {
        self.password = Some(password);
    }

    /// The full URL including the password, for drivers that take a URL.
    /// Never log or display the result.
    pub fn expose(&self) -> String {
        self.render(true)
    }

    fn render(&self, reveal: bool) -> String {
        let mut out = format!("{}:", self.scheme);
        match &self.sqlite {
            Some(SqliteTarget::Memory) => out.push_str(":memory:"),
            Some(SqliteTarget::File(p)) => {
                out.push_str("//");
                out.push_str(&p.to_string_lossy());
            }
            None => {
                out.push_str("//");
                if let Some(user) = &self.user {
                    out.extend(utf8_percent_encode(user, COMPONENT));
                    if let Some(pw) = &self.password {
                        out.push(':');
                        if reveal {
                            out.extend(utf8_percent_encode(pw.expose(), COMPONENT));
                        } else {
                            out.push_str("***");
                        }
                    }
                    out.push('@');
                }
                if self.host.contains(':') {
                    out.push('[');
                    out.push_str(&self.host);
                    out.push(']');
                } else {
                    out.push_str(&self.host);
                }
                if let Some(port) = self.port {
                    out.push_str(&format!(":{port}"));
                }
                if let Some(db) = &self.database {
                    out.push('/');
                    out.extend(utf8_percent_encode(db, COMPONENT));
                }
            }
        }
        for (i, (k, v)) in self.params.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.extend(utf8_percent_encode(k, COMPONENT));
            out.push('=');
            if !reveal && is_secret_param(k) {
                out.push_str("***");
            } else {
                out.extend(utf8_percent_encode(v, COMPONENT));
            }
        }
        out
    }
}

fn parse_params(query: &str) -> Result<Vec<(String, String)>> {
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or(Bad::ParamNoValue)?;
        let k = decode(k, "name of a query parameter")?;
        if k.is_empty() {
            return Err(Bad::ParamEmptyName.into());
        }
        params.push((k, decode(v, "value of a query parameter")?));
    }
    Ok(params)
}

impl FromStr for DatabaseUrl {
    type Err = Error;

    fn from_str(url: &str) -> Result<Self> {
        let url = url.trim();
        let (scheme, rest) = url.split_once(':').ok_or(Bad::NoScheme)?;
        let engine = match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Engine::Postgres,
            "mysql" | "mariadb" => Engine::MySql,
            "sqlite" => Engine::Sqlite,
            // Echoed only when it cannot be a user name: `app:pw@host`
            // without a scheme splits at the user's `:`.
            other if is_scheme_token(other) && rest.starts_with("//") => {
                return Err(Error::config(format!(
                    "invalid database URL: unknown scheme `{other}` (expected postgres, mysql, mariadb or sqlite)"
                )));
            }
            _ => return Err(Bad::UnknownScheme.into()),
        };
        let scheme = scheme.to_ascii_lowercase();

        if engine == Engine::Sqlite {
            let (rest, query) = match rest.split_once('?') {
                Some((r, q)) => (r, Some(q)),
                None => (rest, None),
            };
            let params = query.map(parse_params).transpose()?.unwrap_or_default();
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let target = match path {
                ":memory:" => SqliteTarget::Memory,
                "" => return Err(Bad::SqliteNoPath.into()),
                p => SqliteTarget::File(PathBuf::from(decode(p, "path")?)),
            };
            return Ok(DatabaseUrl {
                engine,
                scheme,
                host: String::new(),
                port: None,
                user: None,
                password: None,
                database: None,
                sqlite: Some(target),
                params,
            });
        }

        let static_scheme = match engine {
            Engine::Postgres => "postgres",
            Engine::MySql => "mysql",
            Engine::Sqlite => "sqlite",
        };
        let rest = rest
            .strip_prefix("//")
            .ok_or(Bad::NoAuthority(static_scheme))?;
        let (userinfo, rest) = split_userinfo(rest);
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (hostport, database) = match rest.split_once('/') {
            Some((a, d)) => (a, Some(d)),
            None => (rest, None),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(ui) => match ui.split_once(':') {
                Some((u, p)) => (
                    Some(decode(u, "user name")?),
                    Some(Secret(decode(p, "password")?)),
                ),
                None => (Some(decode(ui, "user name")?), None),
            },
        };
        let user = user.filter(|u| !u.is_empty());
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, after) = h.split_once(']').ok_or(Bad::Ipv6Unclosed)?;
            let port = match after {
                "" => None,
                a => Some(a.strip_prefix(':').ok_or(Bad::AfterIpv6)?),
            };
            (h.to_owned(), port)
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        let port = match port {
            None | Some("") => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or(Bad::Port)?),
        };
        if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Bad::Host.into());
        }
        let host = if host.is_empty() {
            "localhost".to_owned()
        } else {
            host
        };
        let database = database
            .filter(|d| !d.is_empty())
            .map(|d| decode(d, "database name"))
            .transpose()?;
        let params = query.map(parse_params).transpose()?.unwrap_or_default();
        Ok(DatabaseUrl {
            engine,
            scheme,
            host,
            port,
            user,
            password,
            database,
            sqlite: None,
            params,
        })
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.render(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use proptest::prelude::*;

    #[test]
    fn parses_each_form() {
        let u: DatabaseUrl = "mysql://root@127.0.0.1/test".parse().unwrap();
        assert_eq!(u.engine(), Engine::MySql);
        assert_eq!(u.port(), 3306);
        assert_eq!(u.user(), Some("root"));
        assert!(u.password().is_none());
        assert_eq!(u.database(), Some("test"));

        let u: DatabaseUrl = "postgresql://[::1]:5433".parse().unwrap();
        assert_eq!(u.host(), "::1");
        assert_eq!(u.port(), 5433);
        assert_eq!(u.to_string(), "postgresql://[::1]:5433");

        let u: DatabaseUrl = "sqlite::memory:".parse().unwrap();
        assert_eq!(u.sqlite_target(), Some(&SqliteTarget::Memory));
        let u: DatabaseUrl = "sqlite://data/app.db?mode=rwc".parse().unwrap();
        assert_eq!(u.sqlite_path(), Some(Path::new("data/app.db")));
        assert_eq!(u.param("mode"), Some("rwc"));
        let u: DatabaseUrl = "sqlite:///tmp/x.db".parse().unwrap();
        assert_eq!(u.sqlite_path(), Some(Path::new("/tmp/x.db")));
        let u: DatabaseUrl = "sqlite:covet.db".parse().unwrap();
        assert_eq!(u.sqlite_path(), Some(Path::new("covet.db")));
    }

    #[test]
    fn bad_urls_are_config_errors_without_secrets() {
        for bad in [
            "",
            "localhost:5432",
            "oracle://x",
            "postgres:host",
            "postgres://u:s3cretpw@h:99999/db",
            "postgres://u:s3cretpw@h:abc/db",
            "postgres://u:s3cretpw@h/db?sslmode",
            "sqlite://",
            "postgres://u:s3cretpw@[::1/db",
        ] {
            let e = DatabaseUrl::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
            assert!(!e.to_string().contains("s3cretpw"), "{e}");
        }
    }

    /// The userinfo ends at the last `@`, so generated passwords work
    /// unencoded; before, `u:123/x@h` connected to host `u` on port 123.
    #[test]
    fn unencoded_passwords_split_at_the_last_at() {
        for (url, pw) in [
            (
                "postgres://app:pa/ss?w@rd@db:6432/shop?sslmode=require",
                "pa/ss?w@rd",
            ),
            ("postgres://app:123/x@db:6432/shop?sslmode=require", "123/x"),
            (
                "postgres://app:a:b#c%zz@db:6432/shop?sslmode=require",
                "a:b#c%zz",
            ),
            (
                "postgres://app:Zm9v+YmFy/Pz8/==@db:6432/shop?sslmode=require",
                "Zm9v+YmFy/Pz8/==",
            ),
        ] {
            let u = DatabaseUrl::parse(url).unwrap();
            assert_eq!(u.password().map(Secret::expose), Some(pw), "{url}");
            assert_eq!(u.user(), Some("app"));
            assert_eq!(u.host(), "db");
            assert_eq!(u.port(), 6432);
            assert_eq!(u.database(), Some("shop"));
            assert_eq!(u.param("sslmode"), Some("require"));
            assert_eq!(DatabaseUrl::parse(&u.expose()).unwrap(), u);
        }
        // Without credentials, an `@` in the path or query stays there.
        let u = DatabaseUrl::parse("postgres://db/shop?application_name=a@b").unwrap();
        assert_eq!((u.host(), u.user()), ("db", None));
        assert_eq!(u.param("application_name"), Some("a@b"));
        let u = DatabaseUrl::parse("mysql://app@db/shop?x=a@b").unwrap();
        assert_eq!((u.host(), u.user()), ("db", Some("app")));
        assert_eq!(u.param("x"), Some("a@b"));
    }

    #[test]
    fn secret_params_are_redacted() {
        let u: DatabaseUrl = "postgres://h/db?password=abc123&sslmode=disable"
            .parse()
            .unwrap();
        assert_eq!(
            u.to_string(),
            "postgres://h/db?password=***&sslmode=disable"
        );
        assert!(u.expose().contains("abc123"));
    }

    fn component() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 @:/?#%&=+._~!$'()*,;-]{1,16}"
    }

    proptest! {
        #[test]
        fn round_trips_through_expose(
            user in component(),
            pw in component(),
            host in "[a-z][a-z0-9.-]{0,20}",
            port in 1u16..,
            db in component(),
            ssl in "[a-z-]{1,10}",
        ) {
            let original = DatabaseUrl {
                engine: Engine::Postgres,
                scheme: "postgres".into(),
                host,
                port: Some(port),
                user: Some(user),
                password: Some(Secret(format!("PW{pw}"))),
                database: Some(db),
                sqlite: None,
                params: vec![("sslmode".into(), ssl)],
            };
            let parsed: DatabaseUrl = original.expose().parse().unwrap();
            prop_assert_eq!(&parsed, &original);
            let shown = format!("{parsed} {parsed:?}");
            let secret = format!("PW{pw}");
            prop_assert!(!shown.contains(&secret), "{}", shown);
        }

        #[test]
        fn never_panics(s in ".{0,80}") {
            let _ = DatabaseUrl::parse(&s);
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// No part of the userinfo, raw or percent-encoded, reaches the
        /// `Display` or `Debug` of a parse error or of a parsed URL, whatever
        /// the password holds and whatever else is wrong with the URL.
        #[test]
        fn parse_never_shows_the_userinfo(
            pw in password(),
            encode in any::<bool>(),
            user in "[a-z]{1,8}",
            scheme in prop::sample::select(vec!["postgres", "postgresql", "mysql", "mariadb"]),
            host in prop::sample::select(vec!["db.example", "127.0.0.1", "[::1]", "", "[::1", "h h"]),
            port in prop::sample::select(vec!["", ":5432", ":0", ":99999", ":x1", ":"]),
            db in prop::sample::select(vec!["", "/shop", "/", "/%ff"]),
            query in prop::sample::select(vec!["", "?sslmode=require", "?sslmode", "?=1", "?a=%ff", "?x=1&&y"]),
        ) {
            let shown_pw = if encode {
                utf8_percent_encode(&pw, COMPONENT).to_string()
            } else {
                pw.clone()
            };
            let url = format!("{scheme}://{user}:{shown_pw}@{host}{port}{db}{query}");
            let public = format!("{scheme}://{user}:@{host}{port}{db}{query}");
            let render = |raw: &str| match DatabaseUrl::parse(raw) {
                Ok(u) => format!("{u} {u:?}"),
                Err(e) => format!("{e} {e:?}"),
            };
            let shown = render(&url);
            // What the same URL without its password prints, joined the same
            // way, is vocabulary too: a window such as ` Da` (the space
            // before `DatabaseUrl(`) comes from the rendering, not the secret.
            let public = format!("{public} {}", render(&public));
            for secret in [&pw, &shown_pw, &format!("{user}:{shown_pw}")] {
                if let Some(leak) = leaked(secret, &shown, &public) {
                    prop_assert!(false, "`{}` of the secret shown in: {}", leak, shown);
                }
            }
        }
    }

    /// The property above once failed on a password holding ` Da`: the
    /// space before `DatabaseUrl(` in its own rendering, not a leak.
    #[test]
    fn the_rendering_itself_is_not_taken_for_a_leak() {
        let public = "postgres://u:@db.example/shop";
        let shown_public = {
            let u = DatabaseUrl::parse(public).unwrap();
            format!("{public} {u} {u:?}")
        };
        let u = DatabaseUrl::parse("postgres://u:k Dat@db.example/shop").unwrap();
        let shown = format!("{u} {u:?}");
        assert_eq!(leaked("k Dat", &shown, &shown_public), None, "{shown}");
        assert_eq!(
            leaked("k Dat", "a k D leak", &shown_public).as_deref(),
            Some("k D")
        );
    }

    /// Every fixed message the parser can give.
    fn messages() -> String {
        let mut all = vec![
            Bad::NoScheme,
            Bad::UnknownScheme,
            Bad::NoAuthority("postgres"),
            Bad::NoAuthority("mysql"),
            Bad::Port,
            Bad::Ipv6Unclosed,
            Bad::AfterIpv6,
            Bad::Host,
            Bad::ParamNoValue,
            Bad::ParamEmptyName,
            Bad::SqliteNoPath,
        ];
        for what in [
            "user name",
            "password",
            "database name",
            "path",
            "name of a query parameter",
            "value of a query parameter",
        ] {
            all.push(Bad::NotUtf8(what));
        }
        all.iter()
            .map(|b| b.message())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Printable ASCII and arbitrary unicode, always holding at least one
    /// character that can break a naive split.
    fn password() -> impl Strategy<Value = String> {
        (
            prop_oneof!["[ -~]{0,24}", "\\PC{0,16}", "[A-Za-z0-9+/=]{8,40}"],
            prop::sample::select(vec![
                '@', '/', '?', '#', ':', '%', ' ', '[', ']', '&', '=', 'é', '😀',
            ]),
            any::<prop::sample::Index>(),
        )
            .prop_map(|(mut s, c, at)| {
                let cut = s
                    .char_indices()
                    .map(|(i, _)| i)
                    .chain([s.len()])
                    .collect::<Vec<_>>();
                s.insert(cut[at.index(cut.len())], c);
                format!("k{s}")
            })
    }

    /// The first run of three or more characters of `secret` that `shown`
    /// contains, skipping runs that the rest of the URL or a fixed message
    /// could have produced.
    fn leaked(secret: &str, shown: &str, public: &str) -> Option<String> {
        let chars: Vec<char> = secret.chars().collect();
        let vocabulary = format!("{public} {}", messages());
        for w in chars.windows(3) {
            let w: String = w.iter().collect();
            if shown.contains(&w)
                && !vocabulary.contains(&w)
                && !"DatabaseUrl(Error { kind: Config, message: retry: Never }***".contains(&w)
            {
                return Some(w);
            }
        }
        None
    }
}
