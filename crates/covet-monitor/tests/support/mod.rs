//! Helpers for the real-server tests.

#![allow(dead_code)]

pub(crate) mod proxy;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use covet_core::{Adapter, DatabaseUrl, Engine, Statement};

/// The server URL for `engine` from the environment; `None` (after
/// printing why) when absent, a panic when `COVET_REQUIRE_DB=1`.
pub(crate) fn server_url(engine: Engine) -> Option<DatabaseUrl> {
    let var = match engine {
        Engine::Postgres => "COVET_PG_URL",
        _ => "COVET_MYSQL_URL",
    };
    match std::env::var(var) {
        Ok(u) => Some(u.parse().unwrap_or_else(|e| panic!("{var}: {e}"))),
        Err(_) => {
            assert!(
                std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
                "{var} is not set and COVET_REQUIRE_DB=1"
            );
            eprintln!("skipping: {var} is not set");
            None
        }
    }
}

/// The server's socket address.
pub(crate) fn upstream(url: &DatabaseUrl) -> SocketAddr {
    (url.host(), url.port())
        .to_socket_addrs()
        .expect("resolve server")
        .next()
        .expect("server address")
}

/// `url` pointed at `addr` instead, with extra query parameters.
pub(crate) fn via(url: &DatabaseUrl, addr: SocketAddr, params: &[(&str, &str)]) -> DatabaseUrl {
    let raw = url.expose();
    let hostport = format!("{}:{}", url.host(), url.port());
    let replaced = if raw.contains(&hostport) {
        raw.replacen(&hostport, &addr.to_string(), 1)
    } else {
        let at = raw
            .find('@')
            .map_or_else(|| raw.find("://").map_or(0, |i| i + 3), |i| i + 1);
        let end = raw[at..].find(['/', '?']).map_or(raw.len(), |i| at + i);
        format!("{}{}{}", &raw[..at], addr, &raw[end..])
    };
    let mut u: DatabaseUrl = replaced.parse().expect("proxied url");
    for (k, v) in params {
        u = u.with_param(k, v);
    }
    u
}

/// Opens the real adapter for `url`.
pub(crate) async fn connect(url: &DatabaseUrl) -> Arc<dyn Adapter> {
    match url.engine() {
        Engine::Postgres => Arc::new(
            covet_adapter_pg::PgAdapter::connect(url)
                .await
                .expect("connect postgres"),
        ),
        _ => Arc::new(
            covet_adapter_mysql::MySqlAdapter::connect(url)
                .await
                .expect("connect mysql"),
        ),
    }
}

/// A schema (PostgreSQL) or database (MySQL) of its own for one test,
/// dropped by [`Namespace::drop_now`].
pub(crate) struct Namespace {
    pub name: String,
    admin: Arc<dyn Adapter>,
}

impl Namespace {
    pub(crate) async fn create(admin: Arc<dyn Adapter>, tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("covet_mon_{tag}_{}_{nanos}", std::process::id());
        let sql = match admin.engine() {
            Engine::Postgres => format!("CREATE SCHEMA {name}"),
            _ => format!("CREATE DATABASE {name}"),
        };
        admin
            .execute(&Statement::new(sql))
            .await
            .expect("create namespace");
        Namespace { name, admin }
    }

    pub(crate) async fn drop_now(self) {
        let sql = match self.admin.engine() {
            Engine::Postgres => format!("DROP SCHEMA {} CASCADE", self.name),
            _ => format!("DROP DATABASE {}", self.name),
        };
        self.admin
            .execute(&Statement::new(sql))
            .await
            .expect("drop namespace");
    }
}

/// `$n` placeholders rewritten for the engine.
pub(crate) fn sql(db: &dyn Adapter, text: &str) -> String {
    db.dialect().rewrite_placeholders(text).into_owned()
}
