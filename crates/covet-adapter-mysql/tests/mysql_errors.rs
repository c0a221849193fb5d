//! Server errors classified into ErrorKind and RetryClass, with the MySQL
//! error number kept.

mod support;

use std::time::Duration;

use covet_core::{Adapter, ErrorKind, RetryClass, ServerCode, Statement};
use support::{TestDb, server_url};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraint_and_syntax_errors_are_classified() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[]).await;
    for sql in [
        "CREATE TABLE parent (id INT PRIMARY KEY, email VARCHAR(50) UNIQUE)",
        "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NOT NULL, n INT CHECK (n > 0), \
         FOREIGN KEY (parent_id) REFERENCES parent (id))",
        "INSERT INTO parent VALUES (1, 'a@example.com')",
        "INSERT INTO child VALUES (1, 1, 5)",
    ] {
        a.execute(&Statement::new(sql)).await.unwrap();
    }
    let cases: &[(&str, ErrorKind, u16)] = &[
        (
            "INSERT INTO parent VALUES (2, 'a@example.com')",
            ErrorKind::UniqueViolation,
            1062,
        ),
        (
            "INSERT INTO child VALUES (2, 99, 1)",
            ErrorKind::ForeignKeyViolation,
            1452,
        ),
        (
            "DELETE FROM parent WHERE id = 1",
            ErrorKind::ForeignKeyViolation,
            1451,
        ),
        (
            "INSERT INTO child (id, parent_id, n) VALUES (3, NULL, 1)",
            ErrorKind::NotNullViolation,
            1048,
        ),
        (
            "INSERT INTO child (id, n) VALUES (4, 1)",
            ErrorKind::NotNullViolation,
            1364,
        ),
        (
            "INSERT INTO child VALUES (5, 1, -1)",
            ErrorKind::CheckViolation,
            4025,
        ),
        ("SELEC 1", ErrorKind::Syntax, 1064),
        ("SELECT * FROM no_such_table", ErrorKind::Syntax, 1146),
        ("SELECT no_such_column FROM parent", ErrorKind::Syntax, 1054),
    ];
    for (sql, kind, code) in cases {
        let e = a.execute(&Statement::new(*sql)).await.unwrap_err();
        assert_eq!(e.kind(), *kind, "{sql}: {e:?}");
        assert_eq!(e.code(), Some(ServerCode::MySql(*code)), "{sql}: {e:?}");
        assert_eq!(e.retry_class(), RetryClass::Never, "{sql}");
    }
    // The duplicate value does not reach the message.
    let e = a
        .execute(
            &Statement::new("INSERT INTO parent VALUES (?, ?)")
                .bind(3_i32)
                .bind("a@example.com"),
        )
        .await
        .unwrap_err();
    assert!(!e.to_string().contains("a@example.com"), "{e}");
    // The pool's connections are still fine after all those errors.
    a.execute(&Statement::new("DO 1")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_wait_timeout_and_deadlock() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "3")]).await;
    a.execute(&Statement::new(
        "CREATE TABLE t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
    ))
    .await
    .unwrap();
    a.execute(&Statement::new("INSERT INTO t VALUES (1, 0), (2, 0)"))
        .await
        .unwrap();

    // Lock wait timeout: retry the statement.
    let mut holder = a.begin().await.unwrap();
    holder
        .execute(&Statement::new("UPDATE t SET v = 1 WHERE id = 1"))
        .await
        .unwrap();
    let mut waiter = a.begin().await.unwrap();
    waiter
        .execute(&Statement::new("SET SESSION innodb_lock_wait_timeout = 1"))
        .await
        .unwrap();
    let e = waiter
        .execute(&Statement::new("UPDATE t SET v = 2 WHERE id = 1"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LockTimeout, "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::RetryStatement);
    assert_eq!(e.code(), Some(ServerCode::MySql(1205)));
    waiter.rollback().await.unwrap();
    holder.rollback().await.unwrap();

    // Deadlock: each transaction holds one row and wants the other's.
    let mut t1 = a.begin().await.unwrap();
    let mut t2 = a.begin().await.unwrap();
    t1.execute(&Statement::new("UPDATE t SET v = 1 WHERE id = 1"))
        .await
        .unwrap();
    t2.execute(&Statement::new("UPDATE t SET v = 1 WHERE id = 2"))
        .await
        .unwrap();
    let first = tokio::spawn(async move {
        let r = t1
            .execute(&Statement::new("UPDATE t SET v = 2 WHERE id = 2"))
            .await;
        (r, t1)
    });
    // Let t1 start waiting on row 2 before t2 asks for row 1.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = t2
        .execute(&Statement::new("UPDATE t SET v = 2 WHERE id = 1"))
        .await;
    let (first_result, t1) = first.await.unwrap();
    let errors: Vec<_> = [first_result.err(), second.err()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(errors.len(), 1, "exactly one deadlock victim: {errors:?}");
    assert_eq!(errors[0].kind(), ErrorKind::Deadlock, "{:?}", errors[0]);
    assert_eq!(errors[0].retry_class(), RetryClass::RetryTransaction);
    assert_eq!(errors[0].code(), Some(ServerCode::MySql(1213)));
    drop(t1);
    drop(t2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_backs_off() {
    let Some(server) = server_url() else { return };
    // A user limited to one connection gets ER_TOO_MANY_USER_CONNECTIONS
    // (1203) for the second, which maps like 1040.
    let mut c = support::admin(&server).await;
    use mysql_async::prelude::Queryable;
    let user = format!("covet_lim_{:08x}", rand::random::<u32>());
    c.query_drop(format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1"
    ))
    .await
    .unwrap();
    let url: covet_core::DatabaseUrl = format!(
        "mysql://{user}:pw@{}:{}/?acquire_timeout=1s",
        server.host(),
        server.port()
    )
    .parse()
    .unwrap();
    let first = covet_adapter_mysql::MySqlAdapter::connect(&url)
        .await
        .unwrap();
    let mut tx = first.begin().await.unwrap();
    let e = covet_adapter_mysql::MySqlAdapter::connect(&url)
        .await
        .unwrap_err();
    tx.execute(&Statement::new("DO 1")).await.unwrap();
    drop(tx);
    first.close().await;
    let _ = c.query_drop(format!("DROP USER '{user}'@'%'")).await;
    let _ = c.disconnect().await;
    assert_eq!(e.kind(), ErrorKind::TooManyConnections, "{e:?}");
    assert_eq!(e.retry_class(), RetryClass::BackOff);
}
