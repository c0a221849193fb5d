//! Comparing two runs' JSON reports, for `covet loadtest compare`: per
//! statement and overall, the change in rate, p50, p95, p99 and errors,
//! and a verdict against thresholds so CI can catch a regression.
//!
//! Only the figures compared are read from each file, so reports written
//! by older or newer versions compare as long as they have them.

use std::fmt::Write as _;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{LoadtestError, Result};

#[derive(Deserialize)]
struct RunDoc {
    meta: MetaDoc,
    overall: StmtDoc,
    statements: Vec<StmtDoc>,
}

#[derive(Deserialize)]
struct MetaDoc {
    workload: String,
    engine: String,
    mode: String,
    target_rate: f64,
}

#[derive(Deserialize)]
struct StmtDoc {
    name: String,
    count: u64,
    errors: u64,
    rate: f64,
    latency: LatencyDoc,
}

#[derive(Deserialize)]
struct LatencyDoc {
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
}

/// The compared figures of one statement (or of all, `Aggregated`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Completed per second.
    pub rate: f64,
    /// Median latency of successful statements, ms.
    pub p50_ms: f64,
    /// p95 latency, ms.
    pub p95_ms: f64,
    /// p99 latency, ms.
    pub p99_ms: f64,
    /// Completed statements.
    pub count: u64,
    /// Of those, errors.
    pub errors: u64,
}

impl Figures {
    /// Errors as a percentage of completed statements.
    pub fn error_rate_pct(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.errors as f64 / self.count as f64 * 100.0
        }
    }

    fn of(s: &StmtDoc) -> Self {
        Figures {
            rate: s.rate,
            p50_ms: s.latency.p50_ms,
            p95_ms: s.latency.p95_ms,
            p99_ms: s.latency.p99_ms,
            count: s.count,
            errors: s.errors,
        }
    }
}

/// One run read back from its JSON report.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFigures {
    /// Where it was read from (for messages).
    pub source: String,
    /// The workload's name.
    pub workload: String,
    /// The engine.
    pub engine: String,
    /// Open or closed loop, as the report says.
    pub mode: String,
    /// The target rate.
    pub target_rate: f64,
    /// All statements together.
    pub overall: Figures,
    /// Each statement by name, in the report's order.
    pub statements: Vec<(String, Figures)>,
}

impl RunFigures {
    /// Reads a report written by `covet loadtest --json` (or
    /// [`Report::to_json`](crate::Report::to_json)).
    pub fn from_file(path: &Path) -> Result<Self> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LoadtestError::Report {
            path: source.clone(),
            message: format!("cannot read it: {e}"),
        })?;
        Self::from_json(&source, &text)
    }

    /// Parses report JSON; `source` names it in messages.
    pub fn from_json(source: &str, text: &str) -> Result<Self> {
        let doc: RunDoc = serde_json::from_str(text).map_err(|e| LoadtestError::Report {
            path: source.to_string(),
            message: format!("not a covet loadtest JSON report ({e})"),
        })?;
        Ok(RunFigures {
            source: source.to_string(),
            workload: doc.meta.workload,
            engine: doc.meta.engine,
            mode: doc.meta.mode,
            target_rate: doc.meta.target_rate,
            overall: Figures::of(&doc.overall),
            statements: doc
                .statements
                .iter()
                .map(|s| (s.name.clone(), Figures::of(s)))
                .collect(),
        })
    }
}

/// A bound on how much a figure may worsen: a percentage of the base
/// figure (`10%`) or an absolute amount (`2ms`, `0.5s` for latency;
/// `100/s` for a rate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// Percent of the base figure.
    Percent(f64),
    /// In the figure's unit: milliseconds or statements per second.
    Absolute(f64),
}

impl Limit {
    fn allows(self, base: f64, worsening: f64) -> bool {
        match self {
            Limit::Percent(p) => worsening <= base * p / 100.0 + 1e-9,
            Limit::Absolute(a) => worsening <= a + 1e-9,
        }
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Limit::Percent(p) => format!("{p}%"),
            Limit::Absolute(a) => format!("{a} {unit}"),
        }
    }
}

impl FromStr for Limit {
    type Err = LoadtestError;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let bad = || {
            LoadtestError::config(format!(
                "invalid limit `{s}`: write a percentage (`10%`), a latency (`2ms`, `0.5s`) or a rate (`100/s`)"
            ))
        };
        let (num, scale, pct) = if let Some(n) = t.strip_suffix('%') {
            (n, 1.0, true)
        } else if let Some(n) = t.strip_suffix("ms") {
            (n, 1.0, false)
        } else if let Some(n) = t.strip_suffix("/s") {
            (n, 1.0, false)
        } else if let Some(n) = t.strip_suffix('s') {
            (n, 1e3, false)
        } else {
            return Err(bad());
        };
        let v: f64 = num.trim().parse().map_err(|_| bad())?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(bad());
        }
        Ok(if pct {
            Limit::Percent(v)
        } else {
            Limit::Absolute(v * scale)
        })
    }
}

/// How much worse the new run may be before the comparison fails. Each
/// bound applies to the overall figures and to every statement present in
/// both runs; `None` checks nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds {
    /// Most the p50 latency may rise.
    pub p50_increase: Option<Limit>,
    /// Most the p95 latency may rise.
    pub p95_increase: Option<Limit>,
    /// Most the p99 latency may rise.
    pub p99_increase: Option<Limit>,
    /// Most the completed rate may fall.
    pub rate_decrease: Option<Limit>,
    /// Most the error rate (errors as a % of completed statements) may
    /// rise, in percentage points.
    pub error_rate_increase_pp: Option<f64>,
}

/// One row of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    /// The statement's name, `Aggregated` for the total.
    pub name: String,
    /// Its figures in the base run, when it ran there.
    pub base: Option<Figures>,
    /// Its figures in the new run, when it ran there.
    pub new: Option<Figures>,
}

/// A threshold the new run crossed.
#[derive(Debug, Clone, Serialize)]
pub struct Breach {
    /// The statement (or `Aggregated`).
    pub statement: String,
    /// `p50`, `p95`, `p99`, `rate` or `error rate`.
    pub figure: String,
    /// The base figure.
    pub base: f64,
    /// The new figure.
    pub new: f64,
    /// The bound, as given.
    pub limit: String,
}

impl std::fmt::Display for Breach {
    /// `read_users p95: 1.200 -> 1.500 (+25.0%; at most +10%)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {:.3} -> {:.3} ({}; allowed {})",
            self.statement,
            self.figure,
            self.base,
            self.new,
            change(self.base, self.new),
            self.limit
        )
    }
}

/// The outcome of comparing two runs.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The base report's file.
    pub base: String,
    /// The new report's file.
    pub new: String,
    /// Differences in what was run (workload, engine, mode, target).
    pub notes: Vec<String>,
    /// Each statement, then `Aggregated`.
    pub rows: Vec<CompareRow>,
    /// Thresholds crossed; empty when the new run is within all of them.
    pub breaches: Vec<Breach>,
}

/// `+12.5%`, `-3.0%`, or `n/a` from zero.
fn change(base: f64, new: f64) -> String {
    if base == 0.0 {
        if new == 0.0 {
            "0%".into()
        } else {
            "n/a".into()
        }
    } else {
        format!("{:+.1}%", (new - base) / base * 100.0)
    }
}

fn check(
    out: &mut Vec<Breach>,
    name: &str,
    figure: &str,
    (base, new): (f64, f64),
    worsening: f64,
    limit: Option<Limit>,
    unit: &str,
) {
    let Some(limit) = limit else { return };
    // A figure absent from the base (no successful statement) has nothing
    // to regress from.
    if base == 0.0 && matches!(limit, Limit::Percent(_)) {
        return;
    }
    if !limit.allows(base, worsening) {
        out.push(Breach {
            statement: name.to_string(),
            figure: figure.to_string(),
            base,
            new,
            limit: limit.describe(unit),
        });
    }
}

/// Compares `new` with `base` under `thresholds`. Fails when the runs
/// share no statement (they ran different workloads).
pub fn compare(base: &RunFigures, new: &RunFigures, thresholds: &Thresholds) -> Result<Comparison> {
    let shared = base
        .statements
        .iter()
        .filter(|(n, _)| new.statements.iter().any(|(m, _)| m == n))
        .count();
    if shared == 0 {
        return Err(LoadtestError::Compare(format!(
            "{} ({}) and {} ({}) have no statement in common",
            base.source, base.workload, new.source, new.workload
        )));
    }
    let mut notes = Vec::new();
    for (what, a, b) in [
        ("workload", &base.workload, &new.workload),
        ("engine", &base.engine, &new.engine),
        ("mode", &base.mode, &new.mode),
    ] {
        if a != b {
            notes.push(format!("the {what} differs: {a} -> {b}"));
        }
    }
    if (base.target_rate - new.target_rate).abs() > 1e-9 {
        notes.push(format!(
            "the target rate differs: {:.0}/s -> {:.0}/s",
            base.target_rate, new.target_rate
        ));
    }
    let mut rows: Vec<CompareRow> = base
        .statements
        .iter()
        .map(|(n, f)| CompareRow {
            name: n.clone(),
            base: Some(f.clone()),
            new: new
                .statements
                .iter()
                .find(|(m, _)| m == n)
                .map(|(_, f)| f.clone()),
        })
        .collect();
    for (n, f) in &new.statements {
        if !rows.iter().any(|r| &r.name == n) {
            rows.push(CompareRow {
                name: n.clone(),
                base: None,
                new: Some(f.clone()),
            });
        }
    }
    rows.push(CompareRow {
        name: "Aggregated".into(),
        base: Some(base.overall.clone()),
        new: Some(new.overall.clone()),
    });
    let t = thresholds;
    let mut breaches = Vec::new();
    for r in &rows {
        let (Some(b), Some(n)) = (&r.base, &r.new) else {
            continue;
        };
        let out = &mut breaches;
        check(
            out,
            &r.name,
            "p50",
            (b.p50_ms, n.p50_ms),
            n.p50_ms - b.p50_ms,
            t.p50_increase,
            "ms",
        );
        check(
            out,
            &r.name,
            "p95",
            (b.p95_ms, n.p95_ms),
            n.p95_ms - b.p95_ms,
            t.p95_increase,
            "ms",
        );
        check(
            out,
            &r.name,
            "p99",
            (b.p99_ms, n.p99_ms),
            n.p99_ms - b.p99_ms,
            t.p99_increase,
            "ms",
        );
        check(
            out,
            &r.name,
            "rate",
            (b.rate, n.rate),
            b.rate - n.rate,
            t.rate_decrease,
            "/s",
        );
        if let Some(pp) = t.error_rate_increase_pp {
            let (be, ne) = (b.error_rate_pct(), n.error_rate_pct());
            if ne - be > pp + 1e-9 {
                out.push(Breach {
                    statement: r.name.clone(),
                    figure: "error rate %".into(),
                    base: be,
                    new: ne,
                    limit: format!("+{pp} percentage points"),
                });
            }
        }
    }
    Ok(Comparison {
        base: base.source.clone(),
        new: new.source.clone(),
        notes,
        rows,
        breaches,
    })
}

impl Comparison {
    /// Whether the new run is within every threshold.
    pub fn passed(&self) -> bool {
        self.breaches.is_empty()
    }

    /// The table, for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "covet loadtest compare: {} -> {}", self.base, self.new);
        for n in &self.notes {
            let _ = writeln!(out, "note: {n}");
        }
        let cell = |b: Option<f64>, n: Option<f64>, prec: usize| match (b, n) {
            (Some(b), Some(n)) => {
                format!("{b:.prec$} -> {n:.prec$} {:>7}", change(b, n), prec = prec)
            }
            (Some(b), None) => format!("{b:.prec$} -> (absent)", prec = prec),
            (None, Some(n)) => format!("(absent) -> {n:.prec$}", prec = prec),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "\n{:<16} {:>28} {:>26} {:>26} {:>26} {:>22}",
            "statement", "rate/s", "p50 ms", "p95 ms", "p99 ms", "errors %"
        );
        for r in &self.rows {
            let g = |f: fn(&Figures) -> f64| (r.base.as_ref().map(f), r.new.as_ref().map(f));
            let (rb, rn) = g(|f| f.rate);
            let (p50b, p50n) = g(|f| f.p50_ms);
            let (p95b, p95n) = g(|f| f.p95_ms);
            let (p99b, p99n) = g(|f| f.p99_ms);
            let (eb, en) = g(Figures::error_rate_pct);
            let errors = match (eb, en) {
                (Some(b), Some(n)) => format!("{b:.2} -> {n:.2} {:>+6.2}pp", n - b),
                _ => cell(eb, en, 2),
            };
            let _ = writeln!(
                out,
                "{:<16} {:>28} {:>26} {:>26} {:>26} {:>22}",
                r.name,
                cell(rb, rn, 1),
                cell(p50b, p50n, 3),
                cell(p95b, p95n, 3),
                cell(p99b, p99n, 3),
                errors
            );
        }
        if self.breaches.is_empty() {
            let _ = writeln!(out, "\nwithin every threshold");
        } else {
            let _ = writeln!(
                out,
                "\nREGRESSION: {} threshold(s) crossed",
                self.breaches.len()
            );
            for b in &self.breaches {
                let _ = writeln!(out, "  {b}");
            }
        }
        out
    }

    /// The comparison as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
