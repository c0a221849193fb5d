//! `cargo xtask bench <name>`: the side-by-side benchmarks in covet-benches.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::util::{Result, cargo, run as sh};

const BENCHES: &[&str] = &[
    "pool",
    "adapters",
    "layers",
    "callgrind",
    "backup",
    "loadtest",
    "orm",
    "orm-compile",
    "pitr",
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
    if name == "orm-compile" {
        return orm_compile(&args[1..]);
    }
    if name == "orm" {
        ensure_libpq()?;
    }
    let mut c = cargo();
    c.args(["bench", "-p", "covet-benches", "--bench", name, "--"])
        .args(&args[1..]);
    if name == "pitr" {
        // PostgreSQL runs covet as its archive_command: the bench needs
        // the binary itself, not a library.
        c.arg("--covet").arg(covet_release_binary()?);
    }
    sh(c)
}

/// Builds the covet CLI in release mode and returns its path.
fn covet_release_binary() -> Result<PathBuf> {
    let mut build = cargo();
    build.args(["build", "--release", "-q", "-p", "covet-cli"]);
    sh(build)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"));
    let bin = target.join("release").join("covet");
    std::path::absolute(&bin).map_err(|e| format!("{}: {e}", bin.display()))
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

/// The field types the generated models cycle through (Rust type, Diesel
/// SQL type).
const FIELD_TYPES: [(&str, &str); 6] = [
    ("i32", "Integer"),
    ("String", "Text"),
    ("Option<String>", "Nullable<Text>"),
    ("i64", "BigInt"),
    ("bool", "Bool"),
    ("f64", "Double"),
];

/// `cargo xtask bench orm-compile [--models 50] [--columns 20] [--reps 3]`:
/// the compile time of a crate of derived models in covet-orm, Diesel and
/// SeaORM. Each crate is generated under `target/orm-compile`, pinned to
/// the workspace's Cargo.lock, built once for its dependencies, then
/// rebuilt `reps` times after its source changes; the median rebuild is
/// the models' own cost.
fn orm_compile(args: &[String]) -> Result {
    let mut models = 50_usize;
    let mut columns = 20_usize;
    let mut reps = 3_usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let slot = match a.as_str() {
            "--models" => &mut models,
            "--columns" => &mut columns,
            "--reps" => &mut reps,
            other => return Err(format!("orm-compile: unknown argument `{other}`")),
        };
        *slot = it
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{a} needs a number"))?;
    }
    let root = std::env::current_dir().map_err(|e| e.to_string())?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let base = target.join("orm-compile");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).map_err(|e| e.to_string())?;
    let mut results = Vec::new();
    for arm in ["covet-orm", "diesel", "sea-orm"] {
        let dir = base.join(arm);
        let (manifest, source) = orm_crate(arm, &root, models, columns);
        write(&dir.join("Cargo.toml"), &manifest)?;
        write(&dir.join("Cargo.lock"), &lock)?;
        write(&dir.join("src/lib.rs"), &source)?;
        let build = || {
            let mut c = cargo();
            c.current_dir(&dir)
                .env("CARGO_TARGET_DIR", base.join("target"))
                .args(["build", "--quiet"]);
            c
        };
        // Dependencies first, so the timed builds are the models alone.
        sh(build())?;
        let mut times = Vec::new();
        for rep in 0..reps {
            write(
                &dir.join("src/lib.rs"),
                &format!("// rebuild {rep}\n{source}"),
            )?;
            let start = Instant::now();
            sh(build())?;
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        results.push((arm, times.get(times.len() / 2).copied().unwrap_or(0.0)));
    }
    println!(
        "\n{models} models x {columns} columns, median of {reps} debug rebuilds of the models crate:"
    );
    let covet = results.first().map_or(1.0, |r| r.1);
    for (arm, secs) in &results {
        println!("  {arm:<10} {secs:>7.2} s   {:.2}x covet-orm", secs / covet);
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The manifest and source of one generated crate.
fn orm_crate(arm: &str, root: &Path, models: usize, columns: usize) -> (String, String) {
    let dep = match arm {
        "covet-orm" => format!(
            "covet-orm = {{ path = {:?} }}",
            root.join("crates/covet-orm").display().to_string()
        ),
        "diesel" => r#"diesel = { version = "2.4", features = ["postgres_backend"] }"#.to_owned(),
        _ => r#"sea-orm = { version = "2.0.4", default-features = false, features = ["macros", "sqlx-postgres", "runtime-tokio"] }"#
            .to_owned(),
    };
    let name = format!("orm-compile-{arm}");
    let manifest = format!(
        "[package]\nname = {name:?}\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{dep}\n\n[workspace]\n"
    );
    let mut src = String::from("#![allow(dead_code, missing_docs)]\n");
    for m in 0..models {
        let fields: Vec<(String, &str, &str)> = (0..columns)
            .map(|c| {
                let (ty, sql) = if c == 0 {
                    ("i64", "BigInt")
                } else {
                    FIELD_TYPES[c % FIELD_TYPES.len()]
                };
                (
                    if c == 0 {
                        "id".to_owned()
                    } else {
                        format!("field_{c}")
                    },
                    ty,
                    sql,
                )
            })
            .collect();
        match arm {
            "covet-orm" => {
                let _ = writeln!(
                    src,
                    "#[derive(covet_orm::Model, Debug, Clone)]\n#[covet(table = \"model_{m}\")]\npub struct Model{m} {{"
                );
                for (i, (f, ty, _)) in fields.iter().enumerate() {
                    if i == 0 {
                        src.push_str("    #[covet(primary_key, auto_increment)]\n");
                    }
                    let _ = writeln!(src, "    pub {f}: {ty},");
                }
                src.push_str("}\n");
            }
            "diesel" => {
                let _ = writeln!(
                    src,
                    "pub mod model_{m} {{\n    diesel::table! {{\n        model_{m} (id) {{"
                );
                for (f, _, sql) in &fields {
                    let _ = writeln!(src, "            {f} -> {sql},");
                }
                let _ = writeln!(
                    src,
                    "        }}\n    }}\n    #[derive(diesel::Queryable, diesel::Selectable, diesel::Insertable, diesel::Identifiable, Debug, Clone)]\n    #[diesel(table_name = model_{m})]\n    pub struct Model{m} {{"
                );
                for (f, ty, _) in &fields {
                    let _ = writeln!(src, "        pub {f}: {ty},");
                }
                src.push_str("    }\n}\n");
            }
            _ => {
                let _ = writeln!(
                    src,
                    "pub mod model_{m} {{\n    use sea_orm::entity::prelude::*;\n    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]\n    #[sea_orm(table_name = \"model_{m}\")]\n    pub struct Model {{"
                );
                for (i, (f, ty, _)) in fields.iter().enumerate() {
                    if i == 0 {
                        src.push_str("        #[sea_orm(primary_key)]\n");
                    }
                    let _ = writeln!(src, "        pub {f}: {ty},");
                }
                src.push_str(
                    "    }\n    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]\n    pub enum Relation {}\n    impl ActiveModelBehavior for ActiveModel {}\n}\n",
                );
            }
        }
    }
    (manifest, src)
}
