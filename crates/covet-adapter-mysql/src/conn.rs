//! Opening, checking and resetting connections for covet-pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use covet_core::{Error, ErrorKind, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};

use crate::config::{MySqlConfig, SslMode};
use crate::error::from_driver;

/// The session settings every connection starts with: strict mode so the
/// server refuses values that do not fit instead of truncating them, and
/// UTC so TIMESTAMP columns read and write instants unchanged.
const SESSION_SETUP: &str = "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,\
ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'";

/// One pooled MySQL / MariaDB connection and what the adapter tracks
/// about it.
pub struct MySqlConnection {
    pub(crate) conn: Conn,
    /// The server's id for this session (for `KILL QUERY`).
    pub(crate) id: u32,
    /// The session's `max_allowed_packet`, read once at connect.
    pub(crate) max_packet: usize,
    /// A transaction is open: the pool must roll it back before reuse.
    pub(crate) in_tx: bool,
    /// An operation started and did not finish (a timeout, a dropped
    /// future or stream, a fatal error): the pool must discard it.
    pub(crate) busy: bool,
    /// Savepoint depth inside the open transaction.
    pub(crate) sp_depth: u32,
    /// A savepoint dropped without commit or rollback, to roll back to
    /// before the transaction's next statement.
    pub(crate) pending_sp_rollback: Option<u32>,
    /// Result plans of recent queries.
    pub(crate) plans: crate::exec::PlanCache,
}

impl std::fmt::Debug for MySqlConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlConnection")
            .field("id", &self.id)
            .field("in_tx", &self.in_tx)
            .field("busy", &self.busy)
            .finish_non_exhaustive()
    }
}

impl MySqlConnection {
    /// The server's connection id (`CONNECTION_ID()`).
    pub fn connection_id(&self) -> u32 {
        self.id
    }

    /// The session's `max_allowed_packet` in bytes.
    pub fn max_allowed_packet(&self) -> usize {
        self.max_packet
    }
}

/// The covet-pool manager for MySQL / MariaDB connections.
pub struct MySqlManager {
    config: Arc<MySqlConfig>,
    plain: Opts,
    tls: Option<Opts>,
    /// `sslmode=PREFERRED` found the server without TLS: skip the TLS try.
    server_lacks_tls: AtomicBool,
}

impl std::fmt::Debug for MySqlManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlManager")
            .field("target", &self.config.target())
            .field("ssl_mode", &self.config.ssl_mode)
            .finish_non_exhaustive()
    }
}

fn ensure_crypto_provider() {
    // rustls panics when more than one provider is compiled in and none
    // is chosen; install ours unless another part of the program did.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl MySqlManager {
    /// A manager for `config`.
    pub(crate) fn new(config: Arc<MySqlConfig>) -> Result<Self> {
        let mut b = OptsBuilder::default()
            .ip_or_hostname(config.host.clone())
            .tcp_port(config.port)
            .user(config.user.clone())
            .pass(config.password.as_ref().map(|p| p.expose().to_owned()))
            .db_name(config.database.clone())
            .stmt_cache_size(config.statement_cache_capacity)
            .tcp_nodelay(true)
            .prefer_socket(false)
            .connect_attribute(
                "program_name",
                config.application_name.as_deref().unwrap_or("covet"),
            );
        b = b.setup(vec![SESSION_SETUP]);
        let plain: Opts = b.clone().into();
        let tls = match config.ssl_mode {
            SslMode::Disabled => None,
            SslMode::Preferred | SslMode::Required => Some(
                SslOpts::default()
                    .with_danger_accept_invalid_certs(true)
                    .with_danger_skip_domain_validation(true),
            ),
            SslMode::VerifyCa | SslMode::VerifyIdentity => {
                let mut ssl = SslOpts::default();
                if let Some(ca) = &config.ssl_root_cert {
                    if !ca.is_file() {
                        return Err(Error::config(format!(
                            "sslrootcert `{}` is not a readable file",
                            ca.display()
                        )));
                    }
                    ssl = ssl
                        .with_root_certs(vec![ca.clone().into()])
                        .with_disable_built_in_roots(true);
                }
                if config.ssl_mode == SslMode::VerifyCa {
                    ssl = ssl.with_danger_skip_domain_validation(true);
                }
                Some(ssl)
            }
        }
        .map(|ssl| b.ssl_opts(ssl).into());
        Ok(MySqlManager {
            config,
            plain,
            tls,
            server_lacks_tls: AtomicBool::new(false),
        })
    }

    /// Plain options (no TLS) for side connections such as `KILL QUERY`:
    /// the same TLS choice as the pool's connections.
    pub(crate) fn side_opts(&self) -> Opts {
        match &self.tls {
            Some(tls) if !self.server_lacks_tls.load(Ordering::Relaxed) => tls.clone(),
            _ => self.plain.clone(),
        }
    }

    /// Opens one connection directly (not through the pool).
    pub(crate) async fn open(&self) -> Result<MySqlConnection> {
        let conn = match (&self.tls, self.config.ssl_mode) {
            (None, _) => self.connect(self.plain.clone()).await?,
            (Some(tls), SslMode::Preferred) => {
                if self.server_lacks_tls.load(Ordering::Relaxed) {
                    self.connect(self.plain.clone()).await?
                } else {
                    ensure_crypto_provider();
                    match Conn::new(tls.clone()).await {
                        Ok(c) => c,
                        Err(mysql_async::Error::Driver(
                            mysql_async::DriverError::NoClientSslFlagFromServer,
                        )) => {
                            self.server_lacks_tls.store(true, Ordering::Relaxed);
                            self.connect(self.plain.clone()).await?
                        }
                        Err(e) => return Err(self.connect_error(e)),
                    }
                }
            }
            (Some(tls), _) => {
                ensure_crypto_provider();
                self.connect(tls.clone()).await?
            }
        };
        self.finish(conn).await
    }

    async fn connect(&self, opts: Opts) -> Result<Conn> {
        Conn::new(opts).await.map_err(|e| self.connect_error(e))
    }

    /// A one-line message naming the server and user, never the password.
    fn connect_error(&self, e: mysql_async::Error) -> Error {
        let target = self.config.target();
        let user = self.config.user.as_deref().unwrap_or("(none)");
        let base = match e {
            // Refused, unknown host, unreachable: worded as every adapter
            // words them.
            mysql_async::Error::Io(mysql_async::IoError::Io(io)) => Error::from_connect_io(&io),
            other => from_driver(other),
        };
        let message = match base.kind() {
            ErrorKind::Auth => format!(
                "authentication failed for user `{user}` at {target}: {}",
                base.message()
            ),
            ErrorKind::Config if base.code() == Some(covet_core::ServerCode::MySql(1049)) => {
                format!(
                    "database `{}` does not exist on {target}",
                    self.config.database.as_deref().unwrap_or("")
                )
            }
            _ => format!("cannot connect to MySQL at {target}: {}", base.message()),
        };
        let mut err = Error::new(base.kind(), message).with_retry_class(base.retry_class());
        if let Some(code) = base.code() {
            err = err.with_code(code);
        }
        err
    }

    async fn finish(&self, mut conn: Conn) -> Result<MySqlConnection> {
        let row: Option<(u32, u64)> = conn
            .query_first("SELECT CONNECTION_ID(), @@max_allowed_packet")
            .await
            .map_err(|e| self.connect_error(e))?;
        let (id, max_packet) = row.ok_or_else(|| {
            Error::new(
                ErrorKind::Connection,
                "the server returned no connection id",
            )
        })?;
        Ok(MySqlConnection {
            conn,
            id,
            max_packet: usize::try_from(max_packet).unwrap_or(usize::MAX),
            in_tx: false,
            busy: false,
            sp_depth: 0,
            pending_sp_rollback: None,
            plans: crate::exec::PlanCache::default(),
        })
    }
}

impl covet_pool::Manager for MySqlManager {
    // Boxed: the pool moves a connection in and out of its idle list and
    // every query's future holds one, so a pointer keeps those moves small.
    type Connection = Box<MySqlConnection>;
    type Error = Error;

    async fn create(&self) -> Result<Box<MySqlConnection>> {
        self.open().await.map(Box::new)
    }

    async fn validate(&self, conn: &mut Box<MySqlConnection>) -> Result<()> {
        conn.conn.ping().await.map_err(from_driver)
    }

    fn has_broken(&self, conn: &mut Box<MySqlConnection>) -> bool {
        conn.busy || conn.conn.is_disconnected()
    }

    fn needs_reset(&self, conn: &Box<MySqlConnection>) -> bool {
        conn.in_tx
    }

    async fn reset(&self, conn: &mut Box<MySqlConnection>) -> Result<()> {
        conn.conn
            .query_drop("ROLLBACK")
            .await
            .map_err(from_driver)?;
        conn.in_tx = false;
        conn.sp_depth = 0;
        conn.pending_sp_rollback = None;
        Ok(())
    }
}
