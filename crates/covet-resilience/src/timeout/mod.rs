//! Statement timeouts enforced by the server, with a local backstop.
//!
//! [`TimeoutLayer`] gives every statement without a timeout of its own the
//! layer's default, through [`Statement::timeout`](covet_core::Statement::timeout):
//! the adapter then cancels the statement on the server when it expires, so
//! the connection is clean or discarded, never returned mid-query. A tokio
//! timeout a little longer than the statement's (the grace) backs that up
//! in case the server or the network does not answer the cancel; it fails
//! the call with [`error::Elapsed`]'s message and
//! [`covet_core::ErrorKind::Timeout`].

pub mod error;
mod layer;

pub use layer::{Timeout, TimeoutLayer};
