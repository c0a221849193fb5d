//! Statements: SQL, parameters, and what the layers need to decide.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::value::Value;

/// One SQL statement with its bound parameters and the facts the layers act
/// on: whether it is safe to repeat, whether it only reads, its own timeout
/// and a label.
///
/// Layers read these fields; they never parse the SQL to guess. Cloning is
/// cheap: the SQL and the parameters are shared (`Arc`), so a layer that
/// needs a changed copy (the timeout layer setting its default) bumps two
/// reference counts and copies no value. [`Statement::bind`] and
/// [`Statement::params_mut`] copy the parameters only when they are
/// shared at that moment (copy on write).
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
    /// `None` until the first parameter: a statement without parameters
    /// allocates nothing for them.
    params: Option<Arc<Vec<Value>>>,
    idempotent: bool,
    read_only: bool,
    timeout: Option<Duration>,
    label: Option<Cow<'static, str>>,
}

impl Statement {
    /// A statement with no parameters, not idempotent, no timeout of its own.
    pub fn new(sql: impl Into<Arc<str>>) -> Self {
        Statement {
            sql: sql.into(),
            params: None,
            idempotent: false,
            read_only: false,
            timeout: None,
            label: None,
        }
    }

    /// Appends a parameter.
    #[must_use]
    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.params_mut().push(value.into());
        self
    }

    /// Replaces all parameters.
    #[must_use]
    pub fn with_params(mut self, params: Vec<Value>) -> Self {
        self.params = Some(Arc::new(params));
        self
    }

    /// Marks the statement as safe to repeat after an ambiguous failure
    /// (a read, or a write whose effect is the same when applied twice).
    #[must_use]
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    /// Marks the statement as one that only reads, so that a router
    /// (covet-router) may send it, outside a transaction, to a read
    /// replica. The caller states the intent; nothing parses the SQL to
    /// check it, and a statement so marked that writes fails on a
    /// read-only replica. Adapters and the other layers ignore the mark,
    /// and inside a transaction it changes nothing.
    #[must_use]
    pub fn read_only(mut self, yes: bool) -> Self {
        self.read_only = yes;
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
        self.params.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Mutable access to the parameters, for callers that reuse a statement
    /// (copied first if a clone of this statement still shares them).
    pub fn params_mut(&mut self) -> &mut Vec<Value> {
        Arc::make_mut(self.params.get_or_insert_with(Arc::default))
    }

    /// The shared parameters (`None` when there are none), for an adapter
    /// that hands them to another thread (a blocking driver) without
    /// copying the values.
    pub fn params_arc(&self) -> Option<&Arc<Vec<Value>>> {
        self.params.as_ref()
    }

    /// Whether the statement may be repeated after an ambiguous failure.
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// Whether the caller marked the statement as one that only reads.
    pub fn is_read_only(&self) -> bool {
        self.read_only
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
            .field(
                "params",
                &format_args!("[{} redacted]", self.params().len()),
            )
            .field("idempotent", &self.idempotent)
            .field("read_only", &self.read_only)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A clone (what the timeout layer makes to set its default) shares
    /// the parameter values instead of copying them; changing the clone's
    /// parameters copies them then and leaves the original alone.
    #[test]
    fn clones_share_parameters_until_changed() {
        let stmt = Statement::new("SELECT $1, $2")
            .bind("a long text parameter")
            .bind(7_i64);
        let mut copy = stmt.clone().timeout(Duration::from_secs(1));
        assert!(Arc::ptr_eq(
            stmt.params_arc().unwrap(),
            copy.params_arc().unwrap()
        ));
        copy.params_mut()[1] = Value::I64(8);
        assert_eq!(stmt.params()[1], Value::I64(7));
        assert_eq!(copy.params()[1], Value::I64(8));
        assert!(Statement::new("SELECT 1").params_arc().is_none());
        assert!(Statement::new("SELECT 1").params().is_empty());
    }
}
