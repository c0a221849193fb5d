//! Bulk load as multi-row INSERT batches sized to the server's limits.

use covet_core::{BulkRows, Dialect, Error, ErrorKind, Result};

use crate::adapter::Shared;
use crate::conn::MySqlConnection;
use crate::exec::{guarded_op, run_execute};
use crate::types::encode;

/// The most placeholders one prepared statement may have.
const MAX_PLACEHOLDERS: usize = 65_535;

/// Bytes kept free below `max_allowed_packet` for the packet header and
/// whatever the estimate misses.
const PACKET_MARGIN: usize = 4096;

/// Quotes `schema.table` or `table` with backticks.
pub(crate) fn quote_table(table: &str) -> String {
    table
        .split('.')
        .map(|part| Dialect::MYSQL.quote_ident(part))
        .collect::<Vec<_>>()
        .join(".")
}

/// The size of one row's share of a COM_STMT_EXECUTE packet: two type
/// bytes and the value per parameter, plus its NULL-bitmap bits.
fn row_wire_size(values: &[mysql_async::Value]) -> usize {
    let data: u64 = values.iter().map(mysql_async::Value::bin_len).sum();
    usize::try_from(data).unwrap_or(usize::MAX) + 2 * values.len() + values.len().div_ceil(8)
}

fn insert_sql(head: &str, ncols: usize, nrows: usize) -> String {
    let mut tuple = String::with_capacity(ncols * 2 + 2);
    tuple.push('(');
    for i in 0..ncols {
        if i > 0 {
            tuple.push(',');
        }
        tuple.push('?');
    }
    tuple.push(')');
    let mut sql = String::with_capacity(head.len() + nrows * (tuple.len() + 1));
    sql.push_str(head);
    for i in 0..nrows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&tuple);
    }
    sql
}

/// Inserts `rows` in as few multi-row INSERTs as the limits allow: each
/// batch stays under the session's `max_allowed_packet` (read once when
/// the connection opened) and under 65,535 placeholders.
///
/// Batches keep a steady row count where they can, so their prepared
/// statement is reused from the connection's cache.
pub(crate) async fn bulk_insert_on(
    shared: &Shared,
    conn: &mut MySqlConnection,
    table: &str,
    columns: &[String],
    rows: BulkRows,
) -> Result<u64> {
    let ncols = columns.len();
    if ncols == 0 {
        return Err(Error::new(
            ErrorKind::Encode,
            "bulk_insert needs at least one column",
        ));
    }
    if ncols > MAX_PLACEHOLDERS {
        return Err(Error::new(
            ErrorKind::Encode,
            format!("bulk_insert of {ncols} columns exceeds MySQL's 65,535 placeholders"),
        ));
    }
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != ncols) {
        return Err(Error::new(
            ErrorKind::Encode,
            format!(
                "bulk_insert row {i} has {} values for {ncols} columns",
                r.len()
            ),
        ));
    }
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        quote_table(table),
        columns
            .iter()
            .map(|c| Dialect::MYSQL.quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let budget = conn.max_packet.saturating_sub(PACKET_MARGIN).max(1024);
    let mut target = MAX_PLACEHOLDERS / ncols;
    let timeout = shared.default_timeout();
    let mut total = 0u64;
    let mut rows = rows.iter().peekable();
    let mut row_index = 0usize;
    while rows.peek().is_some() {
        let mut params: Vec<mysql_async::Value> = Vec::new();
        // The fixed part of COM_STMT_EXECUTE: command, id, flags,
        // iteration count, new-params flag.
        let mut size = 11usize;
        let mut n = 0usize;
        let mut cut_by_size = false;
        while n < target {
            let Some(row) = rows.peek() else { break };
            let encoded = row
                .iter()
                .map(encode)
                .collect::<Result<Vec<_>>>()
                .map_err(|e| {
                    Error::new(
                        e.kind(),
                        format!("bulk_insert row {row_index}: {}", e.message()),
                    )
                })?;
            let row_size = row_wire_size(&encoded);
            if n > 0 && size + row_size > budget {
                cut_by_size = true;
                break;
            }
            // The statement text must fit too (about 2 bytes a placeholder).
            if n > 0 && head.len() + (n + 1) * (ncols * 2 + 3) > budget {
                cut_by_size = true;
                break;
            }
            rows.next();
            row_index += 1;
            params.extend(encoded);
            size += row_size;
            n += 1;
        }
        if cut_by_size {
            // Settle on a count that fits rows of this size, so the next
            // batches share one statement.
            target = (n * 9 / 10).max(1);
        }
        let sql = insert_sql(&head, ncols, n);
        let done = guarded_op!(&shared.canceller, &mut *conn, timeout, |c| run_execute(
            c, &sql, params
        ))
        .map_err(|e| e.context(format!("bulk_insert into {table}")))?;
        total += done.rows_affected;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_shape() {
        assert_eq!(
            insert_sql("INSERT INTO t (a, b) VALUES ", 2, 2),
            "INSERT INTO t (a, b) VALUES (?,?),(?,?)"
        );
        assert_eq!(quote_table("db.t`x"), "`db`.`t``x`");
    }

    #[test]
    fn wire_size_counts_values() {
        let row = [
            mysql_async::Value::Int(1),
            mysql_async::Value::Bytes(vec![0; 300]),
        ];
        // 8 + (3 + 300) + 2*2 type bytes + 1 bitmap byte
        assert_eq!(row_wire_size(&row), 8 + 303 + 4 + 1);
    }
}
