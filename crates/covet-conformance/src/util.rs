//! Helpers shared by the cases.

use std::future::Future;
use std::time::{Duration, Instant};

use covet_core::{Dialect, Error, ErrorKind, PlaceholderStyle, Result, Statement, Value};

/// Builds a statement from portable SQL (`$1`, `$2`, ...) for `dialect`:
/// rewritten to `?` where the engine wants it, with the parameters repeated
/// to match each occurrence.
///
/// ```
/// use covet_core::{Dialect, Value};
/// let s = covet_conformance::portable(Dialect::MYSQL, "SELECT $1, $1", vec![Value::I64(1)]);
/// assert_eq!(s.sql(), "SELECT ?, ?");
/// assert_eq!(s.params().len(), 2);
/// ```
pub fn portable(dialect: Dialect, sql: &str, params: Vec<Value>) -> Statement {
    if dialect.placeholders == PlaceholderStyle::Dollar {
        return Statement::new(sql).with_params(params);
    }
    let order = dialect.placeholder_order(sql);
    let rewritten = dialect.rewrite_placeholders(sql).into_owned();
    let params = order
        .iter()
        .map(|&i| params.get(i).cloned().unwrap_or(Value::Null))
        .collect();
    Statement::new(rewritten).with_params(params)
}

/// A failure of the suite's own assertions, as a covet error so cases can
/// use `?` throughout.
pub(crate) fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Internal, message)
}

/// Checks a condition, returning a descriptive error when it does not hold.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::util::fail(format!(
                "assertion failed: {} ({}:{}): {}",
                stringify!($cond), file!(), line!(), format!($($msg)+)
            )));
        }
    };
}
pub(crate) use ensure;

/// Asserts that `result` failed with `kind`, and returns the error.
pub(crate) fn expect_kind<T>(what: &str, result: Result<T>, kind: ErrorKind) -> Result<Error> {
    match result {
        Ok(_) => Err(fail(format!("{what}: succeeded, expected a {kind} error"))),
        Err(e) if e.kind() == kind => Ok(e),
        Err(e) => Err(fail(format!("{what}: expected a {kind} error, got {e:?}"))),
    }
}

/// Polls `check` until it returns true or `deadline` passes.
pub(crate) async fn poll_until<F, Fut>(deadline: Duration, mut check: F) -> Result<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let end = Instant::now() + deadline;
    loop {
        if check().await? {
            return Ok(true);
        }
        if Instant::now() >= end {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Tracks this process's resident set size (Linux `/proc/self/status`).
#[derive(Debug, Clone, Copy)]
pub struct RssProbe {
    baseline: u64,
    peak: u64,
}

impl RssProbe {
    /// The current resident set size in bytes, when the platform reports it.
    pub fn current() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: u64 = line
            .trim_start_matches("VmRSS:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    }

    /// Starts tracking from the current size; `None` off Linux.
    pub fn start() -> Option<Self> {
        let now = Self::current()?;
        Some(RssProbe {
            baseline: now,
            peak: now,
        })
    }

    /// Samples the current size.
    pub fn sample(&mut self) {
        if let Some(now) = Self::current() {
            self.peak = self.peak.max(now);
        }
    }

    /// How far the peak rose above the baseline, in bytes.
    pub fn growth(&self) -> u64 {
        self.peak.saturating_sub(self.baseline)
    }
}

/// Serialises the memory-hungry cases (16 MB blobs, the million-row stream)
/// within one test process, so one does not skew the other's measurement.
pub(crate) static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
