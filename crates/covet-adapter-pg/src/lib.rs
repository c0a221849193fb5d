//! Covet's PostgreSQL adapter.
//!
//! [`PgAdapter`] implements [`covet_core::Adapter`] over tokio-postgres,
//! with connections pooled by covet-pool, a bounded per-connection cache of
//! prepared statements, statement timeouts that cancel on the server, COPY
//! for bulk loads, rustls TLS (`sslmode` disable / prefer / require /
//! verify-full), SQLSTATE classification, and schema introspection.
//!
//! ```no_run
//! use covet_adapter_pg::PgAdapter;
//! use covet_core::{Adapter, DatabaseUrl, Statement};
//!
//! # async fn demo() -> covet_core::Result<()> {
//! let url: DatabaseUrl = "postgres://app@127.0.0.1/shop?sslmode=require".parse()?;
//! let db = PgAdapter::connect(&url).await?;
//! let rows = db
//!     .query(&Statement::new("SELECT name FROM users WHERE id = $1").bind(7_i64))
//!     .await?;
//! for row in &rows {
//!     println!("{}", row.get::<String>("name")?);
//! }
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

mod adapter;
mod config;
mod conn;
mod error;
mod schema;
mod tls;
mod types;

pub use adapter::PgAdapter;
pub use config::{PG_KEYS, PgConfig, SslMode};
pub use conn::{PgConnection, PgManager};
pub use error::sqlstate_kind;
pub use types::{DecodeError, EncodeError};

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
