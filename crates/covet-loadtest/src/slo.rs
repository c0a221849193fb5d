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

/// The verdict on one objective.
#[derive(Debug, Clone, Serialize)]
pub struct SloOutcome {
    /// The objective as written.
    pub spec: String,
    /// Whether it was met.
    pub passed: bool,
    /// The measured figure with its unit.
    pub actual: String,
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
    pub fn check(&self, report: &Report) -> SloOutcome {
        let (actual, shown) = match &self.metric {
            Metric::Latency(n) => {
                let v = report.overall.latency.get(n).unwrap_or(f64::INFINITY);
                (v, format!("{v:.3} ms"))
            }
            Metric::ErrorRate => {
                let done = report.overall.count.max(1) as f64;
                let v = report.overall.errors as f64 / done * 100.0;
                (v, format!("{v:.3}%"))
            }
        };
        let passed = if self.inclusive {
            actual <= self.limit
        } else {
            actual < self.limit
        };
        SloOutcome {
            spec: self.spec.clone(),
            passed,
            actual: shown,
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
