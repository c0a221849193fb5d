//! Splits a migration file into statements, since drivers run one
//! statement per call. A small lexer rather than the SQL parser: it must
//! split what the parser does not understand too, and it only needs to know
//! where strings, quoted names, comments, dollar quotes and trigger bodies
//! begin and end.

use covet_core::Engine;

/// The statements of `sql`, each trimmed, without the separating `;`;
/// statements that are only comments and space are dropped.
///
/// `;` inside quotes (`'..'`, `".."`, MySQL's `` `..` ``), comments
/// (`--`, `#` on MySQL, `/* */`), PostgreSQL dollar quotes (`$tag$..$tag$`)
/// and `BEGIN .. END` / `CASE .. END` blocks of a `CREATE TRIGGER`,
/// `FUNCTION`, `PROCEDURE` or `EVENT` does not end a statement.
pub fn split(sql: &str, engine: Engine) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut depth = 0usize;
    let mut words: Vec<String> = Vec::new();
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' | b'`' => i = skip_quoted(b, i, c, engine),
            b'-' if b.get(i + 1) == Some(&b'-') => i = skip_line(b, i),
            b'#' if engine == Engine::MySql => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2);
            }
            b'$' if engine == Engine::Postgres => i = skip_dollar(sql, i),
            b';' if depth == 0 => {
                push(&mut out, &sql[start..i]);
                words.clear();
                i += 1;
                start = i;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$')
                {
                    i += 1;
                }
                let w = sql[s..i].to_ascii_uppercase();
                if has_body(&words) {
                    match w.as_str() {
                        "BEGIN" | "CASE" => depth += 1,
                        // `END IF` / `END LOOP` close blocks that were not
                        // counted; a bare `END` or `END CASE` closes one that was.
                        "END" => {
                            let next = next_word(sql, i);
                            if !matches!(next.as_str(), "IF" | "LOOP" | "WHILE" | "REPEAT") {
                                depth = depth.saturating_sub(1);
                            }
                        }
                        _ => {}
                    }
                }
                if words.len() < 8 {
                    words.push(w);
                }
            }
            _ => i += 1,
        }
    }
    push(&mut out, &sql[start..]);
    out
}

fn push(out: &mut Vec<String>, stmt: &str) {
    if !only_comments(stmt) {
        out.push(stmt.trim().to_owned());
    }
}

/// Whether a statement starting with these words has a body of statements.
fn has_body(words: &[String]) -> bool {
    words.first().is_some_and(|w| w == "CREATE")
        && words
            .iter()
            .any(|w| matches!(w.as_str(), "TRIGGER" | "FUNCTION" | "PROCEDURE" | "EVENT"))
}

fn next_word(sql: &str, from: usize) -> String {
    sql[from..]
        .trim_start()
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

fn skip_line(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |p| i + p + 1)
}

fn skip_quoted(b: &[u8], i: usize, q: u8, engine: Engine) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == b'\\' && engine == Engine::MySql && q != b'`' {
            j += 2;
            continue;
        }
        if b[j] == q {
            // A doubled quote is an escaped quote, in every dialect.
            if b.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

fn skip_dollar(sql: &str, i: usize) -> usize {
    let rest = &sql[i + 1..];
    let tag_len = rest
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || c == b'_'))
        .unwrap_or(rest.len());
    // `$1` is a parameter, not a quote; a tag does not start with a digit.
    if rest.as_bytes().get(tag_len) != Some(&b'$')
        || rest.as_bytes().first().is_some_and(u8::is_ascii_digit)
    {
        return i + 1;
    }
    let tag = &sql[i..i + 1 + tag_len + 1];
    let body = i + tag.len();
    sql[body..]
        .find(tag)
        .map_or(sql.len(), |p| body + p + tag.len())
}

fn only_comments(s: &str) -> bool {
    code(s).is_empty()
}

/// `s` without the comments and space that lead it.
pub(crate) fn code(s: &str) -> &str {
    let mut rest = s.trim_start();
    loop {
        if rest.is_empty() {
            return rest;
        }
        if let Some(r) = rest.strip_prefix("--").or_else(|| rest.strip_prefix('#')) {
            rest = r.split_once('\n').map_or("", |x| x.1).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |x| x.1).trim_start();
        } else {
            return rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_comments_and_bodies() {
        let sql = "-- header; not a statement\nCREATE TABLE t (a text DEFAULT 'x;y');\n\
                   /* c; */ INSERT INTO t VALUES ('it''s;');\n\
                   CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n\
                   SELECT $1::int;\n-- trailing comment";
        let s = split(sql, Engine::Postgres);
        assert_eq!(s.len(), 4, "{s:#?}");
        assert!(s[0].ends_with("'x;y')"));
        assert!(s[2].contains("$body$ SELECT 1; $body$"));
    }

    #[test]
    fn trigger_bodies_stay_whole() {
        let sql = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = CASE WHEN 1 THEN 2 END; DELETE FROM u; END;\nSELECT 1;";
        let s = split(sql, Engine::Sqlite);
        assert_eq!(s.len(), 2, "{s:#?}");
        let my = "CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; SELECT 2; END;SELECT `a;b` FROM t # x;\n;";
        let s = split(my, Engine::MySql);
        assert_eq!(s.len(), 2, "{s:#?}");
        // BEGIN as a transaction statement is not a block.
        assert_eq!(split("BEGIN; SELECT 1; COMMIT;", Engine::Postgres).len(), 3);
    }
}
