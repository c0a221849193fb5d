//! Connecting: bad URLs, refused connections, wrong passwords, unknown
//! databases, TLS modes, and a connection killed mid-use.

mod support;

use std::time::Duration;

use covet_adapter_mysql::{MySqlAdapter, MySqlConfig, SslMode};
use covet_core::{Adapter, DatabaseUrl, ErrorKind, RetryClass, Statement};
use mysql_async::prelude::Queryable;
use support::{TestDb, admin, server_url};

fn one_line(e: &covet_core::Error) {
    let s = e.to_string();
    assert!(!s.contains('\n'), "multi-line error: {s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_fail_before_connecting() {
    for url in [
        "mysql://root@127.0.0.1:1/test?sslmod=require",
        "mysql://root@127.0.0.1:1/test?sslmode=maybe",
        "mysql://root@127.0.0.1:1/test?max_connections=0",
        "mysql://root@127.0.0.1:1/test?statement_cache_capacity=lots",
    ] {
        let url: DatabaseUrl = url.parse().unwrap();
        let e = MySqlAdapter::connect(&url).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config, "{url}: {e:?}");
        one_line(&e);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_is_one_line() {
    // Port 1 on localhost: nothing listens there.
    let url: DatabaseUrl = "mysql://root:hunter2@127.0.0.1:1/test?connect_timeout=3s"
        .parse()
        .unwrap();
    let e = MySqlAdapter::connect(&url).await.unwrap_err();
    eprintln!("refused: {e}");
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
    assert!(e.message().contains("connection refused"), "{e}");
    one_line(&e);
    let s = format!("{e} {e:?}");
    assert!(s.contains("127.0.0.1:1"), "{s}");
    assert!(!s.contains("hunter2"), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_database() {
    let Some(server) = server_url() else { return };
    let mut c = admin(&server).await;
    let user = format!("covet_u_{:08x}", rand::random::<u32>());
    c.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pw'"))
        .await
        .unwrap();
    let wrong: DatabaseUrl = format!(
        "mysql://{user}:wrong-pw-s3cret@{}:{}/test",
        server.host(),
        server.port()
    )
    .parse()
    .unwrap();
    let e = MySqlAdapter::connect(&wrong).await.unwrap_err();
    eprintln!("wrong password: {e}");
    let _ = c.query_drop(format!("DROP USER '{user}'@'%'")).await;
    let _ = c.disconnect().await;
    assert_eq!(e.kind(), ErrorKind::Auth, "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::Never);
    one_line(&e);
    let s = format!("{e} {e:?}");
    assert!(!s.contains("wrong-pw-s3cret"), "{s}");
    assert!(s.contains(&user), "{s}");

    let missing = server.with_database("covet_no_such_db_here");
    let e = MySqlAdapter::connect(&missing).await.unwrap_err();
    eprintln!("unknown database: {e}");
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
    assert!(e.message().contains("covet_no_such_db_here"), "{e}");
    one_line(&e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_modes_against_a_server_without_tls() {
    let Some(server) = server_url() else { return };
    // The local MariaDB has no TLS: require must fail clearly, as the
    // configuration mismatch it is (the same kind PostgreSQL reports)...
    let e = MySqlAdapter::connect(&server.with_param("sslmode", "require"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::Never);
    assert!(e.message().contains("TLS"), "{e}");
    eprintln!("sslmode=require: {e}");
    one_line(&e);
    // ...and so must verify-full.
    let e = MySqlAdapter::connect(&server.with_param("sslmode", "verify-full"))
        .await
        .unwrap_err();
    assert!(e.message().contains("TLS"), "{e}");
    // A CA file that is not there is a configuration error.
    let e = MySqlAdapter::connect(
        &server
            .with_param("sslmode", "verify-full")
            .with_param("sslrootcert", "/nonexistent/ca.pem"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e:?}");
    assert!(e.message().contains("/nonexistent/ca.pem"), "{e}");
    // prefer falls back to a plain connection; disable never tries TLS
    // (in libpq's spelling and in MySQL's).
    for mode in ["prefer", "disable", "PREFERRED", "disabled"] {
        let a = MySqlAdapter::connect(&server.with_param("sslmode", mode))
            .await
            .unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        a.ping().await.unwrap();
        a.execute(&Statement::new("DO 1")).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_a_config_built_from_default() {
    let Some(server) = server_url() else { return };
    let mut config = MySqlConfig::default()
        .host(server.host())
        .port(server.port())
        .ssl_mode(SslMode::Disabled)
        .statement_cache_capacity(4)
        .max_connections(2);
    if let Some(user) = server.user() {
        config = config.user(user);
    }
    if let Some(password) = server.password() {
        config = config.password(password.expose());
    }
    assert_eq!(config.pool().max_connections, 2);
    let a = MySqlAdapter::connect_with(config).await.unwrap();
    a.ping().await.unwrap();
    assert_eq!(a.pool().state().size, 1, "{a:?}");
    {
        let conn = a.connection().await.unwrap();
        assert!(conn.connection_id() > 0);
        let state = a.pool_state().unwrap();
        assert_eq!((state.size, state.in_use, state.idle), (1, 1, 0));
    }
    let state = a.pool_state().unwrap();
    assert_eq!((state.size, state.in_use, state.idle), (1, 0, 1));
    a.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_name_is_a_connection_attribute() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("application_name", "covet-test-app")]).await;
    // performance_schema may be off; then the attribute cannot be read
    // back, and the connect itself is what is tested.
    let on = a
        .query(&Statement::new("SELECT @@performance_schema"))
        .await
        .unwrap()
        .rows[0]
        .get::<i64>(0)
        .unwrap();
    if on == 1 {
        let rows = a
            .query(&Statement::new(
                "SELECT ATTR_VALUE FROM performance_schema.session_connect_attrs \
                 WHERE PROCESSLIST_ID = CONNECTION_ID() AND ATTR_NAME = 'program_name'",
            ))
            .await
            .unwrap();
        assert_eq!(rows.rows[0].get::<String>(0).unwrap(), "covet-test-app");
    } else {
        eprintln!("performance_schema is off: program_name not read back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connection_is_a_connection_error_and_is_replaced() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "1")]).await;
    let id = a
        .query(&Statement::new("SELECT CONNECTION_ID()"))
        .await
        .unwrap()
        .rows[0]
        .get::<i64>(0)
        .unwrap();
    // Kill the session while a statement runs on it.
    let mut c = admin(&server).await;
    let a2 = a.clone();
    let running = tokio::spawn(async move { a2.query(&Statement::new("SELECT SLEEP(20)")).await });
    assert!(
        support::eventually(Duration::from_secs(5), || async {
            support::running(&server, "SLEEP(20)").await == 1
        })
        .await
    );
    c.query_drop(format!("KILL CONNECTION {id}")).await.unwrap();
    let e = running.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::Reconnect);
    // The pool replaced the dead connection.
    let new_id = a
        .query(&Statement::new("SELECT CONNECTION_ID()"))
        .await
        .unwrap()
        .rows[0]
        .get::<i64>(0)
        .unwrap();
    assert_ne!(new_id, id);

    // An idle pooled connection killed between uses: the next call either
    // fails with a connection error or (if the pool's validation caught it)
    // succeeds, and the one after that succeeds.
    c.query_drop(format!("KILL CONNECTION {new_id}"))
        .await
        .unwrap();
    match a.execute(&Statement::new("DO 1")).await {
        Ok(_) => {}
        Err(e) => assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}"),
    }
    a.execute(&Statement::new("DO 1")).await.unwrap();
    let _ = c.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_on_a_lost_connection_is_ambiguous() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "1")]).await;
    a.execute(&Statement::new("CREATE TABLE t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let mut tx = a.begin().await.unwrap();
    tx.execute(&Statement::new("INSERT INTO t VALUES (1)"))
        .await
        .unwrap();
    let id = tx
        .query(&Statement::new("SELECT CONNECTION_ID()"))
        .await
        .unwrap()
        .rows[0]
        .get::<i64>(0)
        .unwrap();
    let mut c = admin(&server).await;
    c.query_drop(format!("KILL CONNECTION {id}")).await.unwrap();
    let _ = c.disconnect().await;
    let e = tx.commit().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Connection, "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::Ambiguous);
    // The server rolled the transaction back with the session.
    let n = a
        .query(&Statement::new("SELECT COUNT(*) FROM t"))
        .await
        .unwrap()
        .rows[0]
        .get::<i64>(0)
        .unwrap();
    assert_eq!(n, 0);
}
