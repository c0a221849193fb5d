//! Bulk insert batches sized to max_allowed_packet and the placeholder
//! limit, and a 16 MB blob round trip. Both raise the global
//! max_allowed_packet and restore it; they hold a lock so they do not
//! undo each other's setting.

mod support;

use covet_core::{Adapter, Statement, Value};
use support::{GLOBALS, TestDb, global_u64, server_url, set_global};

/// Raises the global max_allowed_packet to at least `at_least` while the
/// closure's adapter connects; connections keep the session value they
/// started with, so the global is restored right after.
async fn with_packet<F, Fut>(server: &covet_core::DatabaseUrl, at_least: u64, f: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let _g = GLOBALS.lock().await;
    let before = global_u64(server, "max_allowed_packet").await;
    if before < at_least {
        set_global(server, "max_allowed_packet", at_least).await;
    }
    f().await;
    if before < at_least {
        set_global(server, "max_allowed_packet", before).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_insert_spans_several_packets() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let big = 32 * 1024 * 1024;
    let mut adapter = None;
    with_packet(&server, big, || async {
        adapter = Some(
            db.adapter(&[("max_connections", "1"), ("min_connections", "1")])
                .await,
        );
        // The connection is opened while the raised value is in force.
        adapter
            .as_ref()
            .unwrap()
            .execute(&Statement::new("DO 1"))
            .await
            .unwrap();
    })
    .await;
    let a = adapter.unwrap();
    let packet = a
        .query(&Statement::new("SELECT @@SESSION.max_allowed_packet"))
        .await
        .unwrap()
        .rows[0]
        .get::<i64>(0)
        .unwrap();
    assert!(
        packet >= big as i64,
        "session max_allowed_packet is {packet}"
    );
    a.execute(&Statement::new(
        "CREATE TABLE b (id BIGINT PRIMARY KEY, payload MEDIUMBLOB NOT NULL, note VARCHAR(20))",
    ))
    .await
    .unwrap();
    // 12,000 rows of 4 KiB: about 48 MiB, more than one 32 MiB packet.
    let n = 12_000i64;
    let rows: Vec<Vec<Value>> = (0..n)
        .map(|i| {
            vec![
                Value::I64(i),
                Value::Bytes(vec![(i % 251) as u8; 4096]),
                if i % 7 == 0 {
                    Value::Null
                } else {
                    Value::Text(format!("n{i}"))
                },
            ]
        })
        .collect();
    let cols = ["id", "payload", "note"].map(String::from);
    let written = a.bulk_insert("b", &cols, rows.into()).await.unwrap();
    assert_eq!(written, n as u64);
    let r = a
        .query(&Statement::new(
            "SELECT COUNT(*), SUM(LENGTH(payload)), SUM(note IS NULL), \
             SUM(ORD(SUBSTRING(payload, 4096, 1)) = id % 251) FROM b",
        ))
        .await
        .unwrap();
    let row = &r.rows[0];
    assert_eq!(row.get::<i64>(0).unwrap(), n);
    assert_eq!(
        row.get::<covet_core::Decimal>(1).unwrap().as_str(),
        (n * 4096).to_string()
    );
    assert_eq!(
        row.get::<covet_core::Decimal>(2).unwrap().as_str(),
        ((n + 6) / 7).to_string()
    );
    assert_eq!(
        row.get::<covet_core::Decimal>(3).unwrap().as_str(),
        n.to_string()
    );

    // Many narrow rows: the 65,535-placeholder limit splits them.
    a.execute(&Statement::new(
        "CREATE TABLE narrow (a INT NOT NULL, b INT NOT NULL)",
    ))
    .await
    .unwrap();
    let rows: Vec<Vec<Value>> = (0..100_000)
        .map(|i| vec![Value::I32(i), Value::I32(-i)])
        .collect();
    let written = a
        .bulk_insert("narrow", &["a".into(), "b".into()], rows.into())
        .await
        .unwrap();
    assert_eq!(written, 100_000);

    // A failing batch rolls the whole load back.
    let rows = vec![
        vec![Value::I32(1), Value::I32(1)],
        vec![Value::I32(2), Value::Null],
    ];
    let e = a
        .bulk_insert("narrow", &["a".into(), "b".into()], rows.into())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), covet_core::ErrorKind::NotNullViolation, "{e:?}");
    let n = a
        .query(&Statement::new("SELECT COUNT(*) FROM narrow"))
        .await
        .unwrap()
        .rows[0]
        .get::<i64>(0)
        .unwrap();
    assert_eq!(n, 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blob_of_16_mib_round_trips() {
    let Some(server) = server_url() else { return };
    let db = TestDb::create(&server).await;
    let mut adapter = None;
    with_packet(&server, 64 * 1024 * 1024, || async {
        let a = db
            .adapter(&[("max_connections", "1"), ("min_connections", "1")])
            .await;
        a.execute(&Statement::new("DO 1")).await.unwrap();
        adapter = Some(a);
    })
    .await;
    let a = adapter.unwrap();
    a.execute(&Statement::new(
        "CREATE TABLE blobs (id INT PRIMARY KEY, data LONGBLOB)",
    ))
    .await
    .unwrap();
    let len = 16 * 1024 * 1024;
    let data: Vec<u8> = (0..len)
        .map(|i: usize| (i.wrapping_mul(31) % 251) as u8)
        .collect();
    a.execute(
        &Statement::new("INSERT INTO blobs VALUES ($1, $2)")
            .bind(1_i32)
            .bind(data.clone()),
    )
    .await
    .unwrap();
    let rows = a
        .query(&Statement::new("SELECT data FROM blobs WHERE id = 1"))
        .await
        .unwrap();
    let back = rows.rows[0].get::<Vec<u8>>(0).unwrap();
    assert_eq!(back.len(), len);
    assert!(back == data, "the blob changed");
}
