//! SQLite backups (format version 2): the schema as SQLite itself wrote it
//! (`sqlite_master.sql`), `sqlite_sequence`, `user_version` and
//! `application_id`, and every value read by its storage class rather than
//! its column's declared type, so a TEXT stays the same text (a DATETIME
//! column's `1962-02-18 00:00:00` is not turned into a timestamp and
//! printed back differently) and an INTEGER, REAL or BLOB the same bytes.

use covet_core::{Statement, Transaction, Value};
use serde::{Deserialize, Serialize};

use crate::error::{BackupError, Result};

/// A backup's SQLite schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Reads the catalog inside the snapshot's read transaction.
pub(crate) async fn read_catalog(tx: &mut dyn Transaction) -> Result<SqliteCatalog> {
    // Entries without SQL are the indexes SQLite makes for PRIMARY KEY and
    // UNIQUE constraints: their tables' statements make them again.
    let rows = query(
        tx,
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid",
    )
    .await?;
    let objects = rows
        .rows
        .iter()
        .map(|r| SqliteObject {
            kind: text(r.value(0).ok()),
            name: text(r.value(1).ok()),
            sql: text(r.value(2).ok()),
        })
        .collect();
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
    })
}

/// The statements that restore the catalog around the data: tables before
/// it, then indexes, views and triggers (so no trigger fires on the load),
/// the AUTOINCREMENT positions and the two header fields.
pub(crate) fn statements(cat: &SqliteCatalog) -> (Vec<Statement>, Vec<Statement>) {
    let pre = cat
        .objects
        .iter()
        .filter(|o| o.kind == "table")
        .map(|o| Statement::new(o.sql.clone()))
        .collect();
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
