//! `select_related`: a forward (`belongs_to`) relation loaded by one JOIN,
//! typed so that the related row is there by construction.
//!
//! `Post::objects().select_related(Post::AUTHOR)` is a
//! [`SelectRelated<Post, User>`] whose `all` returns `Vec<(Post, User)>`:
//! the author can only be read where the query loaded it, checked by the
//! compiler rather than at run time.

use std::marker::PhantomData;

use covet_core::{Dialect, Statement};

use crate::error::{OrmError, OrmResult};
use crate::exec::Executor;
use crate::model::Model;
use crate::query::QuerySet;
use crate::sql::SqlBuf;

/// A non-null `belongs_to` field of `M` pointing at `R`; the derive writes
/// one per such field, named after the field without `_id`
/// (`Post::AUTHOR` for `author_id`).
pub struct Relation<M, R> {
    fk: usize,
    _t: PhantomData<fn() -> (M, R)>,
}

impl<M, R> Clone for Relation<M, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, R> Copy for Relation<M, R> {}

impl<M, R> std::fmt::Debug for Relation<M, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Relation(column {})", self.fk)
    }
}

impl<M, R> Relation<M, R> {
    /// The relation through column `fk` of `M`; the derive writes these.
    pub const fn new(fk: usize) -> Self {
        Relation {
            fk,
            _t: PhantomData,
        }
    }
}

/// A [`QuerySet`] of `M` with each row's `R` loaded by an INNER JOIN.
pub struct SelectRelated<M, R> {
    base: QuerySet<M>,
    rel: Relation<M, R>,
}

impl<M, R> Clone for SelectRelated<M, R> {
    fn clone(&self) -> Self {
        SelectRelated {
            base: self.base.clone(),
            rel: self.rel,
        }
    }
}

impl<M, R> std::fmt::Debug for SelectRelated<M, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectRelated")
            .field("base", &self.base)
            .field("rel", &self.rel)
            .finish()
    }
}

impl<M: Model> QuerySet<M> {
    /// Loads each row's related `R` in the same statement, by a JOIN on
    /// the foreign key: `Vec<(M, R)>` instead of one query per row.
    pub fn select_related<R: Model>(self, rel: Relation<M, R>) -> SelectRelated<M, R> {
        SelectRelated { base: self, rel }
    }
}

impl<M: Model, R: Model> SelectRelated<M, R> {
    /// The SELECT with its JOIN, for `dialect`.
    pub fn sql(&self, dialect: Dialect) -> OrmResult<Statement> {
        let (m, r) = (M::meta(), R::meta());
        let &[key] = r.primary_key else {
            return Err(OrmError::Unsupported(format!(
                "select_related to {} needs a single-column primary key",
                r.name
            )));
        };
        let mut b = SqlBuf::new(dialect);
        b.push(if self.base.is_distinct() {
            "SELECT DISTINCT "
        } else {
            "SELECT "
        });
        for (i, c) in m.columns.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.ident("t0").push(".").ident(c.name);
        }
        for c in r.columns {
            b.push(", ").ident("t1").push(".").ident(c.name);
        }
        b.push(" FROM ")
            .ident(m.table)
            .push(" AS ")
            .ident("t0")
            .push(" INNER JOIN ")
            .ident(r.table)
            .push(" AS ")
            .ident("t1")
            .push(" ON ")
            .ident("t1")
            .push(".")
            .ident(r.columns[key].name)
            .push(" = ")
            .ident("t0")
            .push(".")
            .ident(m.columns[self.rel.fk].name);
        b.qualify = Some("t0");
        self.base.where_clause(&mut b);
        self.base.order_and_limit(&mut b, self.base.limit_value());
        Ok(b.finish().idempotent(true))
    }

    /// Runs the query: every row of `M` with its `R`, one statement.
    pub async fn all<E: Executor>(&self, mut ex: E) -> OrmResult<Vec<(M, R)>> {
        let stmt = self.sql(ex.dialect())?;
        let rows = ex.query(&stmt).await?;
        let offset = M::meta().columns.len();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push((M::from_row_at(row, 0)?, R::from_row_at(row, offset)?));
        }
        Ok(out)
    }
}
