//! `group_by` + `annotate`: one row per group of key columns with
//! aggregates (count, sum, avg, min, max), typed like the whole-query
//! aggregates (each engine's result cast to one Rust type).
//!
//! Annotation names live on the Rust side only: the SQL selects the keys
//! and aggregates by position, so a name given at run time never becomes
//! SQL text.

use std::marker::PhantomData;
use std::sync::Arc;

use covet_core::{Dialect, Engine, FromValue, Row, Statement};

use crate::error::{OrmError, OrmResult};
use crate::exec::Executor;
use crate::expr::{AnyColumn, Column};
use crate::model::{Model, SqlType};
use crate::query::{QuerySet, Summable};
use crate::sql::SqlBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl Func {
    fn sql(self) -> &'static str {
        match self {
            Func::Count => "COUNT",
            Func::Sum => "SUM",
            Func::Avg => "AVG",
            Func::Min => "MIN",
            Func::Max => "MAX",
        }
    }
}

/// An aggregate over `M`'s rows whose value reads as `R`: `Agg::count()`
/// (`i64`), `Agg::sum(col)` (`i64` / `f64`), `Agg::avg(col)` (`f64`),
/// `Agg::min(col)` / `Agg::max(col)` (the column's type). Build one and
/// pass it to [`Grouped::annotate`].
pub struct Agg<M, R> {
    func: Func,
    column: Option<&'static str>,
    cast: fn(Engine) -> Option<&'static str>,
    _t: PhantomData<fn() -> (M, R)>,
}

impl<M, R> Clone for Agg<M, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, R> Copy for Agg<M, R> {}

impl<M, R> std::fmt::Debug for Agg<M, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.func.sql(), self.column.unwrap_or("*"))
    }
}

fn no_cast(_: Engine) -> Option<&'static str> {
    None
}

fn bigint(e: Engine) -> Option<&'static str> {
    Some(if e == Engine::MySql {
        "SIGNED"
    } else {
        "BIGINT"
    })
}

fn double(e: Engine) -> Option<&'static str> {
    Some(match e {
        Engine::Postgres => "DOUBLE PRECISION",
        Engine::MySql => "DOUBLE",
        _ => "REAL",
    })
}

impl<M> Agg<M, i64> {
    /// `COUNT(*)`: the rows in the group.
    pub fn count() -> Self {
        Agg {
            func: Func::Count,
            column: None,
            cast: bigint,
            _t: PhantomData,
        }
    }

    /// `COUNT(col)`: the group's rows where `col` is not NULL.
    pub fn count_of<T>(col: Column<M, T>) -> Self {
        Agg {
            func: Func::Count,
            column: Some(col.name()),
            cast: bigint,
            _t: PhantomData,
        }
    }
}

impl<M> Agg<M, f64> {
    /// `AVG(col)` as `f64`.
    pub fn avg<T: Summable>(col: Column<M, T>) -> Self {
        Agg {
            func: Func::Avg,
            column: Some(col.name()),
            cast: double,
            _t: PhantomData,
        }
    }
}

impl<M> Agg<M, ()> {
    /// `SUM(col)`: `i64` for integer columns, `f64` for float ones.
    pub fn sum<T: Summable>(col: Column<M, T>) -> Agg<M, T::Sum> {
        Agg {
            func: Func::Sum,
            column: Some(col.name()),
            cast: T::cast,
            _t: PhantomData,
        }
    }

    /// `MIN(col)`, of the column's own type.
    pub fn min<T>(col: Column<M, T>) -> Agg<M, T> {
        Agg {
            func: Func::Min,
            column: Some(col.name()),
            cast: no_cast,
            _t: PhantomData,
        }
    }

    /// `MAX(col)`, of the column's own type.
    pub fn max<T>(col: Column<M, T>) -> Agg<M, T> {
        Agg {
            func: Func::Max,
            column: Some(col.name()),
            cast: no_cast,
            _t: PhantomData,
        }
    }
}

/// One annotation: its name (Rust side only) and aggregate.
#[derive(Clone)]
struct Annotation {
    name: String,
    func: Func,
    column: Option<&'static str>,
    cast: fn(Engine) -> Option<&'static str>,
}

#[derive(Clone, Copy)]
enum Sort {
    Key(&'static str),
    Annotation(usize),
}

/// A [`QuerySet`] grouped by key columns, with aggregates per group; built
/// by [`QuerySet::group_by`], run by [`Grouped::all`].
pub struct Grouped<M> {
    base: QuerySet<M>,
    keys: Vec<(usize, &'static str)>,
    annotations: Vec<Annotation>,
    order: Vec<(Sort, bool)>,
}

impl<M> Clone for Grouped<M> {
    fn clone(&self) -> Self {
        Grouped {
            base: self.base.clone(),
            keys: self.keys.clone(),
            annotations: self.annotations.clone(),
            order: self.order.clone(),
        }
    }
}

impl<M> std::fmt::Debug for Grouped<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grouped")
            .field("base", &self.base)
            .field("keys", &self.keys.iter().map(|k| k.1).collect::<Vec<_>>())
            .field(
                "annotations",
                &self
                    .annotations
                    .iter()
                    .map(|a| format!("{} = {}({})", a.name, a.func.sql(), a.column.unwrap_or("*")))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl<M: Model> QuerySet<M> {
    /// Groups the matching rows by `keys` (Django's `values(..)`), for
    /// [`Grouped::annotate`]. The QuerySet's filters apply before grouping;
    /// its own order and distinct do not (order groups with
    /// [`Grouped::order_by_key`] / [`Grouped::order_by_annotation`]), and
    /// its limit and offset apply to the groups.
    #[must_use]
    pub fn group_by(self, keys: &[AnyColumn<M>]) -> Grouped<M> {
        Grouped {
            base: self,
            keys: keys.iter().map(|c| (c.index, c.name)).collect(),
            annotations: Vec::new(),
            order: Vec::new(),
        }
    }

    /// [`QuerySet::group_by`] by field names arriving at run time; a name
    /// that is not a field is an error listing the fields.
    pub fn group_by_names(self, keys: &[&str]) -> OrmResult<Grouped<M>> {
        let meta = M::meta();
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let (i, c) = meta
                .column_by_field(k)
                .ok_or_else(|| OrmError::UnknownField {
                    model: meta.name,
                    field: (*k).to_owned(),
                    valid: meta.field_list(),
                })?;
            out.push((i, c.name));
        }
        Ok(Grouped {
            base: self,
            keys: out,
            annotations: Vec::new(),
            order: Vec::new(),
        })
    }
}

/// The aggregate functions [`Grouped::annotate_name`] accepts.
pub const AGGREGATES: &str = "count, sum, avg, min, max";

impl<M: Model> Grouped<M> {
    /// Adds an aggregate per group, read back by `name` with
    /// [`GroupRow::get`] (or typed with [`GroupRow::agg`]).
    #[must_use]
    pub fn annotate<R>(mut self, name: &str, agg: Agg<M, R>) -> Self {
        self.annotations.push(Annotation {
            name: name.to_owned(),
            func: agg.func,
            column: agg.column,
            cast: agg.cast,
        });
        self
    }

    /// Adds an aggregate named at run time: `func` one of [`AGGREGATES`],
    /// `field` a field of `M` (`None` for `count` of rows). Anything else
    /// is an error naming the valid names. Sums of integer columns read as
    /// `i64`, of float columns as `f64`; averages as `f64`.
    pub fn annotate_name(mut self, name: &str, func: &str, field: Option<&str>) -> OrmResult<Self> {
        let meta = M::meta();
        let func = match func.to_ascii_lowercase().as_str() {
            "count" => Func::Count,
            "sum" => Func::Sum,
            "avg" => Func::Avg,
            "min" => Func::Min,
            "max" => Func::Max,
            _ => {
                return Err(OrmError::Unsupported(format!(
                    "unknown aggregate {func:?}; valid aggregates are: {AGGREGATES}"
                )));
            }
        };
        let col = match field {
            None if func == Func::Count => None,
            None => {
                return Err(OrmError::Unsupported(format!(
                    "{} needs a field of {}",
                    func.sql(),
                    meta.name
                )));
            }
            Some(f) => Some(
                meta.column_by_field(f)
                    .ok_or_else(|| OrmError::UnknownField {
                        model: meta.name,
                        field: f.to_owned(),
                        valid: meta.field_list(),
                    })?,
            ),
        };
        let numeric = |t: SqlType| t.is_integer() || matches!(t, SqlType::F32 | SqlType::F64);
        let cast: fn(Engine) -> Option<&'static str> = match (func, col) {
            (Func::Count, _) => bigint,
            (Func::Sum | Func::Avg, Some((_, c))) if !numeric(c.sql_type) => {
                return Err(OrmError::Unsupported(format!(
                    "{} of {}.{} ({}): sum and avg need an integer or float field",
                    func.sql(),
                    meta.name,
                    c.field,
                    c.sql_type.name()
                )));
            }
            (Func::Sum, Some((_, c))) if c.sql_type.is_integer() => bigint,
            (Func::Sum | Func::Avg, _) => double,
            _ => no_cast,
        };
        self.annotations.push(Annotation {
            name: name.to_owned(),
            func,
            column: col.map(|(_, c)| c.name),
            cast,
        });
        Ok(self)
    }

    /// Orders the groups by a key column.
    #[must_use]
    pub fn order_by_key(mut self, col: impl Into<AnyColumn<M>>, desc: bool) -> Self {
        self.order.push((Sort::Key(col.into().name), desc));
        self
    }

    /// Orders the groups by an annotation, by its name (`"-n"` for
    /// descending); an unknown name is an error listing the annotations.
    pub fn order_by_annotation(mut self, spec: &str) -> OrmResult<Self> {
        let (desc, name) = match spec.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, spec),
        };
        let i = self.position(name)?;
        self.order.push((Sort::Annotation(i), desc));
        Ok(self)
    }

    fn position(&self, name: &str) -> OrmResult<usize> {
        self.annotations
            .iter()
            .position(|a| a.name == name)
            .ok_or_else(|| {
                OrmError::Unsupported(format!(
                    "no annotation {name:?}; the annotations are: {}",
                    self.annotations
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    fn aggregate(b: &mut SqlBuf, a: &Annotation) {
        let cast = (a.cast)(b.dialect.engine);
        if cast.is_some() {
            b.push("CAST(");
        }
        b.push(a.func.sql()).push("(");
        match a.column {
            Some(c) => {
                b.ident(c);
            }
            None => {
                b.push("*");
            }
        }
        b.push(")");
        if let Some(t) = cast {
            b.push(" AS ").push(t).push(")");
        }
    }

    /// The grouped SELECT, for `dialect`.
    pub fn sql(&self, dialect: Dialect) -> OrmResult<Statement> {
        if self.keys.is_empty() && self.annotations.is_empty() {
            return Err(OrmError::Unsupported(
                "group_by needs a key column or an annotation".into(),
            ));
        }
        let mut b = SqlBuf::new(dialect);
        b.push("SELECT ");
        let mut n = 0;
        for (_, k) in &self.keys {
            if n > 0 {
                b.push(", ");
            }
            n += 1;
            b.ident(k);
        }
        for a in &self.annotations {
            if n > 0 {
                b.push(", ");
            }
            n += 1;
            Self::aggregate(&mut b, a);
        }
        b.push(" FROM ").ident(M::meta().table);
        self.base.where_clause(&mut b);
        if !self.keys.is_empty() {
            b.push(" GROUP BY ");
            for (i, (_, k)) in self.keys.iter().enumerate() {
                if i > 0 {
                    b.push(", ");
                }
                b.ident(k);
            }
        }
        if !self.order.is_empty() {
            b.push(" ORDER BY ");
            for (i, (s, desc)) in self.order.iter().enumerate() {
                if i > 0 {
                    b.push(", ");
                }
                match *s {
                    Sort::Key(k) => {
                        b.ident(k);
                    }
                    Sort::Annotation(a) => Self::aggregate(&mut b, &self.annotations[a]),
                }
                b.push(if *desc { " DESC" } else { " ASC" });
            }
        }
        crate::query::limit_offset(&mut b, self.base.limit_value(), self.base.offset_value());
        Ok(b.finish().idempotent(true))
    }

    /// Runs the query: one [`GroupRow`] per group, one statement.
    #[track_caller]
    pub fn all<E: Executor>(
        &self,
        mut ex: E,
    ) -> impl Future<Output = OrmResult<Vec<GroupRow<M>>>> + Send {
        crate::site::at_caller(async move {
            let stmt = self.sql(ex.dialect())?;
            let rows = crate::exec::read_rows(&mut ex, self.base.on_primary(), stmt).await?;
            let layout = Arc::new(Layout {
                keys: self.keys.iter().map(|k| k.0).collect(),
                names: self.annotations.iter().map(|a| a.name.clone()).collect(),
                aggs: self
                    .annotations
                    .iter()
                    .map(|a| (a.func, a.column))
                    .collect(),
            });
            Ok(rows
                .rows
                .into_iter()
                .map(|row| GroupRow {
                    row,
                    layout: Arc::clone(&layout),
                    _m: PhantomData,
                })
                .collect())
        })
    }
}

struct Layout {
    keys: Vec<usize>,
    names: Vec<String>,
    aggs: Vec<(Func, Option<&'static str>)>,
}

/// One group: its key columns and annotations, read on demand.
pub struct GroupRow<M> {
    row: Row,
    layout: Arc<Layout>,
    _m: PhantomData<fn() -> M>,
}

impl<M: Model> std::fmt::Debug for GroupRow<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the values may be personal data.
        f.debug_struct("GroupRow")
            .field("model", &M::meta().name)
            .field("annotations", &self.layout.names)
            .finish_non_exhaustive()
    }
}

impl<M: Model> GroupRow<M> {
    /// The group's value of key column `col`; a column that is not a key
    /// of the grouping is an error.
    pub fn key<T: FromValue>(&self, col: Column<M, T>) -> OrmResult<T> {
        let pos = self
            .layout
            .keys
            .iter()
            .position(|&k| k == col.index())
            .ok_or_else(|| {
                OrmError::Unsupported(format!(
                    "{}.{} is not a group_by key of this query",
                    M::meta().name,
                    col.name()
                ))
            })?;
        Ok(self.row.get::<T>(pos)?)
    }

    /// The annotation called `name` (`None` for SUM / AVG / MIN / MAX over
    /// only NULLs); an unknown name is an error listing the annotations.
    pub fn get<R: FromValue>(&self, name: &str) -> OrmResult<R> {
        let i = self
            .layout
            .names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| {
                OrmError::Unsupported(format!(
                    "no annotation {name:?}; the annotations are: {}",
                    self.layout.names.join(", ")
                ))
            })?;
        Ok(self.row.get::<R>(self.layout.keys.len() + i)?)
    }

    /// The value of the first annotation made with `agg`, typed by it.
    pub fn agg<R: FromValue>(&self, agg: Agg<M, R>) -> OrmResult<Option<R>> {
        let i = self
            .layout
            .aggs
            .iter()
            .position(|&(f, c)| f == agg.func && c == agg.column)
            .ok_or_else(|| {
                OrmError::Unsupported(format!("{agg:?} is not an annotation of this query"))
            })?;
        Ok(self.row.get::<Option<R>>(self.layout.keys.len() + i)?)
    }
}
