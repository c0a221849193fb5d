//! Statement execution on one connection: placeholders, timeouts with a
//! server-side KILL QUERY, and reading results.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use covet_core::{Dialect, Error, ErrorKind, ExecResult, Result, Rows, Statement, Value};
use mysql_async::prelude::Queryable;
use mysql_async::{BinaryProtocol, Conn, Opts, Params, QueryResult, TextProtocol};

use crate::error::{from_driver, is_fatal, with_param_types};
use crate::types::{Plan, encode_params};

/// How long a KILL QUERY on a side connection may take.
pub(crate) const KILL_LIMIT: Duration = Duration::from_secs(5);

/// SQL ready for the server: `$n` rewritten to `?`, values encoded in
/// placeholder order.
pub(crate) struct Prepared<'a> {
    pub(crate) sql: Cow<'a, str>,
    pub(crate) params: Vec<mysql_async::Value>,
}

/// Rewrites portable `$n` placeholders (SQL written with `?` passes
/// through unchanged) and encodes the parameters.
pub(crate) fn prepare(stmt: &Statement) -> Result<Prepared<'_>> {
    let sql = stmt.sql();
    if sql.contains('$') {
        let order = Dialect::MYSQL.placeholder_order(sql);
        if !order.is_empty() {
            return Ok(Prepared {
                sql: Dialect::MYSQL.rewrite_placeholders(sql),
                params: encode_params(stmt.params(), Some(&order))?,
            });
        }
    }
    Ok(Prepared {
        sql: Cow::Borrowed(sql),
        params: encode_params(stmt.params(), None)?,
    })
}

/// Why an operation failed, keeping whether the connection survived.
pub(crate) enum OpError {
    Driver(mysql_async::Error),
    Covet(Error),
}

impl From<mysql_async::Error> for OpError {
    fn from(e: mysql_async::Error) -> Self {
        OpError::Driver(e)
    }
}

impl From<Error> for OpError {
    fn from(e: Error) -> Self {
        OpError::Covet(e)
    }
}

/// Which wire protocol a pending result uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Binary,
    Text,
}

fn params_of(params: Vec<mysql_async::Value>) -> Params {
    if params.is_empty() {
        Params::Empty
    } else {
        Params::Positional(params)
    }
}

fn unsupported_in_ps(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == 1295)
}

/// Above this length a statement without parameters goes over the text
/// protocol. Preparing it would cost an extra round trip for SQL that is
/// almost never sent twice (a bulk load's multi-row INSERT), and the
/// driver's statement cache would keep its text: a MariaDB restore of
/// 1 GB peaked at 472 MB that way, in megabyte INSERTs the cache held.
pub(crate) const TEXT_PROTOCOL_ABOVE: usize = 64 * 1024;

/// Starts a statement; the result (if any) stays pending on `conn`.
/// Statements the server cannot prepare (ER_UNSUPPORTED_PS) fall back to
/// the text protocol when they have no parameters, and long ones without
/// parameters use it from the start.
async fn start(
    conn: &mut Conn,
    sql: &str,
    params: Vec<mysql_async::Value>,
) -> Result<(Proto, Option<Arc<[mysql_async::Column]>>, ExecResult), OpError> {
    let no_params = params.is_empty();
    if no_params && sql.len() > TEXT_PROTOCOL_ABOVE {
        let qr = conn.query_iter(sql).await?;
        let exec = exec_result(qr.affected_rows(), qr.last_insert_id());
        return Ok((Proto::Text, qr.columns(), exec));
    }
    match conn.exec_iter(sql, params_of(params)).await {
        Ok(qr) => {
            let exec = exec_result(qr.affected_rows(), qr.last_insert_id());
            Ok((Proto::Binary, qr.columns(), exec))
        }
        Err(e) if no_params && unsupported_in_ps(&e) => {
            let qr = conn.query_iter(sql).await?;
            let exec = exec_result(qr.affected_rows(), qr.last_insert_id());
            Ok((Proto::Text, qr.columns(), exec))
        }
        Err(e) => Err(e.into()),
    }
}

/// Result plans of recent statements on one connection, keyed by the
/// driver's column metadata. MariaDB lets a cached prepared statement skip
/// resending its metadata, and the driver then hands back the same shared
/// columns, so a repeated query reuses its plan instead of rebuilding the
/// column names and types for every call.
#[derive(Default)]
pub(crate) struct PlanCache {
    entries: Vec<(Arc<[mysql_async::Column]>, Plan)>,
}

const PLAN_CACHE_SIZE: usize = 32;

impl PlanCache {
    fn plan(&mut self, columns: Option<Arc<[mysql_async::Column]>>) -> Plan {
        let Some(columns) = columns else {
            return Plan::new(&[]);
        };
        if let Some((_, plan)) = self.entries.iter().find(|(c, _)| Arc::ptr_eq(c, &columns)) {
            return plan.clone();
        }
        let plan = Plan::new(&columns);
        if self.entries.len() >= PLAN_CACHE_SIZE {
            self.entries.remove(0);
        }
        // Holding the Arc keeps its address from being reused by other
        // metadata while the entry lives.
        self.entries.push((columns, plan.clone()));
        plan
    }
}

fn exec_result(affected: u64, last_id: Option<u64>) -> ExecResult {
    ExecResult {
        rows_affected: affected,
        last_insert_id: last_id
            .filter(|id| *id != 0)
            .and_then(|id| i64::try_from(id).ok()),
    }
}

pub(crate) async fn next_row(
    conn: &mut Conn,
    proto: Proto,
) -> mysql_async::Result<Option<mysql_async::Row>> {
    match proto {
        Proto::Binary => {
            QueryResult::<'_, '_, BinaryProtocol>::new(conn)
                .next()
                .await
        }
        Proto::Text => QueryResult::<'_, '_, TextProtocol>::new(conn).next().await,
    }
}

/// Reads and discards whatever is left of the pending result sets.
pub(crate) async fn drain(conn: &mut Conn, proto: Proto) -> mysql_async::Result<()> {
    match proto {
        Proto::Binary => {
            QueryResult::<'_, '_, BinaryProtocol>::new(conn)
                .drop_result()
                .await
        }
        Proto::Text => {
            QueryResult::<'_, '_, TextProtocol>::new(conn)
                .drop_result()
                .await
        }
    }
}

/// Runs a statement and discards any rows.
pub(crate) async fn run_execute(
    conn: &mut Conn,
    sql: &str,
    params: Vec<mysql_async::Value>,
) -> Result<ExecResult, OpError> {
    let (proto, _, exec) = start(conn, sql, params).await?;
    drain(conn, proto).await?;
    Ok(exec)
}

/// Runs a query and reads all its rows; their columns decode when read.
pub(crate) async fn run_query(
    conn: &mut Conn,
    plans: &mut PlanCache,
    sql: &str,
    params: Vec<mysql_async::Value>,
) -> Result<Rows, OpError> {
    let (proto, columns, _) = start(conn, sql, params).await?;
    let plan = plans.plan(columns);
    let mut rows = Vec::new();
    while let Some(raw) = next_row(conn, proto).await? {
        rows.push(plan.row(raw));
    }
    drain(conn, proto).await?;
    Ok(Rows {
        columns: plan.columns,
        rows,
    })
}

/// Starts a query whose rows are then read one by one by
/// [`crate::stream::RowStreamState`].
pub(crate) async fn run_start_stream(
    conn: &mut Conn,
    plans: &mut PlanCache,
    sql: &str,
    params: Vec<mysql_async::Value>,
) -> Result<(Proto, Plan), OpError> {
    let (proto, columns, _) = start(conn, sql, params).await?;
    Ok((proto, plans.plan(columns)))
}

/// What [`run_start_any`] found: rows pending on the connection, or a
/// statement without a result set, already finished.
pub(crate) enum Started {
    Rows(Proto, Plan),
    Done(ExecResult),
}

/// Starts any statement and tells from the server's answer (a result set
/// with columns, or an OK packet) whether rows follow.
pub(crate) async fn run_start_any(
    conn: &mut Conn,
    plans: &mut PlanCache,
    sql: &str,
    params: Vec<mysql_async::Value>,
) -> Result<Started, OpError> {
    let (proto, columns, exec) = start(conn, sql, params).await?;
    if columns.as_deref().is_none_or(<[_]>::is_empty) {
        drain(conn, proto).await?;
        return Ok(Started::Done(exec));
    }
    Ok(Started::Rows(proto, plans.plan(columns)))
}

/// Runs text-protocol commands (BEGIN, SAVEPOINT, ...).
pub(crate) async fn run_text(conn: &mut Conn, sql: &str) -> Result<(), OpError> {
    conn.query_drop(sql).await?;
    Ok(())
}

/// Kills the running statement of session `id` from a side connection.
pub(crate) async fn kill_query(opts: Opts, id: u32) -> Result<()> {
    let work = async move {
        let mut side = Conn::new(opts).await.map_err(from_driver)?;
        let r = side.query_drop(format!("KILL QUERY {id}")).await;
        let _ = side.disconnect().await;
        match r {
            // ER_NO_SUCH_THREAD: the session is already gone.
            Err(mysql_async::Error::Server(e)) if e.code == 1094 => Ok(()),
            other => other.map_err(from_driver),
        }
    };
    tokio::time::timeout(KILL_LIMIT, work).await.map_err(|_| {
        Error::new(
            ErrorKind::Timeout,
            format!("KILL QUERY {id} did not complete within {KILL_LIMIT:?}"),
        )
    })?
}

/// Spawns a KILL QUERY when an operation's future is dropped mid-flight
/// (the caller's own timeout, a cancelled task), so the server does not
/// keep running a statement nobody waits for.
struct KillOnDrop {
    armed: Option<(Opts, u32)>,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some((opts, id)) = self.armed.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                if let Err(e) = kill_query(opts, id).await {
                    tracing::warn!(connection_id = id, error = %e, "KILL QUERY after a dropped statement failed");
                }
            });
        }
    }
}

/// What a guarded operation needs to cancel itself on the server.
pub(crate) struct Canceller {
    pub(crate) opts: Opts,
}

/// Runs `fut` (an operation on the connection with server id `id`) under
/// `timeout`. On expiry the statement is killed on the server before the
/// Timeout error returns. The returned flag says whether the connection is
/// still clean (false: discard it).
pub(crate) async fn guarded<T>(
    canceller: &Canceller,
    id: u32,
    timeout: Option<Duration>,
    fut: impl Future<Output = Result<T, OpError>>,
) -> (Result<T>, bool) {
    let mut guard = KillOnDrop {
        armed: Some((canceller.opts.clone(), id)),
    };
    let outcome = match timeout {
        Some(limit) => match tokio::time::timeout(limit, fut).await {
            Ok(r) => r,
            Err(_) => {
                guard.armed = None;
                let killed = kill_query(canceller.opts.clone(), id).await;
                let mut msg = format!("the statement did not finish within {limit:?}");
                match killed {
                    Ok(()) => msg.push_str(" and was cancelled on the server (KILL QUERY)"),
                    Err(e) => msg.push_str(&format!("; cancelling it on the server failed: {e}")),
                }
                return (Err(Error::new(ErrorKind::Timeout, msg)), false);
            }
        },
        None => fut.await,
    };
    guard.armed = None;
    match outcome {
        Ok(v) => (Ok(v), true),
        Err(OpError::Covet(e)) => (Err(e), true),
        Err(OpError::Driver(e)) => {
            let clean = !is_fatal(&e);
            (Err(from_driver(e)), clean)
        }
    }
}

/// The error for an operation on a connection left unusable earlier in
/// the same transaction.
pub(crate) fn broken_tx() -> Error {
    Error::new(
        ErrorKind::Connection,
        "the transaction's connection was lost or left mid-statement (after a timeout, \
         cancellation or connection error); roll back and start again",
    )
}

/// Runs one guarded operation on `$conn` (a `&mut MySqlConnection`),
/// marking it busy while the statement is in flight, so a dropped future
/// leaves it marked for discard.
macro_rules! guarded_op {
    ($canceller:expr, $conn:expr, $timeout:expr, |$c:ident| $body:expr) => {
        $crate::exec::guarded_op!($canceller, $conn, $timeout, |$c, _plans| $body)
    };
    ($canceller:expr, $conn:expr, $timeout:expr, |$c:ident, $p:ident| $body:expr) => {{
        let conn: &mut $crate::conn::MySqlConnection = $conn;
        conn.busy = true;
        let id = conn.id;
        let (result, clean) = {
            let $c: &mut mysql_async::Conn = &mut conn.conn;
            #[allow(unused_variables)]
            let $p: &mut $crate::exec::PlanCache = &mut conn.plans;
            let fut = $body;
            $crate::exec::guarded($canceller, id, $timeout, fut).await
        };
        if clean {
            conn.busy = false;
        }
        result
    }};
}
pub(crate) use guarded_op;

/// Adds the bound value types to encode errors.
pub(crate) fn annotate(r: Result<ExecResult>, params: &[Value]) -> Result<ExecResult> {
    r.map_err(|e| with_param_types(e, params))
}
