//! Django-style dynamic lookups (`"age__gte"`) for APIs that receive field
//! names at run time.
//!
//! A name is accepted only when it is one of the model's fields, and the
//! value is converted to that field's SQL type first, so the statement is
//! built from the model's static metadata exactly as a typed filter is.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use covet_core::{Decimal, Json, Value};
use uuid::Uuid;

use crate::error::OrmError;
use crate::expr::{CmpOp, Node, Operand, TextMatch};
use crate::model::{ColumnDef, ModelMeta, SqlType};

/// The lookups [`crate::QuerySet::filter_lookup`] understands.
pub const LOOKUPS: &str =
    "exact, iexact, gt, gte, lt, lte, in, contains, icontains, startswith, endswith, isnull, range";

/// The right-hand side of a dynamic lookup: one value, a list (for `in`),
/// or a pair (for `range`). Built from a value (`18`, `"bob"`), an array
/// or `Vec` (`[1, 2, 3]`), or a tuple (`(18, 30)`).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum LookupArg {
    /// One value.
    One(Value),
    /// A list of values.
    List(Vec<Value>),
    /// An inclusive range.
    Range(Value, Value),
}

impl std::fmt::Debug for LookupArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values stay out of logs, like Statement parameters.
        match self {
            LookupArg::One(v) => write!(f, "One({})", v.type_name()),
            LookupArg::List(v) => write!(f, "List([{} redacted])", v.len()),
            LookupArg::Range(..) => f.write_str("Range(redacted)"),
        }
    }
}

/// Values usable as a [`LookupArg`] on their own.
pub trait ScalarArg: Into<Value> {}

/// Conversion into a [`LookupArg`].
pub trait IntoLookupArg {
    /// The argument.
    fn into_lookup_arg(self) -> LookupArg;
}

macro_rules! scalar_args {
    ($($t:ty),* $(,)?) => {$(
        impl ScalarArg for $t {}
        impl IntoLookupArg for $t {
            fn into_lookup_arg(self) -> LookupArg { LookupArg::One(self.into()) }
        }
        impl IntoLookupArg for Option<$t> {
            fn into_lookup_arg(self) -> LookupArg { LookupArg::One(self.into()) }
        }
    )*};
}

scalar_args!(
    bool,
    i16,
    i32,
    i64,
    f32,
    f64,
    String,
    &str,
    Vec<u8>,
    Decimal,
    Json,
    NaiveDate,
    NaiveTime,
    NaiveDateTime,
    DateTime<Utc>,
    Uuid,
    Value,
);

impl<T: ScalarArg, const N: usize> IntoLookupArg for [T; N] {
    fn into_lookup_arg(self) -> LookupArg {
        LookupArg::List(self.into_iter().map(Into::into).collect())
    }
}

impl<T: ScalarArg> IntoLookupArg for Vec<T> {
    fn into_lookup_arg(self) -> LookupArg {
        LookupArg::List(self.into_iter().map(Into::into).collect())
    }
}

impl<A: ScalarArg, B: ScalarArg> IntoLookupArg for (A, B) {
    fn into_lookup_arg(self) -> LookupArg {
        LookupArg::Range(self.0.into(), self.1.into())
    }
}

impl IntoLookupArg for LookupArg {
    fn into_lookup_arg(self) -> LookupArg {
        self
    }
}

/// Converts `v` to the column's type: integers widen or narrow when they
/// fit, text parses into a decimal, UUID or date only for those columns.
fn coerce(v: Value, col: &ColumnDef) -> Result<Value, String> {
    use SqlType as S;
    let bad = |v: &Value| {
        format!(
            "a {} value cannot be compared with a {} column",
            v.type_name(),
            col.sql_type.name()
        )
    };
    let int = |v: &Value| -> Option<i64> {
        match v {
            Value::I16(n) => Some(i64::from(*n)),
            Value::I32(n) => Some(i64::from(*n)),
            Value::I64(n) => Some(*n),
            _ => None,
        }
    };
    let out = match (col.sql_type, v) {
        (_, Value::Null) => Value::Null,
        (S::I16, v) => match int(&v).map(i16::try_from) {
            Some(Ok(n)) => Value::I16(n),
            Some(Err(_)) => return Err("integer out of range for an i16 column".into()),
            None => return Err(bad(&v)),
        },
        (S::I32, v) => match int(&v).map(i32::try_from) {
            Some(Ok(n)) => Value::I32(n),
            Some(Err(_)) => return Err("integer out of range for an i32 column".into()),
            None => return Err(bad(&v)),
        },
        (S::I64, v) => match int(&v) {
            Some(n) => Value::I64(n),
            None => return Err(bad(&v)),
        },
        (S::F64, Value::F32(f)) => Value::F64(f64::from(f)),
        (S::F64, v) => match int(&v) {
            #[allow(clippy::cast_precision_loss)]
            Some(n) => Value::F64(n as f64),
            None if matches!(v, Value::F64(_)) => v,
            None => return Err(bad(&v)),
        },
        (S::F32, Value::F32(f)) => Value::F32(f),
        #[allow(clippy::cast_possible_truncation)]
        (S::F32, Value::F64(f)) => Value::F32(f as f32),
        (S::Decimal, Value::Text(s)) => {
            Value::Decimal(s.parse().map_err(|_| "not a decimal number".to_owned())?)
        }
        (S::Uuid, Value::Text(s)) => {
            Value::Uuid(Uuid::try_parse(&s).map_err(|_| "not a UUID".to_owned())?)
        }
        (S::Json, Value::Text(s)) => Value::Json(Json(s)),
        (t, v) if same_kind(t, &v) => v,
        (_, v) => return Err(bad(&v)),
    };
    Ok(out)
}

fn same_kind(t: SqlType, v: &Value) -> bool {
    matches!(
        (t, v),
        (SqlType::Bool, Value::Bool(_))
            | (SqlType::Decimal, Value::Decimal(_))
            | (SqlType::Text, Value::Text(_))
            | (SqlType::Bytes, Value::Bytes(_))
            | (SqlType::Date, Value::Date(_))
            | (SqlType::Time, Value::Time(_))
            | (SqlType::Timestamp, Value::Timestamp(_))
            | (SqlType::TimestampTz, Value::TimestampTz(_))
            | (SqlType::Uuid, Value::Uuid(_))
            | (SqlType::Json, Value::Json(_))
    )
}

/// The lookup names, each with its static spelling (errors name lookups by
/// these, never by the caller's text).
const NAMES: [&str; 13] = [
    "exact",
    "iexact",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "contains",
    "icontains",
    "startswith",
    "endswith",
    "isnull",
    "range",
];

/// The `belongs_to` column a relation name stands for: the field name
/// without its `_id` suffix (`author` for `author_id`).
fn relation(meta: &ModelMeta, name: &str) -> Option<&'static ColumnDef> {
    meta.columns
        .iter()
        .find(|c| c.references.is_some() && c.field.strip_suffix("_id") == Some(name))
}

/// The names a lookup path may start with, for error messages.
fn valid_names(meta: &ModelMeta) -> String {
    let mut names = meta.field_list();
    for c in meta.columns {
        if let (Some(r), Some(rel)) = (c.references, c.field.strip_suffix("_id")) {
            names.push_str(&format!(", {rel}__<field of {}>", r.model));
        }
    }
    names
}

/// Resolves `field__lookup` (or `relation__field__lookup`, through
/// `belongs_to` fields, to any depth) against `meta` into a filter tree.
pub(crate) fn resolve(meta: &ModelMeta, path: &str, arg: LookupArg) -> Result<Node, OrmError> {
    if let Some((first, rest)) = path.split_once("__")
        && meta.column_by_field(first).is_none()
        && let Some(col) = relation(meta, first)
        && let Some(r) = col.references
    {
        let target = (r.meta)();
        let &[key] = target.primary_key else {
            return Err(OrmError::Unsupported(format!(
                "lookups across {}.{} need {} to have a single-column primary key",
                meta.name, col.field, target.name
            )));
        };
        let inner = resolve(target, rest, arg)?;
        return Ok(Node::InSelect(
            col.name,
            target.table,
            target.columns[key].name,
            Box::new(inner),
        ));
    }
    let (field, lookup) = match path.rsplit_once("__") {
        Some((f, l)) if meta.column_by_field(f).is_some() => (f, l),
        _ if meta.column_by_field(path).is_some() => (path, "exact"),
        Some((f, _)) => return Err(unknown_field(meta, f.split("__").next().unwrap_or(f))),
        None => return Err(unknown_field(meta, path)),
    };
    let col = meta
        .column_by_field(field)
        .map(|(_, c)| c)
        .expect("checked above");
    let Some(lookup) = NAMES.iter().copied().find(|n| *n == lookup) else {
        return Err(OrmError::UnknownLookup {
            model: meta.name,
            field: col.field,
            lookup: lookup.to_owned(),
            valid: LOOKUPS,
        });
    };
    let err = |problem: String| OrmError::BadLookupValue {
        model: meta.name,
        field: col.field,
        lookup,
        problem,
    };
    let one = |arg: LookupArg| match arg {
        LookupArg::One(v) => coerce(v, col).map_err(err),
        _ => Err(err("expects one value, not a list or range".into())),
    };
    let text = |arg: LookupArg| -> Result<String, OrmError> {
        if col.sql_type != SqlType::Text {
            return Err(err(format!(
                "applies to text columns; this one is {}",
                col.sql_type.name()
            )));
        }
        match arg {
            LookupArg::One(Value::Text(s)) => Ok(s),
            _ => Err(err("expects one string".into())),
        }
    };
    let c = col.name;
    let cmp = |op, arg| one(arg).map(|v| Node::Cmp(c, op, Operand::Value(v)));
    Ok(match lookup {
        "exact" => cmp(CmpOp::Eq, arg)?,
        "gt" => cmp(CmpOp::Gt, arg)?,
        "gte" => cmp(CmpOp::Gte, arg)?,
        "lt" => cmp(CmpOp::Lt, arg)?,
        "lte" => cmp(CmpOp::Lte, arg)?,
        "iexact" => Node::Text(c, TextMatch::IExact, text(arg)?),
        "contains" => Node::Text(c, TextMatch::Contains, text(arg)?),
        "icontains" => Node::Text(c, TextMatch::IContains, text(arg)?),
        "startswith" => Node::Text(c, TextMatch::StartsWith, text(arg)?),
        "endswith" => Node::Text(c, TextMatch::EndsWith, text(arg)?),
        "isnull" => match arg {
            LookupArg::One(Value::Bool(b)) => Node::IsNull(c, b),
            _ => return Err(err("expects true or false".into())),
        },
        "in" => match arg {
            LookupArg::List(vs) => Node::In(
                c,
                vs.into_iter()
                    .map(|v| coerce(v, col))
                    .collect::<Result<_, _>>()
                    .map_err(err)?,
            ),
            _ => return Err(err("expects a list, e.g. [1, 2, 3]".into())),
        },
        "range" => match arg {
            LookupArg::Range(lo, hi) => Node::Between(
                c,
                Operand::Value(coerce(lo, col).map_err(err)?),
                Operand::Value(coerce(hi, col).map_err(err)?),
            ),
            _ => return Err(err("expects a pair, e.g. (18, 30)".into())),
        },
        _ => unreachable!("every name in NAMES is handled"),
    })
}

fn unknown_field(meta: &ModelMeta, field: &str) -> OrmError {
    OrmError::UnknownField {
        model: meta.name,
        field: field.to_owned(),
        valid: valid_names(meta),
    }
}
