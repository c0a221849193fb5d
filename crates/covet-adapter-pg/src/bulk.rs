//! Bulk load: `COPY ... FROM STDIN` in PostgreSQL's binary format.

use std::pin::pin;
use std::sync::Arc;

use covet_core::{Error, ErrorKind, Result, Value};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

use crate::conn::{PgConnection, deadline, prepared};
use crate::types::Params;

fn quote_ident(name: &str) -> String {
    covet_core::Dialect::POSTGRES.quote_ident(name)
}

/// Quotes `schema.table` part by part.
fn quote_path(path: &str) -> String {
    path.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

impl PgConnection {
    /// COPY ... FROM STDIN in binary format.
    pub(crate) async fn copy_in(
        &mut self,
        table: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<u64> {
        if columns.is_empty() {
            return Err(Error::new(
                ErrorKind::Encode,
                "bulk_insert needs at least one column",
            ));
        }
        if let Some((i, row)) = rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != columns.len())
        {
            return Err(Error::new(
                ErrorKind::Encode,
                format!(
                    "bulk_insert row {i} has {} value(s) for {} column(s)",
                    row.len(),
                    columns.len()
                ),
            ));
        }
        if rows.is_empty() {
            return Ok(0);
        }
        let table = quote_path(table);
        let cols = columns
            .iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ");
        let probe: Arc<str> = Arc::from(format!("SELECT {cols} FROM {table} LIMIT 0"));
        let copy = format!("COPY {table} ({cols}) FROM STDIN (FORMAT binary)");
        let limit = self.default_timeout;
        let client = &self.client;
        let cache = &mut self.cache;
        let outcome = deadline(limit, async {
            let (st, _) = prepared(client, cache, &probe).await?;
            let types: Vec<Type> = st.columns().iter().map(|c| c.type_().clone()).collect();
            let sink = client.copy_in(copy.as_str()).await?;
            let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
            for row in rows {
                writer.as_mut().write_raw(Params(row.iter())).await?;
            }
            Ok(writer.as_mut().finish().await?)
        })
        .await;
        let r = self.settle(&probe, outcome).await;
        if r.is_err() && !self.in_tx {
            // An abandoned COPY is failed by the driver; sync before reuse.
            self.unsynced = true;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_path("app.users"), "\"app\".\"users\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }
}
