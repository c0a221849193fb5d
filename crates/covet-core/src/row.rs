//! Rows and their shared column metadata.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::error::{Error, ErrorKind, Result};
use crate::value::{Decode, Value, ValueRef};

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

/// A row as its driver received it, decoded one column at a time when read.
///
/// Adapters implement this over the driver's own row so that a caller who
/// reads two columns of ten pays for two, and one who only counts rows pays
/// for none. `value_ref` must be cheap to call repeatedly: it borrows text
/// and bytes from the driver's buffer and copies nothing else.
pub trait RawRow: Send + Sync + 'static {
    /// The number of columns.
    fn len(&self) -> usize;

    /// Whether the row has no columns.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decodes column `idx` (always `< len()`). A value the engine sent but
    /// Covet cannot represent is an [`ErrorKind::Decode`] error whose
    /// message says why; [`Row`] adds the column's name and type.
    fn value_ref(&self, idx: usize) -> Result<ValueRef<'_>>;
}

/// All the rows of one result as the driver received them, decoded one
/// cell at a time when read: the batch form of [`RawRow`].
///
/// An adapter that reads a whole result before returning it (the
/// PostgreSQL adapter's `query`) keeps the driver's rows in one shared
/// batch, so each [`Row`] is a reference count and an index instead of its
/// own allocation (two heap operations per row fewer, which a profile of
/// loading 10,000 rows showed as a quarter of the adapter's per-row cost).
///
/// The price: a row kept after the rest of its result is dropped keeps the
/// whole batch in memory. To keep a few rows of a large result, keep
/// [`Row::into_values`] (or the structs built from them) instead.
pub trait RawRows: Send + Sync + 'static {
    /// The number of rows.
    fn len(&self) -> usize;

    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of columns of each row.
    fn width(&self) -> usize;

    /// Decodes column `col` of row `row` (both in range), as
    /// [`RawRow::value_ref`] does.
    fn value_ref(&self, row: usize, col: usize) -> Result<ValueRef<'_>>;
}

#[derive(Clone)]
enum Data {
    Owned(Vec<Value>),
    Raw {
        raw: Arc<dyn RawRow>,
        // Filled on the first call that needs `&Value`s (`value`, `values`),
        // so dynamic users pay for one conversion and typed users for none.
        owned: OnceLock<Vec<Value>>,
    },
    Batch {
        batch: Arc<dyn RawRows>,
        row: usize,
        owned: OnceLock<Vec<Value>>,
    },
}

/// One row of a result.
///
/// Rows from the PostgreSQL and MySQL adapters keep the bytes the driver
/// received and decode a column when it is read: [`Row::get`] with `&str` or
/// `&[u8]` borrows from the row without copying. [`Row::value`] and
/// [`Row::values`] give owned [`Value`]s for dynamic use.
///
/// `Debug` prints column names and value types only, never the values,
/// because rows may hold personal data that must not reach logs.
#[derive(Clone)]
pub struct Row {
    columns: Arc<Columns>,
    data: Data,
}

impl Row {
    /// A row of owned values over shared column metadata; `values` must
    /// have one entry per column.
    pub fn new(columns: Arc<Columns>, values: Vec<Value>) -> Self {
        debug_assert_eq!(columns.len(), values.len());
        Row {
            columns,
            data: Data::Owned(values),
        }
    }

    /// A row over a driver's row, decoded lazily; `raw` must have one
    /// column per entry of `columns`.
    pub fn from_raw(columns: Arc<Columns>, raw: impl RawRow) -> Self {
        debug_assert_eq!(columns.len(), raw.len());
        Row {
            columns,
            data: Data::Raw {
                raw: Arc::new(raw),
                owned: OnceLock::new(),
            },
        }
    }

    /// Row `row` of a batch (see [`RawRows`]); `batch` must have one
    /// column per entry of `columns`.
    pub fn from_batch(columns: Arc<Columns>, batch: Arc<dyn RawRows>, row: usize) -> Self {
        debug_assert_eq!(columns.len(), batch.width());
        debug_assert!(row < batch.len());
        Row {
            columns,
            data: Data::Batch {
                batch,
                row,
                owned: OnceLock::new(),
            },
        }
    }

    /// The column metadata shared with the other rows of the result.
    pub fn columns(&self) -> &Arc<Columns> {
        &self.columns
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the row has no values.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    fn index(&self, col: impl ColumnIndex) -> Result<usize> {
        col.index(&self.columns).ok_or_else(|| {
            Error::new(
                ErrorKind::Decode,
                format!("no column {col} in a row of {} columns", self.columns.len()),
            )
        })
    }

    fn column_error(&self, idx: usize, detail: &dyn fmt::Display) -> Error {
        let column = &self.columns.columns[idx];
        Error::new(
            ErrorKind::Decode,
            format!("column `{}` ({}): {detail}", column.name, column.type_name),
        )
    }

    fn raw_at(&self, idx: usize) -> Result<ValueRef<'_>> {
        let decoded = match &self.data {
            Data::Owned(values) => return Ok(values[idx].as_value_ref()),
            Data::Raw { raw, .. } => raw.value_ref(idx),
            Data::Batch { batch, row, .. } => batch.value_ref(*row, idx),
        };
        decoded.map_err(|e| self.column_error(idx, &e.message()))
    }

    /// A borrowed view of one column, decoded from the driver's bytes.
    pub fn value_ref(&self, col: impl ColumnIndex) -> Result<ValueRef<'_>> {
        let idx = self.index(col)?;
        self.value_ref_at(idx)
    }

    fn value_ref_at(&self, idx: usize) -> Result<ValueRef<'_>> {
        match &self.data {
            Data::Owned(values) => Ok(values[idx].as_value_ref()),
            Data::Raw { owned, .. } | Data::Batch { owned, .. } => match owned.get() {
                Some(values) => Ok(values[idx].as_value_ref()),
                None => self.raw_at(idx),
            },
        }
    }

    fn owned(&self) -> Result<&[Value]> {
        match &self.data {
            Data::Owned(values) => Ok(values),
            Data::Raw { owned, .. } | Data::Batch { owned, .. } => {
                if let Some(values) = owned.get() {
                    return Ok(values);
                }
                let values = (0..self.columns.len())
                    .map(|i| self.raw_at(i).map(|v| v.to_owned_value()))
                    .collect::<Result<Vec<_>>>()?;
                Ok(owned.get_or_init(|| values))
            }
        }
    }

    /// Every value, in column order, as owned [`Value`]s (converted once,
    /// on the first call). Fails when a column holds something Covet cannot
    /// represent; [`Row::get`] reads the other columns regardless.
    pub fn values(&self) -> Result<&[Value]> {
        self.owned()
    }

    /// Takes the values out of the row.
    pub fn into_values(self) -> Result<Vec<Value>> {
        match self.data {
            Data::Owned(values) => Ok(values),
            Data::Raw { .. } | Data::Batch { .. } => self.owned().map(<[Value]>::to_vec),
        }
    }

    /// The value of a column as an owned [`Value`].
    pub fn value(&self, col: impl ColumnIndex) -> Result<&Value> {
        let idx = self.index(col)?;
        Ok(&self.owned()?[idx])
    }

    /// Reads a column as `T`, by index or name, straight from the row:
    /// `&str` and `&[u8]` borrow from it.
    ///
    /// The error names the column, the Rust type asked for and the type of
    /// the value found:
    ///
    /// ```
    /// use covet_core::{Column, Columns, Row, Value};
    /// let cols = Columns::new(vec![Column::new("age", "int4"), Column::new("name", "text")]);
    /// let row = Row::new(cols, vec![Value::I32(42), Value::from("Ada")]);
    /// assert_eq!(row.get::<i64>("age").unwrap(), 42);
    /// let name: &str = row.get("name").unwrap();
    /// assert_eq!(name, "Ada");
    /// let err = row.get::<String>("age").unwrap_err();
    /// assert_eq!(err.to_string(), "column `age` (int4): cannot read a i32 value as String");
    /// ```
    pub fn get<'r, T: Decode<'r>>(&'r self, col: impl ColumnIndex) -> Result<T> {
        let idx = self.index(col)?;
        let value = self.value_ref_at(idx)?;
        T::decode(value).map_err(|e| self.column_error(idx, &e))
    }
}

impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.columns == other.columns
            && (0..self.len()).all(|i| match (self.value_ref_at(i), other.value_ref_at(i)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            })
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (i, c) in self.columns.iter().enumerate() {
            let ty = self
                .value_ref_at(i)
                .map_or("undecodable", |v| v.type_name());
            m.entry(&c.name, &ty);
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

    /// Three rows of (id, name) in one batch; row 2's name cannot be
    /// decoded.
    struct Batch(Vec<(i64, &'static str)>);

    impl RawRows for Batch {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn width(&self) -> usize {
            2
        }
        fn value_ref(&self, row: usize, col: usize) -> Result<ValueRef<'_>> {
            match (row, col) {
                (_, 0) => Ok(ValueRef::I64(self.0[row].0)),
                (2, _) => Err(Error::new(ErrorKind::Decode, "no mapping")),
                _ => Ok(ValueRef::Text(self.0[row].1)),
            }
        }
    }

    #[test]
    fn batch_rows_read_their_own_row() {
        let cols = Columns::new(vec![Column::new("id", "int8"), Column::new("name", "text")]);
        let batch: Arc<dyn RawRows> = Arc::new(Batch(vec![(1, "a"), (2, "b"), (3, "c")]));
        let rows: Vec<Row> = (0..3)
            .map(|i| Row::from_batch(cols.clone(), batch.clone(), i))
            .collect();
        assert_eq!(rows[1].get::<i64>("id").unwrap(), 2);
        let name: &str = rows[1].get("name").unwrap();
        assert_eq!(name, "b");
        assert_eq!(
            rows[0].clone().into_values().unwrap(),
            vec![Value::I64(1), Value::from("a")]
        );
        assert_eq!(rows[1].values().unwrap()[1], Value::from("b"));
        assert_eq!(
            rows[0],
            Row::new(cols.clone(), vec![Value::I64(1), Value::from("a")])
        );
        let e = rows[2].get::<String>("name").unwrap_err();
        assert_eq!(e.to_string(), "column `name` (text): no mapping");
        assert_eq!(rows[2].get::<i64>(0).unwrap(), 3);
        assert!(rows[2].values().is_err());
        // The batch lives as long as any of its rows.
        let last = rows.into_iter().nth(1).unwrap();
        assert_eq!(last.get::<i64>(0).unwrap(), 2);
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

    /// A driver row whose second column cannot be represented and which
    /// counts how often it is decoded.
    struct Fake {
        text: String,
        decoded: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl RawRow for Fake {
        fn len(&self) -> usize {
            2
        }
        fn value_ref(&self, idx: usize) -> Result<ValueRef<'_>> {
            self.decoded
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match idx {
                0 => Ok(ValueRef::Text(&self.text)),
                _ => Err(Error::new(
                    ErrorKind::Decode,
                    "infinity has no date representation",
                )),
            }
        }
    }

    fn fake() -> (Row, Arc<std::sync::atomic::AtomicUsize>) {
        let decoded = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cols = Columns::new(vec![Column::new("name", "text"), Column::new("d", "date")]);
        let raw = Fake {
            text: "Grüße".into(),
            decoded: decoded.clone(),
        };
        (Row::from_raw(cols, raw), decoded)
    }

    #[test]
    fn raw_rows_decode_only_what_is_read_and_borrow_text() {
        let (r, decoded) = fake();
        assert_eq!(decoded.load(std::sync::atomic::Ordering::Relaxed), 0);
        let s: &str = r.get("name").unwrap();
        assert_eq!(s, "Grüße");
        assert_eq!(r.get::<String>(0).unwrap(), "Grüße");
        assert_eq!(decoded.load(std::sync::atomic::Ordering::Relaxed), 2);
        let e = r.get::<Option<chrono::NaiveDate>>("d").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert_eq!(
            e.to_string(),
            "column `d` (date): infinity has no date representation"
        );
        // The owned view needs every column, so it reports the bad one.
        assert_eq!(r.values().unwrap_err().to_string(), e.to_string());
        assert!(r.value(0).is_err());
        assert_eq!(format!("{r:?}"), r#"{"name": "text", "d": "undecodable"}"#);
    }

    #[test]
    fn raw_and_owned_rows_compare_by_value() {
        struct Two;
        impl RawRow for Two {
            fn len(&self) -> usize {
                2
            }
            fn value_ref(&self, idx: usize) -> Result<ValueRef<'_>> {
                Ok(if idx == 0 {
                    ValueRef::I64(7)
                } else {
                    ValueRef::Null
                })
            }
        }
        let cols = Columns::new(vec![Column::new("id", "int8"), Column::new("Name", "text")]);
        let raw = Row::from_raw(cols, Two);
        assert_eq!(raw, row());
        assert_eq!(raw.values().unwrap(), row().values().unwrap());
        assert_eq!(
            raw.clone().into_values().unwrap(),
            vec![Value::I64(7), Value::Null]
        );
        assert_eq!(raw.get::<i64>("id").unwrap(), 7);
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
