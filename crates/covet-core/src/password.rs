//! Finding the password a URL leaves out, where the PostgreSQL and MySQL
//! ecosystems keep it: a password file, `PGPASSWORD` and `~/.pgpass`,
//! `MYSQL_PWD` and `~/.my.cnf`. A password on the command line is visible to
//! every local user in `ps`; these are not.

use std::fmt;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use crate::dialect::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::url::{DatabaseUrl, Secret};

/// Where [`DatabaseUrl::resolve_password`] may look for a password.
///
/// [`Default`] looks nowhere; [`PasswordSources::from_env`] reads the
/// process environment once, so tests can build sources explicitly instead
/// of depending on it. `Debug` never shows a password.
#[derive(Debug, Clone, Default)]
pub struct PasswordSources {
    file: Option<PathBuf>,
    pgpassword: Option<Secret>,
    pgpassfile: Option<PathBuf>,
    mysql_pwd: Option<Secret>,
    home: Option<PathBuf>,
}

impl PasswordSources {
    /// The sources the environment names: `PGPASSWORD`, `PGPASSFILE`,
    /// `MYSQL_PWD`, and the home directory (`HOME`, else `USERPROFILE`) for
    /// `~/.pgpass` and `~/.my.cnf`. An empty variable counts as unset.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let text = |name: &str| var(name).and_then(|v| v.into_string().ok());
        PasswordSources {
            file: None,
            pgpassword: text("PGPASSWORD").map(Secret::new),
            pgpassfile: var("PGPASSFILE").map(PathBuf::from),
            mysql_pwd: text("MYSQL_PWD").map(Secret::new),
            home: var("HOME")
                .or_else(|| var("USERPROFILE"))
                .map(PathBuf::from),
        }
    }

    /// Reads the password from the first line of `path` (its line ending
    /// stripped). It comes before every other source, and naming it for a
    /// URL that already holds a password is an error.
    #[must_use]
    pub fn password_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// The password file, if one was given.
    pub fn password_file_path(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The PostgreSQL password, as `PGPASSWORD` gives it.
    #[must_use]
    pub fn pgpassword(mut self, password: Secret) -> Self {
        self.pgpassword = Some(password);
        self
    }

    /// The pgpass file to read instead of `~/.pgpass`, as `PGPASSFILE`
    /// names it.
    #[must_use]
    pub fn pgpassfile(mut self, path: impl Into<PathBuf>) -> Self {
        self.pgpassfile = Some(path.into());
        self
    }

    /// The MySQL password, as `MYSQL_PWD` gives it.
    #[must_use]
    pub fn mysql_pwd(mut self, password: Secret) -> Self {
        self.mysql_pwd = Some(password);
        self
    }

    /// The home directory holding `.pgpass` and `.my.cnf`.
    #[must_use]
    pub fn home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home = Some(dir.into());
        self
    }
}

/// Where a password came from. Names a source, never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordOrigin {
    /// The URL itself held it.
    Url,
    /// A password file given explicitly.
    File(PathBuf),
    /// An environment variable (`PGPASSWORD`, `MYSQL_PWD`).
    Env(&'static str),
    /// A matching line of a pgpass file.
    PgPass(PathBuf),
    /// The `[client]` group of a MySQL option file.
    MyCnf(PathBuf),
    /// No source had one: the connection is tried without a password.
    None,
}

impl fmt::Display for PasswordOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PasswordOrigin::Url => f.write_str("the URL"),
            PasswordOrigin::File(p) => write!(f, "password file {}", p.display()),
            PasswordOrigin::Env(v) => write!(f, "${v}"),
            PasswordOrigin::PgPass(p) | PasswordOrigin::MyCnf(p) => write!(f, "{}", p.display()),
            PasswordOrigin::None => f.write_str("nowhere (no password)"),
        }
    }
}

/// What [`DatabaseUrl::resolve_password`] found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResolvedPassword {
    /// The URL, with the password set when a source had one.
    pub url: DatabaseUrl,
    /// Where the password came from.
    pub origin: PasswordOrigin,
    /// Files skipped on the way, each a one-line reason naming the file
    /// (never its contents), for the caller to show: a pgpass file readable
    /// by group or others, a world-writable option file, an unreadable one.
    pub warnings: Vec<String>,
}

impl DatabaseUrl {
    /// A copy holding `password`.
    #[must_use]
    pub fn with_password(&self, password: Secret) -> Self {
        let mut u = self.clone();
        u.set_password(password);
        u
    }

    /// Fills in the password when the URL has none, from the first source
    /// that has one:
    ///
    /// 1. the password file ([`PasswordSources::password_file`]): its first
    ///    line, whatever the file's permissions (it was named explicitly, and
    ///    secret mounts are often 0444);
    /// 2. PostgreSQL: `PGPASSWORD`, then the pgpass file (`PGPASSFILE`, else
    ///    `~/.pgpass`) in libpq's format `host:port:database:user:password`,
    ///    `*` matching anything and `\` escaping `:` and `\`, the first
    ///    matching line winning; like libpq, the file is skipped with a
    ///    warning unless it is a regular file that group and others cannot
    ///    read. The user defaults to `postgres` and the database to the user,
    ///    as the PostgreSQL adapter does;
    /// 3. MySQL / MariaDB: `MYSQL_PWD`, then `~/.my.cnf`, the last
    ///    `password=` of its `[client]` and `[client-mariadb]` groups (quotes
    ///    and `\` escapes as the MySQL client reads them; `!include` is not
    ///    followed); like the MySQL client, a world-writable file is skipped.
    ///
    /// A URL with a password keeps it. SQLite takes no password.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when a password file is given with a URL that
    /// already holds a password or names SQLite, or when the file is empty;
    /// [`ErrorKind::Io`] when it cannot be read. Messages name the file,
    /// never its contents.
    ///
    /// ```
    /// use covet_core::{DatabaseUrl, PasswordOrigin, PasswordSources, Secret};
    ///
    /// let url = DatabaseUrl::parse("postgres://app@db/shop")?;
    /// let sources = PasswordSources::default().pgpassword(Secret::new("hunter2"));
    /// let found = url.resolve_password(&sources)?;
    /// assert_eq!(found.origin, PasswordOrigin::Env("PGPASSWORD"));
    /// assert_eq!(found.url.password().map(Secret::expose), Some("hunter2"));
    /// assert_eq!(found.url.to_string(), "postgres://app:***@db/shop");
    /// # Ok::<(), covet_core::Error>(())
    /// ```
    pub fn resolve_password(&self, sources: &PasswordSources) -> Result<ResolvedPassword> {
        let mut warnings = Vec::new();
        let done = |url: DatabaseUrl, origin, warnings| {
            Ok(ResolvedPassword {
                url,
                origin,
                warnings,
            })
        };
        if let Some(path) = &sources.file {
            if self.engine() == Engine::Sqlite {
                return Err(Error::config(format!(
                    "password file {}: SQLite takes no password",
                    path.display()
                )));
            }
            if self.password().is_some() {
                return Err(Error::config(format!(
                    "password file {} given, but the URL holds a password too: give one or the other",
                    path.display()
                )));
            }
            let pw = read_password_file(path)?;
            return done(
                self.with_password(pw),
                PasswordOrigin::File(path.clone()),
                warnings,
            );
        }
        if self.password().is_some() {
            return done(self.clone(), PasswordOrigin::Url, warnings);
        }
        match self.engine() {
            Engine::Postgres => {
                if let Some(pw) = &sources.pgpassword {
                    return done(
                        self.with_password(pw.clone()),
                        PasswordOrigin::Env("PGPASSWORD"),
                        warnings,
                    );
                }
                let path = sources
                    .pgpassfile
                    .clone()
                    .or_else(|| sources.home.as_ref().map(|h| h.join(".pgpass")));
                if let Some(path) = path
                    && let Some(text) = read_private(&path, Strictness::OwnerOnly, &mut warnings)
                {
                    let user = self.user().unwrap_or("postgres");
                    let database = self.database().unwrap_or(user);
                    let port = self.port().to_string();
                    let key = [self.host(), port.as_str(), database, user];
                    if let Some(pw) = pgpass_lookup(&text, key) {
                        return done(
                            self.with_password(pw),
                            PasswordOrigin::PgPass(path),
                            warnings,
                        );
                    }
                }
            }
            Engine::MySql => {
                if let Some(pw) = &sources.mysql_pwd {
                    return done(
                        self.with_password(pw.clone()),
                        PasswordOrigin::Env("MYSQL_PWD"),
                        warnings,
                    );
                }
                if let Some(path) = sources.home.as_ref().map(|h| h.join(".my.cnf"))
                    && let Some(text) =
                        read_private(&path, Strictness::NotWorldWritable, &mut warnings)
                    && let Some(pw) = my_cnf_password(&text)
                {
                    return done(
                        self.with_password(pw),
                        PasswordOrigin::MyCnf(path),
                        warnings,
                    );
                }
            }
            Engine::Sqlite => {}
        }
        done(self.clone(), PasswordOrigin::None, warnings)
    }
}

fn read_password_file(path: &Path) -> Result<Secret> {
    let text = std::fs::read(path).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("cannot read password file {}: {e}", path.display()),
        )
    })?;
    let text = String::from_utf8(text).map_err(|_| {
        Error::config(format!(
            "password file {} is not UTF-8 text",
            path.display()
        ))
    })?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(Error::config(format!(
            "password file {} is empty (the password is its first line)",
            path.display()
        )));
    }
    Ok(Secret::new(line))
}

#[derive(Clone, Copy)]
enum Strictness {
    /// libpq: a regular file with no group or other permission bits.
    OwnerOnly,
    /// The MySQL client: anything but world-writable.
    NotWorldWritable,
}

/// Reads a file found by convention rather than named by the user: a
/// missing one is silently skipped, an unsafe or unreadable one skipped
/// with a warning.
fn read_private(path: &Path, rule: Strictness, warnings: &mut Vec<String>) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == IoKind::NotFound => return None,
        Err(e) => {
            warnings.push(format!("{} skipped: {e}", path.display()));
            return None;
        }
    };
    if !meta.is_file() {
        warnings.push(format!("{} skipped: not a regular file", path.display()));
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        match rule {
            Strictness::OwnerOnly if mode & 0o077 != 0 => {
                warnings.push(format!(
                    "{} skipped: it has group or world access (chmod 0600 it)",
                    path.display()
                ));
                return None;
            }
            Strictness::NotWorldWritable if mode & 0o002 != 0 => {
                warnings.push(format!(
                    "{} skipped: it is world-writable (chmod 0600 it)",
                    path.display()
                ));
                return None;
            }
            _ => {}
        }
    }
    #[cfg(not(unix))]
    let _ = rule;
    match std::fs::read(path).map(String::from_utf8) {
        Ok(Ok(text)) => Some(text),
        Ok(Err(_)) => {
            warnings.push(format!("{} skipped: not UTF-8 text", path.display()));
            None
        }
        Err(e) => {
            warnings.push(format!("{} skipped: {e}", path.display()));
            None
        }
    }
}

/// One field of a pgpass line: its text with escapes removed, and whether
/// it was the bare wildcard `*` (an escaped `\*` is a literal star).
struct Field {
    text: String,
    wildcard: bool,
}

/// Splits a pgpass line into its five fields; `None` when it has fewer.
/// The password is the fifth field, ending at the next unescaped `:` as in
/// libpq.
fn pgpass_fields(line: &str) -> Option<[Field; 5]> {
    let mut fields = Vec::with_capacity(5);
    let mut text = String::new();
    let mut escaped = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            // A trailing backslash stands for itself.
            '\\' => {
                escaped = true;
                text.push(chars.next().unwrap_or('\\'));
            }
            ':' => {
                fields.push(Field {
                    wildcard: text == "*" && !escaped,
                    text: std::mem::take(&mut text),
                });
                escaped = false;
                if fields.len() == 5 {
                    return fields.try_into().ok();
                }
            }
            c => text.push(c),
        }
    }
    fields.push(Field {
        wildcard: text == "*" && !escaped,
        text,
    });
    fields.try_into().ok()
}

/// The password of the first pgpass line matching `[host, port, database,
/// user]`. Lines starting with `#`, blank lines and short lines are skipped;
/// an empty password never matches (libpq treats it as none).
fn pgpass_lookup(text: &str, key: [&str; 4]) -> Option<Secret> {
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(fields) = pgpass_fields(line) else {
            continue;
        };
        let matches = fields[..4]
            .iter()
            .zip(key)
            .all(|(f, want)| f.wildcard || f.text == want);
        if matches {
            let pw = &fields[4].text;
            return (!pw.is_empty()).then(|| Secret::new(pw.clone()));
        }
    }
    None
}

/// The last `password=` in the `[client]` or `[client-mariadb]` groups of
/// a MySQL option file.
fn my_cnf_password(text: &str) -> Option<Secret> {
    let mut in_client = false;
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(group) = line.strip_prefix('[') {
            let name = group.split(']').next().unwrap_or("").trim();
            in_client =
                name.eq_ignore_ascii_case("client") || name.eq_ignore_ascii_case("client-mariadb");
            continue;
        }
        if !in_client || line.starts_with('!') {
            continue;
        }
        let line = strip_end_comment(line);
        let Some((name, value)) = line.split_once('=') else {
            // A bare `password` means "prompt for it": no password here.
            continue;
        };
        if name
            .trim()
            .replace('_', "-")
            .eq_ignore_ascii_case("password")
        {
            found = Some(Secret::new(my_cnf_value(value.trim())));
        }
    }
    found
}

/// Cuts a `#` comment that starts outside quotes, as the MySQL client does.
fn strip_end_comment(line: &str) -> &str {
    let mut quote = None;
    let mut escape = false;
    for (i, c) in line.char_indices() {
        match c {
            '\'' | '"' if !escape => match quote {
                None => quote = Some(c),
                Some(q) if q == c => quote = None,
                Some(_) => {}
            },
            '#' if quote.is_none() => return &line[..i],
            _ => {}
        }
        escape = quote.is_some() && c == '\\' && !escape;
    }
    line
}

/// An option value: matching surrounding quotes removed, then the escapes
/// `\n \t \r \b \s \" \' \\` decoded; any other `\x` is kept as written.
fn my_cnf_value(value: &str) -> String {
    let v = value.trim();
    let v = match (v.chars().next(), v.chars().last()) {
        (Some(a @ ('"' | '\'')), Some(b)) if v.len() >= 2 && a == b => &v[1..v.len() - 1],
        _ => v,
    };
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' || chars.peek().is_none() {
            out.push(c);
            continue;
        }
        let next = chars.next().unwrap_or('\\');
        match next {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            's' => out.push(' '),
            '"' | '\'' | '\\' => out.push(next),
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pw(s: Option<Secret>) -> Option<String> {
        s.map(|s| s.expose().to_owned())
    }

    #[test]
    fn pgpass_wildcards_escapes_and_comments() {
        let text = "\
# a comment line
#db.example:5432:shop:app:commented-out

short:line
db.example:5432:other:app:wrong-database
db.example:5432:shop:app:first-match
db.example:5432:shop:app:second-match
*:6432:*:app:any-host
h\\:1:5432:*:*:esc\\:aped\\\\pw
literal:5432:*:\\*:star-user
other:5432:*:*:with:colon:rest
crlf:5432:*:*:windows-line\r
";
        let find = |h, p, d, u| pw(pgpass_lookup(text, [h, p, d, u]));
        assert_eq!(
            find("db.example", "5432", "shop", "app").as_deref(),
            Some("first-match")
        );
        assert_eq!(find("db.example", "5432", "nope", "app"), None);
        assert_eq!(
            find("anything", "6432", "x", "app").as_deref(),
            Some("any-host")
        );
        assert_eq!(find("anything", "6432", "x", "bob"), None);
        assert_eq!(
            find("h:1", "5432", "d", "u").as_deref(),
            Some("esc:aped\\pw")
        );
        // `\*` is a literal star, not a wildcard.
        assert_eq!(find("literal", "5432", "d", "bob"), None);
        assert_eq!(
            find("literal", "5432", "d", "*").as_deref(),
            Some("star-user")
        );
        // The password ends at the next unescaped `:`, as libpq reads it.
        assert_eq!(find("other", "5432", "d", "u").as_deref(), Some("with"));
        assert_eq!(
            find("crlf", "5432", "d", "u").as_deref(),
            Some("windows-line")
        );
        // Commented lines never match.
        assert_eq!(
            pw(pgpass_lookup("#h:1:d:u:pw\n", ["#h", "1", "d", "u"])),
            None
        );
        // An empty password is no password.
        assert_eq!(pw(pgpass_lookup("h:1:d:u:\n", ["h", "1", "d", "u"])), None);
    }

    #[test]
    fn my_cnf_client_group_quotes_and_escapes() {
        let text = "\
[mysqld]
password=server-side
[client]
# comment
; another
user = app
password = first
password = \"quoted # not a comment\"  # a comment
[mysql]
password=mysql-group-ignored
";
        assert_eq!(
            pw(my_cnf_password(text)).as_deref(),
            Some("quoted # not a comment")
        );
        for (line, want) in [
            ("password=plain#cut", "plain"),
            ("password = 'single \\'q\\' \\s sp'", "single 'q'   sp"),
            ("pass_word=x", ""),
            ("password=back\\\\slash\\x", "back\\slash\\x"),
            ("PASSWORD = Upper", "Upper"),
        ] {
            let got = pw(my_cnf_password(&format!("[client]\n{line}\n")));
            if want.is_empty() {
                assert_eq!(got, None, "{line}");
            } else {
                assert_eq!(got.as_deref(), Some(want), "{line}");
            }
        }
        assert_eq!(
            pw(my_cnf_password("[client-mariadb]\npassword=m\n")).as_deref(),
            Some("m")
        );
        assert_eq!(pw(my_cnf_password("[client]\npassword\n")), None);
        assert_eq!(pw(my_cnf_password("password=outside\n")), None);
    }

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        p
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "covet-core-pw-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn sources_in_order() {
        let dir = scratch("order");
        write(&dir, ".pgpass", "*:*:*:*:from-pgpass\n", 0o600);
        write(&dir, ".my.cnf", "[client]\npassword=from-mycnf\n", 0o600);
        let file = write(&dir, "pw", "from-file\nsecond line\n", 0o644);
        let pg = DatabaseUrl::parse("postgres://app@db/shop").unwrap();
        let my = DatabaseUrl::parse("mysql://app@db/shop").unwrap();
        let home = PasswordSources::default().home(&dir);

        let got = |u: &DatabaseUrl, s: &PasswordSources| {
            let r = u.resolve_password(s).unwrap();
            (pw(r.url.password().cloned()), r.origin)
        };
        assert_eq!(
            got(&pg, &home),
            (
                Some("from-pgpass".into()),
                PasswordOrigin::PgPass(dir.join(".pgpass"))
            )
        );
        assert_eq!(
            got(&my, &home),
            (
                Some("from-mycnf".into()),
                PasswordOrigin::MyCnf(dir.join(".my.cnf"))
            )
        );
        let env = home
            .clone()
            .pgpassword(Secret::new("pg-env"))
            .mysql_pwd(Secret::new("my-env"));
        assert_eq!(
            got(&pg, &env),
            (Some("pg-env".into()), PasswordOrigin::Env("PGPASSWORD"))
        );
        assert_eq!(
            got(&my, &env),
            (Some("my-env".into()), PasswordOrigin::Env("MYSQL_PWD"))
        );
        let all = env.clone().password_file(&file);
        assert_eq!(
            got(&pg, &all),
            (Some("from-file".into()), PasswordOrigin::File(file.clone()))
        );
        assert_eq!(
            got(&my, &all),
            (Some("from-file".into()), PasswordOrigin::File(file.clone()))
        );
        // The URL's own password wins over the environment and files.
        let with = DatabaseUrl::parse("postgres://app:in-url@db/shop").unwrap();
        assert_eq!(
            got(&with, &env),
            (Some("in-url".into()), PasswordOrigin::Url)
        );
        // PGPASSFILE replaces ~/.pgpass.
        let other = write(
            &dir,
            "other.pgpass",
            "db:5432:shop:app:from-pgpassfile\n",
            0o600,
        );
        assert_eq!(
            got(&pg, &home.clone().pgpassfile(&other)).0.as_deref(),
            Some("from-pgpassfile")
        );
        // Nothing anywhere: no password, no error.
        assert_eq!(
            got(&pg, &PasswordSources::default()),
            (None, PasswordOrigin::None)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn password_file_errors_name_the_file_not_the_secret() {
        let dir = scratch("errors");
        let file = write(&dir, "pw", "s3cret-pw\n", 0o600);
        let empty = write(&dir, "empty", "\nsecond\n", 0o600);
        let sources = PasswordSources::default().password_file(&file);
        for url in ["postgres://app:urlpw-77@db/shop", "sqlite::memory:"] {
            let e = DatabaseUrl::parse(url)
                .unwrap()
                .resolve_password(&sources)
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            assert!(e.to_string().contains(&file.display().to_string()), "{e}");
            assert!(
                !format!("{e} {e:?}").contains("s3cret") && !format!("{e:?}").contains("urlpw-77")
            );
        }
        let pg = DatabaseUrl::parse("postgres://app@db/shop").unwrap();
        let e = pg
            .resolve_password(&PasswordSources::default().password_file(&empty))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("is empty"), "{e}");
        let e = pg
            .resolve_password(&PasswordSources::default().password_file(dir.join("missing")))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().contains("cannot read password file"), "{e}");
        let shown = format!("{sources:?} {:?}", pg.resolve_password(&sources).unwrap());
        assert!(!shown.contains("s3cret"), "{shown}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn unsafe_files_are_skipped_with_a_warning() {
        let dir = scratch("perms");
        write(&dir, ".pgpass", "*:*:*:*:group-readable\n", 0o640);
        write(
            &dir,
            ".my.cnf",
            "[client]\npassword=world-writable\n",
            0o666,
        );
        let home = PasswordSources::default().home(&dir);
        for url in ["postgres://app@db/shop", "mysql://app@db/shop"] {
            let r = DatabaseUrl::parse(url)
                .unwrap()
                .resolve_password(&home)
                .unwrap();
            assert_eq!(r.origin, PasswordOrigin::None, "{url}");
            assert!(r.url.password().is_none());
            assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
            assert!(r.warnings[0].contains("chmod 0600"), "{:?}", r.warnings);
            assert!(
                !r.warnings[0].contains("group-readable")
                    && !r.warnings[0].contains("world-writable\n")
            );
        }
        // A group-readable option file is fine for the MySQL client.
        write(&dir, ".my.cnf", "[client]\npassword=ok\n", 0o644);
        let r = DatabaseUrl::parse("mysql://app@db/shop")
            .unwrap()
            .resolve_password(&home)
            .unwrap();
        assert_eq!(pw(r.url.password().cloned()).as_deref(), Some("ok"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
