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
    #[track_caller]
    pub fn all<E: Executor>(
        &self,
        mut ex: E,
    ) -> impl Future<Output = OrmResult<Vec<(M, R)>>> + Send {
        crate::site::at_caller(async move {
            let stmt = self.sql(ex.dialect())?;
            let rows = ex.query(&stmt).await?;
            let offset = M::meta().columns.len();
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push((M::from_row_at(row, 0)?, R::from_row_at(row, offset)?));
            }
            Ok(out)
        })
    }
}

/// A key value that can be hashed to match children to parents: integers
/// of any width compare equal, as the engines' own comparison would.
#[derive(Hash, PartialEq, Eq)]
enum Key {
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Uuid(uuid::Uuid),
}

/// The position of `M`'s primary key, which a prefetch needs to be one
/// column.
fn single_key<M: Model>(what: &str) -> OrmResult<usize> {
    let meta = M::meta();
    match meta.primary_key {
        &[pk] => Ok(pk),
        _ => Err(OrmError::Unsupported(format!(
            "{what} from {} needs a single-column primary key",
            meta.name
        ))),
    }
}

/// A prefetch's own QuerySet may not be limited: the limit would apply to
/// all parents together.
fn unbounded(limit: Option<u64>, offset: Option<u64>) -> OrmResult<()> {
    if limit.is_some() || offset.is_some() {
        return Err(OrmError::Unsupported(
            "a prefetch QuerySet cannot have a limit or offset (it would apply to all parents together)".into(),
        ));
    }
    Ok(())
}

/// Each distinct parent key once, in order, and where each parent sits.
fn parent_keys<M: Model>(
    parents: &[M],
    pk: usize,
) -> OrmResult<(
    std::collections::HashMap<Key, usize>,
    Vec<covet_core::Value>,
)> {
    let mut index = std::collections::HashMap::with_capacity(parents.len());
    let mut keys = Vec::with_capacity(parents.len());
    for (i, p) in parents.iter().enumerate() {
        let v = p.value_at(pk);
        let k = key_of(&v).ok_or_else(|| {
            OrmError::Unsupported(format!(
                "prefetch keys of type {} are not supported",
                v.type_name()
            ))
        })?;
        if index.insert(k, i).is_none() {
            keys.push(v);
        }
    }
    Ok((index, keys))
}

fn key_of(v: &covet_core::Value) -> Option<Key> {
    use covet_core::Value as V;
    Some(match v {
        V::I16(n) => Key::Int(i64::from(*n)),
        V::I32(n) => Key::Int(i64::from(*n)),
        V::I64(n) => Key::Int(*n),
        V::Text(s) => Key::Text(s.clone()),
        V::Bytes(b) => Key::Bytes(b.clone()),
        V::Uuid(u) => Key::Uuid(*u),
        _ => return None,
    })
}

/// The most keys one prefetch statement carries, within every dialect's
/// parameter limit.
const MAX_KEYS_PER_QUERY: usize = 10_000;

/// A [`QuerySet`] of `M` with each row's children `C` (the rows of `C`
/// whose `belongs_to` points at it) loaded by one more query per chunk of
/// keys, not one per parent.
pub struct Prefetch<M, C> {
    base: QuerySet<M>,
    rel: Relation<C, M>,
    children: QuerySet<C>,
}

impl<M, C> std::fmt::Debug for Prefetch<M, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetch")
            .field("base", &self.base)
            .field("rel", &self.rel)
            .field("children", &self.children)
            .finish()
    }
}

impl<M: Model> QuerySet<M> {
    /// Loads, for each row, the rows of `C` that belong to it through
    /// `rel` (the reverse of `C`'s `belongs_to`): `Vec<(M, Vec<C>)>` in two
    /// queries (more only when the keys exceed one statement's parameters).
    pub fn prefetch<C: Model>(self, rel: Relation<C, M>) -> Prefetch<M, C> {
        self.prefetch_with(rel, QuerySet::new())
    }

    /// [`QuerySet::prefetch`] with the children filtered and ordered by
    /// `children` (which must not have a limit or offset).
    pub fn prefetch_with<C: Model>(
        self,
        rel: Relation<C, M>,
        children: QuerySet<C>,
    ) -> Prefetch<M, C> {
        Prefetch {
            base: self,
            rel,
            children,
        }
    }
}

impl<M: Model, C: Model> Prefetch<M, C> {
    /// Runs the parent query, then the children's in chunks of keys.
    #[track_caller]
    pub fn all<E: Executor>(
        &self,
        mut ex: E,
    ) -> impl Future<Output = OrmResult<Vec<(M, Vec<C>)>>> + Send {
        crate::site::at_caller(async move {
            let pk = single_key::<M>("prefetch")?;
            unbounded(self.children.limit_value(), self.children.offset_value())?;
            let parents = self.base.all(&mut ex).await?;
            let (index, keys) = parent_keys(&parents, pk)?;
            let mut out: Vec<(M, Vec<C>)> = parents.into_iter().map(|p| (p, Vec::new())).collect();
            let fk = C::meta().columns[self.rel.fk].name;
            let dialect = ex.dialect();
            let per = (dialect.max_params / 2).clamp(1, MAX_KEYS_PER_QUERY);
            for chunk in keys.chunks(per) {
                let q = self
                    .children
                    .clone()
                    .with_node(crate::expr::Node::In(fk, chunk.to_vec()));
                for child in q.all(&mut ex).await? {
                    let parent = key_of(&child.value_at(self.rel.fk)).and_then(|k| index.get(&k));
                    if let Some(&i) = parent {
                        out[i].1.push(child);
                    }
                }
            }
            Ok(out)
        })
    }
}

/// A [`QuerySet`] of `M` with each row's `T`s, linked through the join
/// table `J` (many-to-many: posts and their tags through post_tags).
pub struct PrefetchThrough<M, J, T> {
    base: QuerySet<M>,
    from: Relation<J, M>,
    to: Relation<J, T>,
    targets: QuerySet<T>,
}

impl<M, J, T> std::fmt::Debug for PrefetchThrough<M, J, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefetchThrough")
            .field("base", &self.base)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("targets", &self.targets)
            .finish()
    }
}

impl<M: Model> QuerySet<M> {
    /// Loads, for each row, the `T`s linked to it through the join table
    /// `J`: `from` is `J`'s relation to `M`, `to` its relation to `T`
    /// (`Post::objects().prefetch_through(PostTag::POST, PostTag::TAG)`).
    /// Two queries (more only past the parameter limit).
    pub fn prefetch_through<J: Model, T: Model>(
        self,
        from: Relation<J, M>,
        to: Relation<J, T>,
    ) -> PrefetchThrough<M, J, T> {
        PrefetchThrough {
            base: self,
            from,
            to,
            targets: QuerySet::new(),
        }
    }
}

impl<M: Model, J: Model, T: Model> PrefetchThrough<M, J, T> {
    /// Filters (and orders) the linked rows; no limit or offset.
    #[must_use]
    pub fn targets(mut self, targets: QuerySet<T>) -> Self {
        self.targets = targets;
        self
    }

    fn chunk_sql(&self, dialect: Dialect, keys: &[covet_core::Value]) -> OrmResult<Statement> {
        let (j, t) = (J::meta(), T::meta());
        let &[tkey] = t.primary_key else {
            return Err(OrmError::Unsupported(format!(
                "prefetch_through to {} needs a single-column primary key",
                t.name
            )));
        };
        let mut b = SqlBuf::new(dialect);
        b.push("SELECT ");
        for (i, c) in t.columns.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.ident("t1").push(".").ident(c.name);
        }
        b.push(", ")
            .ident("t0")
            .push(".")
            .ident(j.columns[self.from.fk].name)
            .push(" FROM ")
            .ident(j.table)
            .push(" AS ")
            .ident("t0")
            .push(" INNER JOIN ")
            .ident(t.table)
            .push(" AS ")
            .ident("t1")
            .push(" ON ")
            .ident("t1")
            .push(".")
            .ident(t.columns[tkey].name)
            .push(" = ")
            .ident("t0")
            .push(".")
            .ident(j.columns[self.to.fk].name)
            .push(" WHERE ")
            .ident("t0")
            .push(".")
            .ident(j.columns[self.from.fk].name)
            .push(" IN (");
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.param(k.clone());
        }
        b.push(")");
        if self.targets.has_filter() {
            b.qualify = Some("t1");
            b.push(" AND (");
            self.targets.where_body(&mut b);
            b.push(")");
        }
        b.qualify = Some("t1");
        self.targets.order_and_limit(&mut b, None);
        Ok(b.finish().idempotent(true))
    }

    /// Runs the parent query, then one query per chunk of keys over the
    /// join table.
    #[track_caller]
    pub fn all<E: Executor>(
        &self,
        mut ex: E,
    ) -> impl Future<Output = OrmResult<Vec<(M, Vec<T>)>>> + Send {
        crate::site::at_caller(async move {
            let pk = single_key::<M>("prefetch_through")?;
            unbounded(self.targets.limit_value(), self.targets.offset_value())?;
            let parents = self.base.all(&mut ex).await?;
            let (index, keys) = parent_keys(&parents, pk)?;
            let mut out: Vec<(M, Vec<T>)> = parents.into_iter().map(|p| (p, Vec::new())).collect();
            let dialect = ex.dialect();
            let per = (dialect.max_params / 2).clamp(1, MAX_KEYS_PER_QUERY);
            let width = T::meta().columns.len();
            for chunk in keys.chunks(per) {
                let stmt = self.chunk_sql(dialect, chunk)?;
                let rows = ex.query(&stmt).await?;
                for row in &rows {
                    let target = T::from_row_at(row, 0)?;
                    if let Some(&i) = key_of(row.value(width)?).and_then(|k| index.get(&k)) {
                        out[i].1.push(target);
                    }
                }
            }
            Ok(out)
        })
    }
}
