//! Shared helpers: the server URL, unique schemas, an admin adapter.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use covet_adapter_pg::PgAdapter;
use covet_core::{Adapter, DatabaseUrl, Result, Statement};

pub(crate) mod private_pg;

/// `COVET_PG_URL`, or `None` with the reason printed (a failure when
/// `COVET_REQUIRE_DB=1`).
pub(crate) fn pg_url(test: &str) -> Option<DatabaseUrl> {
    match std::env::var("COVET_PG_URL") {
        Ok(u) => Some(u.parse().expect("COVET_PG_URL is not a valid URL")),
        Err(_) => {
            assert!(
                std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
                "{test}: COVET_REQUIRE_DB=1 but COVET_PG_URL is not set"
            );
            eprintln!("skipping {test}: COVET_PG_URL is not set");
            None
        }
    }
}

/// A name no other test (or test process) uses at the same time.
pub(crate) fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "covet_{tag}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A schema created for one test, with the URL that makes it the
/// connections' current schema (and names them after it in
/// `pg_stat_activity`). Drop it with [`Scratch::drop_schema`].
pub(crate) struct Scratch {
    pub name: String,
    pub base: DatabaseUrl,
    pub url: DatabaseUrl,
    pub admin: PgAdapter,
}

impl Scratch {
    pub(crate) async fn new(base: &DatabaseUrl, tag: &str) -> Result<Scratch> {
        let name = unique_name(tag);
        let admin_url = base
            .with_param("max_connections", "2")
            .with_param("application_name", &format!("{name}_admin"));
        let admin = PgAdapter::connect(&admin_url).await?;
        admin
            .execute(&Statement::new(format!("CREATE SCHEMA {name}")))
            .await?;
        let url = base
            .with_param("options", &format!("-c search_path={name}"))
            .with_param("application_name", &name);
        Ok(Scratch {
            name,
            base: base.clone(),
            url,
            admin,
        })
    }

    pub(crate) async fn drop_schema(&self) {
        let r = self
            .admin
            .execute(&Statement::new(format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                self.name
            )))
            .await;
        if let Err(e) = r {
            eprintln!("dropping schema {}: {e}", self.name);
        }
        self.admin.close().await;
    }

    /// Statements of this scratch's sessions still active on the server
    /// whose text contains `marker`, not counting the asking one.
    pub(crate) async fn running(&self, marker: &str) -> Result<i64> {
        let rows = self
            .admin
            .query(
                &Statement::new(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, $1) > 0",
                )
                .bind(marker),
            )
            .await?;
        rows.rows[0].get::<i64>(0)
    }

    /// Terminates every session of the scratch's adapters (not the admin's).
    pub(crate) async fn kill_sessions(&self) -> Result<i64> {
        let rows = self
            .admin
            .query(
                &Statement::new(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE application_name = $1",
                )
                .bind(self.name.as_str()),
            )
            .await?;
        rows.rows[0].get::<i64>(0)
    }
}

/// Polls `check` until it is true or `limit` passes.
pub(crate) async fn poll_until<F, Fut>(limit: Duration, mut check: F) -> Result<bool>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let end = Instant::now() + limit;
    loop {
        if check().await? {
            return Ok(true);
        }
        if Instant::now() >= end {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
