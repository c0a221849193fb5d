//! Connecting: TLS per sslmode, one-line connection errors without the
//! password, unknown URL parameters.

mod support;

use covet_adapter_pg::{PgAdapter, PgConfig, SslMode};
use covet_core::{Adapter, DatabaseUrl, ErrorKind, RetryClass, Statement};
use support::pg_url;

async fn backend_uses_tls(a: &PgAdapter) -> bool {
    let rows = a
        .query(&Statement::new(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .unwrap();
    rows.rows[0].get::<bool>(0).unwrap()
}

#[tokio::test]
async fn sslmode_require_negotiates_tls_and_disable_does_not() {
    let Some(base) = pg_url("sslmode_require_negotiates_tls") else {
        return;
    };
    let a = PgAdapter::connect(&base.with_param("sslmode", "require"))
        .await
        .unwrap();
    assert!(backend_uses_tls(&a).await, "sslmode=require without TLS");
    let version = a.server_version().await.unwrap();
    assert!(
        version.starts_with(|c: char| c.is_ascii_digit()),
        "{version}"
    );
    a.close().await;

    let a = PgAdapter::connect(&base.with_param("sslmode", "disable"))
        .await
        .unwrap();
    assert!(!backend_uses_tls(&a).await, "sslmode=disable used TLS");
    a.close().await;
}

#[tokio::test]
async fn verify_full_checks_the_chain() {
    let Some(base) = pg_url("verify_full_checks_the_chain") else {
        return;
    };
    // The local server's certificate is self-signed: not in the web roots.
    let e = PgAdapter::connect(&base.with_param("sslmode", "verify-full"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
    assert!(!e.to_string().contains('\n'), "{e}");

    // Trusting the server's own certificate, under the name it carries.
    let Some(cert) = server_cert(&base).await else {
        eprintln!("the server certificate is not readable here; positive verify-full case skipped");
        return;
    };
    let cfg = PgConfig::from_url(&base)
        .unwrap()
        .host("localhost")
        .ssl_mode(SslMode::VerifyFull)
        .ssl_root_cert(&cert);
    match PgAdapter::connect_with(cfg).await {
        Ok(a) => {
            eprintln!("verify-full against {cert} as localhost: verified");
            assert!(backend_uses_tls(&a).await);
            a.close().await;
        }
        // A certificate issued for another name is the one acceptable
        // failure, and it must be reported as such.
        Err(e) => assert!(
            e.to_string().contains("certificate") || e.to_string().contains("Name"),
            "verify-full with the server's own certificate: {e}"
        ),
    }
}

/// The test server's certificate file, when this process can read it.
async fn server_cert(base: &DatabaseUrl) -> Option<String> {
    let admin = PgAdapter::connect(&base.with_param("sslmode", "disable"))
        .await
        .unwrap();
    let cert = admin
        .query(&Statement::new("SHOW ssl_cert_file"))
        .await
        .unwrap()
        .rows[0]
        .get::<String>(0)
        .unwrap();
    admin.close().await;
    let readable = std::fs::read_to_string(&cert).is_ok_and(|pem| pem.contains("BEGIN"));
    readable.then_some(cert)
}

#[tokio::test]
async fn verify_ca_checks_the_chain_but_not_the_host_name() {
    let Some(base) = pg_url("verify_ca_checks_the_chain_but_not_the_host_name") else {
        return;
    };
    // Self-signed, so not under the public web roots: refused.
    let e = PgAdapter::connect(&base.with_param("sslmode", "verify-ca"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::Never, "{e:?}");

    let Some(cert) = server_cert(&base).await else {
        eprintln!("the server certificate is not readable here; positive verify-ca case skipped");
        return;
    };
    // Trusting the server's own certificate, reached under a name it does
    // not carry: verify-ca accepts it, verify-full does not.
    let by_ip = PgConfig::from_url(&base)
        .unwrap()
        .host("127.0.0.1")
        .ssl_root_cert(&cert);
    let a = PgAdapter::connect_with(by_ip.clone().ssl_mode(SslMode::VerifyCa))
        .await
        .unwrap();
    assert!(backend_uses_tls(&a).await, "verify-ca without TLS");
    a.close().await;
    let e = PgAdapter::connect_with(by_ip.ssl_mode(SslMode::VerifyFull))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
}

#[tokio::test]
async fn connection_errors_are_one_line_without_the_password() {
    let Some(base) = pg_url("connection_errors_are_one_line") else {
        return;
    };
    // Nothing listens on port 1.
    let url: DatabaseUrl = "postgres://app:s3cr3t-pw@127.0.0.1:1/db?connect_timeout=2s"
        .parse()
        .unwrap();
    let e = PgAdapter::connect(&url).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains("s3cr3t-pw"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");

    let missing = PgAdapter::connect(&base.with_database("covet_no_such_database"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Config, "{missing:?}");
    assert!(
        missing.to_string().contains("covet_no_such_database"),
        "{missing}"
    );
    assert!(!missing.to_string().contains('\n'));

    let no_role: DatabaseUrl = format!(
        "postgres://covet_no_such_role:pw@{}:{}/{}",
        base.host(),
        base.port(),
        base.database().unwrap_or("postgres")
    )
    .parse()
    .unwrap();
    let e = PgAdapter::connect(&no_role).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e:?}");
    assert!(!e.to_string().contains('\n'));
}

#[tokio::test]
async fn unknown_url_parameters_are_refused() {
    let url: DatabaseUrl = "postgres://127.0.0.1/db?statement_cache=5".parse().unwrap();
    let e = PgAdapter::connect(&url).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("statement_cache"), "{e}");
}

/// A local port where nothing listens: bound by us, then released.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A local port where something that is not PostgreSQL answers (an HTTP
/// server refusing everything), for as long as the runtime runs.
async fn not_postgres_port() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    port
}

#[tokio::test]
async fn connect_errors_keep_their_cause() {
    let refused: DatabaseUrl = format!(
        "postgres://app:pw-s3cr3t@127.0.0.1:{}/db?connect_timeout=3s",
        free_port()
    )
    .parse()
    .unwrap();
    let e = PgAdapter::connect(&refused).await.unwrap_err();
    eprintln!("refused: {e}");
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::Reconnect);
    assert!(e.message().contains("connection refused"), "{e}");
    assert!(
        e.message()
            .contains(&format!("127.0.0.1:{}", refused.port())),
        "{e}"
    );

    let unknown: DatabaseUrl =
        "postgres://app:pw-s3cr3t@nonexistent.invalid:5432/db?connect_timeout=5s"
            .parse()
            .unwrap();
    let e = PgAdapter::connect(&unknown).await.unwrap_err();
    eprintln!("unknown host: {e}");
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
    assert!(
        e.message().contains("unknown host") || e.message().contains("lookup failed"),
        "{e}"
    );
    assert!(e.message().contains("nonexistent.invalid"), "{e}");

    let port = not_postgres_port().await;
    let wrong_service: DatabaseUrl =
        format!("postgres://app:pw-s3cr3t@127.0.0.1:{port}/db?connect_timeout=3s&sslmode=disable")
            .parse()
            .unwrap();
    let e = PgAdapter::connect(&wrong_service).await.unwrap_err();
    eprintln!("not PostgreSQL: {e}");
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
    assert!(e.message().contains("PostgreSQL's protocol"), "{e}");
    assert!(e.message().contains(&format!(":{port}")), "{e}");

    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains("pw-s3cr3t"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Whatever the password, no connect error shows it (nor its
    /// percent-encoded form): refused here, so no server is needed.
    #[test]
    fn connect_errors_never_show_the_password(pw in "[ -~]{10,30}|\\PC{10,20}") {
        let port = free_port();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let e = rt.block_on(async {
            let cfg = PgConfig::default()
                .host("127.0.0.1")
                .port(port)
                .user("app")
                .password(pw.clone())
                .database("db");
            PgAdapter::connect_with(cfg).await.unwrap_err()
        });
        let encoded: String = pw
            .bytes()
            .map(|b| format!("%{b:02X}"))
            .collect();
        for text in [e.to_string(), format!("{e:?}")] {
            proptest::prop_assert!(!text.contains(pw.as_str()), "{}", text);
            proptest::prop_assert!(!text.contains(&encoded), "{}", text);
        }
    }
}
