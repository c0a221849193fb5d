//! Schema migrations for PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! - [`Migrations`]: `NNNN_name.up.sql` / `.down.sql` files, from a
//!   directory or embedded at compile time with [`embed_migrations!`];
//! - [`Migrator`]: one runner at a time (advisory lock, `GET_LOCK`, SQLite's
//!   write lock), checksums of applied migrations, a transaction per
//!   migration where the engine allows and a dirty flag where it does not,
//!   lock and statement timeouts with bounded retry;
//! - [`lint()`]: dangerous DDL, rule by rule, parsed with sqlparser;
//! - [`verify()`]: every migration up, down and up again on a scratch
//!   database, comparing schemas, so a down that does not undo its up fails.
//!
//! See the README for the walk-through of a safe rename.
#![forbid(unsafe_code)]

mod codegen;
mod diff;
mod error;
pub mod lint;
mod make;
mod runner;
mod source;
mod split;
mod verify;

pub use codegen::generate_models;
pub use covet_core::Transaction;
pub use covet_migrate_macros::embed_migrations;
pub use diff::schema_diff;
pub use error::{MigrateError, Result};
pub use lint::{Finding, LintOptions, RULES, Rule, lint, lint_script};
pub use make::{Made, ModelEntry, make, make_from_database, write_made};
pub use runner::{Event, MigrateOptions, Migrator, Report, State, StatusRow};
pub use source::{
    Allow, Migration, Migrations, RustFn, RustFuture, RustStep, Script, checksum, new_migration,
};
pub use split::split;
pub use verify::{VerifyReport, verify};

/// This crate's README examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
