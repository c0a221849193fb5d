//! `cargo xtask tidy`, also run as a test under `cargo test`: the invariants
//! ARCHITECTURE.md states, checked against every manifest and source file so
//! they cannot quietly go false.
//!
//! It reads files as text and parses just enough TOML to find dependency
//! tables: xtask has no dependencies, and the manifests here are written in
//! one plain style that the parser below understands (and fails loudly on
//! when it does not).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::util::Result;

/// Internal crates each crate may depend on (normal and build dependencies;
/// dev-dependencies may reach further, but never covet-cli or
/// covet-benches). A crate missing from this table is an error, so a new
/// crate is placed in the layering on purpose, and in ARCHITECTURE.md.
const ALLOWED_INTERNAL: &[(&str, &[&str])] = &[
    // covet-pool behind an optional feature of covet-core is where the one
    // pool-error conversion lives; covet-pool itself knows nothing of SQL.
    ("covet-core", &["covet-pool"]),
    ("covet-pool", &[]),
    ("covet-adapter-pg", &["covet-core", "covet-pool"]),
    ("covet-adapter-mysql", &["covet-core", "covet-pool"]),
    ("covet-adapter-sqlite", &["covet-core", "covet-pool"]),
    ("covet-conformance", &["covet-core"]),
    ("covet-resilience", &["covet-core"]),
    // The layer-stack builder lives in the `covet` facade, so the monitoring
    // layers need nothing of covet-resilience.
    ("covet-monitor", &["covet-core"]),
    ("covet-backup", &["covet-core"]),
    ("covet-loadtest", &["covet-core"]),
    // The ORM runs its statements through covet-core's Adapter, so every
    // layer applies to them; covet-monitor for its N+1 reports and
    // covet-resilience for the transaction retry loop it reuses.
    (
        "covet-orm",
        &[
            "covet-core",
            "covet-orm-macros",
            "covet-monitor",
            "covet-resilience",
        ],
    ),
    ("covet-orm-macros", &[]),
    // Migrations open their own single-connection pools by URL (the lock
    // must stay on one session), so they go through the facade's connect.
    (
        "covet-migrate",
        &["covet-core", "covet", "covet-migrate-macros"],
    ),
    ("covet-migrate-macros", &[]),
    (
        "covet-pitr",
        &[
            "covet-core",
            "covet-backup",
            "covet-adapter-pg",
            "covet-adapter-mysql",
        ],
    ),
    // The facade: the adapters behind `pg` / `mysql` / `sqlite`, the layers
    // behind `resilience` / `monitor` (all optional dependencies), for
    // `covet::connect` and `covet::stack`.
    (
        "covet",
        &[
            "covet-core",
            "covet-adapter-pg",
            "covet-adapter-mysql",
            "covet-adapter-sqlite",
            "covet-resilience",
            "covet-monitor",
            "covet-orm",
        ],
    ),
    (
        "covet-cli",
        &[
            "covet",
            "covet-core",
            "covet-loadtest",
            "covet-resilience",
            "covet-monitor",
            "covet-backup",
            "covet-migrate",
            "covet-router",
            "covet-pitr",
        ],
    ),
    // The router opens its targets through the adapters (features `pg`,
    // `mysql`) and puts each behind covet-resilience's breaker.
    (
        "covet-router",
        &[
            "covet-core",
            "covet-resilience",
            "covet-adapter-pg",
            "covet-adapter-mysql",
        ],
    ),
    ("covet-benches", &[]),
    ("xtask", &[]),
];

/// Crates that drive a database: never a dependency of covet-core or
/// covet-pool, which stay driver-free.
const DRIVERS: &[&str] = &[
    "tokio-postgres",
    "tokio-postgres-rustls",
    "postgres",
    "postgres-types",
    "mysql_async",
    "mysql",
    "mysql_common",
    "rusqlite",
    "libsqlite3-sys",
];

/// Name prefixes of the crates Covet competes with: only covet-benches may
/// use them, so the library never quietly leans on a competitor.
const COMPETITORS: &[&str] = &[
    "sqlx",
    "sea-orm",
    "sea-query",
    "diesel",
    "deadpool",
    "bb8",
    "r2d2",
    "mobc",
];

/// Runs every check and prints each violation; fails if there is one.
pub(crate) fn run(_args: &[String]) -> Result {
    let problems = check(Path::new("."))?;
    if problems.is_empty() {
        eprintln!("tidy: ok");
        return Ok(());
    }
    for p in &problems {
        eprintln!("tidy: {p}");
    }
    Err(format!("{} tidy problem(s)", problems.len()))
}

/// All violations under the project root `root`.
pub(crate) fn check(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut crates = Vec::new();
    for dir in list_dir(&root.join("crates"))? {
        if dir.join("Cargo.toml").is_file() {
            crates.push(dir);
        }
    }
    crates.push(root.join("xtask"));
    if crates.len() < 3 {
        return Err(format!(
            "tidy found only {} crates under {}",
            crates.len(),
            root.display()
        ));
    }

    let allowed: BTreeMap<&str, &[&str]> = ALLOWED_INTERNAL.iter().copied().collect();
    for dir in &crates {
        let manifest_path = dir.join("Cargo.toml");
        let text = read(&manifest_path)?;
        let manifest =
            Manifest::parse(&text).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
        let shown = manifest_path.display();
        let name = manifest.name.as_str();
        check_manifest(name, &manifest, &allowed, &shown.to_string(), &mut problems);
        if name != "xtask" && !dir.join("README.md").is_file() {
            problems.push(format!("{name}: no README.md"));
        }
        for sub in ["src", "tests", "benches", "examples"] {
            for file in rust_files(&dir.join(sub))? {
                check_source(name, dir, &file, &mut problems)?;
            }
        }
    }
    Ok(problems)
}

fn check_manifest(
    name: &str,
    m: &Manifest,
    allowed: &BTreeMap<&str, &[&str]>,
    shown: &str,
    problems: &mut Vec<String>,
) {
    if !m.lints_workspace {
        problems.push(format!("{shown}: no `[lints] workspace = true`"));
    }
    let Some(allowed_internal) = allowed.get(name) else {
        problems.push(format!(
            "{shown}: crate `{name}` has no place in tidy's layering (ALLOWED_INTERNAL in \
             xtask/src/tidy.rs); add it there and to ARCHITECTURE.md"
        ));
        return;
    };
    for dep in &m.deps {
        let internal = dep.name.starts_with("covet");
        if internal && (dep.name == "covet-cli" || dep.name == "covet-benches") {
            problems.push(format!(
                "{shown}: depends on `{}`; nothing may depend on covet-cli or covet-benches",
                dep.name
            ));
        }
        if internal
            && dep.kind != DepKind::Dev
            && name != "covet-benches"
            && !allowed_internal.contains(&dep.name.as_str())
        {
            problems.push(format!(
                "{shown}: `{name}` may not depend on `{}` (see ARCHITECTURE.md)",
                dep.name
            ));
        }
        if internal && dep.kind == DepKind::Dev && dep.has_version {
            problems.push(format!(
                "{shown}: dev-dependency `{}` carries a version; internal dev-dependencies \
                 are path only",
                dep.name
            ));
        }
        if (name == "covet-core" || name == "covet-pool") && DRIVERS.contains(&dep.name.as_str()) {
            problems.push(format!(
                "{shown}: `{name}` depends on the driver `{}`; it must stay driver-free",
                dep.name
            ));
        }
        if name != "covet-benches" && COMPETITORS.iter().any(|c| dep.name.starts_with(c)) {
            problems.push(format!(
                "{shown}: `{name}` depends on the competitor crate `{}`; only covet-benches may",
                dep.name
            ));
        }
    }
}

fn check_source(name: &str, crate_dir: &Path, file: &Path, problems: &mut Vec<String>) -> Result {
    let text = read(file)?;
    let shown = file.display();
    let first = text.lines().map(str::trim).find(|l| !l.is_empty());
    let documented = first.is_some_and(|l| l.starts_with("//!") || l.starts_with("#![doc"));
    if !documented {
        problems.push(format!(
            "{shown}: no `//!` line at the top saying what this module is for"
        ));
    }
    // Spelled in two halves so this file does not trip its own check.
    let ignore = concat!("#[", "ignore");
    let should_panic = concat!("#[", "should_panic");
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if l.starts_with(ignore) {
            problems.push(format!(
                "{shown}:{}: `{ignore}]` hides a test; fix it or delete it",
                i + 1
            ));
        }
        if l.starts_with(should_panic) {
            problems.push(format!(
                "{shown}:{}: `{should_panic}]`; assert on a Result instead",
                i + 1
            ));
        }
    }
    if name == "covet-pool" {
        let rel = file.strip_prefix(crate_dir).unwrap_or(file);
        let in_shim = rel.starts_with("src/loom");
        let in_src = rel.starts_with("src");
        if in_src && !in_shim {
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if code.contains("std::sync") {
                    problems.push(format!(
                        "{shown}:{}: covet-pool imports std::sync outside its loom shim \
                         (src/loom); use crate::loom so the models see it",
                        i + 1
                    ));
                }
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DepKind {
    Normal,
    Dev,
    Build,
}

#[derive(Debug)]
struct Dep {
    name: String,
    kind: DepKind,
    has_version: bool,
}

#[derive(Debug, Default)]
struct Manifest {
    name: String,
    deps: Vec<Dep>,
    lints_workspace: bool,
}

impl Manifest {
    /// Reads `[package] name`, `[lints] workspace`, and the keys of every
    /// dependency table, including `[target.'cfg(..)'.dependencies]` and
    /// `[dependencies.foo]` forms.
    fn parse(text: &str) -> Result<Manifest> {
        let mut m = Manifest::default();
        let mut section = String::new();
        for raw in text.lines() {
            let line = raw.split(" #").next().unwrap_or("").trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('[') {
                section = line.trim_matches(['[', ']']).trim().to_string();
                if let Some((kind, dep)) = dep_table(&section)
                    && let Some(dep) = dep
                {
                    m.deps.push(Dep {
                        name: dep.to_string(),
                        kind,
                        has_version: false,
                    });
                }
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let key = key.trim().trim_matches('"');
            let value = value.trim();
            match (section.as_str(), dep_table(&section)) {
                ("package", _) if key == "name" => m.name = value.trim_matches('"').to_string(),
                ("lints", _) if key == "workspace" => m.lints_workspace = value == "true",
                (_, Some((kind, None))) => {
                    // `foo.workspace = true` names the dependency before the dot.
                    let name = key.split('.').next().unwrap_or(key).trim_matches('"');
                    let has_version = value.starts_with('"') || value.contains("version");
                    m.deps.push(Dep {
                        name: name.to_string(),
                        kind,
                        has_version,
                    });
                }
                (_, Some((_, Some(_)))) if key == "version" => {
                    if let Some(last) = m.deps.last_mut() {
                        last.has_version = true;
                    }
                }
                _ => {}
            }
        }
        if m.name.is_empty() {
            return Err("no [package] name".into());
        }
        Ok(m)
    }
}

/// For a dependency table header, its kind and, for the `[dependencies.foo]`
/// form, the dependency it names.
fn dep_table(section: &str) -> Option<(DepKind, Option<&str>)> {
    // `target.'cfg(loom)'.dev-dependencies` and friends: the last dotted
    // parts decide, the target expression is irrelevant here.
    let tail = section
        .rsplit_once("'.")
        .map_or(section, |(_, t)| t)
        .trim_start_matches("target.");
    for (prefix, kind) in [
        ("dev-dependencies", DepKind::Dev),
        ("build-dependencies", DepKind::Build),
        ("dependencies", DepKind::Normal),
    ] {
        if tail == prefix {
            return Some((kind, None));
        }
        if let Some(rest) = tail.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
            return Some((kind, Some(rest.trim_matches('"'))));
        }
    }
    None
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(format!("read {}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("read {}: {e}", dir.display()))?;
        out.push(entry.path());
    }
    out.sort();
    Ok(out)
}

fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for p in list_dir(&d)? {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tidy check itself, so `cargo test` fails where CI would.
    #[test]
    fn workspace_is_tidy() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask sits one level below the root");
        let problems = check(root).expect("tidy could read the workspace");
        assert!(
            problems.is_empty(),
            "tidy problems:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn manifest_parser_sees_every_table_form() {
        let m = Manifest::parse(
            r#"
[package]
name = "covet-core"

[dependencies]
covet-pool = { workspace = true, optional = true }
tokio-postgres.workspace = true

[dependencies.rusqlite]
version = "0.30"

[target.'cfg(loom)'.dev-dependencies]
covet-adapter-pg = { version = "0.1", path = "../covet-adapter-pg" }

[lints]
workspace = true
"#,
        )
        .unwrap();
        assert_eq!(m.name, "covet-core");
        assert!(m.lints_workspace);
        let names: Vec<_> = m.deps.iter().map(|d| (d.name.as_str(), d.kind)).collect();
        assert_eq!(
            names,
            [
                ("covet-pool", DepKind::Normal),
                ("tokio-postgres", DepKind::Normal),
                ("rusqlite", DepKind::Normal),
                ("covet-adapter-pg", DepKind::Dev),
            ]
        );
        assert!(m.deps[2].has_version && m.deps[3].has_version);
    }

    #[test]
    fn violations_are_reported() {
        let m = Manifest::parse(
            r#"
[package]
name = "covet-pool"
[dependencies]
tokio-postgres = "0.7"
covet-cli = { path = "../covet-cli" }
sqlx = "0.8"
[dev-dependencies]
covet-core = { version = "0.1", path = "../covet-core" }
"#,
        )
        .unwrap();
        let allowed: BTreeMap<&str, &[&str]> = ALLOWED_INTERNAL.iter().copied().collect();
        let mut p = Vec::new();
        check_manifest("covet-pool", &m, &allowed, "Cargo.toml", &mut p);
        let all = p.join("\n");
        for needle in [
            "[lints]",
            "driver `tokio-postgres`",
            "nothing may depend on covet-cli",
            "competitor crate `sqlx`",
            "carries a version",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }
}
