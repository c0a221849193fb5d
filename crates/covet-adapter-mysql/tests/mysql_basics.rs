//! Statements, placeholders, the type mapping and schema introspection
//! against the real server.

mod support;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use covet_core::{Adapter, Decimal, ErrorKind, Json, Statement, Value};
use futures_util::StreamExt;
use support::{TestDb, server_url};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_query_and_placeholders() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "2")]).await;
    a.execute(&Statement::new(
        "CREATE TABLE t (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, n INT)",
    ))
    .await
    .unwrap();
    let r = a
        .execute(
            &Statement::new("INSERT INTO t (name, n) VALUES ($1, $2)")
                .bind("a")
                .bind(1_i32),
        )
        .await
        .unwrap();
    assert_eq!(r.rows_affected, 1);
    assert_eq!(r.last_insert_id, Some(1));
    // `?` placeholders pass through as they are.
    let r = a
        .execute(
            &Statement::new("INSERT INTO t (name, n) VALUES (?, ?)")
                .bind("b")
                .bind(2_i32),
        )
        .await
        .unwrap();
    assert_eq!(r.last_insert_id, Some(2));
    // `$n` may repeat and come in any order.
    let rows = a
        .query(
            &Statement::new("SELECT name FROM t WHERE n = $2 OR name = $1 OR n = $2 ORDER BY id")
                .bind("a")
                .bind(2_i32),
        )
        .await
        .unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.get::<String>("name").unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let r = a
        .execute(&Statement::new("UPDATE t SET n = n + 10"))
        .await
        .unwrap();
    assert_eq!(r.rows_affected, 2);
    assert_eq!(r.last_insert_id, None);
    // An empty result still has its columns.
    let rows = a
        .query(&Statement::new("SELECT id, name FROM t WHERE id < 0"))
        .await
        .unwrap();
    assert!(rows.is_empty());
    assert_eq!(rows.columns.len(), 2);
    // Too few values for the placeholders is an encode error, not a panic.
    let e = a
        .query(&Statement::new("SELECT $2").bind(1_i64))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Encode, "{e:?}");
    a.ping().await.unwrap();
    let v = a.server_version().await.unwrap();
    assert!(v.chars().next().is_some_and(|c| c.is_ascii_digit()), "{v}");
    assert!(a.pool_state().is_some());
    a.close().await;
    let e = a.ping().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_mapping_round_trips() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[]).await;
    a.execute(&Statement::new(
        "CREATE TABLE ty (id INT PRIMARY KEY, b BOOLEAN, s SMALLINT, i INT, l BIGINT, \
         f FLOAT, d DOUBLE, dec_ DECIMAL(30,6), t LONGTEXT, v VARCHAR(20), by_ LONGBLOB, vb VARBINARY(10), \
         da DATE, ti TIME(6), dt DATETIME(6), ts TIMESTAMP(6) NULL, u UUID, uc CHAR(36), j JSON, \
         ub BIGINT UNSIGNED, y YEAR)",
    ))
    .await
    .unwrap();
    let date = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let time = NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap();
    let dt = date.and_time(time);
    let tz: DateTime<Utc> = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
    let u = Uuid::from_u128(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff);
    a.execute(
        &Statement::new(
            "INSERT INTO ty VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21)",
        )
        .with_params(vec![
            Value::I32(1),
            Value::Bool(true),
            Value::I16(-32768),
            Value::I32(i32::MAX),
            Value::I64(i64::MIN),
            Value::F32(1.5e-3),
            Value::F64(std::f64::consts::PI),
            Value::Decimal("-123456789012345678901234.000001".parse().unwrap()),
            Value::from("Grüße 🦀"),
            Value::from(""),
            Value::Bytes(vec![0, 255, 7]),
            Value::Bytes(vec![]),
            Value::Date(date),
            Value::Time(time),
            Value::Timestamp(dt),
            Value::TimestampTz(tz),
            Value::Uuid(u),
            Value::Uuid(u),
            Value::Json(Json(r#"{"a": [1, null]}"#.into())),
            Value::Text(u64::MAX.to_string()),
            Value::I16(2024),
        ]),
    )
    .await
    .unwrap();
    let rows = a
        .query(&Statement::new("SELECT * FROM ty WHERE id = ?").bind(1_i32))
        .await
        .unwrap();
    let r = &rows.rows[0];
    assert!(r.get::<bool>("b").unwrap());
    assert_eq!(r.value("b").unwrap(), &Value::Bool(true));
    assert_eq!(r.get::<i16>("s").unwrap(), -32768);
    assert_eq!(r.get::<i32>("i").unwrap(), i32::MAX);
    assert_eq!(r.get::<i64>("l").unwrap(), i64::MIN);
    assert_eq!(r.get::<f32>("f").unwrap(), 1.5e-3);
    assert_eq!(r.get::<f64>("d").unwrap(), std::f64::consts::PI);
    assert_eq!(
        r.get::<Decimal>("dec_").unwrap().as_str(),
        "-123456789012345678901234.000001"
    );
    assert_eq!(r.get::<String>("t").unwrap(), "Grüße 🦀");
    assert_eq!(r.get::<String>("v").unwrap(), "");
    assert_eq!(r.get::<Vec<u8>>("by_").unwrap(), vec![0, 255, 7]);
    assert_eq!(r.get::<Vec<u8>>("vb").unwrap(), Vec::<u8>::new());
    assert_eq!(r.get::<NaiveDate>("da").unwrap(), date);
    assert_eq!(r.get::<NaiveTime>("ti").unwrap(), time);
    assert_eq!(r.get::<chrono::NaiveDateTime>("dt").unwrap(), dt);
    assert_eq!(r.get::<DateTime<Utc>>("ts").unwrap(), tz);
    assert_eq!(r.get::<Uuid>("u").unwrap(), u);
    assert_eq!(r.get::<Uuid>("uc").unwrap(), u);
    let j = r.get::<Json>("j").unwrap();
    assert!(j.0.contains("\"a\""), "{}", j.0);
    assert_eq!(
        r.get::<Decimal>("ub").unwrap().as_str(),
        u64::MAX.to_string()
    );
    assert_eq!(r.get::<i16>("y").unwrap(), 2024);

    // NULL in every column.
    let n = 20;
    let params = std::iter::once(Value::I32(2))
        .chain(std::iter::repeat_n(Value::Null, n))
        .collect();
    a.execute(
        &Statement::new(format!("INSERT INTO ty VALUES (?{})", ",?".repeat(n))).with_params(params),
    )
    .await
    .unwrap();
    let rows = a
        .query(&Statement::new("SELECT * FROM ty WHERE id = 2"))
        .await
        .unwrap();
    assert!(
        rows.rows[0].values().unwrap()[1..]
            .iter()
            .all(Value::is_null)
    );

    // A TIME outside a time of day is a decode error naming both types,
    // when the column is read (rows decode lazily), typed or owned alike.
    let rows = a
        .query(&Statement::new("SELECT CAST('25:00:00' AS TIME) AS late"))
        .await
        .unwrap();
    assert!(rows.rows[0].values().is_err());
    let e = rows.rows[0].get::<chrono::NaiveTime>("late").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Decode);
    assert!(
        e.message().contains("TIME") && e.message().contains("NaiveTime"),
        "{e}"
    );

    // Out of range into SMALLINT: the server refuses (strict mode) and the
    // error names the column and the bound type, not the value.
    let e = a
        .execute(&Statement::new("UPDATE ty SET s = ? WHERE id = 1").bind(70_000_i64))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Encode, "{e:?}");
    assert!(
        e.message().contains("'s'") && e.message().contains("i64"),
        "{e}"
    );
    assert!(!e.message().contains("70000"), "{e}");
    // Text too long for VARCHAR(20) is refused, not truncated.
    let e = a
        .execute(&Statement::new("UPDATE ty SET v = ? WHERE id = 1").bind("x".repeat(21)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Encode, "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_that_cannot_be_prepared_still_run() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[]).await;
    a.execute(&Statement::new("CREATE TABLE t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    // LOCK TABLES is not supported by MariaDB's prepared-statement protocol.
    a.execute(&Statement::new("HELP 'nothing-at-all'"))
        .await
        .unwrap();
    let rows = a.query(&Statement::new("SHOW TABLES")).await.unwrap();
    assert_eq!(rows.len(), 1);
    let mut s = a
        .query_stream(&Statement::new("SHOW VARIABLES LIKE 'max_allowed_packet'"))
        .await
        .unwrap();
    let row = s.next().await.unwrap().unwrap();
    assert_eq!(row.get::<String>(0).unwrap(), "max_allowed_packet");
    assert!(s.next().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_introspection() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[]).await;
    for sql in [
        "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE, \
         age INT NOT NULL DEFAULT 18, nick VARCHAR(20) NULL, INDEX users_age (age))",
        "CREATE TABLE posts (id BIGINT AUTO_INCREMENT PRIMARY KEY, user_id BIGINT NOT NULL, \
         title VARCHAR(200) NOT NULL DEFAULT 'untitled', \
         CONSTRAINT posts_user FOREIGN KEY (user_id) REFERENCES users (id))",
        "CREATE TABLE pt (a INT NOT NULL, b INT NOT NULL, PRIMARY KEY (a, b))",
    ] {
        a.execute(&Statement::new(sql)).await.unwrap();
    }
    let s = a.schema().await.unwrap();
    let names: Vec<&str> = s.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["posts", "pt", "users"]);
    let users = s.table("users").unwrap();
    assert_eq!(users.primary_key, ["id"]);
    let id = users.column("id").unwrap();
    assert!(id.auto_increment && !id.nullable);
    assert_eq!(id.data_type, "bigint(20)");
    let age = users.column("age").unwrap();
    assert_eq!(age.default.as_deref(), Some("18"));
    let nick = users.column("nick").unwrap();
    assert!(nick.nullable);
    assert_eq!(nick.default, None);
    assert!(
        users
            .indexes
            .iter()
            .any(|i| i.name == "users_age" && !i.unique && i.columns == ["age"])
    );
    assert!(
        users
            .indexes
            .iter()
            .any(|i| i.unique && i.columns == ["email"])
    );
    let posts = s.table("posts").unwrap();
    assert_eq!(posts.foreign_keys.len(), 1);
    let fk = &posts.foreign_keys[0];
    assert_eq!(fk.name, "posts_user");
    assert_eq!(fk.columns, ["user_id"]);
    assert_eq!(fk.referenced_table, "users");
    assert_eq!(fk.referenced_columns, ["id"]);
    assert_eq!(s.table("pt").unwrap().primary_key, ["a", "b"]);
}

async fn prepares(a: &impl Adapter) -> i64 {
    let rows = a
        .query(&Statement::new(
            "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS \
             WHERE VARIABLE_NAME = 'COM_STMT_PREPARE'",
        ))
        .await
        .unwrap();
    rows.rows[0].get::<String>(0).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_are_cached_per_connection() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    // Cached (the default, 100): ten runs of one statement prepare it once.
    // Uncached: every run prepares, and so does each status query.
    for (size, expected) in [(None, 1), (Some("0"), 11)] {
        let mut params = vec![("max_connections", "1")];
        if let Some(size) = size {
            params.push(("statement_cache_capacity", size));
        }
        let a = db.adapter(&params).await;
        let before = prepares(&a).await;
        for i in 0..10_i64 {
            let rows = a
                .query(&Statement::new("SELECT $1 + 1").bind(i))
                .await
                .unwrap();
            assert_eq!(rows.rows[0].get::<i64>(0).unwrap(), i + 1);
        }
        let after = prepares(&a).await;
        assert_eq!(
            after - before,
            expected,
            "statement_cache_capacity={size:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_metadata_is_reused_until_the_table_changes() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db.adapter(&[("max_connections", "1")]).await;
    a.execute(&Statement::new(
        "CREATE TABLE t (id INT PRIMARY KEY, a INT)",
    ))
    .await
    .unwrap();
    a.execute(&Statement::new("INSERT INTO t VALUES (1, 2)"))
        .await
        .unwrap();
    let q = || Statement::new("SELECT * FROM t WHERE id = $1").bind(1_i32);
    let r1 = a.query(&q()).await.unwrap();
    let r2 = a.query(&q()).await.unwrap();
    assert_eq!(r1.columns.len(), 2);
    // MariaDB skips resending the metadata of a cached statement; the
    // adapter then shares one column list between calls.
    assert!(std::sync::Arc::ptr_eq(&r1.columns, &r2.columns));
    a.execute(&Statement::new(
        "ALTER TABLE t ADD COLUMN b VARCHAR(10) DEFAULT 'x'",
    ))
    .await
    .unwrap();
    let r3 = a.query(&q()).await.unwrap();
    assert_eq!(r3.columns.len(), 3, "{:?}", r3.columns);
    assert_eq!(r3.rows[0].get::<String>("b").unwrap(), "x");
}

/// A long statement without parameters (a restore's multi-row INSERT) goes
/// over the text protocol: it is not prepared, so the driver's statement
/// cache never keeps its text. Prepared, a 1 GB MariaDB restore peaked at
/// 472 MB of such texts. Short statements are still prepared (and cached).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_statements_without_parameters_are_not_prepared() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let a = db
        .adapter(&[("max_connections", "1"), ("min_connections", "1")])
        .await;
    a.execute(&Statement::new(
        "CREATE TABLE big (id INT PRIMARY KEY, s LONGTEXT)",
    ))
    .await
    .unwrap();
    let prepares = || async {
        let rows = a
            .query(&Statement::new(
                "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'",
            ))
            .await
            .unwrap();
        rows.rows[0]
            .get::<String>("Value")
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    // The first call prepares the SHOW itself; later ones reuse it.
    prepares().await;
    let before = prepares().await;
    for id in 0..3 {
        let sql = format!("INSERT INTO big VALUES ({id}, '{}')", "x".repeat(100_000));
        a.execute(&Statement::new(sql)).await.unwrap();
    }
    assert_eq!(prepares().await, before, "a long INSERT was prepared");
    a.execute(&Statement::new("INSERT INTO big VALUES (9, 'short')"))
        .await
        .unwrap();
    assert_eq!(
        prepares().await,
        before + 1,
        "a short statement is prepared"
    );
    let n = a
        .query(&Statement::new(
            "SELECT COUNT(*) AS n, SUM(LENGTH(s)) AS len FROM big",
        ))
        .await
        .unwrap();
    assert_eq!(n.rows[0].get::<i64>("n").unwrap(), 4);
}
