//! SQL text per [`Dialect`]: identifiers quoted, `$n` placeholders (each
//! adapter rewrites them for its engine), every value a parameter.
//!
//! The only text that reaches the SQL is the model's static metadata
//! (table and column names, quoted), fixed keywords, and placeholders.

use covet_core::{Dialect, Engine, Statement, Value};

use crate::expr::{CmpOp, Node, Operand, TextMatch};

/// SQL text and its parameters under construction.
pub(crate) struct SqlBuf {
    pub(crate) dialect: Dialect,
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
    /// The alias column references are qualified with (in joins).
    pub(crate) qualify: Option<&'static str>,
}

impl SqlBuf {
    pub(crate) fn new(dialect: Dialect) -> Self {
        SqlBuf {
            dialect,
            sql: String::with_capacity(128),
            params: Vec::new(),
            qualify: None,
        }
    }

    pub(crate) fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }

    pub(crate) fn ident(&mut self, name: &str) -> &mut Self {
        let q = self.dialect.quote_ident(name);
        self.sql.push_str(&q);
        self
    }

    /// A column reference, qualified by the current alias in joins.
    pub(crate) fn col(&mut self, name: &str) -> &mut Self {
        if let Some(q) = self.qualify {
            self.ident(q).push(".");
        }
        self.ident(name)
    }

    pub(crate) fn param(&mut self, v: Value) -> &mut Self {
        self.params.push(v);
        // Portable `$n`: the adapter rewrites it for `?` engines.
        use std::fmt::Write;
        let _ = write!(self.sql, "${}", self.params.len());
        self
    }

    pub(crate) fn operand(&mut self, op: &Operand) -> &mut Self {
        match op {
            Operand::Value(v) => self.param(v.clone()),
            Operand::Column(c) => self.col(c),
            Operand::Arith(l, op, r) => {
                self.push("(");
                self.operand(l).push(op.sql());
                self.operand(r).push(")")
            }
        }
    }

    pub(crate) fn finish(self) -> Statement {
        Statement::new(self.sql).with_params(self.params)
    }

    /// Writes a filter tree.
    pub(crate) fn node(&mut self, node: &Node) {
        match node {
            Node::Cmp(col, CmpOp::Eq, Operand::Value(Value::Null)) => {
                self.col(col).push(" IS NULL");
            }
            Node::Cmp(col, CmpOp::Ne, Operand::Value(Value::Null)) => {
                self.col(col).push(" IS NOT NULL");
            }
            Node::Cmp(col, op, rhs) => {
                self.col(col).push(" ").push(op.sql()).push(" ");
                self.operand(rhs);
            }
            Node::In(_, values) if values.is_empty() => {
                self.push("1 = 0");
            }
            Node::In(col, values) => {
                self.col(col).push(" IN (");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.param(v.clone());
                }
                self.push(")");
            }
            Node::Between(col, lo, hi) => {
                self.col(col).push(" BETWEEN ");
                self.operand(lo).push(" AND ");
                self.operand(hi);
            }
            Node::Like(col, pattern) => {
                self.col(col).push(" LIKE ");
                self.param(pattern.clone());
            }
            Node::Text(col, how, s) => self.text_match(col, *how, s),
            Node::IsNull(col, true) => {
                self.col(col).push(" IS NULL");
            }
            Node::IsNull(col, false) => {
                self.col(col).push(" IS NOT NULL");
            }
            Node::InSelect(col, table, key, filter) => {
                // Unqualified names inside the subquery resolve to its own
                // table first, and they all come from that table's metadata.
                self.col(col).push(" IN (SELECT ");
                self.ident(key).push(" FROM ").ident(table).push(" WHERE ");
                // Names inside belong to the subquery's own table.
                let outer = self.qualify.take();
                self.node(filter);
                self.qualify = outer;
                self.push(")");
            }
            Node::And(nodes) => self.join(nodes, " AND ", "1 = 1"),
            Node::Or(nodes) => self.join(nodes, " OR ", "1 = 0"),
            Node::Not(inner) => {
                self.push("NOT (");
                self.node(inner);
                self.push(")");
            }
        }
    }

    fn join(&mut self, nodes: &[Node], sep: &str, empty: &str) {
        if nodes.is_empty() {
            self.push(empty);
            return;
        }
        for (i, n) in nodes.iter().enumerate() {
            if i > 0 {
                self.push(sep);
            }
            self.push("(");
            self.node(n);
            self.push(")");
        }
    }

    /// Case-sensitive matches differ per engine: PostgreSQL's LIKE is
    /// case-sensitive, MySQL's follows the column collation (usually
    /// case-insensitive, hence `BINARY`), SQLite's LIKE ignores ASCII case
    /// (hence GLOB, whose wildcards are escaped by bracketing).
    fn text_match(&mut self, col: &'static str, how: TextMatch, s: &str) {
        match how {
            TextMatch::IExact => {
                self.push("LOWER(").col(col).push(") = LOWER(");
                self.param(Value::Text(s.to_owned())).push(")");
            }
            TextMatch::IContains => {
                let pat = format!("%{}%", like_escape(s));
                self.push("LOWER(").col(col).push(") LIKE LOWER(");
                self.param(Value::Text(pat)).push(") ESCAPE '!'");
            }
            TextMatch::Contains | TextMatch::StartsWith | TextMatch::EndsWith => {
                let (pre, post) = match how {
                    TextMatch::Contains => (true, true),
                    TextMatch::StartsWith => (false, true),
                    _ => (true, false),
                };
                if self.dialect.engine == Engine::Sqlite {
                    let w = |b| if b { "*" } else { "" };
                    let pat = format!("{}{}{}", w(pre), glob_escape(s), w(post));
                    self.col(col).push(" GLOB ");
                    self.param(Value::Text(pat));
                } else {
                    let w = |b| if b { "%" } else { "" };
                    let pat = format!("{}{}{}", w(pre), like_escape(s), w(post));
                    self.col(col);
                    if self.dialect.engine == Engine::MySql {
                        self.push(" LIKE BINARY ");
                    } else {
                        self.push(" LIKE ");
                    }
                    self.param(Value::Text(pat)).push(" ESCAPE '!'");
                }
            }
        }
    }
}

/// Escapes LIKE wildcards with `!` (chosen over backslash because MySQL
/// treats backslash in string literals specially).
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

/// Escapes GLOB wildcards by putting each in a one-character class.
pub(crate) fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

/// A filter tree as text with every value replaced by `?`, for `Debug`.
pub(crate) fn describe(node: &Node) -> String {
    let mut b = SqlBuf::new(Dialect::POSTGRES);
    b.node(node);
    b.params.clear();
    b.sql
}
