//! Building EXPLAIN statements and turning their rows into text.

use std::sync::Arc;

use covet_core::{Adapter, Engine, Rows, Statement};

use crate::redact::render;
use crate::slowlog::{PlanRequest, SlowLog};

/// The most bytes of plan text kept per fingerprint.
pub const MAX_PLAN: usize = 4096;

/// Cuts a plan to [`MAX_PLAN`] bytes on a character boundary.
pub fn cap(plan: &str) -> String {
    if plan.len() <= MAX_PLAN {
        return plan.to_owned();
    }
    let mut cut = MAX_PLAN;
    while !plan.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &plan[..cut])
}

/// The EXPLAIN statement for `stmt` on `engine`, with the same parameters.
///
/// `analyze` is honoured only on PostgreSQL (MySQL and MariaDB spell it
/// differently, SQLite has none); callers pass it only for read-only
/// SELECTs.
pub fn explain_statement(engine: Engine, stmt: &Statement, analyze: bool) -> Statement {
    let prefix = match engine {
        Engine::Postgres if analyze => "EXPLAIN (ANALYZE, FORMAT TEXT) ",
        Engine::Postgres => "EXPLAIN (FORMAT TEXT) ",
        Engine::Sqlite => "EXPLAIN QUERY PLAN ",
        _ => "EXPLAIN ",
    };
    Statement::new(format!("{prefix}{}", stmt.sql()))
        .with_params(stmt.params().to_vec())
        .label("covet.explain")
}

/// Plan rows as text: one line per row; a single column is shown as is,
/// several as `name=value` pairs.
pub fn format_plan(rows: &Rows) -> String {
    let mut out = String::new();
    for row in rows {
        if !out.is_empty() {
            out.push('\n');
        }
        // Plans are text and numbers; a row that cannot be decoded is shown
        // as a marker rather than failing the whole plan.
        let Ok(values) = row.values() else {
            out.push_str("(undecodable plan row)");
            continue;
        };
        if values.len() == 1 {
            match &values[0] {
                covet_core::Value::Text(s) => out.push_str(s),
                v => out.push_str(&render(v)),
            }
        } else {
            let cols = row.columns();
            let parts: Vec<String> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_null())
                .map(|(i, v)| {
                    let name = cols.get(i).map_or("?", |c| c.name.as_str());
                    match v {
                        covet_core::Value::Text(s) => format!("{name}={s}"),
                        v => format!("{name}={}", render(v)),
                    }
                })
                .collect();
            out.push_str(&parts.join(", "));
        }
    }
    out
}

/// Runs the EXPLAIN for `req` on `adapter` in a spawned task (off the
/// request path) and stores the plan. Does nothing outside a tokio
/// runtime or when `limit` has no permit free.
pub(crate) fn spawn_capture(
    adapter: Arc<dyn Adapter>,
    log: Arc<dyn SlowLog>,
    limit: Arc<tokio::sync::Semaphore>,
    stmt: &Statement,
    req: PlanRequest,
) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let Ok(permit) = limit.try_acquire_owned() else {
        return;
    };
    let explain = explain_statement(adapter.engine(), stmt, req.analyze).timeout(req.timeout);
    handle.spawn(async move {
        let _permit = permit;
        let plan = match tokio::time::timeout(req.timeout, adapter.query(&explain)).await {
            Ok(Ok(rows)) => format_plan(&rows),
            Ok(Err(e)) => format!("(plan capture failed: {} [{}])", e.message(), e.kind()),
            Err(_) => format!("(plan capture timed out after {:?})", req.timeout),
        };
        log.record_plan(req.fingerprint, &plan, req.analyze);
    });
}
