//! `only()` / `defer()`: queries that select some of a model's columns,
//! read into [`Partial`] rows whose unselected fields are a typed error
//! ([`OrmError::Deferred`]) when read, never a hidden query.

use std::marker::PhantomData;

use covet_core::{Dialect, FromValue, Row, Statement};

use crate::error::{OrmError, OrmResult};
use crate::exec::Executor;
use crate::expr::{AnyColumn, Column};
use crate::model::Model;
use crate::query::{Cols, QuerySet};
use crate::sql::SqlBuf;

/// The most columns a model may have for `only` / `defer` (one bit each).
const MAX_COLUMNS: usize = 128;

/// A [`QuerySet`] that selects only some of `M`'s columns (always
/// including the primary key); built by [`QuerySet::only`] and
/// [`QuerySet::defer`].
pub struct Only<M> {
    base: QuerySet<M>,
    mask: u128,
}

impl<M> Clone for Only<M> {
    fn clone(&self) -> Self {
        Only {
            base: self.base.clone(),
            mask: self.mask,
        }
    }
}

impl<M: Model> std::fmt::Debug for Only<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Only")
            .field("base", &self.base)
            .field("fields", &selected_fields::<M>(self.mask))
            .finish()
    }
}

fn selected_fields<M: Model>(mask: u128) -> Vec<&'static str> {
    M::meta()
        .columns
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, c)| c.field)
        .collect()
}

fn pk_mask<M: Model>() -> u128 {
    M::meta()
        .primary_key
        .iter()
        .filter(|&&i| i < MAX_COLUMNS)
        .fold(0, |m, &i| m | (1 << i))
}

fn all_mask<M: Model>() -> u128 {
    let n = M::meta().columns.len().min(MAX_COLUMNS);
    if n == MAX_COLUMNS {
        u128::MAX
    } else {
        (1u128 << n) - 1
    }
}

fn bit(index: usize) -> u128 {
    if index < MAX_COLUMNS { 1 << index } else { 0 }
}

fn mask_of_names<M: Model>(names: &[&str]) -> OrmResult<u128> {
    let meta = M::meta();
    let mut mask = 0;
    for n in names {
        let (i, _) = meta
            .column_by_field(n)
            .ok_or_else(|| OrmError::UnknownField {
                model: meta.name,
                field: (*n).to_owned(),
                valid: meta.field_list(),
            })?;
        mask |= bit(i);
    }
    Ok(mask)
}

impl<M: Model> QuerySet<M> {
    /// Selects only `fields` (and the primary key, always). The rows are
    /// [`Partial`]s: reading a field left out is [`OrmError::Deferred`].
    #[must_use]
    pub fn only(self, fields: &[AnyColumn<M>]) -> Only<M> {
        let mask = fields.iter().fold(pk_mask::<M>(), |m, c| m | bit(c.index));
        Only { base: self, mask }
    }

    /// Selects every field except `fields` (the primary key is selected
    /// even when named here).
    #[must_use]
    pub fn defer(self, fields: &[AnyColumn<M>]) -> Only<M> {
        let dropped = fields.iter().fold(0, |m, c| m | bit(c.index));
        Only {
            base: self,
            mask: (all_mask::<M>() & !dropped) | pk_mask::<M>(),
        }
    }

    /// [`QuerySet::only`] by field names arriving at run time; a name that
    /// is not a field is an error listing the fields.
    pub fn only_names(self, fields: &[&str]) -> OrmResult<Only<M>> {
        let mask = mask_of_names::<M>(fields)? | pk_mask::<M>();
        Ok(Only { base: self, mask })
    }

    /// [`QuerySet::defer`] by field names arriving at run time.
    pub fn defer_names(self, fields: &[&str]) -> OrmResult<Only<M>> {
        let dropped = mask_of_names::<M>(fields)?;
        Ok(Only {
            base: self,
            mask: (all_mask::<M>() & !dropped) | pk_mask::<M>(),
        })
    }
}

impl<M: Model> Only<M> {
    /// The SELECT of the chosen columns, for `dialect`.
    pub fn sql(&self, dialect: Dialect) -> OrmResult<Statement> {
        let meta = M::meta();
        if meta.columns.len() > MAX_COLUMNS {
            return Err(OrmError::Unsupported(format!(
                "only/defer on {} ({} columns) supports models of at most {MAX_COLUMNS} columns",
                meta.name,
                meta.columns.len()
            )));
        }
        let mut b = SqlBuf::new(dialect);
        self.base
            .select_into(&mut b, Cols::Mask(self.mask), self.base.limit_value());
        Ok(b.finish().idempotent(true))
    }

    /// Runs the query: one [`Partial`] per row, one statement.
    #[track_caller]
    pub fn all<E: Executor>(
        &self,
        mut ex: E,
    ) -> impl Future<Output = OrmResult<Vec<Partial<M>>>> + Send {
        crate::site::at_caller(async move {
            let stmt = self.sql(ex.dialect())?;
            let rows = crate::exec::read_rows(&mut ex, self.base.on_primary(), stmt).await?;
            Ok(rows
                .rows
                .into_iter()
                .map(|row| Partial {
                    row,
                    mask: self.mask,
                    _m: PhantomData,
                })
                .collect())
        })
    }

    /// The first row in the query's order (by primary key without one).
    #[track_caller]
    pub fn first<E: Executor>(
        &self,
        ex: E,
    ) -> impl Future<Output = OrmResult<Option<Partial<M>>>> + Send {
        crate::site::at_caller(async move {
            let q = Only {
                base: self
                    .base
                    .clone()
                    .ordered_by_pk()
                    .limit(self.base.limit_value().map_or(1, |l| l.min(1))),
                mask: self.mask,
            };
            Ok(q.all(ex).await?.into_iter().next())
        })
    }
}

/// A row of `M` read by [`Only`]: the selected fields, read on demand by
/// their typed column (no per-row work beyond the driver's row).
pub struct Partial<M> {
    row: Row,
    mask: u128,
    _m: PhantomData<fn() -> M>,
}

impl<M> Clone for Partial<M> {
    fn clone(&self) -> Self {
        Partial {
            row: self.row.clone(),
            mask: self.mask,
            _m: PhantomData,
        }
    }
}

impl<M: Model> std::fmt::Debug for Partial<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Field names only: rows may hold personal data.
        f.debug_struct("Partial")
            .field("model", &M::meta().name)
            .field("loaded", &selected_fields::<M>(self.mask))
            .finish()
    }
}

impl<M: Model> Partial<M> {
    fn position(&self, index: usize) -> OrmResult<usize> {
        let b = bit(index);
        if b == 0 || self.mask & b == 0 {
            let meta = M::meta();
            return Err(OrmError::Deferred {
                model: meta.name,
                field: meta.columns.get(index).map_or("?", |c| c.field),
            });
        }
        // The row holds the selected columns in model order.
        Ok((self.mask & (b - 1)).count_ones() as usize)
    }

    /// The value of `col`, or [`OrmError::Deferred`] when the query did
    /// not select it.
    pub fn get<T: FromValue>(&self, col: Column<M, T>) -> OrmResult<T> {
        let pos = self.position(col.index())?;
        Ok(self.row.get::<T>(pos)?)
    }

    /// The value of the field called `field` (run-time name).
    pub fn get_by_name<T: FromValue>(&self, field: &str) -> OrmResult<T> {
        let meta = M::meta();
        let (i, _) = meta
            .column_by_field(field)
            .ok_or_else(|| OrmError::UnknownField {
                model: meta.name,
                field: field.to_owned(),
                valid: meta.field_list(),
            })?;
        let pos = self.position(i)?;
        Ok(self.row.get::<T>(pos)?)
    }

    /// Whether `col` was selected.
    pub fn is_loaded(&self, col: impl Into<AnyColumn<M>>) -> bool {
        self.mask & bit(col.into().index) != 0
    }

    /// The whole model, when every field was selected; otherwise
    /// [`OrmError::Deferred`] naming the first field that was not.
    pub fn into_model(self) -> OrmResult<M> {
        let meta = M::meta();
        if let Some(i) = (0..meta.columns.len()).find(|&i| self.mask & bit(i) == 0) {
            return Err(OrmError::Deferred {
                model: meta.name,
                field: meta.columns[i].field,
            });
        }
        Ok(M::from_row(&self.row)?)
    }
}
