//! [`QuerySet`]: a lazy, cloneable description of a query on one model,
//! run by the methods that take an [`Executor`].

use std::marker::PhantomData;

use covet_core::{Adapter, Dialect, Engine, FromValue, Statement, Value};
use futures_core::Stream;
use futures_util::StreamExt;

use crate::error::{OrmError, OrmResult};
use crate::exec::Executor;
use crate::expr::{Column, Expr, IntoOperand, Node, Operand, Order, order_by_name};
use crate::lookup::{IntoLookupArg, resolve};
use crate::model::{Field, Model};
use crate::sql::SqlBuf;

/// A query on model `M`. Building it runs nothing; [`QuerySet::all`],
/// [`QuerySet::get`], [`QuerySet::count`] and the other methods that take
/// an executor run one statement each.
pub struct QuerySet<M> {
    filter: Vec<Node>,
    order: Vec<Order<M>>,
    limit: Option<u64>,
    offset: Option<u64>,
    distinct: bool,
    primary: bool,
    _m: PhantomData<fn() -> M>,
}

impl<M> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        QuerySet {
            filter: self.filter.clone(),
            order: self.order.clone(),
            limit: self.limit,
            offset: self.offset,
            distinct: self.distinct,
            primary: self.primary,
            _m: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for QuerySet<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuerySet")
            .field(
                "filter",
                &self
                    .filter
                    .iter()
                    .map(crate::sql::describe)
                    .collect::<Vec<_>>(),
            )
            .field("order", &self.order)
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .field("distinct", &self.distinct)
            .field("primary", &self.primary)
            .finish()
    }
}

impl<M: Model> Default for QuerySet<M> {
    fn default() -> Self {
        Self::new()
    }
}

/// One `SET column = ...` of [`QuerySet::update`].
pub struct Assign<M> {
    column: &'static str,
    value: Operand,
    _m: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for Assign<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Assign({})", self.column)
    }
}

impl<M, T> Column<M, T> {
    /// `SET column = value` (or another column of the same type).
    pub fn set(self, value: impl IntoOperand<M, T>) -> Assign<M> {
        Assign {
            column: self.name(),
            value: value.into_operand(),
            _m: PhantomData,
        }
    }
}

impl<M: Model> QuerySet<M> {
    /// Every row of the table.
    pub fn new() -> Self {
        QuerySet {
            filter: Vec::new(),
            order: Vec::new(),
            limit: None,
            offset: None,
            distinct: false,
            primary: false,
            _m: PhantomData,
        }
    }

    /// Keeps the rows matching `expr` (ANDed with earlier filters).
    #[must_use]
    pub fn filter(mut self, expr: Expr<M>) -> Self {
        self.filter.push(expr.node);
        self
    }

    /// Drops the rows matching `expr`.
    #[must_use]
    pub fn exclude(mut self, expr: Expr<M>) -> Self {
        self.filter.push(Node::Not(Box::new(expr.node)));
        self
    }

    /// A dynamic filter: `"age__gte"`, `"name__icontains"`, `"email"`
    /// (exact). The field must be one of the model's fields and the lookup
    /// one of [`crate::lookup::LOOKUPS`]; anything else is an error naming
    /// the valid ones.
    pub fn filter_lookup(mut self, path: &str, arg: impl IntoLookupArg) -> OrmResult<Self> {
        self.filter
            .push(resolve(M::meta(), path, arg.into_lookup_arg())?);
        Ok(self)
    }

    /// Like [`QuerySet::filter_lookup`], negated.
    pub fn exclude_lookup(mut self, path: &str, arg: impl IntoLookupArg) -> OrmResult<Self> {
        let node = resolve(M::meta(), path, arg.into_lookup_arg())?;
        self.filter.push(Node::Not(Box::new(node)));
        Ok(self)
    }

    /// Adds an ORDER BY term: `User::AGE.desc()`, or a column for ascending.
    #[must_use]
    pub fn order_by(mut self, order: impl Into<Order<M>>) -> Self {
        self.order.push(order.into());
        self
    }

    /// Adds an ORDER BY term by field name: `"age"` or `"-age"`. A name that
    /// is not a field of the model is an error listing the fields.
    pub fn order_by_name(mut self, spec: &str) -> OrmResult<Self> {
        self.order.push(order_by_name::<M>(spec)?);
        Ok(self)
    }

    /// `SELECT DISTINCT`: drops duplicate rows (of all the model's
    /// columns, so it matters only for models without a unique key in
    /// their columns, or inside counts of filtered joins later).
    #[must_use]
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// The query ordered by primary key when it has no order of its own,
    /// so `first` does not depend on the engine's plan.
    pub(crate) fn ordered_by_pk(mut self) -> Self {
        if self.order.is_empty() {
            let meta = M::meta();
            self.order = meta
                .primary_key
                .iter()
                .map(|&i| Order::new(meta.columns[i].name, false))
                .collect();
        }
        self
    }

    /// Runs this QuerySet's reads (and those of the relation, grouping and
    /// partial queries built from it) on the executor's primary adapter
    /// even when it has a replica reader ([`crate::Db::with_reader`]): for
    /// a read that must see a write just made.
    #[must_use]
    pub fn using_primary(mut self) -> Self {
        self.primary = true;
        self
    }

    pub(crate) fn on_primary(&self) -> bool {
        self.primary
    }

    pub(crate) fn limit_value(&self) -> Option<u64> {
        self.limit
    }

    pub(crate) fn offset_value(&self) -> Option<u64> {
        self.offset
    }

    pub(crate) fn with_node(mut self, node: Node) -> Self {
        self.filter.push(node);
        self
    }

    pub(crate) fn is_distinct(&self) -> bool {
        self.distinct
    }

    /// At most `n` rows.
    #[must_use]
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skips the first `n` rows.
    #[must_use]
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(n);
        self
    }

    pub(crate) fn has_filter(&self) -> bool {
        !self.filter.is_empty()
    }

    /// The filters ANDed, without the WHERE keyword.
    pub(crate) fn where_body(&self, b: &mut SqlBuf) {
        match self.filter.as_slice() {
            [] => {
                b.push("1 = 1");
            }
            [one] => b.node(one),
            many => {
                for (i, n) in many.iter().enumerate() {
                    if i > 0 {
                        b.push(" AND ");
                    }
                    b.push("(");
                    b.node(n);
                    b.push(")");
                }
            }
        }
    }

    pub(crate) fn where_clause(&self, b: &mut SqlBuf) {
        if !self.filter.is_empty() {
            b.push(" WHERE ");
            self.where_body(b);
        }
    }

    pub(crate) fn order_and_limit(&self, b: &mut SqlBuf, limit: Option<u64>) {
        if !self.order.is_empty() {
            b.push(" ORDER BY ");
            for (i, o) in self.order.iter().enumerate() {
                if i > 0 {
                    b.push(", ");
                }
                b.col(o.column).push(if o.desc { " DESC" } else { " ASC" });
            }
        }
        limit_offset(b, limit, self.offset);
    }

    pub(crate) fn select_into(&self, b: &mut SqlBuf, cols: Cols, limit: Option<u64>) {
        let meta = M::meta();
        b.push(if self.distinct {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        });
        match cols {
            Cols::Model => {
                for (i, c) in meta.columns.iter().enumerate() {
                    if i > 0 {
                        b.push(", ");
                    }
                    b.ident(c.name);
                }
            }
            Cols::One => {
                b.push("1");
            }
            Cols::Mask(mask) => {
                let mut first = true;
                for (i, c) in meta.columns.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        if !first {
                            b.push(", ");
                        }
                        first = false;
                        b.ident(c.name);
                    }
                }
            }
        }
        b.push(" FROM ").ident(meta.table);
        self.where_clause(b);
        self.order_and_limit(b, limit);
    }

    /// The SELECT this query runs, for `dialect`.
    pub fn sql(&self, dialect: Dialect) -> Statement {
        let mut b = SqlBuf::new(dialect);
        self.select_into(&mut b, Cols::Model, self.limit);
        b.finish().idempotent(true)
    }

    /// The `SELECT COUNT(*)` this query's `count` runs.
    pub fn count_sql(&self, dialect: Dialect) -> Statement {
        let mut b = SqlBuf::new(dialect);
        if self.distinct {
            // DISTINCT applies to the model's columns, so count those rows.
            b.push("SELECT COUNT(*) FROM (");
            self.select_into(&mut b, Cols::Model, self.limit);
            b.push(") AS ").ident("covet_count");
        } else if self.limit.is_some() || self.offset.is_some() {
            b.push("SELECT COUNT(*) FROM (");
            self.select_into(&mut b, Cols::One, self.limit);
            b.push(") AS ").ident("covet_count");
        } else {
            b.push("SELECT COUNT(*) FROM ").ident(M::meta().table);
            self.where_clause(&mut b);
        }
        b.finish().idempotent(true)
    }

    fn exists_sql(&self, dialect: Dialect) -> Statement {
        let mut b = SqlBuf::new(dialect);
        let limit = Some(self.limit.map_or(1, |l| l.min(1)));
        self.select_into(&mut b, Cols::One, limit);
        b.finish().idempotent(true)
    }

    /// For a query filtering one foreign key by equality (the shape of the
    /// reverse N+1 loop), the prefetch that replaces the loop.
    ///
    /// For a query filtering one primary key by equality (the forward
    /// loop), the select_related of the one model known to point at `M`.
    /// Only worked out inside an N+1 scope, the only place it is read.
    fn fix_hint(&self) -> Option<&'static str> {
        if !covet_monitor::nplusone::in_scope() {
            return None;
        }
        crate::hint::note_relations::<M>();
        let [Node::Cmp(col, crate::expr::CmpOp::Eq, Operand::Value(_))] = self.filter.as_slice()
        else {
            return None;
        };
        let meta = M::meta();
        let (i, c) = meta
            .columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == *col)?;
        if let Some(r) = c.references {
            return r.prefetch_hint;
        }
        if meta.primary_key == [i] {
            return crate::hint::select_related_to(meta);
        }
        None
    }

    /// Runs the query and reads every row into `M`.
    ///
    /// Rows are read by column position; the only allocations per row are
    /// the model's own owned fields (and, today, the adapter's row).
    #[track_caller]
    pub fn all<E: Executor>(&self, mut ex: E) -> impl Future<Output = OrmResult<Vec<M>>> + Send {
        crate::site::at_caller(async move {
            let run = async {
                let stmt = self.sql(ex.dialect());
                let rows = crate::exec::read_rows(&mut ex, self.primary, stmt).await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in &rows {
                    out.push(M::from_row(row)?);
                }
                Ok(out)
            };
            match self.fix_hint() {
                Some(h) => covet_monitor::nplusone::with_fix_hint(h, run).await,
                None => run.await,
            }
        })
    }

    /// Streams the matching rows as `M`s with bounded memory, on the
    /// adapter's streaming query (one connection held until the stream
    /// ends or is dropped). Over an adapter only: a transaction's stream
    /// borrows the transaction.
    #[track_caller]
    pub fn stream<A: Adapter + ?Sized>(
        &self,
        adapter: &A,
    ) -> impl Future<Output = OrmResult<impl Stream<Item = OrmResult<M>> + Send + 'static>> + Send
    {
        crate::site::at_caller(async move {
            let stmt = self.sql(adapter.dialect());
            let rows = adapter.query_stream(&stmt).await?;
            Ok(rows.map(|row| Ok(M::from_row(&row?)?)))
        })
    }

    /// The first row in this query's order (by primary key when it has
    /// none, so the answer does not depend on the engine's plan), or `None`.
    #[track_caller]
    pub fn first<E: Executor>(&self, ex: E) -> impl Future<Output = OrmResult<Option<M>>> + Send {
        crate::site::at_caller(async move {
            let mut q = self.clone();
            if q.order.is_empty() {
                let meta = M::meta();
                q.order = meta
                    .primary_key
                    .iter()
                    .map(|&i| Order::new(meta.columns[i].name, false))
                    .collect();
            }
            q.limit = Some(self.limit.map_or(1, |l| l.min(1)));
            Ok(q.all(ex).await?.into_iter().next())
        })
    }

    /// Exactly one row: [`OrmError::DoesNotExist`] when none match,
    /// [`OrmError::MultipleObjectsReturned`] when more than one does. Reads
    /// at most two rows.
    #[track_caller]
    pub fn get<E: Executor>(&self, ex: E) -> impl Future<Output = OrmResult<M>> + Send {
        crate::site::at_caller(async move {
            let mut q = self.clone();
            q.limit = Some(self.limit.map_or(2, |l| l.min(2)));
            let mut rows = q.all(ex).await?;
            match rows.len() {
                0 => Err(OrmError::DoesNotExist {
                    model: M::meta().name,
                }),
                1 => Ok(rows.remove(0)),
                _ => Err(OrmError::MultipleObjectsReturned {
                    model: M::meta().name,
                }),
            }
        })
    }

    /// The one row this query matches, or a new one from `defaults`,
    /// inserted; the flag says whether it was created.
    ///
    /// Race-safe over an adapter: when another writer inserts the same row
    /// between the read and the insert, the unique violation is caught and
    /// the row is read again. So the query must select by a unique key, and
    /// `defaults` must build a row that the query matches. Inside a
    /// PostgreSQL transaction a unique violation aborts the transaction, so
    /// call it on a savepoint there.
    #[track_caller]
    pub fn get_or_create<E: Executor>(
        &self,
        mut ex: E,
        defaults: impl FnOnce() -> M + Send,
    ) -> impl Future<Output = OrmResult<(M, bool)>> + Send {
        crate::site::at_caller(async move {
            match self.get(&mut ex).await {
                Ok(m) => return Ok((m, false)),
                Err(OrmError::DoesNotExist { .. }) => {}
                Err(e) => return Err(e),
            }
            let mut m = defaults();
            match crate::ModelExt::insert(&mut m, &mut ex).await {
                Ok(_) => Ok((m, true)),
                Err(OrmError::Db(e)) if e.kind() == covet_core::ErrorKind::UniqueViolation => {
                    Ok((self.get(&mut ex).await?, false))
                }
                Err(e) => Err(e),
            }
        })
    }

    /// The one row this query matches, updated with `set`, or a new one
    /// from `create`, inserted; the flag says whether it was created.
    ///
    /// Race-safe over an adapter: it updates first (the UPDATE takes the
    /// row's lock, so two callers do not both read a stale row), inserts
    /// when nothing matched, and when another writer inserted the same row
    /// between the two (a unique violation), runs the update again instead
    /// of surfacing the error. So the query must select by a unique key and
    /// `create` must build a row that the query matches (with `set`
    /// already applied). Inside a PostgreSQL transaction a unique violation
    /// aborts the transaction: call it on a savepoint there.
    #[track_caller]
    pub fn update_or_create<E: Executor>(
        &self,
        mut ex: E,
        set: &[Assign<M>],
        create: impl FnOnce() -> M + Send,
    ) -> impl Future<Output = OrmResult<(M, bool)>> + Send {
        crate::site::at_caller(async move {
            let update = self.update_sql(ex.dialect(), set)?;
            // On MySQL an UPDATE that changes nothing reports 0 rows; the
            // insert's unique violation then sends us back to the read.
            if ex.execute(&update).await?.rows_affected > 0 {
                return Ok((self.get(&mut ex).await?, false));
            }
            let mut m = create();
            match crate::ModelExt::insert(&mut m, &mut ex).await {
                Ok(_) => Ok((m, true)),
                Err(OrmError::Db(e)) if e.kind() == covet_core::ErrorKind::UniqueViolation => {
                    ex.execute(&update).await?;
                    Ok((self.get(&mut ex).await?, false))
                }
                Err(e) => Err(e),
            }
        })
    }

    /// The number of matching rows (after limit and offset).
    #[track_caller]
    pub fn count<E: Executor>(&self, mut ex: E) -> impl Future<Output = OrmResult<u64>> + Send {
        crate::site::at_caller(async move {
            let stmt = self.count_sql(ex.dialect());
            let rows = crate::exec::read_rows(&mut ex, self.primary, stmt).await?;
            let row = rows
                .rows
                .first()
                .ok_or_else(|| covet_core::Error::decode("COUNT(*) returned no row"))?;
            Ok(row.get::<u64>(0)?)
        })
    }

    fn aggregate_sql(
        &self,
        dialect: Dialect,
        func: &str,
        col: &'static str,
        cast: Option<&str>,
    ) -> Statement {
        let mut b = SqlBuf::new(dialect);
        b.push("SELECT ");
        if cast.is_some() {
            b.push("CAST(");
        }
        b.push(func).push("(").ident(col).push(")");
        if let Some(t) = cast {
            b.push(" AS ").push(t).push(")");
        }
        if self.limit.is_some() || self.offset.is_some() {
            b.push(" FROM (");
            self.select_into(&mut b, Cols::Model, self.limit);
            b.push(") AS ").ident("covet_agg");
        } else {
            b.push(" FROM ").ident(M::meta().table);
            self.where_clause(&mut b);
        }
        b.finish().idempotent(true)
    }

    async fn aggregate<E: Executor, R: FromValue>(
        &self,
        mut ex: E,
        func: &str,
        col: &'static str,
        cast: impl Fn(Engine) -> Option<&'static str>,
    ) -> OrmResult<Option<R>> {
        let d = ex.dialect();
        let stmt = self.aggregate_sql(d, func, col, cast(d.engine));
        let rows = crate::exec::read_rows(&mut ex, self.primary, stmt).await?;
        let row = rows
            .rows
            .first()
            .ok_or_else(|| covet_core::Error::decode(format!("{func}() returned no row")))?;
        Ok(row.get::<Option<R>>(0)?)
    }

    /// The largest value of `col` over the matching rows (`None` when
    /// there are none or all are NULL).
    #[track_caller]
    pub fn max<T: Field, E: Executor>(
        &self,
        ex: E,
        col: Column<M, T>,
    ) -> impl Future<Output = OrmResult<Option<T>>> + Send {
        crate::site::at_caller(async move { self.aggregate(ex, "MAX", col.name(), |_| None).await })
    }

    /// The smallest value of `col` over the matching rows.
    #[track_caller]
    pub fn min<T: Field, E: Executor>(
        &self,
        ex: E,
        col: Column<M, T>,
    ) -> impl Future<Output = OrmResult<Option<T>>> + Send {
        crate::site::at_caller(async move { self.aggregate(ex, "MIN", col.name(), |_| None).await })
    }

    /// The sum of an integer or float column: `i64` for integers, `f64`
    /// for floats, the same on every engine (each engine's own SUM type is
    /// cast to it).
    #[track_caller]
    pub fn sum<T: Summable, E: Executor>(
        &self,
        ex: E,
        col: Column<M, T>,
    ) -> impl Future<Output = OrmResult<Option<T::Sum>>> + Send {
        crate::site::at_caller(async move { self.aggregate(ex, "SUM", col.name(), T::cast).await })
    }

    /// The mean of a numeric column as `f64`.
    #[track_caller]
    pub fn avg<T: Summable, E: Executor>(
        &self,
        ex: E,
        col: Column<M, T>,
    ) -> impl Future<Output = OrmResult<Option<f64>>> + Send {
        crate::site::at_caller(async move { self.aggregate(ex, "AVG", col.name(), double).await })
    }

    /// Whether any row matches.
    #[track_caller]
    pub fn exists<E: Executor>(&self, mut ex: E) -> impl Future<Output = OrmResult<bool>> + Send {
        crate::site::at_caller(async move {
            let stmt = self.exists_sql(ex.dialect());
            Ok(!crate::exec::read_rows(&mut ex, self.primary, stmt)
                .await?
                .is_empty())
        })
    }

    fn refuse_window(&self, what: &str) -> OrmResult<()> {
        if self.limit.is_some() || self.offset.is_some() || !self.order.is_empty() || self.distinct
        {
            return Err(OrmError::Unsupported(format!(
                "{what} on a QuerySet with limit, offset, order_by or distinct is not portable; \
                 filter on the primary key instead"
            )));
        }
        Ok(())
    }

    /// The `UPDATE` this query's [`QuerySet::update`] runs.
    pub fn update_sql(&self, dialect: Dialect, set: &[Assign<M>]) -> OrmResult<Statement> {
        self.refuse_window("update")?;
        if set.is_empty() {
            return Err(OrmError::Unsupported(
                "update needs at least one assignment".into(),
            ));
        }
        let mut b = SqlBuf::new(dialect);
        b.push("UPDATE ").ident(M::meta().table).push(" SET ");
        for (i, a) in set.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.ident(a.column).push(" = ");
            b.operand(&a.value);
        }
        self.where_clause(&mut b);
        Ok(b.finish())
    }

    /// Updates the matching rows; returns the rows affected (on MySQL,
    /// rows whose values actually changed).
    #[track_caller]
    pub fn update<E: Executor>(
        &self,
        mut ex: E,
        set: &[Assign<M>],
    ) -> impl Future<Output = OrmResult<u64>> + Send {
        crate::site::at_caller(async move {
            let stmt = self.update_sql(ex.dialect(), set)?;
            Ok(ex.execute(&stmt).await?.rows_affected)
        })
    }

    /// The `DELETE` this query's [`QuerySet::delete`] runs.
    pub fn delete_sql(&self, dialect: Dialect) -> OrmResult<Statement> {
        self.refuse_window("delete")?;
        let mut b = SqlBuf::new(dialect);
        b.push("DELETE FROM ").ident(M::meta().table);
        self.where_clause(&mut b);
        Ok(b.finish())
    }

    /// Deletes the matching rows; returns how many.
    #[track_caller]
    pub fn delete<E: Executor>(&self, mut ex: E) -> impl Future<Output = OrmResult<u64>> + Send {
        crate::site::at_caller(async move {
            let stmt = self.delete_sql(ex.dialect())?;
            Ok(ex.execute(&stmt).await?.rows_affected)
        })
    }
}

fn double(e: Engine) -> Option<&'static str> {
    Some(match e {
        Engine::Postgres => "DOUBLE PRECISION",
        Engine::MySql => "DOUBLE",
        _ => "REAL",
    })
}

fn bigint(e: Engine) -> Option<&'static str> {
    Some(match e {
        Engine::MySql => "SIGNED",
        _ => "BIGINT",
    })
}

/// Column types [`QuerySet::sum`] and [`QuerySet::avg`] accept, with the
/// type their sum is read as.
pub trait Summable {
    /// `i64` for integer columns, `f64` for float columns.
    type Sum: FromValue;
    #[doc(hidden)]
    fn cast(engine: Engine) -> Option<&'static str>;
}

macro_rules! summable {
    ($($t:ty => $sum:ty, $cast:ident);* $(;)?) => {$(
        impl Summable for $t {
            type Sum = $sum;
            fn cast(engine: Engine) -> Option<&'static str> { $cast(engine) }
        }
        impl Summable for Option<$t> {
            type Sum = $sum;
            fn cast(engine: Engine) -> Option<&'static str> { $cast(engine) }
        }
    )*};
}

summable! {
    i16 => i64, bigint; i32 => i64, bigint; i64 => i64, bigint;
    f32 => f64, double; f64 => f64, double;
}

#[derive(Clone, Copy)]
pub(crate) enum Cols {
    Model,
    One,
    /// The columns whose bit is set (only / defer).
    Mask(u128),
}

/// LIMIT and OFFSET as parameters. An OFFSET alone needs a LIMIT on MySQL
/// and SQLite: the largest value each accepts stands for "no limit".
pub(crate) fn limit_offset(b: &mut SqlBuf, limit: Option<u64>, offset: Option<u64>) {
    let as_param = |n: u64| Value::I64(i64::try_from(n).unwrap_or(i64::MAX));
    match (limit, offset) {
        (None, None) => {}
        (Some(l), _) => {
            b.push(" LIMIT ");
            b.param(as_param(l));
        }
        (None, Some(_)) => match b.dialect.engine {
            Engine::MySql => {
                b.push(" LIMIT 18446744073709551615");
            }
            Engine::Sqlite => {
                b.push(" LIMIT -1");
            }
            _ => {}
        },
    }
    if let Some(o) = offset {
        b.push(" OFFSET ");
        b.param(as_param(o));
    }
}
