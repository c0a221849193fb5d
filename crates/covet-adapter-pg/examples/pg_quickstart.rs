//! Connects, writes in a transaction, reads back, streams.
//!
//! `cargo run -p covet-adapter-pg --example pg_quickstart -- postgres://postgres@127.0.0.1/test`

use covet_adapter_pg::PgAdapter;
use covet_core::{Adapter, DatabaseUrl, Statement};
use futures_util::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> covet_core::Result<()> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("COVET_PG_URL").ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let url: DatabaseUrl = url.parse()?;
    let db = PgAdapter::connect(&url).await?;
    println!("connected to {}", db.server_version().await?);

    let mut tx = db.begin().await?;
    tx.execute(&Statement::new(
        "CREATE TABLE IF NOT EXISTS covet_quickstart (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)",
    ))
    .await?;
    for name in ["Ada", "Grace", "Edsger"] {
        tx.execute(&Statement::new("INSERT INTO covet_quickstart (name) VALUES ($1)").bind(name))
            .await?;
    }
    // Rolled back: the example leaves the database as it found it.
    let mut rows = tx
        .query_stream(&Statement::new(
            "SELECT id, name FROM covet_quickstart ORDER BY id",
        ))
        .await?;
    while let Some(row) = rows.next().await {
        let row = row?;
        println!("{} {}", row.get::<i64>("id")?, row.get::<String>("name")?);
    }
    drop(rows);
    tx.rollback().await?;
    db.close().await;
    Ok(())
}
