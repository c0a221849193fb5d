#![doc = include_str!("../README.md")]
//! The conformance suite every Covet adapter runs against its real server.
//!
//! An adapter crate implements [`Backend`] in one test file and expands
//! [`conformance_suite!`] there; each case becomes one `#[test]`. Cases can
//! also be called one by one through [`run`] and the functions in [`cases`].
#![forbid(unsafe_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use covet_core::{Adapter, DatabaseUrl, Result};

pub mod cases;
mod util;

pub use util::{RssProbe, portable};

/// Every Rust-side type of the type-mapping table. The suite asks the backend
/// for the DDL spelling of each ([`Backend::column_type`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MappedType {
    /// `bool`.
    Bool,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`, read back bit-exactly for finite values.
    F32,
    /// `f64`, read back bit-exactly for finite values.
    F64,
    /// An exact decimal with up to 24 integer and 6 fractional digits.
    Decimal,
    /// Unbounded UTF-8 text (any non-NUL character).
    Text,
    /// Binary data up to at least 16,000,000 bytes.
    Bytes,
    /// A date in years 1000..=9999.
    Date,
    /// A time of day with microseconds.
    Time,
    /// A timestamp without time zone, years 1000..=9999, microseconds.
    Timestamp,
    /// A UTC instant, years 1971..=2037 (MySQL's TIMESTAMP range), microseconds.
    TimestampTz,
    /// A UUID.
    Uuid,
    /// A JSON document (compared as parsed JSON, so reformatting is fine).
    Json,
}

impl MappedType {
    /// Every mapped type, in the column order the suite uses.
    pub const ALL: [MappedType; 15] = [
        MappedType::Bool,
        MappedType::I16,
        MappedType::I32,
        MappedType::I64,
        MappedType::F32,
        MappedType::F64,
        MappedType::Decimal,
        MappedType::Text,
        MappedType::Bytes,
        MappedType::Date,
        MappedType::Time,
        MappedType::Timestamp,
        MappedType::TimestampTz,
        MappedType::Uuid,
        MappedType::Json,
    ];

    /// The column name the suite gives this type (`c_bool`).
    pub fn column_name(self) -> &'static str {
        match self {
            MappedType::Bool => "c_bool",
            MappedType::I16 => "c_i16",
            MappedType::I32 => "c_i32",
            MappedType::I64 => "c_i64",
            MappedType::F32 => "c_f32",
            MappedType::F64 => "c_f64",
            MappedType::Decimal => "c_decimal",
            MappedType::Text => "c_text",
            MappedType::Bytes => "c_bytes",
            MappedType::Date => "c_date",
            MappedType::Time => "c_time",
            MappedType::Timestamp => "c_timestamp",
            MappedType::TimestampTz => "c_timestamptz",
            MappedType::Uuid => "c_uuid",
            MappedType::Json => "c_json",
        }
    }
}

/// What an engine can do, declared so that the suite asserts the right
/// behaviour instead of skipping silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// CHECK constraints are enforced (PostgreSQL, MariaDB 10.2+, MySQL
    /// 8.0.16+, SQLite). When false the suite asserts that the violating row
    /// is accepted, so a change of server shows up.
    pub check_constraints: bool,
    /// The engine is a server with sessions the backend can list and kill:
    /// [`Backend::running_queries`] returns `Some` and
    /// [`Backend::kill_connections`] works. False for SQLite.
    pub server: bool,
    /// Writing a value that does not fit its column (70,000 into a 16-bit
    /// column) fails at write time. When false (SQLite) the suite asserts
    /// that reading it back as the column's type fails instead.
    pub rejects_out_of_range: bool,
    /// `execute` reports `last_insert_id` for an auto-increment key.
    pub last_insert_id: bool,
}

/// How a case wants its database and adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupOptions {
    /// Pool size (`max_connections`).
    pub max_connections: u32,
    /// Default statement timeout (`statement_timeout`), if any.
    pub statement_timeout: Option<Duration>,
    /// How long a caller waits for a pooled connection
    /// (`acquire_timeout`), when not the adapter's default.
    pub acquire_timeout: Option<Duration>,
}

impl SetupOptions {
    /// A pool of `max_connections`, no default statement timeout.
    pub fn new(max_connections: u32) -> Self {
        SetupOptions {
            max_connections,
            statement_timeout: None,
            acquire_timeout: None,
        }
    }

    /// Sets how long a caller waits for a pooled connection.
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = Some(timeout);
        self
    }

    /// Sets the default statement timeout.
    #[must_use]
    pub fn statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = Some(timeout);
        self
    }

    /// `url` with `max_connections` (and `statement_timeout`,
    /// `acquire_timeout`) set as query parameters, which every adapter
    /// reads through `covet_core::PoolSettings::from_url`.
    pub fn apply_to(&self, url: &DatabaseUrl) -> DatabaseUrl {
        let mut url = url.with_param("max_connections", &self.max_connections.to_string());
        if let Some(t) = self.statement_timeout {
            url = url.with_param("statement_timeout", &format!("{}ms", t.as_millis()));
        }
        if let Some(t) = self.acquire_timeout {
            url = url.with_param("acquire_timeout", &format!("{}ms", t.as_millis()));
        }
        url
    }
}

/// One engine under test: a fresh database on the real server and the
/// engine-specific facts the portable cases need.
///
/// Each case calls [`Backend::setup`] once, runs against
/// [`Backend::adapter`], and then [`Backend::teardown`] runs even when the
/// case failed.
#[async_trait]
pub trait Backend: Sized + Send + Sync + 'static {
    /// A short name for messages (`"postgres"`).
    const NAME: &'static str;

    /// Why [`Backend::setup`] returns `None` (`"COVET_PG_URL is not set"`).
    fn skip_reason() -> String;

    /// Creates a fresh, uniquely named database and an adapter over a pool
    /// configured by `options`. `Ok(None)` when the server is not
    /// configured (its URL variable is absent); the suite then skips the
    /// case with [`Backend::skip_reason`], or fails it when
    /// `COVET_REQUIRE_DB=1`.
    async fn setup(options: &SetupOptions) -> Result<Option<Self>>;

    /// The adapter under test.
    fn adapter(&self) -> Arc<dyn Adapter>;

    /// What this engine supports.
    fn capabilities(&self) -> Capabilities;

    /// The DDL spelling of `ty` on this engine, nullable (no `NOT NULL`).
    fn column_type(&self, ty: MappedType) -> &'static str;

    /// The DDL for an auto-generated 64-bit primary key column after its
    /// name (`BIGSERIAL PRIMARY KEY`, `BIGINT AUTO_INCREMENT PRIMARY KEY`,
    /// `INTEGER PRIMARY KEY AUTOINCREMENT`).
    fn auto_id(&self) -> &'static str;

    /// A statement that returns one row after running for at least `secs`
    /// seconds unless cancelled, whose text contains `marker` (so
    /// [`Backend::running_queries`] can find it).
    fn slow_statement(&self, secs: f64, marker: &str) -> String;

    /// A query returning `n` rows `(i BIGINT, pad TEXT)` with `i` from 1 to
    /// `n` and `pad` 100 characters long. The default is a recursive CTE
    /// (SQLite, MariaDB, PostgreSQL all accept it); override it where the
    /// engine has something better (`generate_series`).
    fn series_query(&self, n: u64) -> String {
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
             SELECT i, '{pad}' AS pad FROM s",
            pad = "x".repeat(100)
        )
    }

    /// How many statements whose text contains `marker` the server is still
    /// running, not counting the one asking. `None` when the engine has no
    /// server-side view ([`Capabilities::server`] false).
    async fn running_queries(&self, marker: &str) -> Result<Option<u64>>;

    /// Terminates every server session of this adapter's pool (as an
    /// administrator would, or a server restart). Only called when
    /// [`Capabilities::server`] is true.
    async fn kill_connections(&self) -> Result<()>;

    /// Drops the database created by `setup`. Errors are printed, not
    /// returned: the case's own outcome matters more.
    async fn teardown(&self);
}

/// A server engine, for the connection-failure cases
/// ([`connection_failure_suite!`]): each provokes one failure (refused,
/// unknown host, wrong password, unknown user, TLS required, a password
/// changed while a caller waits for a connection) and asserts the same
/// [`covet_core::ErrorKind`] and [`covet_core::RetryClass`] on every engine.
/// An embedded engine (SQLite) has none of these failures and does not
/// implement it.
#[async_trait]
pub trait ServerBackend: Backend {
    /// Opens an adapter of this engine for `url`.
    async fn connect(url: &DatabaseUrl) -> Result<Arc<dyn Adapter>>;

    /// The URL [`Backend::setup`] built the adapter under test from
    /// (password included, if any).
    fn url(&self) -> DatabaseUrl;

    /// A user made for this case that logs in with a password (the server
    /// must check it: no trust authentication for this user), and may use
    /// the database in the returned URL, which carries the right password.
    /// [`Backend::teardown`] drops it.
    async fn password_login(&self) -> Result<DatabaseUrl>;

    /// Changes the password of `user` (made by
    /// [`ServerBackend::password_login`]) as an administrator would, so
    /// that new connections with the old password fail.
    async fn change_password(&self, user: &str, new_password: &str) -> Result<()>;

    /// The URL of a server of this engine that does not offer TLS, with
    /// the parameter that makes the client require TLS
    /// (`sslmode=require`).
    async fn tls_required_url(&self) -> Result<DatabaseUrl>;
}

/// Whether `COVET_REQUIRE_DB=1` is set: an absent server is then a failure.
pub fn require_db() -> bool {
    std::env::var("COVET_REQUIRE_DB").is_ok_and(|v| v == "1")
}

/// The longest any one case may run before it fails as hung.
pub const CASE_DEADLINE: Duration = Duration::from_secs(180);

/// Runs one case against backend `B` on a fresh two-worker runtime:
/// set up, run `case`, tear down (also after a failure), then panic with
/// the case's error or re-raise its panic, so it reads as a failed test.
///
/// ```no_run
/// # use covet_conformance::{run, cases, Backend, SetupOptions};
/// # fn demo<MyBackend: Backend>() {
/// run::<MyBackend, _, _>("crud", SetupOptions::new(4), cases::crud::<MyBackend>);
/// # }
/// ```
pub fn run<B, F, Fut>(name: &str, options: SetupOptions, case: F)
where
    B: Backend,
    F: FnOnce(Arc<B>) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("building a tokio runtime for the conformance case");
    rt.block_on(async {
        let backend = match B::setup(&options).await {
            Ok(Some(b)) => Arc::new(b),
            Ok(None) => {
                let reason = B::skip_reason();
                assert!(
                    !require_db(),
                    "{name} on {}: COVET_REQUIRE_DB=1 but {reason}",
                    B::NAME
                );
                eprintln!("skipping {name} on {}: {reason}", B::NAME);
                return;
            }
            Err(e) => panic!("{name} on {}: setup failed: {e:?}", B::NAME),
        };
        let task = tokio::spawn(tokio::time::timeout(CASE_DEADLINE, case(backend.clone())));
        let outcome = task.await;
        backend.teardown().await;
        match outcome {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => panic!("{name} on {}: {e:?}", B::NAME),
            Ok(Err(_)) => panic!(
                "{name} on {}: did not finish within {CASE_DEADLINE:?}",
                B::NAME
            ),
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(join) => panic!("{name} on {}: task failed: {join}", B::NAME),
        }
    });
}

/// Expands to one `#[test]` per conformance case for a [`Backend`] type.
///
/// ```text
/// // crates/covet-adapter-xyz/tests/conformance.rs
/// struct XyzBackend { /* ... */ }
/// #[async_trait::async_trait]
/// impl covet_conformance::Backend for XyzBackend { /* ... */ }
/// covet_conformance::conformance_suite!(XyzBackend);
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($backend:ty) => {
        $crate::__conformance_cases! { $backend;
            crud = $crate::SetupOptions::new(4),
            ping_and_version = $crate::SetupOptions::new(2),
            null_in_every_type = $crate::SetupOptions::new(2),
            every_type_round_trips = $crate::SetupOptions::new(2),
            extreme_values_round_trip = $crate::SetupOptions::new(2),
            blob_16mb_round_trips = $crate::SetupOptions::new(2),
            value_that_does_not_fit_is_a_typed_error = $crate::SetupOptions::new(2),
            commit_and_rollback = $crate::SetupOptions::new(2),
            dropped_transaction_rolls_back = $crate::SetupOptions::new(1),
            nested_savepoints = $crate::SetupOptions::new(2),
            stream_inside_transaction = $crate::SetupOptions::new(2),
            transaction_options = $crate::SetupOptions::new(2),
            unique_violation_is_classified = $crate::SetupOptions::new(2),
            foreign_key_violation_is_classified = $crate::SetupOptions::new(2),
            not_null_violation_is_classified = $crate::SetupOptions::new(2),
            check_violation_is_classified = $crate::SetupOptions::new(2),
            syntax_error_is_classified = $crate::SetupOptions::new(2),
            statement_timeout_cancels_on_server = $crate::SetupOptions::new(2),
            default_statement_timeout_applies = $crate::SetupOptions::new(2)
                .statement_timeout(::std::time::Duration::from_millis(300)),
            concurrent_200_tasks_over_pool_of_10 = $crate::SetupOptions::new(10),
            stream_million_rows_bounded_memory = $crate::SetupOptions::new(2),
            server_gone_connection_replaced = $crate::SetupOptions::new(2),
            schema_introspection = $crate::SetupOptions::new(2),
            bulk_insert_10k_rows = $crate::SetupOptions::new(2),
            pool_wait_timeout_is_classified = $crate::SetupOptions::new(1)
                .acquire_timeout(::std::time::Duration::from_millis(300)),
        }
    };
}

/// Expands to one `#[test]` per connection-failure case for a
/// [`ServerBackend`]: the same failure must give the same kind and retry
/// class on every engine.
///
/// ```text
/// covet_conformance::conformance_suite!(PgBackend);
/// covet_conformance::connection_failure_suite!(PgBackend);
/// ```
#[macro_export]
macro_rules! connection_failure_suite {
    ($backend:ty) => {
        $crate::__conformance_cases! { $backend;
            connection_refused_is_classified = $crate::SetupOptions::new(1),
            unknown_host_is_classified = $crate::SetupOptions::new(1),
            wrong_password_is_classified = $crate::SetupOptions::new(1),
            unknown_user_is_classified = $crate::SetupOptions::new(1),
            tls_required_but_not_offered_is_classified = $crate::SetupOptions::new(1),
            wrong_password_while_waiting_is_classified = $crate::SetupOptions::new(1),
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($backend:ty; $($case:ident = $opts:expr),* $(,)?) => {$(
        #[test]
        fn $case() {
            $crate::run::<$backend, _, _>(
                stringify!($case),
                $opts,
                $crate::cases::$case::<$backend>,
            );
        }
    )*};
}
