//! Scenario files: a workload written in TOML.
//!
//! ```toml
//! name = "profile page"
//! setup = true                   # create and seed the standard data set (default)
//!
//! [[statement]]
//! name = "read_users"
//! builtin = "read_users"         # reuse a built-in statement
//! weight = 60
//!
//! [[statement]]
//! name = "by_age"
//! sql = "SELECT id, name FROM users WHERE age BETWEEN $1 AND $2 LIMIT 20"
//! weight = 40
//! read = true                    # only reads: a replica may serve it
//! params = [{ int32 = [10, 40] }, { int32 = [41, 80] }]
//! ```
//!
//! `read = true` is the author's word that a statement only reads (nothing
//! parses the SQL): over a multi-host URL its executions go to a replica.
//! Built-in reads (`read_users`, `complex_join`, `point_select`) are reads
//! already; `read = false` sends one to the primary.
//!
//! Parameter generators, one per `$n` in order:
//! `{ int = [min, max] }` (BIGINT), `{ int32 = [min, max] }` (INTEGER),
//! `{ sequence = start }` or `{ sequence = start, step = n }`,
//! `{ choice = [v, ...] }` (strings, integers, floats, booleans),
//! `{ string = [min_len, max_len] }` (random lowercase text),
//! `{ value = v }` (a constant), and the strings `"unique_email"` and `"now"`.
//! Every mistake is reported with its line and column.

use std::ops::Range;

use covet_core::Value;
use serde::Deserialize;
use toml::Spanned;

use crate::error::{LoadtestError, Result};
use crate::workload::{
    BUILTIN_STATEMENTS, ParamGen, StatementKind, StatementSpec, builtin_statement,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    name: Option<String>,
    setup: Option<bool>,
    #[serde(default)]
    statement: Vec<Spanned<StmtDoc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StmtDoc {
    name: Spanned<String>,
    sql: Option<Spanned<String>>,
    builtin: Option<Spanned<String>>,
    weight: Option<Spanned<f64>>,
    kind: Option<Spanned<String>>,
    read: Option<bool>,
    params: Option<Vec<Spanned<toml::Value>>>,
}

/// A parsed scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The scenario's name (the file name when it gives none).
    pub name: String,
    /// Whether to create and seed the standard data set before running.
    pub setup: bool,
    /// The statements.
    pub statements: Vec<StatementSpec>,
}

struct Ctx<'a> {
    path: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> LoadtestError {
        let at = span.start.min(self.text.len());
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        LoadtestError::Scenario {
            path: self.path.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

impl Scenario {
    /// Reads and parses a scenario file for scale factor `scale` (which
    /// sizes the built-in statements' id ranges).
    pub fn from_file(path: &std::path::Path, scale: f64) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| LoadtestError::io(format!("reading scenario {}", path.display()), e))?;
        Self::parse(&path.display().to_string(), &text, scale)
    }

    /// Parses scenario text; `path` is only used in messages.
    pub fn parse(path: &str, text: &str, scale: f64) -> Result<Self> {
        let ctx = Ctx { path, text };
        let doc: FileDoc = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            ctx.err(span, e.message().trim().to_string())
        })?;
        if doc.statement.is_empty() {
            return Err(ctx.err(
                0..0,
                "no [[statement]] tables: a scenario needs at least one",
            ));
        }
        let mut statements: Vec<StatementSpec> = Vec::new();
        for st in doc.statement {
            let whole = st.span();
            let st = st.into_inner();
            let name = st.name.get_ref().trim().to_string();
            if name.is_empty() {
                return Err(ctx.err(st.name.span(), "the statement name is empty"));
            }
            if statements.iter().any(|s| s.name == name) {
                return Err(ctx.err(
                    st.name.span(),
                    format!("statement `{name}` is defined twice"),
                ));
            }
            let mut spec = match (&st.builtin, &st.sql) {
                (Some(b), None) => {
                    let mut spec = builtin_statement(b.get_ref(), scale).ok_or_else(|| {
                        ctx.err(
                            b.span(),
                            format!(
                                "unknown built-in statement `{}`; built-ins are: {}",
                                b.get_ref(),
                                BUILTIN_STATEMENTS.join(", ")
                            ),
                        )
                    })?;
                    spec.name = name.clone();
                    spec
                }
                (None, Some(sql)) => {
                    if sql.get_ref().trim().is_empty() {
                        return Err(ctx.err(sql.span(), "the SQL is empty"));
                    }
                    StatementSpec::new(name.clone(), sql.get_ref().clone(), 1.0)
                }
                (Some(b), Some(_)) => {
                    return Err(ctx.err(b.span(), "give either `builtin` or `sql`, not both"));
                }
                (None, None) => {
                    return Err(ctx.err(
                        whole,
                        format!("statement `{name}` needs `sql` (or `builtin`)"),
                    ));
                }
            };
            if let Some(w) = &st.weight {
                let v = *w.get_ref();
                if !(v.is_finite() && v > 0.0) {
                    return Err(ctx.err(w.span(), "the weight must be a positive number"));
                }
                spec.weight = v;
            } else if st.builtin.is_none() {
                spec.weight = 1.0;
            }
            if let Some(k) = &st.kind {
                spec.kind = match k.get_ref().as_str() {
                    "query" => StatementKind::Query,
                    "execute" => StatementKind::Execute,
                    other => {
                        return Err(ctx.err(
                            k.span(),
                            format!("unknown kind `{other}`: expected `query` or `execute`"),
                        ));
                    }
                };
            }
            if let Some(read) = st.read {
                spec.read = read;
            }
            if let Some(params) = st.params {
                spec.params = params
                    .iter()
                    .map(|p| parse_param(&ctx, p))
                    .collect::<Result<_>>()?;
            }
            let highest = covet_core::Dialect::SQLITE
                .placeholder_order(&spec.sql)
                .into_iter()
                .map(|i| i + 1)
                .max()
                .unwrap_or(0);
            if highest != spec.params.len() {
                let at = st.sql.as_ref().map_or(whole.clone(), Spanned::span);
                return Err(ctx.err(
                    at,
                    format!(
                        "statement `{name}`: the SQL uses {highest} placeholder(s) ($1..${highest}) but {} parameter generator(s) are given",
                        spec.params.len()
                    ),
                ));
            }
            statements.push(spec);
        }
        Ok(Scenario {
            name: doc.name.unwrap_or_else(|| {
                std::path::Path::new(path)
                    .file_stem()
                    .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned())
            }),
            setup: doc.setup.unwrap_or(true),
            statements,
        })
    }
}

fn scalar(ctx: &Ctx<'_>, span: Range<usize>, v: &toml::Value) -> Result<Value> {
    Ok(match v {
        toml::Value::String(s) => Value::Text(s.clone()),
        toml::Value::Integer(i) => Value::I64(*i),
        toml::Value::Float(f) => Value::F64(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => {
            return Err(ctx.err(
                span,
                format!(
                    "a value must be a string, integer, float or boolean, not {}",
                    other.type_str()
                ),
            ));
        }
    })
}

fn pair(ctx: &Ctx<'_>, span: Range<usize>, key: &str, v: &toml::Value) -> Result<(i64, i64)> {
    let msg = format!("`{key}` takes two integers `[min, max]` with min <= max");
    match v.as_array().map(Vec::as_slice) {
        Some([toml::Value::Integer(a), toml::Value::Integer(b)]) if a <= b => Ok((*a, *b)),
        _ => Err(ctx.err(span, msg)),
    }
}

fn parse_param(ctx: &Ctx<'_>, p: &Spanned<toml::Value>) -> Result<ParamGen> {
    let span = p.span();
    const KINDS: &str = "int, int32, sequence, choice, string, value, \"unique_email\", \"now\"";
    match p.get_ref() {
        toml::Value::String(s) => match s.as_str() {
            "unique_email" => Ok(ParamGen::UniqueEmail),
            "now" => Ok(ParamGen::Now),
            other => Err(ctx.err(
                span,
                format!("unknown parameter generator `{other}`; expected one of {KINDS}"),
            )),
        },
        toml::Value::Table(t) => {
            let mut keys: Vec<&str> = t.keys().map(String::as_str).collect();
            keys.retain(|k| *k != "step");
            let [key] = keys.as_slice() else {
                return Err(ctx.err(
                    span,
                    format!("a parameter generator has exactly one of: {KINDS}"),
                ));
            };
            if t.contains_key("step") && *key != "sequence" {
                return Err(ctx.err(span, "`step` belongs to `sequence` only"));
            }
            let v = &t[*key];
            match *key {
                "int" | "int32" => {
                    let (min, max) = pair(ctx, span.clone(), key, v)?;
                    let int32 = *key == "int32";
                    if int32 && (i32::try_from(min).is_err() || i32::try_from(max).is_err()) {
                        return Err(ctx.err(span, "`int32` bounds must fit in 32 bits"));
                    }
                    Ok(ParamGen::IntRange { min, max, int32 })
                }
                "string" => {
                    let (a, b) = pair(ctx, span.clone(), key, v)?;
                    if a < 0 || b > 1_000_000 {
                        return Err(
                            ctx.err(span, "`string` lengths must be between 0 and 1,000,000")
                        );
                    }
                    Ok(ParamGen::RandomString {
                        min_len: a as usize,
                        max_len: b as usize,
                    })
                }
                "sequence" => {
                    let start = v.as_integer().ok_or_else(|| {
                        ctx.err(span.clone(), "`sequence` takes an integer start")
                    })?;
                    let step = match t.get("step") {
                        None => 1,
                        Some(s) => s
                            .as_integer()
                            .ok_or_else(|| ctx.err(span.clone(), "`step` must be an integer"))?,
                    };
                    Ok(ParamGen::Sequence { start, step })
                }
                "choice" => {
                    let arr = v
                        .as_array()
                        .filter(|a| !a.is_empty())
                        .ok_or_else(|| ctx.err(span.clone(), "`choice` takes a non-empty array"))?;
                    let values = arr
                        .iter()
                        .map(|x| scalar(ctx, span.clone(), x))
                        .collect::<Result<_>>()?;
                    Ok(ParamGen::Choice(values))
                }
                "value" => Ok(ParamGen::Const(scalar(ctx, span, v)?)),
                other => Err(ctx.err(
                    span,
                    format!("unknown parameter generator `{other}`; expected one of {KINDS}"),
                )),
            }
        }
        other => Err(ctx.err(
            span,
            format!(
                "a parameter generator is a table or a string, not {}",
                other.type_str()
            ),
        )),
    }
}
