//! `cargo xtask ci` and `cargo xtask test`: everything CI checks.

use crate::util::{Result, cargo, run as sh};

/// Everything CI checks, in the order that fails fastest.
pub(crate) fn run(_args: &[String]) -> Result {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    sh(fmt)?;

    crate::tidy::run(&[])?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]);
    sh(clippy)?;

    for var in ["COVET_PG_URL", "COVET_MYSQL_URL"] {
        match std::env::var(var) {
            Ok(_) => eprintln!("{var} is set: database tests run against it"),
            Err(_) => eprintln!("{var} is not set: tests that need it skip"),
        }
    }
    test(&[])?;

    // No separate build of the benches: clippy --all-targets above already
    // type-checks them, and linking them (competitor crates included) would
    // only add minutes to every CI run.

    crate::loom::run(&[])
}

/// Unit, integration and doc tests for the whole workspace.
pub(crate) fn test(args: &[String]) -> Result {
    let mut t = cargo();
    t.args(["test", "--workspace", "--locked"]).args(args);
    sh(t)
}
