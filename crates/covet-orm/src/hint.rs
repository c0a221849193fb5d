//! Which relations point at which model, learnt from the queries that
//! ran, so an N+1 loop over a primary key (`User` by id, once per post)
//! can be reported with the `select_related` that replaces it.
//!
//! A model's relations are noted the first time one of its queries runs
//! inside an N+1 scope: the loop's parent query (`Post::objects()`) runs
//! before the loop, so its relations are known by the time the loop is
//! reported.

use std::sync::RwLock;

use crate::model::{Model, ModelMeta};

struct Known {
    /// The address of the metadata of the model holding the foreign key
    /// (an address only compared, so a plain number).
    source: usize,
    /// The model it points at.
    target: fn() -> &'static ModelMeta,
    /// `"select_related(Post::AUTHOR)"`.
    hint: &'static str,
}

static KNOWN: RwLock<Vec<Known>> = RwLock::new(Vec::new());

fn has_hints(meta: &ModelMeta) -> bool {
    meta.columns
        .iter()
        .any(|c| c.references.is_some_and(|r| r.select_hint.is_some()))
}

/// Records `M`'s relations, once.
pub(crate) fn note_relations<M: Model>() {
    let meta = M::meta();
    if !has_hints(meta) {
        return;
    }
    let me = std::ptr::from_ref(meta) as usize;
    let seen = |k: &Vec<Known>| k.iter().any(|e| e.source == me);
    if seen(&KNOWN.read().unwrap_or_else(|e| e.into_inner())) {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|e| e.into_inner());
    if seen(&known) {
        return;
    }
    for c in meta.columns {
        if let Some(r) = c.references
            && let Some(hint) = r.select_hint
        {
            known.push(Known {
                source: me,
                target: r.meta,
                hint,
            });
        }
    }
}

/// The select_related of the one known relation pointing at `target`
/// (`None` when none or several are known: then the hint would guess).
pub(crate) fn select_related_to(target: &'static ModelMeta) -> Option<&'static str> {
    let known = KNOWN.read().unwrap_or_else(|e| e.into_inner());
    let mut pointing = known.iter().filter(|k| std::ptr::eq((k.target)(), target));
    let first = pointing.next()?;
    pointing.next().is_none().then_some(first.hint)
}
