//! Connection failures: each one must read the same on every engine, with
//! the same kind and retry class, and never show a password.

use std::sync::Arc;
use std::time::{Duration, Instant};

use covet_core::{DatabaseUrl, Engine, Error, ErrorKind, Result, RetryClass, Statement};

use super::adapter_of;
use crate::util::{ensure, expect_kind, fail};
use crate::{Backend, ServerBackend};

/// Percent-encodes everything but unreserved characters, for building
/// URLs from parts.
fn encode(part: &str) -> String {
    part.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Which parts of a URL to replace.
#[derive(Default)]
struct Parts<'a> {
    host: Option<&'a str>,
    port: Option<u16>,
    user: Option<&'a str>,
    password: Option<&'a str>,
}

/// `base` with some of its parts replaced, parameters kept.
fn rebuild(base: &DatabaseUrl, parts: &Parts<'_>) -> Result<DatabaseUrl> {
    let scheme = match base.engine() {
        Engine::Postgres => "postgres",
        Engine::MySql => "mysql",
        other => return Err(fail(format!("no server URL for {other}"))),
    };
    let user = parts.user.or(base.user()).unwrap_or("root");
    let password = parts
        .password
        .or_else(|| base.password().map(|p| p.expose()));
    let mut url = format!("{scheme}://{}", encode(user));
    if let Some(pw) = password {
        url.push(':');
        url.push_str(&encode(pw));
    }
    url.push('@');
    let host = parts.host.unwrap_or(base.host());
    if host.contains(':') {
        url.push_str(&format!("[{host}]"));
    } else {
        url.push_str(host);
    }
    url.push_str(&format!(":{}", parts.port.unwrap_or(base.port())));
    if let Some(db) = base.database() {
        url.push('/');
        url.push_str(&encode(db));
    }
    let params: Vec<String> = base
        .params()
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if !params.is_empty() {
        url.push('?');
        url.push_str(&params.join("&"));
    }
    url.parse()
}

/// A local port where nothing listens: bound, then released.
fn refused_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A short unique suffix for names made by a case.
pub(crate) fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The checks every connection failure shares: the expected kind and retry
/// class, the outage flag they imply, one line, and none of `secrets`.
fn check_failure(
    what: &str,
    e: &Error,
    kind: ErrorKind,
    retry: RetryClass,
    secrets: &[&str],
) -> Result<()> {
    ensure!(e.kind() == kind, "{what}: expected {kind}, got {e:?}");
    ensure!(
        e.retry_class() == retry,
        "{what}: expected retry class {retry:?}, got {e:?}"
    );
    ensure!(
        e.is_outage() == kind.is_outage(),
        "{what}: outage flag {} for {e:?}",
        e.is_outage()
    );
    let display = e.to_string();
    let debug = format!("{e:?}");
    ensure!(!display.contains('\n'), "{what}: not one line: {display}");
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        ensure!(
            !display.contains(secret) && !debug.contains(secret),
            "{what}: a password appears in the error: {debug}"
        );
        let encoded = encode(secret);
        ensure!(
            !display.contains(&encoded) && !debug.contains(&encoded),
            "{what}: an encoded password appears in the error: {debug}"
        );
    }
    Ok(())
}

async fn connect_err<B: ServerBackend>(what: &str, url: &DatabaseUrl) -> Result<Error> {
    match B::connect(url).await {
        Ok(a) => {
            a.close().await;
            Err(fail(format!("{what}: connected, expected a failure")))
        }
        Err(e) => Ok(e),
    }
}

/// A port where nothing listens: `Connection`, `Reconnect`, the message
/// says the connection was refused and names the port.
pub async fn connection_refused_is_classified<B: ServerBackend>(b: Arc<B>) -> Result<()> {
    let port = refused_port()?;
    let base = b.url().with_param("connect_timeout", "3s");
    let url = rebuild(
        &base,
        &Parts {
            host: Some("127.0.0.1"),
            port: Some(port),
            password: Some("refused-pw-S3cret"),
            ..Parts::default()
        },
    )?;
    let e = connect_err::<B>("refused", &url).await?;
    check_failure(
        "refused",
        &e,
        ErrorKind::Connection,
        RetryClass::Reconnect,
        &["refused-pw-S3cret"],
    )?;
    ensure!(
        e.message().contains("connection refused"),
        "the cause is lost: {e}"
    );
    ensure!(
        e.message().contains(&format!("127.0.0.1:{port}")),
        "the address is not named: {e}"
    );
    Ok(())
}

/// A host name that cannot resolve (`.invalid` never does): `Connection`,
/// `Reconnect`, the message names the host and says the lookup failed.
pub async fn unknown_host_is_classified<B: ServerBackend>(b: Arc<B>) -> Result<()> {
    let base = b.url().with_param("connect_timeout", "10s");
    let url = rebuild(
        &base,
        &Parts {
            host: Some("nonexistent.invalid"),
            password: Some("dns-pw-S3cret"),
            ..Parts::default()
        },
    )?;
    let e = connect_err::<B>("unknown host", &url).await?;
    check_failure(
        "unknown host",
        &e,
        ErrorKind::Connection,
        RetryClass::Reconnect,
        &["dns-pw-S3cret"],
    )?;
    ensure!(
        e.message().contains("nonexistent.invalid"),
        "the host is not named: {e}"
    );
    ensure!(
        e.message().contains("unknown host") || e.message().contains("lookup failed"),
        "the cause is lost: {e}"
    );
    Ok(())
}

/// A user that exists, with the wrong password: `Auth`, never retried,
/// not an outage; neither password appears.
pub async fn wrong_password_is_classified<B: ServerBackend>(b: Arc<B>) -> Result<()> {
    let login = b.password_login().await?;
    let right = login
        .password()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    // The login works as made, so what fails below is the password alone.
    let a = B::connect(&login).await?;
    a.ping().await?;
    a.close().await;
    let url = rebuild(
        &login,
        &Parts {
            password: Some("wrong-pw-S3cret"),
            ..Parts::default()
        },
    )?;
    let e = connect_err::<B>("wrong password", &url).await?;
    check_failure(
        "wrong password",
        &e,
        ErrorKind::Auth,
        RetryClass::Never,
        &["wrong-pw-S3cret", &right],
    )?;
    Ok(())
}

/// A user (PostgreSQL: role) that does not exist: `Auth`, never retried.
pub async fn unknown_user_is_classified<B: ServerBackend>(b: Arc<B>) -> Result<()> {
    let user = format!("covet_nobody_{}", unique_suffix());
    let url = rebuild(
        &b.url(),
        &Parts {
            user: Some(&user),
            password: Some("nobody-pw-S3cret"),
            ..Parts::default()
        },
    )?;
    let e = connect_err::<B>("unknown user", &url).await?;
    check_failure(
        "unknown user",
        &e,
        ErrorKind::Auth,
        RetryClass::Never,
        &["nobody-pw-S3cret"],
    )?;
    Ok(())
}

/// TLS required by the client, not offered by the server: a configuration
/// mismatch (`Config`), never retried, not an outage, and the message
/// says TLS.
pub async fn tls_required_but_not_offered_is_classified<B: ServerBackend>(b: Arc<B>) -> Result<()> {
    let url = b.tls_required_url().await?;
    let e = connect_err::<B>("TLS required", &url).await?;
    let secret = url
        .password()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    check_failure(
        "TLS required",
        &e,
        ErrorKind::Config,
        RetryClass::Never,
        &[&secret],
    )?;
    ensure!(e.message().contains("TLS"), "TLS is not named: {e}");
    Ok(())
}

/// The password changes while the adapter is open, and a caller then waits
/// for a connection that can no longer be made: the wait ends with `Auth`
/// (never retried, not an outage), not a pool timeout, on every engine.
pub async fn wrong_password_while_waiting_is_classified<B: ServerBackend>(b: Arc<B>) -> Result<()> {
    let login = b.password_login().await?;
    let user = login
        .user()
        .ok_or_else(|| fail("password_login returned a URL without a user"))?
        .to_owned();
    let old = login
        .password()
        .map(|p| p.expose().to_owned())
        .unwrap_or_default();
    let acquire = Duration::from_millis(1500);
    let url = login
        .with_param("max_connections", "1")
        .with_param("min_connections", "0")
        .with_param("acquire_timeout", &format!("{}ms", acquire.as_millis()))
        .with_param("connect_timeout", "1s");
    // Connecting checks the login once; the pool itself starts empty, so
    // the first statement below has to open a connection.
    let a = B::connect(&url).await?;
    let new = format!("changed-pw-{}", unique_suffix());
    b.change_password(&user, &new).await?;
    let started = Instant::now();
    let result = a.query(&Statement::new("SELECT 1")).await;
    let waited = started.elapsed();
    a.close().await;
    let e = expect_kind(
        "a statement waiting on a bad password",
        result,
        ErrorKind::Auth,
    )?;
    check_failure(
        "wrong password while waiting",
        &e,
        ErrorKind::Auth,
        RetryClass::Never,
        &[&old, &new],
    )?;
    ensure!(
        waited < acquire + Duration::from_secs(5),
        "the caller waited {waited:?} with an acquire timeout of {acquire:?}"
    );
    Ok(())
}

/// Every pooled connection is held and a caller waits past its acquire
/// timeout: `PoolTimeout`, `BackOff`, an outage, within a bounded time of
/// the timeout; the pool works again once the connection comes back.
/// (Set up with one connection and a 300 ms acquire timeout.)
pub async fn pool_wait_timeout_is_classified<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let tx = a.begin().await?;
    let started = Instant::now();
    let result = a.query(&Statement::new("SELECT 1")).await;
    let waited = started.elapsed();
    let e = expect_kind(
        "waiting for the only connection",
        result,
        ErrorKind::PoolTimeout,
    )?;
    check_failure(
        "pool wait timeout",
        &e,
        ErrorKind::PoolTimeout,
        RetryClass::BackOff,
        &[],
    )?;
    ensure!(
        waited >= Duration::from_millis(300),
        "gave up after {waited:?}, before the 300 ms acquire timeout"
    );
    ensure!(
        waited < Duration::from_secs(3),
        "waited {waited:?} for a 300 ms acquire timeout"
    );
    tx.rollback().await?;
    a.query(&Statement::new("SELECT 1")).await?;
    Ok(())
}
