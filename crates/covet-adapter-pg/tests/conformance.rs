//! The shared conformance suite, against the PostgreSQL at `COVET_PG_URL`.

mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use covet_adapter_pg::PgAdapter;
use covet_conformance::{Backend, Capabilities, MappedType, ServerBackend, SetupOptions};
use covet_core::{Adapter, DatabaseUrl, Error, ErrorKind, Result, Statement};

use support::Scratch;
use support::private_pg::{PrivatePg, private_pg};

struct PgBackend {
    scratch: Scratch,
    adapter: Arc<PgAdapter>,
    url: DatabaseUrl,
    /// Roles made on the private server by `password_login`.
    roles: Mutex<Vec<String>>,
}

fn private() -> Result<&'static PrivatePg> {
    private_pg().map_err(|e| Error::new(ErrorKind::Internal, format!("private server: {e}")))
}

/// Runs administrative SQL on the private server.
async fn private_admin(sql: &str) -> Result<()> {
    let admin = PgAdapter::connect(&private()?.admin_url()).await?;
    let r = admin.execute(&Statement::new(sql)).await;
    admin.close().await;
    r.map(drop)
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
        let url = options.apply_to(&scratch.url);
        let adapter = PgAdapter::connect(&url).await;
        match adapter {
            Ok(a) => Ok(Some(PgBackend {
                scratch,
                adapter: Arc::new(a),
                url,
                roles: Mutex::new(Vec::new()),
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
        let roles = std::mem::take(&mut *self.roles.lock().unwrap());
        for role in roles {
            let sql = format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
            );
            let dropped = async {
                private_admin(&sql).await?;
                private_admin(&format!("DROP ROLE IF EXISTS {role}")).await
            };
            if let Err(e) = dropped.await {
                eprintln!("dropping role {role}: {e}");
            }
        }
    }
}

#[async_trait]
impl ServerBackend for PgBackend {
    async fn connect(url: &DatabaseUrl) -> Result<Arc<dyn Adapter>> {
        Ok(Arc::new(PgAdapter::connect(url).await?))
    }

    fn url(&self) -> DatabaseUrl {
        self.url.clone()
    }

    async fn password_login(&self) -> Result<DatabaseUrl> {
        let server = private()?;
        let role = support::unique_name("pw");
        let password = format!("Pw-{}", support::unique_name("s3cret"));
        private_admin(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'")).await?;
        self.roles.lock().unwrap().push(role.clone());
        format!(
            "postgres://{role}:{password}@127.0.0.1:{}/postgres?sslmode=disable",
            server.port
        )
        .parse()
    }

    async fn change_password(&self, user: &str, new_password: &str) -> Result<()> {
        private_admin(&format!("ALTER ROLE {user} PASSWORD '{new_password}'")).await
    }

    async fn tls_required_url(&self) -> Result<DatabaseUrl> {
        // The private server runs with ssl = off.
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=require&connect_timeout=5s",
            private()?.port
        )
        .parse()
    }
}

covet_conformance::conformance_suite!(PgBackend);
covet_conformance::connection_failure_suite!(PgBackend);
