//! Read replicas for Covet: one [`Adapter`](covet_core::Adapter) over a
//! primary and its replicas.
//!
//! A [`Router`] is itself an `Adapter`, so every layer (timeout, retry,
//! metrics) and the ORM work over it unchanged. It routes by intent, never
//! by reading the SQL: statements marked
//! [`read_only`](covet_core::Statement::read_only), read-only transactions
//! and calls on a [`Reader`] go to replicas, other calls on the router to
//! the primary, and a
//! [`Session`] or [`Router::reader_at`] reads at least a
//! [`ConsistencyToken`] taken after a write. Each target has its own
//! adapter and pool behind its own circuit breaker; replicas are balanced
//! by least outstanding requests between two weighted random choices, and
//! ejected by a background health
//! check when they lag past a bound or stop replicating.
//!
//! ```no_run
//! # async fn demo() -> covet_core::Result<()> {
//! use covet_core::{Adapter, Statement};
//! use covet_router::Router;
//!
//! let router = Router::connect("postgres://app@db1,db2,db3:5433/shop?router_max_lag=2s").await?;
//! router.execute(&Statement::new("INSERT INTO orders (id) VALUES (1)")).await?; // primary
//! let token = router.token().await?; // a string you may pass to another service
//! let rows = router
//!     .reader_at(token)
//!     .query(&Statement::new("SELECT * FROM orders WHERE id = 1"))
//!     .await?; // a replica that has the insert, or the primary
//! let counts = router.reader().query(&Statement::new("SELECT count(*) FROM orders")).await?; // any replica
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod balance;
mod error;
mod probe;
mod router;
mod shard;
mod target;
mod token;
mod url;

pub use error::RouterError;
pub use probe::{MariaDbProbe, PgProbe, ReplicaStatus, ReplicationProbe};
pub use router::{Reader, Router, RouterBuilder, Session};
pub use shard::{ShardKey, ShardMap};
pub use target::{Role, TargetStats};
pub use token::{ConsistencyToken, GtidPos};
pub use url::{ReadYourWrites, RouterSettings, RouterUrl};

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
