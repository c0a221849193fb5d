//! Workloads: named statements, their weights and parameter generators.

use std::sync::Arc;

use chrono::Utc;
use covet_core::{Dialect, Statement, Value};

use crate::error::{LoadtestError, Result};
use crate::rng::Rng;

/// How one bound parameter is produced for each execution.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ParamGen {
    /// The same value every time.
    Const(Value),
    /// An integer uniform in `min..=max`; bound as INTEGER when `int32`,
    /// else BIGINT.
    IntRange {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
        /// Bind as a 32-bit integer.
        int32: bool,
    },
    /// `start`, `start + step`, ... (a BIGINT).
    Sequence {
        /// First value.
        start: i64,
        /// Increment.
        step: i64,
    },
    /// One of the values, uniformly.
    Choice(Vec<Value>),
    /// Random lowercase ASCII text with a length in `min_len..=max_len`.
    RandomString {
        /// Shortest length.
        min_len: usize,
        /// Longest length.
        max_len: usize,
    },
    /// An email address never produced before, in this run or any other
    /// (a per-run token and a counter).
    UniqueEmail,
    /// The current time as a TIMESTAMP.
    Now,
}

/// Whether a statement returns rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// Run with `Adapter::query`.
    Query,
    /// Run with `Adapter::execute`.
    Execute,
}

impl StatementKind {
    /// Guesses from the first keyword: SELECT, WITH, SHOW, VALUES, EXPLAIN
    /// and statements with RETURNING return rows.
    pub fn infer(sql: &str) -> Self {
        let head = sql
            .trim_start()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let rows = matches!(
            head.as_str(),
            "SELECT" | "WITH" | "SHOW" | "VALUES" | "EXPLAIN" | "PRAGMA"
        ) || sql.to_ascii_uppercase().contains(" RETURNING ");
        if rows {
            StatementKind::Query
        } else {
            StatementKind::Execute
        }
    }
}

/// One statement of a workload, in portable SQL (`$1`, `$2`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct StatementSpec {
    /// The name used in reports.
    pub name: String,
    /// Portable SQL: placeholders written `$n`, rewritten per dialect.
    pub sql: String,
    /// Relative weight in the mix (> 0).
    pub weight: f64,
    /// One generator per placeholder number (`$1` is `params[0]`).
    pub params: Vec<ParamGen>,
    /// Query or execute.
    pub kind: StatementKind,
    /// The workload author's word that the statement only reads: its
    /// executions are marked [`Statement::read_only`], so a router sends
    /// them to a replica. Nothing parses the SQL to decide this; a
    /// statement that writes must not set it.
    pub read: bool,
}

impl StatementSpec {
    /// A statement; its kind is inferred from the SQL.
    pub fn new(name: impl Into<String>, sql: impl Into<String>, weight: f64) -> Self {
        let sql = sql.into();
        StatementSpec {
            name: name.into(),
            kind: StatementKind::infer(&sql),
            sql,
            weight,
            params: Vec::new(),
            read: false,
        }
    }

    /// Declares whether the statement only reads (the `read` field): a read
    /// is sent to a replica when the adapter is a router.
    #[must_use]
    pub fn read(mut self, read: bool) -> Self {
        self.read = read;
        self
    }

    /// Appends a parameter generator.
    #[must_use]
    pub fn param(mut self, generator: ParamGen) -> Self {
        self.params.push(generator);
        self
    }
}

/// The statements of ../shared/workload.md's load-test mix and micro
/// workloads, at scale factor `scale`.
pub(crate) fn builtin_statement(name: &str, scale: f64) -> Option<StatementSpec> {
    let users = crate::setup::users_for_scale(scale);
    Some(match name {
        "read_users" => StatementSpec::new(
            "read_users",
            "SELECT id, name, email, age FROM users WHERE age > $1 LIMIT 100",
            80.0,
        )
        .read(true)
        .param(ParamGen::Const(Value::I32(18))),
        "write_user" => StatementSpec::new(
            "write_user",
            "INSERT INTO users (name, email, age, created_at) VALUES ($1, $2, $3, $4)",
            15.0,
        )
        .param(ParamGen::RandomString {
            min_len: 5,
            max_len: 20,
        })
        .param(ParamGen::UniqueEmail)
        .param(ParamGen::IntRange {
            min: 10,
            max: 80,
            int32: true,
        })
        .param(ParamGen::Now),
        "complex_join" => StatementSpec::new(
            "complex_join",
            "SELECT u.id, u.name, COUNT(p.id) AS post_count FROM users u \
             LEFT JOIN posts p ON p.user_id = u.id WHERE u.id BETWEEN $1 AND $1 + 99 \
             GROUP BY u.id, u.name HAVING COUNT(p.id) > 10",
            5.0,
        )
        .read(true)
        .param(ParamGen::IntRange {
            min: 1,
            max: users - 99,
            int32: false,
        }),
        "point_select" => StatementSpec::new(
            "point_select",
            "SELECT id, name, email, age FROM users WHERE id = $1",
            1.0,
        )
        .read(true)
        .param(ParamGen::IntRange {
            min: 1,
            max: users,
            int32: false,
        }),
        _ => return None,
    })
}

/// The names [`builtin_statement`] knows.
pub(crate) const BUILTIN_STATEMENTS: &[&str] =
    &["read_users", "write_user", "complex_join", "point_select"];

/// The seed's mix: 80% read_users, 15% write_user, 5% complex_join.
pub fn seed_mix(scale: f64) -> Vec<StatementSpec> {
    ["read_users", "write_user", "complex_join"]
        .iter()
        .filter_map(|n| builtin_statement(n, scale))
        .collect()
}

/// point_select alone.
pub fn point_select(scale: f64) -> Vec<StatementSpec> {
    builtin_statement("point_select", scale)
        .into_iter()
        .collect()
}

struct Prepared {
    spec: StatementSpec,
    sql: Arc<str>,
    /// The statement's name as its label, interned so that labelling each
    /// execution allocates nothing.
    label: &'static str,
    /// For `?` engines: which parameter each placeholder occurrence takes.
    order: Option<Vec<usize>>,
    sequences: Vec<i64>,
}

/// A workload bound to a dialect: draws statements by weight and fills in
/// their parameters. Deterministic for a given seed (apart from
/// [`ParamGen::UniqueEmail`]'s run token and [`ParamGen::Now`]).
pub struct Workload {
    name: String,
    statements: Vec<Prepared>,
    cumulative: Vec<f64>,
    rng: Rng,
    email_token: String,
    email_counter: u64,
}

impl std::fmt::Debug for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workload")
            .field("name", &self.name)
            .field("statements", &self.names())
            .finish()
    }
}

fn highest_placeholder(dialect_free_sql: &str) -> usize {
    Dialect::SQLITE
        .placeholder_order(dialect_free_sql)
        .into_iter()
        .map(|i| i + 1)
        .max()
        .unwrap_or(0)
}

impl Workload {
    /// Binds `specs` to `dialect`. Fails when the list is empty, a weight is
    /// not positive, two statements share a name, or the number of
    /// generators differs from the highest `$n` in the SQL.
    pub fn new(
        name: impl Into<String>,
        specs: Vec<StatementSpec>,
        dialect: Dialect,
        seed: u64,
    ) -> Result<Self> {
        if specs.is_empty() {
            return Err(LoadtestError::config("the workload has no statements"));
        }
        let mut statements = Vec::with_capacity(specs.len());
        for spec in specs {
            if !(spec.weight.is_finite() && spec.weight > 0.0) {
                return Err(LoadtestError::config(format!(
                    "statement `{}`: weight must be a positive number",
                    spec.name
                )));
            }
            if statements
                .iter()
                .any(|p: &Prepared| p.spec.name == spec.name)
            {
                return Err(LoadtestError::config(format!(
                    "statement `{}` is defined twice",
                    spec.name
                )));
            }
            let highest = highest_placeholder(&spec.sql);
            if highest != spec.params.len() {
                return Err(LoadtestError::config(format!(
                    "statement `{}`: the SQL uses {highest} placeholder(s) but {} parameter generator(s) are given",
                    spec.name,
                    spec.params.len()
                )));
            }
            let sql: Arc<str> = dialect.rewrite_placeholders(&spec.sql).into_owned().into();
            let order = (dialect.placeholders == covet_core::PlaceholderStyle::Question)
                .then(|| dialect.placeholder_order(&spec.sql));
            let sequences = spec
                .params
                .iter()
                .map(|p| match p {
                    ParamGen::Sequence { start, .. } => *start,
                    _ => 0,
                })
                .collect();
            statements.push(Prepared {
                label: intern(&spec.name),
                spec,
                sql,
                order,
                sequences,
            });
        }
        let mut w = Workload {
            name: name.into(),
            statements,
            cumulative: Vec::new(),
            rng: Rng::new(seed),
            email_token: run_token(),
            email_counter: 0,
        };
        w.rebuild_weights();
        Ok(w)
    }

    fn rebuild_weights(&mut self) {
        let mut acc = 0.0;
        self.cumulative = self
            .statements
            .iter()
            .map(|p| {
                acc += p.spec.weight;
                acc
            })
            .collect();
    }

    /// Keeps only the named statements (weights renormalised). An unknown
    /// name is an error listing the known ones.
    pub fn retain(&mut self, names: &[String]) -> Result<()> {
        for n in names {
            if !self.statements.iter().any(|p| &p.spec.name == n) {
                return Err(LoadtestError::UnknownStatement {
                    name: n.clone(),
                    known: self.names().join(", "),
                });
            }
        }
        self.statements.retain(|p| names.contains(&p.spec.name));
        self.rebuild_weights();
        Ok(())
    }

    /// The number of statements.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Whether there is no statement (never, for a workload that was
    /// built: [`Workload::new`] refuses an empty list).
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The workload's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The statement names, in definition order (their report indexes).
    pub fn names(&self) -> Vec<String> {
        self.statements
            .iter()
            .map(|p| p.spec.name.clone())
            .collect()
    }

    /// The statements as bound to the dialect.
    pub fn specs(&self) -> impl Iterator<Item = &StatementSpec> {
        self.statements.iter().map(|p| &p.spec)
    }

    /// Each statement's share of the mix (weights normalised to 1).
    pub fn shares(&self) -> Vec<f64> {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        self.statements
            .iter()
            .map(|p| p.spec.weight / total)
            .collect()
    }

    /// Draws the index of the next statement by weight.
    pub fn pick(&mut self) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let x = self.rng.next_f64() * total;
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.statements.len() - 1)
    }

    /// Whether statement `idx` returns rows.
    pub fn kind(&self, idx: usize) -> StatementKind {
        self.statements[idx].spec.kind
    }

    /// Builds statement `idx` with fresh parameters.
    pub fn build(&mut self, idx: usize) -> Statement {
        let n = self.statements[idx].spec.params.len();
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            let v = self.generate(idx, i);
            values.push(v);
        }
        let p = &self.statements[idx];
        let values = match &p.order {
            Some(order)
                if order.len() != values.len()
                    || order.iter().enumerate().any(|(a, &b)| a != b) =>
            {
                order.iter().map(|&i| values[i].clone()).collect()
            }
            _ => values,
        };
        Statement::new(Arc::clone(&p.sql))
            .with_params(values)
            .idempotent(p.spec.kind == StatementKind::Query)
            .read_only(p.spec.read)
            .label(p.label)
    }

    /// Draws a statement by weight and builds it: `(index, statement)`.
    pub fn next_statement(&mut self) -> (usize, Statement) {
        let idx = self.pick();
        (idx, self.build(idx))
    }

    fn generate(&mut self, idx: usize, param: usize) -> Value {
        let gen_ = &self.statements[idx].spec.params[param];
        match gen_ {
            ParamGen::Const(v) => v.clone(),
            ParamGen::IntRange { min, max, int32 } => {
                let v = self.rng.range_i64(*min, *max);
                if *int32 {
                    Value::I32(v as i32)
                } else {
                    Value::I64(v)
                }
            }
            ParamGen::Sequence { step, .. } => {
                let step = *step;
                let slot = &mut self.statements[idx].sequences[param];
                let v = *slot;
                *slot = slot.wrapping_add(step);
                Value::I64(v)
            }
            ParamGen::Choice(values) => {
                let i = self.rng.below(values.len());
                values[i].clone()
            }
            ParamGen::RandomString { min_len, max_len } => {
                let (lo, hi) = (*min_len, *max_len);
                let len = lo + self.rng.below(hi - lo + 1);
                Value::Text(random_text(&mut self.rng, len))
            }
            ParamGen::UniqueEmail => {
                self.email_counter += 1;
                Value::Text(format!(
                    "lt{}-{}@loadtest.example",
                    self.email_token, self.email_counter
                ))
            }
            ParamGen::Now => Value::Timestamp(Utc::now().naive_utc()),
        }
    }
}

/// `name` with a `'static` lifetime: each distinct name is leaked once per
/// process and reused by every later workload, so the leak is bounded by
/// the number of distinct statement names ever used.
fn intern(name: &str) -> &'static str {
    static NAMES: parking_lot::Mutex<Vec<&'static str>> = parking_lot::Mutex::new(Vec::new());
    let mut names = NAMES.lock();
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.push(leaked);
    leaked
}

pub(crate) fn random_text(rng: &mut Rng, len: usize) -> String {
    (0..len)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect()
}

/// A token distinct for each run: emails stay unique across runs against
/// the same table.
fn run_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut r = Rng::new(nanos ^ (u64::from(std::process::id()) << 32));
    format!("{:012x}", r.next_u64() >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_binds_repeated_placeholders_twice() {
        let mut w = Workload::new("seed", seed_mix(1.0), Dialect::MYSQL, 1).unwrap();
        let idx = w.names().iter().position(|n| n == "complex_join").unwrap();
        let s = w.build(idx);
        assert_eq!(s.params().len(), 2);
        assert_eq!(s.params()[0], s.params()[1]);
        assert!(s.sql().contains("BETWEEN ? AND ? + 99"));
        let mut w = Workload::new("seed", seed_mix(1.0), Dialect::POSTGRES, 1).unwrap();
        assert_eq!(w.build(idx).params().len(), 1);
    }

    #[test]
    fn generator_count_must_match_placeholders() {
        let spec = StatementSpec::new("x", "SELECT $1, $2", 1.0).param(ParamGen::Now);
        let e = Workload::new("w", vec![spec], Dialect::SQLITE, 1).unwrap_err();
        assert!(e.to_string().contains("2 placeholder(s) but 1"), "{e}");
    }

    #[test]
    fn unknown_names_are_listed() {
        let mut w = Workload::new("seed", seed_mix(1.0), Dialect::SQLITE, 1).unwrap();
        let e = w.retain(&["read_user".to_string()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown statement `read_user`; this workload has: read_users, write_user, complex_join"
        );
    }

    #[test]
    fn builtin_reads_are_marked_read_only_and_the_write_is_not() {
        let mut specs = seed_mix(1.0);
        specs.extend(point_select(1.0));
        let mut w = Workload::new("all", specs, Dialect::POSTGRES, 1).unwrap();
        for (idx, name) in w.names().into_iter().enumerate() {
            let read_only = w.build(idx).is_read_only();
            assert_eq!(read_only, name != "write_user", "{name}");
        }
        let plain = StatementSpec::new("x", "SELECT 1", 1.0);
        let mut w = Workload::new("w", vec![plain], Dialect::SQLITE, 1).unwrap();
        assert!(!w.build(0).is_read_only(), "read intent is opt-in");
    }

    #[test]
    fn emails_are_unique_and_sequences_step() {
        let spec = StatementSpec::new("x", "INSERT INTO t VALUES ($1, $2)", 1.0)
            .param(ParamGen::UniqueEmail)
            .param(ParamGen::Sequence { start: 5, step: 2 });
        let mut w = Workload::new("w", vec![spec], Dialect::SQLITE, 1).unwrap();
        let a = w.build(0);
        let b = w.build(0);
        assert_ne!(a.params()[0], b.params()[0]);
        assert_eq!(a.params()[1], Value::I64(5));
        assert_eq!(b.params()[1], Value::I64(7));
        assert_eq!(w.kind(0), StatementKind::Execute);
    }
}
