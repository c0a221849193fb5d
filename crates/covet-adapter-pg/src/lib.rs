#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod adapter;
mod bulk;
mod config;
mod conn;
mod copy;
mod error;
mod schema;
mod stream;
mod tls;
mod tx;
mod types;

pub use adapter::PgAdapter;
pub use config::{PgConfig, SslMode};
pub use conn::{PgConnection, PgManager};
