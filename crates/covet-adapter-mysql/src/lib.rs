#![doc = include_str!("../README.md")]
//! Covet's MySQL / MariaDB adapter.
//!
//! [`MySqlAdapter`] implements [`covet_core::Adapter`] over
//! [mysql_async](https://docs.rs/mysql_async) connections pooled by
//! covet-pool (mysql_async's own pool is not used). Build it from a URL
//! with [`MySqlAdapter::connect`] or from a [`MySqlConfig`] with
//! [`MySqlAdapter::connect_with`].
#![forbid(unsafe_code)]

mod adapter;
mod bulk;
mod config;
mod conn;
mod error;
mod exec;
mod schema;
mod stream;
mod tx;
mod types;

pub use adapter::MySqlAdapter;
pub use config::{MYSQL_KEYS, MySqlConfig, SslMode};
pub use conn::{MySqlConnection, MySqlManager};
