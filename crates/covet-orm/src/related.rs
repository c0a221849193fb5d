//! `select_related`: a forward (`belongs_to`) relation loaded by one JOIN,
//! typed so that the related row is there by construction.
//!
//! `Post::objects().select_related(Post::AUTHOR)` is a
//! [`SelectRelated<Post, User>`] whose `all` returns `Vec<(Post, User)>`:
//! the author can only be read where the query loaded it, checked by the
//! compiler rather than at run time.

use std::marker::PhantomData;
use std::sync::Arc;

use covet_core::{Dialect, Statement};
use covet_monitor::nplusone::EagerLoadWatch;

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

/// One JOIN of a select_related chain: the table at alias `from` holds
/// foreign key `fk`, pointing at `target`'s primary key.
struct Hop {
    from: usize,
    fk: &'static str,
    target: &'static crate::model::ModelMeta,
}

const ALIASES: [&str; 4] = ["t0", "t1", "t2", "t3"];

/// The SELECT of `M`'s columns and each hop's target's, joined in order.
fn join_sql<M: Model>(base: &QuerySet<M>, dialect: Dialect, hops: &[Hop]) -> OrmResult<Statement> {
    let m = M::meta();
    let mut b = SqlBuf::new(dialect);
    b.push(if base.is_distinct() {
        "SELECT DISTINCT "
    } else {
        "SELECT "
    });
    for (i, c) in m.columns.iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.ident(ALIASES[0]).push(".").ident(c.name);
    }
    for (h, hop) in hops.iter().enumerate() {
        for c in hop.target.columns {
            b.push(", ").ident(ALIASES[h + 1]).push(".").ident(c.name);
        }
    }
    b.push(" FROM ")
        .ident(m.table)
        .push(" AS ")
        .ident(ALIASES[0]);
    for (h, hop) in hops.iter().enumerate() {
        let &[key] = hop.target.primary_key else {
            return Err(OrmError::Unsupported(format!(
                "select_related to {} needs a single-column primary key",
                hop.target.name
            )));
        };
        let alias = ALIASES[h + 1];
        b.push(" INNER JOIN ")
            .ident(hop.target.table)
            .push(" AS ")
            .ident(alias)
            .push(" ON ")
            .ident(alias)
            .push(".")
            .ident(hop.target.columns[key].name)
            .push(" = ")
            .ident(ALIASES[hop.from])
            .push(".")
            .ident(hop.fk);
    }
    b.qualify = Some(ALIASES[0]);
    base.where_clause(&mut b);
    base.order_and_limit(&mut b, base.limit_value());
    Ok(b.finish().idempotent(true))
}

impl<M: Model, R: Model> SelectRelated<M, R> {
    fn hop(&self) -> Hop {
        Hop {
            from: 0,
            fk: M::meta().columns[self.rel.fk].name,
            target: R::meta(),
        }
    }

    /// The SELECT with its JOIN, for `dialect`.
    pub fn sql(&self, dialect: Dialect) -> OrmResult<Statement> {
        join_sql(&self.base, dialect, &[self.hop()])
    }

    /// Also loads `R`'s own related `S` in the same statement, by a second
    /// JOIN (`post__author` when `M` is a comment): `Vec<(M, R, S)>`.
    pub fn then<S: Model>(self, rel: Relation<R, S>) -> SelectRelated2<M, R, S> {
        SelectRelated2 {
            first: self,
            from: 1,
            fk: R::meta().columns[rel.fk].name,
            _s: PhantomData,
        }
    }

    /// Also loads another relation of `M` itself in the same statement:
    /// `Vec<(M, R, S)>`.
    pub fn also<S: Model>(self, rel: Relation<M, S>) -> SelectRelated2<M, R, S> {
        SelectRelated2 {
            first: self,
            from: 0,
            fk: M::meta().columns[rel.fk].name,
            _s: PhantomData,
        }
    }

    /// Runs the query: every row of `M` with its `R`, one statement.
    #[track_caller]
    pub fn all<E: Executor>(
        &self,
        mut ex: E,
    ) -> impl Future<Output = OrmResult<Vec<(M, R)>>> + Send {
        crate::site::at_caller(async move {
            let stmt = self.sql(ex.dialect())?;
            let rows = crate::exec::read_rows(&mut ex, self.base.on_primary(), stmt).await?;
            let offset = M::meta().columns.len();
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push((M::from_row_at(row, 0)?, R::from_row_at(row, offset)?));
            }
            Ok(out)
        })
    }
}

/// A [`SelectRelated`] with a second relation, nested
/// ([`SelectRelated::then`]) or beside the first ([`SelectRelated::also`]):
/// two JOINs, one statement.
pub struct SelectRelated2<M, R, S> {
    first: SelectRelated<M, R>,
    from: usize,
    fk: &'static str,
    _s: PhantomData<fn() -> S>,
}

impl<M, R, S> Clone for SelectRelated2<M, R, S> {
    fn clone(&self) -> Self {
        SelectRelated2 {
            first: self.first.clone(),
            from: self.from,
            fk: self.fk,
            _s: PhantomData,
        }
    }
}

impl<M, R, S> std::fmt::Debug for SelectRelated2<M, R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectRelated2")
            .field("first", &self.first)
            .field("fk", &self.fk)
            .finish()
    }
}

impl<M: Model, R: Model, S: Model> SelectRelated2<M, R, S> {
    /// The SELECT with its two JOINs, for `dialect`.
    pub fn sql(&self, dialect: Dialect) -> OrmResult<Statement> {
        let second = Hop {
            from: self.from,
            fk: self.fk,
            target: S::meta(),
        };
        join_sql(&self.first.base, dialect, &[self.first.hop(), second])
    }

    /// Runs the query: every row of `M` with its `R` and `S`, one statement.
    #[track_caller]
    pub fn all<E: Executor>(
        &self,
        mut ex: E,
    ) -> impl Future<Output = OrmResult<Vec<(M, R, S)>>> + Send {
        crate::site::at_caller(async move {
            let stmt = self.sql(ex.dialect())?;
            let rows = crate::exec::read_rows(&mut ex, self.first.base.on_primary(), stmt).await?;
            let r_at = M::meta().columns.len();
            let s_at = r_at + R::meta().columns.len();
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                out.push((
                    M::from_row_at(row, 0)?,
                    R::from_row_at(row, r_at)?,
                    S::from_row_at(row, s_at)?,
                ));
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
    key_of_ref(&v.as_value_ref())
}

/// The key of a borrowed column value: reading one column of a lazy row
/// decodes that column only.
fn key_of_ref(v: &covet_core::ValueRef<'_>) -> Option<Key> {
    use covet_core::ValueRef as V;
    Some(match v {
        V::I16(n) => Key::Int(i64::from(*n)),
        V::I32(n) => Key::Int(i64::from(*n)),
        V::I64(n) => Key::Int(*n),
        V::Text(s) => Key::Text((*s).to_owned()),
        V::Bytes(b) => Key::Bytes(b.to_vec()),
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

/// The rows one prefetch loaded for one parent. Reads like a slice
/// (`len`, `iter`, indexing, `for x in &rows`) or as a `Vec`
/// ([`Prefetched::into_vec`]); a prefetch none of whose rows is ever read
/// is reported when its result is dropped (a `tracing` warning and
/// `covet_monitor::nplusone::ScopeReport::unused_eager_loads`).
pub struct Prefetched<C> {
    items: Vec<C>,
    watch: Option<Arc<EagerLoadWatch>>,
}

impl<C> Prefetched<C> {
    fn new(items: Vec<C>, watch: Option<&Arc<EagerLoadWatch>>) -> Self {
        Prefetched {
            items,
            watch: watch.cloned(),
        }
    }

    fn mark(&self) {
        if let Some(w) = &self.watch {
            w.mark_read();
        }
    }

    /// The rows as a `Vec`.
    pub fn into_vec(self) -> Vec<C> {
        self.mark();
        self.items
    }
}

impl<C> std::ops::Deref for Prefetched<C> {
    type Target = [C];
    fn deref(&self) -> &[C] {
        self.mark();
        &self.items
    }
}

impl<C> std::ops::DerefMut for Prefetched<C> {
    fn deref_mut(&mut self) -> &mut [C] {
        self.mark();
        &mut self.items
    }
}

impl<'a, C> IntoIterator for &'a Prefetched<C> {
    type Item = &'a C;
    type IntoIter = std::slice::Iter<'a, C>;
    fn into_iter(self) -> Self::IntoIter {
        self.mark();
        self.items.iter()
    }
}

impl<C> IntoIterator for Prefetched<C> {
    type Item = C;
    type IntoIter = std::vec::IntoIter<C>;
    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<C: PartialEq> PartialEq for Prefetched<C> {
    fn eq(&self, other: &Self) -> bool {
        self.mark();
        self.items == other.items
    }
}

impl<C: PartialEq> PartialEq<Vec<C>> for Prefetched<C> {
    fn eq(&self, other: &Vec<C>) -> bool {
        self.mark();
        &self.items == other
    }
}

impl<C: std::fmt::Debug> std::fmt::Debug for Prefetched<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.items.fmt(f)
    }
}

/// A watch over one prefetch level's rows, when it loaded any.
fn watch_for<C: Model>(rel_fk: usize, rows: usize) -> Option<Arc<EagerLoadWatch>> {
    if rows == 0 {
        return None;
    }
    let c = C::meta();
    let relation = c.columns[rel_fk]
        .references
        .and_then(|r| r.prefetch_hint)
        .map_or_else(|| format!("prefetch of {}", c.name), str::to_owned);
    Some(Arc::new(EagerLoadWatch::new(relation, rows as u64)))
}

/// The rows of `C` belonging to each of `parents` through `rel`, by one
/// query per chunk of keys (the dialect's parameter limit); the result is
/// aligned with `parents`.
async fn load_children<P: Model, C: Model, E: Executor>(
    ex: &mut E,
    parents: &[P],
    rel: Relation<C, P>,
    children: &QuerySet<C>,
) -> OrmResult<Vec<Vec<C>>> {
    let pk = single_key::<P>("prefetch")?;
    unbounded(children.limit_value(), children.offset_value())?;
    let (index, keys) = parent_keys(parents, pk)?;
    let mut out: Vec<Vec<C>> = std::iter::repeat_with(Vec::new)
        .take(parents.len())
        .collect();
    let fk = C::meta().columns[rel.fk].name;
    let dialect = ex.dialect();
    let per = (dialect.max_params / 2).clamp(1, MAX_KEYS_PER_QUERY);
    for chunk in keys.chunks(per) {
        let q = children
            .clone()
            .with_node(crate::expr::Node::In(fk, chunk.to_vec()));
        for child in q.all(&mut *ex).await? {
            let parent = key_of(&child.value_at(rel.fk)).and_then(|k| index.get(&k));
            if let Some(&i) = parent {
                out[i].push(child);
            }
        }
    }
    Ok(out)
}

impl<M: Model, C: Model> Prefetch<M, C> {
    /// Also loads, for each child, the rows of `G` that belong to it
    /// through `rel` (`posts__comments`): one more query per level, not
    /// one per child.
    pub fn then<G: Model>(self, rel: Relation<G, C>) -> Prefetch2<M, C, G> {
        self.then_with(rel, QuerySet::new())
    }

    /// [`Prefetch::then`] with the grandchildren filtered and ordered by
    /// `grandchildren` (no limit or offset).
    pub fn then_with<G: Model>(
        self,
        rel: Relation<G, C>,
        grandchildren: QuerySet<G>,
    ) -> Prefetch2<M, C, G> {
        Prefetch2 {
            first: self,
            rel,
            grandchildren,
        }
    }

    /// Runs the parent query, then the children's in chunks of keys.
    #[track_caller]
    pub fn all<E: Executor>(
        &self,
        mut ex: E,
    ) -> impl Future<Output = OrmResult<Vec<(M, Prefetched<C>)>>> + Send {
        crate::site::at_caller(async move {
            single_key::<M>("prefetch")?;
            unbounded(self.children.limit_value(), self.children.offset_value())?;
            let parents = self.base.all(&mut ex).await?;
            let kids = load_children(&mut ex, &parents, self.rel, &self.children).await?;
            let watch = watch_for::<C>(self.rel.fk, kids.iter().map(Vec::len).sum());
            Ok(parents
                .into_iter()
                .zip(kids)
                .map(|(p, k)| (p, Prefetched::new(k, watch.as_ref())))
                .collect())
        })
    }
}

/// A [`Prefetch`] two levels deep: each `M` with its `C`s, each `C` with
/// its `G`s (users, their posts, each post's comments), in one query per
/// level.
pub struct Prefetch2<M, C, G> {
    first: Prefetch<M, C>,
    rel: Relation<G, C>,
    grandchildren: QuerySet<G>,
}

impl<M, C, G> std::fmt::Debug for Prefetch2<M, C, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetch2")
            .field("first", &self.first)
            .field("rel", &self.rel)
            .field("grandchildren", &self.grandchildren)
            .finish()
    }
}

/// The rows of a two-level prefetch: each parent with its children, each
/// child with its own children.
pub type Nested<M, C, G> = Vec<(M, Prefetched<(C, Prefetched<G>)>)>;

impl<M: Model, C: Model, G: Model> Prefetch2<M, C, G> {
    /// Runs the parent query, then one query per level (per chunk of keys).
    #[track_caller]
    pub fn all<E: Executor>(
        &self,
        mut ex: E,
    ) -> impl Future<Output = OrmResult<Nested<M, C, G>>> + Send {
        crate::site::at_caller(async move {
            let first = &self.first;
            single_key::<M>("prefetch")?;
            single_key::<C>("prefetch")?;
            unbounded(first.children.limit_value(), first.children.offset_value())?;
            unbounded(
                self.grandchildren.limit_value(),
                self.grandchildren.offset_value(),
            )?;
            let parents = first.base.all(&mut ex).await?;
            let kids = load_children(&mut ex, &parents, first.rel, &first.children).await?;
            let counts: Vec<usize> = kids.iter().map(Vec::len).collect();
            let flat: Vec<C> = kids.into_iter().flatten().collect();
            let grand = load_children(&mut ex, &flat, self.rel, &self.grandchildren).await?;
            let w1 = watch_for::<C>(first.rel.fk, flat.len());
            let w2 = watch_for::<G>(self.rel.fk, grand.iter().map(Vec::len).sum());
            let mut pairs = flat
                .into_iter()
                .zip(grand)
                .map(|(c, g)| (c, Prefetched::new(g, w2.as_ref())));
            Ok(parents
                .into_iter()
                .zip(counts)
                .map(|(p, n)| {
                    let mine: Vec<(C, Prefetched<G>)> = pairs.by_ref().take(n).collect();
                    (p, Prefetched::new(mine, w1.as_ref()))
                })
                .collect())
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
    ) -> impl Future<Output = OrmResult<Vec<(M, Prefetched<T>)>>> + Send {
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
                let rows = crate::exec::read_rows(&mut ex, self.base.on_primary(), stmt).await?;
                for row in &rows {
                    let target = T::from_row_at(row, 0)?;
                    if let Some(&i) = key_of_ref(&row.value_ref(width)?).and_then(|k| index.get(&k))
                    {
                        out[i].1.push(target);
                    }
                }
            }
            let watch = watch_for::<J>(self.from.fk, out.iter().map(|(_, t)| t.len()).sum());
            Ok(out
                .into_iter()
                .map(|(p, t)| (p, Prefetched::new(t, watch.as_ref())))
                .collect())
        })
    }
}
