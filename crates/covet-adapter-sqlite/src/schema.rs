//! Introspection through sqlite_master and the table-valued pragmas.

use covet_core::{ColumnInfo, ForeignKey, Index, Result, Schema, Table};

use crate::error::from_rusqlite;

type Db = rusqlite::Connection;

/// Reads every user table of the main database.
pub(crate) fn read(db: &mut Db) -> Result<Schema> {
    let names: Vec<String> = {
        let mut st = db
            .prepare_cached(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            )
            .map_err(from_rusqlite)?;
        st.query_map([], |r| r.get(0))
            .map_err(from_rusqlite)?
            .collect::<rusqlite::Result<_>>()
            .map_err(from_rusqlite)?
    };
    let mut tables = Vec::with_capacity(names.len());
    for name in names {
        tables.push(table(db, name)?);
    }
    Ok(Schema { tables })
}

fn table(db: &Db, name: String) -> Result<Table> {
    // (cid, name, type, notnull, dflt_value, pk)
    let cols: Vec<(String, String, bool, Option<String>, i64)> = {
        let mut st = db
            .prepare_cached(
                "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
            )
            .map_err(from_rusqlite)?;
        st.query_map([&name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(from_rusqlite)?
        .collect::<rusqlite::Result<_>>()
        .map_err(from_rusqlite)?
    };
    let mut pk: Vec<(i64, String)> = cols
        .iter()
        .filter(|c| c.4 > 0)
        .map(|c| (c.4, c.0.clone()))
        .collect();
    pk.sort();
    let primary_key: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();
    // A single INTEGER PRIMARY KEY column is the rowid: never NULL and
    // assigned automatically.
    let rowid_alias = match primary_key.as_slice() {
        [only] => cols
            .iter()
            .find(|c| &c.0 == only)
            .is_some_and(|c| c.1.eq_ignore_ascii_case("INTEGER")),
        _ => false,
    };
    let columns = cols
        .iter()
        .map(|(col, ty, notnull, default, pk)| {
            let is_rowid = rowid_alias && *pk > 0;
            ColumnInfo {
                name: col.clone(),
                data_type: ty.clone(),
                nullable: !notnull && !is_rowid,
                default: default.clone(),
                auto_increment: is_rowid,
            }
        })
        .collect();

    // (name, unique, origin)
    let index_list: Vec<(String, bool, String)> = {
        let mut st = db
            .prepare_cached(
                "SELECT name, \"unique\", origin FROM pragma_index_list(?1) ORDER BY name",
            )
            .map_err(from_rusqlite)?;
        st.query_map([&name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(from_rusqlite)?
            .collect::<rusqlite::Result<_>>()
            .map_err(from_rusqlite)?
    };
    let mut indexes = Vec::new();
    for (index, unique, origin) in index_list {
        if origin == "pk" {
            continue;
        }
        let mut st = db
            .prepare_cached("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
            .map_err(from_rusqlite)?;
        let columns: Vec<String> = st
            .query_map([&index], |r| {
                Ok(r.get::<_, Option<String>>(0)?
                    .unwrap_or_else(|| "<expression>".to_owned()))
            })
            .map_err(from_rusqlite)?
            .collect::<rusqlite::Result<_>>()
            .map_err(from_rusqlite)?;
        indexes.push(Index {
            name: index,
            columns,
            unique,
        });
    }

    // (id, seq, table, from, to)
    let fk_rows: Vec<(i64, i64, String, String, Option<String>)> = {
        let mut st = db
            .prepare_cached(
                "SELECT id, seq, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
            )
            .map_err(from_rusqlite)?;
        st.query_map([&name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(from_rusqlite)?
        .collect::<rusqlite::Result<_>>()
        .map_err(from_rusqlite)?
    };
    let mut foreign_keys: Vec<(i64, ForeignKey)> = Vec::new();
    for (id, _seq, parent, from, to) in fk_rows {
        let to = match to {
            Some(t) => t,
            // `REFERENCES parent` without columns means its primary key.
            None => parent_pk(db, &parent)?
                .get(
                    foreign_keys
                        .iter()
                        .find(|(i, _)| *i == id)
                        .map_or(0, |f| f.1.columns.len()),
                )
                .cloned()
                .unwrap_or_default(),
        };
        match foreign_keys.iter_mut().find(|(i, _)| *i == id) {
            Some((_, fk)) => {
                fk.columns.push(from);
                fk.referenced_columns.push(to);
            }
            None => foreign_keys.push((
                id,
                ForeignKey {
                    name: String::new(),
                    columns: vec![from],
                    referenced_table: parent,
                    referenced_columns: vec![to],
                },
            )),
        }
    }
    Ok(Table {
        name,
        columns,
        primary_key,
        indexes,
        foreign_keys: foreign_keys.into_iter().map(|(_, fk)| fk).collect(),
    })
}

fn parent_pk(db: &Db, table: &str) -> Result<Vec<String>> {
    let mut st = db
        .prepare_cached("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")
        .map_err(from_rusqlite)?;
    st.query_map([table], |r| r.get(0))
        .map_err(from_rusqlite)?
        .collect::<rusqlite::Result<_>>()
        .map_err(from_rusqlite)
}
