//! `cargo xtask bench <name>`: the side-by-side benchmarks in covet-benches.

use crate::util::{Result, cargo, run as sh};

const BENCHES: &[&str] = &[
    "pool",
    "adapters",
    "layers",
    "callgrind",
    "backup",
    "loadtest",
];

/// `cargo xtask bench <name> [args]`: a comparison benchmark from
/// covet-benches, run in release mode; extra args go to the benchmark.
pub(crate) fn run(args: &[String]) -> Result {
    let Some(name) = args.first() else {
        return Err(format!("bench needs a name: one of {}", BENCHES.join(", ")));
    };
    if !BENCHES.contains(&name.as_str()) {
        return Err(format!(
            "unknown bench `{name}`: expected one of {}",
            BENCHES.join(", ")
        ));
    }
    let mut c = cargo();
    c.args(["bench", "-p", "covet-benches", "--bench", name, "--"])
        .args(&args[1..]);
    sh(c)
}
