//! PostgreSQL type mapping against the real server: exact round trips,
//! NUMERIC exactness, and typed errors that name both types.

mod support;

use chrono::{DateTime, NaiveDate, NaiveTime};
use covet_adapter_pg::PgAdapter;
use covet_core::{Adapter, Decimal, ErrorKind, Json, Result, Statement, Value};
use support::{Scratch, pg_url};

async fn with_scratch<F, Fut>(test: &str, f: F)
where
    F: FnOnce(PgAdapter) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let Some(base) = pg_url(test) else { return };
    let scratch = Scratch::new(&base, "types").await.expect("scratch schema");
    let a = PgAdapter::connect(&scratch.url.with_param("max_connections", "2"))
        .await
        .expect("connect");
    let r = f(a.clone()).await;
    a.close().await;
    scratch.drop_schema().await;
    r.unwrap();
}

#[tokio::test]
async fn every_type_round_trips_through_a_table() {
    with_scratch("every_type_round_trips_through_a_table", |a| async move {
        a.execute(&Statement::new(
            "CREATE TABLE t (b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f4 REAL, \
             f8 DOUBLE PRECISION, n NUMERIC, s TEXT, v VARCHAR(20), by BYTEA, d DATE, \
             tm TIME, ts TIMESTAMP, tz TIMESTAMPTZ, u UUID, j JSON, jb JSONB)",
        ))
        .await?;
        let values = vec![
            Value::Bool(true),
            Value::I16(i16::MIN),
            Value::I32(i32::MAX),
            Value::I64(i64::MIN),
            Value::F32(1.5e-30),
            Value::F64(-2.2250738585072014e-308),
            Value::Decimal("-123456789012345678901234567890.000000000000000000001".parse()?),
            Value::Text("héllo ✓ 'quoted' \\ \u{1F600}".into()),
            Value::Text(String::new()),
            Value::Bytes(vec![0, 1, 255, 0, 10]),
            Value::Date(NaiveDate::from_ymd_opt(1, 1, 1).unwrap()),
            Value::Time(NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap()),
            Value::Timestamp(
                NaiveDate::from_ymd_opt(1999, 12, 31)
                    .unwrap()
                    .and_hms_micro_opt(23, 59, 59, 123_456)
                    .unwrap(),
            ),
            Value::TimestampTz(DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap()),
            Value::Uuid(uuid::Uuid::from_u128(
                0x0123_4567_89ab_cdef_0123_4567_89ab_cdef,
            )),
            Value::Json(Json(r#"{"a": [1, 2]}"#.into())),
            Value::Json(Json(r#"{"a": [1, 2]}"#.into())),
        ];
        let placeholders: Vec<String> = (1..=values.len()).map(|i| format!("${i}")).collect();
        a.execute(
            &Statement::new(format!(
                "INSERT INTO t VALUES ({})",
                placeholders.join(", ")
            ))
            .with_params(values.clone()),
        )
        .await?;
        let nulls = vec![Value::Null; values.len()];
        a.execute(
            &Statement::new(format!(
                "INSERT INTO t VALUES ({})",
                placeholders.join(", ")
            ))
            .with_params(nulls),
        )
        .await?;
        let rows = a
            .query(&Statement::new("SELECT * FROM t ORDER BY b NULLS LAST"))
            .await?;
        assert_eq!(rows.len(), 2);
        let got = rows.rows[0].values()?;
        for (i, (want, got)) in values.iter().zip(got).enumerate() {
            if i == 16 {
                // jsonb normalises spacing.
                assert_eq!(got, &Value::Json(Json(r#"{"a": [1, 2]}"#.into())));
            } else {
                assert_eq!(want, got, "column {i}");
            }
        }
        assert!(rows.rows[1].values()?.iter().all(Value::is_null));
        let cols: Vec<&str> = rows.columns.iter().map(|c| c.type_name.as_str()).collect();
        assert_eq!(&cols[..4], &["bool", "int2", "int4", "int8"]);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn numeric_is_exact_both_ways() {
    with_scratch("numeric_is_exact_both_ways", |a| async move {
        for s in [
            "0",
            "0.000001",
            "-0.5",
            "99999999999999999999999999999999999999.99999999999999999999",
            "100000000",
            "1.10",
        ] {
            let d: Decimal = s.parse()?;
            let rows = a
                .query(&Statement::new("SELECT $1::numeric, ($1::numeric)::text").bind(d.clone()))
                .await?;
            assert_eq!(rows.rows[0].get::<Decimal>(0)?, d, "{s}");
            assert_eq!(rows.rows[0].get::<String>(1)?, s, "{s} as text");
        }
        // Server-side arithmetic comes back exactly.
        let rows = a
            .query(&Statement::new("SELECT 0.1::numeric + 0.2::numeric"))
            .await?;
        assert_eq!(rows.rows[0].get::<Decimal>(0)?.as_str(), "0.3");
        // NaN has no Decimal: the query succeeds and reading the column
        // (typed or owned) is the decode error.
        let rows = a.query(&Statement::new("SELECT 'NaN'::numeric")).await?;
        let e = rows.rows[0].get::<Decimal>(0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(e.message().contains("NaN"), "{e}");
        assert!(rows.rows[0].values().is_err());
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn mismatches_are_typed_errors_naming_both_types() {
    with_scratch("mismatches_are_typed_errors", |a| async move {
        a.execute(&Statement::new("CREATE TABLE n (small SMALLINT, d DATE)"))
            .await?;
        let e = a
            .execute(&Statement::new("INSERT INTO n (small) VALUES ($1)").bind(70_000_i64))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Encode, "{e:?}");
        assert!(
            e.message().contains("i64") && e.message().contains("int2"),
            "{e}"
        );
        assert!(!e.message().contains("70000"), "value leaked: {e}");
        let e = a
            .execute(&Statement::new("INSERT INTO n (d) VALUES ($1)").bind("2024-01-01"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Encode);
        assert!(
            e.message().contains("text") && e.message().contains("date"),
            "{e}"
        );
        // An unmapped type fails when its column is read, not before: a
        // caller that only counts rows never meets it.
        let rows = a.query(&Statement::new("SELECT interval '1 day'")).await?;
        assert_eq!(rows.len(), 1);
        let e = rows.rows[0].get::<covet_core::Value>(0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(e.message().contains("interval"), "{e}");
        let e = a
            .query(&Statement::new("SELECT $1::int"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Encode, "missing parameter: {e:?}");
        // Widening and in-range narrowing work.
        a.execute(&Statement::new("INSERT INTO n (small) VALUES ($1)").bind(7_i64))
            .await?;
        let rows = a.query(&Statement::new("SELECT small FROM n")).await?;
        assert_eq!(rows.rows[0].get::<i64>(0)?, 7);
        Ok(())
    })
    .await;
}
