//! Opening a plain mysql_async connection for the binlog stream: the pool
//! of covet-adapter-mysql cannot lend one, since the stream takes the
//! connection over for good.

use covet_adapter_mysql::SslMode;
use covet_core::DatabaseUrl;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};

use crate::error::{PitrError, Result};

/// Connection settings read from a `mysql://` URL (host, port, user,
/// password, `sslmode`, `sslrootcert`); the database is not needed.
#[derive(Clone)]
pub(crate) struct ConnSpec {
    plain: Opts,
    tls: Option<Opts>,
    mode: SslMode,
    target: String,
}

impl std::fmt::Debug for ConnSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnSpec")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl ConnSpec {
    pub(crate) fn from_url(url: &DatabaseUrl) -> Result<Self> {
        if url.engine() != covet_core::Engine::MySql {
            return Err(PitrError::Config(format!(
                "binlog streaming needs a mysql:// URL, not a {} one",
                url.engine()
            )));
        }
        let mode: SslMode = match url.param("sslmode") {
            Some(v) => v.parse()?,
            None => SslMode::default(),
        };
        let b = OptsBuilder::default()
            .ip_or_hostname(url.host().to_owned())
            .tcp_port(url.port())
            .user(url.user().map(str::to_owned))
            .pass(url.password().map(|p| p.expose().to_owned()))
            .prefer_socket(false)
            .tcp_nodelay(true)
            .connect_attribute("program_name", "covet pitr binlog-stream");
        let tls = match mode {
            SslMode::Disabled => None,
            SslMode::Preferred | SslMode::Required => Some(
                SslOpts::default()
                    .with_danger_accept_invalid_certs(true)
                    .with_danger_skip_domain_validation(true),
            ),
            _ => {
                let mut ssl = SslOpts::default();
                if let Some(ca) = url.param("sslrootcert") {
                    ssl = ssl
                        .with_root_certs(vec![std::path::PathBuf::from(ca).into()])
                        .with_disable_built_in_roots(true);
                }
                if mode == SslMode::VerifyCa {
                    ssl = ssl.with_danger_skip_domain_validation(true);
                }
                Some(ssl)
            }
        }
        .map(|ssl| b.clone().ssl_opts(ssl).into());
        Ok(ConnSpec {
            plain: b.into(),
            tls,
            mode,
            target: format!("{}:{}", url.host(), url.port()),
        })
    }

    /// Where it connects (`host:port`), for messages.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// Opens one connection.
    pub(crate) async fn connect(&self) -> Result<Conn, mysql_async::Error> {
        match (&self.tls, self.mode) {
            (None, _) => Conn::new(self.plain.clone()).await,
            (Some(tls), SslMode::Preferred) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                match Conn::new(tls.clone()).await {
                    Err(mysql_async::Error::Driver(
                        mysql_async::DriverError::NoClientSslFlagFromServer,
                    )) => Conn::new(self.plain.clone()).await,
                    r => r,
                }
            }
            (Some(tls), _) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                Conn::new(tls.clone()).await
            }
        }
    }
}

/// A driver error as one line without secrets (the driver's messages name
/// neither the password nor bound values).
pub(crate) fn describe(e: &mysql_async::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A failed first connection as a database error of the right kind (the
/// CLI exits 3 for an unreachable server or a refused login).
pub(crate) fn connect_error(target: &str, e: &mysql_async::Error) -> PitrError {
    use covet_core::{Error, ErrorKind};
    let message = format!("cannot connect to {target}: {}", describe(e));
    let err = match e {
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => Error::new(
            Error::from_connect_io(io).kind(),
            format!("cannot connect to {target}: {io}"),
        ),
        mysql_async::Error::Server(se) if matches!(se.code, 1045 | 1698) => {
            Error::new(ErrorKind::Auth, message)
        }
        _ => Error::new(ErrorKind::Connection, message),
    };
    PitrError::Database(err)
}
