//! The type-mapping table: covet `Value`s to SQLite storage classes and
//! back, guided by each column's declared type.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use covet_core::{Decimal, Error, Json, Value};
use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use uuid::Uuid;

pub(crate) const DATE_FORMAT: &str = "%Y-%m-%d";
pub(crate) const TIME_FORMAT: &str = "%H:%M:%S%.6f";
pub(crate) const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";
pub(crate) const TIMESTAMPTZ_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f+00:00";

/// A bound parameter. Text and blobs are lent to SQLite without a copy.
pub(crate) struct Param<'a>(pub(crate) &'a Value);

impl ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use ToSqlOutput::{Borrowed, Owned};
        Ok(match self.0 {
            Value::Null => Owned(SqlValue::Null),
            Value::Bool(b) => Owned(SqlValue::Integer(i64::from(*b))),
            Value::I16(v) => Owned(SqlValue::Integer(i64::from(*v))),
            Value::I32(v) => Owned(SqlValue::Integer(i64::from(*v))),
            Value::I64(v) => Owned(SqlValue::Integer(*v)),
            Value::F32(v) => Owned(SqlValue::Real(f64::from(*v))),
            Value::F64(v) => Owned(SqlValue::Real(*v)),
            Value::Decimal(d) => Borrowed(ValueRef::Text(d.as_str().as_bytes())),
            Value::Text(s) => Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bytes(b) => Borrowed(ValueRef::Blob(b)),
            Value::Date(d) => Owned(SqlValue::Text(d.format(DATE_FORMAT).to_string())),
            Value::Time(t) => Owned(SqlValue::Text(t.format(TIME_FORMAT).to_string())),
            Value::Timestamp(t) => Owned(SqlValue::Text(t.format(TIMESTAMP_FORMAT).to_string())),
            Value::TimestampTz(t) => {
                Owned(SqlValue::Text(t.format(TIMESTAMPTZ_FORMAT).to_string()))
            }
            Value::Uuid(u) => Owned(SqlValue::Text(u.hyphenated().to_string())),
            Value::Json(j) => Borrowed(ValueRef::Text(j.0.as_bytes())),
            other => {
                return Err(rusqlite::Error::ToSqlConversionFailure(Box::new(
                    Error::unsupported(format!(
                        "the SQLite adapter cannot bind a {} value",
                        other.type_name()
                    )),
                )));
            }
        })
    }
}

/// What a column's declared type asks values to be read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No declared type (an expression): by storage class.
    Any,
    Bool,
    I16,
    I32,
    I64,
    Float,
    Decimal,
    Text,
    Bytes,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Uuid,
    Json,
}

impl Kind {
    /// Maps a declared type (`VARCHAR(100)`, `BOOLEAN`, `DECIMAL TEXT`) to a
    /// kind. The rules are checked in order; the first match wins.
    pub(crate) fn of(decl: Option<&str>) -> Kind {
        let Some(decl) = decl else { return Kind::Any };
        let d = decl.trim().to_ascii_lowercase();
        let base = d.split(['(', ' ']).next().unwrap_or("");
        if d.is_empty() {
            Kind::Any
        } else if d.contains("bool") {
            Kind::Bool
        } else if d.contains("timestamptz")
            || d.contains("with time zone")
            || d.contains("datetimetz")
        {
            Kind::TimestampTz
        } else if d.contains("timestamp") || d.contains("datetime") {
            Kind::Timestamp
        } else if base == "date" {
            Kind::Date
        } else if base == "time" {
            Kind::Time
        } else if d.contains("uuid") || d.contains("guid") {
            Kind::Uuid
        } else if d.contains("json") {
            Kind::Json
        } else if d.contains("dec") || d.contains("numeric") || d.contains("money") {
            Kind::Decimal
        } else if d.contains("int") {
            match base {
                "smallint" | "int2" | "tinyint" => Kind::I16,
                "int" | "int4" | "mediumint" => Kind::I32,
                _ => Kind::I64,
            }
        } else if d.contains("char") || d.contains("clob") || d.contains("text") {
            Kind::Text
        } else if d.contains("blob") || d.contains("bytea") || d.contains("binary") {
            Kind::Bytes
        } else if d.contains("real") || d.contains("floa") || d.contains("doub") {
            Kind::Float
        } else {
            Kind::Any
        }
    }

    fn rust_name(self) -> &'static str {
        match self {
            Kind::Any => "a value",
            Kind::Bool => "bool",
            Kind::I16 => "i16",
            Kind::I32 => "i32",
            Kind::I64 => "i64",
            Kind::Float => "f64",
            Kind::Decimal => "decimal",
            Kind::Text => "text",
            Kind::Bytes => "bytes",
            Kind::Date => "date",
            Kind::Time => "time",
            Kind::Timestamp => "timestamp",
            Kind::TimestampTz => "timestamptz",
            Kind::Uuid => "uuid",
            Kind::Json => "json",
        }
    }
}

/// One result column: its name, declared type and read kind.
#[derive(Debug, Clone)]
pub(crate) struct ColumnDecoder {
    pub(crate) name: String,
    pub(crate) decl: String,
    pub(crate) kind: Kind,
}

fn storage_class(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "NULL",
        ValueRef::Integer(_) => "INTEGER",
        ValueRef::Real(_) => "REAL",
        ValueRef::Text(_) => "TEXT",
        ValueRef::Blob(_) => "BLOB",
    }
}

impl ColumnDecoder {
    /// An error naming the column, its declared type and the Rust type.
    /// Values themselves are never included: rows may hold personal data.
    fn error(&self, what: &str) -> Error {
        Error::decode(format!(
            "column `{}` ({}): {what} for {}",
            self.name,
            if self.decl.is_empty() {
                "no declared type"
            } else {
                &self.decl
            },
            self.kind.rust_name()
        ))
    }

    fn mismatch(&self, v: ValueRef<'_>) -> Error {
        self.error(&format!(
            "holds a {} value, which is not valid",
            storage_class(v)
        ))
    }

    fn text<'v>(&self, bytes: &'v [u8]) -> Result<&'v str, Error> {
        std::str::from_utf8(bytes).map_err(|_| self.error("holds TEXT that is not valid UTF-8"))
    }

    /// Reads one value by the column's declared type.
    pub(crate) fn decode(&self, v: ValueRef<'_>) -> Result<Value, Error> {
        if let ValueRef::Null = v {
            return Ok(Value::Null);
        }
        match (self.kind, v) {
            (Kind::Any, ValueRef::Integer(i)) | (Kind::I64, ValueRef::Integer(i)) => {
                Ok(Value::I64(i))
            }
            (Kind::Any, ValueRef::Real(f)) | (Kind::Float, ValueRef::Real(f)) => Ok(Value::F64(f)),
            (Kind::Any, ValueRef::Text(t)) | (Kind::Text, ValueRef::Text(t)) => {
                Ok(Value::Text(self.text(t)?.to_owned()))
            }
            (Kind::Any, ValueRef::Blob(b)) | (Kind::Bytes, ValueRef::Blob(b)) => {
                Ok(Value::Bytes(b.to_vec()))
            }
            (Kind::Bool, ValueRef::Integer(0)) => Ok(Value::Bool(false)),
            (Kind::Bool, ValueRef::Integer(1)) => Ok(Value::Bool(true)),
            (Kind::Bool, ValueRef::Integer(_)) => {
                Err(self.error("holds an integer other than 0 or 1"))
            }
            (Kind::I16, ValueRef::Integer(i)) => i16::try_from(i)
                .map(Value::I16)
                .map_err(|_| self.error("holds an integer out of range")),
            (Kind::I32, ValueRef::Integer(i)) => i32::try_from(i)
                .map(Value::I32)
                .map_err(|_| self.error("holds an integer out of range")),
            #[allow(clippy::cast_precision_loss)]
            (Kind::Float, ValueRef::Integer(i)) => Ok(Value::F64(i as f64)),
            (Kind::Decimal, ValueRef::Text(t)) => self
                .text(t)?
                .trim()
                .parse::<Decimal>()
                .map(Value::Decimal)
                .map_err(|_| self.error("holds TEXT that is not a decimal number")),
            (Kind::Decimal, ValueRef::Integer(i)) => Ok(Value::Decimal(
                i.to_string()
                    .parse()
                    .map_err(|_| self.error("holds an unreadable integer"))?,
            )),
            (Kind::Decimal, ValueRef::Real(f)) => format!("{f}")
                .parse::<Decimal>()
                .map(Value::Decimal)
                .map_err(|_| self.error("holds a REAL that is not a finite number")),
            (Kind::Text, ValueRef::Integer(i)) => Ok(Value::Text(i.to_string())),
            (Kind::Text, ValueRef::Real(f)) => Ok(Value::Text(f.to_string())),
            (Kind::Bytes, ValueRef::Text(t)) => Ok(Value::Bytes(t.to_vec())),
            (Kind::Date, ValueRef::Text(t)) => {
                NaiveDate::parse_from_str(self.text(t)?.trim(), DATE_FORMAT)
                    .map(Value::Date)
                    .map_err(|_| self.error("holds TEXT that is not a YYYY-MM-DD date"))
            }
            (Kind::Time, ValueRef::Text(t)) => parse_time(self.text(t)?)
                .map(Value::Time)
                .ok_or_else(|| self.error("holds TEXT that is not an HH:MM[:SS[.ffffff]] time")),
            (Kind::Timestamp, ValueRef::Text(t)) => parse_timestamp(self.text(t)?)
                .map(Value::Timestamp)
                .ok_or_else(|| self.error("holds TEXT that is not a timestamp")),
            (Kind::Timestamp, ValueRef::Integer(secs)) => DateTime::from_timestamp(secs, 0)
                .map(|t| Value::Timestamp(t.naive_utc()))
                .ok_or_else(|| self.error("holds unix seconds out of range")),
            (Kind::TimestampTz, ValueRef::Text(t)) => parse_timestamptz(self.text(t)?)
                .map(Value::TimestampTz)
                .ok_or_else(|| self.error("holds TEXT that is not a timestamp with time zone")),
            (Kind::TimestampTz, ValueRef::Integer(secs)) => DateTime::from_timestamp(secs, 0)
                .map(Value::TimestampTz)
                .ok_or_else(|| self.error("holds unix seconds out of range")),
            (Kind::Uuid, ValueRef::Text(t)) => Uuid::parse_str(self.text(t)?.trim())
                .map(Value::Uuid)
                .map_err(|_| self.error("holds TEXT that is not a UUID")),
            (Kind::Uuid, ValueRef::Blob(b)) => Uuid::from_slice(b)
                .map(Value::Uuid)
                .map_err(|_| self.error("holds a BLOB that is not 16 bytes")),
            (Kind::Json, ValueRef::Text(t)) => Ok(Value::Json(Json(self.text(t)?.to_owned()))),
            (Kind::Json, ValueRef::Integer(i)) => Ok(Value::Json(Json(i.to_string()))),
            (Kind::Json, ValueRef::Real(f)) => Ok(Value::Json(Json(f.to_string()))),
            (_, other) => Err(self.mismatch(other)),
        }
    }
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    ["%H:%M:%S%.f", "%H:%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(s, f).ok())
}

fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(s, DATE_FORMAT)
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
}

/// RFC 3339 with either separator; text without an offset is UTC (SQLite's
/// own `CURRENT_TIMESTAMP` and `datetime('now')` are UTC without one).
fn parse_timestamptz(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M:%S%.f%#z",
    ]
    .iter()
    .find_map(|f| DateTime::parse_from_str(s, f).ok())
    .map(|t| t.with_timezone(&Utc))
    .or_else(|| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
    .or_else(|| parse_timestamp(s).map(|n| n.and_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_to_kinds() {
        for (decl, kind) in [
            ("BOOLEAN", Kind::Bool),
            ("SMALLINT", Kind::I16),
            ("INT", Kind::I32),
            ("INTEGER", Kind::I64),
            ("BIGINT", Kind::I64),
            ("REAL", Kind::Float),
            ("DOUBLE PRECISION", Kind::Float),
            ("DECIMAL TEXT", Kind::Decimal),
            ("NUMERIC(10,2)", Kind::Decimal),
            ("VARCHAR(100)", Kind::Text),
            ("TEXT", Kind::Text),
            ("BLOB", Kind::Bytes),
            ("DATE", Kind::Date),
            ("TIME", Kind::Time),
            ("TIMESTAMP", Kind::Timestamp),
            ("DATETIME", Kind::Timestamp),
            ("TIMESTAMPTZ", Kind::TimestampTz),
            ("TIMESTAMP WITH TIME ZONE", Kind::TimestampTz),
            ("UUID", Kind::Uuid),
            ("JSON", Kind::Json),
            ("", Kind::Any),
        ] {
            assert_eq!(Kind::of(Some(decl)), kind, "{decl}");
        }
        assert_eq!(Kind::of(None), Kind::Any);
    }

    #[test]
    fn timestamps_parse_in_common_spellings() {
        let want = NaiveDate::from_ymd_opt(2024, 5, 17)
            .and_then(|d| d.and_hms_micro_opt(12, 30, 0, 500))
            .unwrap();
        assert_eq!(parse_timestamp("2024-05-17 12:30:00.000500"), Some(want));
        assert_eq!(parse_timestamp("2024-05-17T12:30:00.0005"), Some(want));
        let utc = want.and_utc();
        assert_eq!(
            parse_timestamptz("2024-05-17 12:30:00.000500+00:00"),
            Some(utc)
        );
        assert_eq!(
            parse_timestamptz("2024-05-17T14:30:00.000500+02:00"),
            Some(utc)
        );
        assert_eq!(parse_timestamptz("2024-05-17T12:30:00.0005Z"), Some(utc));
        assert_eq!(parse_timestamptz("2024-05-17 12:30:00.0005"), Some(utc));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn out_of_range_names_both_types() {
        let col = ColumnDecoder {
            name: "small".into(),
            decl: "SMALLINT".into(),
            kind: Kind::I16,
        };
        let e = col.decode(ValueRef::Integer(70_000)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "column `small` (SMALLINT): holds an integer out of range for i16"
        );
        assert_eq!(col.decode(ValueRef::Integer(-7)).unwrap(), Value::I16(-7));
        let e = col.decode(ValueRef::Text(b"abc")).unwrap_err();
        assert!(e.to_string().contains("TEXT"), "{e}");
    }
}
