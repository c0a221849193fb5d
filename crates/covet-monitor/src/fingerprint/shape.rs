//! Per-dialect folding of a token stream into a statement's shape: what
//! makes two statements one group.
//!
//! MySQL follows pt-query-digest's documented rules (multi-row inserts cut
//! to their first row, lists of literals collapsed, `USE db`, `LIMIT` forms,
//! `ORDER BY .. ASC`, repeated `UNION`s, `CALL` arguments, numbers embedded
//! in names). PostgreSQL folds only what its parser itself folds (`ASC`,
//! default `NULLS` order, `!=`, `INNER`/`OUTER`), plus, unless the
//! query-id grouping is asked for, lists of literals.

use super::PgGrouping;
use super::lex::{Dialect, Tok};

fn is_punct(t: Option<&Tok>, p: &str) -> bool {
    matches!(t, Some(Tok::Punct(x)) if x == p)
}

fn is_word(t: Option<&Tok>, w: &str) -> bool {
    matches!(t, Some(Tok::Word(x)) if x == w)
}

fn is_value(t: &Tok) -> bool {
    matches!(t, Tok::Value(_) | Tok::Param(_))
}

/// The index of the `)` matching the `(` at `open`.
fn matching(toks: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        if is_punct(Some(t), "(") {
            depth += 1;
        } else if is_punct(Some(t), ")") {
            depth -= 1;
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

pub(super) fn shape(toks: Vec<Tok>, dialect: Dialect, pg: PgGrouping) -> Vec<Tok> {
    let toks: Vec<Tok> = toks
        .into_iter()
        .filter(|t| !is_punct(Some(t), ";"))
        .collect();
    match dialect {
        Dialect::MySql => mysql(toks),
        Dialect::Postgres => {
            let toks = postgres(&toks);
            match pg {
                PgGrouping::Shape => collapse(&toks, false),
                PgGrouping::QueryId => toks,
            }
        }
        Dialect::Unknown | Dialect::Sqlite => {
            let toks = collapse(&toks, false);
            let toks = drop_asc(toks, false);
            limit(&toks, false)
        }
    }
}

fn mysql(toks: Vec<Tok>) -> Vec<Tok> {
    // `USE db`: one group whatever the database.
    if toks.len() == 2 && is_word(toks.first(), "use") {
        return vec![toks[0].clone(), Tok::Value(super::lex::Lit::Plain)];
    }
    let mut toks = toks;
    // `CALL proc(args)`: the procedure is the shape, its arguments are not.
    if is_word(toks.first(), "call")
        && let Some(open) = toks.iter().position(|t| is_punct(Some(t), "("))
    {
        toks.truncate(open);
        return embedded_numbers(toks);
    }
    cut_multi_row_insert(&mut toks);
    let toks = collapse(&toks, true);
    let toks = repeated_unions(toks);
    let toks = limit(&toks, true);
    let toks = drop_asc(toks, true);
    embedded_numbers(toks)
}

/// A multi-row `INSERT|REPLACE [IGNORE] INTO .. VALUES (..), (..) ...` is
/// cut after its first row, whatever follows (`ON DUPLICATE KEY UPDATE`
/// included), as pt-query-digest does: the number of rows and the clause
/// after them make no new group.
fn cut_multi_row_insert(toks: &mut Vec<Tok>) {
    if !(is_word(toks.first(), "insert") || is_word(toks.first(), "replace")) {
        return;
    }
    let into = if is_word(toks.get(1), "ignore") { 2 } else { 1 };
    if !is_word(toks.get(into), "into") {
        return;
    }
    let Some(values) = toks.iter().position(|t| is_word(Some(t), "values")) else {
        return;
    };
    if !is_punct(toks.get(values + 1), "(") {
        return;
    }
    if let Some(close) = matching(toks, values + 1)
        && is_punct(toks.get(close + 1), ",")
        && is_punct(toks.get(close + 2), "(")
    {
        toks.truncate(close + 1);
    }
}

/// If `toks[start]` opens a parenthesised list of values only, the index
/// just past its closing parenthesis. `strict` (MySQL) accepts only bare
/// literals, as pt-query-digest does; otherwise casts and constructors of
/// literals count as literals too.
fn value_list_end(toks: &[Tok], start: usize, strict: bool) -> Option<usize> {
    if !is_punct(toks.get(start), "(") {
        return None;
    }
    let mut i = start + 1;
    let mut depth = 1;
    let mut saw_value = strict;
    while i < toks.len() {
        match &toks[i] {
            Tok::Punct(p) if p == "(" && !strict => depth += 1,
            Tok::Punct(p) if p == ")" => {
                depth -= 1;
                if depth == 0 {
                    return saw_value.then_some(i + 1);
                }
            }
            Tok::Punct(p) if p == "," => {}
            Tok::Punct(p) if (p == "-" || p == "+") && !strict => {}
            t if is_value(t) => saw_value = true,
            // Casts and constructors keep the list a list of values.
            Tok::Word(_) | Tok::Punct(_)
                if !strict && (depth > 1 || is_punct(toks.get(i - 1), "::")) => {}
            _ => return None,
        }
        i += 1;
    }
    None
}

/// `IN (..)` and `VALUES (..), (..)` lists of literals become one `(...)`.
fn collapse(toks: &[Tok], strict: bool) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let after_in = is_word(out.last(), "in");
        let after_values =
            is_word(out.last(), "values") || (strict && is_word(out.last(), "value"));
        if (after_in || after_values)
            && let Some(mut end) = value_list_end(toks, i, strict)
        {
            if after_values || strict {
                // (..), (..), (..) -> one group
                while is_punct(toks.get(end), ",")
                    && let Some(next) = value_list_end(toks, end + 1, strict)
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

/// `LIMIT a, b` and `LIMIT b OFFSET a`: on MySQL (`all`) both fold into
/// `LIMIT ?`, as pt-query-digest folds them; elsewhere the comma form
/// becomes the `OFFSET` form, which means the same.
fn limit(toks: &[Tok], all: bool) -> Vec<Tok> {
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        out.push(toks[i].clone());
        if is_word(toks.get(i), "limit") && toks.get(i + 1).is_some_and(is_value) {
            out.push(toks[i + 1].clone());
            let comma = is_punct(toks.get(i + 2), ",");
            let offset = is_word(toks.get(i + 2), "offset");
            if (comma || (offset && all)) && toks.get(i + 3).is_some_and(is_value) {
                if !all {
                    out.push(Tok::Word("offset".into()));
                    out.push(toks[i + 3].clone());
                }
                i += 4;
                continue;
            }
            i += 2;
            continue;
        }
        i += 1;
    }
    out
}

/// `ASC` is the default order. On MySQL only after the first `ORDER BY`,
/// where pt-query-digest drops it; elsewhere anywhere (it is a reserved
/// word that only orders).
fn drop_asc(toks: Vec<Tok>, after_order_by: bool) -> Vec<Tok> {
    let mut seen = !after_order_by;
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    for t in toks {
        if !seen && is_word(Some(&t), "by") && is_word(out.last(), "order") {
            seen = true;
        }
        if seen && is_word(Some(&t), "asc") {
            continue;
        }
        out.push(t);
    }
    out
}

/// Runs of one `SELECT` repeated with the same `UNION [ALL]` become one,
/// marked `/*repeat union all*/`, as pt-query-digest folds them.
fn repeated_unions(toks: Vec<Tok>) -> Vec<Tok> {
    if !toks.iter().any(|t| is_word(Some(t), "union")) {
        return toks;
    }
    // Split at top-level UNION [ALL|DISTINCT].
    let mut parts: Vec<(Vec<Tok>, Vec<Tok>)> = vec![(Vec::new(), Vec::new())];
    let mut depth = 0i32;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if is_punct(Some(t), "(") {
            depth += 1;
        } else if is_punct(Some(t), ")") {
            depth -= 1;
        }
        if depth == 0 && is_word(Some(t), "union") {
            let mut conn = vec![t.clone()];
            if is_word(toks.get(i + 1), "all") || is_word(toks.get(i + 1), "distinct") {
                conn.push(toks[i + 1].clone());
                i += 1;
            }
            parts.push((conn, Vec::new()));
        } else if let Some(last) = parts.last_mut() {
            last.1.push(t.clone());
        }
        i += 1;
    }
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut k = 0;
    while k < parts.len() {
        let (conn, body) = &parts[k];
        out.extend(conn.iter().cloned());
        out.extend(body.iter().cloned());
        // The repeated query is the tail of this part from its last
        // top-level SELECT (`INSERT .. SELECT .. UNION ALL SELECT ..`).
        let from = body
            .iter()
            .rposition(|t| is_word(Some(t), "select"))
            .unwrap_or(0);
        let tail = &body[from..];
        let mut last_conn = None;
        let mut n = k + 1;
        while n < parts.len() && !tail.is_empty() && parts[n].1 == tail {
            last_conn = Some(&parts[n].0);
            n += 1;
        }
        if let Some(conn) = last_conn {
            let words: Vec<&str> = conn
                .iter()
                .filter_map(|t| match t {
                    Tok::Word(w) => Some(w.as_str()),
                    _ => None,
                })
                .collect();
            out.push(Tok::Punct(format!("/*repeat {}*/", words.join(" "))));
        }
        k = n;
    }
    out
}

/// Digits inside a name fold, as pt-query-digest folds them (`users_2009`
/// and `users_2010` are one group): from a digit on, hex digits become `?`.
fn embedded_numbers(toks: Vec<Tok>) -> Vec<Tok> {
    fn fold(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut run = false;
        for ch in s.chars() {
            if run && ch.is_ascii_hexdigit() {
                continue;
            }
            run = ch.is_ascii_digit();
            out.push(if run { '?' } else { ch });
        }
        out
    }
    toks.into_iter()
        .map(|t| match t {
            Tok::Word(w) if w.bytes().any(|b| b.is_ascii_digit()) => Tok::Word(fold(&w)),
            Tok::Quoted(q) if q.bytes().any(|b| b.is_ascii_digit()) => Tok::Quoted(fold(&q)),
            t => t,
        })
        .collect()
}

/// What PostgreSQL's parser folds before it computes a query id.
fn postgres(toks: &[Tok]) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        match t {
            Tok::Word(w) if w == "asc" => {}
            // The default: NULLS LAST ascending, NULLS FIRST descending.
            Tok::Word(w)
                if w == "nulls"
                    && (is_word(toks.get(i + 1), "first") || is_word(toks.get(i + 1), "last")) =>
            {
                let desc = is_word(out.last(), "desc");
                let first = is_word(toks.get(i + 1), "first");
                if desc != first {
                    out.push(t.clone());
                    out.push(toks[i + 1].clone());
                }
                i += 1;
            }
            Tok::Word(w) if (w == "inner" || w == "outer") && is_word(toks.get(i + 1), "join") => {}
            Tok::Punct(p) if p == "!=" => out.push(Tok::Punct("<>".into())),
            // `"users"` is `users`: the parser folds unquoted names to lower
            // case, so a quoted lower-case name is the same name (keywords
            // excepted, which mean something else unquoted).
            Tok::Quoted(q) if plain_name(q) => out.push(Tok::Word(q[1..q.len() - 1].to_owned())),
            _ => out.push(t.clone()),
        }
        i += 1;
    }
    out
}

/// Whether `q` (with its double quotes) names what the bare word names.
fn plain_name(q: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "all",
        "and",
        "any",
        "as",
        "asc",
        "both",
        "case",
        "check",
        "column",
        "current_date",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "false",
        "for",
        "from",
        "group",
        "having",
        "in",
        "is",
        "limit",
        "not",
        "null",
        "offset",
        "on",
        "or",
        "order",
        "primary",
        "references",
        "select",
        "session_user",
        "table",
        "then",
        "to",
        "true",
        "union",
        "user",
        "using",
        "when",
        "where",
        "with",
    ];
    let Some(inner) = q.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else {
        return false;
    };
    let mut bytes = inner.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'$')
        && !KEYWORDS.contains(&inner)
}
