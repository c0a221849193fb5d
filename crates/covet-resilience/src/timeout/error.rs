//! The error a backstop timeout produces.

use std::time::Duration;

use covet_core::{Error, ErrorKind};

/// The local backstop fired: the statement outlived its timeout plus the
/// grace period without the adapter's server-side cancel answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "statement did not finish within its {timeout:?} timeout (local backstop after a further {grace:?})"
)]
pub struct Elapsed {
    /// The statement's timeout.
    pub timeout: Duration,
    /// The extra time allowed for the server-side cancel.
    pub grace: Duration,
}

impl From<Elapsed> for Error {
    fn from(e: Elapsed) -> Self {
        Error::new(ErrorKind::Timeout, e.to_string()).with_source(e)
    }
}
