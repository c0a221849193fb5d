//! Helpers shared by the commands: the project root, cargo, running a command.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

pub(crate) type Result<T = ()> = std::result::Result<T, String>;

/// xtask lives one level below the root; work from the root whatever the
/// caller's directory.
pub(crate) fn cd_project_root() -> Result {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .ok_or("cannot find the project directory")?;
    let root = if dir.ends_with("xtask") {
        dir.parent().map(PathBuf::from).unwrap_or(dir)
    } else {
        dir
    };
    std::env::set_current_dir(&root).map_err(|e| format!("cd {}: {e}", root.display()))
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs a command, echoing it first, and fails with its exit status.
pub(crate) fn run(mut cmd: Command) -> Result {
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("\n$ {shown}");
    let start = Instant::now();
    let status = cmd.status().map_err(|e| format!("{shown}: {e}"))?;
    eprintln!("  ({:.1} s)", start.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed: {status}"))
    }
}
