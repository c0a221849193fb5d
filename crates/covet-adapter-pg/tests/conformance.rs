//! The shared conformance suite, against the PostgreSQL at `COVET_PG_URL`.

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use covet_adapter_pg::PgAdapter;
use covet_conformance::{Backend, Capabilities, MappedType, SetupOptions};
use covet_core::{Adapter, Result};

use support::Scratch;

struct PgBackend {
    scratch: Scratch,
    adapter: Arc<PgAdapter>,
}

#[async_trait]
impl Backend for PgBackend {
    const NAME: &'static str = "postgres";

    fn skip_reason() -> String {
        "COVET_PG_URL is not set".into()
    }

    async fn setup(options: &SetupOptions) -> Result<Option<Self>> {
        let Ok(url) = std::env::var("COVET_PG_URL") else {
            return Ok(None);
        };
        let scratch = Scratch::new(&url.parse()?, "conf").await?;
        let adapter = PgAdapter::connect(&options.apply_to(&scratch.url)).await;
        match adapter {
            Ok(a) => Ok(Some(PgBackend {
                scratch,
                adapter: Arc::new(a),
            })),
            Err(e) => {
                scratch.drop_schema().await;
                Err(e)
            }
        }
    }

    fn adapter(&self) -> Arc<dyn Adapter> {
        self.adapter.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            check_constraints: true,
            server: true,
            rejects_out_of_range: true,
            last_insert_id: false,
        }
    }

    fn column_type(&self, ty: MappedType) -> &'static str {
        match ty {
            MappedType::Bool => "BOOLEAN",
            MappedType::I16 => "SMALLINT",
            MappedType::I32 => "INTEGER",
            MappedType::I64 => "BIGINT",
            MappedType::F32 => "REAL",
            MappedType::F64 => "DOUBLE PRECISION",
            MappedType::Decimal => "NUMERIC(30, 6)",
            MappedType::Text => "TEXT",
            MappedType::Bytes => "BYTEA",
            MappedType::Date => "DATE",
            MappedType::Time => "TIME",
            MappedType::Timestamp => "TIMESTAMP",
            MappedType::TimestampTz => "TIMESTAMPTZ",
            MappedType::Uuid => "UUID",
            MappedType::Json => "JSONB",
        }
    }

    fn auto_id(&self) -> &'static str {
        "BIGSERIAL PRIMARY KEY"
    }

    fn slow_statement(&self, secs: f64, marker: &str) -> String {
        format!("SELECT pg_sleep({secs}), '{marker}' AS marker")
    }

    fn series_query(&self, n: u64) -> String {
        format!(
            "SELECT i, repeat('x', 100) AS pad FROM generate_series(1::bigint, {n}::bigint) AS s(i)"
        )
    }

    async fn running_queries(&self, marker: &str) -> Result<Option<u64>> {
        let n = self.scratch.running(marker).await?;
        Ok(Some(u64::try_from(n).unwrap_or(0)))
    }

    async fn kill_connections(&self) -> Result<()> {
        self.scratch.kill_sessions().await?;
        Ok(())
    }

    async fn teardown(&self) {
        self.adapter.close().await;
        self.scratch.drop_schema().await;
    }
}

covet_conformance::conformance_suite!(PgBackend);
