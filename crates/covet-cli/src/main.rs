//! `covet`: Covet's command-line tool.
//!
//! Exit codes (also in `covet --help` and the README):
//! 0 success; 1 the command failed (a database error, a failed setup, a
//! report that could not be written); 2 bad usage (arguments, URL, scenario
//! file, unknown statement name, SLO syntax); 3 the database could not be
//! reached (refused, unreachable, wrong password, timed out); 4 a
//! `--slo` objective was missed.
#![forbid(unsafe_code)]

mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cmd::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with exit code 0, and
            // usage errors to stderr with exit code 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { cmd::exit::USAGE } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("covet: cannot start the async runtime: {e}");
            return ExitCode::from(cmd::exit::FAILURE);
        }
    };
    match runtime.block_on(cli.command.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("covet: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
