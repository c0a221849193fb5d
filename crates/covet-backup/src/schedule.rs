//! Running backups on a schedule: daily at a time of day, or by a cron
//! expression (UTC). One run at a time; runs that could not start are
//! reported as missed.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc};

use crate::error::{BackupError, Result};

/// A five-field cron expression: minute, hour, day of month, month, day of
/// week (0 or 7 is Sunday). Fields take `*`, numbers, ranges `a-b`, steps
/// `*/n` or `a-b/n`, and comma lists. As in cron, when both day fields are
/// restricted a day matching either runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    minutes: u64,
    hours: u64,
    dom: u64,
    months: u64,
    dow: u64,
    dom_star: bool,
    dow_star: bool,
    text: String,
}

fn parse_field(f: &str, lo: u32, hi: u32, expr: &str) -> Result<(u64, bool)> {
    let bad = |reason: String| BackupError::BadSchedule {
        expr: expr.to_owned(),
        reason,
    };
    let mut bits = 0u64;
    for part in f.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let s: u32 = s
                    .parse()
                    .map_err(|_| bad(format!("bad step in {part:?}")))?;
                if s == 0 {
                    return Err(bad(format!("zero step in {part:?}")));
                }
                (r, s)
            }
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            let a: u32 = a
                .parse()
                .map_err(|_| bad(format!("bad number in {part:?}")))?;
            let b: u32 = b
                .parse()
                .map_err(|_| bad(format!("bad number in {part:?}")))?;
            (a, b)
        } else {
            let a: u32 = range
                .parse()
                .map_err(|_| bad(format!("bad number in {part:?}")))?;
            (a, if part.contains('/') { hi } else { a })
        };
        if a < lo || b > hi || a > b {
            return Err(bad(format!("{part:?} is outside {lo}-{hi}")));
        }
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, f == "*"))
}

impl FromStr for CronExpr {
    type Err = BackupError;

    fn from_str(s: &str) -> Result<Self> {
        let fields: Vec<&str> = s.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(BackupError::BadSchedule {
                expr: s.to_owned(),
                reason: "expected five fields: minute hour day-of-month month day-of-week".into(),
            });
        }
        let (minutes, _) = parse_field(fields[0], 0, 59, s)?;
        let (hours, _) = parse_field(fields[1], 0, 23, s)?;
        let (dom, dom_star) = parse_field(fields[2], 1, 31, s)?;
        let (months, _) = parse_field(fields[3], 1, 12, s)?;
        let (mut dow, dow_star) = parse_field(fields[4], 0, 7, s)?;
        if dow & (1 << 7) != 0 {
            dow |= 1;
        }
        Ok(CronExpr {
            minutes,
            hours,
            dom,
            months,
            dow,
            dom_star,
            dow_star,
            text: s.to_owned(),
        })
    }
}

impl CronExpr {
    fn day_matches(&self, t: &DateTime<Utc>) -> bool {
        let d = self.dom & (1 << t.day()) != 0;
        let w = self.dow & (1 << t.weekday().num_days_from_sunday()) != 0;
        match (self.dom_star, self.dow_star) {
            (false, false) => d || w,
            _ => d && w,
        }
    }

    /// The first time strictly after `t` that matches, within eight years.
    pub(crate) fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut c = t.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let end = t + Duration::days(366 * 8);
        while c < end {
            if self.months & (1 << c.month()) == 0 || !self.day_matches(&c) {
                c = (c + Duration::days(1)).with_hour(0)?.with_minute(0)?;
                continue;
            }
            if self.hours & (1 << c.hour()) == 0 {
                c = (c + Duration::hours(1)).with_minute(0)?;
                continue;
            }
            if self.minutes & (1 << c.minute()) != 0 {
                return Some(c);
            }
            c += Duration::minutes(1);
        }
        None
    }
}

/// When backups run (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every day at this time.
    Daily(NaiveTime),
    /// By a cron expression.
    Cron(CronExpr),
    /// At a fixed interval from the previous planned time.
    Every(std::time::Duration),
}

impl FromStr for Schedule {
    type Err = BackupError;

    /// `daily@02:30`, `02:30`, `every@6h` (s, m, h), or a cron expression
    /// such as `0 3 * * 1-5`.
    fn from_str(s: &str) -> Result<Self> {
        if let Some(every) = s.strip_prefix("every@") {
            let bad = || BackupError::BadSchedule {
                expr: s.to_owned(),
                reason: "expected every@<n>s, every@<n>m or every@<n>h".into(),
            };
            let (n, unit) = every.split_at(every.len().saturating_sub(1));
            let n: u64 = n.parse().map_err(|_| bad())?;
            let secs = match unit {
                "s" => n,
                "m" => n * 60,
                "h" => n * 3600,
                _ => return Err(bad()),
            };
            if secs == 0 {
                return Err(bad());
            }
            return Ok(Schedule::Every(std::time::Duration::from_secs(secs)));
        }
        let t = s.strip_prefix("daily@").unwrap_or(s);
        if !t.contains(' ') {
            return NaiveTime::parse_from_str(t, "%H:%M")
                .map(Schedule::Daily)
                .map_err(|_| BackupError::BadSchedule {
                    expr: s.to_owned(),
                    reason: "expected HH:MM, daily@HH:MM or a five-field cron expression".into(),
                });
        }
        s.parse().map(Schedule::Cron)
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Daily(t) => write!(f, "daily at {} UTC", t.format("%H:%M")),
            Schedule::Cron(c) => write!(f, "cron `{}` (UTC)", c.text),
            Schedule::Every(d) => write!(f, "every {d:?}"),
        }
    }
}

impl Schedule {
    /// The first run time strictly after `t`.
    pub(crate) fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Daily(at) => {
                let today = t.date_naive().and_time(*at).and_utc();
                Some(if today > t {
                    today
                } else {
                    today + Duration::days(1)
                })
            }
            Schedule::Cron(c) => c.next_after(t),
            Schedule::Every(d) => Duration::from_std(*d).ok().map(|d| t + d),
        }
    }

    /// The run times in `(after, until]`: the last is due now, the earlier
    /// ones were missed (the process was not running, or slept).
    pub(crate) fn due_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut t = after;
        while let Some(n) = self.next_after(t) {
            if n > until || out.len() > 10_000 {
                break;
            }
            out.push(n);
            t = n;
        }
        out
    }
}

/// Why a planned run did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissReason {
    /// The previous run was still going (one run at a time).
    StillRunning,
    /// The scheduler woke after a later run time was already due (the
    /// machine slept or the process was stopped).
    Late,
}

/// What the scheduler reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleEvent {
    /// The next run is planned for this time.
    Waiting(DateTime<Utc>),
    /// A run started.
    Started(DateTime<Utc>),
    /// A run finished; the message says what it made.
    Finished {
        /// The planned time.
        planned: DateTime<Utc>,
        /// What the job reported.
        message: String,
    },
    /// A run failed.
    Failed {
        /// The planned time.
        planned: DateTime<Utc>,
        /// The error.
        error: String,
    },
    /// A planned run did not happen.
    Missed {
        /// The planned time.
        planned: DateTime<Utc>,
        /// Why.
        reason: MissReason,
    },
}

/// Runs `job` on `schedule` until `runs` runs have started (or forever with
/// `None`), reporting to `on_event`. A run never starts while the previous
/// one is going: such run times are reported missed, as are run times that
/// passed while the process was not awake.
pub async fn run_schedule<J, F>(
    schedule: &Schedule,
    job: J,
    on_event: Arc<dyn Fn(&ScheduleEvent) + Send + Sync>,
    runs: Option<u64>,
) where
    J: Fn(DateTime<Utc>) -> F + Send + Sync,
    F: Future<Output = Result<String>> + Send + 'static,
{
    let mut last = Utc::now();
    let mut running: Option<(DateTime<Utc>, tokio::task::JoinHandle<Result<String>>)> = None;
    let mut started = 0u64;
    loop {
        if runs.is_some_and(|n| started >= n) {
            break;
        }
        let Some(next) = schedule.next_after(last) else {
            break;
        };
        on_event(&ScheduleEvent::Waiting(next));
        // Wake at the run time, or earlier when the running job ends, so
        // its outcome is reported promptly.
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            match running.as_mut() {
                Some((planned, handle)) => {
                    tokio::select! {
                        () = &mut sleep => break,
                        r = handle => {
                            report_end(*planned, r, &on_event);
                            running = None;
                        }
                    }
                }
                None => {
                    (&mut sleep).await;
                    break;
                }
            }
        }
        let now = Utc::now();
        let due = schedule.due_between(last, now);
        last = now;
        let Some((&latest, missed)) = due.split_last() else {
            continue;
        };
        for m in missed {
            on_event(&ScheduleEvent::Missed {
                planned: *m,
                reason: MissReason::Late,
            });
        }
        if let Some((planned, handle)) = running.take() {
            if handle.is_finished() {
                report_end(planned, handle.await, &on_event);
            } else {
                on_event(&ScheduleEvent::Missed {
                    planned: latest,
                    reason: MissReason::StillRunning,
                });
                running = Some((planned, handle));
                continue;
            }
        }
        on_event(&ScheduleEvent::Started(latest));
        started += 1;
        running = Some((latest, tokio::spawn(job(latest))));
    }
    if let Some((planned, handle)) = running {
        report_end(planned, handle.await, &on_event);
    }
}

fn report_end(
    planned: DateTime<Utc>,
    r: std::result::Result<Result<String>, tokio::task::JoinError>,
    on_event: &Arc<dyn Fn(&ScheduleEvent) + Send + Sync>,
) {
    on_event(&match r {
        Ok(Ok(message)) => ScheduleEvent::Finished { planned, message },
        Ok(Err(e)) => ScheduleEvent::Failed {
            planned,
            error: e.to_string(),
        },
        Err(e) => ScheduleEvent::Failed {
            planned,
            error: format!("the backup task ended abnormally: {e}"),
        },
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn daily_at_a_time() {
        let s: Schedule = "daily@02:30".parse().unwrap();
        assert_eq!(
            s.next_after(at(2026, 1, 1, 1, 0)),
            Some(at(2026, 1, 1, 2, 30))
        );
        assert_eq!(
            s.next_after(at(2026, 1, 1, 2, 30)),
            Some(at(2026, 1, 2, 2, 30))
        );
        assert_eq!("02:30".parse::<Schedule>().unwrap(), s);
        assert!("25:00".parse::<Schedule>().is_err());
    }

    #[test]
    fn cron_expressions() {
        let c: CronExpr = "*/15 9-17 * * 1-5".parse().unwrap();
        // 2026-01-03 is a Saturday: next is Monday 09:00.
        assert_eq!(
            c.next_after(at(2026, 1, 3, 12, 0)),
            Some(at(2026, 1, 5, 9, 0))
        );
        assert_eq!(
            c.next_after(at(2026, 1, 5, 9, 0)),
            Some(at(2026, 1, 5, 9, 15))
        );
        assert_eq!(
            c.next_after(at(2026, 1, 5, 17, 45)),
            Some(at(2026, 1, 6, 9, 0))
        );
        let feb29: CronExpr = "0 0 29 2 *".parse().unwrap();
        assert_eq!(
            feb29.next_after(at(2026, 1, 1, 0, 0)),
            Some(at(2028, 2, 29, 0, 0))
        );
        // Both day fields restricted: either matches (the 1st, or Sundays).
        let either: CronExpr = "0 3 1 * 0".parse().unwrap();
        assert_eq!(
            either.next_after(at(2026, 1, 1, 4, 0)),
            Some(at(2026, 1, 4, 3, 0))
        );
        let sunday7: CronExpr = "0 0 * * 7".parse().unwrap();
        assert_eq!(
            sunday7.next_after(at(2026, 1, 1, 0, 0)),
            Some(at(2026, 1, 4, 0, 0))
        );
        for bad in [
            "* * * *",
            "60 * * * *",
            "*/0 * * * *",
            "a * * * *",
            "5-1 * * * *",
        ] {
            assert!(bad.parse::<CronExpr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn missed_runs_are_listed() {
        let s: Schedule = "0 * * * *".parse().unwrap();
        let due = s.due_between(at(2026, 1, 1, 0, 30), at(2026, 1, 1, 3, 10));
        assert_eq!(
            due,
            vec![
                at(2026, 1, 1, 1, 0),
                at(2026, 1, 1, 2, 0),
                at(2026, 1, 1, 3, 0)
            ]
        );
        assert!(
            s.due_between(at(2026, 1, 1, 0, 30), at(2026, 1, 1, 0, 59))
                .is_empty()
        );
    }

    /// A job slower than the interval: runs never overlap, and the run
    /// times that fell inside a run are reported missed.
    #[tokio::test]
    async fn one_run_at_a_time() {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicU32, Ordering};
        let s = Schedule::Every(std::time::Duration::from_millis(40));
        let active = Arc::new(AtomicU32::new(0));
        let max_active = Arc::new(AtomicU32::new(0));
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        let (a, m) = (active.clone(), max_active.clone());
        run_schedule(
            &s,
            move |_planned| {
                let (a, m) = (a.clone(), m.clone());
                async move {
                    let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(now, Ordering::SeqCst);
                    // The job's own duration, longer than two intervals.
                    tokio::time::sleep(std::time::Duration::from_millis(130)).await;
                    a.fetch_sub(1, Ordering::SeqCst);
                    Ok("done".to_string())
                }
            },
            Arc::new(move |e: &ScheduleEvent| ev.lock().unwrap().push(e.clone())),
            Some(3),
        )
        .await;
        assert_eq!(max_active.load(Ordering::SeqCst), 1);
        let events = events.lock().unwrap();
        let count = |f: &dyn Fn(&ScheduleEvent) -> bool| events.iter().filter(|e| f(e)).count();
        let started = count(&|e| matches!(e, ScheduleEvent::Started(_)));
        let finished = count(&|e| matches!(e, ScheduleEvent::Finished { .. }));
        let missed = count(&|e| {
            matches!(
                e,
                ScheduleEvent::Missed {
                    reason: MissReason::StillRunning,
                    ..
                }
            )
        });
        assert_eq!((started, finished), (3, 3), "{events:?}");
        assert!(missed >= 2, "{events:?}");
    }
}
