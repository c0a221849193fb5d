//! The blocking side: statements run on a locked `rusqlite::Connection`.

use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex, PoisonError};

use covet_core::{
    Column, Columns, Dialect, Error, ErrorKind, ExecResult, Result, Row, Rows, Statement, Value,
};
use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
use rusqlite::{CachedStatement, Statement as SqlStatement};

use crate::error::from_rusqlite;
use crate::types::{ColumnDecoder, Kind, Param};

/// SQL and parameters ready to move onto a blocking thread, with portable
/// `$n` placeholders rewritten.
///
/// The parameters are the statement's own, shared (an `Arc` clone, no value
/// copied): a job is made for every call, so a copy here would be paid on
/// every statement.
pub(crate) struct Job {
    pub(crate) sql: Arc<str>,
    /// `None` when the statement has no parameters.
    values: Option<Arc<Vec<Value>>>,
    /// For rewritten `$n` SQL: which parameter each `?` reads, in order
    /// (a `$n` used twice is read twice). `None`: the parameters in order.
    order: Option<Arc<[usize]>>,
    cache: Arc<MetaCache>,
}

/// Entries kept per cache before it is cleared (bounded like the
/// prepared-statement cache).
const META_CAPACITY: usize = 512;

/// Per-adapter memo of what repeats for the same SQL text: the `$n`
/// rewrite and the result's column metadata (names, declared types, read
/// kinds). Column metadata is checked against the prepared statement on
/// every use, so a table recreated with other types is noticed.
type Rewrite = (Arc<str>, Arc<[usize]>);

#[derive(Default)]
pub(crate) struct MetaCache {
    // Keys are SQL text from the application: a fast hash is safe.
    rewrites: Mutex<FxHashMap<Arc<str>, Rewrite>>,
    columns: Mutex<FxHashMap<Arc<str>, Arc<ColumnsMeta>>>,
}

pub(crate) struct ColumnsMeta {
    decoders: Vec<ColumnDecoder>,
    columns: Arc<Columns>,
}

impl MetaCache {
    fn rewrite(&self, sql: &Arc<str>) -> Rewrite {
        let mut map = self.rewrites.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hit) = map.get(sql) {
            return hit.clone();
        }
        let d = Dialect::SQLITE;
        let entry: Rewrite = (
            Arc::from(d.rewrite_placeholders(sql).as_ref()),
            d.placeholder_order(sql).into(),
        );
        if map.len() >= META_CAPACITY {
            map.clear();
        }
        map.insert(sql.clone(), entry.clone());
        entry
    }

    /// Call after the first step: a cached statement whose table was
    /// recreated is re-prepared by SQLite at that step, and only then
    /// reports the new declared types.
    fn columns(&self, sql: &Arc<str>, st: &SqlStatement<'_>) -> Arc<ColumnsMeta> {
        let cols = st.columns();
        let mut map = self.columns.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hit) = map.get(sql)
            && hit.decoders.len() == cols.len()
            && hit
                .decoders
                .iter()
                .zip(&cols)
                .all(|(d, c)| d.name == c.name() && d.decl == c.decl_type().unwrap_or(""))
        {
            return hit.clone();
        }
        let decoders: Vec<ColumnDecoder> = cols
            .iter()
            .map(|c| ColumnDecoder {
                name: c.name().to_owned(),
                decl: c.decl_type().unwrap_or("").to_owned(),
                kind: Kind::of(c.decl_type()),
            })
            .collect();
        let columns = Columns::new(
            decoders
                .iter()
                .map(|d| Column::new(d.name.clone(), d.decl.clone()))
                .collect(),
        );
        let meta = Arc::new(ColumnsMeta { decoders, columns });
        if map.len() >= META_CAPACITY {
            map.clear();
        }
        map.insert(sql.clone(), meta.clone());
        meta
    }
}

impl Job {
    /// `$1`-style placeholders become `?` with the parameters repeated per
    /// occurrence (SQLite would read `$1` as a *named* parameter called
    /// "$1", which binds by first appearance and breaks `$2 ... $1`).
    pub(crate) fn new(stmt: &Statement, cache: &Arc<MetaCache>) -> Result<Job> {
        let sql = stmt.sql();
        // memchr first: most statements have no `$` at all, and this runs
        // on every call.
        let has_dollar = sql.as_bytes().contains(&b'$')
            && sql
                .as_bytes()
                .windows(2)
                .any(|w| w[0] == b'$' && w[1].is_ascii_digit());
        if !has_dollar {
            return Ok(Job {
                sql: stmt.sql_arc().clone(),
                values: stmt.params_arc().cloned(),
                order: None,
                cache: cache.clone(),
            });
        }
        let (rewritten, order) = cache.rewrite(stmt.sql_arc());
        let params = stmt.params();
        let highest = order.iter().max().map_or(0, |m| m + 1);
        if highest != params.len() {
            return Err(Error::new(
                ErrorKind::Encode,
                format!(
                    "the SQL uses placeholders up to ${highest} but {} parameter(s) were bound",
                    params.len()
                ),
            ));
        }
        Ok(Job {
            sql: rewritten,
            values: stmt.params_arc().cloned(),
            order: Some(order),
            cache: cache.clone(),
        })
    }

    /// The values to bind, one per `?` of [`Job::sql`], in order.
    pub(crate) fn params(&self) -> impl ExactSizeIterator<Item = &Value> + '_ {
        let values = self.values.as_deref().map_or(&[][..], Vec::as_slice);
        let order = self.order.as_deref();
        let n = order.map_or(values.len(), <[usize]>::len);
        (0..n).map(move |i| &values[order.map_or(i, |o| o[i])])
    }
}

pub(crate) fn bind<'v>(
    st: &mut CachedStatement<'_>,
    params: impl ExactSizeIterator<Item = &'v Value>,
) -> Result<()> {
    let expected = st.parameter_count();
    if expected != params.len() {
        return Err(Error::new(
            ErrorKind::Encode,
            format!(
                "the statement has {expected} parameter(s) but {} were bound",
                params.len()
            ),
        ));
    }
    for (i, p) in params.enumerate() {
        st.raw_bind_parameter(i + 1, Param(p))
            .map_err(from_rusqlite)?;
    }
    Ok(())
}

/// Whether `sql` holds more than one statement: a `;` outside literals,
/// quoted identifiers and comments, followed by more than whitespace.
pub(crate) fn is_script(sql: &str) -> bool {
    let b = sql.as_bytes();
    // Runs on every call: a memchr settles the common case (no `;`).
    if !b.contains(&b';') {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    i += 1;
                }
            }
            b'[' => {
                while i < b.len() && b[i] != b']' {
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                return sql[i + 1..].split(';').any(|rest| !rest.trim().is_empty());
            }
            _ => {}
        }
        i += 1;
    }
    false
}

fn script_unsupported() -> Error {
    Error::new(
        ErrorKind::Unsupported,
        "the SQL holds more than one statement; only `execute` without parameters runs scripts",
    )
}

fn is_insert(sql: &str) -> bool {
    let head = sql.trim_start();
    let word: String = head
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(word.as_str(), "insert" | "replace")
}

/// Runs a statement that returns no rows (rows it does return are read and
/// dropped). A parameterless script of several statements runs as a batch.
pub(crate) fn execute(db: &mut rusqlite::Connection, job: &Job) -> Result<ExecResult> {
    let before = db.total_changes();
    if is_script(&job.sql) {
        if job.params().len() != 0 {
            return Err(script_unsupported());
        }
        db.execute_batch(&job.sql).map_err(from_rusqlite)?;
        return Ok(ExecResult {
            rows_affected: db.total_changes() - before,
            last_insert_id: None,
        });
    }
    let mut st = db.prepare_cached(&job.sql).map_err(from_rusqlite)?;
    bind(&mut st, job.params())?;
    if st.column_count() == 0 {
        st.raw_execute().map_err(from_rusqlite)?;
    } else {
        let mut rows = st.raw_query();
        while rows.next().map_err(from_rusqlite)?.is_some() {}
    }
    drop(st);
    let changed = db.total_changes() != before;
    Ok(ExecResult {
        rows_affected: if changed { db.changes() } else { 0 },
        last_insert_id: (changed && is_insert(&job.sql)).then(|| db.last_insert_rowid()),
    })
}

fn read_row(
    row: &rusqlite::Row<'_>,
    decoders: &[ColumnDecoder],
    columns: &Arc<Columns>,
) -> Result<Row> {
    let mut values = Vec::with_capacity(decoders.len());
    for (i, d) in decoders.iter().enumerate() {
        let v = row.get_ref(i).map_err(from_rusqlite)?;
        values.push(d.decode(v)?);
    }
    Ok(Row::new(columns.clone(), values))
}

/// The columns `job` returns, from the prepared statement's column count;
/// `None` when it returns none. A script (run by [`execute`] as a batch)
/// has none.
pub(crate) fn describe(db: &mut rusqlite::Connection, job: &Job) -> Result<Option<Arc<Columns>>> {
    if is_script(&job.sql) {
        return Ok(None);
    }
    let st = db.prepare_cached(&job.sql).map_err(from_rusqlite)?;
    if st.column_count() == 0 {
        return Ok(None);
    }
    Ok(Some(Columns::new(
        st.columns()
            .iter()
            .map(|c| Column::new(c.name(), c.decl_type().unwrap_or("")))
            .collect(),
    )))
}

/// Runs a query and reads every row.
pub(crate) fn query(db: &mut rusqlite::Connection, job: &Job) -> Result<Rows> {
    let mut out = Vec::new();
    let columns = read_rows(db, job, |row| {
        out.push(row);
        true
    })?;
    Ok(Rows { columns, rows: out })
}

/// Steps the query, handing each row to `each` until it returns false;
/// returns the result's columns.
fn read_rows(
    db: &mut rusqlite::Connection,
    job: &Job,
    mut each: impl FnMut(Row) -> bool,
) -> Result<Arc<Columns>> {
    if is_script(&job.sql) {
        return Err(script_unsupported());
    }
    let mut st = db.prepare_cached(&job.sql).map_err(from_rusqlite)?;
    bind(&mut st, job.params())?;
    let mut rows = st.raw_query();
    rows.advance().map_err(from_rusqlite)?;
    let meta = match rows.as_ref() {
        Some(st) => job.cache.columns(&job.sql, st),
        None => {
            // No rows: the statement has run (and been re-prepared if it
            // had to be); read the columns from it directly.
            drop(rows);
            return Ok(job.cache.columns(&job.sql, &st).columns.clone());
        }
    };
    let (decoders, columns) = (&meta.decoders, &meta.columns);
    while let Some(row) = rows.get() {
        if !each(read_row(row, decoders, columns)?) {
            break;
        }
        rows.advance().map_err(from_rusqlite)?;
    }
    Ok(columns.clone())
}

/// Runs a query and hands rows to `sink` in batches of `batch` rows. Stops
/// early (without error) when `sink` returns false: the reader is gone.
pub(crate) fn stream(
    db: &mut rusqlite::Connection,
    job: &Job,
    batch: usize,
    mut sink: impl FnMut(Result<Vec<Row>>) -> bool,
) -> Result<()> {
    let mut buf = Vec::with_capacity(batch);
    let mut open = true;
    read_rows(db, job, |row| {
        buf.push(row);
        if buf.len() == batch {
            open = sink(Ok(std::mem::replace(&mut buf, Vec::with_capacity(batch))));
        }
        open
    })?;
    if open && !buf.is_empty() {
        sink(Ok(buf));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_placeholders_are_rewritten_in_order() {
        let s = Statement::new("SELECT $2, '$1', $1")
            .bind(1_i64)
            .bind("two");
        let cache = Arc::new(MetaCache::default());
        let j = Job::new(&s, &cache).unwrap();
        assert_eq!(&*j.sql, "SELECT ?, '$1', ?");
        assert_eq!(
            j.params().cloned().collect::<Vec<_>>(),
            vec![Value::from("two"), Value::I64(1)]
        );
        let s = Statement::new("SELECT ?1, :name").bind(1_i64);
        assert_eq!(&*Job::new(&s, &cache).unwrap().sql, "SELECT ?1, :name");
        let s = Statement::new("SELECT $1, $2").bind(1_i64);
        assert!(Job::new(&s, &cache).is_err());
        let s = Statement::new("SELECT $1").bind(1_i64).bind(2_i64);
        assert!(Job::new(&s, &cache).is_err());
    }

    proptest::proptest! {
        /// Whatever the placeholders, a job binds the statement's own
        /// parameters (the same `Arc`, no value copied) in the order its
        /// rewritten `?`s read them.
        #[test]
        fn jobs_share_the_statements_parameters(
            uses in proptest::collection::vec(0usize..6, 1..12),
            dollar in proptest::bool::ANY,
        ) {
            let count = uses.iter().max().map_or(0, |m| m + 1);
            let params: Vec<Value> = (0..count)
                .map(|i| Value::from(format!("value {i}")))
                .collect();
            let (sql, read): (Vec<String>, Vec<usize>) = if dollar {
                uses.iter().map(|i| (format!("${}", i + 1), *i)).unzip()
            } else {
                (0..count).map(|i| ("?".to_owned(), i)).unzip()
            };
            let stmt = Statement::new(format!("SELECT {}", sql.join(", ")))
                .with_params(params.clone());
            let job = Job::new(&stmt, &Arc::new(MetaCache::default())).unwrap();
            proptest::prop_assert!(Arc::ptr_eq(
                job.values.as_ref().unwrap(),
                stmt.params_arc().unwrap()
            ));
            let bound: Vec<&Value> = job.params().collect();
            let expected: Vec<&Value> = read.iter().map(|&i| &params[i]).collect();
            proptest::prop_assert_eq!(bound, expected);
            proptest::prop_assert_eq!(job.sql.matches('?').count(), read.len());
        }
    }

    #[test]
    fn script_detection() {
        assert!(is_script("CREATE TABLE a (x); CREATE TABLE b (y);"));
        assert!(!is_script("SELECT 1;"));
        assert!(!is_script("SELECT 1;  \n ; "));
        assert!(!is_script("SELECT ';' , \"a;b\" -- ; x\n"));
        assert!(!is_script("SELECT 1 /* ; SELECT 2 */"));
        assert!(is_script("SELECT 1 /* x */; SELECT 2"));
    }

    #[test]
    fn insert_detection() {
        assert!(is_insert("  INSERT INTO t VALUES (1)"));
        assert!(is_insert("replace into t values (1)"));
        assert!(!is_insert("UPDATE t SET a = 1"));
    }
}
