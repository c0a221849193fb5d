//! The row encoding (version 1) and the content checksum.
//!
//! A data chunk's payload is its rows back to back; a row is its values in
//! column order; a value is a tag byte and a body:
//!
//! | tag | type | body |
//! |---|---|---|
//! | 0 | NULL | none |
//! | 1 | bool | 1 byte, 0 or 1 |
//! | 2 | i16 | zigzag varint |
//! | 3 | i32 | zigzag varint |
//! | 4 | i64 | zigzag varint |
//! | 5 | f32 | 4 bytes, IEEE 754 bits, little-endian |
//! | 6 | f64 | 8 bytes, IEEE 754 bits, little-endian |
//! | 7 | decimal | varint length, ASCII text |
//! | 8 | text | varint length, UTF-8 |
//! | 9 | bytes | varint length, bytes |
//! | 10 | date | zigzag varint: days from 0001-01-01 (CE day 1) |
//! | 11 | time | varint seconds from midnight, varint nanoseconds |
//! | 12 | timestamp | zigzag varint Unix seconds, varint nanoseconds |
//! | 13 | timestamptz (UTC) | as timestamp |
//! | 14 | uuid | 16 bytes |
//! | 15 | json | varint length, UTF-8 text |
//!
//! Varints are unsigned LEB128; zigzag maps signed to unsigned.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike};
use covet_core::{Decimal, Json, Value};
use sha2::{Digest, Sha256};

/// The row encoding's version, recorded in the manifest.
pub(crate) const ROW_ENCODING_VERSION: u16 = 1;

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_bytes(buf: &mut Vec<u8>, tag: u8, b: &[u8]) {
    buf.push(tag);
    put_varint(buf, b.len() as u64);
    buf.extend_from_slice(b);
}

/// Appends one value. Fails only for a value type this encoding version
/// does not know (a newer covet-core variant).
pub(crate) fn encode_value(buf: &mut Vec<u8>, v: &Value) -> Result<(), String> {
    match v {
        Value::Null => buf.push(0),
        Value::Bool(b) => buf.extend_from_slice(&[1, u8::from(*b)]),
        Value::I16(n) => {
            buf.push(2);
            put_varint(buf, zigzag(i64::from(*n)));
        }
        Value::I32(n) => {
            buf.push(3);
            put_varint(buf, zigzag(i64::from(*n)));
        }
        Value::I64(n) => {
            buf.push(4);
            put_varint(buf, zigzag(*n));
        }
        Value::F32(f) => {
            buf.push(5);
            buf.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::F64(f) => {
            buf.push(6);
            buf.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Decimal(d) => put_bytes(buf, 7, d.as_str().as_bytes()),
        Value::Text(s) => put_bytes(buf, 8, s.as_bytes()),
        Value::Bytes(b) => put_bytes(buf, 9, b),
        Value::Date(d) => {
            buf.push(10);
            put_varint(buf, zigzag(i64::from(d.num_days_from_ce())));
        }
        Value::Time(t) => {
            buf.push(11);
            put_varint(buf, u64::from(t.num_seconds_from_midnight()));
            put_varint(buf, u64::from(t.nanosecond()));
        }
        Value::Timestamp(ts) => {
            let u = ts.and_utc();
            buf.push(12);
            put_varint(buf, zigzag(u.timestamp()));
            put_varint(buf, u64::from(u.timestamp_subsec_nanos()));
        }
        Value::TimestampTz(ts) => {
            buf.push(13);
            put_varint(buf, zigzag(ts.timestamp()));
            put_varint(buf, u64::from(ts.timestamp_subsec_nanos()));
        }
        Value::Uuid(u) => {
            buf.push(14);
            buf.extend_from_slice(u.as_bytes());
        }
        Value::Json(j) => put_bytes(buf, 15, j.0.as_bytes()),
        other => {
            return Err(format!(
                "value type {} is not in row encoding version {ROW_ENCODING_VERSION}",
                other.type_name()
            ));
        }
    }
    Ok(())
}

/// Reads values from a byte slice, advancing it.
pub(crate) struct Decoder<'a> {
    buf: &'a [u8],
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Decoder { buf }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// How far into the payload the decoder is, for slicing raw rows.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err("row data ends inside a value".into());
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.take(1)?[0];
            if shift == 63 && b > 1 {
                return Err("varint overflows 64 bits".into());
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    fn len_bytes(&mut self) -> Result<&'a [u8], String> {
        let n = usize::try_from(self.varint()?).map_err(|_| "length too large".to_string())?;
        self.take(n)
    }

    fn text(&mut self) -> Result<String, String> {
        let b = self.len_bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| "text is not UTF-8".to_string())
    }

    fn int<T: TryFrom<i64>>(&mut self) -> Result<T, String> {
        T::try_from(unzigzag(self.varint()?)).map_err(|_| "integer out of range".to_string())
    }

    fn ts(&mut self) -> Result<DateTime<chrono::Utc>, String> {
        let secs = unzigzag(self.varint()?);
        let nanos = u32::try_from(self.varint()?).map_err(|_| "nanoseconds out of range")?;
        DateTime::from_timestamp(secs, nanos).ok_or_else(|| "timestamp out of range".to_string())
    }

    pub(crate) fn value(&mut self) -> Result<Value, String> {
        let tag = self.take(1)?[0];
        Ok(match tag {
            0 => Value::Null,
            1 => match self.take(1)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => return Err("bool is not 0 or 1".into()),
            },
            2 => Value::I16(self.int()?),
            3 => Value::I32(self.int()?),
            4 => Value::I64(self.int()?),
            5 => {
                let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| "f32")?;
                Value::F32(f32::from_bits(u32::from_le_bytes(b)))
            }
            6 => {
                let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| "f64")?;
                Value::F64(f64::from_bits(u64::from_le_bytes(b)))
            }
            7 => Value::Decimal(
                self.text()?
                    .parse::<Decimal>()
                    .map_err(|e| e.message().to_owned())?,
            ),
            8 => Value::Text(self.text()?),
            9 => Value::Bytes(self.len_bytes()?.to_vec()),
            10 => {
                let days: i32 = self.int()?;
                Value::Date(NaiveDate::from_num_days_from_ce_opt(days).ok_or("date out of range")?)
            }
            11 => {
                let secs = u32::try_from(self.varint()?).map_err(|_| "time out of range")?;
                let nanos = u32::try_from(self.varint()?).map_err(|_| "time out of range")?;
                Value::Time(
                    NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
                        .ok_or("time out of range")?,
                )
            }
            12 => Value::Timestamp(self.ts()?.naive_utc()),
            13 => Value::TimestampTz(self.ts()?),
            14 => {
                let b: [u8; 16] = self.take(16)?.try_into().map_err(|_| "uuid")?;
                Value::Uuid(uuid::Uuid::from_bytes(b))
            }
            15 => Value::Json(Json(self.text()?)),
            t => return Err(format!("unknown value tag {t}")),
        })
    }

    /// Reads one row of `ncols` values.
    pub(crate) fn row(&mut self, ncols: usize) -> Result<Vec<Value>, String> {
        (0..ncols).map(|_| self.value()).collect()
    }

    /// Skips one row, returning its encoded bytes (for checksums).
    pub(crate) fn raw_row(&mut self, ncols: usize) -> Result<&'a [u8], String> {
        let start = self.buf;
        for _ in 0..ncols {
            self.value()?;
        }
        Ok(&start[..start.len() - self.buf.len()])
    }
}

/// An order-independent checksum of a table's content: the sum, modulo
/// 2^256, of the SHA-256 of every row's encoding. Equal multisets of rows
/// give equal checksums whatever order the engine returns them in, so a
/// restored table can be checked without sorting it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContentChecksum {
    limbs: [u64; 4],
}

impl ContentChecksum {
    /// Adds one row, given as its encoding.
    pub fn add_encoded_row(&mut self, row: &[u8]) {
        let d = Sha256::digest(row);
        let mut carry = 0u128;
        for (i, limb) in self.limbs.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&d[i * 8..i * 8 + 8]);
            let sum = u128::from(*limb) + u128::from(u64::from_le_bytes(b)) + carry;
            *limb = sum as u64;
            carry = sum >> 64;
        }
    }

    /// Adds one row given as values.
    pub fn add_row(&mut self, values: &[Value], scratch: &mut Vec<u8>) -> Result<(), String> {
        scratch.clear();
        for v in values {
            encode_value(scratch, v)?;
        }
        self.add_encoded_row(scratch);
        Ok(())
    }

    /// Adds another checksum (the checksum of the union of both row sets).
    pub fn merge(&mut self, other: &ContentChecksum) {
        let mut carry = 0u128;
        for (a, b) in self.limbs.iter_mut().zip(other.limbs) {
            let sum = u128::from(*a) + u128::from(b) + carry;
            *a = sum as u64;
            carry = sum >> 64;
        }
    }

    /// The checksum as 64 hexadecimal digits.
    pub fn to_hex(&self) -> String {
        let mut b = [0u8; 32];
        for (i, l) in self.limbs.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&l.to_le_bytes());
        }
        crate::crypto::hex(&b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i16>().prop_map(Value::I16),
            any::<i32>().prop_map(Value::I32),
            any::<i64>().prop_map(Value::I64),
            any::<u32>().prop_map(|b| Value::F32(f32::from_bits(b))),
            any::<u64>().prop_map(|b| Value::F64(f64::from_bits(b))),
            "-?[0-9]{1,20}(\\.[0-9]{1,10})?".prop_map(|s| Value::Decimal(s.parse().unwrap())),
            ".*".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
            (-700_000i32..3_000_000)
                .prop_map(|d| Value::Date(NaiveDate::from_num_days_from_ce_opt(d).unwrap())),
            (0u32..86_400, 0u32..1_000_000_000).prop_map(|(s, n)| Value::Time(
                NaiveTime::from_num_seconds_from_midnight_opt(s, n).unwrap()
            )),
            (-60_000_000_000i64..60_000_000_000, 0u32..1_000_000_000).prop_map(|(s, n)| {
                Value::Timestamp(DateTime::from_timestamp(s, n).unwrap().naive_utc())
            }),
            (-60_000_000_000i64..60_000_000_000, 0u32..1_000_000_000)
                .prop_map(|(s, n)| Value::TimestampTz(DateTime::from_timestamp(s, n).unwrap())),
            any::<u128>().prop_map(|u| Value::Uuid(uuid::Uuid::from_u128(u))),
            ".*".prop_map(|s| Value::Json(Json(s))),
        ]
    }

    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits(),
            (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits(),
            _ => a == b,
        }
    }

    proptest! {
        #[test]
        fn rows_round_trip(row in proptest::collection::vec(any_value(), 0..12)) {
            let mut buf = Vec::new();
            for v in &row {
                encode_value(&mut buf, v).unwrap();
            }
            let mut d = Decoder::new(&buf);
            let back = d.row(row.len()).unwrap();
            prop_assert!(d.is_empty());
            for (a, b) in row.iter().zip(&back) {
                prop_assert!(same(a, b), "{a:?} != {b:?}");
            }
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut d = Decoder::new(&bytes);
            let _ = d.row(5);
        }

        #[test]
        fn checksum_ignores_order(rows in proptest::collection::vec(any::<i64>(), 0..20)) {
            let mut a = ContentChecksum::default();
            let mut b = ContentChecksum::default();
            let mut s = Vec::new();
            for r in &rows {
                a.add_row(&[Value::I64(*r)], &mut s).unwrap();
            }
            for r in rows.iter().rev() {
                b.add_row(&[Value::I64(*r)], &mut s).unwrap();
            }
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn checksum_sees_content() {
        let mut s = Vec::new();
        let mut a = ContentChecksum::default();
        a.add_row(&[Value::I64(1), Value::Null], &mut s).unwrap();
        let mut b = ContentChecksum::default();
        b.add_row(&[Value::I64(1), Value::Text(String::new())], &mut s)
            .unwrap();
        assert_ne!(a, b);
        assert_ne!(a, ContentChecksum::default());
    }
}
