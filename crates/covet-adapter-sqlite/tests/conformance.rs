//! The shared conformance suite on SQLite: one temporary database file per
//! case.

use std::sync::Arc;

use async_trait::async_trait;
use covet_adapter_sqlite::SqliteAdapter;
use covet_conformance::{Backend, Capabilities, MappedType, SetupOptions};
use covet_core::{Adapter, DatabaseUrl, Error, Result};

struct SqliteBackend {
    adapter: SqliteAdapter,
    _dir: tempfile::TempDir,
}

#[async_trait]
impl Backend for SqliteBackend {
    const NAME: &'static str = "sqlite";

    fn skip_reason() -> String {
        "never skipped: SQLite is embedded".to_owned()
    }

    async fn setup(options: &SetupOptions) -> Result<Option<Self>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("conformance.db");
        let url: DatabaseUrl = format!("sqlite://{}", path.display()).parse()?;
        let adapter = SqliteAdapter::connect(&options.apply_to(&url)).await?;
        Ok(Some(SqliteBackend { adapter, _dir: dir }))
    }

    fn adapter(&self) -> Arc<dyn Adapter> {
        Arc::new(self.adapter.clone())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            check_constraints: true,
            server: false,
            rejects_out_of_range: false,
            last_insert_id: true,
        }
    }

    fn column_type(&self, ty: MappedType) -> &'static str {
        match ty {
            MappedType::Bool => "BOOLEAN",
            MappedType::I16 => "SMALLINT",
            MappedType::I32 => "INT",
            MappedType::I64 => "BIGINT",
            MappedType::F32 => "REAL",
            MappedType::F64 => "DOUBLE",
            // TEXT affinity keeps every digit (see the README).
            MappedType::Decimal => "DECIMAL TEXT",
            MappedType::Text => "TEXT",
            MappedType::Bytes => "BLOB",
            MappedType::Date => "DATE",
            MappedType::Time => "TIME",
            MappedType::Timestamp => "TIMESTAMP",
            MappedType::TimestampTz => "TIMESTAMPTZ",
            MappedType::Uuid => "UUID",
            MappedType::Json => "JSON",
        }
    }

    fn auto_id(&self) -> &'static str {
        "INTEGER PRIMARY KEY AUTOINCREMENT"
    }

    fn slow_statement(&self, _secs: f64, marker: &str) -> String {
        // Counts to 10^12: hours of CPU, so only an interrupt ends it.
        format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000000) \
             SELECT count(*) AS n, '{marker}' AS marker FROM c"
        )
    }

    async fn running_queries(&self, _marker: &str) -> Result<Option<u64>> {
        Ok(None)
    }

    async fn kill_connections(&self) -> Result<()> {
        Err(Error::unsupported("SQLite has no server sessions to kill"))
    }

    async fn teardown(&self) {
        self.adapter.close().await;
    }
}

covet_conformance::conformance_suite!(SqliteBackend);
