//! MySQL / MariaDB backups (format version 2): the schema exactly as the
//! server prints it (`SHOW CREATE TABLE / VIEW / TRIGGER / PROCEDURE /
//! FUNCTION / EVENT`, with each object's `sql_mode` and character set
//! context), and every value in a form that reads back to the same bytes:
//! strings and binary values as their stored bytes (selected as `HEX()`,
//! restored as `_charset X'..'` or `X'..'`, so no character set conversion
//! runs on the way), numbers, dates and times as the server's own text
//! (`CAST(.. AS CHAR)`, with FLOAT widened to DOUBLE first so no digit is
//! lost), BIT, ENUM and SET by their numeric value. covet's `Value` mapping
//! is never in the path, so nothing it cannot represent is lost.
//!
//! The rows are loaded as mysqldump loads them: `sql_mode =
//! 'NO_AUTO_VALUE_ON_ZERO'` (a zero in an AUTO_INCREMENT column stays zero,
//! zero dates are accepted), foreign key checks off, `time_zone = '+00:00'`
//! on both sides so TIMESTAMP values keep their instant.

use std::collections::{BTreeSet, HashMap};

use covet_core::{Statement, Transaction, Value};
use serde::{Deserialize, Serialize};

use crate::error::{BackupError, Result};

/// A backup's MySQL / MariaDB schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MysqlCatalog {
    /// The source database's default character set.
    pub charset: String,
    /// The source database's default collation.
    pub collation: String,
    /// For each entry of [`BackupSchema::tables`](crate::BackupSchema), its
    /// definition and how its values are read.
    pub tables: Vec<MysqlTable>,
    /// Functions and procedures, then views (each after the views it reads),
    /// triggers (per table in their action order) and events: created after
    /// the rows, in this order.
    pub objects: Vec<MysqlObject>,
}

/// A table whose rows the backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MysqlTable {
    /// Its name.
    pub name: String,
    /// `SHOW CREATE TABLE` as the server printed it inside the snapshot
    /// (foreign keys, AUTO_INCREMENT position and partitioning included).
    pub create: String,
    /// The columns whose values the backup holds, in order (generated
    /// columns are left out: the server computes them again).
    pub columns: Vec<MysqlColumn>,
}

/// A column and the form its values take in the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MysqlColumn {
    /// Its name.
    pub name: String,
    /// How its values are read and written.
    pub form: ValueForm,
    /// The character set of a string column's bytes (`None` for binary
    /// strings, geometry and the other forms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
}

/// How a column's values are held. Each is stored in the row encoding as
/// NULL, bytes (`Bytes`) or text (the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueForm {
    /// The stored bytes (strings, binary strings, JSON, geometry).
    Bytes,
    /// The server's decimal text, written back unquoted (integers,
    /// DECIMAL, DOUBLE).
    Number,
    /// FLOAT: the text of its value widened to DOUBLE, written back
    /// unquoted (rounding it to FLOAT again gives the same value).
    Float,
    /// The numeric value of a BIT, ENUM (its index) or SET (its bit mask),
    /// written back unquoted.
    Ordinal,
    /// The server's text, written back quoted (dates, times, YEAR, and
    /// MariaDB's INET4, INET6 and UUID).
    Text,
}

/// A view, trigger, routine or event and the context it is created in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MysqlObject {
    /// `function`, `procedure`, `view`, `trigger` or `event`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The `SHOW CREATE` statement, DEFINER included.
    pub sql: String,
    /// The `sql_mode` it was created under (views: none recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql_mode: Option<String>,
    /// Its `character_set_client`.
    pub character_set_client: String,
    /// Its `collation_connection`.
    pub collation_connection: String,
    /// Events: the `time_zone` their schedule is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// The session a restore loads rows and creates tables and views in.
pub(crate) const LOAD_SESSION: &str = "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', foreign_key_checks = 0, \
     unique_checks = 0, time_zone = '+00:00'";

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Text(s) => Some(s.clone()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::I64(n) => Some(n.to_string()),
        Value::I32(n) => Some(n.to_string()),
        Value::I16(n) => Some(n.to_string()),
        Value::Decimal(d) => Some(d.to_string()),
        _ => None,
    }
}

async fn rows(tx: &mut dyn Transaction, what: &str, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
    let r = tx
        .query(&Statement::new(sql))
        .await
        .map_err(|e| BackupError::Database(e.context(format!("reading the catalog ({what})"))))?;
    Ok(r.rows
        .iter()
        .map(|row| (0..row.len()).map(|i| text(row.value(i).ok())).collect())
        .collect())
}

/// A name quoted with backticks.
pub(crate) fn q(name: &str) -> String {
    covet_core::Dialect::MYSQL.quote_ident(name)
}

/// A string literal (the server's default escaping: backslash included).
pub(crate) fn lit(s: &str) -> String {
    crate::ddl::literal(covet_core::Engine::MySql, &Value::Text(s.to_owned()))
}

fn form_of(data_type: &str) -> Option<ValueForm> {
    Some(match data_type {
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "decimal"
        | "numeric" | "double" | "real" => ValueForm::Number,
        "float" => ValueForm::Float,
        "bit" | "enum" | "set" => ValueForm::Ordinal,
        "date" | "datetime" | "timestamp" | "time" | "year" | "inet4" | "inet6" | "uuid" => {
            ValueForm::Text
        }
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "binary"
        | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "json" | "geometry"
        | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => ValueForm::Bytes,
        _ => return None,
    })
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub(crate) struct CatalogOptions {
    /// Refusals to accept, as `kind name` (the objects are then left out).
    pub(crate) exclude: Vec<String>,
}

/// Engines whose rows do not live in the table itself: backing them up
/// would copy another server's or table's rows, restoring them would write
/// there.
const FOREIGN_ENGINES: &[&str] = &["FEDERATED", "CONNECT", "SPIDER", "MRG_MYISAM", "MRG_MyISAM"];

/// Reads the catalog inside the snapshot transaction `tx`. Fails, naming
/// them, when the database holds objects a backup cannot carry and
/// `opts.exclude` does not list.
pub(crate) async fn read_catalog(
    tx: &mut dyn Transaction,
    opts: &CatalogOptions,
) -> Result<MysqlCatalog> {
    let excluded = |r: &String| opts.exclude.iter().any(|x| x == r);
    let mut refused = Vec::new();
    let db = rows(
        tx,
        "database",
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA \
         WHERE SCHEMA_NAME = DATABASE()",
    )
    .await?;
    let (charset, collation) = match db.first() {
        Some(r) => (
            r[0].clone().unwrap_or_default(),
            r[1].clone().unwrap_or_default(),
        ),
        None => {
            return Err(BackupError::Config(
                "the connection has no current database".into(),
            ));
        }
    };
    let listed = rows(
        tx,
        "tables",
        "SELECT TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE, '') FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
    )
    .await?;
    let mut table_names = Vec::new();
    let mut view_names = Vec::new();
    for r in listed {
        let name = r[0].clone().unwrap_or_default();
        let ty = r[1].clone().unwrap_or_default();
        let engine = r[2].clone().unwrap_or_default();
        let refusal = match ty.as_str() {
            "VIEW" => {
                view_names.push(name);
                continue;
            }
            "SEQUENCE" => Some(format!("sequence {name}")),
            "SYSTEM VERSIONED" => Some(format!("system-versioned table {name}")),
            "BASE TABLE" if FOREIGN_ENGINES.contains(&engine.as_str()) => {
                Some(format!("{} table {name}", engine.to_ascii_lowercase()))
            }
            "BASE TABLE" => None,
            other => Some(format!("{} {name}", other.to_ascii_lowercase())),
        };
        match refusal {
            Some(r) if excluded(&r) => {}
            Some(r) => refused.push(r),
            None => table_names.push(name),
        }
    }
    let mut columns: HashMap<String, Vec<MysqlColumn>> = HashMap::new();
    for (table, cols) in read_columns(tx, None).await? {
        if !table_names.contains(&table) {
            continue;
        }
        let mut kept = Vec::with_capacity(cols.len());
        for c in cols {
            match c {
                Ok(c) => kept.push(c),
                Err(what) if excluded(&what) => {}
                Err(what) => refused.push(what),
            }
        }
        columns.insert(table, kept);
    }
    let mut objects = Vec::new();
    let routines = rows(
        tx,
        "routines",
        "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES \
         WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
    )
    .await?;
    let mut wanted_routines = Vec::new();
    for r in routines {
        let ty = r[0].clone().unwrap_or_default();
        let name = r[1].clone().unwrap_or_default();
        match ty.as_str() {
            "FUNCTION" | "PROCEDURE" => wanted_routines.push((ty, name)),
            other => {
                let what = format!("{} {name}", other.to_ascii_lowercase());
                if !excluded(&what) {
                    refused.push(what);
                }
            }
        }
    }
    if !refused.is_empty() {
        refused.sort();
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

    let mut tables = Vec::new();
    for name in table_names {
        let r = rows(tx, "a table", &format!("SHOW CREATE TABLE {}", q(&name))).await?;
        let create = r
            .first()
            .and_then(|r| r.get(1).cloned().flatten())
            .ok_or_else(|| unreadable("table", &name))?;
        tables.push(MysqlTable {
            columns: columns.remove(&name).unwrap_or_default(),
            name,
            create,
        });
    }
    // Functions before views (a view may call one); procedures beside them.
    for (ty, name) in wanted_routines {
        let kind = ty.to_ascii_lowercase();
        let r = rows(tx, "a routine", &format!("SHOW CREATE {ty} {}", q(&name))).await?;
        // Function, sql_mode, Create Function, character_set_client,
        // collation_connection, Database Collation.
        let row = r.first().ok_or_else(|| unreadable(&kind, &name))?;
        objects.push(MysqlObject {
            sql: row
                .get(2)
                .cloned()
                .flatten()
                .ok_or_else(|| unreadable(&kind, &name))?,
            sql_mode: row.get(1).cloned().flatten(),
            character_set_client: row.get(3).cloned().flatten().unwrap_or_default(),
            collation_connection: row.get(4).cloned().flatten().unwrap_or_default(),
            time_zone: None,
            kind,
            name,
        });
    }
    let mut views = Vec::new();
    for name in view_names {
        let r = rows(tx, "a view", &format!("SHOW CREATE VIEW {}", q(&name))).await?;
        // View, Create View, character_set_client, collation_connection.
        let row = r.first().ok_or_else(|| unreadable("view", &name))?;
        views.push(MysqlObject {
            kind: "view".into(),
            sql: row
                .get(1)
                .cloned()
                .flatten()
                .ok_or_else(|| unreadable("view", &name))?,
            sql_mode: None,
            character_set_client: row.get(2).cloned().flatten().unwrap_or_default(),
            collation_connection: row.get(3).cloned().flatten().unwrap_or_default(),
            time_zone: None,
            name,
        });
    }
    objects.extend(view_order(views));
    let triggers = rows(
        tx,
        "triggers",
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() \
         ORDER BY EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER",
    )
    .await?;
    for r in triggers {
        let name = r[0].clone().unwrap_or_default();
        let r = rows(
            tx,
            "a trigger",
            &format!("SHOW CREATE TRIGGER {}", q(&name)),
        )
        .await?;
        // Trigger, sql_mode, SQL Original Statement, character_set_client,
        // collation_connection, Database Collation, Created.
        let row = r.first().ok_or_else(|| unreadable("trigger", &name))?;
        objects.push(MysqlObject {
            kind: "trigger".into(),
            sql: row
                .get(2)
                .cloned()
                .flatten()
                .ok_or_else(|| unreadable("trigger", &name))?,
            sql_mode: row.get(1).cloned().flatten(),
            character_set_client: row.get(3).cloned().flatten().unwrap_or_default(),
            collation_connection: row.get(4).cloned().flatten().unwrap_or_default(),
            time_zone: None,
            name,
        });
    }
    let events = rows(
        tx,
        "events",
        "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE() \
         ORDER BY EVENT_NAME",
    )
    .await?;
    for r in events {
        let name = r[0].clone().unwrap_or_default();
        let r = rows(tx, "an event", &format!("SHOW CREATE EVENT {}", q(&name))).await?;
        // Event, sql_mode, time_zone, Create Event, character_set_client,
        // collation_connection, Database Collation.
        let row = r.first().ok_or_else(|| unreadable("event", &name))?;
        objects.push(MysqlObject {
            kind: "event".into(),
            sql: row
                .get(3)
                .cloned()
                .flatten()
                .ok_or_else(|| unreadable("event", &name))?,
            sql_mode: row.get(1).cloned().flatten(),
            time_zone: row.get(2).cloned().flatten(),
            character_set_client: row.get(4).cloned().flatten().unwrap_or_default(),
            collation_connection: row.get(5).cloned().flatten().unwrap_or_default(),
            name,
        });
    }
    Ok(MysqlCatalog {
        charset,
        collation,
        tables,
        objects,
    })
}

/// The stored (not generated) columns of the current database's tables,
/// or of one table, in order: each with its form, or the refusal naming a
/// type this module does not know.
#[allow(clippy::type_complexity)]
async fn read_columns(
    tx: &mut dyn Transaction,
    table: Option<&str>,
) -> Result<HashMap<String, Vec<std::result::Result<MysqlColumn, String>>>> {
    let filter = match table {
        Some(t) => format!(" AND TABLE_NAME = {}", lit(t)),
        None => String::new(),
    };
    let cols = rows(
        tx,
        "columns",
        &format!(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, \
             COALESCE(GENERATION_EXPRESSION, '') <> '' OR EXTRA LIKE '%VIRTUAL%' \
               OR EXTRA LIKE '%STORED%' OR EXTRA LIKE '%PERSISTENT%' \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE(){filter} \
             ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ),
    )
    .await?;
    let mut out: HashMap<String, Vec<std::result::Result<MysqlColumn, String>>> = HashMap::new();
    for r in cols {
        let table = r[0].clone().unwrap_or_default();
        let name = r[1].clone().unwrap_or_default();
        let ty = r[2].clone().unwrap_or_default().to_ascii_lowercase();
        if r[4].as_deref() == Some("1") {
            continue;
        }
        let col = match form_of(&ty) {
            None => Err(format!("column {table}.{name} of type {ty}")),
            Some(form) => {
                let charset = match (form, ty.as_str()) {
                    // MySQL's binary JSON converts to utf8mb4 text.
                    (ValueForm::Bytes, "json") => {
                        Some(r[3].clone().unwrap_or_else(|| "utf8mb4".into()))
                    }
                    (ValueForm::Bytes, _) => r[3].clone().filter(|c| c != "binary"),
                    _ => None,
                };
                Ok(MysqlColumn {
                    name,
                    form,
                    charset,
                })
            }
        };
        out.entry(table).or_default().push(col);
    }
    Ok(out)
}

/// A table of the current database as a backup reads it: its stored
/// columns among `columns` (all when empty), in the table's order.
pub(crate) async fn describe_table(
    tx: &mut dyn Transaction,
    name: &str,
    columns: &[String],
) -> Result<MysqlTable> {
    let cols = read_columns(tx, Some(name))
        .await?
        .remove(name)
        .unwrap_or_default()
        .into_iter()
        .collect::<std::result::Result<Vec<_>, String>>()
        .map_err(|what| BackupError::Refused {
            count: 1,
            objects: what,
        })?;
    Ok(MysqlTable {
        name: name.to_owned(),
        create: String::new(),
        columns: cols
            .into_iter()
            .filter(|c| columns.is_empty() || columns.contains(&c.name))
            .collect(),
    })
}

fn unreadable(kind: &str, name: &str) -> BackupError {
    BackupError::Unsupported(format!(
        "{kind} {name}: the server did not show its definition (missing privilege?)"
    ))
}

/// Orders views so each comes after the views its definition names (the
/// server prints every name quoted), keeping name order otherwise; a cycle
/// (only possible through a false match on a column named like a view)
/// keeps what is left in name order.
fn view_order(views: Vec<MysqlObject>) -> Vec<MysqlObject> {
    let n = views.len();
    let quoted: Vec<String> = views.iter().map(|v| q(&v.name)).collect();
    let mut needs = vec![0usize; n];
    let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, v) in views.iter().enumerate() {
        // Only the part after the view's own name, so it does not need itself.
        let body = match v.sql.find(&quoted[i]) {
            Some(at) => &v.sql[at + quoted[i].len()..],
            None => v.sql.as_str(),
        };
        for (j, qn) in quoted.iter().enumerate() {
            if i != j && body.contains(qn.as_str()) {
                needs[i] += 1;
                needed_by[j].push(i);
            }
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|i| needs[*i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    let mut done = vec![false; n];
    while let Some(i) = ready.pop_first() {
        order.push(i);
        done[i] = true;
        for &j in &needed_by[i] {
            needs[j] -= 1;
            if needs[j] == 0 {
                ready.insert(j);
            }
        }
    }
    order.extend((0..n).filter(|i| !done[*i]));
    let mut slots: Vec<Option<MysqlObject>> = views.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The columns' select expressions, in the forms [`ValueForm`] describes.
pub(crate) fn select_exact(t: &MysqlTable) -> String {
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let n = q(&c.name);
            match c.form {
                // The stored bytes with no character set conversion, as
                // they are (HEX() did the same at twice the bytes and a
                // decode on each side).
                ValueForm::Bytes => format!("CAST({n} AS BINARY)"),
                ValueForm::Ordinal => format!("CAST({n} + 0 AS CHAR)"),
                ValueForm::Text => format!("CAST({n} AS CHAR)"),
                ValueForm::Number => format!("CAST({n} AS CHAR)"),
                // FLOAT's own text keeps six digits; as a DOUBLE it prints
                // the shortest text that reads back to the same value.
                ValueForm::Float => format!("CAST(CAST({n} AS DOUBLE) AS CHAR)"),
            }
        })
        .collect();
    let list = if cols.is_empty() {
        "1".to_owned()
    } else {
        cols.join(", ")
    };
    format!("SELECT {list} FROM {}", q(&t.name))
}

/// One row read by [`select_exact`] as the values the backup stores.
pub(crate) fn row_values(t: &MysqlTable, row: &covet_core::Row) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(t.columns.len());
    for (i, c) in t.columns.iter().enumerate() {
        // Borrowed straight from the row: one copy per value.
        let fast = match c.form {
            ValueForm::Bytes => row
                .get::<Option<&[u8]>>(i)
                .ok()
                .map(|v| v.map_or(Value::Null, |b| Value::Bytes(b.to_vec()))),
            _ => row
                .get::<Option<&str>>(i)
                .ok()
                .map(|v| v.map_or(Value::Null, |s| Value::Text(s.to_owned()))),
        };
        if let Some(v) = fast {
            out.push(v);
            continue;
        }
        let v = row
            .value(i)
            .map_err(|e| BackupError::Database(e.context(format!("reading table {}", t.name))))?;
        let s = match v {
            Value::Null => {
                out.push(Value::Null);
                continue;
            }
            Value::Bytes(b) if c.form == ValueForm::Bytes => {
                out.push(Value::Bytes(b.clone()));
                continue;
            }
            other => text(Some(other)).ok_or_else(|| {
                BackupError::Unsupported(format!(
                    "table {}: column {} came back as {other:?}",
                    t.name, c.name
                ))
            })?,
        };
        out.push(match c.form {
            ValueForm::Bytes => Value::Bytes(s.into_bytes()),
            _ => Value::Text(s),
        });
    }
    Ok(out)
}

/// Whether `s` is a number the server printed (nothing to escape).
fn is_number(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
}

/// Whether `s` can follow `_` as a character set introducer.
fn is_charset(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn literal(c: &MysqlColumn, v: &Value, out: &mut String) -> std::result::Result<(), String> {
    match (c.form, v) {
        (_, Value::Null) => out.push_str("NULL"),
        (ValueForm::Bytes, Value::Bytes(b)) => {
            if let Some(cs) = c.charset.as_deref().filter(|cs| is_charset(cs)) {
                out.push('_');
                out.push_str(cs);
                out.push(' ');
            }
            let utf8 = c
                .charset
                .as_deref()
                .filter(|cs| cs.starts_with("utf8"))
                .and_then(|_| std::str::from_utf8(b).ok());
            if let Some(text) = utf8 {
                // UTF-8 text in a UTF-8 column: quoted, escaped for the
                // load session (backslash escapes on), half the bytes of
                // hex and cheaper for the server to read. No multi-byte
                // UTF-8 sequence holds a quote or backslash byte.
                out.reserve(text.len() + 2);
                out.push('\'');
                for ch in text.chars() {
                    match ch {
                        '\'' => out.push_str("''"),
                        '\\' => out.push_str("\\\\"),
                        '\0' => out.push_str("\\0"),
                        ch => out.push(ch),
                    }
                }
                out.push('\'');
            } else if b.is_empty() {
                out.push_str("''");
            } else {
                const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
                out.reserve(2 * b.len() + 3);
                out.push_str("X'");
                for &byte in b {
                    out.push(DIGITS[usize::from(byte >> 4)] as char);
                    out.push(DIGITS[usize::from(byte & 15)] as char);
                }
                out.push('\'');
            }
        }
        (ValueForm::Number | ValueForm::Float | ValueForm::Ordinal, Value::Text(s))
            if is_number(s) =>
        {
            out.push_str(s);
        }
        (ValueForm::Text, Value::Text(s)) => out.push_str(&lit(s)),
        (form, v) => return Err(format!("column {}: {v:?} is no {form:?} value", c.name)),
    }
    Ok(())
}

/// An `INSERT` of `rows` (as [`row_values`] made them) into `t`.
pub(crate) fn insert_sql(t: &MysqlTable, rows: &[Vec<Value>]) -> Result<String> {
    let cols: Vec<String> = t.columns.iter().map(|c| q(&c.name)).collect();
    let mut s = format!("INSERT INTO {} ({}) VALUES ", q(&t.name), cols.join(", "));
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            s.push_str(",\n");
        }
        s.push('(');
        if r.len() != t.columns.len() {
            return Err(BackupError::Unsupported(format!(
                "table {}: a row of {} values for {} columns",
                t.name,
                r.len(),
                t.columns.len()
            )));
        }
        for (j, (c, v)) in t.columns.iter().zip(r).enumerate() {
            if j > 0 {
                s.push_str(", ");
            }
            literal(c, v, &mut s)
                .map_err(|e| BackupError::Unsupported(format!("table {}: {e}", t.name)))?;
        }
        s.push(')');
    }
    Ok(s)
}

/// Removes `DEFINER=user@host` from a `SHOW CREATE` statement, so the
/// object is created by (and, for SQL SECURITY DEFINER, runs as) the
/// restoring user, who may not be able to name another.
pub(crate) fn strip_definer(sql: &str) -> String {
    let Some(at) = sql.find(" DEFINER=") else {
        return sql.to_owned();
    };
    let rest = &sql[at + " DEFINER=".len()..];
    let mut chars = rest.char_indices().peekable();
    // user, '@', host; each part quoted with ` or ', or a bare word.
    let mut end = 0;
    let mut part = 0;
    while let Some((i, c)) = chars.next() {
        match c {
            '`' | '\'' | '"' => {
                let quote = c;
                loop {
                    match chars.next() {
                        Some((j, x)) if x == quote => {
                            if chars.peek().map(|p| p.1) == Some(quote) {
                                chars.next();
                            } else {
                                end = j + 1;
                                break;
                            }
                        }
                        Some(_) => {}
                        None => return sql.to_owned(),
                    }
                }
            }
            '@' => {
                part += 1;
                end = i + 1;
            }
            ' ' => break,
            _ => end = i + c.len_utf8(),
        }
        if part > 1 {
            break;
        }
    }
    format!("{}{}", &sql[..at], &rest[end..])
}

/// The statements that set an object's creation context, then create it.
pub(crate) fn object_statements(o: &MysqlObject, keep_definer: bool) -> Vec<String> {
    let mut v = Vec::new();
    // Views are parsed under the load session's mode; the others keep
    // their own, which their bodies run under.
    let mode = o.sql_mode.as_deref().unwrap_or("NO_AUTO_VALUE_ON_ZERO");
    v.push(format!("SET SESSION sql_mode = {}", lit(mode)));
    // The statement travels as UTF-8: a client character set that is not
    // read the same way would change its non-ASCII bytes, so it is kept
    // only where it does not matter (ASCII text) or is UTF-8 itself.
    let client = if o.sql.is_ascii() || o.character_set_client.starts_with("utf8") {
        o.character_set_client.as_str()
    } else {
        "utf8mb4"
    };
    if is_charset(client) && is_charset(&o.collation_connection) {
        v.push(format!(
            "SET SESSION character_set_client = {client}, collation_connection = {}",
            o.collation_connection
        ));
    }
    if let Some(tz) = &o.time_zone {
        v.push(format!("SET SESSION time_zone = {}", lit(tz)));
    }
    v.push(if keep_definer {
        o.sql.clone()
    } else {
        strip_definer(&o.sql)
    });
    v
}

/// A table's `CREATE TABLE` split for a fast load: the rows go into the
/// table with only the keys it cannot be without, its plain and unique
/// secondary indexes are built afterwards in one `ALTER TABLE` (InnoDB
/// builds each by sorting, instead of maintaining it row by row), and its
/// foreign keys are added once every table has its indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitCreate {
    /// The `CREATE TABLE` to load into.
    pub(crate) create: String,
    /// `ALTER TABLE ... ADD ...` for the deferred indexes, if any.
    pub(crate) indexes: Option<String>,
    /// `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY ...`, if any.
    pub(crate) foreign_keys: Option<String>,
}

/// The first backquoted name at the start of `s` (a column definition).
fn leading_name(s: &str) -> Option<String> {
    let rest = s.strip_prefix('`')?;
    let mut name = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            if chars.peek() == Some(&'`') {
                chars.next();
                name.push('`');
            } else {
                return Some(name);
            }
        } else {
            name.push(c);
        }
    }
    None
}

/// Splits `t.create` as [`SplitCreate`] describes. It relies on the shape
/// `SHOW CREATE TABLE` prints (one definition per line, newlines inside
/// strings escaped) and keeps the statement whole when the shape is not
/// that, or for tables where an `ALTER` after the load costs more than it
/// saves or needs other settings: not InnoDB, partitioned, system
/// versioned. FULLTEXT and SPATIAL indexes stay in the `CREATE` (InnoDB
/// rebuilds the whole table to add the first FULLTEXT index), and so does
/// any key an AUTO_INCREMENT column needs.
pub(crate) fn split_create(t: &MysqlTable) -> SplitCreate {
    let whole = SplitCreate {
        create: t.create.clone(),
        indexes: None,
        foreign_keys: None,
    };
    let lines: Vec<&str> = t.create.lines().collect();
    let Some((&first, rest)) = lines.split_first() else {
        return whole;
    };
    let Some(close) = rest.iter().position(|l| l.starts_with(')')) else {
        return whole;
    };
    let (defs, tail) = rest.split_at(close);
    let options = tail.join("\n");
    if !first.starts_with("CREATE TABLE ")
        || !first.ends_with(" (")
        || !options.contains("ENGINE=InnoDB")
        || options.contains("PARTITION BY")
        || options.contains("WITH SYSTEM VERSIONING")
        || defs.iter().any(|d| !d.starts_with("  "))
    {
        return whole;
    }
    let defs: Vec<&str> = defs
        .iter()
        .map(|d| d.trim_start().strip_suffix(',').unwrap_or(d.trim_start()))
        .collect();
    let auto: Vec<String> = defs
        .iter()
        .filter(|d| d.starts_with('`') && d.contains(" AUTO_INCREMENT"))
        .filter_map(|d| leading_name(d))
        .collect();
    let needs_key = |d: &str| {
        auto.iter().any(|c| {
            let col = format!("(`{}`", c.replace('`', "``"));
            d.contains(&col)
        })
    };
    let (mut keep, mut indexes, mut fks) = (Vec::new(), Vec::new(), Vec::new());
    for d in defs {
        if d.starts_with("CONSTRAINT ") && d.contains(" FOREIGN KEY ") {
            fks.push(format!("ADD {d}"));
        } else if (d.starts_with("KEY ") || d.starts_with("UNIQUE KEY ")) && !needs_key(d) {
            indexes.push(format!("ADD {d}"));
        } else {
            keep.push(d);
        }
    }
    if indexes.is_empty() && fks.is_empty() {
        return whole;
    }
    let mut create = String::with_capacity(t.create.len());
    create.push_str(first);
    create.push('\n');
    let n = keep.len();
    for (i, d) in keep.into_iter().enumerate() {
        create.push_str("  ");
        create.push_str(d);
        if i + 1 < n {
            create.push(',');
        }
        create.push('\n');
    }
    create.push_str(&tail.join("\n"));
    let alter = |adds: Vec<String>| {
        (!adds.is_empty()).then(|| format!("ALTER TABLE {} {}", q(&t.name), adds.join(", ")))
    };
    SplitCreate {
        create,
        indexes: alter(indexes),
        foreign_keys: alter(fks),
    }
}

/// What restores the session after [`object_statements`].
pub(crate) const RESET_SESSION: &str = "SET SESSION character_set_client = utf8mb4, \
     collation_connection = utf8mb4_general_ci, sql_mode = 'NO_AUTO_VALUE_ON_ZERO', \
     time_zone = '+00:00'";

/// The statement dropping an object of the catalog, if it exists.
pub(crate) fn drop_statement(o: &MysqlObject) -> String {
    format!(
        "DROP {} IF EXISTS {}",
        o.kind.to_ascii_uppercase(),
        q(&o.name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(create: &str) -> MysqlTable {
        MysqlTable {
            name: "t".into(),
            create: create.into(),
            columns: Vec::new(),
        }
    }

    #[test]
    fn secondary_indexes_and_foreign_keys_are_split_off() {
        let t = table(
            "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `a` int(11) DEFAULT NULL,\n  `b` varchar(20) DEFAULT 'x,\\n)',\n  `p` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `u` (`a`),\n  KEY `k` (`b`,`a`) COMMENT 'c, d',\n  KEY `fk_p` (`p`),\n  FULLTEXT KEY `ft` (`b`),\n  CONSTRAINT `fk_p` FOREIGN KEY (`p`) REFERENCES `parent` (`id`) ON DELETE CASCADE,\n  CONSTRAINT `chk` CHECK (`a` > 0)\n) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4",
        );
        let s = split_create(&t);
        assert_eq!(
            s.create,
            "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `a` int(11) DEFAULT NULL,\n  `b` varchar(20) DEFAULT 'x,\\n)',\n  `p` int(11) DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  FULLTEXT KEY `ft` (`b`),\n  CONSTRAINT `chk` CHECK (`a` > 0)\n) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4"
        );
        assert_eq!(
            s.indexes.as_deref(),
            Some(
                "ALTER TABLE `t` ADD UNIQUE KEY `u` (`a`), ADD KEY `k` (`b`,`a`) COMMENT 'c, d', ADD KEY `fk_p` (`p`)"
            )
        );
        assert_eq!(
            s.foreign_keys.as_deref(),
            Some(
                "ALTER TABLE `t` ADD CONSTRAINT `fk_p` FOREIGN KEY (`p`) REFERENCES `parent` (`id`) ON DELETE CASCADE"
            )
        );
    }

    #[test]
    fn what_cannot_be_split_stays_whole() {
        // The only key of an AUTO_INCREMENT column stays.
        let t = table(
            "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `a` int(11) DEFAULT NULL,\n  KEY `i` (`id`),\n  KEY `a` (`a`)\n) ENGINE=InnoDB",
        );
        let s = split_create(&t);
        assert!(s.create.contains("KEY `i` (`id`)\n)"), "{}", s.create);
        assert_eq!(
            s.indexes.as_deref(),
            Some("ALTER TABLE `t` ADD KEY `a` (`a`)")
        );
        for create in [
            "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`)\n) ENGINE=MyISAM",
            "CREATE TABLE `t` (\n  `a` int(11) NOT NULL,\n  KEY `a` (`a`)\n) ENGINE=InnoDB\n PARTITION BY HASH (`a`)\nPARTITIONS 2",
            "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  KEY `a` (`a`)\n) ENGINE=InnoDB WITH SYSTEM VERSIONING",
            "CREATE TABLE `t` (\n  `a` int(11) DEFAULT NULL,\n  PRIMARY KEY (`a`)\n) ENGINE=InnoDB",
        ] {
            let s = split_create(&table(create));
            assert_eq!(s.create, create);
            assert_eq!((s.indexes, s.foreign_keys), (None, None));
        }
    }

    fn obj(name: &str, sql: &str) -> MysqlObject {
        MysqlObject {
            kind: "view".into(),
            name: name.into(),
            sql: sql.into(),
            sql_mode: None,
            character_set_client: "utf8mb4".into(),
            collation_connection: "utf8mb4_general_ci".into(),
            time_zone: None,
        }
    }

    #[test]
    fn views_follow_the_views_they_read() {
        let v = vec![
            obj("a", "CREATE VIEW `a` AS select 1 from `c`"),
            obj("b", "CREATE VIEW `b` AS select 1"),
            obj("c", "CREATE VIEW `c` AS select 1 from `b`"),
        ];
        let names: Vec<String> = view_order(v).into_iter().map(|o| o.name).collect();
        assert_eq!(names, ["b", "c", "a"]);
    }

    #[test]
    fn definers_are_stripped() {
        assert_eq!(
            strip_definer(
                "CREATE ALGORITHM=UNDEFINED DEFINER=`ro``ot`@`local host` SQL SECURITY DEFINER VIEW `v` AS select 1"
            ),
            "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1"
        );
        assert_eq!(
            strip_definer(
                "CREATE DEFINER=`root`@`%` TRIGGER `t` BEFORE INSERT ON `x` FOR EACH ROW SET @a = 1"
            ),
            "CREATE TRIGGER `t` BEFORE INSERT ON `x` FOR EACH ROW SET @a = 1"
        );
        assert_eq!(
            strip_definer("CREATE VIEW `v` AS select 1"),
            "CREATE VIEW `v` AS select 1"
        );
    }

    fn col(form: ValueForm, charset: Option<&str>) -> MysqlColumn {
        MysqlColumn {
            name: "c".into(),
            form,
            charset: charset.map(str::to_owned),
        }
    }

    #[test]
    fn literals_keep_bytes_and_refuse_what_is_not_a_number() {
        let mut s = String::new();
        literal(
            &col(ValueForm::Bytes, Some("latin1")),
            &Value::Bytes(vec![0xE9, 0]),
            &mut s,
        )
        .unwrap();
        assert_eq!(s, "_latin1 X'E900'");
        let mut s = String::new();
        literal(
            &col(ValueForm::Bytes, Some("utf8mb4")),
            &Value::Bytes("é'\\\0\n😀".as_bytes().to_vec()),
            &mut s,
        )
        .unwrap();
        assert_eq!(s, "_utf8mb4 'é''\\\\\\0\n😀'");
        let mut s = String::new();
        literal(
            &col(ValueForm::Bytes, Some("utf8mb4")),
            &Value::Bytes(vec![0xff, 0x41]),
            &mut s,
        )
        .unwrap();
        assert_eq!(s, "_utf8mb4 X'FF41'", "bytes that are not UTF-8 stay hex");
        let mut s = String::new();
        literal(&col(ValueForm::Bytes, None), &Value::Bytes(vec![]), &mut s).unwrap();
        assert_eq!(s, "''");
        let mut s = String::new();
        literal(
            &col(ValueForm::Number, None),
            &Value::Text("-1.5e-7".into()),
            &mut s,
        )
        .unwrap();
        assert_eq!(s, "-1.5e-7");
        let mut s = String::new();
        assert!(
            literal(
                &col(ValueForm::Number, None),
                &Value::Text("1); DROP".into()),
                &mut s
            )
            .is_err()
        );
    }

    proptest! {
        #[test]
        fn text_literals_never_leave_their_quotes(s in "\\PC*") {
            let mut out = String::new();
            literal(&col(ValueForm::Text, None), &Value::Text(s.clone()), &mut out).unwrap();
            // The server's default escaping: every quote doubled, every
            // backslash escaped; so the literal ends only at its last byte.
            let inner = &out[1..out.len() - 1];
            prop_assert!(out.starts_with('\'') && out.ends_with('\''));
            let unescaped = inner.replace("''", "").replace("\\\\", "").replace("\\0", "");
            prop_assert!(!unescaped.contains('\''));
        }

        /// UTF-8 text of a UTF-8 column goes quoted and reads back as the
        /// same bytes under the server's escaping rules.
        #[test]
        fn utf8_column_literals_read_back_exactly(s in "(\\PC|[\\\\'\\x00\n])*") {
            let mut out = String::new();
            let c = col(ValueForm::Bytes, Some("utf8mb4"));
            literal(&c, &Value::Bytes(s.as_bytes().to_vec()), &mut out).unwrap();
            let inner = out
                .strip_prefix("_utf8mb4 '")
                .and_then(|r| r.strip_suffix('\''))
                .expect("a quoted literal");
            let mut back = String::new();
            let mut it = inner.chars();
            while let Some(ch) = it.next() {
                match ch {
                    '\'' => {
                        prop_assert_eq!(it.next(), Some('\''), "a lone quote ends the literal early");
                        back.push('\'');
                    }
                    '\\' => match it.next() {
                        Some('\\') => back.push('\\'),
                        Some('0') => back.push('\0'),
                        other => prop_assert!(false, "escape {other:?}"),
                    },
                    ch => back.push(ch),
                }
            }
            prop_assert_eq!(back, s);
        }
    }
}
