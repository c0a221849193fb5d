#![doc = include_str!("../README.md")]
//! Covet's SQLite adapter.
//!
//! [`SqliteAdapter::connect`] opens `sqlite://path` or `sqlite::memory:`
//! ([`SqliteAdapter::connect_with`] takes a [`SqliteConfig`] built in code)
//! and returns an [`covet_core::Adapter`] over a covet-pool pool of
//! [`SqliteConnection`]s. SQLite is bundled (compiled in), so nothing needs
//! to be installed. Blocking SQLite calls run on tokio's blocking threads.
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

pub use adapter::SqliteAdapter;
pub use config::{JournalMode, OpenMode, SqliteConfig};
pub use conn::{SqliteConnection, SqliteManager};
