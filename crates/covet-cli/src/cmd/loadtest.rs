//! `covet loadtest`: the open-loop load test.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use covet::Adapter;
use covet_loadtest::{
    Arrival, Mode, Overload, Progress, RunConfig, Scenario, SetupOptions, Slo, Workload,
    ensure_dataset, point_select, seed_mix,
};

use super::{DbArgs, Failure, connect, exit, parse_url};

/// Arguments of `covet loadtest`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
With no --db (and no $COVET_DATABASE_URL) the test runs against the embedded
SQLite database ./covet.db, created and seeded on first use: 10 s at 200
statements/s after a 2 s warm-up. Latency is measured from each statement's
intended start time (open loop), so a stalled server shows as latency.")]
pub struct Args {
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
    /// Target statements per second.
    #[arg(long, short = 'r', default_value_t = 200.0)]
    rate: f64,
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
    /// repeatable. A missed one makes the exit code 4.
    #[arg(long)]
    slo: Vec<String>,
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
pub async fn run(args: Args) -> Result<(), Failure> {
    // Everything that can be checked without a database is checked first,
    // so a typo costs no connection and no setup.
    let slos: Vec<Slo> = args
        .slo
        .iter()
        .map(|s| s.parse::<Slo>())
        .collect::<Result<_, _>>()?;
    let url = parse_url(&args.db.db)?;
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
        rate: args.rate,
        duration: args.duration,
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
        ..RunConfig::default()
    };

    let (adapter, _) = connect(&url).await?;
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
    let mut workload = Workload::new(&name, specs, adapter.dialect(), args.seed)?;
    if !args.only.is_empty() {
        workload.retain(&args.only)?;
    }
    let stack = if args.no_layers {
        layers::Stack::bare(Arc::clone(&adapter))
    } else {
        layers::Stack::resilient(Arc::clone(&adapter), args.slow)?
    };
    let runner_adapter: Arc<dyn Adapter> = stack.adapter();
    eprintln!(
        "running {} at {:.0}/s for {:.0} s (+{:.0} s warm-up){}",
        workload.name(),
        cfg.rate,
        cfg.duration.as_secs_f64(),
        cfg.warmup.as_secs_f64(),
        if cfg.progress.is_some() {
            ""
        } else {
            "; progress off"
        }
    );
    let live = cfg.progress.is_some();
    let mut report = covet_loadtest::run(runner_adapter, workload, cfg).await?;
    if live {
        eprintln!();
    }
    report.meta.database = url.to_string();
    report.meta.scale = setup.then_some(args.scale);
    report.layers = Some(stack.report());
    report.slo = slos.iter().map(|s| s.check(&report)).collect();
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

pub mod layers;
