//! N+1 detection and query budgets, at the adapter chokepoint.
//!
//! # How it fits together
//!
//! - [`NPlusOneLayer`] is an [`Intercept`] layer. It sees every statement
//!   that passes it, inside transactions and savepoints too, whether the
//!   ORM built it or the user wrote raw SQL.
//! - A **scope** ([`scope`], [`Scope::run`], and every budget function) is
//!   a tokio task-local the user opens around a request handler or a test.
//!   Outside a scope the layer does nothing but one task-local lookup.
//!   Statements issued concurrently inside the scope (`join_all`,
//!   `select!`) share it; a task started with `tokio::spawn` does not
//!   inherit it (task-locals never cross `spawn`), so open a scope inside
//!   the spawned task if it should be watched.
//! - The **call site** is another task-local, set by [`with_call_site`]
//!   around each statement the ORM runs (its executing methods are
//!   `#[track_caller]`, so this is the user's line, not the ORM's). Each
//!   future carries its own, so concurrent queries under `join_all` keep
//!   their own call sites. Raw SQL has no call site unless the caller
//!   wraps it in [`with_call_site`]`(Location::caller(), ..)`; it is
//!   grouped by fingerprint alone and shown as `unknown`.
//!
//! Within a scope, statements are grouped by (fingerprint, call site).
//! When one group runs more than the threshold (default 2) times, that is
//! an N+1: an [`NPlusOneReport`] with the call site, the fingerprint, the
//! count and a hint for the fix. What happens then is the layer's
//! [`Mode`]. Fingerprints are the slow log's ([`Fingerprint::for_engine`]):
//! literals and parameters are replaced, so reports and budget failures
//! never show a bound value.
//!
//! Memory is bounded: a scope keeps at most [`MAX_GROUPS`] groups; further
//! distinct groups are counted (for budgets) but not tracked.
//!
//! Nested scopes: the innermost scope detects N+1 and counts; every
//! enclosing scope counts the statement too, so a budget around code that
//! opens its own scope still sees all statements.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use covet_core::{Adapter, Layer, Statement};
//! use covet_monitor::nplusone::{self, Mode, NPlusOneLayer};
//!
//! let raw: Arc<dyn Adapter> =
//!     Arc::new(covet_adapter_sqlite::SqliteAdapter::connect(&"sqlite::memory:".parse()?).await?);
//! let db = NPlusOneLayer::new().mode(Mode::Error).layer(raw);
//! db.execute(&Statement::new("CREATE TABLE t (id INTEGER)")).await?;
//!
//! // Budgets: at most 2 statements in the block.
//! nplusone::assert_max_queries(2, async {
//!     db.query(&Statement::new("SELECT id FROM t")).await.unwrap();
//! })
//! .await;
//!
//! // The same statement from the same place three times is an N+1; in
//! // error mode the third one is refused.
//! let (results, report) = nplusone::scope(async {
//!     let mut results = Vec::new();
//!     for id in 0..3i64 {
//!         let stmt = Statement::new("SELECT id FROM t WHERE id = ?").bind(id);
//!         results.push(db.query(&stmt).await.is_ok());
//!     }
//!     results
//! })
//! .await;
//! assert_eq!(results, [true, true, false]);
//! assert_eq!(report.n_plus_one()[0].count, 3);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use covet_core::{
    Adapter, Call, Engine, Error, ErrorKind, Intercept, Layer, Layered, Reply, Result,
};

use crate::fingerprint::Fingerprint;

/// The most (fingerprint, call site) groups one scope tracks.
pub const MAX_GROUPS: usize = 256;

/// The metric counted in [`Mode::Sample`]: one increment per N+1 found,
/// labelled `call_site` and `fingerprint` (the 16-hex-digit id).
pub const N_PLUS_ONE_TOTAL: &str = "covet_n_plus_one_total";

/// A call site as the ORM's `#[track_caller]` methods capture it.
pub type CallSite = &'static Location<'static>;

tokio::task_local! {
    static SCOPE: Arc<ScopeState>;
    static CALL_SITE: CallSite;
    static FIX_HINT: &'static str;
}

/// Runs `fut` with `hint` as the fix an N+1 report of its statements
/// names (`"prefetch(Post::AUTHOR)"`): the ORM sets it where its metadata
/// knows the relation a query walks. A static string, so setting it costs
/// no allocation per statement.
pub fn with_fix_hint<F: Future>(hint: &'static str, fut: F) -> impl Future<Output = F::Output> {
    FIX_HINT.scope(hint, fut)
}

/// Runs `fut` with `site` as the call site of the statements it issues
/// (the ORM calls this; raw SQL may too, with `Location::caller()`).
///
/// Each future carries its own call site, so futures joined concurrently
/// do not see each other's.
pub fn with_call_site<F: Future>(site: CallSite, fut: F) -> impl Future<Output = F::Output> {
    CALL_SITE.scope(site, fut)
}

/// Whether a scope is open (so that code can skip preparing what only a
/// scope would use, such as fix hints).
pub fn in_scope() -> bool {
    SCOPE.try_with(|_| ()).is_ok()
}

/// The call site set by the nearest enclosing [`with_call_site`], if any.
pub fn current_call_site() -> Option<CallSite> {
    CALL_SITE.try_with(|s| *s).ok()
}

/// What [`NPlusOneLayer`] does when a scope finds an N+1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Nothing is detected (budgets still count).
    Off,
    /// A `tracing` warning, once per group and scope, and the report in
    /// the scope's [`ScopeReport`]. The default in debug builds.
    Log,
    /// The statement that crosses the threshold, and every later one of
    /// its group, is refused with an error (kind
    /// [`ErrorKind::Unsupported`], source [`NPlusOneError`]) without
    /// reaching the database. For tests and strict services.
    Error,
    /// Production: only one scope in `every` is tracked (chosen by a
    /// counter, so the cost of the others is one task-local lookup), and
    /// each N+1 found increments the counter [`N_PLUS_ONE_TOTAL`]. The
    /// default in release builds, with `every: 100`.
    Sample {
        /// Track one scope in this many (at least 1).
        every: u64,
    },
}

impl Default for Mode {
    fn default() -> Self {
        if cfg!(debug_assertions) {
            Mode::Log
        } else {
            Mode::Sample { every: 100 }
        }
    }
}

/// One N+1: a statement shape run too often from one place in one scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NPlusOneReport {
    /// Where the statements were issued (`None`: raw SQL without
    /// [`with_call_site`]).
    pub call_site: Option<CallSite>,
    /// The normalised statement (no literal or parameter values).
    pub fingerprint: String,
    /// The fingerprint's id.
    pub fingerprint_id: u64,
    /// How many times it ran in the scope (so far, when reported).
    pub count: u64,
    /// The fix, where the code that issued the statements knew the
    /// relation ([`with_fix_hint`]): `"prefetch(Post::AUTHOR)"`.
    pub fix: Option<&'static str>,
}

impl NPlusOneReport {
    /// What to do about it. When the statement filters on one column
    /// (`... where "author_id" = ?`), the hint names it.
    pub fn hint(&self) -> String {
        if let Some(fix) = self.fix {
            return format!(
                "load these rows in one query instead of one per parent: \
                 {fix} on the query that loaded the parents"
            );
        }
        match filtered_column(&self.fingerprint) {
            Some(col) => format!(
                "load these rows in one query instead of one per parent: \
                 select_related / prefetch the relation on {col}"
            ),
            None => "load these rows in one query instead of one per parent \
                     (select_related for a foreign key, prefetch for the reverse side)"
                .to_string(),
        }
    }
}

impl fmt::Display for NPlusOneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let site = match self.call_site {
            Some(l) => format!("{}:{}:{}", l.file(), l.line(), l.column()),
            None => "unknown".to_string(),
        };
        write!(
            f,
            "N+1 query at {site}: {:?} ran {} times in one scope; {}",
            self.fingerprint,
            self.count,
            self.hint()
        )
    }
}

/// The source of the error [`Mode::Error`] returns.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NPlusOneError(pub NPlusOneReport);

impl NPlusOneError {
    /// The report inside a `covet_core::Error` returned in [`Mode::Error`].
    pub fn find(err: &Error) -> Option<&NPlusOneReport> {
        let src = std::error::Error::source(err)?;
        src.downcast_ref::<NPlusOneError>().map(|e| &e.0)
    }
}

/// The column of a single `col = ?` filter, if the fingerprint ends with one.
fn filtered_column(fp: &str) -> Option<&str> {
    let (_, tail) = fp.rsplit_once(" where ")?;
    let (col, rest) = tail.split_once(" = ?")?;
    let col = col.trim();
    let col = col.rsplit('.').next().unwrap_or(col);
    let simple = !col.is_empty() && !col.contains(' ');
    let rest = rest.trim();
    let ends = rest.is_empty() || rest.starts_with("limit") || rest.starts_with("order by");
    (simple && ends).then_some(col)
}

/// One statement shape as a budget failure lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementCount {
    /// The normalised statement.
    pub fingerprint: String,
    /// How many times it ran.
    pub count: u64,
}

/// What a scope saw: every statement counted by fingerprint (in order of
/// first appearance), and the N+1s found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeReport {
    total: u64,
    statements: Vec<StatementCount>,
    untracked: u64,
    n_plus_one: Vec<NPlusOneReport>,
    // Behind one pointer: keeps BudgetExceeded (which holds a report)
    // small enough to return by value.
    unused_eager_loads: Arc<Vec<UnusedEagerLoad>>,
}

impl ScopeReport {
    /// The eager loads (prefetches) whose rows were loaded and dropped
    /// unread inside the scope.
    pub fn unused_eager_loads(&self) -> &[UnusedEagerLoad] {
        &self.unused_eager_loads
    }
    /// Statements that passed an [`NPlusOneLayer`] within the scope.
    pub fn total(&self) -> u64 {
        self.total
    }
    /// The statements by fingerprint, in order of first appearance.
    pub fn statements(&self) -> &[StatementCount] {
        &self.statements
    }
    /// How many times statements shaped like `sql` ran (`sql` is
    /// fingerprinted with [`Fingerprint::of`], so any literal or
    /// placeholder style matches).
    pub fn count_of(&self, sql: &str) -> u64 {
        let fp = Fingerprint::of(sql).text;
        self.statements
            .iter()
            .find(|s| s.fingerprint == fp)
            .map_or(0, |s| s.count)
    }
    /// The N+1s found (empty when the layer's mode is [`Mode::Off`], or
    /// the scope was not sampled).
    pub fn n_plus_one(&self) -> &[NPlusOneReport] {
        &self.n_plus_one
    }
    /// The statement list as a budget failure prints it.
    pub fn listing(&self) -> String {
        let mut out = String::new();
        for s in &self.statements {
            out.push_str(&format!("  {:>4} x {}\n", s.count, s.fingerprint));
        }
        if self.untracked > 0 {
            out.push_str(&format!(
                "  {:>4} x (statements beyond the first {MAX_GROUPS} shapes)\n",
                self.untracked
            ));
        }
        out
    }
}

struct Group {
    fingerprint: u64,
    site: Option<CallSite>,
    count: u64,
    reported: bool,
}

#[derive(Default)]
struct Table {
    total: u64,
    shapes: Vec<StatementCount>,
    shape_ids: HashMap<u64, usize>,
    untracked: u64,
    groups: Vec<Group>,
    reports: Vec<NPlusOneReport>,
    unused: Vec<UnusedEagerLoad>,
}

struct ScopeState {
    id: u64,
    threshold: u64,
    parent: Option<Arc<ScopeState>>,
    table: Mutex<Table>,
}

impl ScopeState {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while the lock was held left counts that are still
        // usable; the table holds no invariant a panic could break.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn count(&self, fp: &Fingerprint) {
        let mut t = self.lock();
        t.total += 1;
        if let Some(&i) = t.shape_ids.get(&fp.id) {
            t.shapes[i].count += 1;
        } else if t.shapes.len() < MAX_GROUPS {
            let i = t.shapes.len();
            t.shape_ids.insert(fp.id, i);
            t.shapes.push(StatementCount {
                fingerprint: fp.text.clone(),
                count: 1,
            });
        } else {
            t.untracked += 1;
        }
    }

    /// Counts one statement of group (fp, site); returns the report when
    /// this statement is over the threshold, with whether it is the first
    /// time the group crosses it.
    fn detect(
        &self,
        fp: &Fingerprint,
        site: Option<CallSite>,
        fix: Option<&'static str>,
    ) -> Option<(NPlusOneReport, bool)> {
        let mut t = self.lock();
        let same = |g: &Group| g.fingerprint == fp.id && site_eq(g.site, site);
        let i = match t.groups.iter().position(same) {
            Some(i) => i,
            None if t.groups.len() < MAX_GROUPS => {
                t.groups.push(Group {
                    fingerprint: fp.id,
                    site,
                    count: 0,
                    reported: false,
                });
                t.groups.len() - 1
            }
            None => return None,
        };
        let g = &mut t.groups[i];
        g.count += 1;
        if g.count <= self.threshold {
            return None;
        }
        let first = !g.reported;
        g.reported = true;
        let report = NPlusOneReport {
            call_site: site,
            fingerprint: fp.text.clone(),
            fingerprint_id: fp.id,
            count: g.count,
            fix,
        };
        // Keep the report's count current: the scope's summary shows the
        // final number, not the one at the crossing.
        match t
            .reports
            .iter_mut()
            .find(|r| r.fingerprint_id == fp.id && site_eq(r.call_site, site))
        {
            Some(r) => r.count = report.count,
            None => t.reports.push(report.clone()),
        }
        Some((report, first))
    }

    fn report(&self) -> ScopeReport {
        let t = self.lock();
        ScopeReport {
            total: t.total,
            statements: t.shapes.clone(),
            untracked: t.untracked,
            n_plus_one: t.reports.clone(),
            unused_eager_loads: Arc::new(t.unused.clone()),
        }
    }
}

fn site_eq(a: Option<CallSite>, b: Option<CallSite>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.line() == b.line() && a.column() == b.column() && a.file() == b.file()
        }
        _ => false,
    }
}

static SCOPE_IDS: AtomicU64 = AtomicU64::new(0);

/// A scope's settings: the N+1 threshold.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    threshold: u64,
}

impl Default for Scope {
    fn default() -> Self {
        Scope { threshold: 2 }
    }
}

impl Scope {
    /// A scope with the default threshold (2: a third identical statement
    /// from one call site is an N+1).
    pub fn new() -> Self {
        Self::default()
    }

    /// Reports a group once it runs more than `n` times (at least 1).
    #[must_use]
    pub fn threshold(mut self, n: u64) -> Self {
        self.threshold = n.max(1);
        self
    }

    /// Runs `fut` inside the scope; returns its output and what the
    /// scope saw.
    pub async fn run<F: Future>(self, fut: F) -> (F::Output, ScopeReport) {
        let state = Arc::new(ScopeState {
            id: SCOPE_IDS.fetch_add(1, Ordering::Relaxed),
            threshold: self.threshold,
            parent: SCOPE.try_with(Arc::clone).ok(),
            table: Mutex::new(Table::default()),
        });
        let out = SCOPE.scope(Arc::clone(&state), fut).await;
        (out, state.report())
    }
}

/// Runs `fut` in a scope with the default settings ([`Scope::run`]).
pub async fn scope<F: Future>(fut: F) -> (F::Output, ScopeReport) {
    Scope::new().run(fut).await
}

/// Wraps adapters in an [`NPlusOneAdapter`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NPlusOneLayer {
    mode: Mode,
}

impl NPlusOneLayer {
    /// A layer in the default [`Mode`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the mode.
    #[must_use]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}

impl Layer for NPlusOneLayer {
    fn layer(&self, inner: Arc<dyn Adapter>) -> Arc<dyn Adapter> {
        Arc::new(NPlusOneAdapter::new(inner, *self))
    }
}

/// The hooks of [`NPlusOneLayer`].
#[derive(Debug)]
pub struct NPlusOneAdapter {
    mode: Mode,
    engine: Engine,
}

impl NPlusOneAdapter {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Adapter>, layer: NPlusOneLayer) -> Layered<NPlusOneAdapter> {
        let engine = inner.engine();
        Layered::new(
            inner,
            NPlusOneAdapter {
                mode: layer.mode,
                engine,
            },
        )
    }

    /// Counts the statement in the scope and its parents; `Err` when error
    /// mode refuses it.
    fn observe(&self, sql: &str) -> Result<()> {
        let Ok(scope) = SCOPE.try_with(Arc::clone) else {
            return Ok(());
        };
        let fp = Fingerprint::for_engine(self.engine, sql);
        let mut s = Some(&scope);
        while let Some(st) = s {
            st.count(&fp);
            s = st.parent.as_ref();
        }
        let tracked = match self.mode {
            Mode::Off => false,
            Mode::Sample { every } => scope.id.is_multiple_of(every.max(1)),
            Mode::Log | Mode::Error => true,
        };
        if !tracked {
            return Ok(());
        }
        let Some((report, first)) =
            scope.detect(&fp, current_call_site(), FIX_HINT.try_with(|h| *h).ok())
        else {
            return Ok(());
        };
        match self.mode {
            Mode::Log if first => tracing::warn!(
                call_site = %report.call_site.map_or_else(|| "unknown".to_string(), |l| l.to_string()),
                fingerprint = %report.fingerprint,
                count = report.count,
                "{report}"
            ),
            Mode::Sample { .. } if first => {
                let site = report.call_site.map_or_else(
                    || "unknown".to_string(),
                    |l| format!("{}:{}", l.file(), l.line()),
                );
                metrics::counter!(N_PLUS_ONE_TOTAL, "call_site" => site, "fingerprint" => format!("{:016x}", report.fingerprint_id))
                    .increment(1);
            }
            Mode::Error => {
                let msg = report.to_string();
                return Err(
                    Error::new(ErrorKind::Unsupported, msg).with_source(NPlusOneError(report))
                );
            }
            _ => {}
        }
        Ok(())
    }
}

impl Intercept for NPlusOneAdapter {
    async fn around<'a, T: Reply + 'a>(
        &'a self,
        call: Call<'a>,
        fut: impl Future<Output = Result<T>> + Send + 'a,
    ) -> Result<T> {
        if let Some(stmt) = call.statement() {
            self.observe(stmt.sql())?;
        }
        fut.await
    }
}

/// An eager load whose rows nobody read: the statement was wasted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnusedEagerLoad {
    /// Where the loading query was run.
    pub call_site: Option<CallSite>,
    /// The relation, as the loading call names it
    /// (`"prefetch(Post::AUTHOR)"`).
    pub relation: String,
    /// How many rows were loaded.
    pub rows: u64,
}

impl fmt::Display for UnusedEagerLoad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let site = match self.call_site {
            Some(l) => format!("{}:{}:{}", l.file(), l.line(), l.column()),
            None => "unknown".to_string(),
        };
        write!(
            f,
            "unused eager load at {site}: {} loaded {} rows that were never read; \
             drop it from the query",
            self.relation, self.rows
        )
    }
}

/// Watches the rows of one eager load (the ORM makes one per prefetch
/// level and result). When it is dropped without [`EagerLoadWatch::mark_read`]
/// having been called, it logs a `tracing` warning and adds an
/// [`UnusedEagerLoad`] to the scope that was current when it was made.
pub struct EagerLoadWatch {
    scope: Option<Arc<ScopeState>>,
    call_site: Option<CallSite>,
    relation: String,
    rows: u64,
    read: std::sync::atomic::AtomicBool,
}

impl fmt::Debug for EagerLoadWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EagerLoadWatch")
            .field("relation", &self.relation)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl EagerLoadWatch {
    /// A watch over `rows` rows of `relation`, in the current scope and at
    /// the current call site.
    pub fn new(relation: String, rows: u64) -> Self {
        EagerLoadWatch {
            scope: SCOPE.try_with(Arc::clone).ok(),
            call_site: current_call_site(),
            relation,
            rows,
            read: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Records that the rows were read (cheap: one relaxed store).
    pub fn mark_read(&self) {
        self.read.store(true, Ordering::Relaxed);
    }
}

impl Drop for EagerLoadWatch {
    fn drop(&mut self) {
        if self.read.load(Ordering::Relaxed) {
            return;
        }
        let unused = UnusedEagerLoad {
            call_site: self.call_site,
            relation: std::mem::take(&mut self.relation),
            rows: self.rows,
        };
        tracing::warn!(
            call_site = %unused.call_site.map_or_else(|| "unknown".to_string(), |l| l.to_string()),
            relation = %unused.relation,
            "{unused}"
        );
        if let Some(scope) = &self.scope {
            let mut t = scope.lock();
            if t.unused.len() < MAX_GROUPS {
                t.unused.push(unused);
            }
        }
    }
}

/// A query budget that was not kept.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what}; statements run:\n{listing}")]
pub struct BudgetExceeded {
    what: String,
    listing: String,
    /// What the scope saw.
    pub report: ScopeReport,
}

impl BudgetExceeded {
    fn new(what: String, report: ScopeReport) -> Self {
        BudgetExceeded {
            listing: report.listing(),
            what,
            report,
        }
    }
}

/// Query budgets checked around a block: total (at most, or exactly) and
/// per fingerprint. Counts every statement that passes an
/// [`NPlusOneLayer`] while the block runs, in any mode.
///
/// (The same example as in the README.)
///
/// ```
/// use std::sync::Arc;
/// use covet_core::{Adapter, Layer, Statement};
/// use covet_monitor::nplusone::{self, Budget, Mode, NPlusOneLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let raw: Arc<dyn Adapter> =
///     Arc::new(covet_adapter_sqlite::SqliteAdapter::connect(&"sqlite::memory:".parse()?).await?);
/// let db = NPlusOneLayer::new().mode(Mode::Log).layer(raw);
/// db.execute(&Statement::new("CREATE TABLE t (id INTEGER)")).await?;
///
/// let err = Budget::new()
///     .max(1)
///     .check(async {
///         for id in 0..3i64 {
///             db.query(&Statement::new("SELECT id FROM t WHERE id = ?").bind(id)).await.unwrap();
///         }
///     })
///     .await
///     .unwrap_err();
/// assert!(err.to_string().contains("3 x select id from t where id = ?"));
/// assert_eq!(err.report.n_plus_one().len(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Budget {
    max_total: Option<u64>,
    exact_total: Option<u64>,
    max_each: Option<u64>,
    per_fingerprint: Vec<(String, u64)>,
}

impl Budget {
    /// No limit yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// At most `n` statements in all.
    #[must_use]
    pub fn max(mut self, n: u64) -> Self {
        self.max_total = Some(n);
        self
    }
    /// Exactly `n` statements in all.
    #[must_use]
    pub fn exactly(mut self, n: u64) -> Self {
        self.exact_total = Some(n);
        self
    }
    /// No statement shape more than `n` times.
    #[must_use]
    pub fn max_each(mut self, n: u64) -> Self {
        self.max_each = Some(n);
        self
    }
    /// The statement `sql` (fingerprinted as the engine-neutral
    /// [`Fingerprint::of`]) at most `n` times.
    #[must_use]
    pub fn max_for(mut self, sql: &str, n: u64) -> Self {
        self.per_fingerprint.push((Fingerprint::of(sql).text, n));
        self
    }

    /// Runs `fut` in a scope; `Err` lists the statements when a limit
    /// was broken.
    pub async fn check<F: Future>(&self, fut: F) -> std::result::Result<F::Output, BudgetExceeded> {
        let (out, report) = scope(fut).await;
        self.verify(&report)?;
        Ok(out)
    }

    /// As [`Budget::check`], panicking with the statement list (for tests).
    #[track_caller]
    pub fn assert<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> {
        let at = Location::caller();
        async move {
            match self.check(fut).await {
                Ok(out) => out,
                Err(e) => panic!("query budget at {at}: {e}"),
            }
        }
    }

    fn verify(&self, report: &ScopeReport) -> std::result::Result<(), BudgetExceeded> {
        let total = report.total();
        if let Some(n) = self.max_total.filter(|n| total > *n) {
            return Err(BudgetExceeded::new(
                format!("expected at most {n} statements, {total} ran"),
                report.clone(),
            ));
        }
        if let Some(n) = self.exact_total.filter(|n| total != *n) {
            return Err(BudgetExceeded::new(
                format!("expected exactly {n} statements, {total} ran"),
                report.clone(),
            ));
        }
        if let Some(n) = self.max_each
            && let Some(s) = report.statements().iter().find(|s| s.count > n)
        {
            return Err(BudgetExceeded::new(
                format!(
                    "expected each statement at most {n} times, {:?} ran {} times",
                    s.fingerprint, s.count
                ),
                report.clone(),
            ));
        }
        for (fp, n) in &self.per_fingerprint {
            let got = report.count_of(fp);
            if got > *n {
                return Err(BudgetExceeded::new(
                    format!("expected {fp:?} at most {n} times, it ran {got} times"),
                    report.clone(),
                ));
            }
        }
        Ok(())
    }
}

/// Runs `fut`, panicking with the statement list if more than `n`
/// statements passed an [`NPlusOneLayer`].
#[track_caller]
pub fn assert_max_queries<F: Future>(n: u64, fut: F) -> impl Future<Output = F::Output> {
    let at = Location::caller();
    async move {
        match Budget::new().max(n).check(fut).await {
            Ok(out) => out,
            Err(e) => panic!("query budget at {at}: {e}"),
        }
    }
}

/// Runs `fut`, panicking with the statement list unless exactly `n`
/// statements passed an [`NPlusOneLayer`].
#[track_caller]
pub fn assert_num_queries<F: Future>(n: u64, fut: F) -> impl Future<Output = F::Output> {
    let at = Location::caller();
    async move {
        match Budget::new().exactly(n).check(fut).await {
            Ok(out) => out,
            Err(e) => panic!("query budget at {at}: {e}"),
        }
    }
}

/// The scale check (in the style of Ruby's n_plus_one_control): runs
/// `block(small)` and `block(large)`, each in its own scope, and fails
/// when the larger data size ran more statements. `block` is expected to
/// set up `size` rows and then run the code under test; put the setup
/// outside the counted part by passing it through an unlayered adapter,
/// or make it the same number of statements at both sizes.
pub async fn check_constant_queries<B, Fut>(
    small: usize,
    large: usize,
    mut block: B,
) -> std::result::Result<(), BudgetExceeded>
where
    B: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let ((), at_small) = scope(block(small)).await;
    let ((), at_large) = scope(block(large)).await;
    if at_large.total() > at_small.total() {
        return Err(BudgetExceeded::new(
            format!(
                "statements grow with the data: {} at size {small}, {} at size {large}",
                at_small.total(),
                at_large.total()
            ),
            at_large,
        ));
    }
    Ok(())
}
