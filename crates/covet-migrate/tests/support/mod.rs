//! Server fixtures shared by covet-migrate's test binaries.

#![allow(dead_code)]

use std::sync::Arc;

use covet_core::{Adapter, DatabaseUrl, Engine, Statement};

pub(crate) fn required() -> bool {
    std::env::var("COVET_REQUIRE_DB").is_ok_and(|v| v == "1")
}

/// The server URL in `var`; `None` (with a printed reason) when it is unset,
/// a failure when `COVET_REQUIRE_DB=1`.
pub(crate) fn server_url(var: &str) -> Option<DatabaseUrl> {
    match std::env::var(var) {
        Ok(u) => Some(DatabaseUrl::parse(&u).expect("a valid URL")),
        Err(_) => {
            assert!(!required(), "COVET_REQUIRE_DB=1 but {var} is not set");
            eprintln!("skipping: {var} is not set");
            None
        }
    }
}

pub(crate) fn quote(engine: Engine) -> char {
    if engine == Engine::MySql { '`' } else { '"' }
}

/// A database of its own on the server behind `base` (named from `prefix`
/// and the process id), dropped by `drop_db`.
pub(crate) async fn create_db(
    base: &DatabaseUrl,
    prefix: &str,
) -> (DatabaseUrl, Arc<dyn Adapter>, String) {
    let admin = covet::connect(base.with_param("max_connections", "2"))
        .await
        .unwrap();
    let name = format!("{prefix}_{}", std::process::id());
    let q = quote(base.engine());
    let _ = admin
        .execute(&Statement::new(format!(
            "DROP DATABASE IF EXISTS {q}{name}{q}"
        )))
        .await;
    admin
        .execute(&Statement::new(format!("CREATE DATABASE {q}{name}{q}")))
        .await
        .unwrap();
    (base.with_database(&name), admin, name)
}

pub(crate) async fn drop_db(admin: &dyn Adapter, engine: Engine, name: &str) {
    let q = quote(engine);
    let force = if engine == Engine::Postgres {
        " WITH (FORCE)"
    } else {
        ""
    };
    admin
        .execute(&Statement::new(format!(
            "DROP DATABASE {q}{name}{q}{force}"
        )))
        .await
        .unwrap();
    admin.close().await;
}
