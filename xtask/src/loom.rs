//! `cargo xtask loom`: covet-pool's loom models, release, `--cfg loom`.

use crate::util::{Result, cargo, run as sh};

/// Model-checks covet-pool's state machine. A separate target directory keeps
/// the `--cfg loom` build from invalidating the normal one.
pub(crate) fn run(args: &[String]) -> Result {
    let mut t = cargo();
    t.args([
        "test",
        "-p",
        "covet-pool",
        "--lib",
        "--release",
        "--locked",
        "loom",
    ])
    .args(args)
    .env("RUSTFLAGS", "--cfg loom")
    .env(
        "LOOM_MAX_PREEMPTIONS",
        std::env::var("LOOM_MAX_PREEMPTIONS").unwrap_or_else(|_| "3".into()),
    );
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    t.env("CARGO_TARGET_DIR", format!("{target}/loom"));
    sh(t)
}
