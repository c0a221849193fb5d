//! The call site of an ORM statement, for N+1 detection.
//!
//! Every executing method (`all`, `get`, `first`, `count`, aggregates,
//! `update`, `delete`, and the relation loaders) is `#[track_caller]` and
//! wraps its work in [`at_caller`], which sets the user's line as the
//! statement's call site for `covet_monitor::nplusone`. When a call site is
//! already set (an ORM method calling another, such as `get` calling
//! `all`, or a prefetch running its child query), the outer one is kept:
//! it is the line in the user's code.

use std::panic::Location;

use covet_monitor::nplusone;

/// Runs `fut` with the caller's location as its call site, unless an
/// enclosing one is set.
#[track_caller]
pub(crate) fn at_caller<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let site = Location::caller();
    async move {
        if nplusone::current_call_site().is_some() {
            fut.await
        } else {
            nplusone::with_call_site(site, fut).await
        }
    }
}
