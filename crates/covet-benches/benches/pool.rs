//! covet-pool vs deadpool (managed) vs bb8 with the same no-op manager.
//!
//! `cargo xtask bench pool [--long]`. Each cell (max size M, N tasks, hold
//! time) builds the three pools pre-warmed to M, then runs them in
//! round-robin repetitions (the starting pool rotates) on one 2-worker tokio
//! runtime, and prints the median acquire+release cycles per second and the
//! median p99 acquire latency, with covet/deadpool and covet/bb8 ratios.
//! A churn cell cancels 25% of acquires and then checks that M connections
//! can still be taken at once.
//!
//! Every pool keeps its default checkout behaviour (covet validates only
//! connections idle longer than its 500 ms skip window, deadpool recycles on
//! every get, bb8 tests on every checkout; all three are no-ops here) and
//! every pool gets a 30 s acquire timeout. Acquire latency is sampled on
//! every 8th cycle of each task; only completed cycles count.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

const TIMEOUT: Duration = Duration::from_secs(30);
const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

#[derive(Default)]
struct CovetNoop(AtomicU64);

impl covet_pool::Manager for CovetNoop {
    type Connection = u64;
    type Error = Infallible;
    async fn create(&self) -> Result<u64, Infallible> {
        Ok(self.0.fetch_add(1, Ordering::Relaxed))
    }
    async fn validate(&self, _: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }
}

#[derive(Default)]
struct DeadpoolNoop(AtomicU64);

impl deadpool::managed::Manager for DeadpoolNoop {
    type Type = u64;
    type Error = Infallible;
    async fn create(&self) -> Result<u64, Infallible> {
        Ok(self.0.fetch_add(1, Ordering::Relaxed))
    }
    async fn recycle(
        &self,
        _: &mut u64,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Infallible> {
        Ok(())
    }
}

#[derive(Default)]
struct Bb8Noop(AtomicU64);

impl bb8::ManageConnection for Bb8Noop {
    type Connection = u64;
    type Error = Infallible;
    async fn connect(&self) -> Result<u64, Infallible> {
        Ok(self.0.fetch_add(1, Ordering::Relaxed))
    }
    async fn is_valid(&self, _: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }
    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

#[derive(Clone)]
enum Subject {
    Covet(covet_pool::Pool<CovetNoop>),
    Deadpool(deadpool::managed::Pool<DeadpoolNoop>),
    Bb8(bb8::Pool<Bb8Noop>),
}

const NAMES: [&str; 3] = ["covet", "deadpool", "bb8"];

/// Holds the connection for `hold` while letting other tasks run, like a
/// query waiting on the network (tokio timers are too coarse for 20 us).
async fn hold_for(hold: Duration) {
    if hold.is_zero() {
        return;
    }
    let start = Instant::now();
    while start.elapsed() < hold {
        tokio::task::yield_now().await;
    }
}

/// Latency is sampled on one cycle in this many: reading the clock twice
/// per cycle would cost more than some pools' whole cycle on this machine.
const SAMPLE_EVERY: u64 = 8;

/// What one cycle did.
enum Outcome {
    Cancelled,
    Done(Option<Duration>),
}

/// One acquire (cancelled after one scheduling round when `cancel`), hold
/// and release; the acquire latency when `timed`.
macro_rules! cycle {
    ($get:expr, $hold:expr, $cancel:expr, $timed:expr) => {{
        let t0 = $timed.then(Instant::now);
        let conn = if $cancel {
            tokio::select! {
                biased;
                r = $get => r.expect("acquire failed"),
                () = tokio::task::yield_now() => return Outcome::Cancelled,
            }
        } else {
            $get.await.expect("acquire failed")
        };
        let latency = t0.map(|t| t.elapsed());
        hold_for($hold).await;
        drop(conn);
        Outcome::Done(latency)
    }};
}

impl Subject {
    async fn build(kind: usize, m: u32) -> Subject {
        let subject = match kind {
            0 => Subject::Covet(
                covet_pool::Pool::builder(CovetNoop::default())
                    .max_size(m)
                    .acquire_timeout(TIMEOUT)
                    .build()
                    .expect("covet pool"),
            ),
            1 => Subject::Deadpool(
                deadpool::managed::Pool::builder(DeadpoolNoop::default())
                    .max_size(m as usize)
                    .wait_timeout(Some(TIMEOUT))
                    .runtime(deadpool::Runtime::Tokio1)
                    .build()
                    .expect("deadpool pool"),
            ),
            _ => Subject::Bb8(
                bb8::Pool::builder()
                    .max_size(m)
                    .min_idle(Some(m))
                    .connection_timeout(TIMEOUT)
                    .build(Bb8Noop::default())
                    .await
                    .expect("bb8 pool"),
            ),
        };
        assert!(subject.take_all_at_once(m).await, "pre-warm failed");
        subject
    }

    async fn cycle(&self, hold: Duration, cancel: bool, timed: bool) -> Outcome {
        match self {
            Subject::Covet(p) => cycle!(p.get(), hold, cancel, timed),
            Subject::Deadpool(p) => cycle!(p.get(), hold, cancel, timed),
            Subject::Bb8(p) => cycle!(p.get(), hold, cancel, timed),
        }
    }

    /// Takes `m` connections and holds them all at once (within 2 s).
    async fn take_all_at_once(&self, m: u32) -> bool {
        let deadline = Duration::from_secs(2);
        macro_rules! take {
            ($p:expr) => {{
                let mut held = Vec::new();
                for _ in 0..m {
                    match tokio::time::timeout(deadline, $p.get()).await {
                        Ok(Ok(c)) => held.push(c),
                        _ => return false,
                    }
                }
                held.len() == m as usize
            }};
        }
        match self {
            Subject::Covet(p) => take!(p),
            Subject::Deadpool(p) => take!(p),
            Subject::Bb8(p) => take!(p),
        }
    }
}

struct Cell {
    m: u32,
    n: u32,
    hold: Duration,
    cancel_pct: u32,
}

struct Run {
    ops_per_sec: f64,
    p99: Duration,
    /// Share of tasks that completed at least one cycle while measured.
    served: f64,
}

async fn run_once(subject: &Subject, cell: &Cell, measure: Duration) -> Run {
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let tasks: Vec<_> = (0..cell.n)
        .map(|t| {
            let (subject, phase) = (subject.clone(), phase.clone());
            let (hold, pct) = (cell.hold, cell.cancel_pct);
            tokio::spawn(async move {
                let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2)
                    .expect("histogram bounds");
                let mut cycles = 0u64;
                let mut n = u64::from(t);
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(t).wrapping_mul(0xA24B_AED4);
                loop {
                    let p = phase.load(Ordering::Relaxed);
                    if p == STOP {
                        break;
                    }
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let cancel = pct > 0 && (rng % 100) < u64::from(pct);
                    n += 1;
                    let timed = p == MEASURE && n % SAMPLE_EVERY == 0;
                    let outcome = subject.cycle(hold, cancel, timed).await;
                    if let (MEASURE, Outcome::Done(latency)) = (p, outcome) {
                        cycles += 1;
                        if let Some(l) = latency {
                            hist.saturating_record(l.as_nanos() as u64);
                        }
                    }
                    // Fair scheduling among tasks without adding a yield per
                    // cycle: yields once the task's tokio budget is spent.
                    tokio::task::consume_budget().await;
                }
                (cycles, hist)
            })
        })
        .collect();
    tokio::time::sleep(measure / 5).await;
    phase.store(MEASURE, Ordering::Relaxed);
    let t0 = Instant::now();
    tokio::time::sleep(measure).await;
    phase.store(STOP, Ordering::Relaxed);
    let elapsed = t0.elapsed();
    let mut total = 0u64;
    let mut served = 0u32;
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).expect("bounds");
    for t in tasks {
        let (c, h) = t.await.expect("bench task panicked");
        total += c;
        served += u32::from(c > 0);
        hist.add(h).expect("same bounds");
    }
    Run {
        ops_per_sec: total as f64 / elapsed.as_secs_f64(),
        p99: Duration::from_nanos(hist.value_at_quantile(0.99)),
        served: f64::from(served) / f64::from(cell.n),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the three pools interleaved; returns per-pool medians.
async fn run_cell(
    cell: &Cell,
    reps: usize,
    measure: Duration,
    notes: &mut Vec<String>,
) -> [(f64, Duration); 3] {
    let mut subjects = Vec::new();
    for kind in 0..3 {
        subjects.push(Subject::build(kind, cell.m).await);
    }
    let mut ops: [Vec<f64>; 3] = Default::default();
    let mut p99: [Vec<f64>; 3] = Default::default();
    let mut served: [Vec<f64>; 3] = Default::default();
    for rep in 0..reps {
        for i in 0..3 {
            let kind = (rep + i) % 3;
            let r = run_once(&subjects[kind], cell, measure).await;
            ops[kind].push(r.ops_per_sec);
            p99[kind].push(r.p99.as_secs_f64());
            served[kind].push(r.served);
        }
    }
    if cell.n >= 8 * cell.m {
        let pct = |k: usize| median(served[k].clone()) * 100.0;
        notes.push(format!(
            "fairness M={} N={} hold={:?}: tasks served at least once per run: covet {:.0}%, deadpool {:.0}%, bb8 {:.0}%",
            cell.m,
            cell.n,
            cell.hold,
            pct(0),
            pct(1),
            pct(2)
        ));
    }
    if cell.cancel_pct > 0 {
        for (kind, s) in subjects.iter().enumerate() {
            let ok = s.take_all_at_once(cell.m).await;
            notes.push(format!(
                "churn check: {} took all {} connections at once after the cancellations: {}",
                NAMES[kind],
                cell.m,
                if ok { "ok" } else { "FAILED" }
            ));
        }
    }
    let mut out = [(0.0, Duration::ZERO); 3];
    for kind in 0..3 {
        out[kind] = (
            median(ops[kind].clone()),
            Duration::from_secs_f64(median(p99[kind].clone())),
        );
    }
    out
}

fn fmt_ops(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else {
        format!("{:.0}k", x / 1e3)
    }
}

fn fmt_lat(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.1}ms", us / 1000.0)
    } else {
        format!("{us:.1}us")
    }
}

fn main() {
    let long = std::env::args().any(|a| a == "--long")
        || std::env::var_os("COVET_BENCH_LONG").is_some_and(|v| v == "1");
    let (reps, measure) = if long {
        (9, Duration::from_millis(500))
    } else {
        (5, Duration::from_millis(150))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "covet-pool vs deadpool vs bb8: no-op manager, 2-worker tokio runtime, \
         {reps} interleaved repetitions of {measure:?} per pool per cell, medians"
    );
    println!();
    println!(
        "| M | N | hold | covet ops/s | deadpool ops/s | bb8 ops/s | covet/deadpool | covet/bb8 | p99 covet | p99 deadpool | p99 bb8 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    rt.block_on(async {
        let mut cells = Vec::new();
        for m in [4u32, 16] {
            for mult in [1u32, 2, 8, 64] {
                for hold in [Duration::ZERO, Duration::from_micros(20)] {
                    cells.push(Cell {
                        m,
                        n: m * mult,
                        hold,
                        cancel_pct: 0,
                    });
                }
            }
        }
        cells.push(Cell {
            m: 16,
            n: 128,
            hold: Duration::ZERO,
            cancel_pct: 25,
        });
        // COVET_BENCH_CELLS=4x256x0,16x128x20 runs only those M x N x hold(us) cells.
        if let Ok(only) = std::env::var("COVET_BENCH_CELLS") {
            let keep: Vec<String> = only.split(',').map(str::to_owned).collect();
            cells.retain(|c| keep.contains(&format!("{}x{}x{}", c.m, c.n, c.hold.as_micros())));
        }
        let mut notes = Vec::new();
        for cell in &cells {
            let r = run_cell(cell, reps, measure, &mut notes).await;
            let hold = if cell.hold.is_zero() {
                "0".to_owned()
            } else {
                format!("{}us", cell.hold.as_micros())
            };
            let hold = if cell.cancel_pct > 0 {
                format!("{hold}, {}% cancelled", cell.cancel_pct)
            } else {
                hold
            };
            println!(
                "| {} | {} | {} | {} | {} | {} | {:.2}x | {:.2}x | {} | {} | {} |",
                cell.m,
                cell.n,
                hold,
                fmt_ops(r[0].0),
                fmt_ops(r[1].0),
                fmt_ops(r[2].0),
                r[0].0 / r[1].0,
                r[0].0 / r[2].0,
                fmt_lat(r[0].1),
                fmt_lat(r[1].1),
                fmt_lat(r[2].1),
            );
        }
        println!();
        for note in notes {
            println!("{note}");
        }
    });
}
