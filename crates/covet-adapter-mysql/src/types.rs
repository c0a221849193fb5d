//! Values between covet_core and the MySQL wire protocol.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use covet_core::{
    Column, Columns, Decimal, Error, ErrorKind, Json, RawRow, Result, Value, ValueRef,
};
use mysql_async::Value as My;
use mysql_async::consts::{ColumnFlags, ColumnType};

/// The binary charset number: columns in it hold bytes, not text.
const BINARY_CHARSET: u16 = 63;

/// How the values of one result column are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    I16,
    I32,
    I64,
    U64,
    F32,
    F64,
    Decimal,
    Text,
    Bytes,
    Json,
    Date,
    Time,
    DateTime,
    Timestamp,
    Bit,
    Null,
}

/// A result's shape: the shared column metadata and how to read each.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) columns: Arc<Columns>,
    kinds: Arc<[Kind]>,
}

impl Plan {
    pub(crate) fn new(cols: &[mysql_async::Column]) -> Plan {
        let mut meta = Vec::with_capacity(cols.len());
        let mut kinds = Vec::with_capacity(cols.len());
        for c in cols {
            let (kind, type_name) = classify(c);
            kinds.push(kind);
            meta.push(Column::new(c.name_str().into_owned(), type_name));
        }
        Plan {
            columns: Columns::new(meta),
            kinds: kinds.into(),
        }
    }

    /// Wraps one row; its columns decode when read.
    pub(crate) fn row(&self, row: mysql_async::Row) -> covet_core::Row {
        covet_core::Row::from_raw(
            self.columns.clone(),
            MyRow {
                values: row.unwrap(),
                kinds: self.kinds.clone(),
            },
        )
    }
}

/// A row as mysql_async received it, with how to read each column.
struct MyRow {
    values: Vec<My>,
    kinds: Arc<[Kind]>,
}

impl RawRow for MyRow {
    fn len(&self) -> usize {
        self.values.len()
    }

    fn value_ref(&self, idx: usize) -> Result<ValueRef<'_>> {
        let kind = self.kinds.get(idx).copied().unwrap_or(Kind::Bytes);
        decode(kind, &self.values[idx]).map_err(|detail| Error::new(ErrorKind::Decode, detail))
    }
}

fn classify(c: &mysql_async::Column) -> (Kind, &'static str) {
    let unsigned = c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let binary = c.character_set() == BINARY_CHARSET;
    match c.column_type() {
        ColumnType::MYSQL_TYPE_TINY if c.column_length() == 1 => (Kind::Bool, "TINYINT(1)"),
        ColumnType::MYSQL_TYPE_TINY => (Kind::I16, "TINYINT"),
        ColumnType::MYSQL_TYPE_SHORT if unsigned => (Kind::I32, "SMALLINT UNSIGNED"),
        ColumnType::MYSQL_TYPE_SHORT => (Kind::I16, "SMALLINT"),
        ColumnType::MYSQL_TYPE_INT24 => (Kind::I32, "MEDIUMINT"),
        ColumnType::MYSQL_TYPE_LONG if unsigned => (Kind::I64, "INT UNSIGNED"),
        ColumnType::MYSQL_TYPE_LONG => (Kind::I32, "INT"),
        ColumnType::MYSQL_TYPE_LONGLONG if unsigned => (Kind::U64, "BIGINT UNSIGNED"),
        ColumnType::MYSQL_TYPE_LONGLONG => (Kind::I64, "BIGINT"),
        ColumnType::MYSQL_TYPE_YEAR => (Kind::I16, "YEAR"),
        ColumnType::MYSQL_TYPE_FLOAT => (Kind::F32, "FLOAT"),
        ColumnType::MYSQL_TYPE_DOUBLE => (Kind::F64, "DOUBLE"),
        ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
            (Kind::Decimal, "DECIMAL")
        }
        ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => (Kind::Date, "DATE"),
        ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => (Kind::Time, "TIME"),
        ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_DATETIME2 => {
            (Kind::DateTime, "DATETIME")
        }
        ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2 => {
            (Kind::Timestamp, "TIMESTAMP")
        }
        ColumnType::MYSQL_TYPE_JSON => (Kind::Json, "JSON"),
        ColumnType::MYSQL_TYPE_BIT => (Kind::Bit, "BIT"),
        ColumnType::MYSQL_TYPE_NULL => (Kind::Null, "NULL"),
        ColumnType::MYSQL_TYPE_ENUM => (Kind::Text, "ENUM"),
        ColumnType::MYSQL_TYPE_SET => (Kind::Text, "SET"),
        ColumnType::MYSQL_TYPE_TINY_BLOB
        | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
        | ColumnType::MYSQL_TYPE_LONG_BLOB
        | ColumnType::MYSQL_TYPE_BLOB => {
            if binary {
                (Kind::Bytes, "BLOB")
            } else {
                (Kind::Text, "TEXT")
            }
        }
        ColumnType::MYSQL_TYPE_VARCHAR | ColumnType::MYSQL_TYPE_VAR_STRING => {
            if binary {
                (Kind::Bytes, "VARBINARY")
            } else {
                (Kind::Text, "VARCHAR")
            }
        }
        ColumnType::MYSQL_TYPE_STRING => {
            if binary {
                (Kind::Bytes, "BINARY")
            } else {
                (Kind::Text, "CHAR")
            }
        }
        ColumnType::MYSQL_TYPE_GEOMETRY => (Kind::Bytes, "GEOMETRY"),
        _ if binary => (Kind::Bytes, "BINARY"),
        _ => (Kind::Text, "TEXT"),
    }
}

fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| "the server sent text that is not UTF-8".to_owned())
}

fn parse<T: std::str::FromStr>(bytes: &[u8], what: &str) -> Result<T, String> {
    text(bytes)?
        .trim()
        .parse()
        .map_err(|_| format!("the server sent an unreadable {what}"))
}

/// Reads one value; the error is a detail naming both types, completed with
/// the column by the caller.
fn decode(kind: Kind, v: &My) -> Result<ValueRef<'_>, String> {
    if matches!(v, My::NULL) {
        return Ok(ValueRef::Null);
    }
    Ok(match kind {
        Kind::Null => ValueRef::Null,
        Kind::Bool => match int(v)? {
            0 => ValueRef::Bool(false),
            1 => ValueRef::Bool(true),
            // TINYINT(1) can hold -128..=127; keep other values exact.
            n => ValueRef::I16(i16::try_from(n).map_err(|_| out_of_range("TINYINT", "i16"))?),
        },
        Kind::I16 => {
            ValueRef::I16(i16::try_from(int(v)?).map_err(|_| out_of_range("SMALLINT", "i16"))?)
        }
        Kind::I32 => ValueRef::I32(i32::try_from(int(v)?).map_err(|_| out_of_range("INT", "i32"))?),
        Kind::I64 => {
            ValueRef::I64(i64::try_from(int(v)?).map_err(|_| out_of_range("BIGINT", "i64"))?)
        }
        Kind::U64 => {
            let n = int(v)?;
            match i64::try_from(n) {
                Ok(n) => ValueRef::I64(n),
                // Above i64::MAX: keep it exact as a decimal.
                Err(_) => ValueRef::Decimal(Cow::Owned(n.to_string())),
            }
        }
        Kind::F32 => match v {
            My::Float(f) => ValueRef::F32(*f),
            #[allow(clippy::cast_possible_truncation)]
            My::Double(d) => ValueRef::F32(*d as f32),
            My::Bytes(b) => ValueRef::F32(parse(b, "FLOAT")?),
            other => return Err(unexpected(other, "FLOAT")),
        },
        Kind::F64 => match v {
            My::Double(d) => ValueRef::F64(*d),
            My::Float(f) => ValueRef::F64(f64::from(*f)),
            My::Bytes(b) => ValueRef::F64(parse(b, "DOUBLE")?),
            other => return Err(unexpected(other, "DOUBLE")),
        },
        Kind::Decimal => match v {
            My::Bytes(b) => {
                let s = text(b)?;
                if !Decimal::is_canonical(s) {
                    return Err("the server sent an unreadable DECIMAL".to_owned());
                }
                ValueRef::Decimal(Cow::Borrowed(s))
            }
            other => return Err(unexpected(other, "DECIMAL")),
        },
        Kind::Text => match v {
            My::Bytes(b) => ValueRef::Text(
                std::str::from_utf8(b)
                    .map_err(|_| "text that is not UTF-8 cannot be read as text".to_owned())?,
            ),
            other => return Err(unexpected(other, "text")),
        },
        Kind::Json => match v {
            My::Bytes(b) => ValueRef::Json(
                std::str::from_utf8(b).map_err(|_| "JSON that is not UTF-8".to_owned())?,
            ),
            other => return Err(unexpected(other, "JSON")),
        },
        Kind::Bytes => match v {
            My::Bytes(b) => ValueRef::Bytes(b),
            other => return Err(unexpected(other, "bytes")),
        },
        Kind::Bit => match v {
            My::Bytes(b) if b.len() <= 8 => {
                let n = b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x));
                ValueRef::I64(i64::try_from(n).map_err(|_| out_of_range("BIT(64)", "i64"))?)
            }
            My::Int(n) => ValueRef::I64(*n),
            other => return Err(unexpected(other, "BIT")),
        },
        Kind::Date => ValueRef::Date(date_of(v, "DATE")?.date()),
        Kind::DateTime => ValueRef::Timestamp(date_of(v, "DATETIME")?),
        Kind::Timestamp => ValueRef::TimestampTz(date_of(v, "TIMESTAMP")?.and_utc()),
        Kind::Time => ValueRef::Time(time_of(v)?),
    })
}

fn out_of_range(column: &str, rust: &str) -> String {
    format!("a {column} value out of the range of {rust}")
}

fn unexpected(v: &My, what: &str) -> String {
    let found = match v {
        My::NULL => "NULL",
        My::Bytes(_) => "bytes",
        My::Int(_) => "integer",
        My::UInt(_) => "unsigned integer",
        My::Float(_) => "float",
        My::Double(_) => "double",
        My::Date(..) => "datetime",
        My::Time(..) => "time",
    };
    format!("the server sent a {found} value for a {what} column")
}

fn int(v: &My) -> Result<i128, String> {
    match v {
        My::Int(n) => Ok(i128::from(*n)),
        My::UInt(n) => Ok(i128::from(*n)),
        My::Bytes(b) => parse(b, "integer"),
        other => Err(unexpected(other, "integer")),
    }
}

fn date_of(v: &My, what: &str) -> Result<NaiveDateTime, String> {
    let (y, mo, d, h, mi, s, us) = match *v {
        My::Date(y, mo, d, h, mi, s, us) => (y, mo, d, h, mi, s, us),
        My::Bytes(ref b) => return parse_text_datetime(text(b)?, what),
        ref other => return Err(unexpected(other, what)),
    };
    let date =
        NaiveDate::from_ymd_opt(i32::from(y), u32::from(mo), u32::from(d)).ok_or_else(|| {
            format!("the zero or partial {what} {y:04}-{mo:02}-{d:02} does not fit a chrono date")
        })?;
    let time = NaiveTime::from_hms_micro_opt(u32::from(h), u32::from(mi), u32::from(s), us)
        .ok_or_else(|| format!("the server sent an invalid {what} time of day"))?;
    Ok(date.and_time(time))
}

fn parse_text_datetime(s: &str, what: &str) -> Result<NaiveDateTime, String> {
    let s = s.trim();
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f") {
        return Ok(dt);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN));
    }
    Err(format!(
        "the {what} `{s}` does not fit a chrono date (zero dates are not valid)"
    ))
}

fn time_of(v: &My) -> Result<NaiveTime, String> {
    let range = "a TIME outside 00:00:00..23:59:59.999999 does not fit NaiveTime";
    match *v {
        My::Time(neg, days, h, m, s, us) => {
            if neg || days > 0 {
                return Err(range.to_owned());
            }
            NaiveTime::from_hms_micro_opt(u32::from(h), u32::from(m), u32::from(s), us)
                .ok_or_else(|| range.to_owned())
        }
        My::Bytes(ref b) => {
            NaiveTime::parse_from_str(text(b)?.trim(), "%H:%M:%S%.f").map_err(|_| range.to_owned())
        }
        ref other => Err(unexpected(other, "TIME")),
    }
}

/// Converts a bound value for the wire.
pub(crate) fn encode(v: &Value) -> Result<My> {
    Ok(match v {
        Value::Null => My::NULL,
        Value::Bool(b) => My::Int(i64::from(*b)),
        Value::I16(n) => My::Int(i64::from(*n)),
        Value::I32(n) => My::Int(i64::from(*n)),
        Value::I64(n) => My::Int(*n),
        Value::F32(f) => My::Float(*f),
        Value::F64(f) => My::Double(*f),
        Value::Decimal(d) => My::Bytes(d.as_str().as_bytes().to_vec()),
        Value::Text(s) => My::Bytes(s.as_bytes().to_vec()),
        Value::Bytes(b) => My::Bytes(b.clone()),
        Value::Date(d) => {
            let (y, m, d) = ymd(d)?;
            My::Date(y, m, d, 0, 0, 0, 0)
        }
        Value::Time(t) => {
            let (h, m, s, us) = hmsu(t);
            My::Time(false, 0, h, m, s, us)
        }
        Value::Timestamp(ts) => datetime(ts)?,
        Value::TimestampTz(ts) => datetime(&ts.naive_utc())?,
        Value::Uuid(u) => My::Bytes(u.hyphenated().to_string().into_bytes()),
        Value::Json(Json(j)) => My::Bytes(j.as_bytes().to_vec()),
        other => {
            return Err(Error::new(
                ErrorKind::Encode,
                format!(
                    "the MySQL adapter cannot bind a {} value",
                    other.type_name()
                ),
            ));
        }
    })
}

fn ymd(d: &NaiveDate) -> Result<(u16, u8, u8)> {
    let y = u16::try_from(d.year())
        .ok()
        .filter(|y| *y <= 9999)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Encode,
                "a date/timestamp value outside years 0..=9999 does not fit MySQL DATE/DATETIME",
            )
        })?;
    #[allow(clippy::cast_possible_truncation)]
    Ok((y, d.month() as u8, d.day() as u8))
}

#[allow(clippy::cast_possible_truncation)]
fn hmsu(t: &NaiveTime) -> (u8, u8, u8, u32) {
    // chrono keeps a leap second as nanoseconds >= 1e9; MySQL has none.
    let us = (t.nanosecond() / 1000).min(999_999);
    (t.hour() as u8, t.minute() as u8, t.second() as u8, us)
}

fn datetime(ts: &NaiveDateTime) -> Result<My> {
    let (y, m, d) = ymd(&ts.date())?;
    let (h, mi, s, us) = hmsu(&ts.time());
    Ok(My::Date(y, m, d, h, mi, s, us))
}

/// Converts a statement's parameters, applying the `$n` order when given.
pub(crate) fn encode_params(params: &[Value], order: Option<&[usize]>) -> Result<Vec<My>> {
    match order {
        Some(order) => order
            .iter()
            .map(|&i| {
                params.get(i).map_or_else(
                    || {
                        Err(Error::new(
                            ErrorKind::Encode,
                            format!(
                                "the SQL uses ${} but only {} values were bound",
                                i + 1,
                                params.len()
                            ),
                        ))
                    },
                    encode,
                )
            })
            .collect(),
        None => params.iter().map(encode).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Takes the value by value so the cases read as before; it is test-only.
    #[allow(clippy::needless_pass_by_value)]
    fn decode(kind: Kind, v: My) -> Result<Value, String> {
        super::decode(kind, &v).map(|v| v.to_owned_value())
    }

    #[test]
    fn text_protocol_values_decode() {
        assert_eq!(
            decode(Kind::I32, My::Bytes(b"-5".to_vec())),
            Ok(Value::I32(-5))
        );
        assert_eq!(decode(Kind::Bool, My::Int(1)), Ok(Value::Bool(true)));
        assert_eq!(
            decode(
                Kind::DateTime,
                My::Bytes(b"2024-05-17 12:30:00.250000".to_vec())
            ),
            Ok(Value::Timestamp(
                NaiveDate::from_ymd_opt(2024, 5, 17)
                    .unwrap()
                    .and_hms_micro_opt(12, 30, 0, 250_000)
                    .unwrap()
            ))
        );
        assert_eq!(
            decode(Kind::U64, My::UInt(u64::MAX)),
            Ok(Value::Decimal("18446744073709551615".parse().unwrap()))
        );
    }

    #[test]
    fn out_of_range_names_both_types() {
        let e = decode(Kind::I16, My::Int(70_000)).unwrap_err();
        assert!(e.contains("SMALLINT") && e.contains("i16"), "{e}");
        let e = decode(Kind::Time, My::Time(false, 2, 0, 0, 0, 0)).unwrap_err();
        assert!(e.contains("TIME") && e.contains("NaiveTime"), "{e}");
        let e = decode(Kind::Date, My::Date(0, 0, 0, 0, 0, 0, 0)).unwrap_err();
        assert!(e.contains("DATE"), "{e}");
    }

    #[test]
    fn encode_respects_order_and_ranges() {
        let p = [Value::I64(1), Value::from("a")];
        let out = encode_params(&p, Some(&[1, 0, 1])).unwrap();
        assert_eq!(
            out,
            vec![
                My::Bytes(b"a".to_vec()),
                My::Int(1),
                My::Bytes(b"a".to_vec())
            ]
        );
        assert_eq!(
            encode_params(&p, Some(&[2])).unwrap_err().kind(),
            ErrorKind::Encode
        );
        let far = NaiveDate::from_ymd_opt(12_000, 1, 1).unwrap();
        assert_eq!(
            encode(&Value::Date(far)).unwrap_err().kind(),
            ErrorKind::Encode
        );
    }
}
