//! SQLite backups (format version 2): the schema as SQLite itself wrote it
//! (`sqlite_master.sql`), `sqlite_sequence`, `user_version` and
//! `application_id`, and every value read by its storage class rather than
//! its column's declared type, so a TEXT stays the same text (a DATETIME
//! column's `1962-02-18 00:00:00` is not turned into a timestamp and
//! printed back differently) and an INTEGER, REAL or BLOB the same bytes.
//!
//! Virtual tables of SQLite's own modules that keep their content in
//! ordinary "shadow" tables (FTS3/4, FTS5, R*Tree, Geopoly) are carried as
//! the sqlite3 shell's `.dump` carries them: the virtual table's statement,
//! and the shadow tables' rows exactly (the index as it was, not rebuilt).
//! Other virtual tables hold nothing of their own in the file, or hold it
//! where SQLite does not show it, and are refused at create time.

use covet_core::{Statement, Transaction, Value};
use serde::{Deserialize, Serialize};

use crate::error::{BackupError, Result};

/// A backup's SQLite schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqliteCatalog {
    /// Tables, indexes, views and triggers with their `CREATE` statements,
    /// in the order SQLite lists them (`sqlite_master` rowid order).
    pub objects: Vec<SqliteObject>,
    /// `sqlite_sequence`: each AUTOINCREMENT table's largest rowid so far.
    pub sequences: Vec<(String, i64)>,
    /// `PRAGMA user_version`.
    pub user_version: i64,
    /// `PRAGMA application_id`.
    pub application_id: i64,
    /// The shadow tables of the virtual tables in `objects`: created by
    /// their virtual table's statement (their own is not run), emptied of
    /// what that creation wrote, then loaded with the backup's rows.
    /// Absent in backups of files without virtual tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow_tables: Vec<String>,
}

/// Virtual table modules whose whole content is in shadow tables, which
/// every SQLite build that has the module creates the same way.
const CARRIED_MODULES: &[&str] = &["fts3", "fts4", "fts5", "rtree", "rtree_i32", "geopoly"];

/// The module of a `CREATE VIRTUAL TABLE` statement, lowercased; `None`
/// when `sql` is not one.
fn virtual_module(sql: &str) -> Option<String> {
    // Words and quoted names in order; a quoted name is one token whatever
    // it holds, so a table called "x USING y" is not misread.
    let mut tokens = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '"' | '`' | '[' | '\'' => {
                let close = if c == '[' { ']' } else { c };
                let mut t = String::new();
                while let Some((_, d)) = chars.next() {
                    if d == close {
                        if close != ']' && chars.peek().map(|p| p.1) == Some(close) {
                            chars.next();
                            t.push(d);
                            continue;
                        }
                        break;
                    }
                    t.push(d);
                }
                tokens.push((true, t));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut t = String::from(c);
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_alphanumeric() || d == '_' || d == '$' {
                        t.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push((false, t));
            }
            '(' => break,
            _ => {}
        }
        if tokens.len() > 12 {
            break;
        }
    }
    let word = |i: usize, w: &str| {
        tokens
            .get(i)
            .is_some_and(|(q, t)| !q && t.eq_ignore_ascii_case(w))
    };
    if !(word(0, "create") && word(1, "virtual") && word(2, "table")) {
        return None;
    }
    let using = (3..tokens.len()).find(|&i| word(i, "using"))?;
    tokens.get(using + 1).map(|(_, t)| t.to_ascii_lowercase())
}

/// One `sqlite_master` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqliteObject {
    /// `table`, `index`, `view` or `trigger`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The statement that created it, as SQLite stored it.
    pub sql: String,
}

fn int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::I64(n)) => *n,
        Some(Value::I32(n)) => i64::from(*n),
        _ => 0,
    }
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::Text(s)) => s.clone(),
        _ => String::new(),
    }
}

async fn query(tx: &mut dyn Transaction, sql: &str) -> Result<covet_core::Rows> {
    tx.query(&Statement::new(sql))
        .await
        .map_err(|e| BackupError::Database(e.context(sql.to_owned())))
}

/// Reads the catalog inside the snapshot's read transaction, and leaves
/// virtual tables out of `tables` (their content is copied through their
/// shadow tables, or not at all). Fails, naming them as `virtual table
/// NAME`, on virtual tables of modules not carried that `exclude` does not
/// list; those listed are left out of the catalog too.
pub(crate) async fn read_catalog(
    tx: &mut dyn Transaction,
    exclude: &[String],
    tables: &mut Vec<crate::format::TableSchema>,
) -> Result<SqliteCatalog> {
    // Entries without SQL are the indexes SQLite makes for PRIMARY KEY and
    // UNIQUE constraints: their tables' statements make them again.
    let rows = query(
        tx,
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
    )
    .await?;
    let mut objects: Vec<SqliteObject> = rows
        .rows
        .iter()
        .map(|r| SqliteObject {
            kind: text(r.value(0).ok()),
            name: text(r.value(1).ok()),
            sql: text(r.value(2).ok()),
        })
        .collect();
    let virtuals: Vec<(String, String)> = objects
        .iter()
        .filter(|o| o.kind == "table")
        .filter_map(|o| virtual_module(&o.sql).map(|m| (o.name.clone(), m)))
        .collect();
    let mut shadow_tables = Vec::new();
    if !virtuals.is_empty() {
        let refused: Vec<String> = virtuals
            .iter()
            .filter(|(_, m)| !CARRIED_MODULES.contains(&m.as_str()))
            .map(|(n, _)| format!("virtual table {n}"))
            .filter(|r| !exclude.contains(r))
            .collect();
        if !refused.is_empty() {
            return Err(BackupError::Refused {
                count: refused.len(),
                objects: refused
                    .iter()
                    .take(10)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        objects.retain(|o| {
            !virtuals
                .iter()
                .any(|(n, m)| *n == o.name && !CARRIED_MODULES.contains(&m.as_str()))
        });
        tables.retain(|t| !virtuals.iter().any(|(n, _)| *n == t.table.name));
        // SQLite (3.37 and later) marks the tables a virtual table owns.
        for r in &query(
            tx,
            "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'",
        )
        .await?
        .rows
        {
            shadow_tables.push(text(r.value(0).ok()));
        }
        shadow_tables.sort_by_key(|n| objects.iter().position(|o| o.name == *n));
    }
    let has_seq = !query(
        tx,
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'",
    )
    .await?
    .is_empty();
    let mut sequences = Vec::new();
    if has_seq {
        for r in &query(tx, "SELECT name, seq FROM sqlite_sequence ORDER BY rowid")
            .await?
            .rows
        {
            sequences.push((text(r.value(0).ok()), int(r.value(1).ok())));
        }
    }
    let pragma = |rows: covet_core::Rows| rows.rows.first().map_or(0, |r| int(r.value(0).ok()));
    let user_version = pragma(query(tx, "PRAGMA user_version").await?);
    let application_id = pragma(query(tx, "PRAGMA application_id").await?);
    Ok(SqliteCatalog {
        objects,
        sequences,
        user_version,
        application_id,
        shadow_tables,
    })
}

/// The statements that restore the catalog around the data: tables before
/// it (a virtual table's statement makes its shadow tables, which are then
/// emptied of what it wrote into them, so the backup's rows take their
/// place), then indexes, views and triggers (so no trigger fires on the
/// load), the AUTOINCREMENT positions and the two header fields.
pub(crate) fn statements(cat: &SqliteCatalog) -> (Vec<Statement>, Vec<Statement>) {
    let mut pre: Vec<Statement> = cat
        .objects
        .iter()
        .filter(|o| o.kind == "table" && !cat.shadow_tables.contains(&o.name))
        .map(|o| Statement::new(o.sql.clone()))
        .collect();
    let d = covet_core::Dialect::SQLITE;
    pre.extend(
        cat.shadow_tables
            .iter()
            .map(|t| Statement::new(format!("DELETE FROM {}", d.quote_ident(t)))),
    );
    let mut post: Vec<Statement> = cat
        .objects
        .iter()
        .filter(|o| o.kind != "table")
        .map(|o| Statement::new(o.sql.clone()))
        .collect();
    for (name, seq) in &cat.sequences {
        post.push(Statement::new("DELETE FROM sqlite_sequence WHERE name = ?").bind(name.clone()));
        post.push(
            Statement::new("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)")
                .bind(name.clone())
                .bind(*seq),
        );
    }
    post.push(Statement::new(format!(
        "PRAGMA user_version = {}",
        cat.user_version
    )));
    post.push(Statement::new(format!(
        "PRAGMA application_id = {}",
        cat.application_id
    )));
    (pre, post)
}

/// `SELECT` of every column by its storage class: a `CASE` expression has
/// no declared type, so the adapter hands back what SQLite stored.
pub(crate) fn select_exact(t: &covet_core::Table) -> String {
    let d = covet_core::Dialect::SQLITE;
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let q = d.quote_ident(&c.name);
            format!("CASE WHEN 1 THEN {q} END AS {q}")
        })
        .collect();
    format!("SELECT {} FROM {}", cols.join(", "), d.quote_ident(&t.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_module_of_a_virtual_table_is_read() {
        for (sql, module) in [
            ("CREATE VIRTUAL TABLE docs USING fts5(a, b)", Some("fts5")),
            (
                "create virtual table if not exists main.d using FTS4 (x)",
                Some("fts4"),
            ),
            ("CREATE VIRTUAL TABLE pages USING dbstat", Some("dbstat")),
            (
                r#"CREATE VIRTUAL TABLE "x USING y" USING rtree(id, a, b)"#,
                Some("rtree"),
            ),
            (
                "CREATE VIRTUAL TABLE [a b] USING geopoly(v)",
                Some("geopoly"),
            ),
            ("CREATE TABLE using_t (using TEXT)", None),
            (
                "CREATE TABLE 'docs_data'(id INTEGER PRIMARY KEY, block BLOB)",
                None,
            ),
        ] {
            assert_eq!(virtual_module(sql).as_deref(), module, "{sql}");
        }
    }

    proptest! {
        #[test]
        fn any_quoted_name_is_one_token(
            name in "[a-zA-Z \"'`()é,]{0,12}",
            module in "[a-z][a-z0-9_]{0,8}",
        ) {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            let sql = format!("CREATE VIRTUAL TABLE {quoted} USING {module}(a)");
            prop_assert_eq!(virtual_module(&sql), Some(module));
        }
    }
}
