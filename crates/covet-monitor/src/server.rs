//! The server's own statement statistics (PostgreSQL's
//! `pg_stat_statements`, MySQL/MariaDB's performance_schema statement
//! digests), grouped by Covet's fingerprint and joined with what the
//! client saw.
//!
//! The server measures execution only; the client's slow log measures
//! the whole call, including the wait for a pooled connection and the
//! network. Side by side per fingerprint they tell a slow statement
//! (server time close to client time) from a starved pool or a slow
//! network (client time far above server time).

use std::collections::HashMap;
use std::fmt::Write as _;

use covet_core::{Adapter, Engine, Row, Statement, Value};
use serde::Serialize;

use crate::Fingerprint;
use crate::report::{RankBy, ReportRow, excerpt, ranked};

/// What went wrong reading the server's statistics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerStatsError {
    /// The server does not collect statement statistics (or not here).
    #[error("server statistics unavailable: {0}")]
    Unavailable(String),
    /// The query against the statistics view failed.
    #[error("reading server statistics: {0}")]
    Query(#[from] covet_core::Error),
}

/// One fingerprint as the server counted it (every call, not only slow
/// ones).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerRow {
    /// 1-based rank.
    pub rank: usize,
    /// Covet's fingerprint id of the server's normalised text (16 hex
    /// digits), the key the slow log uses.
    pub fingerprint: String,
    /// Covet's fingerprint text.
    pub text: String,
    /// Calls the server counted.
    pub calls: u64,
    /// Total execution time, milliseconds.
    pub total_ms: f64,
    /// Mean execution time, milliseconds.
    pub mean_ms: f64,
    /// Longest execution, milliseconds.
    pub max_ms: f64,
    /// Rows returned or affected.
    pub rows: u64,
    /// How many server-side entries were folded into this fingerprint
    /// (pg_stat_statements keeps one per user and parse tree).
    pub entries: u64,
}

/// Which statistics source a [`ServerStats`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerSource {
    /// PostgreSQL's `pg_stat_statements`.
    PgStatStatements,
    /// `performance_schema.events_statements_summary_by_digest`.
    PerformanceSchema,
}

impl ServerSource {
    /// The name printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerSource::PgStatStatements => "pg_stat_statements",
            ServerSource::PerformanceSchema => "performance_schema",
        }
    }
}

/// Every fingerprint the server counted for the current database.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStats {
    /// Where they came from.
    pub source: ServerSource,
    /// The engine (fingerprints follow its dialect).
    pub engine: Engine,
    /// Unranked rows, one per fingerprint.
    pub rows: Vec<ServerRow>,
}

const PG_QUERY: &str = "SELECT query, calls::text, total_exec_time::text, max_exec_time::text, rows::text \
     FROM pg_stat_statements \
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND query NOT LIKE '%pg_stat_statements%'";

// Timers are picoseconds; CAST keeps the decoders on text whatever the
// server's integer widths.
const MY_QUERY: &str = "SELECT DIGEST_TEXT, CAST(COUNT_STAR AS CHAR), CAST(SUM_TIMER_WAIT AS CHAR), \
     CAST(MAX_TIMER_WAIT AS CHAR), CAST(SUM_ROWS_SENT + SUM_ROWS_AFFECTED AS CHAR) \
     FROM performance_schema.events_statements_summary_by_digest \
     WHERE SCHEMA_NAME = DATABASE() AND DIGEST_TEXT IS NOT NULL \
     AND DIGEST_TEXT NOT LIKE '%performance_schema%'";

fn text(row: &Row, i: usize) -> Option<String> {
    match row.value(i).ok()? {
        Value::Text(s) => Some(s.clone()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::I64(v) => Some(v.to_string()),
        Value::I32(v) => Some(v.to_string()),
        Value::F64(v) => Some(v.to_string()),
        _ => None,
    }
}

fn num(row: &Row, i: usize) -> f64 {
    text(row, i)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// performance_schema's digest text quotes every identifier; clients
/// rarely do, so plain identifiers lose their backticks to fingerprint as
/// the client's text does. Digest text holds no literals (they are `?`).
fn unquote_digest(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('`') {
            Some(end)
                if end > 0
                    && after[..end]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && !after.as_bytes()[0].is_ascii_digit() =>
            {
                out.push_str(&after[..end]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('`');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Reads the server's statement statistics for the database `db` is
/// connected to.
///
/// PostgreSQL needs `pg_stat_statements` preloaded and created in the
/// database; MySQL/MariaDB need `performance_schema = ON` (with the
/// default `statements_digest` consumer). Anything else is
/// [`ServerStatsError::Unavailable`] with what to change.
pub async fn read(db: &dyn Adapter) -> Result<ServerStats, ServerStatsError> {
    let engine = db.engine();
    let (source, sql, scale) = match engine {
        Engine::Postgres => {
            let ext = db
                .query(&Statement::new(
                    "SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'",
                ))
                .await?;
            if ext.is_empty() {
                return Err(ServerStatsError::Unavailable(
                    "pg_stat_statements is not created in this database \
                     (shared_preload_libraries = 'pg_stat_statements', then CREATE EXTENSION pg_stat_statements)"
                        .into(),
                ));
            }
            (ServerSource::PgStatStatements, PG_QUERY, 1.0)
        }
        Engine::MySql => {
            let on = db
                .query(&Statement::new("SELECT CAST(@@performance_schema AS CHAR)"))
                .await?;
            let enabled = on
                .iter()
                .next()
                .and_then(|r| text(r, 0))
                // MariaDB prints the variable as ON, MySQL as 1.
                .is_some_and(|v| matches!(v.trim().to_ascii_uppercase().as_str(), "1" | "ON"));
            if !enabled {
                return Err(ServerStatsError::Unavailable(
                    "performance_schema is OFF (set performance_schema = ON in the server's configuration and restart)"
                        .into(),
                ));
            }
            (ServerSource::PerformanceSchema, MY_QUERY, 1e-9)
        }
        other => {
            return Err(ServerStatsError::Unavailable(format!(
                "{other} keeps no statement statistics"
            )));
        }
    };
    let rows = match db.query(&Statement::new(sql)).await {
        Ok(r) => r,
        // Created but not preloaded: the view exists and refuses to read.
        Err(e)
            if engine == Engine::Postgres && e.to_string().contains("shared_preload_libraries") =>
        {
            return Err(ServerStatsError::Unavailable(
                "pg_stat_statements is created but not loaded (add it to shared_preload_libraries and restart)"
                    .into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut by_fp: HashMap<u64, ServerRow> = HashMap::new();
    let mut order = Vec::new();
    for row in &rows {
        let Some(query) = text(row, 0) else { continue };
        let query = if engine == Engine::MySql {
            unquote_digest(&query)
        } else {
            query
        };
        let fp = Fingerprint::for_engine(engine, &query);
        let calls = num(row, 1) as u64;
        let total_ms = num(row, 2) * scale;
        let max_ms = num(row, 3) * scale;
        let n = num(row, 4) as u64;
        let e = by_fp.entry(fp.id).or_insert_with(|| {
            order.push(fp.id);
            ServerRow {
                rank: 0,
                fingerprint: fp.hex(),
                text: fp.text.clone(),
                calls: 0,
                total_ms: 0.0,
                mean_ms: 0.0,
                max_ms: 0.0,
                rows: 0,
                entries: 0,
            }
        });
        e.calls += calls;
        e.total_ms += total_ms;
        e.max_ms = e.max_ms.max(max_ms);
        e.rows += n;
        e.entries += 1;
    }
    let rows = order
        .into_iter()
        .filter_map(|id| by_fp.remove(&id))
        .map(|mut r| {
            r.mean_ms = if r.calls == 0 {
                0.0
            } else {
                r.total_ms / r.calls as f64
            };
            r
        })
        .collect();
    Ok(ServerStats {
        source,
        engine,
        rows,
    })
}

/// The top `top` server rows by `by` (`max` ranks by the longest call),
/// ranked as the slow-log report ranks.
pub fn rank(rows: Vec<ServerRow>, by: RankBy, top: usize) -> Vec<ServerRow> {
    ranked(
        rows,
        top,
        |r| by.figure(r.total_ms, r.mean_ms, r.calls, r.max_ms),
        |r| &r.fingerprint,
        |r, n| r.rank = n,
    )
}

/// A fingerprint with what the client and the server each saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JoinedRow {
    /// 1-based rank.
    pub rank: usize,
    /// The fingerprint id.
    pub fingerprint: String,
    /// The fingerprint text.
    pub text: Option<String>,
    /// The client's slow calls (latency including pool wait and network).
    pub client: Option<ReportRow>,
    /// The server's count of every call (execution only).
    pub server: Option<ServerRow>,
    /// Client mean minus server mean, milliseconds: time spent outside the
    /// server (pool wait, network, client). Present when both sides are.
    pub outside_server_ms: Option<f64>,
}

/// Joins client rows (from [`crate::report::summarize`] with no top
/// limit) and server rows per fingerprint, ranked by the larger of the
/// two sides' `by` figure, top `top`.
pub fn join(client: &[ReportRow], server: &[ServerRow], by: RankBy, top: usize) -> Vec<JoinedRow> {
    let mut map: HashMap<&str, JoinedRow> = HashMap::new();
    for c in client {
        map.insert(
            &c.fingerprint,
            JoinedRow {
                rank: 0,
                fingerprint: c.fingerprint.clone(),
                text: c.text.clone(),
                client: Some(c.clone()),
                server: None,
                outside_server_ms: None,
            },
        );
    }
    for s in server {
        let e = map.entry(&s.fingerprint).or_insert_with(|| JoinedRow {
            rank: 0,
            fingerprint: s.fingerprint.clone(),
            text: None,
            client: None,
            server: None,
            outside_server_ms: None,
        });
        if e.text.is_none() {
            e.text = Some(s.text.clone());
        }
        e.server = Some(s.clone());
    }
    let rows: Vec<JoinedRow> = map
        .into_values()
        .map(|mut r| {
            if let (Some(c), Some(s)) = (&r.client, &r.server) {
                r.outside_server_ms = Some(c.mean_ms - s.mean_ms);
            }
            r
        })
        .collect();
    // A fingerprint ranks by the larger of what either side saw.
    let key = |r: &JoinedRow| {
        let c = r
            .client
            .as_ref()
            .map_or(0.0, |c| by.figure(c.total_ms, c.mean_ms, c.calls, c.max_ms));
        let s = r
            .server
            .as_ref()
            .map_or(0.0, |s| by.figure(s.total_ms, s.mean_ms, s.calls, s.max_ms));
        c.max(s)
    };
    ranked(rows, top, key, |r| &r.fingerprint, |r, n| r.rank = n)
}

/// A fixed-width table of server rows.
pub fn render_server_table(rows: &[ServerRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4}  {:<50}  {:>9}  {:>11}  {:>10}  {:>10}  {:>9}",
        "rank", "fingerprint", "calls", "total ms", "mean ms", "max ms", "rows"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:>4}  {:<50}  {:>9}  {:>11.1}  {:>10.3}  {:>10.1}  {:>9}",
            r.rank,
            excerpt(&r.text, 50),
            r.calls,
            r.total_ms,
            r.mean_ms,
            r.max_ms,
            r.rows
        );
    }
    out
}

/// A fixed-width table of joined rows: the client's slow calls beside the
/// server's count of every call, and the time spent outside the server.
pub fn render_joined_table(rows: &[JoinedRow]) -> String {
    fn opt(v: Option<f64>, prec: usize) -> String {
        v.map_or_else(|| "-".to_owned(), |v| format!("{v:.prec$}"))
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4}  {:<44}  {:>7}  {:>10}  {:>10}  {:>9}  {:>10}  {:>10}  {:>12}",
        "rank",
        "fingerprint",
        "c.calls",
        "c.mean ms",
        "c.p95 ms",
        "s.calls",
        "s.mean ms",
        "s.max ms",
        "outside ms"
    );
    for r in rows {
        let fp = r
            .text
            .as_deref()
            .map_or_else(|| r.fingerprint.clone(), |t| excerpt(t, 44));
        let c = r.client.as_ref();
        let s = r.server.as_ref();
        let _ = writeln!(
            out,
            "{:>4}  {:<44}  {:>7}  {:>10}  {:>10}  {:>9}  {:>10}  {:>10}  {:>12}",
            r.rank,
            fp,
            c.map_or_else(|| "-".to_owned(), |c| c.calls.to_string()),
            opt(c.map(|c| c.mean_ms), 1),
            opt(c.map(|c| c.p95_ms), 1),
            s.map_or_else(|| "-".to_owned(), |s| s.calls.to_string()),
            opt(s.map(|s| s.mean_ms), 3),
            opt(s.map(|s| s.max_ms), 1),
            opt(r.outside_server_ms, 1),
        );
    }
    out
}

/// Server or joined rows as a JSON array.
pub fn render_json<T: Serialize>(rows: &[T]) -> String {
    serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".to_owned())
}

#[cfg(test)]
mod tests {
    use super::{JoinedRow, ServerRow, join, rank, unquote_digest};
    use crate::report::{RankBy, ReportRow};

    fn client(fp: &str, calls: u64, mean: f64) -> ReportRow {
        ReportRow {
            rank: 0,
            fingerprint: fp.into(),
            text: Some(format!("client {fp}")),
            calls,
            total_ms: mean * calls as f64,
            mean_ms: mean,
            p95_ms: mean,
            max_ms: mean,
            plan: None,
        }
    }

    fn server(fp: &str, calls: u64, mean: f64) -> ServerRow {
        ServerRow {
            rank: 0,
            fingerprint: fp.into(),
            text: format!("server {fp}"),
            calls,
            total_ms: mean * calls as f64,
            mean_ms: mean,
            max_ms: mean,
            rows: 0,
            entries: 1,
        }
    }

    #[test]
    fn join_pairs_by_fingerprint_and_ranks_by_the_larger_side() {
        let c = [client("a", 2, 100.0), client("b", 1, 5.0)];
        let s = [server("a", 50, 1.0), server("c", 1000, 0.5)];
        let rows = join(&c, &s, RankBy::Total, 10);
        let fps: Vec<&str> = rows.iter().map(|r| r.fingerprint.as_str()).collect();
        // c: 500 ms on the server; a: 200 ms on the client; b: 5 ms.
        assert_eq!(fps, ["c", "a", "b"]);
        let a: &JoinedRow = &rows[1];
        assert_eq!(a.rank, 2);
        assert_eq!(a.text.as_deref(), Some("client a"));
        assert_eq!(a.outside_server_ms, Some(99.0));
        assert!(rows[0].client.is_none() && rows[0].outside_server_ms.is_none());
        assert!(rows[2].server.is_none());
        assert_eq!(join(&c, &s, RankBy::Count, 1)[0].fingerprint, "c");
    }

    #[test]
    fn rank_orders_and_truncates() {
        let rows = rank(
            vec![
                server("x", 1, 9.0),
                server("y", 9, 1.0),
                server("z", 3, 3.0),
            ],
            RankBy::Mean,
            2,
        );
        assert_eq!(
            rows.iter()
                .map(|r| (r.rank, r.fingerprint.as_str()))
                .collect::<Vec<_>>(),
            [(1, "x"), (2, "z")]
        );
    }

    #[test]
    fn digest_identifiers_lose_plain_backticks_only() {
        assert_eq!(
            unquote_digest("SELECT * FROM `t` WHERE `id` = ? AND `my col` = `1x`"),
            "SELECT * FROM t WHERE id = ? AND `my col` = `1x`"
        );
    }
}
