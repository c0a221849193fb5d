//! `covet loadtest`: the open-loop load test.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use covet::Adapter;
use covet_loadtest::{
    Arrival, FindMaxConfig, FindMaxStep, Limit, MaxErrorRate, Mode, Overload, Progress, RunConfig,
    RunFigures, Scenario, SetupOptions, Slo, Stage, Stop, Thresholds, Workload, ensure_dataset,
    point_select, seed_mix,
};

use super::{DbArgs, DbTarget, Failure, connect_target, exit};

/// Arguments of `covet loadtest`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "\
With no --db (and no $COVET_DATABASE_URL) the test runs against the embedded
SQLite database ./covet.db, created and seeded on first use: 10 s at 200
statements/s after a 2 s warm-up. Latency is measured from each statement's
intended start time (open loop), so a stalled server shows as latency.

Latency figures and latency --slo objectives are those of successful
statements; the error rate is printed beside each. A run whose error rate is
above --max-error-rate (default 1%) exits 5, with or without --slo.

Arguments are all checked before connecting. Ctrl-C or SIGTERM stops the
run, waits up to 2 s for statements in flight, writes the report of what was
measured (stdout and any --csv/--json/--html), marked interrupted, and exits
130; a second signal exits at once.

--stages \"30s:1000,60s:5000,30s:0\" ramps the arrival rate as k6's
ramping-arrival-rate does: after the warm-up at --rate (default 0 with
stages), each stage moves the rate linearly to its target over its duration.

--find-max --slo \"p95<10ms\" runs short steps (--step-duration, after
--warmup) from --rate (default 500/s), doubling until the objective is
missed, then bisecting to within --resolution; it prints each step and the
highest rate that met it, and exits 4 when none did.

`covet loadtest compare base.json new.json --max-p95-increase 10%` compares
two --json reports and exits 6 when a threshold is crossed.",
    args_conflicts_with_subcommands = true
)]
pub(crate) struct Args {
    /// `compare`: two reports side by side.
    #[command(subcommand)]
    command: Option<Subcommand>,
    #[command(flatten)]
    db: DbArgs,
    /// Built-in workload: `seed` (80% read_users, 15% write_user, 5%
    /// complex_join) or `point_select`.
    #[arg(long, short = 'w', default_value = "seed", conflicts_with = "scenario")]
    workload: String,
    /// A TOML scenario file instead of a built-in workload.
    #[arg(long, short = 's')]
    scenario: Option<PathBuf>,
    /// Run only these statements of the workload (comma separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Target statements per second [default: 200]. With --stages, the
    /// warm-up's rate and the one the first stage ramps from [default: 0];
    /// with --find-max, the first step's [default: 500].
    #[arg(long, short = 'r')]
    rate: Option<f64>,
    /// Ramping arrival rate: comma-separated `DURATION:RATE` stages, each
    /// ramping linearly from the previous target (k6's
    /// ramping-arrival-rate). The measured duration is their sum.
    #[arg(long, value_name = "STAGES", conflicts_with_all = ["duration", "closed_loop", "find_max"])]
    stages: Option<String>,
    /// Find the highest open-loop rate that meets every --slo: short steps
    /// doubling from --rate, then a bisection.
    #[arg(long, requires = "slo", conflicts_with_all = ["closed_loop", "duration"])]
    find_max: bool,
    /// --find-max: measured time of each step (after --warmup).
    #[arg(long, default_value = "10s", value_parser = duration, value_name = "DURATION")]
    step_duration: Duration,
    /// --find-max: the highest rate to try.
    #[arg(long, default_value_t = 1_000_000.0, value_name = "RATE")]
    max_rate: f64,
    /// --find-max: stop bisecting once the last rate that met the
    /// objectives is within this of the first that missed them.
    #[arg(long, default_value = "5%", value_parser = percent, value_name = "PCT")]
    resolution: f64,
    /// Measured duration (`10s`, `1m`, `500ms`).
    #[arg(long, short = 'd', default_value = "10s", value_parser = duration)]
    duration: Duration,
    /// Warm-up before measuring, at the same rate, excluded from figures.
    #[arg(long, default_value = "2s", value_parser = duration)]
    warmup: Duration,
    /// Arrival process: `constant` spacing or `poisson`.
    #[arg(long, default_value = "constant", value_parser = ["constant", "poisson"])]
    arrival: String,
    /// Most statements in flight at once.
    #[arg(long, default_value_t = 1024)]
    max_in_flight: usize,
    /// At the cap: start the statement `late` (counted, latency from its
    /// intended time) or `drop` it (counted).
    #[arg(long, default_value = "late", value_parser = ["late", "drop"])]
    on_overload: String,
    /// Closed loop with N workers instead of open loop (for comparison only:
    /// it hides stalls, see the README).
    #[arg(long, value_name = "N")]
    closed_loop: Option<usize>,
    /// Seed of the statement mix and parameters.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Scale factor of the data set (1 = 10,000 users, ~100,000 posts).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Skip creating and seeding the standard data set.
    #[arg(long)]
    no_setup: bool,
    /// Drop and rebuild the data set (and same-named tables) first.
    #[arg(long)]
    recreate: bool,
    /// Objective such as `p95<10ms`, `p99.9<=250ms`, `errors<1%`;
    /// repeatable. Latency objectives are judged over successful
    /// statements (not met when there is none). A missed one makes the
    /// exit code 4.
    #[arg(long)]
    slo: Vec<String>,
    /// Most errors allowed, as a percentage of completed statements, before
    /// the run fails with exit code 5 (`off` to never fail on errors).
    #[arg(long, default_value = "1%", value_parser = max_error_rate, value_name = "PCT|off")]
    max_error_rate: MaxErrorRate,
    /// Consecutive outage errors (refused, timed out, pool exhausted) that
    /// open the circuit breaker.
    #[arg(long, default_value_t = 5, value_name = "N")]
    breaker_failures: u32,
    /// How long the circuit breaker stays open before it probes again; a
    /// short outage costs about this long (the library default, 60 s, would
    /// refuse the rest of most runs).
    #[arg(long, default_value = "1s", value_parser = duration, value_name = "DURATION")]
    breaker_open: Duration,
    /// Write the per-statement CSV (locust's stats columns) here.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Write the full report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Run against the adapter directly instead of through the retry and
    /// circuit-breaker layers.
    #[arg(long)]
    no_layers: bool,
    /// Statements slower than this (service time) count as slow in the
    /// slow-query log layer.
    #[arg(long, default_value = "100ms", value_parser = duration)]
    slow: Duration,
    /// Progress output: `auto` (a live line on a terminal, plain lines
    /// otherwise), `line`, `plain` or `none`.
    #[arg(long, default_value = "auto", value_parser = ["auto", "line", "plain", "none"])]
    progress: String,
}

/// The subcommands of `covet loadtest`.
#[derive(Debug, clap::Subcommand)]
enum Subcommand {
    /// Compare two --json reports: per statement and overall, the change
    /// in rate, p50, p95, p99 and error rate; exits 6 when a --max-*
    /// threshold is crossed.
    Compare(CompareArgs),
}

/// Arguments of `covet loadtest compare`.
#[derive(Debug, clap::Args)]
struct CompareArgs {
    /// The reference report (`covet loadtest --json`).
    base: PathBuf,
    /// The report to judge against it.
    new: PathBuf,
    /// Most the p50 latency may rise: `10%` of the base or `2ms`.
    #[arg(long, value_parser = limit, value_name = "LIMIT")]
    max_p50_increase: Option<Limit>,
    /// Most the p95 latency may rise: `10%` of the base or `2ms`.
    #[arg(long, value_parser = limit, value_name = "LIMIT")]
    max_p95_increase: Option<Limit>,
    /// Most the p99 latency may rise: `10%` of the base or `2ms`.
    #[arg(long, value_parser = limit, value_name = "LIMIT")]
    max_p99_increase: Option<Limit>,
    /// Most the completed rate may fall: `5%` of the base or `100/s`.
    #[arg(long, value_parser = limit, value_name = "LIMIT")]
    max_rate_decrease: Option<Limit>,
    /// Most the error rate (errors as a % of completed statements) may
    /// rise, in percentage points: `0.5%` allows 0.1% -> 0.6%.
    #[arg(long, value_parser = percent_points, value_name = "PCT")]
    max_error_rate_increase: Option<f64>,
    /// Write the comparison as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn limit(s: &str) -> Result<Limit, String> {
    s.parse()
        .map_err(|e: covet_loadtest::LoadtestError| e.to_string())
}

/// `5%` as the fraction 0.05.
fn percent(s: &str) -> Result<f64, String> {
    percent_points(s).map(|p| p / 100.0)
}

/// `0.5%` (or `0.5`) as 0.5.
fn percent_points(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v: f64 = t
        .strip_suffix('%')
        .unwrap_or(t)
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage such as 5%"))?;
    if v.is_finite() && (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("`{s}` must be between 0% and 100%"))
    }
}

/// Runs `covet loadtest compare`.
fn compare(args: &CompareArgs) -> Result<(), Failure> {
    let base = RunFigures::from_file(&args.base)?;
    let new = RunFigures::from_file(&args.new)?;
    let thresholds = Thresholds {
        p50_increase: args.max_p50_increase,
        p95_increase: args.max_p95_increase,
        p99_increase: args.max_p99_increase,
        rate_decrease: args.max_rate_decrease,
        error_rate_increase_pp: args.max_error_rate_increase,
    };
    let c = covet_loadtest::compare(&base, &new, &thresholds)?;
    println!("{}", c.to_text());
    if let Some(p) = &args.json {
        write_file(p, "comparison JSON", &c.to_json())?;
    }
    if c.passed() {
        Ok(())
    } else {
        Err(Failure {
            code: exit::REGRESSION,
            message: format!(
                "regression: {}",
                c.breaches
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        })
    }
}

fn max_error_rate(s: &str) -> Result<MaxErrorRate, String> {
    s.parse()
        .map_err(|e: covet_loadtest::LoadtestError| e.to_string())
}

fn duration(s: &str) -> Result<Duration, String> {
    covet::parse_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration (write e.g. 500ms, 10s, 2m)"))
}

fn progress_fn(mode: &str) -> Option<covet_loadtest::ProgressFn> {
    let live = match mode {
        "none" => return None,
        "line" => true,
        "plain" => false,
        _ => std::io::stderr().is_terminal(),
    };
    Some(Arc::new(move |p: &Progress| {
        let line = format!(
            "{:>4.0}s {} rate {:>7.0}/s (target {:.0}) p95 {:>8.2} ms  errors {}  late {}  dropped {}  in flight {}",
            p.elapsed.as_secs_f64(),
            if p.warming_up { "warm-up " } else { "measured" },
            p.rate,
            p.target_rate,
            p.p95.as_secs_f64() * 1e3,
            p.errors,
            p.late,
            p.dropped,
            p.in_flight
        );
        let mut err = std::io::stderr().lock();
        if live {
            let _ = write!(err, "\r{line}\x1b[K");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }))
}

fn write_file(path: &PathBuf, what: &str, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text).map_err(|e| {
        Failure::failed(format!(
            "writing the {what} report to {}: {e}",
            path.display()
        ))
    })?;
    eprintln!("wrote {what} report: {}", path.display());
    Ok(())
}

/// Runs `covet loadtest`.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    if let Some(Subcommand::Compare(c)) = &args.command {
        return compare(c);
    }
    // Everything that can be checked without a database is checked first,
    // so a typo costs no connection and no setup.
    let stages = match &args.stages {
        Some(s) => Stage::parse_list(s)?,
        None => Vec::new(),
    };
    let rate = args.rate.unwrap_or(if !stages.is_empty() {
        0.0
    } else if args.find_max {
        500.0
    } else {
        200.0
    });
    let slos: Vec<Slo> = args
        .slo
        .iter()
        .map(|s| s.parse::<Slo>())
        .collect::<Result<_, _>>()?;
    let url = args.db.resolve_target()?;
    let (specs, name, setup) = match &args.scenario {
        Some(path) => {
            let s = Scenario::from_file(path, args.scale)?;
            (s.statements, s.name, s.setup && !args.no_setup)
        }
        None => match args.workload.as_str() {
            "seed" => (seed_mix(args.scale), "seed mix".to_string(), !args.no_setup),
            "point_select" => (
                point_select(args.scale),
                "point_select".to_string(),
                !args.no_setup,
            ),
            other => {
                return Err(Failure::usage(format!(
                    "unknown workload `{other}`: expected `seed` or `point_select`, or pass --scenario FILE"
                )));
            }
        },
    };
    // Validate the workload against a dialect-independent binding now; it
    // is rebuilt for the real dialect after connecting.
    let mut probe = Workload::new(&name, specs.clone(), covet::Dialect::POSTGRES, args.seed)?;
    if !args.only.is_empty() {
        probe.retain(&args.only)?;
    }
    let cfg = RunConfig {
        rate,
        duration: args.duration,
        stages,
        // Measured statements over the slow-query log's threshold, counted
        // by the runner so warm-up and drain stay out of the figure.
        slow_threshold: (!args.no_layers).then_some(args.slow),
        warmup: args.warmup,
        arrival: if args.arrival == "poisson" {
            Arrival::Poisson
        } else {
            Arrival::Constant
        },
        max_in_flight: args.max_in_flight,
        overload: if args.on_overload == "drop" {
            Overload::Drop
        } else {
            Overload::Late
        },
        seed: args.seed,
        mode: match args.closed_loop {
            Some(n) => Mode::ClosedLoop { concurrency: n },
            None => Mode::OpenLoop,
        },
        progress: progress_fn(&args.progress),
        stop: Some(Stop::default()),
        ..RunConfig::default()
    };
    cfg.validate()?;
    let find_max = args.find_max.then(|| FindMaxConfig {
        start_rate: rate,
        max_rate: args.max_rate,
        step_duration: args.step_duration,
        step_warmup: args.warmup,
        resolution: args.resolution,
        slos: slos.clone(),
        max_error_rate: args.max_error_rate,
        run: RunConfig {
            progress: None,
            sample_memory: false,
            ..cfg.clone()
        },
        on_step: Some(Arc::new(|s: &FindMaxStep| {
            eprintln!(
                "step {:>2} ({}) {:>8.0}/s: done {:>8.1}/s, p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms, errors {}: {}",
                s.step,
                s.phase,
                s.rate,
                s.achieved,
                s.p50_ms,
                s.p95_ms,
                s.p99_ms,
                s.errors,
                if s.passed { "met" } else { "MISSED" }
            );
        })),
        ..FindMaxConfig::default()
    });
    if let Some(f) = &find_max {
        f.validate()?;
    }
    if setup {
        SetupOptions {
            scale: args.scale,
            ..SetupOptions::default()
        }
        .validate()?;
    }
    let breaker = layers::BreakerSettings {
        failures: args.breaker_failures,
        open_for: args.breaker_open,
    };
    if breaker.failures == 0 {
        return Err(Failure::usage("--breaker-failures must be at least 1"));
    }
    if breaker.open_for.is_zero() {
        return Err(Failure::usage("--breaker-open must be above zero"));
    }
    breaker
        .validate()
        .map_err(|e| Failure::usage(format!("circuit breaker: {e}")))?;

    let (adapter, router) = connect_target(&url).await?;
    eprintln!("covet loadtest: {} ({})", url, adapter.engine());
    if setup {
        let say: covet_loadtest::SetupProgressFn = Arc::new(|m: &str| eprintln!("setup: {m}"));
        let outcome = ensure_dataset(
            &*adapter,
            &SetupOptions {
                scale: args.scale,
                recreate: args.recreate,
                progress: Some(say),
            },
        )
        .await
        .map_err(|e| Failure::from(e).context("setup"))?;
        eprintln!("setup: {outcome}");
    }
    let dialect = adapter.dialect();
    let make_workload = {
        let (name, specs, only, seed) = (name.clone(), specs.clone(), args.only.clone(), args.seed);
        move || {
            let mut w = Workload::new(&name, specs.clone(), dialect, seed)?;
            if !only.is_empty() {
                w.retain(&only)?;
            }
            Ok(w)
        }
    };
    let workload = make_workload()?;
    let stack = if args.no_layers {
        layers::Stack::bare(Arc::clone(&adapter))
    } else {
        layers::Stack::resilient(Arc::clone(&adapter), args.slow, breaker)?
    };
    let runner_adapter: Arc<dyn Adapter> = stack.adapter();
    let routed_at_start = Arc::new(routed_snapshot::Snapshot::default());
    let cfg = RunConfig {
        on_measure_start: Some({
            let layers = stack.measure_start_hook();
            let (router, at_start) = (router.clone(), Arc::clone(&routed_at_start));
            Arc::new(move || {
                layers();
                if let Some(r) = &router {
                    at_start.set(routed(r));
                }
            })
        }),
        ..cfg
    };
    if let Some(fm) = find_max {
        let scale = setup.then_some(args.scale);
        return run_find_max(
            &args,
            &url,
            scale,
            fm,
            runner_adapter,
            make_workload,
            &adapter,
        )
        .await;
    }
    eprintln!(
        "running {} {} for {:.0} s (+{:.0} s warm-up){}",
        workload.name(),
        match &args.stages {
            Some(st) => format!("in stages {st} from {:.0}/s", cfg.rate),
            None => format!("at {:.0}/s", cfg.rate),
        },
        cfg.measured_duration().as_secs_f64(),
        cfg.warmup.as_secs_f64(),
        if cfg.progress.is_some() {
            ""
        } else {
            "; progress off"
        }
    );
    let live = cfg.progress.is_some();
    // Installed only now: an interrupt during connecting or seeding keeps
    // its default meaning, and there is nothing measured to keep yet.
    let signal = interrupts::watch(cfg.stop.clone().unwrap_or_default());
    let mut report = covet_loadtest::run(runner_adapter, workload, cfg).await?;
    if live {
        eprintln!();
    }
    let interrupted = signal.received();
    if let Some(sig) = interrupted {
        report.meta.interrupted = Some(sig.name().to_string());
    }
    report.meta.database = url.to_string();
    report.meta.scale = setup.then_some(args.scale);
    report.layers = Some(stack.report(&report));
    if let Some(r) = &router {
        report.targets = target_reports(r, &routed_at_start.get());
    }
    report.slo = slos.iter().map(|s| s.check(&report)).collect();
    report.error_rate = Some(args.max_error_rate.check(&report));
    adapter.close().await;

    println!("{}", report.to_text());
    if let Some(p) = &args.csv {
        write_file(p, "CSV", &report.to_csv())?;
    }
    if let Some(p) = &args.json {
        write_file(p, "JSON", &report.to_json())?;
    }
    if let Some(p) = &args.html {
        write_file(p, "HTML", &report.to_html())?;
    }
    if let Some(sig) = interrupted {
        return Err(Failure {
            code: sig.exit_code(),
            message: format!(
                "interrupted by {} after {:.1} s of the {:.0} s planned; the report covers that part",
                sig.name(),
                report.meta.duration_s,
                report.meta.planned_duration_s
            ),
        });
    }
    if !report.error_rate_passed() {
        let e = report
            .error_rate
            .as_ref()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(Failure {
            code: exit::ERROR_RATE,
            message: format!("too many errors: {e} (set the bound with --max-error-rate)"),
        });
    }
    if !report.slo_passed() {
        let missed: Vec<String> = report
            .slo
            .iter()
            .filter(|s| !s.passed)
            .map(|s| format!("{} (actual {})", s.spec, s.actual))
            .collect();
        return Err(Failure {
            code: exit::SLO_MISSED,
            message: format!("SLO missed: {}", missed.join(", ")),
        });
    }
    Ok(())
}

/// `--find-max`: the search, its table and its verdict.
async fn run_find_max(
    args: &Args,
    url: &DbTarget,
    scale: Option<f64>,
    cfg: FindMaxConfig,
    runner: Arc<dyn Adapter>,
    make_workload: impl FnMut() -> covet_loadtest::Result<Workload>,
    backend: &Arc<dyn Adapter>,
) -> Result<(), Failure> {
    eprintln!(
        "finding the highest rate meeting {} from {:.0}/s: steps of {:.0} s after {:.0} s warm-up",
        cfg.slos
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        cfg.start_rate,
        cfg.step_duration.as_secs_f64(),
        cfg.step_warmup.as_secs_f64()
    );
    let stop = cfg.run.stop.clone().unwrap_or_default();
    let signal = interrupts::watch(stop);
    let mut found = covet_loadtest::find_max(runner, make_workload, cfg).await?;
    backend.close().await;
    if let Some(best) = &mut found.best {
        best.meta.database = url.to_string();
        best.meta.scale = scale;
        // No layers line: the layers' counters ran over every step, not
        // the best one alone (its slow statements stay in its statements).
        best.layers = None;
    }
    println!("{}", found.to_text());
    if let Some(p) = &args.json {
        write_file(p, "find-max JSON", &found.to_json())?;
    }
    if let Some(best) = &found.best {
        if let Some(p) = &args.csv {
            write_file(p, "CSV (best step)", &best.to_csv())?;
        }
        if let Some(p) = &args.html {
            write_file(p, "HTML (best step)", &best.to_html())?;
        }
    }
    if let Some(sig) = signal.received() {
        return Err(Failure {
            code: sig.exit_code(),
            message: format!(
                "interrupted by {}: the table covers the steps run",
                sig.name()
            ),
        });
    }
    if found.max_rate.is_none() {
        return Err(Failure {
            code: exit::SLO_MISSED,
            message: format!("no rate tried met {}", found.objectives.join(", ")),
        });
    }
    Ok(())
}

pub(crate) mod layers;

/// Each target's routed count now, in the router's order.
fn routed(router: &covet_router::Router) -> Vec<u64> {
    router.stats().iter().map(|t| t.routed).collect()
}

/// Each target's share of the run: what it was routed since `at_start`
/// (the measured period's start; empty when the run never got there, so
/// the counts then cover the whole run).
fn target_reports(
    router: &covet_router::Router,
    at_start: &[u64],
) -> Vec<covet_loadtest::TargetReport> {
    router
        .stats()
        .into_iter()
        .enumerate()
        .map(|(i, t)| covet_loadtest::TargetReport {
            role: match t.role {
                covet_router::Role::Primary => "primary",
                _ => "replica",
            }
            .to_string(),
            routed: t.routed - at_start.get(i).copied().unwrap_or(0).min(t.routed),
            name: t.name,
        })
        .collect()
}

/// The routed counts taken when the measured period starts (set from the
/// runner's hook, read after the run).
mod routed_snapshot {
    use std::sync::Mutex;

    #[derive(Default)]
    pub(super) struct Snapshot(Mutex<Vec<u64>>);

    impl Snapshot {
        pub(super) fn set(&self, v: Vec<u64>) {
            *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = v;
        }

        pub(super) fn get(&self) -> Vec<u64> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        }
    }
}

/// Ctrl-C and SIGTERM during a run: the first stops it (and the report is
/// still written), a second one exits at once.
mod interrupts {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU8, Ordering};

    use covet_loadtest::Stop;

    /// A signal that stopped the run.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Signal {
        /// Ctrl-C.
        Int,
        /// `kill`, a service manager, a container runtime.
        Term,
    }

    impl Signal {
        /// Its conventional name.
        pub(super) fn name(self) -> &'static str {
            match self {
                Signal::Int => "SIGINT",
                Signal::Term => "SIGTERM",
            }
        }

        /// The exit code: 130 for both, as `covet backup` does, so a
        /// script has one code to check for "interrupted".
        pub(super) fn exit_code(self) -> u8 {
            super::exit::INTERRUPTED
        }

        fn encode(self) -> u8 {
            match self {
                Signal::Int => 1,
                Signal::Term => 2,
            }
        }
    }

    /// Which signal arrived first, if any.
    pub(super) struct Watch(Arc<AtomicU8>);

    impl Watch {
        /// The first signal received.
        pub(super) fn received(&self) -> Option<Signal> {
            match self.0.load(Ordering::Acquire) {
                1 => Some(Signal::Int),
                2 => Some(Signal::Term),
                _ => None,
            }
        }
    }

    /// Starts listening: the first signal triggers `stop`. The handlers
    /// are registered before this returns, so no signal is missed.
    pub(super) fn watch(stop: Stop) -> Watch {
        let first = Arc::new(AtomicU8::new(0));
        let seen = Arc::clone(&first);
        let mut signals = Signals::new();
        tokio::spawn(async move {
            let mut stopped = false;
            while let Some(sig) = signals.next().await {
                if stopped {
                    // A second signal: the user does not want to wait for
                    // the drain or the report.
                    std::process::exit(i32::from(sig.exit_code()));
                }
                stopped = true;
                let _ = seen.compare_exchange(0, sig.encode(), Ordering::AcqRel, Ordering::Acquire);
                eprintln!(
                    "\ncovet loadtest: {} received: stopping and writing the report of what was measured (again to quit at once)",
                    sig.name()
                );
                stop.stop();
            }
        });
        Watch(first)
    }

    #[cfg(unix)]
    struct Signals {
        int: Option<tokio::signal::unix::Signal>,
        term: Option<tokio::signal::unix::Signal>,
    }

    #[cfg(unix)]
    impl Signals {
        fn new() -> Self {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }

        async fn next(&mut self) -> Option<Signal> {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
                match s {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                Some(()) = recv(&mut self.int) => Some(Signal::Int),
                Some(()) = recv(&mut self.term) => Some(Signal::Term),
                else => None,
            }
        }
    }

    #[cfg(not(unix))]
    struct Signals;

    #[cfg(not(unix))]
    impl Signals {
        fn new() -> Self {
            Signals
        }

        async fn next(&mut self) -> Option<Signal> {
            tokio::signal::ctrl_c().await.ok().map(|()| Signal::Int)
        }
    }
}

#[cfg(test)]
mod replica_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use covet::Adapter;
    use covet_loadtest::{RunConfig, SetupOptions, Workload, ensure_dataset, seed_mix};
    use covet_router::Router;

    /// The seed mix over a router whose primary and replica are two
    /// adapters on one SQLite file (SQLite has no replication; sharing the
    /// file lets the replica see the seeded rows): the reads go to the
    /// replica, the writes to the primary, and the report's table says so.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_seed_mix_reads_from_the_replica_and_the_report_counts_each_target() {
        let dir = tempfile::tempdir().unwrap();
        let url =
            covet::DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("lt.db").display()))
                .unwrap();
        let none = covet::PasswordSources::default();
        let open = || covet::connect_with(&url, &none);
        let router = Arc::new(
            Router::builder()
                .primary("primary.db", open().await.unwrap())
                .replica("replica.db", open().await.unwrap(), 1)
                .without_health_checks()
                .build()
                .unwrap(),
        );
        let adapter: Arc<dyn Adapter> = Arc::clone(&router) as Arc<dyn Adapter>;
        ensure_dataset(
            &*adapter,
            &SetupOptions {
                scale: 0.01,
                ..SetupOptions::default()
            },
        )
        .await
        .unwrap();
        let at_start = Arc::new(super::routed_snapshot::Snapshot::default());
        let cfg = RunConfig {
            rate: 200.0,
            duration: Duration::from_secs(2),
            warmup: Duration::from_millis(300),
            sample_memory: false,
            on_measure_start: Some({
                let (router, at_start) = (Arc::clone(&router), Arc::clone(&at_start));
                Arc::new(move || at_start.set(super::routed(&router)))
            }),
            ..RunConfig::default()
        };
        let workload = Workload::new("seed mix", seed_mix(0.01), adapter.dialect(), 7).unwrap();
        let mut report = covet_loadtest::run(Arc::clone(&adapter), workload, cfg)
            .await
            .unwrap();
        assert!(!at_start.get().is_empty(), "the hook ran");
        report.targets = super::target_reports(&router, &at_start.get());
        let count = |name: &str| {
            report
                .statements
                .iter()
                .find(|s| s.name == name)
                .map_or(0, |s| s.count)
        };
        let reads = count("read_users") + count("complex_join");
        let writes = count("write_user");
        let [primary, replica] = &report.targets[..] else {
            panic!("{:?}", report.targets)
        };
        assert_eq!(
            (primary.name.as_str(), primary.role.as_str()),
            ("primary.db", "primary")
        );
        assert_eq!(
            (replica.name.as_str(), replica.role.as_str()),
            ("replica.db", "replica")
        );
        assert!(reads > 200 && writes > 20, "{reads} reads, {writes} writes");
        // The routed counts run to the end of the drain, the statement
        // counts cover statements due in the measured period: near, not equal.
        assert!(
            replica.routed.abs_diff(reads) <= reads / 20 + 5,
            "{replica:?} vs {reads} reads"
        );
        assert!(
            primary.routed.abs_diff(writes) <= writes / 10 + 5,
            "{primary:?} vs {writes} writes"
        );
        let text = report.to_text();
        assert!(text.contains("target      role         routed"), "{text}");
        assert!(
            text.contains(&format!("replica.db  replica  {:>10}", replica.routed)),
            "{text}"
        );
        adapter.close().await;
    }
}
