//! Schema introspection of the current database through information_schema.

use std::collections::BTreeMap;

use covet_core::{ColumnInfo, ForeignKey, Index, Result, Row, Rows, Schema, Table};

use crate::adapter::Shared;
use crate::conn::MySqlConnection;
use crate::exec::{guarded_op, run_query};

const TABLES: &str = "SELECT TABLE_NAME FROM information_schema.TABLES \
    WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME";

const COLUMNS: &str = "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA \
    FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
    ORDER BY TABLE_NAME, ORDINAL_POSITION";

const INDEXES: &str = "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME \
    FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
    ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX";

const FOREIGN_KEYS: &str = "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, \
    REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME \
    FROM information_schema.KEY_COLUMN_USAGE \
    WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
    ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION";

fn text(row: &Row, idx: usize) -> Result<String> {
    row.get::<String>(idx)
}

fn opt_text(row: &Row, idx: usize) -> Result<Option<String>> {
    row.get::<Option<String>>(idx)
}

async fn q(shared: &Shared, conn: &mut MySqlConnection, sql: &str) -> Result<Rows> {
    guarded_op!(
        &shared.canceller,
        &mut *conn,
        shared.default_timeout(),
        |c, p| { run_query(c, p, sql, Vec::new()) }
    )
}

/// MariaDB reports a column without a default as NULL on MySQL but as the
/// text `NULL` for nullable columns; a string default is quoted there.
fn normalize_default(raw: Option<String>) -> Option<String> {
    match raw {
        Some(s) if s == "NULL" => None,
        other => other,
    }
}

/// Reads the tables of the connection's current database.
pub(crate) async fn read_schema(shared: &Shared, conn: &mut MySqlConnection) -> Result<Schema> {
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for row in q(shared, conn, TABLES).await? {
        let name = text(&row, 0)?;
        tables.insert(
            name.clone(),
            Table {
                name,
                ..Table::default()
            },
        );
    }
    for row in q(shared, conn, COLUMNS).await? {
        let Some(t) = tables.get_mut(&text(&row, 0)?) else {
            continue;
        };
        let extra = opt_text(&row, 5)?.unwrap_or_default().to_ascii_lowercase();
        t.columns.push(ColumnInfo {
            name: text(&row, 1)?,
            data_type: text(&row, 2)?,
            nullable: text(&row, 3)?.eq_ignore_ascii_case("YES"),
            default: normalize_default(opt_text(&row, 4)?),
            auto_increment: extra.contains("auto_increment"),
        });
    }
    for row in q(shared, conn, INDEXES).await? {
        let Some(t) = tables.get_mut(&text(&row, 0)?) else {
            continue;
        };
        let index_name = text(&row, 1)?;
        let column = text(&row, 3)?;
        if index_name == "PRIMARY" {
            t.primary_key.push(column);
            continue;
        }
        let unique = row.get::<i64>(2)? == 0;
        match t.indexes.iter_mut().find(|i| i.name == index_name) {
            Some(ix) => ix.columns.push(column),
            None => t.indexes.push(Index {
                name: index_name,
                columns: vec![column],
                unique,
            }),
        }
    }
    for row in q(shared, conn, FOREIGN_KEYS).await? {
        let Some(t) = tables.get_mut(&text(&row, 0)?) else {
            continue;
        };
        let name = text(&row, 1)?;
        let column = text(&row, 2)?;
        let ref_table = text(&row, 3)?;
        let ref_column = text(&row, 4)?;
        match t.foreign_keys.iter_mut().find(|f| f.name == name) {
            Some(fk) => {
                fk.columns.push(column);
                fk.referenced_columns.push(ref_column);
            }
            None => t.foreign_keys.push(ForeignKey {
                name,
                columns: vec![column],
                referenced_table: ref_table,
                referenced_columns: vec![ref_column],
            }),
        }
    }
    Ok(Schema {
        tables: tables.into_values().collect(),
    })
}
