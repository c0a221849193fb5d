//! Dispatch: sending each statement at its intended time (open loop, on a
//! pacer thread or tokio's timer) or as workers free up (closed loop), and
//! recording its completion.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use covet_core::Adapter;
use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::config::{Mode, Overload, Pacer, RunConfig};
use super::recorder::{DispatchLog, Recorder};
use super::stop::{Stop, stopped};
use crate::error::{LoadtestError, Result};
use crate::workload::{StatementKind, Workload};

/// What the run's tasks share: the adapter, the recorder and the number of
/// statements in flight.
pub(super) struct Shared {
    pub(super) adapter: Arc<dyn Adapter>,
    pub(super) recorder: Mutex<Recorder>,
    pub(super) in_flight: AtomicU64,
}

async fn run_one(
    shared: Arc<Shared>,
    idx: usize,
    stmt: covet_core::Statement,
    kind: StatementKind,
    intended: Instant,
    permit: Option<OwnedSemaphorePermit>,
) {
    // Through the trait object itself, not covet-core's `impl Adapter for
    // Arc<A>`: that impl used to box a second future per call and now
    // forwards the first, but the direct call does not depend on it.
    let db: &dyn Adapter = &*shared.adapter;
    let start = Instant::now();
    // The rows are dropped unread: nothing here converts or reads a value.
    let result = match kind {
        StatementKind::Query => db.query(&stmt).await.map(drop),
        StatementKind::Execute => db.execute(&stmt).await.map(drop),
    };
    let end = Instant::now();
    shared
        .recorder
        .lock()
        .completed(idx, intended, start, end, result.as_ref().err());
    shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
}

/// Blocks the calling thread until `deadline`: sleep while far, spin close.
/// Returns false, early, when `stop` is triggered.
fn precise_wait(deadline: std::time::Instant, stop: Option<&Stop>) -> bool {
    const SPIN: Duration = Duration::from_micros(120);
    // Sleeps are cut into slices so a stop at a low rate is seen promptly.
    const SLICE: Duration = Duration::from_millis(20);
    loop {
        let now = std::time::Instant::now();
        if now >= deadline {
            return true;
        }
        let left = deadline - now;
        if left > SPIN {
            if stop.is_some_and(Stop::is_stopped) {
                return false;
            }
            std::thread::sleep((left - SPIN).min(SLICE));
        } else {
            std::hint::spin_loop();
        }
    }
}

struct Dispatch {
    shared: Arc<Shared>,
    sem: Arc<Semaphore>,
    handle: Handle,
    start: Instant,
    end: Instant,
    cfg: RunConfig,
}

async fn dispatch_open(d: Dispatch, mut workload: Workload) -> DispatchLog {
    let seconds = d.cfg.measured_duration().as_secs() as usize + 1;
    let mut log = DispatchLog::new(d.start + d.cfg.warmup, seconds, workload.len());
    let mut schedule = d.cfg.schedule();
    let stop = d.cfg.stop.clone();
    while let Some(offset) = schedule.next_offset() {
        let intended = d.start + offset;
        if intended >= d.end || stop.as_ref().is_some_and(Stop::is_stopped) {
            break;
        }
        // Build the statement before waiting, so waking up is all that
        // stands between the intended time and the send.
        let idx = workload.pick();
        let stmt = workload.build(idx);
        let kind = workload.kind(idx);
        let on_time = match d.cfg.pacer {
            Pacer::Precise => precise_wait(intended.into_std(), stop.as_ref()),
            Pacer::Tokio => tokio::select! {
                () = tokio::time::sleep_until(intended) => true,
                () = stopped(stop.as_ref()) => false,
            },
        };
        if !on_time {
            break;
        }
        let permit = match Arc::clone(&d.sem).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => match d.cfg.overload {
                Overload::Drop => {
                    log.dispatched(intended, Instant::now().saturating_duration_since(intended));
                    log.dropped(idx, intended);
                    continue;
                }
                Overload::Late => {
                    let acquired = tokio::select! {
                        p = Arc::clone(&d.sem).acquire_owned() => p.ok(),
                        () = stopped(stop.as_ref()) => None,
                    };
                    match acquired {
                        Some(p) => p,
                        None => break,
                    }
                }
            },
        };
        let lag = Instant::now().saturating_duration_since(intended);
        log.dispatched(intended, lag);
        d.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        d.handle.spawn(run_one(
            Arc::clone(&d.shared),
            idx,
            stmt,
            kind,
            intended,
            Some(permit),
        ));
    }
    log
}

async fn closed_worker(
    shared: Arc<Shared>,
    workload: Arc<Mutex<Workload>>,
    end: Instant,
    stop: Option<Stop>,
) {
    loop {
        let now = Instant::now();
        if now >= end || stop.as_ref().is_some_and(Stop::is_stopped) {
            break;
        }
        let (idx, stmt, kind) = {
            let mut w = workload.lock();
            let idx = w.pick();
            (idx, w.build(idx), w.kind(idx))
        };
        shared.recorder.lock().dispatched(now, Duration::ZERO);
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        run_one(Arc::clone(&shared), idx, stmt, kind, now, None).await;
    }
}

/// Sends the run's statements from `start` until `end` (or a stop), open or
/// closed loop as `cfg` says, and returns once every statement has been
/// sent, not completed.
pub(super) async fn drive(
    shared: &Arc<Shared>,
    sem: &Arc<Semaphore>,
    workload: Workload,
    cfg: &RunConfig,
    start: Instant,
    end: Instant,
) -> Result<()> {
    match cfg.mode {
        Mode::OpenLoop => {
            let d = Dispatch {
                shared: Arc::clone(shared),
                sem: Arc::clone(sem),
                handle: Handle::current(),
                start,
                end,
                cfg: cfg.clone(),
            };
            match cfg.pacer {
                Pacer::Tokio => {
                    let log = dispatch_open(d, workload).await;
                    shared.recorder.lock().absorb(&log);
                }
                Pacer::Precise => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    std::thread::Builder::new()
                        .name("covet-loadtest-dispatch".into())
                        .spawn(move || {
                            let rt = tokio::runtime::Builder::new_current_thread()
                                .enable_time()
                                .build();
                            if let Ok(rt) = rt {
                                let _ = tx.send(rt.block_on(dispatch_open(d, workload)));
                            }
                        })
                        .map_err(|e| LoadtestError::io("starting the dispatcher thread", e))?;
                    match rx.await {
                        Ok(log) => shared.recorder.lock().absorb(&log),
                        Err(_) => {
                            return Err(LoadtestError::config(
                                "the dispatcher thread could not start its timer",
                            ));
                        }
                    }
                }
            }
        }
        Mode::ClosedLoop { concurrency } => {
            let workload = Arc::new(Mutex::new(workload));
            let workers: Vec<_> = (0..concurrency)
                .map(|_| {
                    tokio::spawn(closed_worker(
                        Arc::clone(shared),
                        Arc::clone(&workload),
                        end,
                        cfg.stop.clone(),
                    ))
                })
                .collect();
            for w in workers {
                let _ = w.await;
            }
        }
    }
    Ok(())
}
