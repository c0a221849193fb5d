//! The one error type of covet-migrate: each refusal says what was found and
//! what to do about it, in one line, without a password or a bound value.

use std::time::Duration;

use crate::lint::Finding;

/// Why a migration command failed or refused to run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// A database error outside a migration (connecting, the migrations
    /// table, the lock).
    #[error(transparent)]
    Db(#[from] covet_core::Error),

    /// A migration file (or its name) is malformed.
    #[error("migration {file}: {message}")]
    Source {
        /// The file, as named in the directory.
        file: String,
        /// What is wrong with it.
        message: String,
    },

    /// Reading a migrations directory or file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },

    /// An applied migration's file no longer has the text that was applied.
    #[error(
        "migration {version} ({name}) was edited after it was applied: checksum applied {applied}, file now {file}; restore the applied text and add a new migration for the change"
    )]
    Changed {
        /// Its version.
        version: u64,
        /// Its name.
        name: String,
        /// The checksum recorded when it was applied.
        applied: String,
        /// The checksum of the file as it is now.
        file: String,
    },

    /// A migration recorded as applied has no file.
    #[error(
        "migration {version} ({name}) is applied (checksum {applied}) but its file is missing; restore it from version control"
    )]
    Missing {
        /// Its version.
        version: u64,
        /// Its recorded name.
        name: String,
        /// The checksum recorded when it was applied.
        applied: String,
    },

    /// A pending migration is older than the newest applied one.
    #[error(
        "migration {version} ({name}) is pending but the newer {latest} is already applied; renumber it after {latest}, or allow out-of-order migrations"
    )]
    OutOfOrder {
        /// The pending migration's version.
        version: u64,
        /// Its name.
        name: String,
        /// The newest applied version.
        latest: u64,
    },

    /// A migration started and did not finish outside a transaction: its
    /// effects are partly applied and need a person to look.
    #[error(
        "the database is dirty: migration {version} ({name}) started {direction} outside a transaction and did not finish. Resolve: check which of its statements took effect and finish or undo them by hand, then run `covet migrate resolve {version} --applied` (it is fully applied) or `--rolled-back` (it is fully undone)"
    )]
    Dirty {
        /// The dirty migration's version.
        version: u64,
        /// Its name.
        name: String,
        /// `up` or `down`.
        direction: &'static str,
    },

    /// Another runner held the migration lock for the whole wait.
    #[error("another migration runner holds the lock ({holder}); gave up after {waited:?}")]
    Locked {
        /// Who holds it, as far as the engine tells.
        holder: String,
        /// How long this runner waited.
        waited: Duration,
    },

    /// The connection holding the migration lock was lost mid-run.
    #[error(
        "the migration lock was lost (its connection closed); stopped before the next migration"
    )]
    LockLost,

    /// `down` would cross a migration declared irreversible.
    #[error(
        "cannot migrate down past {version} ({name}): it is declared irreversible (`-- covet:irreversible`, no down file)"
    )]
    Irreversible {
        /// The irreversible migration's version.
        version: u64,
        /// Its name.
        name: String,
    },

    /// `--to` names a version that is not a known migration.
    #[error("no migration has version {0}")]
    UnknownVersion(u64),

    /// The linter found problems in pending migrations.
    #[error("{} lint finding(s); first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    Lint(Vec<Finding>),

    /// A statement of a migration failed (the migration was rolled back
    /// when it ran in a transaction).
    #[error(
        "migration {version} ({name}) {direction} failed at statement {statement}{rolled_back}: {source}",
        rolled_back = if *.rolled_back { " and was rolled back" } else { "" }
    )]
    Failed {
        /// Its version.
        version: u64,
        /// Its name.
        name: String,
        /// `up` or `down`.
        direction: &'static str,
        /// The statement's position in the file, from 1.
        statement: usize,
        /// Whether the migration's transaction was rolled back (nothing of
        /// it applied).
        rolled_back: bool,
        /// The database error.
        source: covet_core::Error,
    },

    /// `verify` found a down migration that does not undo its up.
    #[error("verify: migration {version} ({name}): {problem}: {diff}")]
    Verify {
        /// Its version.
        version: u64,
        /// Its name.
        name: String,
        /// What was compared.
        problem: &'static str,
        /// The schema differences, `; `-separated.
        diff: String,
    },
}

/// `Result` with [`MigrateError`].
pub type Result<T, E = MigrateError> = std::result::Result<T, E>;
