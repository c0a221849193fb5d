//! A connection pool that is correct under concurrency and cancellation.
//!
//! [`Pool`] is generic over a [`Manager`], which opens, validates and resets
//! connections; the pool knows nothing about SQL. It hands out the most
//! recently used idle connection, serves waiters first come first served,
//! creates connections in the background (retrying with exponential backoff
//! and full jitter while someone waits), validates on checkout, evicts idle
//! and old connections, pings idle ones, reports leaked checkouts, resizes at
//! run time and closes gracefully.
//!
//! Its state machine (slots, idle list, waiter queue, close) lives in one
//! module built on a loom shim and is model-checked with loom
//! (`cargo xtask loom`).
//!
//! ```
//! use covet_pool::{Manager, Pool, PoolError};
//! use std::time::Duration;
//!
//! struct Numbers;
//!
//! impl Manager for Numbers {
//!     type Connection = u64;
//!     type Error = std::io::Error;
//!     async fn create(&self) -> Result<u64, std::io::Error> {
//!         Ok(42)
//!     }
//!     async fn validate(&self, _conn: &mut u64) -> Result<(), std::io::Error> {
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = Pool::builder(Numbers)
//!     .max_size(8)
//!     .acquire_timeout(Duration::from_secs(2))
//!     .build()?;
//! let mut conn = pool.get().await?;
//! *conn += 1;
//! drop(conn); // back to the pool
//! assert_eq!(pool.stats().acquired, 1);
//! pool.close(Duration::from_secs(1)).await?;
//! assert!(matches!(pool.get().await, Err(PoolError::Closed)));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod config;
mod core;
mod error;
mod loom;
mod manager;
mod metrics;
mod pool;

pub use crate::config::{ConfigError, PoolConfig};
pub use crate::core::CloseReason;
pub use crate::error::{CloseError, PoolError};
pub use crate::manager::Manager;
pub use crate::metrics::{State, Stats, WAIT_BUCKETS, names as metric_names};
pub use crate::pool::{LeakHook, Pool, PoolBuilder, Pooled};

/// The README's example, compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
