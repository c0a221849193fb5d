//! Reading a JSON-lines slow log back and ranking its fingerprints: what
//! `covet slow-queries` prints.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::sink::SlowRecord;

/// What went wrong reading a slow log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not a slow-log record.
    #[error("{path}:{line}: not a slow-log record: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What the parser said.
        message: String,
    },
    /// An unknown ranking.
    #[error("unknown ranking `{0}`: expected total, mean, count or max")]
    UnknownRanking(String),
}

/// How fingerprints are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RankBy {
    /// Total time (the default: where the time goes).
    #[default]
    Total,
    /// Mean time.
    Mean,
    /// Number of slow calls.
    Count,
    /// Longest single call.
    Max,
}

impl RankBy {
    /// The figure this ranking orders by, from a row's totals.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn figure(self, total_ms: f64, mean_ms: f64, calls: u64, max_ms: f64) -> f64 {
        match self {
            RankBy::Total => total_ms,
            RankBy::Mean => mean_ms,
            RankBy::Count => calls as f64,
            RankBy::Max => max_ms,
        }
    }
}

/// Sorts by `key` (largest first, ties by fingerprint so the order is
/// stable across runs), keeps `top` and numbers them from 1: the one
/// ranking the slow-log, server and joined reports share.
pub(crate) fn ranked<T>(
    mut rows: Vec<T>,
    top: usize,
    key: impl Fn(&T) -> f64,
    fingerprint: impl Fn(&T) -> &str,
    set_rank: impl Fn(&mut T, usize),
) -> Vec<T> {
    rows.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then_with(|| fingerprint(a).cmp(fingerprint(b)))
    });
    rows.truncate(top);
    for (i, r) in rows.iter_mut().enumerate() {
        set_rank(r, i + 1);
    }
    rows
}

impl FromStr for RankBy {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "total" => Ok(RankBy::Total),
            "mean" => Ok(RankBy::Mean),
            "count" | "calls" => Ok(RankBy::Count),
            "max" => Ok(RankBy::Max),
            other => Err(ReportError::UnknownRanking(other.to_owned())),
        }
    }
}

/// One ranked fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportRow {
    /// 1-based rank.
    pub rank: usize,
    /// The fingerprint id.
    pub fingerprint: String,
    /// The fingerprint text, if the log holds it.
    pub text: Option<String>,
    /// Slow calls.
    pub calls: u64,
    /// Total milliseconds.
    pub total_ms: f64,
    /// Mean milliseconds.
    pub mean_ms: f64,
    /// 95th percentile, milliseconds (nearest rank over the logged calls).
    pub p95_ms: f64,
    /// Longest call, milliseconds.
    pub max_ms: f64,
    /// The latest captured plan, if any.
    pub plan: Option<String>,
}

/// Reads every record of a JSON-lines slow log; blank lines are skipped.
pub fn load(path: &Path) -> Result<Vec<SlowRecord>, ReportError> {
    let io = |source| ReportError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        if line.trim().is_empty() {
            continue;
        }
        let rec = serde_json::from_str(&line).map_err(|e| ReportError::Parse {
            path: path.to_owned(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push(rec);
    }
    Ok(out)
}

/// Aggregates records per fingerprint and returns the top `top` by `by`.
pub fn summarize(records: &[SlowRecord], by: RankBy, top: usize) -> Vec<ReportRow> {
    struct Acc {
        text: Option<String>,
        times: Vec<f64>,
        plan: Option<(u64, String)>,
    }
    let mut map: HashMap<&str, Acc> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    let mut plans: HashMap<&str, (u64, &str)> = HashMap::new();
    for r in records {
        match r {
            SlowRecord::Query {
                fingerprint,
                elapsed_ms,
                text,
                ..
            } => {
                let acc = map.entry(fingerprint).or_insert_with(|| {
                    order.push(fingerprint);
                    Acc {
                        text: None,
                        times: Vec::new(),
                        plan: None,
                    }
                });
                acc.times.push(*elapsed_ms);
                if acc.text.is_none() {
                    acc.text.clone_from(text);
                }
            }
            SlowRecord::Plan {
                fingerprint,
                plan,
                ts_ms,
                ..
            } => {
                let e = plans.entry(fingerprint).or_insert((*ts_ms, plan));
                if *ts_ms >= e.0 {
                    *e = (*ts_ms, plan);
                }
            }
        }
    }
    for (fp, (ts, plan)) in plans {
        if let Some(acc) = map.get_mut(fp) {
            acc.plan = Some((ts, plan.to_owned()));
        }
    }
    let rows: Vec<ReportRow> = order
        .into_iter()
        .filter_map(|fp| {
            let acc = map.remove(fp)?;
            let mut t = acc.times;
            t.sort_by(f64::total_cmp);
            let calls = t.len() as u64;
            let total: f64 = t.iter().sum();
            let idx = ((t.len() as f64 * 0.95).ceil() as usize).clamp(1, t.len()) - 1;
            Some(ReportRow {
                rank: 0,
                fingerprint: fp.to_owned(),
                text: acc.text,
                calls,
                total_ms: total,
                mean_ms: total / t.len() as f64,
                p95_ms: t[idx],
                max_ms: t[t.len() - 1],
                plan: acc.plan.map(|(_, p)| p),
            })
        })
        .collect();
    ranked(
        rows,
        top,
        |r| by.figure(r.total_ms, r.mean_ms, r.calls, r.max_ms),
        |r| &r.fingerprint,
        |r, n| r.rank = n,
    )
}

/// `s` on one line, cut to `max` characters with `...`.
pub(crate) fn excerpt(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max.saturating_sub(3)).collect();
    format!("{cut}...")
}

/// A fixed-width table: rank, fingerprint, calls, total, mean, p95, max,
/// plan excerpt.
pub fn render_table(rows: &[ReportRow]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4}  {:<50}  {:>7}  {:>11}  {:>10}  {:>10}  {:>10}  plan",
        "rank", "fingerprint", "calls", "total ms", "mean ms", "p95 ms", "max ms"
    );
    for r in rows {
        let fp = match &r.text {
            Some(t) => excerpt(t, 50),
            None => r.fingerprint.clone(),
        };
        let plan = r
            .plan
            .as_deref()
            .map_or_else(|| "-".to_owned(), |p| excerpt(p, 60));
        let _ = writeln!(
            out,
            "{:>4}  {:<50}  {:>7}  {:>11.1}  {:>10.1}  {:>10.1}  {:>10.1}  {}",
            r.rank, fp, r.calls, r.total_ms, r.mean_ms, r.p95_ms, r.max_ms, plan
        );
    }
    out
}

/// The rows as a JSON array.
pub fn render_json(rows: &[ReportRow]) -> String {
    serde_json::to_string_pretty(rows).unwrap_or_else(|_| "[]".to_owned())
}
