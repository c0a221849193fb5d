//! `covet`: Covet's command-line tool.
//!
//! Exit codes (also in `covet --help` and the README):
//! 0 success; 1 the command failed (a database error, a failed setup, a
//! report that could not be written); 2 bad usage (arguments, URL, scenario
//! file, unknown statement name, SLO syntax); 3 the database could not be
//! reached (refused, unreachable, wrong password, timed out); 4 a
//! `--slo` objective was missed; 5 a load test's error rate was above
//! `--max-error-rate`; 6 `loadtest compare` found a threshold crossed;
//! 130 interrupted by Ctrl-C or SIGTERM. A closed
//! stdout (`covet ... | head`) ends a command quietly with 0.
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
    quiet_on_closed_stdout();
    match runtime.block_on(cli.command.run()) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of stdout went away (`covet ... | head`): a quiet end.
        Err(f) if cmd::out::is_closed(&f) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("covet: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Commands write through `cmd::out`, which ends a command quietly when
/// stdout is a closed pipe. A `println!` left anywhere else panics there
/// instead (exit code 101 and a panic message): this hook turns exactly
/// that panic into the same quiet exit with code 0.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("os error 32") {
            std::process::exit(0);
        }
        default(info);
    }));
}
