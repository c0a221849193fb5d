//! The router: an `Adapter` over a primary and its replicas.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use covet_core::{
    Adapter, BulkRows, CopyIn, CopyOutStream, Engine, Error, ErrorKind, ExecResult, Outcome,
    PoolState, ResultStream, RetryClass, RowStream, Rows, Schema, Statement, Transaction,
    TxOptions, TxRowStream,
};
use covet_resilience::CircuitBreaker;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use parking_lot::Mutex;

use crate::balance;
use crate::error::RouterError;
use crate::probe::{MariaDbProbe, PgProbe, ReplicationProbe};
use crate::target::{InFlight, Role, Target, TargetStats};
use crate::token::ConsistencyToken;
use crate::url::{ReadYourWrites, RouterSettings, RouterUrl};

type Result<T> = covet_core::Result<T>;

/// Consecutive good checks before an ejected replica takes reads again.
const READMIT_AFTER: u32 = 2;

/// An [`Adapter`] over one primary and any number of read replicas.
///
/// Routing follows the caller's intent, never the SQL text:
///
/// - a statement marked [`Statement::read_only`] passed to the router's
///   `query`, `query_stream` or `run` goes to a replica (covet-orm marks
///   its QuerySet reads so; a load test marks the reads of its mix);
/// - every other call on the router itself (`execute`, `query`, `run`,
///   `bulk_insert`, read-write transactions, ...) goes to the primary;
/// - a transaction begun with `TxOptions { read_only: true, .. }` goes to a
///   replica;
/// - [`Router::reader`] returns an adapter whose `query`, `query_stream`,
///   `run`, `schema`, `ping`, `server_version` and read-only transactions go
///   to replicas (its `execute`, `bulk_insert` and read-write transactions
///   still go to the primary);
/// - [`Router::reader_at`] does the same for reads that must see a
///   [`ConsistencyToken`], and [`Router::session`] tracks the token of its
///   own writes.
///
/// Among eligible replicas (not ejected by the health checks, breaker not
/// open) a read goes to the one with fewer requests in flight per unit of
/// weight out of two weighted random choices; with no eligible replica it
/// goes to the primary. A read whose replica refuses it before running it
/// (connection refused, breaker open) moves to another replica, then to
/// the primary.
///
/// Each target has its own adapter (so its own pool) behind its own
/// circuit breaker. A background task (started when the router is built
/// inside a tokio runtime) checks every replica each
/// [`RouterSettings::check_interval`]: its replayed position against the
/// primary's, giving a lag in time; a replica over
/// [`RouterSettings::max_lag`], not applying changes, or failing its check
/// is ejected, and readmitted after two good checks.
///
/// With [`RouterBuilder::failover`] (`router_failover=on`) any target may
/// be the primary: the checks follow the one that says it is writable.
///
/// Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    engine: Engine,
    /// Every host, in the order given; the primary is `targets[primary_at]`.
    targets: Vec<Arc<Target>>,
    primary_at: AtomicUsize,
    /// Whether the health checks look for a new primary when the current
    /// one stops taking writes.
    failover: bool,
    failovers: AtomicU64,
    m_failovers: metrics::Counter,
    settings: RouterSettings,
    probe: Option<Arc<dyn ReplicationProbe>>,
    /// Positions the primary reached and when it was first seen there,
    /// oldest first: a replica's lag is the age of the oldest one it has not
    /// replayed.
    history: Mutex<VecDeque<(ConsistencyToken, Instant)>>,
    monitor: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(h) = self.monitor.get_mut().take() {
            h.abort();
        }
    }
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("engine", &self.inner.engine)
            .field("primary", &self.inner.primary().name)
            .field(
                "targets",
                &self
                    .inner
                    .targets
                    .iter()
                    .map(|r| &r.name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Builds a [`Router`] from adapters you opened yourself.
///
/// ```
/// # use std::sync::Arc;
/// # fn demo(primary: Arc<dyn covet_core::Adapter>, replica: Arc<dyn covet_core::Adapter>) -> Result<(), covet_router::RouterError> {
/// use std::time::Duration;
/// use covet_router::Router;
///
/// let router = Router::builder()
///     .primary("db1:5432", primary)
///     .replica("db2:5432", replica, 2)
///     .max_lag(Duration::from_secs(2))
///     .build()?;
/// # Ok(()) }
/// ```
pub struct RouterBuilder {
    primary: Option<(String, Arc<dyn Adapter>)>,
    replicas: Vec<(String, Arc<dyn Adapter>, u32)>,
    settings: RouterSettings,
    breaker: covet_resilience::breaker::CircuitBreakerBuilder,
    probe: Option<Option<Arc<dyn ReplicationProbe>>>,
    failover: bool,
}

impl std::fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("primary", &self.primary.as_ref().map(|p| &p.0))
            .field(
                "replicas",
                &self.replicas.iter().map(|r| &r.0).collect::<Vec<_>>(),
            )
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Default for RouterBuilder {
    fn default() -> Self {
        RouterBuilder {
            primary: None,
            replicas: Vec::new(),
            settings: RouterSettings::default(),
            // A replica that fails is ejected and its reads move on, so
            // the breaker can trip early and retry soon.
            breaker: CircuitBreaker::builder()
                .failure_threshold(3)
                .open_duration(Duration::from_secs(2)),
            probe: None,
            failover: false,
        }
    }
}

impl RouterBuilder {
    /// The primary: where writes go. `name` labels its metrics and stats.
    #[must_use]
    pub fn primary(mut self, name: impl Into<String>, adapter: Arc<dyn Adapter>) -> Self {
        self.primary = Some((name.into(), adapter));
        self
    }

    /// Adds a replica with a weight (its share of the reads when the
    /// replicas are equally loaded; 0 counts as 1).
    #[must_use]
    pub fn replica(
        mut self,
        name: impl Into<String>,
        adapter: Arc<dyn Adapter>,
        weight: u32,
    ) -> Self {
        self.replicas.push((name.into(), adapter, weight));
        self
    }

    /// All settings at once (those a URL's `router_*` parameters carry).
    /// Weights in `settings.weights` apply to replicas added without one.
    #[must_use]
    pub fn settings(mut self, settings: RouterSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The lag over which a replica is ejected.
    #[must_use]
    pub fn max_lag(mut self, lag: Duration) -> Self {
        self.settings.max_lag = lag;
        self
    }

    /// How often replicas are checked.
    #[must_use]
    pub fn check_interval(mut self, every: Duration) -> Self {
        self.settings.check_interval = every;
        self
    }

    /// What a read at a token does when no replica has replayed it.
    #[must_use]
    pub fn read_your_writes(mut self, policy: ReadYourWrites) -> Self {
        self.settings.read_your_writes = policy;
        self
    }

    /// The circuit breaker settings every target gets a copy of (its name
    /// is set to the target's). Default: open after 3 consecutive outages,
    /// for 2 s.
    #[must_use]
    pub fn breaker(mut self, template: covet_resilience::breaker::CircuitBreakerBuilder) -> Self {
        self.breaker = template;
        self
    }

    /// The replication probe (default: by engine, [`PgProbe`] or
    /// [`MariaDbProbe`]; none for SQLite).
    #[must_use]
    pub fn probe(mut self, probe: Arc<dyn ReplicationProbe>) -> Self {
        self.probe = Some(Some(probe));
        self
    }

    /// Lets any target become the primary: when the current primary stops
    /// taking writes (unreachable, or read-only after a demotion), the
    /// health checks ask every target whether it is writable
    /// (`pg_is_in_recovery()`, `@@read_only`) and send writes to the first
    /// that is. Off by default: the first target stays the primary. The
    /// URL parameter is `router_failover=on`.
    #[must_use]
    pub fn failover(mut self, on: bool) -> Self {
        self.failover = on;
        self
    }

    /// Turns the background health checks off (replicas are then never
    /// ejected for lag, only skipped while their breaker is open) and
    /// read-your-writes without a probe goes to the primary.
    #[must_use]
    pub fn without_health_checks(mut self) -> Self {
        self.probe = Some(None);
        self
    }

    /// Connects to every host of a router URL (see [`Router::connect`])
    /// with this builder's breaker and probe; the settings come from the
    /// URL's `router_*` parameters, and primary and replicas from its host
    /// list (targets added to the builder before are replaced).
    pub async fn connect(mut self, url: &str) -> Result<Router> {
        let url = RouterUrl::parse(url)?;
        let sources = covet_core::PasswordSources::from_env();
        self.settings = url.settings().clone();
        self.replicas.clear();
        let name = |u: &covet_core::DatabaseUrl| format!("{}:{}", u.host(), u.port());
        let primary = open(url.primary().clone().resolve_password(&sources)?.url).await?;
        self = self.primary(name(url.primary()), primary);
        for (i, r) in url.replicas().iter().enumerate() {
            let adapter = open(r.clone().resolve_password(&sources)?.url).await?;
            let weight = url.settings().weights.get(i).copied().unwrap_or(1);
            self = self.replica(name(r), adapter, weight);
        }
        self.failover = url.settings().failover;
        let router = self.build()?;
        if router.inner.failover {
            // Find the writable host before the first write.
            router.check_now().await;
        }
        Ok(router)
    }

    /// Builds the router and, inside a tokio runtime, starts its health
    /// checks.
    pub fn build(self) -> std::result::Result<Router, RouterError> {
        let (pname, padapter) = self
            .primary
            .ok_or(RouterError::Setting("a router needs a primary"))?;
        if self.settings.check_interval.is_zero() {
            return Err(RouterError::Setting("check_interval must be above zero"));
        }
        let engine = padapter.engine();
        if self.replicas.iter().any(|r| r.1.engine() != engine) {
            return Err(RouterError::Setting(
                "every replica must be of the primary's engine",
            ));
        }
        let breaker = |name: &str| {
            self.breaker
                .clone()
                .name(name.to_owned())
                .build()
                .map_err(|_| RouterError::Setting("the circuit breaker settings are invalid"))
        };
        let primary = Target::new(pname.clone(), padapter, breaker(&pname)?, 1);
        let mut targets = vec![primary];
        for (i, (name, adapter, weight)) in self.replicas.into_iter().enumerate() {
            let weight = if weight == 0 {
                self.settings.weights.get(i).copied().unwrap_or(1)
            } else {
                weight
            };
            targets.push(Target::new(name.clone(), adapter, breaker(&name)?, weight));
        }
        let probe = self.probe.unwrap_or_else(|| match engine {
            Engine::Postgres => Some(Arc::new(PgProbe) as Arc<dyn ReplicationProbe>),
            Engine::MySql => Some(Arc::new(MariaDbProbe) as Arc<dyn ReplicationProbe>),
            _ => None,
        });
        let inner = Arc::new(Inner {
            engine,
            targets,
            primary_at: AtomicUsize::new(0),
            failover: self.failover,
            failovers: AtomicU64::new(0),
            m_failovers: metrics::counter!("covet_router_failovers_total"),
            settings: self.settings,
            probe,
            history: Mutex::new(VecDeque::new()),
            monitor: Mutex::new(None),
        });
        if inner.probe.is_some()
            && (inner.targets.len() > 1)
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let weak = Arc::downgrade(&inner);
            *inner.monitor.lock() = Some(rt.spawn(monitor(weak)));
        }
        Ok(Router { inner })
    }
}

async fn monitor(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let every = inner.settings.check_interval;
        inner.check_round().await;
        drop(inner);
        tokio::time::sleep(every).await;
    }
}

impl Inner {
    /// One health check of every replica.
    async fn check_round(&self) {
        let Some(probe) = &self.probe else { return };
        let bound = self.settings.check_interval.max(Duration::from_secs(1));
        if self.failover {
            self.find_primary(&**probe, bound).await;
        }
        if let Ok(Ok(pos)) =
            tokio::time::timeout(bound, probe.primary_position(&*self.primary().adapter)).await
        {
            let now = Instant::now();
            let mut h = self.history.lock();
            if h.back().is_none_or(|(last, _)| *last != pos) {
                h.push_back((pos, now));
            }
            // Keep enough history to see lags well past the bound; a
            // replica behind the oldest sample is then far over it anyway.
            let keep = self.settings.max_lag * 4 + Duration::from_secs(10);
            while h.len() > 1
                && (h.len() > 100_000 || h.front().is_some_and(|(_, t)| now - *t > keep))
            {
                h.pop_front();
            }
        }
        let replicas = self.replicas();
        let checks = replicas.iter().map(|(_, r)| async move {
            let status = tokio::time::timeout(bound, probe.replica_status(&*r.adapter)).await;
            (r, status)
        });
        for (r, status) in futures_util::future::join_all(checks).await {
            match status {
                Err(_) => r.record_check(Err("health check timed out"), None, None, READMIT_AFTER),
                Ok(Err(_)) => r.record_check(Err("health check failed"), None, None, READMIT_AFTER),
                Ok(Ok(s)) => {
                    let now = Instant::now();
                    let lag = self
                        .history
                        .lock()
                        .iter()
                        .find(|(p, _)| !p.covered_by(&s.position))
                        .map_or(Duration::ZERO, |(_, t)| now - *t);
                    let verdict = if !s.applying {
                        Err("replication is not applying changes")
                    } else if lag > self.settings.max_lag {
                        Err("lag over the bound")
                    } else {
                        Ok(())
                    };
                    r.record_check(verdict, Some(lag), Some(s.position), READMIT_AFTER);
                }
            }
        }
    }

    /// The primary now.
    fn primary(&self) -> Arc<Target> {
        self.targets[self.primary_at.load(Ordering::Acquire)].clone()
    }

    /// Every target but the primary, with its index.
    fn replicas(&self) -> Vec<(usize, Arc<Target>)> {
        let p = self.primary_at.load(Ordering::Acquire);
        self.targets
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != p)
            .map(|(i, t)| (i, t.clone()))
            .collect()
    }

    /// With failover on: when the primary does not say it is writable,
    /// makes the first target that does the primary.
    async fn find_primary(&self, probe: &dyn ReplicationProbe, bound: Duration) {
        let current = self.primary_at.load(Ordering::Acquire);
        let writable = |t: Arc<Target>| async move {
            matches!(
                tokio::time::timeout(bound, probe.is_writable(&*t.adapter)).await,
                Ok(Ok(true))
            )
        };
        if writable(self.targets[current].clone()).await {
            return;
        }
        for (i, t) in self.targets.iter().enumerate() {
            if i != current && writable(t.clone()).await {
                self.primary_at.store(i, Ordering::Release);
                self.failovers.fetch_add(1, Ordering::Relaxed);
                self.m_failovers.increment(1);
                // The new primary's position history starts now.
                self.history.lock().clear();
                return;
            }
        }
    }

    /// Marks an error from the primary that a failover explains: a write
    /// refused because the server is read-only did not run, so it may be
    /// retried once the new primary is found.
    fn primary_error(&self, e: Error) -> Error {
        let read_only = matches!(
            e.code(),
            Some(covet_core::ServerCode::SqlState(s)) if &s == b"25006"
        ) || matches!(e.code(), Some(covet_core::ServerCode::MySql(1290 | 1836)));
        if self.failover && read_only {
            e.with_retry_class(RetryClass::Reconnect)
                .context("the primary is read-only (failover in progress?); retry")
        } else {
            e
        }
    }

    fn eligible(&self, tried: &[usize]) -> Vec<(usize, Arc<Target>)> {
        self.replicas()
            .into_iter()
            .filter(|(i, r)| !tried.contains(i) && r.eligible())
            .collect()
    }

    /// The target for a read: an eligible replica (one that has replayed
    /// `token`, when given), else the primary. `None` in the index means
    /// the primary.
    async fn choose_read(
        &self,
        token: Option<&ConsistencyToken>,
        tried: &[usize],
    ) -> Result<(Option<usize>, Arc<Target>)> {
        let cands = self.eligible(tried);
        let pick = |c: &[(usize, Arc<Target>)]| {
            let loads: Vec<Arc<Target>> = c.iter().map(|x| x.1.clone()).collect();
            balance::pick(&loads, &mut rand::rng()).map(|i| c[i].clone())
        };
        let Some(token) = token else {
            return Ok(match pick(&cands) {
                Some((i, t)) => (Some(i), t),
                None => (None, self.primary()),
            });
        };
        let caught: Vec<_> = cands
            .iter()
            .filter(|c| c.1.covers(token))
            .cloned()
            .collect();
        if let Some((i, t)) = pick(&caught) {
            return Ok((Some(i), t));
        }
        let (wait, fail) = match self.settings.read_your_writes {
            ReadYourWrites::Primary => return Ok((None, self.primary())),
            ReadYourWrites::WaitThenPrimary(d) => (d, false),
            ReadYourWrites::WaitThenFail(d) => (d, true),
        };
        let (Some(probe), Some((i, t))) = (&self.probe, pick(&cands)) else {
            return Ok((None, self.primary()));
        };
        match probe.wait_for(&*t.adapter, token, wait).await {
            Ok(true) => {
                t.reached(token);
                Ok((Some(i), t))
            }
            _ if fail => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "no replica replayed the consistency token within {} ms",
                    wait.as_millis()
                ),
            )),
            _ => Ok((None, self.primary())),
        }
    }

    /// Runs a read on a replica chosen by [`Inner::choose_read`], moving to
    /// another target when the chosen replica refused it without running
    /// it (or failed an idempotent statement with an outage).
    async fn read<'s, T: Send + 's>(
        &'s self,
        token: Option<&'s ConsistencyToken>,
        idempotent: bool,
        call: impl Fn(Arc<dyn Adapter>) -> BoxFuture<'s, Result<T>> + Send + Sync + 's,
    ) -> Result<(T, InFlight)> {
        let mut tried = Vec::new();
        loop {
            let (idx, target) = self.choose_read(token, &tried).await?;
            let guard = target.start();
            match call(target.adapter.clone()).await {
                Ok(v) => return Ok((v, guard)),
                Err(e) => {
                    let moves_on = e.retry_class() == RetryClass::Reconnect
                        || e.kind() == ErrorKind::CircuitOpen
                        || e.kind() == ErrorKind::PoolTimeout
                        || (idempotent && e.is_outage());
                    match idx {
                        Some(i) if moves_on => tried.push(i),
                        _ => return Err(e),
                    }
                }
            }
        }
    }

    async fn begin_read(
        &self,
        token: Option<&ConsistencyToken>,
        options: TxOptions,
    ) -> Result<Box<dyn Transaction>> {
        let (tx, guard) = self
            .read(token, true, move |a| {
                Box::pin(async move { a.begin_with(options).await })
            })
            .await?;
        Ok(Box::new(RoutedTx {
            inner: tx,
            _guard: Some(guard),
            session: None,
        }))
    }

    async fn primary_token(&self) -> Result<ConsistencyToken> {
        let probe = self
            .probe
            .as_ref()
            .ok_or_else(|| Error::unsupported(format!("consistency tokens on {}", self.engine)))?;
        probe.primary_position(&*self.primary().adapter).await
    }

    fn on_primary(&self) -> InFlight {
        self.primary().start()
    }

    /// `execute` on the primary: what the router and its readers share.
    async fn write_execute(&self, stmt: &Statement) -> Result<ExecResult> {
        let _g = self.on_primary();
        self.primary()
            .adapter
            .execute(stmt)
            .await
            .map_err(|e| self.primary_error(e))
    }

    /// `bulk_insert` on the primary.
    async fn write_bulk_insert(
        &self,
        table: &str,
        columns: &[String],
        rows: BulkRows,
    ) -> Result<u64> {
        let _g = self.on_primary();
        self.primary()
            .adapter
            .bulk_insert(table, columns, rows)
            .await
            .map_err(|e| self.primary_error(e))
    }

    /// A read-write transaction on the primary, counted in flight for its
    /// whole life.
    async fn write_begin(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        let g = self.on_primary();
        let tx = self
            .primary()
            .adapter
            .begin_with(options)
            .await
            .map_err(|e| self.primary_error(e))?;
        Ok(Box::new(RoutedTx {
            inner: tx,
            _guard: Some(g),
            session: None,
        }))
    }
}

fn hold_stream(rows: RowStream, guard: InFlight) -> RowStream {
    Box::pin(rows.map(move |r| {
        let _in_flight = &guard;
        r
    }))
}

fn hold_outcome(outcome: Outcome, guard: InFlight) -> Outcome {
    match outcome {
        Outcome::Rows(rs) => Outcome::Rows(ResultStream {
            columns: rs.columns,
            rows: hold_stream(rs.rows, guard),
        }),
        other => other,
    }
}

impl Router {
    /// Starts a builder.
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// Connects to every host of a router URL
    /// (`postgres://user:pw@primary,replica1:5433,replica2/db?router_max_lag=2s`;
    /// see [`RouterUrl`]), each with its own adapter and pool, and starts
    /// the health checks. Fails if any target cannot be reached.
    ///
    /// A URL without a password gets one as `covet::connect` finds it
    /// (`PGPASSWORD`, `~/.pgpass`, `MYSQL_PWD`, `~/.my.cnf`).
    pub async fn connect(url: &str) -> Result<Router> {
        Router::builder().connect(url).await
    }

    /// An adapter whose reads go to replicas (see the type's docs).
    pub fn reader(&self) -> Reader {
        Reader {
            inner: self.inner.clone(),
            token: None,
        }
    }

    /// An adapter whose reads see at least `token`: they go to a replica
    /// that has replayed it, else wait or go to the primary as the
    /// [`ReadYourWrites`] policy says.
    pub fn reader_at(&self, token: ConsistencyToken) -> Reader {
        Reader {
            inner: self.inner.clone(),
            token: Some(token),
        }
    }

    /// An adapter that reads from replicas but always sees its own writes:
    /// after each write (and each committed read-write transaction) it
    /// takes the primary's position, and its reads are at least there.
    pub fn session(&self) -> Session {
        Session {
            inner: self.inner.clone(),
            state: Arc::new(Mutex::new(SessionToken::None)),
        }
    }

    /// The primary's position now: a token that covers every write
    /// committed before this call. PostgreSQL and MariaDB only.
    pub async fn token(&self) -> Result<ConsistencyToken> {
        self.inner.primary_token().await
    }

    /// The primary's adapter (behind its breaker), for code that must
    /// bypass routing.
    pub fn primary(&self) -> Arc<dyn Adapter> {
        self.inner.primary().adapter.clone()
    }

    /// How many times failover moved the primary.
    pub fn failovers(&self) -> u64 {
        self.inner.failovers.load(Ordering::Relaxed)
    }

    /// Counts, health and breaker state of every target, in the order
    /// given (URL order; the builder's primary first).
    pub fn stats(&self) -> Vec<TargetStats> {
        let p = self.inner.primary_at.load(Ordering::Acquire);
        self.inner
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| t.stats(if i == p { Role::Primary } else { Role::Replica }))
            .collect()
    }

    /// Runs one round of health checks now (the background task runs them
    /// every check interval).
    pub async fn check_now(&self) {
        self.inner.check_round().await;
    }
}

#[cfg(feature = "pg")]
async fn open_pg(url: &covet_core::DatabaseUrl) -> Result<Arc<dyn Adapter>> {
    Ok(Arc::new(covet_adapter_pg::PgAdapter::connect(url).await?))
}

#[cfg(feature = "mysql")]
async fn open_mysql(url: &covet_core::DatabaseUrl) -> Result<Arc<dyn Adapter>> {
    Ok(Arc::new(
        covet_adapter_mysql::MySqlAdapter::connect(url).await?,
    ))
}

async fn open(url: covet_core::DatabaseUrl) -> Result<Arc<dyn Adapter>> {
    match url.engine() {
        #[cfg(feature = "pg")]
        Engine::Postgres => open_pg(&url).await,
        #[cfg(feature = "mysql")]
        Engine::MySql => open_mysql(&url).await,
        other => Err(Error::config(format!(
            "covet-router was built without support for {other} (features `pg`, `mysql`)"
        ))),
    }
}

#[async_trait]
impl Adapter for Router {
    fn engine(&self) -> Engine {
        self.inner.engine
    }
    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        self.inner.write_execute(stmt).await
    }
    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        if stmt.is_read_only() {
            return self.reader().query(stmt).await;
        }
        let _g = self.inner.on_primary();
        self.inner
            .primary()
            .adapter
            .query(stmt)
            .await
            .map_err(|e| self.inner.primary_error(e))
    }
    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        if stmt.is_read_only() {
            return self.reader().query_stream(stmt).await;
        }
        let g = self.inner.on_primary();
        Ok(hold_stream(
            self.inner
                .primary()
                .adapter
                .query_stream(stmt)
                .await
                .map_err(|e| self.inner.primary_error(e))?,
            g,
        ))
    }
    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        if stmt.is_read_only() {
            return self.reader().run(stmt).await;
        }
        let g = self.inner.on_primary();
        Ok(hold_outcome(
            self.inner
                .primary()
                .adapter
                .run(stmt)
                .await
                .map_err(|e| self.inner.primary_error(e))?,
            g,
        ))
    }
    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        if options.read_only {
            return self.inner.begin_read(None, options).await;
        }
        self.inner.write_begin(options).await
    }
    async fn bulk_insert(&self, table: &str, columns: &[String], rows: BulkRows) -> Result<u64> {
        self.inner.write_bulk_insert(table, columns, rows).await
    }
    async fn schema(&self) -> Result<Schema> {
        self.inner.primary().adapter.schema().await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.primary().adapter.ping().await
    }
    async fn server_version(&self) -> Result<String> {
        self.inner.primary().adapter.server_version().await
    }
    fn default_timeout(&self) -> Option<Duration> {
        self.inner.primary().adapter.default_timeout()
    }
    fn pool_state(&self) -> Option<PoolState> {
        self.inner.primary().adapter.pool_state()
    }
    /// Stops the health checks and closes every target.
    async fn close(&self) {
        if let Some(h) = self.inner.monitor.lock().take() {
            h.abort();
        }
        for t in &self.inner.targets {
            t.adapter.close().await;
        }
    }
}

/// A view of a [`Router`] for reads: see [`Router::reader`] and
/// [`Router::reader_at`].
#[derive(Clone)]
pub struct Reader {
    inner: Arc<Inner>,
    token: Option<ConsistencyToken>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// The token its reads must see, if any.
    pub fn token(&self) -> Option<&ConsistencyToken> {
        self.token.as_ref()
    }
}

impl Reader {
    fn read_token(&self) -> Option<ConsistencyToken> {
        self.token.clone()
    }
}

#[async_trait]
impl Adapter for Reader {
    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        let token = self.read_token();
        let (rows, _g) = self
            .inner
            .read(token.as_ref(), stmt.is_idempotent(), |a| {
                Box::pin(async move { a.query(stmt).await })
            })
            .await?;
        Ok(rows)
    }
    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        let token = self.read_token();
        let (rows, g) = self
            .inner
            .read(token.as_ref(), stmt.is_idempotent(), |a| {
                Box::pin(async move { a.query_stream(stmt).await })
            })
            .await?;
        Ok(hold_stream(rows, g))
    }
    async fn schema(&self) -> Result<Schema> {
        let token = self.read_token();
        Ok(self
            .inner
            .read(token.as_ref(), true, |a| {
                Box::pin(async move { a.schema().await })
            })
            .await?
            .0)
    }
    async fn ping(&self) -> Result<()> {
        self.inner
            .read(None, true, |a| Box::pin(async move { a.ping().await }))
            .await
            .map(drop)
    }
    async fn server_version(&self) -> Result<String> {
        Ok(self
            .inner
            .read(None, true, |a| {
                Box::pin(async move { a.server_version().await })
            })
            .await?
            .0)
    }
    fn default_timeout(&self) -> Option<Duration> {
        self.inner.primary().adapter.default_timeout()
    }
    fn engine(&self) -> Engine {
        self.inner.engine
    }

    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        let token = self.read_token();
        let (out, g) = self
            .inner
            .read(token.as_ref(), stmt.is_idempotent(), |a| {
                Box::pin(async move { a.run(stmt).await })
            })
            .await?;
        Ok(hold_outcome(out, g))
    }
    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        self.inner.write_execute(stmt).await
    }
    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        if options.read_only {
            return self.inner.begin_read(self.token.as_ref(), options).await;
        }
        self.inner.write_begin(options).await
    }
    async fn bulk_insert(&self, table: &str, columns: &[String], rows: BulkRows) -> Result<u64> {
        self.inner.write_bulk_insert(table, columns, rows).await
    }
}

/// What a session knows of its own writes.
#[derive(Debug, Clone)]
enum SessionToken {
    /// No write yet: any replica will do.
    None,
    /// Reads must see this position.
    At(ConsistencyToken),
    /// A write committed but its position could not be read: reads go to
    /// the primary until the next write yields a token.
    Unknown,
}

/// A read-your-writes session over a [`Router`] (see [`Router::session`]).
///
/// Writes (`execute`, `bulk_insert`, `run`, [`Session::write_query`],
/// read-write transactions on commit) go to the primary and advance the
/// session's token; reads (`query`, `query_stream`, `schema`, read-only
/// transactions) go to replicas that have replayed it. A `query` that
/// writes (`INSERT ... RETURNING`) must use [`Session::write_query`]: the
/// router never reads the SQL to find out.
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
    state: Arc<Mutex<SessionToken>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("token", &*self.state.lock())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The token of the session's last write, to hand to another service
    /// (`None` before the first write, or when its position is unknown).
    pub fn token(&self) -> Option<ConsistencyToken> {
        match &*self.state.lock() {
            SessionToken::At(t) => Some(t.clone()),
            _ => None,
        }
    }

    /// Adopts a token from elsewhere (another service's write): later reads
    /// see at least it.
    pub fn observe(&self, token: ConsistencyToken) {
        advance(&self.state, Some(token));
    }

    /// Runs a query that writes (`INSERT ... RETURNING`) on the primary
    /// and advances the token.
    pub async fn write_query(&self, stmt: &Statement) -> Result<Rows> {
        let rows = {
            let _g = self.inner.on_primary();
            self.inner
                .primary()
                .adapter
                .query(stmt)
                .await
                .map_err(|e| self.inner.primary_error(e))?
        };
        self.after_write().await;
        Ok(rows)
    }

    async fn after_write(&self) {
        let token = self.inner.primary_token().await.ok();
        advance(&self.state, token);
    }

    /// `None` when reads must go to the primary (unknown position): a
    /// token no replica can cover does that, but would wait first; so the
    /// primary is used directly.
    fn read_token(&self) -> Option<ConsistencyToken> {
        match &*self.state.lock() {
            SessionToken::At(t) => Some(t.clone()),
            _ => None,
        }
    }

    fn pinned_to_primary(&self) -> bool {
        matches!(&*self.state.lock(), SessionToken::Unknown)
    }
}

fn advance(state: &Mutex<SessionToken>, token: Option<ConsistencyToken>) {
    let mut s = state.lock();
    *s = match (token, &*s) {
        (None, _) => SessionToken::Unknown,
        (Some(t), SessionToken::At(old)) if old.same_engine(&t) => SessionToken::At(old.max(&t)),
        (Some(t), _) => SessionToken::At(t),
    };
}

/// A session whose position is unknown reads from the primary; this wraps
/// [`Inner::read`] for that case.
impl Session {
    async fn read_here<'s, T: Send + 's>(
        &'s self,
        token: Option<&'s ConsistencyToken>,
        idempotent: bool,
        call: impl Fn(Arc<dyn Adapter>) -> BoxFuture<'s, Result<T>> + Send + Sync + 's,
    ) -> Result<(T, InFlight)> {
        if self.pinned_to_primary() {
            let g = self.inner.on_primary();
            return Ok((call(self.inner.primary().adapter.clone()).await?, g));
        }
        self.inner.read(token, idempotent, call).await
    }
}

#[async_trait]
impl Adapter for Session {
    fn engine(&self) -> Engine {
        self.inner.engine
    }
    async fn query(&self, stmt: &Statement) -> Result<Rows> {
        let token = self.read_token();
        let (rows, _g) = self
            .read_here(token.as_ref(), stmt.is_idempotent(), |a| {
                Box::pin(async move { a.query(stmt).await })
            })
            .await?;
        Ok(rows)
    }
    async fn query_stream(&self, stmt: &Statement) -> Result<RowStream> {
        let token = self.read_token();
        let (rows, g) = self
            .read_here(token.as_ref(), stmt.is_idempotent(), |a| {
                Box::pin(async move { a.query_stream(stmt).await })
            })
            .await?;
        Ok(hold_stream(rows, g))
    }
    async fn schema(&self) -> Result<Schema> {
        let token = self.read_token();
        Ok(self
            .read_here(token.as_ref(), true, |a| {
                Box::pin(async move { a.schema().await })
            })
            .await?
            .0)
    }
    async fn ping(&self) -> Result<()> {
        self.inner.primary().adapter.ping().await
    }
    async fn server_version(&self) -> Result<String> {
        self.inner.primary().adapter.server_version().await
    }
    fn default_timeout(&self) -> Option<Duration> {
        self.inner.primary().adapter.default_timeout()
    }
    async fn execute(&self, stmt: &Statement) -> Result<ExecResult> {
        let r = {
            let _g = self.inner.on_primary();
            self.inner
                .primary()
                .adapter
                .execute(stmt)
                .await
                .map_err(|e| self.inner.primary_error(e))?
        };
        self.after_write().await;
        Ok(r)
    }
    async fn run(&self, stmt: &Statement) -> Result<Outcome> {
        let g = self.inner.on_primary();
        let out = self
            .inner
            .primary()
            .adapter
            .run(stmt)
            .await
            .map_err(|e| self.inner.primary_error(e))?;
        self.after_write().await;
        Ok(hold_outcome(out, g))
    }
    async fn bulk_insert(&self, table: &str, columns: &[String], rows: BulkRows) -> Result<u64> {
        let n = {
            let _g = self.inner.on_primary();
            self.inner
                .primary()
                .adapter
                .bulk_insert(table, columns, rows)
                .await
                .map_err(|e| self.inner.primary_error(e))?
        };
        self.after_write().await;
        Ok(n)
    }
    async fn begin_with(&self, options: TxOptions) -> Result<Box<dyn Transaction>> {
        if options.read_only {
            if self.pinned_to_primary() {
                let g = self.inner.on_primary();
                let tx = self
                    .inner
                    .primary()
                    .adapter
                    .begin_with(options)
                    .await
                    .map_err(|e| self.inner.primary_error(e))?;
                return Ok(Box::new(RoutedTx {
                    inner: tx,
                    _guard: Some(g),
                    session: None,
                }));
            }
            return self
                .inner
                .begin_read(self.read_token().as_ref(), options)
                .await;
        }
        let g = self.inner.on_primary();
        let tx = self
            .inner
            .primary()
            .adapter
            .begin_with(options)
            .await
            .map_err(|e| self.inner.primary_error(e))?;
        Ok(Box::new(RoutedTx {
            inner: tx,
            _guard: Some(g),
            session: Some(self.clone()),
        }))
    }
}

/// A transaction on one target: holds its in-flight count, and for a
/// session's read-write transaction advances the session's token on commit.
struct RoutedTx {
    inner: Box<dyn Transaction>,
    _guard: Option<InFlight>,
    session: Option<Session>,
}

#[async_trait]
impl Transaction for RoutedTx {
    fn engine(&self) -> Engine {
        self.inner.engine()
    }
    async fn execute(&mut self, stmt: &Statement) -> Result<ExecResult> {
        self.inner.execute(stmt).await
    }
    async fn query(&mut self, stmt: &Statement) -> Result<Rows> {
        self.inner.query(stmt).await
    }
    async fn query_stream(&mut self, stmt: &Statement) -> Result<TxRowStream<'_>> {
        self.inner.query_stream(stmt).await
    }
    async fn bulk_insert(
        &mut self,
        table: &str,
        columns: &[String],
        rows: BulkRows,
    ) -> Result<u64> {
        self.inner.bulk_insert(table, columns, rows).await
    }
    async fn savepoint(&mut self) -> Result<Box<dyn Transaction + '_>> {
        self.inner.savepoint().await
    }
    async fn copy_out(&mut self, sql: &str) -> Result<CopyOutStream<'_>> {
        self.inner.copy_out(sql).await
    }
    async fn copy_in(&mut self, sql: &str) -> Result<Box<dyn CopyIn + '_>> {
        self.inner.copy_in(sql).await
    }
    async fn commit(self: Box<Self>) -> Result<()> {
        let RoutedTx {
            inner,
            _guard,
            session,
        } = *self;
        inner.commit().await?;
        if let Some(s) = session {
            s.after_write().await;
        }
        Ok(())
    }
    async fn rollback(self: Box<Self>) -> Result<()> {
        self.inner.rollback().await
    }
}
