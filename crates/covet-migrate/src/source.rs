//! Migration files: `NNNN_name.up.sql` / `NNNN_name.down.sql`, their
//! `-- covet:` directives and their checksums.
//!
//! Directives are SQL line comments, so the files stay plain SQL that any
//! client can run:
//!
//! - `-- covet:irreversible` in an up file declares that it has no down
//!   (a missing down file without it is an error, so forgetting one is not
//!   silently irreversible);
//! - `-- covet:no-transaction` runs the file outside a transaction (for
//!   `CREATE INDEX CONCURRENTLY` and the like), guarded by the dirty flag;
//! - `-- covet:allow(rule) reason` turns one lint rule off for the file;
//!   the reason is required.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use covet_core::Transaction;
use sha2::{Digest, Sha256};

use crate::error::{MigrateError, Result};

/// One direction of a migration: a file's text and what it declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The file name (`0003_add_email.up.sql`).
    pub file: String,
    /// The SQL text as read.
    pub sql: String,
    /// SHA-256 (hex) of the normalised text (see [`checksum`]).
    pub checksum: String,
    /// Runs outside a transaction (`-- covet:no-transaction`).
    pub no_transaction: bool,
    /// Lint rules turned off for this file, with their reasons.
    pub allow: Vec<Allow>,
    /// The code of a Rust migration (then `sql` is empty).
    pub code: Option<RustStep>,
}

/// A Rust migration step: an async function given the migration's
/// transaction (Rust migrations always run in one, on every engine: they
/// are for data changes, which MySQL can roll back too).
///
/// ```
/// use covet_migrate::{RustFuture, Transaction};
/// use covet_core::Statement;
///
/// fn seed(tx: &mut dyn Transaction) -> RustFuture<'_> {
///     Box::pin(async move {
///         tx.execute(&Statement::new("INSERT INTO plans (name) VALUES ($1)").bind("free")).await?;
///         Ok(())
///     })
/// }
/// ```
pub type RustFn = for<'a> fn(&'a mut (dyn Transaction + 'a)) -> RustFuture<'a>;

/// What a [`RustFn`] returns.
pub type RustFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = covet_core::Result<()>> + Send + 'a>>;

/// A [`RustFn`] and the revision its checksum is taken from.
#[derive(Clone, Copy)]
pub struct RustStep {
    /// The function.
    pub run: RustFn,
    /// The revision string (change it when the code changes).
    pub revision: &'static str,
}

impl std::fmt::Debug for RustStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RustStep")
            .field("revision", &self.revision)
            .finish_non_exhaustive()
    }
}

impl PartialEq for RustStep {
    // Two steps are the same migration when their revisions are: function
    // addresses are not stable across builds.
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision
    }
}

impl Eq for RustStep {}

/// A `-- covet:allow(rule) reason` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// The rule turned off.
    pub rule: String,
    /// Why, as written.
    pub reason: String,
}

/// One migration: a version, a name, an up script and (unless it is
/// irreversible) a down script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The number the file name starts with; migrations run in its order.
    pub version: u64,
    /// The rest of the file name (`add_email`).
    pub name: String,
    /// The up script.
    pub up: Script,
    /// The down script; `None` when declared irreversible.
    pub down: Option<Script>,
}

impl Migration {
    /// Whether the migration has no down (declared `-- covet:irreversible`).
    pub fn is_irreversible(&self) -> bool {
        self.down.is_none()
    }

    /// `0003_add_email`, as in the file names.
    pub fn label(&self) -> String {
        format!("{:04}_{}", self.version, self.name)
    }
}

/// The migrations of a directory (or embedded), ordered by version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrations {
    list: Vec<Migration>,
}

#[derive(Default)]
struct Pair {
    name: String,
    up: Option<(String, String)>,
    down: Option<(String, String)>,
}

impl Migrations {
    /// Reads every `*.sql` file of `dir` (other files are ignored).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let io = |source, path: &Path| MigrateError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(e, dir))? {
            let entry = entry.map_err(|e| io(e, dir))?;
            let path = entry.path();
            if path.extension().is_none_or(|x| x != "sql") {
                continue;
            }
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(MigrateError::Source {
                    file: path.display().to_string(),
                    message: "the file name is not UTF-8".into(),
                });
            };
            let text = std::fs::read_to_string(&path).map_err(|e| io(e, &path))?;
            files.push((name, text));
        }
        Self::from_owned(files)
    }

    /// Builds the set from `(file name, text)` pairs, as
    /// [`embed_migrations!`](crate::embed_migrations) embeds them.
    pub fn from_files(files: &[(&str, &str)]) -> Result<Self> {
        Self::from_owned(
            files
                .iter()
                .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
                .collect(),
        )
    }

    fn from_owned(files: Vec<(String, String)>) -> Result<Self> {
        let mut pairs: BTreeMap<u64, Pair> = BTreeMap::new();
        for (file, text) in files {
            let (version, name, up) = parse_file_name(&file)?;
            let pair = pairs.entry(version).or_default();
            if !pair.name.is_empty() && pair.name != name {
                return Err(MigrateError::Source {
                    file,
                    message: format!(
                        "version {version} is already used by `{}`: versions must be unique",
                        pair.name
                    ),
                });
            }
            pair.name = name;
            let slot = if up { &mut pair.up } else { &mut pair.down };
            if slot.is_some() {
                return Err(MigrateError::Source {
                    file,
                    message: "a second file for the same version and direction".into(),
                });
            }
            *slot = Some((file, text));
        }
        let mut list = Vec::with_capacity(pairs.len());
        for (version, pair) in pairs {
            let Some((up_file, up_text)) = pair.up else {
                let file = pair.down.map(|d| d.0).unwrap_or_default();
                return Err(MigrateError::Source {
                    file,
                    message: "a down migration without its up file".into(),
                });
            };
            let (up, irreversible) = script(up_file, up_text)?;
            let down = match pair.down {
                Some((file, text)) => {
                    if irreversible {
                        return Err(MigrateError::Source {
                            file: up.file,
                            message: "declared `-- covet:irreversible` but has a down file".into(),
                        });
                    }
                    let (down, marked) = script(file, text)?;
                    if marked {
                        return Err(MigrateError::Source {
                            file: down.file,
                            message: "`-- covet:irreversible` belongs in the up file".into(),
                        });
                    }
                    Some(down)
                }
                None if irreversible => None,
                None => {
                    return Err(MigrateError::Source {
                        file: up.file,
                        message: "no down file: write one, or declare the migration irreversible with a `-- covet:irreversible` line".into(),
                    });
                }
            };
            list.push(Migration {
                version,
                name: pair.name,
                up,
                down,
            });
        }
        Ok(Migrations { list })
    }

    /// The migrations, oldest first.
    pub fn iter(&self) -> std::slice::Iter<'_, Migration> {
        self.list.iter()
    }

    /// The migration with this version.
    pub fn get(&self, version: u64) -> Option<&Migration> {
        self.list
            .binary_search_by_key(&version, |m| m.version)
            .ok()
            .map(|i| &self.list[i])
    }

    /// How many migrations there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Adds a Rust migration (for data changes that SQL says badly).
    /// `revision` stands in for the file text in the checksum: change it
    /// when the code of `up` changes, as editing an applied SQL file is
    /// refused. `down: None` makes it irreversible.
    pub fn with_rust(
        mut self,
        version: u64,
        name: &str,
        revision: &'static str,
        up: RustFn,
        down: Option<RustFn>,
    ) -> Result<Self> {
        let label = format!("{version:04}_{name} (Rust)");
        if self.get(version).is_some() {
            return Err(MigrateError::Source {
                file: label,
                message: format!("version {version} is already used: versions must be unique"),
            });
        }
        let step = |run: RustFn, dir: &str| Script {
            file: format!("{version:04}_{name}.{dir} (Rust)"),
            sql: String::new(),
            checksum: checksum(&format!("rust:{name}:{revision}")),
            no_transaction: false,
            allow: Vec::new(),
            code: Some(RustStep { run, revision }),
        };
        let m = Migration {
            version,
            name: name.to_owned(),
            up: step(up, "up"),
            down: down.map(|d| step(d, "down")),
        };
        let at = self.list.partition_point(|x| x.version < version);
        self.list.insert(at, m);
        Ok(self)
    }

    /// The newest version, if any.
    pub fn latest(&self) -> Option<u64> {
        self.list.last().map(|m| m.version)
    }
}

impl<'a> IntoIterator for &'a Migrations {
    type Item = &'a Migration;
    type IntoIter = std::slice::Iter<'a, Migration>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// `0003_add_email.up.sql` -> (3, "add_email", true).
fn parse_file_name(file: &str) -> Result<(u64, String, bool)> {
    let bad = |message: &str| MigrateError::Source {
        file: file.to_owned(),
        message: message.to_owned(),
    };
    let (stem, up) = if let Some(s) = file.strip_suffix(".up.sql") {
        (s, true)
    } else if let Some(s) = file.strip_suffix(".down.sql") {
        (s, false)
    } else {
        return Err(bad("expected NNNN_name.up.sql or NNNN_name.down.sql"));
    };
    let (num, name) = stem
        .split_once('_')
        .ok_or_else(|| bad("expected NNNN_name: a version, `_`, then a name"))?;
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the version (before the first `_`) must be digits"));
    }
    let version: u64 = num.parse().map_err(|_| bad("the version is too large"))?;
    if name.is_empty() {
        return Err(bad("the name after the version is empty"));
    }
    Ok((version, name.to_owned(), up))
}

/// Reads a file's directives; returns the script and whether it declared
/// itself irreversible.
fn script(file: String, sql: String) -> Result<(Script, bool)> {
    let mut irreversible = false;
    let mut no_transaction = false;
    let mut allow = Vec::new();
    for line in sql.lines() {
        let Some(rest) = line.trim_start().strip_prefix("--") else {
            continue;
        };
        let Some(directive) = rest.trim_start().strip_prefix("covet:") else {
            continue;
        };
        let directive = directive.trim();
        let bad = |message: String| MigrateError::Source {
            file: file.clone(),
            message,
        };
        if directive == "irreversible" {
            irreversible = true;
        } else if directive == "no-transaction" {
            no_transaction = true;
        } else if let Some(rest) = directive.strip_prefix("allow(") {
            let (rule, reason) = rest
                .split_once(')')
                .ok_or_else(|| bad(format!("`-- covet:{directive}`: missing `)`")))?;
            let rule = rule.trim();
            if !crate::lint::RULES.iter().any(|r| r.name == rule) {
                return Err(bad(format!(
                    "`-- covet:allow({rule})`: no lint rule has that name (see `covet migrate lint --rules`)"
                )));
            }
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(bad(format!(
                    "`-- covet:allow({rule})` needs a reason after it"
                )));
            }
            allow.push(Allow {
                rule: rule.to_owned(),
                reason: reason.to_owned(),
            });
        } else {
            return Err(bad(format!(
                "unknown directive `-- covet:{directive}` (known: irreversible, no-transaction, allow(rule) reason)"
            )));
        }
    }
    let checksum = checksum(&sql);
    Ok((
        Script {
            file,
            sql,
            checksum,
            no_transaction,
            allow,
            code: None,
        },
        irreversible,
    ))
}

/// SHA-256 (lowercase hex) of `sql` normalised so that what an editor or a
/// checkout changes invisibly does not count as an edit: a byte-order mark,
/// CRLF line ends, trailing spaces and trailing blank lines are ignored.
/// Everything else, comments included, counts: a directive is a comment.
pub fn checksum(sql: &str) -> String {
    let sql = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let mut norm = String::with_capacity(sql.len());
    for line in sql.lines() {
        norm.push_str(line.trim_end());
        norm.push('\n');
    }
    let trimmed = norm.trim_end_matches('\n');
    let digest = Sha256::digest(trimmed.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Writes `NNNN_name.up.sql` and `NNNN_name.down.sql` in `dir` (created
/// when missing), numbered one past the newest migration there, and
/// returns their paths.
pub fn new_migration(dir: impl AsRef<Path>, name: &str) -> Result<(PathBuf, PathBuf)> {
    let dir = dir.as_ref();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(MigrateError::Source {
            file: name.to_owned(),
            message: "a migration name is letters, digits and `_`".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| MigrateError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let next = Migrations::from_dir(dir)?.latest().unwrap_or(0) + 1;
    let up = dir.join(format!("{next:04}_{name}.up.sql"));
    let down = dir.join(format!("{next:04}_{name}.down.sql"));
    for (path, text) in [
        (&up, "-- Write the change here.\n"),
        (
            &down,
            "-- Undo the up migration here (checked by `covet migrate verify`).\n",
        ),
    ] {
        std::fs::write(path, text).map_err(|source| MigrateError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok((up, down))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_files_and_reads_directives() {
        let m = Migrations::from_files(&[
            ("0002_idx.up.sql", "-- covet:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);"),
            ("0002_idx.down.sql", "DROP INDEX i;"),
            ("0001_init.up.sql", "CREATE TABLE t (a int);"),
            ("0001_init.down.sql", "DROP TABLE t;"),
            ("0003_data.up.sql", "-- covet:irreversible\n-- covet:allow(dropping-column) unused since v2\nALTER TABLE t DROP COLUMN a;"),
        ])
        .unwrap();
        let v: Vec<u64> = m.iter().map(|m| m.version).collect();
        assert_eq!(v, [1, 2, 3]);
        assert!(m.get(2).unwrap().up.no_transaction);
        assert!(m.get(3).unwrap().is_irreversible());
        assert_eq!(m.get(3).unwrap().up.allow[0].rule, "dropping-column");
    }

    #[test]
    fn a_missing_down_must_be_declared() {
        let e = Migrations::from_files(&[("0001_x.up.sql", "SELECT 1;")]).unwrap_err();
        assert!(e.to_string().contains("covet:irreversible"), "{e}");
    }

    #[test]
    fn bad_names_and_directives_are_refused() {
        for (file, text, want) in [
            ("1.up.sql", "", "NNNN_name"),
            ("x_a.up.sql", "", "digits"),
            ("0001_a.sql", "", "expected"),
            (
                "0001_a.up.sql",
                "-- covet:allow(nope) r\n-- covet:irreversible",
                "no lint rule",
            ),
            (
                "0001_a.up.sql",
                "-- covet:allow(dropping-table)\n-- covet:irreversible",
                "reason",
            ),
            (
                "0001_a.up.sql",
                "-- covet:irreverisble",
                "unknown directive",
            ),
        ] {
            let e = Migrations::from_files(&[(file, text)]).unwrap_err();
            assert!(e.to_string().contains(want), "{file}: {e}");
        }
        let e = Migrations::from_files(&[
            ("0001_a.up.sql", "-- covet:irreversible"),
            ("0001_b.up.sql", "-- covet:irreversible"),
        ])
        .unwrap_err();
        assert!(e.to_string().contains("unique"), "{e}");
    }

    #[test]
    fn checksum_ignores_invisible_changes_only() {
        let a = checksum("CREATE TABLE t (a int);\n");
        assert_eq!(a, checksum("\u{feff}CREATE TABLE t (a int);  \r\n\r\n"));
        assert_ne!(a, checksum("CREATE TABLE t (a bigint);\n"));
        assert_ne!(a, checksum("-- note\nCREATE TABLE t (a int);\n"));
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn new_numbers_past_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let (up, down) = new_migration(dir.path(), "init").unwrap();
        assert!(up.ends_with("0001_init.up.sql") && down.ends_with("0001_init.down.sql"));
        let (up, _) = new_migration(dir.path(), "more").unwrap();
        assert!(up.ends_with("0002_more.up.sql"));
        assert!(new_migration(dir.path(), "bad name").is_err());
    }
}
