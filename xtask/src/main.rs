//! `cargo xtask <command>`: the project's tasks, in Rust, so CI runs nothing
//! a developer cannot run locally.
#![forbid(unsafe_code)]

mod bench;
mod ci;
mod loadtest;
mod loom;
mod services;
mod tidy;
mod util;

use std::process::ExitCode;

const HELP: &str = "\
usage: cargo xtask <command> [args]

commands:
  ci                 fmt check, clippy -D warnings, all tests (database ones
                     included when COVET_PG_URL / COVET_MYSQL_URL are set),
                     loom models, doc tests (benches type-checked by clippy)
  test [args]        cargo test --workspace [args]
  loom               the covet-pool loom models (release, --cfg loom)
  bench <name>       run a comparison benchmark in covet-benches
                     (pool, adapters, layers, callgrind, backup,
                     loadtest)
  tidy               the invariants ARCHITECTURE.md states (dependency
                     direction, driver-free core and pool, module docs,
                     no ignored tests); also a test under cargo test
  services           whether PostgreSQL and MariaDB answer on their URLs
  loadtest           covet loadtest next to pgbench -R (PostgreSQL) and
                     sysbench --rate (MariaDB) on the seed mix at 1k/5k/10k
                     per second, closed loop, and each tool's highest rate
                     at p95 < 10 ms (--duration, --rates, --backends,
                     --connections, --parts, --step); quiet machine only
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprint!("{HELP}");
        return ExitCode::from(2);
    };
    if let Err(e) = util::cd_project_root() {
        eprintln!("xtask: {e}");
        return ExitCode::FAILURE;
    }
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "ci" => ci::run(rest),
        "test" => ci::test(rest),
        "loom" => loom::run(rest),
        "bench" => bench::run(rest),
        "services" => services::run(rest),
        "tidy" => tidy::run(rest),
        "loadtest" => loadtest::run(rest),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{HELP}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
