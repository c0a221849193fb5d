//! Statements: SQL, parameters, and what the layers need to decide.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::value::Value;

/// One SQL statement with its bound parameters and the facts the layers act
/// on: whether it is safe to repeat, its own timeout and a label.
///
/// Layers read these fields; they never parse the SQL to guess. Cloning is
/// cheap for the SQL (shared) and copies the parameters.
///
/// `Debug` shows the SQL and the number of parameters, never their values.
///
/// ```
/// use std::time::Duration;
/// use covet_core::Statement;
///
/// let stmt = Statement::new("SELECT name FROM users WHERE id = $1")
///     .bind(42_i64)
///     .idempotent(true)
///     .timeout(Duration::from_millis(500))
///     .label("user_by_id");
/// assert_eq!(stmt.params().len(), 1);
/// assert!(!format!("{stmt:?}").contains("42"));
/// ```
#[derive(Clone)]
pub struct Statement {
    sql: Arc<str>,
    params: Vec<Value>,
    idempotent: bool,
    timeout: Option<Duration>,
    label: Option<Cow<'static, str>>,
}

impl Statement {
    /// A statement with no parameters, not idempotent, no timeout of its own.
    pub fn new(sql: impl Into<Arc<str>>) -> Self {
        Statement {
            sql: sql.into(),
            params: Vec::new(),
            idempotent: false,
            timeout: None,
            label: None,
        }
    }

    /// Appends a parameter.
    #[must_use]
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Replaces all parameters.
    #[must_use]
    pub fn with_params(mut self, params: Vec<Value>) -> Self {
        self.params = params;
        self
    }

    /// Marks the statement as safe to repeat after an ambiguous failure
    /// (a read, or a write whose effect is the same when applied twice).
    #[must_use]
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    /// Sets this statement's own timeout, overriding the adapter default.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Names the statement for metrics, logs and load-test reports.
    #[must_use]
    pub fn label(mut self, label: impl Into<Cow<'static, str>>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The shared SQL text (cheap to clone, usable as a cache key).
    pub fn sql_arc(&self) -> &Arc<str> {
        &self.sql
    }

    /// The bound parameters.
    pub fn params(&self) -> &[Value] {
        &self.params
    }

    /// Mutable access to the parameters, for callers that reuse a statement.
    pub fn params_mut(&mut self) -> &mut Vec<Value> {
        &mut self.params
    }

    /// Whether the statement may be repeated after an ambiguous failure.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// This statement's own timeout, if any.
    pub fn timeout_duration(&self) -> Option<Duration> {
        self.timeout
    }

    /// The label, if any.
    pub fn label_str(&self) -> Option<&str> {
        self.label.as_deref()
    }
}

impl fmt::Debug for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Statement")
            .field("sql", &&*self.sql)
            .field("params", &format_args!("[{} redacted]", self.params.len()))
            .field("idempotent", &self.idempotent)
            .field("timeout", &self.timeout)
            .field("label", &self.label)
            .finish()
    }
}

impl From<&str> for Statement {
    fn from(sql: &str) -> Self {
        Statement::new(sql)
    }
}

impl From<String> for Statement {
    fn from(sql: String) -> Self {
        Statement::new(sql)
    }
}
