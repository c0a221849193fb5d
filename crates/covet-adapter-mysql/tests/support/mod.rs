//! Helpers for the tests that need a MySQL / MariaDB server.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use covet_adapter_mysql::MySqlAdapter;
use covet_core::DatabaseUrl;
use mysql_async::prelude::Queryable;

/// The server URL from `COVET_MYSQL_URL`, or `None` (after printing why)
/// when it is not set. With `COVET_REQUIRE_DB=1` a missing URL panics.
pub(crate) fn server_url() -> Option<DatabaseUrl> {
    match std::env::var("COVET_MYSQL_URL") {
        Ok(u) if !u.is_empty() => Some(u.parse().expect("COVET_MYSQL_URL is not a valid URL")),
        _ => {
            assert!(
                std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
                "COVET_REQUIRE_DB=1 but COVET_MYSQL_URL is not set"
            );
            eprintln!("skipping: COVET_MYSQL_URL is not set");
            None
        }
    }
}

/// mysql_async options for the server itself (no database), for admin work
/// done beside the adapter under test.
pub(crate) fn admin_opts(url: &DatabaseUrl) -> mysql_async::Opts {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname(url.host())
        .tcp_port(url.port())
        .user(url.user())
        .pass(url.password().map(|p| p.expose().to_owned()))
        .prefer_socket(false)
        .into()
}

/// A raw admin connection.
pub(crate) async fn admin(url: &DatabaseUrl) -> mysql_async::Conn {
    mysql_async::Conn::new(admin_opts(url))
        .await
        .expect("admin connection to the test server")
}

/// A uniquely named database, dropped when this value is dropped (also
/// after a failed assertion).
pub(crate) struct TestDb {
    pub(crate) name: String,
    pub(crate) url: DatabaseUrl,
    server: DatabaseUrl,
}

impl TestDb {
    /// Creates `covet_t_<random>` on the server.
    pub(crate) async fn create(server: &DatabaseUrl) -> TestDb {
        let name = format!("covet_t_{:016x}", rand::random::<u64>());
        let mut c = admin(server).await;
        c.query_drop(format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await
        .expect("CREATE DATABASE");
        let _ = c.disconnect().await;
        TestDb {
            url: server.with_database(&name),
            name,
            server: server.clone(),
        }
    }

    /// An adapter on this database with extra URL parameters.
    pub(crate) async fn adapter(&self, params: &[(&str, &str)]) -> MySqlAdapter {
        let mut url = self.url.clone();
        for (k, v) in params {
            url = url.with_param(k, v);
        }
        MySqlAdapter::connect(&url)
            .await
            .expect("connecting the adapter")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let opts = admin_opts(&self.server);
        let name = self.name.clone();
        // Drop runs outside async context guarantees, so use a thread with
        // its own small runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime for DROP DATABASE");
            rt.block_on(async move {
                match mysql_async::Conn::new(opts).await {
                    Ok(mut c) => {
                        if let Err(e) = c
                            .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                            .await
                        {
                            eprintln!("dropping {name}: {e}");
                        }
                        let _ = c.disconnect().await;
                    }
                    Err(e) => eprintln!("dropping {name}: {e}"),
                }
            });
        })
        .join();
    }
}

/// How many statements whose text contains `marker` are running on the
/// server, not counting the one asking.
pub(crate) async fn running(server: &DatabaseUrl, marker: &str) -> u64 {
    let mut c = admin(server).await;
    let n: Option<u64> = c
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE CONCAT('%', ?, '%') AND ID <> CONNECTION_ID() AND COMMAND <> 'Sleep'",
            (marker,),
        )
        .await
        .expect("reading the processlist");
    let _ = c.disconnect().await;
    n.unwrap_or(0)
}

/// Polls `check` every 20 ms until it is true or `limit` passes.
pub(crate) async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sets a global server variable for the life of the returned guard's
/// async `restore` call. Tests that change globals hold [`GLOBALS`].
pub(crate) static GLOBALS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Reads a global variable as an integer.
pub(crate) async fn global_u64(server: &DatabaseUrl, name: &str) -> u64 {
    let mut c = admin(server).await;
    let v: Option<u64> = c
        .query_first(format!("SELECT @@GLOBAL.{name}"))
        .await
        .expect("reading a global variable");
    let _ = c.disconnect().await;
    v.expect("a global variable value")
}

/// Sets a global variable to an integer value.
pub(crate) async fn set_global(server: &DatabaseUrl, name: &str, value: u64) {
    let mut c = admin(server).await;
    c.query_drop(format!("SET GLOBAL {name} = {value}"))
        .await
        .expect("setting a global variable");
    let _ = c.disconnect().await;
}
