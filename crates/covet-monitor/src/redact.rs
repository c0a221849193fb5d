//! What the slow log keeps of a statement's text and parameters.

use covet_core::{Statement, Value};

use crate::fingerprint::{Fingerprint, may_carry_secret};

/// How much of a statement the slow log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Redaction {
    /// No statement text and no parameters: only the fingerprint id, the
    /// operation and the timings.
    None,
    /// The fingerprint text (every literal a `?`), no parameter values.
    /// The default.
    #[default]
    FingerprintOnly,
    /// The SQL as sent and the parameter values. Statements that may carry a
    /// credential (`PASSWORD`, `IDENTIFIED BY`, ...) still get the
    /// fingerprint text and no parameters.
    Raw,
}

impl Redaction {
    /// Parses `none`, `fingerprint` or `raw`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(Redaction::None),
            "fingerprint" | "fingerprint_only" => Some(Redaction::FingerprintOnly),
            "raw" => Some(Redaction::Raw),
            _ => None,
        }
    }
}

/// The text and parameters to record for `stmt` under `mode`.
///
/// ```
/// use covet_core::Statement;
/// use covet_monitor::{Fingerprint, Redaction, redact::recorded};
/// let ddl = Statement::new("ALTER USER app WITH PASSWORD 'hunter2'");
/// let fp = Fingerprint::of(ddl.sql());
/// let (text, params) = recorded(&ddl, &fp, Redaction::Raw);
/// assert!(!text.unwrap().contains("hunter2"));
/// assert!(params.is_none());
/// ```
pub fn recorded(
    stmt: &Statement,
    fp: &Fingerprint,
    mode: Redaction,
) -> (Option<String>, Option<Vec<String>>) {
    match mode {
        Redaction::None => (None, None),
        Redaction::FingerprintOnly => (Some(fp.text.clone()), None),
        Redaction::Raw if may_carry_secret(stmt.sql()) => (Some(fp.text.clone()), None),
        Redaction::Raw => (
            Some(stmt.sql().to_owned()),
            Some(stmt.params().iter().map(render).collect()),
        ),
    }
}

/// A captured plan as `mode` allows: under anything but [`Redaction::Raw`]
/// every quoted string constant becomes `'?'`. PostgreSQL prints the
/// values it planned with (`Filter: (email = 'bob@example.com'::text)`):
/// the statement's literals, or the bound values of a custom plan. Numbers
/// in conditions (`id = 42`) stay, like the plan's costs and row counts,
/// which cannot be told apart from them.
///
/// ```
/// use covet_monitor::{Redaction, redact::plan_text};
/// let plan = "Filter: (email = 'it''s me'::text)";
/// assert_eq!(plan_text(plan, Redaction::FingerprintOnly), "Filter: (email = '?'::text)");
/// assert_eq!(plan_text(plan, Redaction::Raw), plan);
/// ```
pub fn plan_text(plan: &str, mode: Redaction) -> String {
    if mode == Redaction::Raw {
        return plan.to_owned();
    }
    let mut out = String::with_capacity(plan.len());
    let mut chars = plan.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            out.push(c);
            continue;
        }
        out.push_str("'?'");
        // Skip to the closing quote; a doubled quote is part of the string,
        // and an unclosed string runs to the end.
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    break;
                }
            }
        }
    }
    out
}

/// A value as SQL-ish text (`'abc'`, `42`, `NULL`).
pub fn render(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::I16(n) => n.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::F32(n) => n.to_string(),
        Value::F64(n) => n.to_string(),
        Value::Decimal(d) => d.as_str().to_owned(),
        Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Bytes(b) => format!("<{} bytes>", b.len()),
        Value::Date(d) => format!("'{d}'"),
        Value::Time(t) => format!("'{t}'"),
        Value::Timestamp(t) => format!("'{t}'"),
        Value::TimestampTz(t) => format!("'{}'", t.to_rfc3339()),
        Value::Uuid(u) => format!("'{u}'"),
        Value::Json(j) => format!("'{}'", j.0.replace('\'', "''")),
        other => format!("<{}>", other.type_name()),
    }
}
