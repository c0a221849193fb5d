//! Bulk load: one prepared INSERT per row inside a savepoint.

use covet_core::{Dialect, Error, ErrorKind, Result, Value};

use crate::error::from_rusqlite;
use crate::exec::bind;

/// Prepared inserts of every row inside one savepoint: all rows or none,
/// whether or not a transaction is already open.
pub(crate) fn bulk_insert(
    db: &mut rusqlite::Connection,
    table: &str,
    columns: &[String],
    rows: &[Vec<Value>],
) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    if columns.is_empty() {
        return Err(Error::new(
            ErrorKind::Encode,
            "bulk_insert needs at least one column",
        ));
    }
    let d = Dialect::SQLITE;
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quote_table(table),
        columns
            .iter()
            .map(|c| d.quote_ident(c))
            .collect::<Vec<_>>()
            .join(", "),
        vec!["?"; columns.len()].join(", ")
    );
    db.execute_batch("SAVEPOINT covet_bulk")
        .map_err(from_rusqlite)?;
    let result = (|| {
        let mut st = db.prepare_cached(&sql).map_err(from_rusqlite)?;
        let mut n = 0u64;
        for (i, row) in rows.iter().enumerate() {
            if row.len() != columns.len() {
                return Err(Error::new(
                    ErrorKind::Encode,
                    format!(
                        "bulk_insert row {i} has {} values for {} columns",
                        row.len(),
                        columns.len()
                    ),
                ));
            }
            bind(&mut st, row.iter())?;
            st.raw_execute().map_err(from_rusqlite)?;
            n += 1;
        }
        Ok(n)
    })();
    let end = if result.is_ok() {
        "RELEASE covet_bulk"
    } else {
        "ROLLBACK TO covet_bulk; RELEASE covet_bulk"
    };
    let ended = db.execute_batch(end).map_err(from_rusqlite);
    let n = result?;
    ended?;
    Ok(n)
}

/// `schema.table` is quoted part by part.
fn quote_table(table: &str) -> String {
    let d = Dialect::SQLITE;
    table
        .split('.')
        .map(|p| d.quote_ident(p))
        .collect::<Vec<_>>()
        .join(".")
}
