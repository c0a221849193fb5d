//! Service-level objectives checked against a report: `p95<10ms`.

use serde::Serialize;

use crate::error::{LoadtestError, Result};
use crate::report::Report;

/// What an objective bounds.
#[derive(Debug, Clone, PartialEq)]
enum Metric {
    /// A latency figure (`p95`, `p99.9`, `max`, `mean`), in milliseconds.
    Latency(String),
    /// Errors as a percentage of completed statements.
    ErrorRate,
}

/// One objective, such as `p95<10ms`, `p99.9<=250ms` or `errors<1%`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    spec: String,
    metric: Metric,
    inclusive: bool,
    limit: f64,
}

impl std::fmt::Display for Slo {
    /// The objective as written, without spaces: `p95<10ms`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.spec)
    }
}

/// The verdict on one objective.
#[derive(Debug, Clone, Serialize)]
pub struct SloOutcome {
    /// The objective as written.
    pub spec: String,
    /// Whether it was met. A latency objective with no successful
    /// statement to judge is not met.
    pub passed: bool,
    /// The measured figure with its unit, or `n/a` and why.
    pub actual: String,
    /// Statements the figure was computed over: the successful ones for a
    /// latency objective, all completed ones for an error-rate objective.
    pub over: u64,
    /// The run's error rate (% of completed statements), shown beside every
    /// objective because latency figures cover successes only.
    pub error_rate_pct: f64,
}

impl std::fmt::Display for SloOutcome {
    /// `p95<10ms: met (actual 3.100 ms over 1990 successful; error rate 0.500%)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict = if self.passed { "met" } else { "MISSED" };
        if self.spec.starts_with("errors") || self.spec.starts_with("error_rate") {
            write!(
                f,
                "{}: {verdict} (actual {} of {} completed)",
                self.spec, self.actual, self.over
            )
        } else {
            write!(
                f,
                "{}: {verdict} (actual {} over {} successful; error rate {:.3}%)",
                self.spec, self.actual, self.over, self.error_rate_pct
            )
        }
    }
}

/// The most errors a run may have, as a percentage of completed
/// statements, before it counts as failed even without an error-rate SLO.
///
/// Parsed from `1%`, `0.5%`, `100%` or `off`. The default is 1 %.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxErrorRate(Option<f64>);

impl Default for MaxErrorRate {
    fn default() -> Self {
        MaxErrorRate(Some(1.0))
    }
}

impl MaxErrorRate {
    /// No bound: any error rate passes.
    pub const OFF: MaxErrorRate = MaxErrorRate(None);

    /// A bound of `pct` percent.
    pub fn percent(pct: f64) -> Result<Self> {
        if !(pct.is_finite() && (0.0..=100.0).contains(&pct)) {
            return Err(LoadtestError::config(format!(
                "the maximum error rate must be between 0% and 100%, got {pct}%"
            )));
        }
        Ok(MaxErrorRate(Some(pct)))
    }

    /// The bound in percent, `None` when off.
    pub fn get(self) -> Option<f64> {
        self.0
    }

    /// Judges `report`: passed when the error rate is at most the bound.
    /// A run in which statements were sent but none completed fails.
    pub fn check(self, report: &Report) -> ErrorRateOutcome {
        let s = &report.summary;
        let passed = match self.0 {
            None => true,
            Some(_) if s.completed == 0 => s.sent == 0,
            Some(max) => s.error_rate_pct <= max,
        };
        ErrorRateOutcome {
            max_pct: self.0,
            actual_pct: s.error_rate_pct,
            errors: s.errors,
            completed: s.completed,
            passed,
        }
    }
}

impl std::str::FromStr for MaxErrorRate {
    type Err = LoadtestError;

    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("off") || t.eq_ignore_ascii_case("none") {
            return Ok(MaxErrorRate::OFF);
        }
        let num = t.strip_suffix('%').ok_or_else(|| {
            LoadtestError::config(format!(
                "invalid maximum error rate `{s}`: write a percentage such as `1%` or `0.5%`, or `off`"
            ))
        })?;
        let pct: f64 = num.trim().parse().map_err(|_| {
            LoadtestError::config(format!(
                "invalid maximum error rate `{s}`: `{num}` is not a number"
            ))
        })?;
        MaxErrorRate::percent(pct)
    }
}

/// The verdict on the run's error rate against a [`MaxErrorRate`].
#[derive(Debug, Clone, Serialize)]
pub struct ErrorRateOutcome {
    /// The bound in percent; `None` when the check was turned off.
    pub max_pct: Option<f64>,
    /// Errors as a percentage of completed statements.
    pub actual_pct: f64,
    /// Errors in the measured period.
    pub errors: u64,
    /// Completed statements in the measured period.
    pub completed: u64,
    /// Whether the error rate was within the bound.
    pub passed: bool,
}

impl std::fmt::Display for ErrorRateOutcome {
    /// `error rate 0.500% (5 of 1000 completed; at most 1%: ok)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "error rate {:.3}% ({} of {} completed; ",
            self.actual_pct, self.errors, self.completed
        )?;
        match self.max_pct {
            None => write!(f, "no bound)"),
            Some(m) if self.passed => write!(f, "at most {m}%: ok)"),
            Some(m) if self.completed == 0 => {
                write!(f, "at most {m}%: EXCEEDED, nothing completed)")
            }
            Some(m) => write!(f, "at most {m}%: EXCEEDED)"),
        }
    }
}

impl std::str::FromStr for Slo {
    type Err = LoadtestError;

    fn from_str(s: &str) -> Result<Self> {
        let spec: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let bad = |why: &str| {
            LoadtestError::config(format!(
                "invalid SLO `{s}`: {why} (expected e.g. `p95<10ms`, `p99.9<=250ms`, `max<1s`, `errors<1%`)"
            ))
        };
        let pos = spec.find('<').ok_or_else(|| bad("no `<` or `<=`"))?;
        let (name, rest) = spec.split_at(pos);
        let (inclusive, value) = match rest.strip_prefix("<=") {
            Some(v) => (true, v),
            None => (false, &rest[1..]),
        };
        let name = name.to_ascii_lowercase();
        let metric = match name.as_str() {
            "errors" | "error_rate" => Metric::ErrorRate,
            n if crate::histogram::Percentiles::default().get(n).is_some() => {
                Metric::Latency(n.to_string())
            }
            _ => return Err(bad(&format!("unknown figure `{name}`"))),
        };
        let split = value
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(value.len());
        let (num, unit) = value.split_at(split);
        let num: f64 = num.parse().map_err(|_| bad("the limit is not a number"))?;
        let limit = match (&metric, unit) {
            (Metric::ErrorRate, "%") => num,
            (Metric::ErrorRate, _) => return Err(bad("an error rate is given in %")),
            (Metric::Latency(_), "ms") => num,
            (Metric::Latency(_), "s") => num * 1e3,
            (Metric::Latency(_), "us" | "µs") => num / 1e3,
            (Metric::Latency(_), "") => return Err(bad("the limit needs a unit: us, ms or s")),
            (Metric::Latency(_), u) => return Err(bad(&format!("unknown unit `{u}`"))),
        };
        Ok(Slo {
            spec,
            metric,
            inclusive,
            limit,
        })
    }
}

impl Slo {
    /// Checks this objective against the report's overall figures.
    ///
    /// Latency objectives are judged over successful statements only (the
    /// report's latency figures); with none, the objective cannot be met.
    pub fn check(&self, report: &Report) -> SloOutcome {
        let o = &report.overall;
        let error_rate_pct = report.summary.error_rate_pct;
        let within = |actual: f64| {
            if self.inclusive {
                actual <= self.limit
            } else {
                actual < self.limit
            }
        };
        let (passed, actual, over) = match &self.metric {
            Metric::Latency(_) if o.ok == 0 => {
                (false, "n/a (no successful statement)".to_string(), 0)
            }
            Metric::Latency(n) => {
                let v = o.latency.get(n).unwrap_or(f64::INFINITY);
                (within(v), format!("{v:.3} ms"), o.ok)
            }
            Metric::ErrorRate if o.count == 0 => {
                (false, "n/a (no completed statement)".to_string(), 0)
            }
            Metric::ErrorRate => {
                let v = o.errors as f64 / o.count as f64 * 100.0;
                (within(v), format!("{v:.3}%"), o.count)
            }
        };
        SloOutcome {
            spec: self.spec.clone(),
            passed,
            actual,
            over,
            error_rate_pct,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_rejects_nonsense() {
        let s: Slo = "p95 < 10ms".parse().unwrap();
        assert_eq!(s.limit, 10.0);
        assert!(!s.inclusive);
        let s: Slo = "p99.9<=1.5s".parse().unwrap();
        assert_eq!(s.limit, 1500.0);
        assert!(s.inclusive);
        let s: Slo = "errors<1%".parse().unwrap();
        assert_eq!(s.metric, Metric::ErrorRate);
        for bad in [
            "p95>10ms",
            "p97<10ms",
            "p95<10",
            "p95<ten ms",
            "errors<3ms",
            "p95<10h",
        ] {
            let e = bad.parse::<Slo>().unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid SLO `{bad}`")), "{e}");
        }
    }
}
