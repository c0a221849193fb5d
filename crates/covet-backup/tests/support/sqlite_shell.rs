//! The sqlite3 shell as the SQLite fidelity tests' oracle.

use std::path::Path;
use std::process::Command;

use covet_core::DatabaseUrl;

/// Runs `sql` in the sqlite3 shell on `db`, fed on stdin (a script may
/// start with `--`, which as an argument would read as an option).
pub(crate) fn sqlite3(db: &Path, sql: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("sqlite3")
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("sqlite3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sqlite3 {}: {}",
        sql.lines().next().unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A `sqlite://` URL for a file.
pub(crate) fn url(p: &Path) -> DatabaseUrl {
    format!("sqlite://{}", p.display()).parse().unwrap()
}

/// Whether the sqlite3 shell is installed (skipping with a reason when
/// not, failing under COVET_REQUIRE_DB=1).
pub(crate) fn shell_present() -> bool {
    let ok = Command::new("sqlite3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
            "the sqlite3 shell is needed and COVET_REQUIRE_DB=1"
        );
        eprintln!("skipping: the sqlite3 shell is missing");
    }
    ok
}
