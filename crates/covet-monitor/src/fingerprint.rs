//! Statement fingerprints: the shape of a statement without its values.
//!
//! Literals and placeholders become `?`, `IN (...)` and `VALUES (...)`
//! lists collapse to one `(...)`, comments go, whitespace and the case of
//! unquoted words fold, so `SELECT * FROM t WHERE id IN (1,2,3)` and
//! `select *  from T where id in ($1, $2) -- x` share one fingerprint.
//! The id is FNV-1a (64-bit) of the normalised text: the same on every run
//! and every machine, unlike `std`'s randomly seeded hasher.
//!
//! No literal survives, whatever its quoting: `'..'` (with the engine's
//! escapes: backslashes on MySQL, none in PostgreSQL's standard strings),
//! PostgreSQL's `E'..'`, `U&'..'` and `$tag$..$tag$`, `B'..'`, `X'..'`,
//! `N'..'`, MySQL's `_charset'..'`, hex, binary and octal numbers, and
//! double-quoted tokens everywhere but on PostgreSQL. MySQL reads `"..."` as
//! a string unless `ANSI_QUOTES` is set, and SQLite falls back to a string
//! when a double-quoted name matches no column; the fingerprinter cannot
//! know either, so it takes the choice that never keeps a secret
//! (`CREATE USER app IDENTIFIED BY "hunter2"`). Only PostgreSQL's double
//! quotes are always identifiers and are kept. [`Fingerprint::of`], which
//! knows no engine, also treats them as literals, and where the engines
//! would end a string in different places (a backslash before a quote)
//! folds the rest of the statement into one `?`.
//!
//! The server settings are assumed to be the defaults: MySQL without
//! `NO_BACKSLASH_ESCAPES`, PostgreSQL with `standard_conforming_strings`
//! on. Under the other setting a string holding a backslash right before
//! its closing quote is read differently by the server.

use std::fmt;

use covet_core::Engine;

/// The most characters of normalised text kept (the id covers all of it).
pub const MAX_TEXT: usize = 2048;

/// A statement's fingerprint: its normalised text and a stable id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// The stable 64-bit id (FNV-1a of the full normalised text).
    pub id: u64,
    /// The normalised text, cut at [`MAX_TEXT`] characters.
    pub text: String,
}

impl Fingerprint {
    /// Fingerprints `sql`.
    ///
    /// ```
    /// use covet_monitor::Fingerprint;
    /// let a = Fingerprint::of("SELECT * FROM users WHERE id IN (1, 2, 3) -- hot");
    /// let b = Fingerprint::of("select *\n  from USERS where id in ($1,$2)");
    /// assert_eq!(a, b);
    /// assert_eq!(a.text, "select * from users where id in (...)");
    /// assert_eq!(a.hex(), format!("{:016x}", a.id));
    /// ```
    pub fn of(sql: &str) -> Self {
        Self::build(normalize(sql))
    }

    /// Fingerprints `sql` as `engine` reads it: the quoting and escaping
    /// rules differ between engines (see the module docs), so this is the
    /// one the slow log and the metrics layer use.
    ///
    /// ```
    /// use covet_core::Engine;
    /// use covet_monitor::Fingerprint;
    /// let my = Fingerprint::for_engine(Engine::MySql, r#"CREATE USER app IDENTIFIED BY "hunter2""#);
    /// assert_eq!(my.text, "create user app identified by ?");
    /// let pg = Fingerprint::for_engine(Engine::Postgres, r#"SELECT "Name" FROM t WHERE a = 'x\'"#);
    /// assert_eq!(pg.text, r#"select "Name" from t where a = ?"#);
    /// ```
    pub fn for_engine(engine: Engine, sql: &str) -> Self {
        Self::build(normalize_for(engine, sql))
    }

    fn build(mut text: String) -> Self {
        let id = fnv1a(text.as_bytes());
        if text.len() > MAX_TEXT {
            let mut cut = MAX_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("...");
        }
        Fingerprint { id, text }
    }

    /// The id as 16 hex digits.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.id)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// FNV-1a, 64-bit: small, fixed, and the same everywhere.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Value,
    Punct(String),
}

/// How an engine quotes and escapes literals.
#[derive(Debug, Clone, Copy)]
struct Rules {
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
    fn of(engine: Option<Engine>) -> Rules {
        match engine {
            Some(Engine::Postgres) => Rules {
                dq_literal: false,
                backslash: false,
                hash_comment: false,
                unknown: false,
            },
            Some(Engine::Sqlite) => Rules {
                dq_literal: true,
                backslash: false,
                hash_comment: false,
                unknown: false,
            },
            // MySQL, and the safe reading when the engine is unknown.
            _ => Rules {
                dq_literal: true,
                backslash: true,
                hash_comment: matches!(engine, Some(Engine::MySql)),
                unknown: engine.is_none(),
            },
        }
    }
}

fn tokenize(sql: &str, rules: Rules) -> Vec<Tok> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
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
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(b.len());
            }
            b'#' if rules.hash_comment || rules.unknown => {
                let eol = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p);
                if rules.unknown && b[i..eol].iter().any(|x| matches!(x, b'\'' | b'"' | b'$')) {
                    out.push(Tok::Value);
                    i = b.len();
                } else {
                    i = eol;
                }
            }
            b'\'' => {
                i = string_end(b, i, b'\'', rules.backslash, rules.unknown);
                out.push(Tok::Value);
            }
            b'"' if rules.dq_literal => {
                i = string_end(b, i, b'"', rules.backslash, rules.unknown);
                out.push(Tok::Value);
            }
            b'"' | b'`' => {
                let end = skip_string(b, i, c, false);
                out.push(Tok::Quoted(sql[i..end].to_owned()));
                i = end;
            }
            b'$' => {
                // $1 placeholder, or a $tag$...$tag$ string.
                let mut j = i + 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j > i + 1 {
                    out.push(Tok::Value);
                    i = j;
                    continue;
                }
                // Tags may hold any letter, as identifiers do.
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
                {
                    j += 1;
                }
                if b.get(j) == Some(&b'$') {
                    let tag = &sql[i..=j];
                    let body = j + 1;
                    i = match sql[body..].find(tag) {
                        Some(p) => body + p + tag.len(),
                        None => b.len(),
                    };
                    out.push(Tok::Value);
                } else {
                    out.push(Tok::Punct("$".into()));
                    i += 1;
                }
            }
            b'?' => {
                out.push(Tok::Value);
                i += 1;
            }
            b':' if b.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic())
                && b.get(i.wrapping_sub(1)) != Some(&b':') =>
            {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                out.push(Tok::Value);
                i = j;
            }
            b'0'..=b'9' => {
                let mut j = i;
                if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
                    j += 2;
                    while j < b.len() && b[j].is_ascii_hexdigit() {
                        j += 1;
                    }
                } else {
                    while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
                        j += 1;
                    }
                    if j < b.len() && matches!(b[j], b'e' | b'E') {
                        let k = j + 1 + usize::from(matches!(b.get(j + 1), Some(b'+' | b'-')));
                        if b.get(k).is_some_and(u8::is_ascii_digit) {
                            j = k;
                            while j < b.len() && b[j].is_ascii_digit() {
                                j += 1;
                            }
                        }
                    }
                }
                // 0b1010, 0o17, 1_000_000: the rest of the word is part of
                // the number (or a MySQL name starting with a digit, which
                // may as well fold).
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                // A unary minus before a number is part of the literal.
                if matches!(out.last(), Some(Tok::Punct(p)) if p == "-")
                    && matches!(
                        out.len().checked_sub(2).map(|k| &out[k]),
                        None | Some(Tok::Punct(_))
                    )
                    && !matches!(out.len().checked_sub(2).map(|k| &out[k]), Some(Tok::Punct(p)) if p == ")")
                {
                    out.pop();
                }
                out.push(Tok::Value);
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
                // E'...', X'...', B'...', N'...' literals; only E'...'
                // takes backslash escapes on PostgreSQL.
                if b.get(j) == Some(&b'\'') && j - i == 1 {
                    let e = matches!(c, b'e' | b'E');
                    i = string_end(b, j, b'\'', rules.backslash || e, rules.unknown && !e);
                    out.push(Tok::Value);
                    continue;
                }
                let word = sql[i..j].to_lowercase();
                if matches!(word.as_str(), "true" | "false" | "null") {
                    out.push(Tok::Value);
                } else {
                    out.push(Tok::Word(word));
                }
                i = j;
            }
            _ => {
                let two = b.get(i..i + 2);
                let op = match two {
                    Some(b"<=" | b">=" | b"<>" | b"!=" | b"::" | b"||" | b"->" | b"=>") => 2,
                    _ => 1,
                };
                // Punctuation is ASCII here, so the slice is on char
                // boundaries unless a multi-byte char slipped in.
                let end = (i + op).min(b.len());
                let p = sql.get(i..end).unwrap_or("?");
                if p != ";" {
                    out.push(Tok::Punct(p.to_owned()));
                }
                i = end.max(i + 1);
                while i < b.len() && !sql.is_char_boundary(i) {
                    i += 1;
                }
            }
        }
    }
    out
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

fn is_punct(t: &Tok, p: &str) -> bool {
    matches!(t, Tok::Punct(x) if x == p)
}

/// If `toks[start]` opens a parenthesised list of values only, the index
/// just past its closing parenthesis.
fn value_list_end(toks: &[Tok], start: usize) -> Option<usize> {
    if !is_punct(toks.get(start)?, "(") {
        return None;
    }
    let mut i = start + 1;
    let mut depth = 1;
    let mut saw_value = false;
    while i < toks.len() {
        match &toks[i] {
            Tok::Punct(p) if p == "(" => depth += 1,
            Tok::Punct(p) if p == ")" => {
                depth -= 1;
                if depth == 0 {
                    return saw_value.then_some(i + 1);
                }
            }
            Tok::Punct(p) if p == "," || p == "-" || p == "+" => {}
            Tok::Value => saw_value = true,
            // Casts and constructors keep the list a list of values.
            Tok::Word(_) | Tok::Punct(_)
                if depth > 1 || matches!(&toks[i - 1], Tok::Punct(p) if p == "::") => {}
            _ => return None,
        }
        i += 1;
    }
    None
}

fn collapse(toks: &[Tok]) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let after_in = matches!(out.last(), Some(Tok::Word(w)) if w == "in");
        let after_values = matches!(out.last(), Some(Tok::Word(w)) if w == "values");
        if (after_in || after_values)
            && let Some(mut end) = value_list_end(toks, i)
        {
            if after_values {
                // (..), (..), (..) -> one group
                while is_punct(toks.get(end).unwrap_or(&Tok::Value), ",")
                    && let Some(next) = value_list_end(toks, end + 1)
                {
                    end = next;
                }
            }
            out.push(Tok::Punct("(...)".into()));
            i = end;
            continue;
        }
        out.push(toks[i].clone());
        i += 1;
    }
    out
}

/// The normalised text of `sql`, the engine unknown (see the module docs).
pub fn normalize(sql: &str) -> String {
    normalize_with(sql, Rules::of(None))
}

/// The normalised text of `sql` as `engine` reads it (see the module docs).
pub fn normalize_for(engine: Engine, sql: &str) -> String {
    normalize_with(sql, Rules::of(Some(engine)))
}

fn normalize_with(sql: &str, rules: Rules) -> String {
    let toks = collapse(&tokenize(sql, rules));
    let mut s = String::with_capacity(sql.len().min(MAX_TEXT * 2));
    let mut prev: Option<&Tok> = None;
    for t in &toks {
        let text: &str = match t {
            Tok::Word(w) => w,
            Tok::Quoted(q) => q,
            Tok::Value => "?",
            Tok::Punct(p) => p,
        };
        let tight_before =
            matches!(t, Tok::Punct(p) if matches!(p.as_str(), "," | ")" | "." | "::" | "("));
        let tight_after_prev =
            matches!(prev, Some(Tok::Punct(p)) if matches!(p.as_str(), "(" | "." | "::"));
        let space = prev.is_some() && !tight_before && !tight_after_prev;
        // `in (...)` and `values (...)` read better with the space kept.
        let keep = matches!(t, Tok::Punct(p) if p == "(...)");
        if space || (keep && prev.is_some()) {
            s.push(' ');
        }
        s.push_str(text);
        prev = Some(t);
    }
    s
}

/// The statement's operation (`"select"`, `"insert"`, ...), from its first
/// word; `"other"` when it is not one Covet names. Never allocates.
pub fn operation(sql: &str) -> &'static str {
    let word = first_word(sql);
    const OPS: &[&str] = &[
        "select",
        "insert",
        "update",
        "delete",
        "with",
        "replace",
        "merge",
        "begin",
        "commit",
        "rollback",
        "create",
        "alter",
        "drop",
        "truncate",
        "explain",
        "call",
        "set",
        "show",
        "copy",
        "grant",
        "revoke",
        "savepoint",
        "release",
        "start",
        "values",
    ];
    OPS.iter()
        .find(|op| op.eq_ignore_ascii_case(word))
        .copied()
        .unwrap_or("other")
}

fn first_word(sql: &str) -> &str {
    let mut s = sql;
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix("--") {
            s = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest.split_once("*/").map_or("", |(_, r)| r);
        } else if let Some(rest) = s.strip_prefix('(') {
            s = rest;
        } else {
            break;
        }
    }
    let end = s
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(s.len());
    &s[..end]
}

/// Whether `sql` is a plain read-only SELECT: it starts with SELECT and
/// locks or writes nothing (`FOR UPDATE`, `FOR SHARE`, `INTO`, a
/// data-modifying CTE are all refused). Used to allow EXPLAIN ANALYZE,
/// which runs the statement.
pub fn is_read_only_select(sql: &str) -> bool {
    if operation(sql) != "select" {
        return false;
    }
    // EXPLAIN ANALYZE runs the statement: it must look read-only whether
    // backslashes escape (MySQL) or not (PostgreSQL), so that a string read
    // the wrong way cannot hide a write.
    [Rules::of(None), Rules::of(Some(Engine::Postgres))]
        .into_iter()
        .all(|rules| read_only_tokens(&tokenize(sql, rules)))
}

fn read_only_tokens(toks: &[Tok]) -> bool {
    let words: Vec<&str> = toks
        .iter()
        .filter_map(|t| match t {
            Tok::Word(w) => Some(w.as_str()),
            _ => None,
        })
        .collect();
    let forbidden = [
        "into", "insert", "update", "delete", "lock", "nextval", "setval",
    ];
    !words.iter().any(|w| forbidden.contains(w))
        && !words
            .windows(2)
            .any(|p| p[0] == "for" && matches!(p[1], "update" | "share" | "no" | "key"))
}

/// Whether `sql` may carry a credential as a literal (`CREATE USER ...
/// PASSWORD '...'`, `IDENTIFIED BY`, `SET PASSWORD`, `CREATE SERVER ...
/// OPTIONS (password ...)`). Such statements are never logged raw.
pub fn may_carry_secret(sql: &str) -> bool {
    let lower_has = |needle: &str| {
        sql.as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    };
    lower_has("password")
        || lower_has("identified")
        || lower_has("secret")
        || lower_has("user mapping")
}

/// Whether the fingerprinter treats `sql` as something EXPLAIN can show a
/// plan for (a SELECT, INSERT, UPDATE, DELETE, REPLACE or WITH query).
pub fn is_explainable(sql: &str) -> bool {
    matches!(
        operation(sql),
        "select" | "insert" | "update" | "delete" | "replace" | "with"
    )
}
