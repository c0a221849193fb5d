//! Rows and their shared column metadata.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::value::{FromValue, Value};

/// One result column: its name and the server's name for its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column name (or alias) as the server reported it.
    pub name: String,
    /// The server's type name (`int4`, `VARCHAR`, `INTEGER`, ...), for
    /// messages and tools; empty when the server did not say.
    pub type_name: String,
}

impl Column {
    /// A column with a name and a server type name.
    pub fn new(name: impl Into<String>, type_name: impl Into<String>) -> Self {
        Column {
            name: name.into(),
            type_name: type_name.into(),
        }
    }
}

/// The columns of a result, shared by every row of it through an [`Arc`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Columns {
    columns: Vec<Column>,
}

impl Columns {
    /// Wraps column metadata for sharing between rows.
    pub fn new(columns: Vec<Column>) -> Arc<Self> {
        Arc::new(Columns { columns })
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether there are no columns (the result of an execute).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The column at `idx`.
    pub fn get(&self, idx: usize) -> Option<&Column> {
        self.columns.get(idx)
    }

    /// The index of the first column called `name` (exact match first, then
    /// ASCII case-insensitive, since engines fold unquoted names differently).
    pub fn position(&self, name: &str) -> Option<usize> {
        // A linear scan beats hashing for the handful of columns a row has.
        self.columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
            })
    }

    /// Iterates over the columns.
    pub fn iter(&self) -> std::slice::Iter<'_, Column> {
        self.columns.iter()
    }
}

/// Something that names a column: its index or its name.
pub trait ColumnIndex: fmt::Display + Copy {
    /// Resolves to an index, or `None` when there is no such column.
    fn index(self, columns: &Columns) -> Option<usize>;
}

impl ColumnIndex for usize {
    fn index(self, columns: &Columns) -> Option<usize> {
        (self < columns.len()).then_some(self)
    }
}

impl ColumnIndex for &str {
    fn index(self, columns: &Columns) -> Option<usize> {
        columns.position(self)
    }
}

/// One row of a result.
///
/// `Debug` prints column names and value types only, never the values,
/// because rows may hold personal data that must not reach logs.
#[derive(Clone, PartialEq)]
pub struct Row {
    columns: Arc<Columns>,
    values: Vec<Value>,
}

impl Row {
    /// A row over shared column metadata. Adapters build these; `values`
    /// must have one entry per column.
    pub fn new(columns: Arc<Columns>, values: Vec<Value>) -> Self {
        debug_assert_eq!(columns.len(), values.len());
        Row { columns, values }
    }

    /// The column metadata shared with the other rows of the result.
    pub fn columns(&self) -> &Arc<Columns> {
        &self.columns
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The raw values, in column order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Takes the values out of the row.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }

    /// The raw value of a column.
    pub fn value(&self, col: impl ColumnIndex) -> Result<&Value> {
        let idx = col.index(&self.columns).ok_or_else(|| {
            Error::new(
                ErrorKind::Decode,
                format!("no column {col} in a row of {} columns", self.columns.len()),
            )
        })?;
        Ok(&self.values[idx])
    }

    /// Reads a column as `T`, by index or name.
    ///
    /// The error names the column, the Rust type asked for and the type of
    /// the value found:
    ///
    /// ```
    /// use covet_core::{Column, Columns, Row, Value};
    /// let cols = Columns::new(vec![Column::new("age", "int4")]);
    /// let row = Row::new(cols, vec![Value::I32(42)]);
    /// assert_eq!(row.get::<i64>("age").unwrap(), 42);
    /// let err = row.get::<String>("age").unwrap_err();
    /// assert_eq!(err.to_string(), "column `age` (int4): cannot read a i32 value as String");
    /// ```
    pub fn get<T: FromValue>(&self, col: impl ColumnIndex) -> Result<T> {
        let value = self.value(col)?;
        T::from_value(value).map_err(|e| {
            let idx = col.index(&self.columns).unwrap_or(0);
            let column = &self.columns.columns[idx];
            Error::new(
                ErrorKind::Decode,
                format!("column `{}` ({}): {e}", column.name, column.type_name),
            )
        })
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (c, v) in self.columns.iter().zip(&self.values) {
            m.entry(&c.name, &v.type_name());
        }
        m.finish()
    }
}

/// A fully read result: its columns (known even when there are no rows) and
/// its rows.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    /// The result's columns.
    pub columns: Arc<Columns>,
    /// The rows, in the order the server sent them.
    pub rows: Vec<Row>,
}

impl Rows {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Iterates over the rows.
    pub fn iter(&self) -> std::slice::Iter<'_, Row> {
        self.rows.iter()
    }
}

impl IntoIterator for Rows {
    type Item = Row;
    type IntoIter = std::vec::IntoIter<Row>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.into_iter()
    }
}

impl<'a> IntoIterator for &'a Rows {
    type Item = &'a Row;
    type IntoIter = std::slice::Iter<'a, Row>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        let cols = Columns::new(vec![Column::new("id", "int8"), Column::new("Name", "text")]);
        Row::new(cols, vec![Value::I64(7), Value::Null])
    }

    #[test]
    fn get_by_index_and_name() {
        let r = row();
        assert_eq!(r.get::<i64>(0).unwrap(), 7);
        assert_eq!(r.get::<i64>("id").unwrap(), 7);
        assert_eq!(r.get::<Option<String>>("name").unwrap(), None);
    }

    #[test]
    fn errors_name_the_column_and_types() {
        let r = row();
        let e = r.get::<String>("Name").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert_eq!(
            e.to_string(),
            "column `Name` (text): cannot read a NULL value as String"
        );
        let e = r.get::<i64>("missing").unwrap_err();
        assert_eq!(e.to_string(), "no column missing in a row of 2 columns");
        assert!(r.get::<i64>(5).is_err());
    }

    #[test]
    fn debug_hides_values() {
        let cols = Columns::new(vec![Column::new("ssn", "text")]);
        let r = Row::new(cols, vec![Value::from("123-45-6789")]);
        let s = format!("{r:?}");
        assert!(!s.contains("123"), "{s}");
        assert!(s.contains("ssn"));
    }
}
