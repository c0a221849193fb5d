//! The contract between the pool and a backend.

use std::future::Future;

/// Opens, checks and resets connections for a [`crate::Pool`].
///
/// The pool calls these; it never looks inside a connection.
pub trait Manager: Send + Sync + 'static {
    /// The connection type the pool hands out.
    type Connection: Send + 'static;
    /// What `create`, `validate` and `reset` fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens a new connection. The pool bounds it with `create_timeout` and
    /// retries failures with exponential backoff and full jitter while a
    /// caller still waits (inside its acquire deadline).
    fn create(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// Checks a connection on checkout (skipped when it was used within the
    /// validation skip window) and for keepalive pings; bounded by
    /// `validation_timeout`. An error or a timeout discards the connection
    /// and the acquire continues with another.
    fn validate(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Cheap synchronous check on return and on checkout: `true` discards
    /// the connection.
    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        let _ = conn;
        false
    }

    /// Does this returned connection need [`Manager::reset`] before reuse
    /// (for example, a transaction was dropped without commit)?
    fn needs_reset(&self, conn: &Self::Connection) -> bool {
        let _ = conn;
        false
    }

    /// Runs in a spawned task before a returned connection for which
    /// `needs_reset` was true goes back to idle; bounded by
    /// `validation_timeout`. An error discards the connection. The slot stays
    /// counted as in use until it finishes.
    fn reset(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = conn;
        async { Ok(()) }
    }
}
