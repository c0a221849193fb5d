//! The type-mapping table: covet [`Value`]s to and from PostgreSQL's binary
//! wire format.

use std::error::Error as StdError;
use std::fmt::{self, Write as _};

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike};
use std::borrow::Cow;

use covet_core::{Decimal, Json, RawRow, RawRows, Value, ValueRef};
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};

// Type OIDs, stable since PostgreSQL 7.x.
const BOOL: u32 = 16;
const BYTEA: u32 = 17;
const CHAR: u32 = 18;
const NAME: u32 = 19;
const INT8: u32 = 20;
const INT2: u32 = 21;
const INT4: u32 = 23;
const TEXT: u32 = 25;
const OID: u32 = 26;
const JSON: u32 = 114;
const FLOAT4: u32 = 700;
const FLOAT8: u32 = 701;
const UNKNOWN: u32 = 705;
const BPCHAR: u32 = 1042;
const VARCHAR: u32 = 1043;
const DATE: u32 = 1082;
const TIME: u32 = 1083;
const TIMESTAMP: u32 = 1114;
const TIMESTAMPTZ: u32 = 1184;
const NUMERIC: u32 = 1700;
const UUID: u32 = 2950;
const JSONB: u32 = 3802;
const VOID: u32 = 2278;

/// PostgreSQL's epoch (2000-01-01) in Unix microseconds.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS_FROM_CE: i32 = 730_120;

/// A value that does not fit the parameter or column type it is bound to.
/// The message names both types, never the value.
#[derive(Debug, Clone)]
pub(crate) struct EncodeError {
    value_type: &'static str,
    pg_type: String,
    detail: Option<&'static str>,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot encode a {} value as PostgreSQL {}",
            self.value_type, self.pg_type
        )?;
        if let Some(d) = self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl StdError for EncodeError {}

/// A server value with no covet [`Value`] mapping, or malformed bytes.
#[derive(Debug, Clone)]
pub(crate) struct DecodeError {
    pg_type: String,
    detail: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot decode PostgreSQL {}: {}",
            self.pg_type, self.detail
        )
    }
}

impl StdError for DecodeError {}

fn base_type(ty: &Type) -> &Type {
    match ty.kind() {
        Kind::Domain(base) => base_type(base),
        _ => ty,
    }
}

fn is_text(ty: &Type) -> bool {
    matches!(ty.oid(), TEXT | VARCHAR | BPCHAR | NAME | UNKNOWN)
        || matches!(ty.kind(), Kind::Enum(_))
        || ty.name() == "citext"
}

/// A bound parameter: encodes a [`Value`] as the type the server inferred.
pub(crate) struct Param<'a>(pub(crate) &'a Value);

impl fmt::Debug for Param<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parameter values never reach logs.
        write!(f, "Param({})", self.0.type_name())
    }
}

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        encode(self.0, ty, out).map_err(Into::into)
    }

    fn accepts(_ty: &Type) -> bool {
        // Checked per value in `encode`, which names both types on mismatch.
        true
    }

    to_sql_checked!();
}

/// The bound parameters of a statement, as the driver's iterator wants them.
/// A named iterator rather than `.map(Param)`, whose higher-ranked closure
/// type trips the compiler's `Send` check inside async-trait futures.
pub(crate) struct Params<'a>(pub(crate) std::slice::Iter<'a, Value>);

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        self.0.next().map(Param)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Params<'_> {}

/// Encodes `v` for a parameter or COPY column of type `ty`.
pub(crate) fn encode(v: &Value, ty: &Type, out: &mut BytesMut) -> Result<IsNull, EncodeError> {
    let base = base_type(ty);
    let oid = base.oid();
    let mismatch = |detail| EncodeError {
        value_type: v.type_name(),
        pg_type: ty.name().to_owned(),
        detail,
    };
    match v {
        Value::Null => return Ok(IsNull::Yes),
        Value::Bool(b) if oid == BOOL => out.put_u8(u8::from(*b)),
        Value::I16(n) => encode_int(i64::from(*n), oid, out).map_err(mismatch)?,
        Value::I32(n) => encode_int(i64::from(*n), oid, out).map_err(mismatch)?,
        Value::I64(n) => encode_int(*n, oid, out).map_err(mismatch)?,
        Value::F32(x) if oid == FLOAT4 => out.put_f32(*x),
        Value::F32(x) if oid == FLOAT8 => out.put_f64(f64::from(*x)),
        Value::F64(x) if oid == FLOAT8 => out.put_f64(*x),
        Value::F64(x) if oid == FLOAT4 => {
            #[allow(clippy::cast_possible_truncation)]
            let narrow = *x as f32;
            if f64::from(narrow) == *x || x.is_nan() {
                out.put_f32(narrow);
            } else {
                return Err(mismatch(Some("not exactly representable")));
            }
        }
        Value::Decimal(d) if oid == NUMERIC => {
            encode_numeric(d.as_str(), out).map_err(|e| mismatch(Some(e)))?;
        }
        Value::Text(s) if is_text(base) || oid == JSON => out.put_slice(s.as_bytes()),
        Value::Text(s) if oid == JSONB => {
            out.put_u8(1);
            out.put_slice(s.as_bytes());
        }
        Value::Json(Json(s)) if oid == JSON || is_text(base) => out.put_slice(s.as_bytes()),
        Value::Json(Json(s)) if oid == JSONB => {
            out.put_u8(1);
            out.put_slice(s.as_bytes());
        }
        Value::Bytes(b) if oid == BYTEA => out.put_slice(b),
        Value::Date(d) if oid == DATE => {
            let days = d.num_days_from_ce() - PG_EPOCH_DAYS_FROM_CE;
            out.put_i32(days);
        }
        Value::Time(t) if oid == TIME => {
            let micros = i64::from(t.num_seconds_from_midnight()) * 1_000_000
                + i64::from(t.nanosecond() / 1_000);
            out.put_i64(micros);
        }
        Value::Timestamp(ts) if oid == TIMESTAMP => {
            let micros = ts
                .and_utc()
                .timestamp_micros()
                .checked_sub(PG_EPOCH_MICROS)
                .ok_or_else(|| mismatch(Some("out of range")))?;
            out.put_i64(micros);
        }
        Value::TimestampTz(ts) if oid == TIMESTAMPTZ => {
            let micros = ts
                .timestamp_micros()
                .checked_sub(PG_EPOCH_MICROS)
                .ok_or_else(|| mismatch(Some("out of range")))?;
            out.put_i64(micros);
        }
        Value::Uuid(u) if oid == UUID => out.put_slice(u.as_bytes()),
        _ => return Err(mismatch(None)),
    }
    Ok(IsNull::No)
}

fn encode_int(n: i64, oid: u32, out: &mut BytesMut) -> Result<(), Option<&'static str>> {
    const RANGE: Option<&str> = Some("out of range");
    match oid {
        INT2 => out.put_i16(i16::try_from(n).map_err(|_| RANGE)?),
        INT4 => out.put_i32(i32::try_from(n).map_err(|_| RANGE)?),
        INT8 => out.put_i64(n),
        OID => out.put_u32(u32::try_from(n).map_err(|_| RANGE)?),
        // Integers go into floating columns only when no precision is lost.
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        FLOAT4 if n.unsigned_abs() <= 1 << 24 => out.put_f32(n as f32),
        #[allow(clippy::cast_precision_loss)]
        FLOAT8 if n.unsigned_abs() <= 1 << 53 => out.put_f64(n as f64),
        FLOAT4 | FLOAT8 => return Err(Some("not exactly representable")),
        NUMERIC => encode_numeric(&n.to_string(), out).map_err(Some)?,
        _ => return Err(None),
    }
    Ok(())
}

/// Writes a canonical decimal string in NUMERIC's binary form: base-10000
/// digit groups, a weight (the power of 10000 of the first group), a sign and
/// the display scale.
fn encode_numeric(dec: &str, out: &mut BytesMut) -> Result<(), &'static str> {
    let (neg, body) = match dec.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, dec),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let int = int.trim_start_matches('0');
    let dscale = u16::try_from(frac.len())
        .ok()
        .filter(|s| *s <= 0x3FFF)
        .ok_or("too many fractional digits")?;
    let int_pad = (4 - int.len() % 4) % 4;
    let frac_pad = (4 - frac.len() % 4) % 4;
    let mut digits: Vec<u8> = Vec::with_capacity(int_pad + int.len() + frac.len() + frac_pad);
    digits.extend(std::iter::repeat_n(b'0', int_pad));
    digits.extend_from_slice(int.as_bytes());
    digits.extend_from_slice(frac.as_bytes());
    digits.extend(std::iter::repeat_n(b'0', frac_pad));
    let mut groups: Vec<i16> = digits
        .chunks(4)
        .map(|c| {
            c.iter()
                .fold(0_i16, |acc, d| acc * 10 + i16::from(d.wrapping_sub(b'0')))
        })
        .collect();
    let int_groups = i64::try_from((int_pad + int.len()) / 4).map_err(|_| "too large")?;
    let lead = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..lead);
    let mut weight = int_groups - 1 - i64::try_from(lead).map_err(|_| "too large")?;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    let mut sign = if neg { 0x4000_u16 } else { 0 };
    if groups.is_empty() {
        weight = 0;
        sign = 0;
    }
    let weight = i16::try_from(weight).map_err(|_| "out of range")?;
    let ndigits = u16::try_from(groups.len()).map_err(|_| "out of range")?;
    out.reserve(8 + groups.len() * 2);
    out.put_u16(ndigits);
    out.put_i16(weight);
    out.put_u16(sign);
    out.put_u16(dscale);
    for g in groups {
        out.put_i16(g);
    }
    Ok(())
}

fn decode_numeric(raw: &[u8]) -> Result<String, &'static str> {
    let header = raw.get(..8).ok_or("truncated numeric")?;
    let ndigits = usize::from(u16::from_be_bytes([header[0], header[1]]));
    let weight = i64::from(i16::from_be_bytes([header[2], header[3]]));
    let sign = u16::from_be_bytes([header[4], header[5]]);
    let dscale = usize::from(u16::from_be_bytes([header[6], header[7]]));
    let body = &raw[8..];
    if body.len() != ndigits * 2 {
        return Err("malformed numeric");
    }
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => return Err("NaN has no Decimal representation"),
        0xD000 | 0xF000 => return Err("infinity has no Decimal representation"),
        _ => return Err("malformed numeric sign"),
    }
    let digit = |i: i64| -> u16 {
        usize::try_from(i)
            .ok()
            .and_then(|i| body.get(i * 2..i * 2 + 2))
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
    };
    let mut s = String::with_capacity(ndigits * 4 + 4);
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for i in 0..=weight {
            let d = digit(i);
            if d > 9999 {
                return Err("malformed numeric digit");
            }
            // Writing to a String cannot fail.
            let _ = if i == 0 {
                write!(s, "{d}")
            } else {
                write!(s, "{d:04}")
            };
        }
    }
    if dscale > 0 {
        s.push('.');
        let start = s.len();
        let mut i = weight + 1;
        while s.len() - start < dscale {
            let _ = write!(s, "{:04}", digit(i));
            i += 1;
        }
        s.truncate(start + dscale);
    }
    Ok(s)
}

/// The bytes of one column as the server sent them (binary format), or
/// `None` for NULL; decoding waits until the column is read.
pub(crate) struct RawCell<'a>(pub(crate) Option<&'a [u8]>);

impl<'a> FromSql<'a> for RawCell<'a> {
    fn from_sql(_ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(RawCell(Some(raw)))
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(RawCell(None))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// The error for a column whose type has no mapping.
fn unmapped(ty: &Type) -> DecodeError {
    DecodeError {
        pg_type: ty.name().to_owned(),
        detail: "this type has no covet Value mapping (cast it in SQL, for example `::text`)"
            .to_owned(),
    }
}

/// A row as tokio-postgres received it; [`covet_core::Row`] decodes a
/// column from its bytes when the column is read.
pub(crate) struct PgRow(pub(crate) tokio_postgres::Row);

impl RawRow for PgRow {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn value_ref(&self, idx: usize) -> covet_core::Result<ValueRef<'_>> {
        cell_ref(&self.0, idx)
    }
}

/// Every row of a fully read result, shared by its [`covet_core::Row`]s.
pub(crate) struct PgRows {
    pub(crate) rows: Vec<tokio_postgres::Row>,
    pub(crate) width: usize,
}

impl RawRows for PgRows {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn width(&self) -> usize {
        self.width
    }

    fn value_ref(&self, row: usize, col: usize) -> covet_core::Result<ValueRef<'_>> {
        cell_ref(&self.rows[row], col)
    }
}

fn cell_ref(row: &tokio_postgres::Row, idx: usize) -> covet_core::Result<ValueRef<'_>> {
    let cell = row
        .try_get::<_, RawCell<'_>>(idx)
        .map_err(|e| crate::error::from_pg(&e))?;
    match cell.0 {
        None => Ok(ValueRef::Null),
        Some(raw) => decode_ref(row.columns()[idx].type_(), raw)
            .map_err(|e| covet_core::Error::new(covet_core::ErrorKind::Decode, e.to_string())),
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], &'static str> {
    raw.try_into().map_err(|_| "wrong length")
}

/// Decodes one non-NULL column value of type `ty` into an owned value.
#[cfg(test)]
pub(crate) fn decode(ty: &Type, raw: &[u8]) -> Result<Value, DecodeError> {
    decode_ref(ty, raw).map(|v| v.to_owned_value())
}

/// Decodes one non-NULL column value of type `ty`, borrowing text, JSON and
/// bytes from `raw`.
pub(crate) fn decode_ref<'a>(ty: &Type, raw: &'a [u8]) -> Result<ValueRef<'a>, DecodeError> {
    let base = base_type(ty);
    let err = |detail: &str| DecodeError {
        pg_type: ty.name().to_owned(),
        detail: detail.to_owned(),
    };
    let v = match base.oid() {
        BOOL => ValueRef::Bool(fixed::<1>(raw).map_err(err)?[0] != 0),
        INT2 => ValueRef::I16(i16::from_be_bytes(fixed(raw).map_err(err)?)),
        INT4 => ValueRef::I32(i32::from_be_bytes(fixed(raw).map_err(err)?)),
        INT8 => ValueRef::I64(i64::from_be_bytes(fixed(raw).map_err(err)?)),
        OID => ValueRef::I64(i64::from(u32::from_be_bytes(fixed(raw).map_err(err)?))),
        FLOAT4 => ValueRef::F32(f32::from_be_bytes(fixed(raw).map_err(err)?)),
        FLOAT8 => ValueRef::F64(f64::from_be_bytes(fixed(raw).map_err(err)?)),
        NUMERIC => {
            let s = decode_numeric(raw).map_err(err)?;
            // The formatter writes canonical text; the check keeps that a
            // property of this function rather than of its callers.
            s.parse::<Decimal>().map_err(|_| err("malformed numeric"))?;
            ValueRef::Decimal(Cow::Owned(s))
        }
        CHAR => {
            let b = fixed::<1>(raw).map_err(err)?[0];
            if !b.is_ascii() {
                return Err(err("a \"char\" byte outside ASCII"));
            }
            ValueRef::Text(std::str::from_utf8(raw).map_err(|_| err("invalid UTF-8"))?)
        }
        BYTEA => ValueRef::Bytes(raw),
        // `void` (what `SELECT pg_sleep(1)` returns) carries no value.
        VOID => ValueRef::Null,
        DATE => {
            let days = i32::from_be_bytes(fixed(raw).map_err(err)?);
            if days == i32::MAX || days == i32::MIN {
                return Err(err("infinity has no date representation"));
            }
            let d = days
                .checked_add(PG_EPOCH_DAYS_FROM_CE)
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .ok_or_else(|| err("out of range"))?;
            ValueRef::Date(d)
        }
        TIME => {
            let micros = i64::from_be_bytes(fixed(raw).map_err(err)?);
            let secs =
                u32::try_from(micros.div_euclid(1_000_000)).map_err(|_| err("out of range"))?;
            let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1_000)
                .map_err(|_| err("out of range"))?;
            ValueRef::Time(
                NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
                    .ok_or_else(|| err("24:00:00 has no time representation"))?,
            )
        }
        TIMESTAMP | TIMESTAMPTZ => {
            let micros = i64::from_be_bytes(fixed(raw).map_err(err)?);
            if micros == i64::MAX || micros == i64::MIN {
                return Err(err("infinity has no timestamp representation"));
            }
            let dt = micros
                .checked_add(PG_EPOCH_MICROS)
                .and_then(DateTime::from_timestamp_micros)
                .ok_or_else(|| err("out of range"))?;
            if base.oid() == TIMESTAMP {
                ValueRef::Timestamp(dt.naive_utc())
            } else {
                ValueRef::TimestampTz(dt)
            }
        }
        UUID => ValueRef::Uuid(uuid::Uuid::from_bytes(fixed(raw).map_err(err)?)),
        JSON => ValueRef::Json(utf8(raw).map_err(err)?),
        JSONB => match raw.split_first() {
            Some((1, rest)) => ValueRef::Json(utf8(rest).map_err(err)?),
            _ => return Err(err("unknown jsonb format version")),
        },
        _ if is_text(base) => ValueRef::Text(utf8(raw).map_err(err)?),
        _ => return Err(unmapped(ty)),
    };
    Ok(v)
}

fn utf8(raw: &[u8]) -> Result<&str, &'static str> {
    std::str::from_utf8(raw).map_err(|_| "invalid UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn numeric_round_trip(s: &str) -> String {
        let mut buf = BytesMut::new();
        encode_numeric(s, &mut buf).unwrap();
        decode_numeric(&buf).unwrap()
    }

    #[test]
    fn numeric_examples() {
        for s in [
            "0",
            "12.5",
            "-12.50",
            "0.0001",
            "0.00000001",
            "10000",
            "99999999",
            "100000000.000000001",
            "-0.5",
            "123456789012345678901234567890.123456789",
            "0.000",
        ] {
            assert_eq!(numeric_round_trip(s), s, "{s}");
        }
        // Leading zeros are not kept, as in PostgreSQL.
        assert_eq!(numeric_round_trip("007.10"), "7.10");
        assert_eq!(numeric_round_trip("-0"), "0");
    }

    #[test]
    fn mismatch_names_both_types() {
        let mut buf = BytesMut::new();
        let e = encode(&Value::from("x"), &Type::INT4, &mut buf)
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "cannot encode a text value as PostgreSQL int4"
        );
        let e = encode(&Value::I64(1 << 40), &Type::INT4, &mut buf)
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "cannot encode a i64 value as PostgreSQL int4 (out of range)"
        );
        let e = decode(&Type::INTERVAL, &[0; 16]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot decode PostgreSQL interval"),
            "{e}"
        );
    }

    #[test]
    fn special_values_are_decode_errors() {
        let mut nan = BytesMut::new();
        nan.put_u16(0);
        nan.put_i16(0);
        nan.put_u16(0xC000);
        nan.put_u16(0);
        assert!(decode(&Type::NUMERIC, &nan).is_err());
        assert!(decode(&Type::DATE, &i32::MAX.to_be_bytes()).is_err());
        assert!(decode(&Type::TIMESTAMP, &i64::MIN.to_be_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn numeric_round_trips(neg in any::<bool>(), i in "[1-9][0-9]{0,40}|0", f in proptest::option::of("[0-9]{1,40}")) {
            let s = format!("{}{}{}", if neg && i != "0" { "-" } else { "" }, i, f.map(|f| format!(".{f}")).unwrap_or_default());
            // A negative number that is zero reads back without its sign.
            let expected = if s.starts_with('-') && s.bytes().all(|b| matches!(b, b'-' | b'0' | b'.')) { s[1..].to_owned() } else { s.clone() };
            prop_assert_eq!(numeric_round_trip(&s), expected);
        }

        #[test]
        fn timestamps_round_trip(micros in -200_000_000_000_000_000_i64..200_000_000_000_000_000) {
            let ts = DateTime::from_timestamp_micros(micros).unwrap();
            let mut buf = BytesMut::new();
            encode(&Value::TimestampTz(ts), &Type::TIMESTAMPTZ, &mut buf).unwrap();
            prop_assert_eq!(decode(&Type::TIMESTAMPTZ, &buf).unwrap(), Value::TimestampTz(ts));
            let mut buf = BytesMut::new();
            encode(&Value::Timestamp(ts.naive_utc()), &Type::TIMESTAMP, &mut buf).unwrap();
            prop_assert_eq!(decode(&Type::TIMESTAMP, &buf).unwrap(), Value::Timestamp(ts.naive_utc()));
            let mut buf = BytesMut::new();
            encode(&Value::Date(ts.date_naive()), &Type::DATE, &mut buf).unwrap();
            prop_assert_eq!(decode(&Type::DATE, &buf).unwrap(), Value::Date(ts.date_naive()));
        }
    }
}
