//! Running the built `covet` binary, and the database URLs tests may use.
#![allow(dead_code)]

use std::process::{Command, Output};

/// The `covet` binary with a clean environment for the URL default.
pub(crate) fn covet() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_covet"));
    c.env_remove("COVET_DATABASE_URL");
    c
}

/// Runs and returns (exit code, stdout, stderr).
pub(crate) fn run(c: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = c.output().expect("the covet binary runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// The server URL in `var`, or `None` with a printed reason. With
/// COVET_REQUIRE_DB=1 a missing URL fails the test instead.
pub(crate) fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("COVET_REQUIRE_DB").as_deref() != Ok("1"),
                "{var} is not set and COVET_REQUIRE_DB=1"
            );
            eprintln!("skipping: {var} is not set");
            None
        }
    }
}

/// A name no other test run uses.
pub(crate) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// Replaces the database part of a server URL.
pub(crate) fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// A database created for one test and dropped when this is dropped.
pub(crate) struct TempDb {
    admin: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl TempDb {
    pub(crate) fn create(admin: &str, prefix: &str) -> TempDb {
        let name = unique(prefix);
        let (code, out, err) =
            run(covet().args(["sql", "--db", admin, &format!("CREATE DATABASE {name}")]));
        assert_eq!(code, 0, "creating {name}: {out}{err}");
        TempDb {
            admin: admin.to_string(),
            url: with_database(admin, &name),
            name,
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = run(covet().args([
            "sql",
            "--db",
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {}", self.name),
        ]));
    }
}

/// Asserts a failure message is one line, names no password and is not a
/// panic or a Debug dump.
pub(crate) fn assert_one_clean_line(stderr: &str, secret: Option<&str>) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("covet: "))
        .collect();
    assert_eq!(lines.len(), 1, "expected one `covet:` line in:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Error {"), "{stderr}");
    assert!(!stderr.contains("kind:"), "{stderr}");
    if let Some(s) = secret {
        assert!(!stderr.contains(s), "the password leaked: {stderr}");
    }
}
