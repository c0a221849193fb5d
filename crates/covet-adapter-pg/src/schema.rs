//! Schema introspection from the system catalogs, for the connection's
//! current schema (the first existing entry of `search_path`).

use std::collections::BTreeMap;

use covet_core::{ColumnInfo, ForeignKey, Index, Schema, Table};
use tokio_postgres::Client;

const TABLES: &str = "\
SELECT c.relname::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
ORDER BY 1";

const COLUMNS: &str = "\
SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod),
       NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid),
       a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid), '') LIKE 'nextval(%'
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum";

// Key columns in key order; an expression column is shown as its expression.
const INDEXES: &str = "\
SELECT t.relname::text, i.relname::text, ix.indisunique, ix.indisprimary,
       ARRAY(SELECT coalesce(a.attname::text, pg_get_indexdef(ix.indexrelid, k.ord::int, true))
             FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
             LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= ix.indnkeyatts
             ORDER BY k.ord)
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND t.relkind IN ('r', 'p')
ORDER BY 1, 2";

const FOREIGN_KEYS: &str = "\
SELECT t.relname::text, con.conname::text, rt.relname::text,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord)
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_class rt ON rt.oid = con.confrelid
WHERE con.contype = 'f' AND n.nspname = current_schema()
ORDER BY 1, 2";

pub(crate) async fn introspect(client: &Client) -> Result<Schema, tokio_postgres::Error> {
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    for row in client.query(TABLES, &[]).await? {
        let name: String = row.try_get(0)?;
        tables.insert(
            name.clone(),
            Table {
                name,
                ..Table::default()
            },
        );
    }
    for row in client.query(COLUMNS, &[]).await? {
        let table: String = row.try_get(0)?;
        if let Some(t) = tables.get_mut(&table) {
            t.columns.push(ColumnInfo {
                name: row.try_get(1)?,
                data_type: row.try_get(2)?,
                nullable: row.try_get(3)?,
                default: row.try_get(4)?,
                auto_increment: row.try_get(5)?,
            });
        }
    }
    for row in client.query(INDEXES, &[]).await? {
        let table: String = row.try_get(0)?;
        let Some(t) = tables.get_mut(&table) else {
            continue;
        };
        let columns: Vec<String> = row.try_get(4)?;
        if row.try_get::<_, bool>(3)? {
            t.primary_key = columns;
        } else {
            t.indexes.push(Index {
                name: row.try_get(1)?,
                columns,
                unique: row.try_get(2)?,
            });
        }
    }
    for row in client.query(FOREIGN_KEYS, &[]).await? {
        let table: String = row.try_get(0)?;
        if let Some(t) = tables.get_mut(&table) {
            t.foreign_keys.push(ForeignKey {
                name: row.try_get(1)?,
                referenced_table: row.try_get(2)?,
                columns: row.try_get(3)?,
                referenced_columns: row.try_get(4)?,
            });
        }
    }
    Ok(Schema {
        tables: tables.into_values().collect(),
    })
}
