//! What differs between SQL engines in the text of a statement.

use std::borrow::Cow;
use std::fmt;

/// The database engine behind an adapter or URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// PostgreSQL (and wire-compatible engines).
    Postgres,
    /// MySQL or MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

impl Engine {
    /// The engine's name as OpenTelemetry's `db.system.name` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgresql",
            Engine::MySql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }

    /// The dialect of this engine.
    pub fn dialect(self) -> Dialect {
        match self {
            Engine::Postgres => Dialect::POSTGRES,
            Engine::MySql => Dialect::MYSQL,
            Engine::Sqlite => Dialect::SQLITE,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bound parameters are written in SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceholderStyle {
    /// `$1`, `$2`, ... (PostgreSQL).
    Dollar,
    /// `?`, `?`, ... (MySQL, SQLite).
    Question,
}

/// The textual differences between engines that portable code must respect.
///
/// ```
/// use covet_core::Engine;
/// let pg = Engine::Postgres.dialect();
/// assert_eq!(pg.placeholder(2), "$2");
/// assert_eq!(pg.quote_ident("user\"s"), "\"user\"\"s\"");
/// let my = Engine::MySql.dialect();
/// assert_eq!(my.placeholder(2), "?");
/// assert_eq!(my.quote_ident("order"), "`order`");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// The engine.
    pub engine: Engine,
    /// How placeholders are written.
    pub placeholders: PlaceholderStyle,
    /// The character that quotes identifiers.
    pub ident_quote: char,
    /// The most bound parameters one statement may carry.
    pub max_params: usize,
}

impl Dialect {
    /// PostgreSQL: `$n` placeholders, `"` quotes, 65,535 parameters.
    pub const POSTGRES: Dialect = Dialect {
        engine: Engine::Postgres,
        placeholders: PlaceholderStyle::Dollar,
        ident_quote: '"',
        max_params: 65_535,
    };
    /// MySQL / MariaDB: `?` placeholders, backtick quotes, 65,535 parameters.
    pub const MYSQL: Dialect = Dialect {
        engine: Engine::MySql,
        placeholders: PlaceholderStyle::Question,
        ident_quote: '`',
        max_params: 65_535,
    };
    /// SQLite: `?` placeholders, `"` quotes, 32,766 parameters (the default
    /// SQLITE_MAX_VARIABLE_NUMBER since 3.32).
    pub const SQLITE: Dialect = Dialect {
        engine: Engine::Sqlite,
        placeholders: PlaceholderStyle::Question,
        ident_quote: '"',
        max_params: 32_766,
    };

    /// The placeholder for the `n`th parameter (1-based).
    pub fn placeholder(&self, n: usize) -> Cow<'static, str> {
        match self.placeholders {
            PlaceholderStyle::Dollar => Cow::Owned(format!("${n}")),
            PlaceholderStyle::Question => Cow::Borrowed("?"),
        }
    }

    /// Quotes an identifier, doubling any quote character inside it.
    pub fn quote_ident(&self, ident: &str) -> String {
        let q = self.ident_quote;
        let mut out = String::with_capacity(ident.len() + 2);
        out.push(q);
        for c in ident.chars() {
            if c == q {
                out.push(q);
            }
            out.push(c);
        }
        out.push(q);
        out
    }

    /// Rewrites `$n` placeholders in portable SQL into this dialect's style.
    ///
    /// Only placeholders outside string literals, quoted identifiers and
    /// comments are rewritten. `$1` may appear more than once in the input
    /// for PostgreSQL; for `?` engines each occurrence becomes one `?`, so
    /// callers must bind the value once per occurrence ([`Self::expand_params`]).
    pub fn rewrite_placeholders<'a>(&self, sql: &'a str) -> Cow<'a, str> {
        if self.placeholders == PlaceholderStyle::Dollar || !sql.contains('$') {
            return Cow::Borrowed(sql);
        }
        let mut out = String::with_capacity(sql.len());
        scan_placeholders(sql, |piece| match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Placeholder(_) => out.push('?'),
        });
        Cow::Owned(out)
    }

    /// The parameter order a `?` engine needs for portable `$n` SQL: the
    /// 0-based index of the value for each placeholder occurrence.
    pub fn placeholder_order(&self, sql: &str) -> Vec<usize> {
        let mut order = Vec::new();
        scan_placeholders(sql, |piece| {
            if let Piece::Placeholder(n) = piece {
                order.push(n.saturating_sub(1));
            }
        });
        order
    }
}

enum Piece<'a> {
    Text(&'a str),
    Placeholder(usize),
}

fn scan_placeholders<'a>(sql: &'a str, mut f: impl FnMut(Piece<'a>)) {
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'$' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j].is_ascii_digit() {
                    j += 1;
                }
                f(Piece::Text(&sql[start..i]));
                f(Piece::Placeholder(sql[i + 1..j].parse().unwrap_or(0)));
                i = j;
                start = j;
            }
            _ => i += 1,
        }
    }
    if start < sql.len() {
        f(Piece::Text(&sql[start.min(sql.len())..]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_outside_literals_only() {
        let sql =
            "SELECT '$1', \"$2\" FROM t -- $3\nWHERE a = $1 AND b BETWEEN $2 AND $2 + 99 /* $9 */";
        let my = Dialect::MYSQL;
        assert_eq!(
            my.rewrite_placeholders(sql),
            "SELECT '$1', \"$2\" FROM t -- $3\nWHERE a = ? AND b BETWEEN ? AND ? + 99 /* $9 */"
        );
        assert_eq!(my.placeholder_order(sql), vec![0, 1, 1]);
        assert_eq!(Dialect::POSTGRES.rewrite_placeholders(sql), sql);
    }
}
