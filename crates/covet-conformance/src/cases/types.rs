//! The type-mapping table: NULL in every type, round trips (proptest and
//! chosen extremes), 16 MB blobs, and values that do not fit.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use covet_core::{Adapter, Decimal, ErrorKind, Json, Result, Row, Value};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use uuid::Uuid;

use super::{adapter_of, exec, query};
use crate::util::{HEAVY, ensure, fail};
use crate::{Backend, MappedType};

/// One value of every mapped type.
#[derive(Debug, Clone)]
struct Sample {
    b: bool,
    i16: i16,
    i32: i32,
    i64: i64,
    f32: f32,
    f64: f64,
    decimal: String,
    text: String,
    bytes: Vec<u8>,
    date: NaiveDate,
    time: NaiveTime,
    ts: NaiveDateTime,
    tstz: DateTime<Utc>,
    uuid: Uuid,
    json: serde_json::Value,
}

impl Sample {
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            Value::Bool(self.b),
            Value::I16(self.i16),
            Value::I32(self.i32),
            Value::I64(self.i64),
            Value::F32(self.f32),
            Value::F64(self.f64),
            Value::Decimal(self.decimal.parse()?),
            Value::Text(self.text.clone()),
            Value::Bytes(self.bytes.clone()),
            Value::Date(self.date),
            Value::Time(self.time),
            Value::Timestamp(self.ts),
            Value::TimestampTz(self.tstz),
            Value::Uuid(self.uuid),
            Value::Json(Json(self.json.to_string())),
        ])
    }

    /// Compares a row read back with this sample; the error names the
    /// first column that differs.
    fn check(&self, row: &Row) -> Result<()> {
        fn same<T: PartialEq + std::fmt::Debug>(col: &str, want: &T, got: &T) -> Result<()> {
            if want == got {
                Ok(())
            } else {
                Err(fail(format!("{col}: wrote {want:?}, read back {got:?}")))
            }
        }
        same("c_bool", &self.b, &row.get::<bool>("c_bool")?)?;
        same("c_i16", &self.i16, &row.get::<i16>("c_i16")?)?;
        same("c_i32", &self.i32, &row.get::<i32>("c_i32")?)?;
        same("c_i64", &self.i64, &row.get::<i64>("c_i64")?)?;
        same("c_f32", &self.f32, &row.get::<f32>("c_f32")?)?;
        same("c_f64", &self.f64, &row.get::<f64>("c_f64")?)?;
        same(
            "c_decimal",
            &normalize_decimal(&self.decimal),
            &normalize_decimal(row.get::<Decimal>("c_decimal")?.as_str()),
        )?;
        same("c_text", &self.text, &row.get::<String>("c_text")?)?;
        let bytes = row.get::<Vec<u8>>("c_bytes")?;
        if bytes != self.bytes {
            return Err(fail(format!(
                "c_bytes: wrote {} bytes, read back {} different bytes",
                self.bytes.len(),
                bytes.len()
            )));
        }
        same("c_date", &self.date, &row.get::<NaiveDate>("c_date")?)?;
        same("c_time", &self.time, &row.get::<NaiveTime>("c_time")?)?;
        same(
            "c_timestamp",
            &self.ts,
            &row.get::<NaiveDateTime>("c_timestamp")?,
        )?;
        same(
            "c_timestamptz",
            &self.tstz,
            &row.get::<DateTime<Utc>>("c_timestamptz")?,
        )?;
        same("c_uuid", &self.uuid, &row.get::<Uuid>("c_uuid")?)?;
        let json = row.get::<Json>("c_json")?;
        let parsed: serde_json::Value = serde_json::from_str(&json.0)
            .map_err(|e| fail(format!("c_json: read back invalid JSON: {e}")))?;
        same("c_json", &self.json, &parsed)?;
        self.check_borrowed(row)
    }

    /// The same row through the borrowing accessors: text and bytes as
    /// slices of the row, and every column's borrowed view equal to its
    /// owned [`Value`].
    fn check_borrowed(&self, row: &Row) -> Result<()> {
        let text: &str = row.get("c_text")?;
        if text != self.text {
            return Err(fail(format!(
                "c_text as &str: wrote {:?}, read back {text:?}",
                self.text
            )));
        }
        let bytes: &[u8] = row.get("c_bytes")?;
        if bytes != self.bytes.as_slice() {
            return Err(fail("c_bytes as &[u8]: read back different bytes"));
        }
        let json: &str = row.get("c_json")?;
        let parsed: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| fail(format!("c_json as &str: invalid JSON: {e}")))?;
        if parsed != self.json {
            return Err(fail("c_json as &str: read back a different document"));
        }
        let owned = row.values()?;
        for (i, want) in owned.iter().enumerate() {
            let got = row.value_ref(i)?.to_owned_value();
            if &got != want {
                return Err(fail(format!(
                    "column {i}: the borrowed view reads {}, the owned value {}",
                    got.type_name(),
                    want.type_name()
                )));
            }
        }
        Ok(())
    }
}

/// `-007.5000` and `-7.5` are the same number; engines differ in how they
/// print scale.
fn normalize_decimal(s: &str) -> String {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let body = if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    };
    if neg && body != "0" {
        format!("-{body}")
    } else {
        body
    }
}

fn column_list() -> String {
    MappedType::ALL
        .iter()
        .map(|t| t.column_name())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn create_types_table(b: &impl Backend, a: &dyn Adapter) -> Result<()> {
    let cols = MappedType::ALL
        .iter()
        .map(|t| format!("{} {}", t.column_name(), b.column_type(*t)))
        .collect::<Vec<_>>()
        .join(", ");
    exec(
        a,
        &format!(
            "CREATE TABLE types (id {} NOT NULL PRIMARY KEY, {cols})",
            b.column_type(MappedType::I64)
        ),
        vec![],
    )
    .await?;
    Ok(())
}

fn insert_sql() -> String {
    let n = MappedType::ALL.len();
    let ph = (1..=n + 1)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("INSERT INTO types (id, {}) VALUES ({ph})", column_list())
}

async fn round_trip(a: &dyn Adapter, id: i64, sample: &Sample) -> Result<()> {
    let mut params = vec![Value::I64(id)];
    params.extend(sample.values()?);
    let r = exec(a, &insert_sql(), params).await?;
    ensure!(r.rows_affected == 1, "insert reported {}", r.rows_affected);
    let rows = query(
        a,
        &format!("SELECT {} FROM types WHERE id = $1", column_list()),
        vec![Value::I64(id)],
    )
    .await?;
    ensure!(rows.len() == 1, "{} rows for id {id}", rows.len());
    sample.check(&rows.rows[0])?;
    exec(a, "DELETE FROM types WHERE id = $1", vec![Value::I64(id)]).await?;
    Ok(())
}

fn date_strategy() -> impl Strategy<Value = NaiveDate> {
    let lo = NaiveDate::from_ymd_opt(1000, 1, 1).map_or(0, |d| d.num_days_from_ce());
    let hi = NaiveDate::from_ymd_opt(9999, 12, 31).map_or(0, |d| d.num_days_from_ce());
    (lo..=hi).prop_map(|d| NaiveDate::from_num_days_from_ce_opt(d).unwrap_or_default())
}

fn time_strategy() -> impl Strategy<Value = NaiveTime> {
    (0u32..86_400, 0u32..1_000_000).prop_map(|(s, us)| {
        NaiveTime::from_num_seconds_from_midnight_opt(s, us * 1000).unwrap_or_default()
    })
}

fn tstz_strategy() -> impl Strategy<Value = DateTime<Utc>> {
    // 1971-01-01 .. 2037-12-31, inside MySQL TIMESTAMP's range.
    (31_536_000_000_000i64..2_145_830_400_000_000)
        .prop_map(|us| DateTime::from_timestamp_micros(us).unwrap_or_default())
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "\\PC{0,40}",
        "[a-zA-Z0-9 '\"\\\\%_;]{0,40}",
        Just("Grüße, 世界! 🎉🦀 ǅ e\u{301} \u{202e}rtl".to_owned()),
    ]
}

fn json_strategy() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as J;
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::from),
        "\\PC{0,12}".prop_map(J::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
            prop::collection::btree_map("[a-z\u{e9}\u{4e16}]{0,6}", inner, 0..4)
                .prop_map(|m| J::Object(m.into_iter().collect())),
        ]
    })
}

fn decimal_strategy() -> impl Strategy<Value = String> {
    (any::<bool>(), any::<u64>(), "[0-9]{0,6}").prop_map(|(neg, int, frac)| {
        let sign = if neg { "-" } else { "" };
        if frac.is_empty() {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    })
}

fn sample_strategy() -> impl Strategy<Value = Sample> {
    use proptest::num::{f32 as pf32, f64 as pf64};
    let a = (
        any::<bool>(),
        any::<i16>(),
        any::<i32>(),
        any::<i64>(),
        pf32::POSITIVE | pf32::NEGATIVE | pf32::NORMAL | pf32::ZERO,
        pf64::POSITIVE | pf64::NEGATIVE | pf64::NORMAL | pf64::ZERO,
        decimal_strategy(),
        text_strategy(),
    );
    let b = (
        prop::collection::vec(any::<u8>(), 0..600),
        date_strategy(),
        time_strategy(),
        (date_strategy(), time_strategy()),
        tstz_strategy(),
        any::<[u8; 16]>(),
        json_strategy(),
    );
    (a, b).prop_map(
        |(
            (b, i16, i32, i64, f32, f64, decimal, text),
            (bytes, date, time, (d, t), tstz, u, json),
        )| {
            Sample {
                b,
                i16,
                i32,
                i64,
                f32,
                f64,
                decimal,
                text,
                bytes,
                date,
                time,
                ts: d.and_time(t),
                tstz,
                uuid: Uuid::from_bytes(u),
                json,
            }
        },
    )
}

/// How many generated rows the property case writes (kept modest so the
/// whole suite stays near a minute per backend).
pub(super) const ROUND_TRIP_CASES: u32 = 48;

/// Every column of a row of NULLs reads back as NULL, both raw and as
/// `Option<T>` of its mapped type.
pub async fn null_in_every_type<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    create_types_table(&*b, &*a).await?;
    let mut params = vec![Value::I64(1)];
    params.extend(std::iter::repeat_n(Value::Null, MappedType::ALL.len()));
    exec(&*a, &insert_sql(), params).await?;
    let rows = query(
        &*a,
        &format!("SELECT {} FROM types WHERE id = $1", column_list()),
        vec![Value::I64(1)],
    )
    .await?;
    ensure!(rows.len() == 1, "{} rows", rows.len());
    let row = &rows.rows[0];
    for (i, t) in MappedType::ALL.iter().enumerate() {
        ensure!(
            row.values()?[i].is_null(),
            "{} is not NULL",
            t.column_name()
        );
    }
    ensure!(row.get::<Option<bool>>("c_bool")?.is_none(), "bool");
    ensure!(row.get::<Option<i16>>("c_i16")?.is_none(), "i16");
    ensure!(row.get::<Option<i32>>("c_i32")?.is_none(), "i32");
    ensure!(row.get::<Option<i64>>("c_i64")?.is_none(), "i64");
    ensure!(row.get::<Option<f32>>("c_f32")?.is_none(), "f32");
    ensure!(row.get::<Option<f64>>("c_f64")?.is_none(), "f64");
    ensure!(
        row.get::<Option<Decimal>>("c_decimal")?.is_none(),
        "decimal"
    );
    ensure!(row.get::<Option<String>>("c_text")?.is_none(), "text");
    ensure!(row.get::<Option<Vec<u8>>>("c_bytes")?.is_none(), "bytes");
    ensure!(row.get::<Option<NaiveDate>>("c_date")?.is_none(), "date");
    ensure!(row.get::<Option<NaiveTime>>("c_time")?.is_none(), "time");
    ensure!(
        row.get::<Option<NaiveDateTime>>("c_timestamp")?.is_none(),
        "timestamp"
    );
    ensure!(
        row.get::<Option<DateTime<Utc>>>("c_timestamptz")?.is_none(),
        "timestamptz"
    );
    ensure!(row.get::<Option<Uuid>>("c_uuid")?.is_none(), "uuid");
    ensure!(row.get::<Option<Json>>("c_json")?.is_none(), "json");
    // NULL is not a value of the type: a non-optional read is a decode error.
    let e = row.get::<i64>("c_i64").err();
    ensure!(
        e.as_ref().map(covet_core::Error::kind) == Some(ErrorKind::Decode),
        "reading NULL as i64: {e:?}"
    );
    Ok(())
}

/// Proptest over every mapped type at once: whatever is written is read
/// back equal (decimals and JSON compared by value, not spelling).
pub async fn every_type_round_trips<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    create_types_table(&*b, &*a).await?;
    let handle = tokio::runtime::Handle::current();
    let next_id = Arc::new(AtomicI64::new(1));
    tokio::task::spawn_blocking(move || {
        let mut runner = TestRunner::new(Config {
            cases: ROUND_TRIP_CASES,
            max_shrink_iters: 200,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&sample_strategy(), |sample| {
                let id = next_id.fetch_add(1, Ordering::Relaxed);
                handle
                    .block_on(round_trip(&*a, id, &sample))
                    .map_err(|e| TestCaseError::fail(format!("{e}")))
            })
            .map_err(|e| fail(format!("round trip property failed: {e}")))
    })
    .await
    .map_err(|e| fail(format!("proptest task: {e}")))?
}

/// Chosen edge values: integer extremes, empty and non-ASCII strings,
/// float extremes, the ends of the date ranges, midnight and the last
/// microsecond of the day, the nil and max UUIDs, empty JSON containers.
pub async fn extreme_values_round_trip<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    create_types_table(&*b, &*a).await?;
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    let time = |h, m, s, us| NaiveTime::from_hms_micro_opt(h, m, s, us).unwrap_or_default();
    let lo = Sample {
        b: false,
        i16: i16::MIN,
        i32: i32::MIN,
        i64: i64::MIN,
        f32: f32::MIN,
        f64: f64::MIN,
        decimal: format!("-{}.999999", "9".repeat(24)),
        text: String::new(),
        bytes: Vec::new(),
        date: date(1000, 1, 1),
        time: time(0, 0, 0, 0),
        ts: date(1000, 1, 1).and_time(time(0, 0, 0, 0)),
        tstz: DateTime::from_timestamp_micros(31_536_000_000_000).unwrap_or_default(),
        uuid: Uuid::nil(),
        json: serde_json::json!({}),
    };
    let hi = Sample {
        b: true,
        i16: i16::MAX,
        i32: i32::MAX,
        i64: i64::MAX,
        f32: f32::MAX,
        f64: f64::MAX,
        decimal: format!("{}.000001", "9".repeat(24)),
        text: "日本語 テキスト 🦀 \u{10FFFF} \\ ' \" % _ ; -- /*".to_owned(),
        bytes: (0..=255u8).collect(),
        date: date(9999, 12, 31),
        time: time(23, 59, 59, 999_999),
        ts: date(9999, 12, 31).and_time(time(23, 59, 59, 999_999)),
        tstz: DateTime::from_timestamp_micros(2_145_830_399_999_999).unwrap_or_default(),
        uuid: Uuid::max(),
        json: serde_json::json!([[], {}, "ünïcødé", i64::MIN, i64::MAX, null, true]),
    };
    let small = Sample {
        i16: 0,
        i32: -1,
        i64: 0,
        f32: f32::MIN_POSITIVE,
        f64: -f64::MIN_POSITIVE,
        decimal: "0".to_owned(),
        text: " leading and trailing spaces ".to_owned(),
        bytes: vec![0],
        json: serde_json::json!({"nested": {"a": [1, 2, {"b": ""}]}}),
        ..hi.clone()
    };
    for (i, s) in [lo, hi, small].iter().enumerate() {
        round_trip(&*a, i as i64 + 1, s).await?;
    }
    Ok(())
}

/// A 16,000,000-byte blob is written and read back intact.
pub async fn blob_16mb_round_trips<B: Backend>(b: Arc<B>) -> Result<()> {
    let _heavy = HEAVY.lock().await;
    let a = adapter_of(&b);
    exec(
        &*a,
        &format!(
            "CREATE TABLE blobs (id {} NOT NULL PRIMARY KEY, data {})",
            b.column_type(MappedType::I64),
            b.column_type(MappedType::Bytes)
        ),
        vec![],
    )
    .await?;
    const LEN: usize = 16_000_000;
    let data: Vec<u8> = (0..LEN).map(|i| (i.wrapping_mul(31) % 251) as u8).collect();
    exec(
        &*a,
        "INSERT INTO blobs (id, data) VALUES ($1, $2)",
        vec![Value::I64(1), Value::Bytes(data.clone())],
    )
    .await?;
    let rows = query(
        &*a,
        "SELECT data FROM blobs WHERE id = $1",
        vec![Value::I64(1)],
    )
    .await?;
    ensure!(rows.len() == 1, "{} rows", rows.len());
    let back = rows.rows[0].get::<Vec<u8>>("data")?;
    ensure!(back.len() == LEN, "read back {} bytes", back.len());
    ensure!(back == data, "the blob's content changed");
    Ok(())
}

/// A value outside its column's range is a typed error: at write time on
/// strict engines, at read time (naming the declared type) on SQLite. A
/// typed read of the wrong Rust type names both types.
pub async fn value_that_does_not_fit_is_a_typed_error<B: Backend>(b: Arc<B>) -> Result<()> {
    let a = adapter_of(&b);
    let small_ty = b.column_type(MappedType::I16);
    exec(
        &*a,
        &format!(
            "CREATE TABLE narrow (id {} NOT NULL PRIMARY KEY, small {small_ty}, t {})",
            b.column_type(MappedType::I64),
            b.column_type(MappedType::Text)
        ),
        vec![],
    )
    .await?;
    exec(
        &*a,
        "INSERT INTO narrow (id, small, t) VALUES ($1, $2, $3)",
        vec![Value::I64(1), Value::I16(7), "seven".into()],
    )
    .await?;
    let write = exec(
        &*a,
        "INSERT INTO narrow (id, small, t) VALUES ($1, $2, $3)",
        vec![Value::I64(2), Value::I64(70_000), "big".into()],
    )
    .await;
    if b.capabilities().rejects_out_of_range {
        let e = write
            .err()
            .ok_or_else(|| fail("70000 into a 16-bit column was accepted"))?;
        ensure!(
            matches!(e.kind(), ErrorKind::Encode | ErrorKind::Database),
            "70000 into a 16-bit column: expected an encode/database error, got {e:?}"
        );
        ensure!(
            !e.message().contains("70000"),
            "the bound value leaked: {e}"
        );
    } else {
        write?;
        let read = query(
            &*a,
            "SELECT small FROM narrow WHERE id = $1",
            vec![Value::I64(2)],
        )
        .await;
        let e = read
            .err()
            .ok_or_else(|| fail("reading 70000 from a 16-bit column succeeded"))?;
        ensure!(e.kind() == ErrorKind::Decode, "expected decode, got {e:?}");
        let msg = e.message().to_ascii_lowercase();
        ensure!(
            msg.contains(&small_ty.to_ascii_lowercase()) && msg.contains("i16"),
            "the error should name the column type {small_ty} and i16: {e}"
        );
    }
    let rows = query(
        &*a,
        "SELECT small, t FROM narrow WHERE id = $1",
        vec![Value::I64(1)],
    )
    .await?;
    let row = &rows.rows[0];
    let e = row
        .get::<i64>("t")
        .err()
        .ok_or_else(|| fail("reading text as i64 succeeded"))?;
    ensure!(e.kind() == ErrorKind::Decode, "{e:?}");
    ensure!(
        e.message().contains("text") && e.message().contains("i64"),
        "the error should name both types: {e}"
    );
    let e = row
        .get::<Uuid>("small")
        .err()
        .ok_or_else(|| fail("reading an integer as Uuid succeeded"))?;
    ensure!(e.kind() == ErrorKind::Decode, "{e:?}");
    Ok(())
}
