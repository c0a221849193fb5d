//! The lexer: statement bytes to tokens, read the way one engine reads them.
//!
//! It works on bytes, not `str`, so that a statement that is not valid
//! UTF-8 (a latin1 client, a binary literal pasted into a log) still gets a
//! fingerprint; words are decoded lossily, literals are never decoded.

use covet_core::Engine;

/// A literal's type, as far as the text shows it. Only the
/// pg_stat_statements-compatible grouping looks at it: PostgreSQL's query
/// id covers a constant's type, and `5`, `5000000000` and `5.0` are an
/// `int4`, an `int8` and a `numeric`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lit {
    /// A string, an `int4`-sized integer, a boolean, `NULL`, hex or bits.
    Plain,
    /// An integer too large for `int4`.
    Int8,
    /// A number with a point or an exponent, or too large for `int8`.
    Numeric,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// An unquoted word, lowercased.
    Word(String),
    /// A quoted identifier, verbatim.
    Quoted(String),
    /// A literal or an anonymous placeholder.
    Value(Lit),
    /// A numbered placeholder (`$1`), kept apart for the query-id grouping,
    /// where PostgreSQL numbers its parameters.
    Param(String),
    /// Punctuation and operators (`;` included: the caller drops it).
    Punct(String),
}

/// Whose grammar the lexer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Unknown,
    Postgres,
    MySql,
    Sqlite,
}

/// How an engine quotes, escapes and comments.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rules {
    pub(super) dialect: Dialect,
    /// `"..."` is (or may be) a string literal.
    dq_literal: bool,
    /// A backslash escapes the next character in `'..'` and `"..."`.
    backslash: bool,
    /// `#` starts a comment (MySQL).
    hash_comment: bool,
    /// The engine is unknown: where reading backslashes as escapes or not
    /// would end a string in different places, or a `#` may start a
    /// comment or not, the rest of the statement becomes one literal, so
    /// neither reading can turn a literal's tail into kept text.
    unknown: bool,
}

impl Rules {
    pub(super) fn of(engine: Option<Engine>) -> Rules {
        match engine {
            Some(Engine::Postgres) => Rules {
                dialect: Dialect::Postgres,
                dq_literal: false,
                backslash: false,
                hash_comment: false,
                unknown: false,
            },
            Some(Engine::Sqlite) => Rules {
                dialect: Dialect::Sqlite,
                dq_literal: true,
                backslash: false,
                hash_comment: false,
                unknown: false,
            },
            // MySQL, and the safe reading when the engine is unknown.
            _ => Rules {
                dialect: if engine.is_some() {
                    Dialect::MySql
                } else {
                    Dialect::Unknown
                },
                dq_literal: true,
                backslash: true,
                hash_comment: matches!(engine, Some(Engine::MySql)),
                unknown: engine.is_none(),
            },
        }
    }
}

/// Words after which a `-` or `+` is a sign, not a subtraction.
const SIGN_AFTER: &[&str] = &[
    "select",
    "where",
    "and",
    "or",
    "not",
    "when",
    "then",
    "else",
    "by",
    "values",
    "value",
    "in",
    "between",
    "like",
    "set",
    "limit",
    "offset",
    "return",
    "returning",
    "having",
    "is",
    "case",
    "interval",
    "default",
    "any",
    "all",
    "some",
    "escape",
    "on",
];

fn word(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_lowercase()
}

/// Tokenizes `b`; the offset of every top-level `;` goes to `semis`.
#[allow(clippy::too_many_lines)]
pub(super) fn tokenize(b: &[u8], rules: Rules, semis: &mut Vec<usize>) -> Vec<Tok> {
    let mysql = rules.dialect == Dialect::MySql;
    let pg = rules.dialect == Dialect::Postgres;
    let mut out = Vec::new();
    let mut i = 0;
    // Inside MySQL's `/*! ... */`, which the server runs as code.
    let mut in_version = false;
    while i < b.len() {
        let c = b[i];
        match c {
            _ if c.is_ascii_whitespace() => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let bang = match (b.get(i + 2), b.get(i + 3)) {
                    (Some(b'!'), _) => Some(3),
                    (Some(b'M'), Some(b'!')) => Some(4),
                    _ => None,
                };
                if mysql
                    && !in_version
                    && let Some(skip) = bang
                {
                    // A version comment: MySQL runs its body when the
                    // server is at least that version, so it is code.
                    out.push(Tok::Punct("/*!".into()));
                    i += skip;
                    let digits = b[i..].iter().take_while(|x| x.is_ascii_digit()).count();
                    if digits > 0 {
                        out.push(Tok::Value(Lit::Plain));
                    }
                    i += digits;
                    in_version = true;
                    continue;
                }
                i += 2;
                // PostgreSQL's block comments nest; the others end at the
                // first `*/`.
                let mut depth = 1;
                while i < b.len() {
                    if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else if pg && b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                i = i.min(b.len());
            }
            b'*' if in_version && b.get(i + 1) == Some(&b'/') => {
                out.push(Tok::Punct("*/".into()));
                in_version = false;
                i += 2;
            }
            b'#' if rules.hash_comment || rules.unknown => {
                let eol = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p);
                if rules.unknown && b[i..eol].iter().any(|x| matches!(x, b'\'' | b'"' | b'$')) {
                    out.push(Tok::Value(Lit::Plain));
                    i = b.len();
                } else {
                    i = eol;
                }
            }
            b'\'' => {
                i = string_end(b, i, b'\'', rules.backslash, rules.unknown);
                out.push(Tok::Value(Lit::Plain));
            }
            b'"' if rules.dq_literal => {
                i = string_end(b, i, b'"', rules.backslash, rules.unknown);
                out.push(Tok::Value(Lit::Plain));
            }
            b'"' | b'`' => {
                let end = skip_string(b, i, c, false);
                out.push(Tok::Quoted(
                    String::from_utf8_lossy(&b[i..end]).into_owned(),
                ));
                i = end;
            }
            b'$' => {
                // $1 placeholder, or a $tag$...$tag$ string.
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j > i + 1 {
                    out.push(Tok::Param(word(&b[i..j])));
                    i = j;
                    continue;
                }
                // Tags may hold any letter, as identifiers do.
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
                {
                    j += 1;
                }
                if b.get(j) == Some(&b'$') {
                    let tag = &b[i..=j];
                    let body = j + 1;
                    i = match b[body..].windows(tag.len()).position(|w| w == tag) {
                        Some(p) => body + p + tag.len(),
                        None => b.len(),
                    };
                    out.push(Tok::Value(Lit::Plain));
                } else {
                    out.push(Tok::Punct("$".into()));
                    i += 1;
                }
            }
            b'?' => {
                out.push(Tok::Value(Lit::Plain));
                i += 1;
            }
            b':' if b.get(i + 1).is_some_and(u8::is_ascii_alphabetic)
                && b.get(i.wrapping_sub(1)) != Some(&b':') =>
            {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                out.push(Tok::Value(Lit::Plain));
                i = j;
            }
            b'0'..=b'9' => {
                let (j, lit) = number(b, i);
                fold_sign(&mut out, pg);
                out.push(Tok::Value(lit));
                i = j;
            }
            // `.5`, unless it follows a name (`t.5` is a column of t).
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !matches!(out.last(), Some(Tok::Word(w)) if !SIGN_AFTER.contains(&w.as_str()))
                && !matches!(out.last(), Some(Tok::Quoted(_) | Tok::Value(_)))
                && !matches!(out.last(), Some(Tok::Punct(p)) if p == ")") =>
            {
                let (j, _) = number(b, i);
                fold_sign(&mut out, pg);
                out.push(Tok::Value(Lit::Numeric));
                i = j;
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let mut j = i;
                while j < b.len()
                    && (b[j].is_ascii_alphanumeric()
                        || b[j] == b'_'
                        || b[j] == b'$'
                        || b[j] >= 0x80)
                {
                    j += 1;
                }
                // PostgreSQL's U&'...' is one literal, as pg_stat_statements
                // reads it; as a word and an operator its `u &` stayed in
                // the fingerprint beside the `?`.
                if j - i == 1
                    && matches!(c, b'u' | b'U')
                    && b.get(j) == Some(&b'&')
                    && b.get(j + 1) == Some(&b'\'')
                    && matches!(rules.dialect, Dialect::Postgres | Dialect::Unknown)
                {
                    i = string_end(b, j + 1, b'\'', rules.backslash, rules.unknown);
                    out.push(Tok::Value(Lit::Plain));
                    continue;
                }
                // E'...', X'...', B'...', N'...' literals; only E'...'
                // takes backslash escapes on PostgreSQL.
                if b.get(j) == Some(&b'\'') && j - i == 1 {
                    let e = matches!(c, b'e' | b'E');
                    i = string_end(b, j, b'\'', rules.backslash || e, rules.unknown && !e);
                    out.push(Tok::Value(Lit::Plain));
                    continue;
                }
                let w = word(&b[i..j]);
                if matches!(w.as_str(), "true" | "false" | "null") {
                    out.push(Tok::Value(Lit::Plain));
                } else {
                    out.push(Tok::Word(w));
                }
                i = j;
            }
            _ => {
                let two = b.get(i..i + 2);
                let op = match two {
                    Some(b"<=" | b">=" | b"<>" | b"!=" | b"::" | b"||" | b"->" | b"=>") => 2,
                    _ => 1,
                };
                let end = (i + op).min(b.len());
                if c == b';' && !in_version {
                    semis.push(i);
                }
                out.push(Tok::Punct(String::from_utf8_lossy(&b[i..end]).into_owned()));
                i = end;
            }
        }
    }
    out
}

/// The end of the number starting at `start` and its type.
fn number(b: &[u8], start: usize) -> (usize, Lit) {
    let mut j = start;
    let radix = matches!(b.get(j + 1), Some(b'x' | b'X' | b'b' | b'B' | b'o' | b'O'))
        && b[j] == b'0'
        && b.get(j + 2).is_some_and(u8::is_ascii_alphanumeric);
    let mut lit = Lit::Plain;
    if radix {
        j += 2;
    } else {
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let int_end = j;
        if b.get(j) == Some(&b'.') {
            lit = Lit::Numeric;
            j += 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        }
        if j < b.len() && matches!(b[j], b'e' | b'E') {
            let k = j + 1 + usize::from(matches!(b.get(j + 1), Some(b'+' | b'-')));
            if b.get(k).is_some_and(u8::is_ascii_digit) {
                lit = Lit::Numeric;
                j = k;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
            }
        }
        if lit == Lit::Plain {
            let digits = std::str::from_utf8(&b[start..int_end]).unwrap_or("");
            lit = match digits.parse::<i64>() {
                Ok(n) if i32::try_from(n).is_ok() => Lit::Plain,
                Ok(_) => Lit::Int8,
                Err(_) => Lit::Numeric,
            };
        }
    }
    // 0b1010, 0o17, 1_000_000: the rest of the word is part of the number
    // (or a MySQL name starting with a digit, which may as well fold).
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    (j, lit)
}

/// A sign right before a number is part of the literal when what comes
/// before the sign cannot be an operand (`= -5`, `(+6e-30`, `select -1`).
/// PostgreSQL folds only the minus into the constant; its unary plus is an
/// operator call.
fn fold_sign(out: &mut Vec<Tok>, pg: bool) {
    let Some(Tok::Punct(p)) = out.last() else {
        return;
    };
    if !(p == "-" || (p == "+" && !pg)) {
        return;
    }
    let before = out.len().checked_sub(2).map(|k| &out[k]);
    let unary = match before {
        None => true,
        Some(Tok::Punct(p)) => p != ")",
        Some(Tok::Word(w)) => SIGN_AFTER.contains(&w.as_str()),
        Some(_) => false,
    };
    if unary {
        out.pop();
    }
}

/// The end of the string literal starting at `start`; when `ambiguous`
/// and the two readings of backslashes disagree, the end of the input.
fn string_end(b: &[u8], start: usize, quote: u8, backslash: bool, ambiguous: bool) -> usize {
    let end = skip_string(b, start, quote, backslash);
    if ambiguous && skip_string(b, start, quote, !backslash) != end {
        b.len()
    } else {
        end
    }
}

/// The end of a quoted run starting at `start` (a doubled quote escapes
/// it; with `backslash`, a backslash escapes the next byte, as MySQL and
/// PostgreSQL's `E'..'` allow).
fn skip_string(b: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == b'\\' && backslash {
            i += 2;
            continue;
        }
        if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}
