//! `cargo xtask bench <name>`: the side-by-side benchmarks in covet-benches.

use std::process::Command;

use crate::util::{Result, cargo, run as sh};

const BENCHES: &[&str] = &[
    "pool",
    "adapters",
    "layers",
    "callgrind",
    "backup",
    "loadtest",
    "orm",
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
    if name == "orm" {
        ensure_libpq()?;
    }
    let mut c = cargo();
    c.args(["bench", "-p", "covet-benches", "--bench", name, "--"])
        .args(&args[1..]);
    sh(c)
}

/// The orm bench links Diesel's sync PostgreSQL backend against libpq,
/// which `cargo clippy` does not need but the linker does: install the
/// development package with apt when it is missing.
fn ensure_libpq() -> Result {
    let present = Command::new("pg_config")
        .arg("--libdir")
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask: libpq (pg_config) not found; installing libpq-dev with apt-get");
    let mut update = Command::new("apt-get");
    update.arg("update");
    let mut install = Command::new("apt-get");
    install.args(["install", "-y", "--no-install-recommends", "libpq-dev"]);
    sh(update).and_then(|()| sh(install)).map_err(|e| {
        format!("the orm bench needs libpq-dev (Diesel's sync PostgreSQL backend): {e}")
    })
}
