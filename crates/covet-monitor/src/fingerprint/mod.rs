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
//! Grouping follows the tool each engine's operators already use:
//!
//! - MySQL and MariaDB ([`Fingerprint::for_engine`] with `Engine::MySql`):
//!   pt-query-digest's documented rules. A multi-row `INSERT|REPLACE ..
//!   VALUES` is cut after its first row (an `ON DUPLICATE KEY UPDATE` after
//!   several rows goes with it), lists of bare literals after `IN`,
//!   `VALUES` and `VALUE` collapse, `USE db` is `use ?`, `LIMIT a, b` and
//!   `LIMIT b OFFSET a` are `limit ?`, `ASC` after `ORDER BY` goes, runs of
//!   one `SELECT` joined by the same `UNION [ALL]` fold into one, `CALL
//!   p(..)` is `call p`, and digits inside names fold (`users_2009` and
//!   `users_2010` are one group). Version comments (`/*!50002 GLOBAL */`)
//!   are code the server runs, so they are kept (their version number is a
//!   literal); other comments go.
//! - PostgreSQL: what its parser folds before it computes a query id
//!   (`ASC`, default `NULLS FIRST|LAST`, `!=`, `INNER` and `OUTER`, a
//!   quoted lower-case name), plus, by default, lists of literals of any
//!   length; [`PgGrouping::QueryId`] keeps list lengths and literal types
//!   apart, as pg_stat_statements does.
//! - Everywhere: whitespace, case and comments fold; numbers are read whole
//!   (`0b1010`, `+6e-30`, `.5`, a sign after an operator or keyword);
//!   statements need not be valid UTF-8 ([`Fingerprint::of_bytes`]).
//!
//! The server settings are assumed to be the defaults: MySQL without
//! `NO_BACKSLASH_ESCAPES`, PostgreSQL with `standard_conforming_strings`
//! on. Under the other setting a string holding a backslash right before
//! its closing quote is read differently by the server.

use std::fmt;

use covet_core::Engine;

mod lex;
mod shape;

use lex::{Lit, Rules, Tok, tokenize};

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
        Fingerprinter::new(None).fingerprint(sql)
    }

    /// Fingerprints `sql`, which need not be valid UTF-8, as `engine`
    /// reads it (`None`: the engine is unknown).
    ///
    /// ```
    /// use covet_core::Engine;
    /// use covet_monitor::Fingerprint;
    /// let fp = Fingerprint::of_bytes(Some(Engine::MySql), b"SELECT * FROM t WHERE name = 'caf\xe9'");
    /// assert_eq!(fp.text, "select * from t where name = ?");
    /// ```
    pub fn of_bytes(engine: Option<Engine>, sql: &[u8]) -> Self {
        Fingerprinter::new(engine).fingerprint_bytes(sql)
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
        Fingerprinter::new(Some(engine)).fingerprint(sql)
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

/// How PostgreSQL statements are grouped (the other engines have one
/// grouping each).
///
/// pg_stat_statements groups by parse tree (its query id): an `IN` list of
/// three values, one of four and one of forty are three queries there, and
/// so are `VALUES` lists of different lengths and a constant that is an
/// `int4` in one call and an `int8` or `numeric` in the next. For an
/// operator those are one query whose list length varies, so [`Shape`]
/// is the default; [`QueryId`] follows pg_stat_statements, so that
/// Covet's groups line up one to one with its rows.
///
/// [`Shape`]: PgGrouping::Shape
/// [`QueryId`]: PgGrouping::QueryId
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PgGrouping {
    /// Lists of literals collapse whatever their length, literal types do
    /// not count (the default).
    #[default]
    Shape,
    /// As pg_stat_statements groups: list lengths and literal types
    /// (`int4`, `int8`, `numeric`, as far as the text shows them) count, and
    /// `$n` parameters stay numbered.
    QueryId,
}

/// A fingerprinter for one engine (or none) and, on PostgreSQL, one
/// [`PgGrouping`].
///
/// ```
/// use covet_core::Engine;
/// use covet_monitor::fingerprint::{Fingerprinter, PgGrouping};
/// let shape = Fingerprinter::new(Some(Engine::Postgres));
/// let qid = shape.pg_grouping(PgGrouping::QueryId);
/// let (a, b) = ("SELECT * FROM t WHERE id IN (1, 2)", "SELECT * FROM t WHERE id IN (3, 4, 5)");
/// assert_eq!(shape.fingerprint(a), shape.fingerprint(b));
/// assert_ne!(qid.fingerprint(a), qid.fingerprint(b));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fingerprinter {
    engine: Option<Engine>,
    pg: PgGrouping,
}

impl Fingerprinter {
    /// A fingerprinter reading statements as `engine` does; `None` is the
    /// safe reading when the engine is unknown (see the module docs).
    pub fn new(engine: Option<Engine>) -> Self {
        Fingerprinter {
            engine,
            pg: PgGrouping::default(),
        }
    }

    /// How PostgreSQL statements are grouped (no effect on other engines).
    #[must_use]
    pub fn pg_grouping(mut self, grouping: PgGrouping) -> Self {
        self.pg = grouping;
        self
    }

    /// The fingerprint of `sql`.
    pub fn fingerprint(&self, sql: &str) -> Fingerprint {
        self.fingerprint_bytes(sql.as_bytes())
    }

    /// The fingerprint of `sql`, which need not be valid UTF-8 (names are
    /// decoded lossily; literals are dropped undecoded).
    pub fn fingerprint_bytes(&self, sql: &[u8]) -> Fingerprint {
        Fingerprint::build(self.normalize_bytes(sql))
    }

    /// The normalised text of `sql` (see the module docs).
    pub fn normalize_bytes(&self, sql: &[u8]) -> String {
        let rules = Rules::of(self.engine);
        let toks = tokenize(sql, rules, &mut Vec::new());
        render(&shape::shape(toks, rules.dialect, self.pg), self.pg)
    }

    /// `input` cut into statements at each top-level `;` (not one inside
    /// a literal, a quoted name or a comment), as this engine reads it;
    /// statements holding only whitespace and comments are left out.
    /// Compound statements (`BEGIN .. END` bodies, which the `mysql`
    /// client separates with `DELIMITER`) are cut at their inner `;`.
    pub fn split<'a>(&self, input: &'a [u8]) -> Vec<&'a [u8]> {
        let rules = Rules::of(self.engine);
        let mut semis = Vec::new();
        tokenize(input, rules, &mut semis);
        let mut out = Vec::new();
        let mut start = 0;
        for end in semis.into_iter().chain(std::iter::once(input.len())) {
            let piece = &input[start..end];
            if !tokenize(piece, rules, &mut Vec::new()).is_empty() {
                out.push(piece);
            }
            start = (end + 1).min(input.len());
        }
        out
    }
}

/// The normalised text of `sql`, the engine unknown (see the module docs).
pub fn normalize(sql: &str) -> String {
    Fingerprinter::new(None).normalize_bytes(sql.as_bytes())
}

/// The normalised text of `sql` as `engine` reads it (see the module docs).
pub fn normalize_for(engine: Engine, sql: &str) -> String {
    Fingerprinter::new(Some(engine)).normalize_bytes(sql.as_bytes())
}

fn render(toks: &[Tok], pg: PgGrouping) -> String {
    let mut s = String::new();
    let mut prev: Option<&Tok> = None;
    for t in toks {
        let text: &str = match t {
            Tok::Word(w) => w,
            Tok::Quoted(q) => q,
            Tok::Value(lit) => match (pg, lit) {
                (PgGrouping::QueryId, Lit::Int8) => "?::int8",
                (PgGrouping::QueryId, Lit::Numeric) => "?::numeric",
                _ => "?",
            },
            Tok::Param(p) if pg == PgGrouping::QueryId => p,
            Tok::Param(_) => "?",
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
    // the wrong way cannot hide a write, and whether `/*! .. */` is code
    // (MySQL runs it) or a comment.
    [
        Rules::of(None),
        Rules::of(Some(Engine::Postgres)),
        Rules::of(Some(Engine::MySql)),
    ]
    .into_iter()
    .all(|rules| read_only_tokens(&tokenize(sql.as_bytes(), rules, &mut Vec::new())))
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
