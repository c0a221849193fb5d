//! Writes by model: insert (with the generated key), save, delete and
//! bulk_create, as the [`ModelExt`] methods every [`Model`] has.

use covet_core::{Dialect, Engine, Error, Statement, Value};

use crate::error::{OrmError, OrmResult};
use crate::exec::Executor;
use crate::expr::AnyColumn;
use crate::model::Model;
use crate::sql::SqlBuf;

/// The most rows one multi-row INSERT carries, whatever the parameter
/// limit allows: past this, statements get big without getting faster.
const MAX_ROWS_PER_INSERT: usize = 1_000;

/// The columns an INSERT writes: all but the auto-increment key.
fn insert_columns<M: Model>() -> impl Iterator<Item = usize> {
    let meta = M::meta();
    (0..meta.columns.len()).filter(move |i| meta.auto_key != Some(*i))
}

fn insert_head<M: Model>(b: &mut SqlBuf) {
    let meta = M::meta();
    b.push("INSERT INTO ").ident(meta.table).push(" (");
    for (n, i) in insert_columns::<M>().enumerate() {
        if n > 0 {
            b.push(", ");
        }
        b.ident(meta.columns[i].name);
    }
    b.push(") VALUES ");
}

fn insert_row<M: Model>(b: &mut SqlBuf, m: &M) {
    b.push("(");
    for (n, i) in insert_columns::<M>().enumerate() {
        if n > 0 {
            b.push(", ");
        }
        b.param(m.value_at(i));
    }
    b.push(")");
}

/// The INSERT for one model; with `returning`, it ends in `RETURNING` the
/// auto-increment key (when the model has one).
pub fn insert_sql<M: Model>(m: &M, dialect: Dialect, returning: bool) -> Statement {
    let mut b = SqlBuf::new(dialect);
    insert_head::<M>(&mut b);
    insert_row(&mut b, m);
    if let (true, Some(k)) = (returning, M::meta().auto_key) {
        b.push(" RETURNING ").ident(M::meta().columns[k].name);
    }
    b.finish()
}

fn pk_where<M: Model>(b: &mut SqlBuf, m: &M) {
    let meta = M::meta();
    b.push(" WHERE ");
    for (n, &i) in meta.primary_key.iter().enumerate() {
        if n > 0 {
            b.push(" AND ");
        }
        b.ident(meta.columns[i].name).push(" = ");
        b.param(m.value_at(i));
    }
}

/// The UPDATE of every non-key column, by primary key.
pub fn save_sql<M: Model>(m: &M, dialect: Dialect) -> OrmResult<Statement> {
    let meta = M::meta();
    let mut b = SqlBuf::new(dialect);
    b.push("UPDATE ").ident(meta.table).push(" SET ");
    let mut any = false;
    for (i, c) in meta.columns.iter().enumerate() {
        if c.primary_key {
            continue;
        }
        if any {
            b.push(", ");
        }
        any = true;
        b.ident(c.name).push(" = ");
        b.param(m.value_at(i));
    }
    if !any {
        return Err(OrmError::Unsupported(format!(
            "{} has only primary key columns: there is nothing to save",
            meta.name
        )));
    }
    pk_where(&mut b, m);
    Ok(b.finish())
}

/// The DELETE of one model, by primary key.
pub fn delete_sql<M: Model>(m: &M, dialect: Dialect) -> Statement {
    let mut b = SqlBuf::new(dialect);
    b.push("DELETE FROM ").ident(M::meta().table);
    pk_where(&mut b, m);
    b.finish()
}

/// Past this many bytes of bound values, a multi-row INSERT is cut: MySQL
/// refuses packets over `max_allowed_packet` (16 MiB by default on MariaDB,
/// as low as 4 MiB on old servers), and huge statements gain nothing.
const MAX_INSERT_BYTES: usize = 4 << 20;

/// The wire size of a value, roughly: what matters is text and bytes.
fn approx_size(v: &Value) -> usize {
    match v {
        Value::Text(s) => s.len() + 8,
        Value::Bytes(b) => b.len() + 8,
        Value::Json(j) => j.0.len() + 8,
        Value::Decimal(d) => d.as_str().len() + 8,
        _ => 16,
    }
}

/// The multi-row INSERTs of `models`, each within the dialect's parameter
/// limit, 1,000 rows, and about 4 MiB of values (a single
/// row larger than that still gets a statement of its own).
pub fn bulk_insert_sql<M: Model>(models: &[M], dialect: Dialect) -> Vec<Statement> {
    bulk_insert_chunks(models, dialect, false)
        .into_iter()
        .map(|(s, _)| s)
        .collect()
}

/// The multi-row INSERTs with the number of rows each carries; with
/// `returning`, each ends in `RETURNING` the auto-increment key.
fn bulk_insert_chunks<M: Model>(
    models: &[M],
    dialect: Dialect,
    returning: bool,
) -> Vec<(Statement, usize)> {
    let ncols = insert_columns::<M>().count().max(1);
    let per = (dialect.max_params / ncols).clamp(1, MAX_ROWS_PER_INSERT);
    let key = M::meta().auto_key.filter(|_| returning);
    let finish = |mut buf: SqlBuf, rows: usize| {
        if let Some(k) = key {
            buf.push(" RETURNING ").ident(M::meta().columns[k].name);
        }
        (buf.finish(), rows)
    };
    let mut out = Vec::new();
    let mut b: Option<SqlBuf> = None;
    let (mut rows, mut bytes) = (0, 0);
    for m in models {
        let size: usize = insert_columns::<M>()
            .map(|i| approx_size(&m.value_at(i)))
            .sum();
        if let Some(full) =
            b.take_if(|_| rows == per || (rows > 0 && bytes + size > MAX_INSERT_BYTES))
        {
            out.push(finish(full, rows));
            rows = 0;
            bytes = 0;
        }
        let buf = b.get_or_insert_with(|| {
            let mut nb = SqlBuf::new(dialect);
            insert_head::<M>(&mut nb);
            nb
        });
        if rows > 0 {
            buf.push(", ");
        }
        insert_row(buf, m);
        rows += 1;
        bytes += size;
    }
    out.extend(b.map(|buf| finish(buf, rows)));
    out
}

/// The UPDATEs that write `fields` of every model by primary key, each
/// within the dialect's parameter limit and 1,000 rows:
/// `UPDATE t SET f = CASE "id" WHEN $1 THEN $2 .. END .. WHERE "id" IN (..)`.
/// On PostgreSQL each new value is cast to its column's type, which the
/// server cannot infer inside CASE.
pub fn bulk_update_sql<M: Model>(
    models: &[M],
    fields: &[AnyColumn<M>],
    dialect: Dialect,
) -> OrmResult<Vec<Statement>> {
    let meta = M::meta();
    let &[pk] = meta.primary_key else {
        return Err(OrmError::Unsupported(format!(
            "bulk_update of {} needs a single-column primary key",
            meta.name
        )));
    };
    if fields.is_empty() {
        return Err(OrmError::Unsupported(format!(
            "bulk_update of {} needs at least one field to write",
            meta.name
        )));
    }
    if let Some(c) = fields.iter().find(|c| meta.columns[c.index].primary_key) {
        return Err(OrmError::Unsupported(format!(
            "bulk_update of {} cannot write the primary key {}",
            meta.name, c.name
        )));
    }
    let key = meta.columns[pk].name;
    let per_row = fields.len() * 2 + 1;
    let per = (dialect.max_params / per_row).clamp(1, MAX_ROWS_PER_INSERT);
    let mut out = Vec::with_capacity(models.len().div_ceil(per));
    for chunk in models.chunks(per) {
        let mut b = SqlBuf::new(dialect);
        b.push("UPDATE ").ident(meta.table).push(" SET ");
        for (n, f) in fields.iter().enumerate() {
            if n > 0 {
                b.push(", ");
            }
            b.ident(f.name).push(" = CASE ").ident(key);
            let cast = (dialect.engine == Engine::Postgres).then(|| {
                let c = &meta.columns[f.index];
                if c.sql_type == crate::model::SqlType::Text {
                    // TEXT, not VARCHAR(n): a cast to VARCHAR(n) would cut
                    // a long value silently instead of failing.
                    "TEXT".to_owned()
                } else {
                    crate::ddl::type_sql(c, Engine::Postgres, false)
                }
            });
            for m in chunk {
                b.push(" WHEN ");
                b.param(m.value_at(pk));
                b.push(" THEN ");
                match &cast {
                    Some(t) => {
                        b.push("CAST(");
                        b.param(m.value_at(f.index));
                        b.push(" AS ").push(t).push(")");
                    }
                    None => {
                        b.param(m.value_at(f.index));
                    }
                }
            }
            b.push(" ELSE ").ident(f.name).push(" END");
        }
        b.push(" WHERE ").ident(key).push(" IN (");
        for (n, m) in chunk.iter().enumerate() {
            if n > 0 {
                b.push(", ");
            }
            b.param(m.value_at(pk));
        }
        b.push(")");
        out.push(b.finish());
    }
    Ok(out)
}

/// INSERT that updates the existing row instead when it would violate the
/// uniqueness of `conflict` (a unique column set, e.g. `[User::EMAIL.into()]`):
/// `ON CONFLICT (...) DO UPDATE` on PostgreSQL and SQLite, `ON DUPLICATE KEY
/// UPDATE` on MySQL, where any unique key of the table triggers it (MySQL
/// cannot name the target). Every inserted column outside `conflict` is
/// updated. The auto-increment key is never written.
pub fn upsert_sql<M: Model>(
    m: &M,
    dialect: Dialect,
    conflict: &[AnyColumn<M>],
) -> OrmResult<Statement> {
    let meta = M::meta();
    if conflict.is_empty() {
        return Err(OrmError::Unsupported(format!(
            "upsert of {} needs the conflict columns (a unique or primary key)",
            meta.name
        )));
    }
    if let Some(c) = conflict.iter().find(|c| meta.auto_key == Some(c.index)) {
        return Err(OrmError::Unsupported(format!(
            "upsert of {} cannot conflict on {}: the auto-increment key is not written by an insert",
            meta.name, c.name
        )));
    }
    let mut b = SqlBuf::new(dialect);
    insert_head::<M>(&mut b);
    insert_row(&mut b, m);
    let updated: Vec<&'static str> = insert_columns::<M>()
        .filter(|i| !conflict.iter().any(|c| c.index == *i))
        .map(|i| meta.columns[i].name)
        .collect();
    if dialect.engine == Engine::MySql {
        b.push(" ON DUPLICATE KEY UPDATE ");
        if updated.is_empty() {
            // A no-op assignment: MySQL has no DO NOTHING.
            b.ident(conflict[0].name)
                .push(" = ")
                .ident(conflict[0].name);
        }
        for (n, c) in updated.iter().enumerate() {
            if n > 0 {
                b.push(", ");
            }
            b.ident(c).push(" = VALUES(").ident(c).push(")");
        }
    } else {
        b.push(" ON CONFLICT (");
        for (n, c) in conflict.iter().enumerate() {
            if n > 0 {
                b.push(", ");
            }
            b.ident(c.name);
        }
        b.push(")");
        if updated.is_empty() {
            b.push(" DO NOTHING");
        } else {
            b.push(" DO UPDATE SET ");
            for (n, c) in updated.iter().enumerate() {
                if n > 0 {
                    b.push(", ");
                }
                b.ident(c).push(" = EXCLUDED.").ident(c);
            }
        }
    }
    Ok(b.finish())
}

/// Writes of one model instance. Every [`Model`] has these.
pub trait ModelExt: Model {
    /// Inserts the row. When the model has an auto-increment key, the key
    /// the database generated is stored into the struct: by `RETURNING` on
    /// PostgreSQL, SQLite and MariaDB >= 10.5 (via [`crate::Db`]), by
    /// `last_insert_id` on MySQL. Returns the rows affected.
    #[track_caller]
    fn insert<E: Executor>(&mut self, mut ex: E) -> impl Future<Output = OrmResult<u64>> + Send {
        crate::site::at_caller(async move {
            let meta = Self::meta();
            let returning = ex.insert_returning() && meta.auto_key.is_some();
            let stmt = insert_sql(self, ex.dialect(), returning);
            if returning {
                let rows = ex.query(&stmt).await?;
                let row = rows.rows.first().ok_or_else(|| {
                    Error::decode(format!(
                        "INSERT into {} returned no generated key",
                        meta.table
                    ))
                })?;
                self.set_auto_key(row.value(0)?)?;
                return Ok(1);
            }
            let res = ex.execute(&stmt).await?;
            if meta.auto_key.is_some() {
                let id = res.last_insert_id.ok_or_else(|| {
                    Error::decode(format!(
                        "INSERT into {} reported no last_insert_id",
                        meta.table
                    ))
                })?;
                self.set_auto_key(&Value::I64(id))?;
            }
            Ok(res.rows_affected)
        })
    }

    /// Writes every non-key column by primary key; returns the rows
    /// affected (0 when no row has this key; on MySQL also when nothing
    /// changed).
    #[track_caller]
    fn save<E: Executor>(&self, mut ex: E) -> impl Future<Output = OrmResult<u64>> + Send {
        crate::site::at_caller(async move {
            let stmt = save_sql(self, ex.dialect())?;
            Ok(ex.execute(&stmt).await?.rows_affected)
        })
    }

    /// Inserts the row, or updates the row it collides with on `conflict`
    /// (see [`upsert_sql`]). Rows-affected counts differ per engine for
    /// upserts, so none is returned; generated keys are not read back.
    #[track_caller]
    fn upsert<E: Executor>(
        &self,
        mut ex: E,
        conflict: &[AnyColumn<Self>],
    ) -> impl Future<Output = OrmResult<()>> + Send {
        crate::site::at_caller(async move {
            let stmt = upsert_sql(self, ex.dialect(), conflict)?;
            ex.execute(&stmt).await?;
            Ok(())
        })
    }

    /// Deletes the row with this primary key; returns the rows affected.
    #[track_caller]
    fn delete<E: Executor>(&self, mut ex: E) -> impl Future<Output = OrmResult<u64>> + Send {
        crate::site::at_caller(async move {
            let stmt = delete_sql(self, ex.dialect());
            Ok(ex.execute(&stmt).await?.rows_affected)
        })
    }

    /// Inserts many rows with multi-row INSERTs chunked by the dialect's
    /// parameter limit; returns the rows written. Generated keys are not
    /// read back (yet): reload the rows when you need them.
    #[track_caller]
    fn bulk_create<E: Executor>(
        models: &[Self],
        mut ex: E,
    ) -> impl Future<Output = OrmResult<u64>> + Send {
        crate::site::at_caller(async move {
            let mut total = 0;
            for stmt in bulk_insert_sql(models, ex.dialect()) {
                total += ex.execute(&stmt).await?.rows_affected;
            }
            Ok(total)
        })
    }

    /// [`ModelExt::bulk_create`] that also stores each generated key into
    /// its struct, by `INSERT .. RETURNING` on PostgreSQL, SQLite and
    /// MariaDB >= 10.5 (through [`crate::Db`]). MySQL has no RETURNING and
    /// its `last_insert_id` of a multi-row INSERT does not say which key
    /// went to which row under every auto-increment lock mode, so there
    /// this is an error before anything is written: use `bulk_create` and
    /// reload, or `insert` per row.
    ///
    /// The keys of one statement are matched to its rows in ascending
    /// order: each engine evaluates a VALUES list in order and draws
    /// increasing keys, while the order RETURNING emits rows in is not
    /// promised by every engine.
    #[track_caller]
    fn bulk_create_returning<E: Executor>(
        models: &mut [Self],
        mut ex: E,
    ) -> impl Future<Output = OrmResult<u64>> + Send {
        crate::site::at_caller(async move {
            let meta = Self::meta();
            if meta.auto_key.is_none() {
                return Self::bulk_create(&*models, ex).await;
            }
            if !ex.insert_returning() {
                return Err(OrmError::Unsupported(format!(
                    "bulk_create_returning of {}: this server has no INSERT .. RETURNING \
                     (MySQL; MariaDB >= 10.5 has it through covet_orm::Db)",
                    meta.name
                )));
            }
            let chunks = bulk_insert_chunks(models, ex.dialect(), true);
            let mut at = 0;
            let mut total = 0;
            for (stmt, n) in chunks {
                let rows = ex.query(&stmt).await?;
                if rows.len() != n {
                    return Err(Error::decode(format!(
                        "INSERT into {} RETURNING gave {} keys for {n} rows",
                        meta.table,
                        rows.len()
                    ))
                    .into());
                }
                let mut keys = Vec::with_capacity(n);
                for row in &rows {
                    keys.push(row.get::<i64>(0)?);
                }
                keys.sort_unstable();
                for (m, k) in models[at..at + n].iter_mut().zip(keys) {
                    m.set_auto_key(&Value::I64(k))?;
                }
                at += n;
                total += n as u64;
            }
            Ok(total)
        })
    }

    /// Writes `fields` of every model by primary key, in as few UPDATEs as
    /// the dialect's parameter limit allows (see [`bulk_update_sql`]);
    /// returns the rows affected (on MySQL, rows whose values changed).
    #[track_caller]
    fn bulk_update<E: Executor>(
        models: &[Self],
        fields: &[AnyColumn<Self>],
        mut ex: E,
    ) -> impl Future<Output = OrmResult<u64>> + Send {
        crate::site::at_caller(async move {
            let mut total = 0;
            for stmt in bulk_update_sql(models, fields, ex.dialect())? {
                total += ex.execute(&stmt).await?.rows_affected;
            }
            Ok(total)
        })
    }

    /// A [`crate::QuerySet`] over every row of this model.
    fn objects() -> crate::QuerySet<Self> {
        crate::QuerySet::new()
    }
}

impl<M: Model> ModelExt for M {}
