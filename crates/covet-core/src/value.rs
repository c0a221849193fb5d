//! Database values, independent of any driver.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use uuid::Uuid;

use crate::error::{Error, ErrorKind, Result};

/// An exact decimal number kept as its canonical text (`-12.3400`), so no
/// precision is lost between databases whose NUMERIC types differ in range.
///
/// ```
/// use covet_core::Decimal;
/// let d: Decimal = "-12.50".parse().unwrap();
/// assert_eq!(d.as_str(), "-12.50");
/// assert!("1e5".parse::<Decimal>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Decimal(String);

impl Decimal {
    /// The decimal as text: an optional `-`, digits, and an optional
    /// fractional part.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `s` is a decimal's text (what [`Decimal::from_str`] accepts),
    /// checked without allocating; adapters use it before handing out a
    /// borrowed [`ValueRef::Decimal`].
    ///
    /// [`Decimal::from_str`]: std::str::FromStr::from_str
    pub fn is_canonical(s: &str) -> bool {
        let digits = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = match digits.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (digits, None),
        };
        !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    }
}

impl std::str::FromStr for Decimal {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        if Decimal::is_canonical(s) {
            Ok(Decimal(s.to_owned()))
        } else {
            Err(Error::new(
                ErrorKind::Encode,
                format!(
                    "{s:?} is not a decimal number (expected digits with an optional sign and fraction)"
                ),
            ))
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Raw JSON text. Covet does not parse it; adapters pass it to the server's
/// JSON type, and callers parse with the JSON library they already use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Json(pub String);

/// One database value.
///
/// The variants cover the type-mapping table every adapter documents. A
/// `Value` never prints its contents through `Debug` in Covet's own logs;
/// see [`crate::Statement`] for how parameters are redacted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// SQL NULL.
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// SMALLINT.
    I16(i16),
    /// INTEGER.
    I32(i32),
    /// BIGINT.
    I64(i64),
    /// REAL.
    F32(f32),
    /// DOUBLE PRECISION.
    F64(f64),
    /// NUMERIC / DECIMAL.
    Decimal(Decimal),
    /// TEXT / VARCHAR.
    Text(String),
    /// BYTEA / BLOB.
    Bytes(Vec<u8>),
    /// DATE.
    Date(NaiveDate),
    /// TIME (without time zone).
    Time(NaiveTime),
    /// TIMESTAMP (without time zone).
    Timestamp(NaiveDateTime),
    /// TIMESTAMP WITH TIME ZONE, normalised to UTC.
    TimestampTz(DateTime<Utc>),
    /// UUID.
    Uuid(Uuid),
    /// JSON / JSONB.
    Json(Json),
}

impl Value {
    /// The name of this value's type, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        self.as_value_ref().type_name()
    }

    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

macro_rules! impl_from {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self { Value::$variant(v) }
        }
    )*};
}

impl_from! {
    bool => Bool, i16 => I16, i32 => I32, i64 => I64, f32 => F32, f64 => F64,
    Decimal => Decimal, String => Text, Vec<u8> => Bytes, NaiveDate => Date,
    NaiveTime => Time, NaiveDateTime => Timestamp, DateTime<Utc> => TimestampTz,
    Uuid => Uuid, Json => Json,
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Why a [`Value`] could not become a `T`; [`crate::Row::get`] turns it into
/// an [`Error`] naming the column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    /// The Rust type that was asked for.
    pub wanted: &'static str,
    /// The type of the value that was found.
    pub found: &'static str,
    /// Extra detail (for example "out of range").
    pub detail: Option<String>,
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read a {} value as {}", self.found, self.wanted)?;
        if let Some(d) = &self.detail {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

/// A borrowed view of one database value, as a row hands it out without
/// copying: text and bytes point into the row's own buffer.
///
/// [`Row::get`](crate::Row::get) decodes through this type, so reading a
/// `&str` column costs a UTF-8 check and no allocation. Every variant has its
/// [`Value`] twin; [`ValueRef::to_owned_value`] converts.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ValueRef<'a> {
    /// SQL NULL.
    Null,
    /// BOOLEAN.
    Bool(bool),
    /// SMALLINT.
    I16(i16),
    /// INTEGER.
    I32(i32),
    /// BIGINT.
    I64(i64),
    /// REAL.
    F32(f32),
    /// DOUBLE PRECISION.
    F64(f64),
    /// NUMERIC / DECIMAL as canonical text (see [`Decimal`]); owned when the
    /// wire format is binary and had to be formatted.
    Decimal(Cow<'a, str>),
    /// TEXT / VARCHAR.
    Text(&'a str),
    /// BYTEA / BLOB.
    Bytes(&'a [u8]),
    /// DATE.
    Date(NaiveDate),
    /// TIME (without time zone).
    Time(NaiveTime),
    /// TIMESTAMP (without time zone).
    Timestamp(NaiveDateTime),
    /// TIMESTAMP WITH TIME ZONE, normalised to UTC.
    TimestampTz(DateTime<Utc>),
    /// UUID.
    Uuid(Uuid),
    /// JSON / JSONB text.
    Json(&'a str),
}

impl ValueRef<'_> {
    /// The name of this value's type, the same as [`Value::type_name`].
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Bool(_) => "bool",
            ValueRef::I16(_) => "i16",
            ValueRef::I32(_) => "i32",
            ValueRef::I64(_) => "i64",
            ValueRef::F32(_) => "f32",
            ValueRef::F64(_) => "f64",
            ValueRef::Decimal(_) => "decimal",
            ValueRef::Text(_) => "text",
            ValueRef::Bytes(_) => "bytes",
            ValueRef::Date(_) => "date",
            ValueRef::Time(_) => "time",
            ValueRef::Timestamp(_) => "timestamp",
            ValueRef::TimestampTz(_) => "timestamptz",
            ValueRef::Uuid(_) => "uuid",
            ValueRef::Json(_) => "json",
        }
    }

    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, ValueRef::Null)
    }

    /// Copies the value out of the row.
    ///
    /// A decimal is taken as the canonical text its adapter produced; the
    /// adapters check it when they decode, so no second parse happens here.
    pub fn to_owned_value(&self) -> Value {
        match self {
            ValueRef::Null => Value::Null,
            ValueRef::Bool(v) => Value::Bool(*v),
            ValueRef::I16(v) => Value::I16(*v),
            ValueRef::I32(v) => Value::I32(*v),
            ValueRef::I64(v) => Value::I64(*v),
            ValueRef::F32(v) => Value::F32(*v),
            ValueRef::F64(v) => Value::F64(*v),
            ValueRef::Decimal(d) => Value::Decimal(Decimal(d.clone().into_owned())),
            ValueRef::Text(s) => Value::Text((*s).to_owned()),
            ValueRef::Bytes(b) => Value::Bytes(b.to_vec()),
            ValueRef::Date(v) => Value::Date(*v),
            ValueRef::Time(v) => Value::Time(*v),
            ValueRef::Timestamp(v) => Value::Timestamp(*v),
            ValueRef::TimestampTz(v) => Value::TimestampTz(*v),
            ValueRef::Uuid(v) => Value::Uuid(*v),
            ValueRef::Json(s) => Value::Json(Json((*s).to_owned())),
        }
    }
}

impl Value {
    /// A borrowed view of this value, for decoding through [`Decode`].
    pub fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Bool(v) => ValueRef::Bool(*v),
            Value::I16(v) => ValueRef::I16(*v),
            Value::I32(v) => ValueRef::I32(*v),
            Value::I64(v) => ValueRef::I64(*v),
            Value::F32(v) => ValueRef::F32(*v),
            Value::F64(v) => ValueRef::F64(*v),
            Value::Decimal(d) => ValueRef::Decimal(Cow::Borrowed(d.as_str())),
            Value::Text(s) => ValueRef::Text(s),
            Value::Bytes(b) => ValueRef::Bytes(b),
            Value::Date(v) => ValueRef::Date(*v),
            Value::Time(v) => ValueRef::Time(*v),
            Value::Timestamp(v) => ValueRef::Timestamp(*v),
            Value::TimestampTz(v) => ValueRef::TimestampTz(*v),
            Value::Uuid(v) => ValueRef::Uuid(*v),
            Value::Json(j) => ValueRef::Json(&j.0),
        }
    }
}

/// Decoding from a borrowed [`ValueRef`] into a Rust type that may borrow
/// from the row (`&'r str`, `&'r [u8]`) or own its data.
///
/// Integer conversions widen freely and narrow only when the value fits;
/// `Option<T>` reads NULL as `None`; every other type refuses NULL.
pub trait Decode<'r>: Sized {
    /// The Rust type name used in error messages.
    const TYPE_NAME: &'static str;

    /// Decodes one value.
    fn decode(value: ValueRef<'r>) -> Result<Self, ConvertError>;
}

/// Conversion from an owned [`Value`] to a Rust type that owns its data;
/// implemented for every type that [`Decode`]s for any lifetime, so a bound
/// `T: FromValue` also lets generic code call `row.get::<T>()` and
/// `row.get::<Option<T>>()`.
pub trait FromValue: for<'r> Decode<'r> {
    /// Converts by reference.
    fn from_value(value: &Value) -> Result<Self, ConvertError> {
        Self::decode(value.as_value_ref())
    }
}

impl<T> FromValue for T where T: for<'r> Decode<'r> {}

fn mismatch<'r, T: Decode<'r>>(found: &ValueRef<'_>) -> ConvertError {
    ConvertError {
        wanted: T::TYPE_NAME,
        found: found.type_name(),
        detail: None,
    }
}

macro_rules! impl_decode_int {
    ($($t:ty),*) => {$(
        impl Decode<'_> for $t {
            const TYPE_NAME: &'static str = stringify!($t);
            fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
                let wide: i64 = match value {
                    ValueRef::I16(v) => i64::from(v),
                    ValueRef::I32(v) => i64::from(v),
                    ValueRef::I64(v) => v,
                    other => return Err(mismatch::<Self>(&other)),
                };
                <$t>::try_from(wide).map_err(|_| ConvertError {
                    wanted: stringify!($t),
                    found: value.type_name(),
                    detail: Some("out of range".into()),
                })
            }
        }
    )*};
}

impl_decode_int!(i16, i32, i64, u32, u64, usize);

impl Decode<'_> for bool {
    const TYPE_NAME: &'static str = "bool";
    fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
        match value {
            ValueRef::Bool(b) => Ok(b),
            // SQLite and MySQL store booleans as integers.
            ValueRef::I16(0) | ValueRef::I32(0) | ValueRef::I64(0) => Ok(false),
            ValueRef::I16(1) | ValueRef::I32(1) | ValueRef::I64(1) => Ok(true),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl Decode<'_> for f64 {
    const TYPE_NAME: &'static str = "f64";
    fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
        match value {
            ValueRef::F64(v) => Ok(v),
            ValueRef::F32(v) => Ok(f64::from(v)),
            ValueRef::I16(v) => Ok(f64::from(v)),
            ValueRef::I32(v) => Ok(f64::from(v)),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl Decode<'_> for f32 {
    const TYPE_NAME: &'static str = "f32";
    fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
        match value {
            ValueRef::F32(v) => Ok(v),
            // Exact only when the f64 holds an f32; engines without a REAL
            // type (SQLite) hand back f64.
            #[allow(clippy::cast_possible_truncation)]
            ValueRef::F64(v) if f64::from(v as f32) == v || v.is_nan() => Ok(v as f32),
            ValueRef::I16(v) => Ok(f32::from(v)),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

macro_rules! impl_decode_copy {
    ($($t:ty => $variant:ident, $name:literal);* $(;)?) => {$(
        impl Decode<'_> for $t {
            const TYPE_NAME: &'static str = $name;
            fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
                match value {
                    ValueRef::$variant(v) => Ok(v),
                    other => Err(mismatch::<Self>(&other)),
                }
            }
        }
    )*};
}

impl_decode_copy! {
    NaiveDate => Date, "NaiveDate";
    NaiveTime => Time, "NaiveTime";
    NaiveDateTime => Timestamp, "NaiveDateTime";
    DateTime<Utc> => TimestampTz, "DateTime<Utc>";
}

impl Decode<'_> for Decimal {
    const TYPE_NAME: &'static str = "Decimal";
    fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
        match value {
            ValueRef::Decimal(d) => Ok(Decimal(d.into_owned())),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl Decode<'_> for Vec<u8> {
    const TYPE_NAME: &'static str = "Vec<u8>";
    fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
        match value {
            ValueRef::Bytes(b) => Ok(b.to_vec()),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl<'r> Decode<'r> for &'r [u8] {
    const TYPE_NAME: &'static str = "&[u8]";
    fn decode(value: ValueRef<'r>) -> Result<Self, ConvertError> {
        match value {
            ValueRef::Bytes(b) => Ok(b),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl Decode<'_> for Uuid {
    const TYPE_NAME: &'static str = "Uuid";
    fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
        let bad = |found: &'static str, detail: String| ConvertError {
            wanted: "Uuid",
            found,
            detail: Some(detail),
        };
        match value {
            ValueRef::Uuid(u) => Ok(u),
            // Engines without a UUID type on the wire (MySQL CHAR(36),
            // MariaDB's UUID type, SQLite TEXT or BLOB) hand back text or
            // 16 bytes.
            ValueRef::Text(s) => Uuid::try_parse(s).map_err(|_| bad("text", "not a UUID".into())),
            ValueRef::Bytes(b) => {
                Uuid::from_slice(b).map_err(|_| bad("bytes", format!("{} bytes, not 16", b.len())))
            }
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl Decode<'_> for String {
    const TYPE_NAME: &'static str = "String";
    fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
        match value {
            ValueRef::Text(s) | ValueRef::Json(s) => Ok(s.to_owned()),
            ValueRef::Decimal(d) => Ok(d.into_owned()),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl<'r> Decode<'r> for &'r str {
    const TYPE_NAME: &'static str = "&str";
    fn decode(value: ValueRef<'r>) -> Result<Self, ConvertError> {
        match value {
            ValueRef::Text(s) | ValueRef::Json(s) => Ok(s),
            ValueRef::Decimal(Cow::Borrowed(s)) => Ok(s),
            ValueRef::Decimal(Cow::Owned(_)) => Err(ConvertError {
                wanted: "&str",
                found: "decimal",
                detail: Some("this engine sends decimals in binary; read a String".into()),
            }),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl Decode<'_> for Json {
    const TYPE_NAME: &'static str = "Json";
    fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
        match value {
            // MySQL and SQLite report JSON columns as text.
            ValueRef::Json(s) | ValueRef::Text(s) => Ok(Json(s.to_owned())),
            other => Err(mismatch::<Self>(&other)),
        }
    }
}

impl Decode<'_> for Value {
    const TYPE_NAME: &'static str = "Value";
    fn decode(value: ValueRef<'_>) -> Result<Self, ConvertError> {
        Ok(value.to_owned_value())
    }
}

impl<'r, T: Decode<'r>> Decode<'r> for Option<T> {
    const TYPE_NAME: &'static str = T::TYPE_NAME;
    fn decode(value: ValueRef<'r>) -> Result<Self, ConvertError> {
        match value {
            ValueRef::Null => Ok(None),
            v => T::decode(v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn null_is_refused_unless_optional() {
        let e = i64::from_value(&Value::Null).unwrap_err();
        assert_eq!(e.to_string(), "cannot read a NULL value as i64");
        assert_eq!(Option::<i64>::from_value(&Value::Null), Ok(None));
    }

    #[test]
    fn narrowing_checks_range() {
        assert_eq!(i16::from_value(&Value::I64(300)), Ok(300));
        let e = i16::from_value(&Value::I64(70_000)).unwrap_err();
        assert_eq!(e.detail.as_deref(), Some("out of range"));
        assert!(u32::from_value(&Value::I32(-1)).is_err());
    }

    #[test]
    fn uuid_from_text_and_bytes() {
        let u = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(Uuid::from_value(&Value::Text(u.to_string())), Ok(u));
        assert_eq!(
            Uuid::from_value(&Value::Bytes(u.as_bytes().to_vec())),
            Ok(u)
        );
        assert!(Uuid::from_value(&Value::Text("nope".into())).is_err());
        assert!(Uuid::from_value(&Value::Bytes(vec![1, 2])).is_err());
        assert!(Uuid::from_value(&Value::I64(1)).is_err());
    }

    #[test]
    fn decimal_parsing() {
        for ok in [
            "0",
            "-1",
            "12.5",
            "000.000",
            "99999999999999999999999999999.1",
        ] {
            assert!(ok.parse::<Decimal>().is_ok(), "{ok}");
        }
        for bad in ["", "-", ".5", "5.", "1e3", "1.2.3", "+1", " 1", "NaN"] {
            assert!(bad.parse::<Decimal>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn i64_round_trips(v in any::<i64>()) {
            prop_assert_eq!(i64::from_value(&Value::from(v)), Ok(v));
        }

        #[test]
        fn i32_widens_and_narrows(v in any::<i32>()) {
            prop_assert_eq!(i64::from_value(&Value::from(v)), Ok(i64::from(v)));
            prop_assert_eq!(i32::from_value(&Value::I64(i64::from(v))), Ok(v));
        }

        #[test]
        fn narrowing_never_wraps(v in any::<i64>()) {
            match i16::from_value(&Value::I64(v)) {
                Ok(n) => prop_assert_eq!(i64::from(n), v),
                Err(e) => prop_assert!(i16::try_from(v).is_err(), "{e}"),
            }
        }

        #[test]
        fn strings_round_trip(s in ".*") {
            prop_assert_eq!(String::from_value(&Value::from(s.as_str())), Ok(s));
        }

        #[test]
        fn optional_round_trips(v in proptest::option::of(any::<i32>())) {
            prop_assert_eq!(Option::<i32>::from_value(&Value::from(v)), Ok(v));
        }

        #[test]
        fn f64_round_trips_bitwise(v in any::<f64>()) {
            let back = f64::from_value(&Value::from(v)).unwrap();
            prop_assert_eq!(back.to_bits(), v.to_bits());
        }

        #[test]
        fn decimal_accepts_canonical(neg in any::<bool>(), i in "[0-9]{1,30}", f in proptest::option::of("[0-9]{1,30}")) {
            let s = format!("{}{}{}", if neg { "-" } else { "" }, i, f.map(|f| format!(".{f}")).unwrap_or_default());
            let d: Decimal = s.parse().unwrap();
            prop_assert_eq!(d.as_str(), s.as_str());
        }
    }
}
